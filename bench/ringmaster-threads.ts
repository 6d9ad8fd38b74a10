/**
 * Reaching every thread of a ringmaster runtime. Asks are keyed, so to talk to thread t we pick a
 * W1 key that lives there (rt.partitionOf / rt.threadOf) and ask that key's actor.
 */
import type { Runtime } from '../index.js';
import { addTotals, emptyTotals, W1_KEYS, w1Key, type W1Totals } from './w1.js';

/** One W1 key per thread: keys[t] lives on thread t. */
export function probeKeys(rt: Runtime): string[] {
  const keys: string[] = [];
  let found = 0;
  for (let k = 0; k < W1_KEYS && found < rt.threads; k++) {
    const key = w1Key(k);
    const thread = rt.threadOf(rt.partitionOf(key));
    if (keys[thread] === undefined) {
      keys[thread] = key;
      found++;
    }
  }
  if (found < rt.threads) throw new Error(`only ${found} of ${rt.threads} threads own a W1 key: cannot reach the others`);
  return keys;
}

/** Key numbers per 'totals' ask: 2,500 keys × 3 float64 arrays ≈ 60 KB, under the reply ring's frame limit. */
const CHUNK = 2500;

/** Reads back every thread's W1 results (threads × W1_KEYS / CHUNK asks) and adds them up. */
export async function fetchW1Totals(rt: Runtime, timeoutMs: number): Promise<W1Totals> {
  const asks: Promise<W1Totals>[] = [];
  for (const key of probeKeys(rt)) {
    for (let from = 0; from < W1_KEYS; from += CHUNK) {
      const to = Math.min(W1_KEYS, from + CHUNK);
      asks.push(rt.ask<W1Totals>(key, { op: 'totals', from, to }, { timeoutMs }));
    }
  }
  const all = emptyTotals();
  for (const part of await Promise.all(asks)) addTotals(all, part);
  return all;
}
