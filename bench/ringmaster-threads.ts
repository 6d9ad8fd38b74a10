/**
 * Reaching every thread of a ringmaster runtime. Asks are keyed, so to talk to thread t we pick a
 * W1 key that lives there (rt.partitionOf / rt.threadOf) and ask that key's actor.
 */
import type { ActorKind, Runtime } from '../index.js';
import { addTotals, CONTROL_KEY_PREFIX, emptyTotals, type W1Totals } from './w1.js';

/**
 * One key per thread: keys[t] lives on thread t. Control keys ('probe-N') are not W1 keys: the
 * actors they create are never counted in the W1 results (nor as strangers).
 */
export function probeKeys(rt: Runtime): string[] {
  const keys: string[] = [];
  let found = 0;
  for (let k = 0; k < 1_000_000 && found < rt.threads; k++) {
    const key = CONTROL_KEY_PREFIX + k;
    const thread = rt.threadOf(rt.partitionOf(key));
    if (keys[thread] === undefined) {
      keys[thread] = key;
      found++;
    }
  }
  if (found < rt.threads) throw new Error(`only ${found} of ${rt.threads} threads own a partition: cannot reach the others`);
  return keys;
}

/** Key numbers per 'totals' ask: 2,500 keys × 3 float64 arrays ≈ 60 KB, under the reply ring's frame limit. */
const CHUNK = 2500;

/** Reads back every thread's results for keys [0, keys) (threads × keys / CHUNK asks) and adds them up. */
export async function fetchW1Totals(rt: Runtime, keys: number, timeoutMs: number, kind?: ActorKind): Promise<W1Totals> {
  const asks: Promise<W1Totals>[] = [];
  const target = kind ?? rt;
  for (const key of probeKeys(rt)) {
    for (let from = 0; from < keys; from += CHUNK) {
      const to = Math.min(keys, from + CHUNK);
      asks.push(target.ask<W1Totals>(key, { op: 'totals', from, to }, { timeoutMs }));
    }
  }
  const all = emptyTotals(0, keys);
  for (const part of await Promise.all(asks)) addTotals(all, part);
  return all;
}
