/**
 * Peer "piscina": one piscina task per message, maxThreads 1 (one worker, like ringmaster-1t),
 * the worker module (../workers/piscina-w1.ts) keeping per-key results. The producer keeps at most
 * MAX_IN_FLIGHT tasks outstanding (so memory stays bounded, as ringmaster's ring bounds it) and,
 * when it hits that, waits until half have finished; at the end it waits for every task's result,
 * then asks the worker for its totals. The thread is started (one warm-up task)
 * before the clock starts.
 */
import { Piscina } from 'piscina';
import { secondsSince, withTimeout, type Peer, type PeerRun } from '../peer.js';
import { verifyW1, type W1Totals, type W1Workload } from '../w1.js';
import type { PiscinaW1Task } from '../workers/piscina-w1.js';

const WORKER = new URL('../workers/piscina-w1.js', import.meta.url);
const MAX_IN_FLIGHT = 1024;
const LOW_WATER = MAX_IN_FLIGHT / 2;
const HANG_MS = 120_000;

async function run(n: number, workload: W1Workload, expected: W1Totals): Promise<PeerRun> {
  const pool = new Piscina<PiscinaW1Task, W1Totals | undefined>({
    filename: WORKER.href,
    minThreads: 1,
    maxThreads: 1,
    idleTimeout: 60_000,
  });
  try {
    await pool.run({ op: 'totals', from: 0, to: 0 }); // start the thread, load the module
    let inFlight = 0;
    let failure: unknown = null;
    let wake: (() => void) | null = null;
    let drained: (() => void) | null = null;
    const settled = (): void => {
      inFlight--;
      if (inFlight === 0 && drained !== null) drained();
      if (wake !== null && inFlight <= LOW_WATER) {
        const w = wake;
        wake = null;
        w();
      }
    };
    const failed = (error: unknown): void => {
      failure ??= error;
      settled();
    };
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      if (inFlight >= MAX_IN_FLIGHT) {
        await withTimeout(new Promise<void>((resolve) => (wake = resolve)), HANG_MS, 'piscina task');
        if (failure !== null) throw failure;
      }
      inFlight++;
      pool.run(workload.message(i)).then(settled, failed);
    }
    // Wait for every task's result (like ringmaster's drain), then read the worker's totals.
    if (inFlight > 0) {
      await withTimeout(
        new Promise<void>((resolve) => {
          drained = resolve;
          if (inFlight === 0) resolve();
        }),
        HANG_MS,
        'piscina drain',
      );
    }
    const totals = await withTimeout(pool.run({ op: 'totals', from: 0, to: workload.keys }), HANG_MS, 'piscina totals');
    const seconds = secondsSince(start);
    if (failure !== null) throw failure;
    if (totals === undefined) throw new Error('piscina: no totals');
    // piscina does not promise task order, even with one thread: reordering is reported, not failed.
    verifyW1('piscina', expected, totals, { order: false });
    return totals.outOfOrder > 0 ? { messages: n, seconds, note: reorderNote(totals.outOfOrder, n) } : { messages: n, seconds };
  } finally {
    await pool.destroy();
  }
}

export const reorderNote = (outOfOrder: number, n: number): string =>
  `${outOfOrder.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} messages ran out of per-key order (piscina does not keep order)`;

export const piscinaPeer: Peer = {
  name: 'piscina',
  describe: `piscina, one task per message, maxThreads 1, ≤${MAX_IN_FLIGHT} tasks in flight`,
  run,
};
