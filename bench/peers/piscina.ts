/**
 * Peer "piscina": one piscina task per message, maxThreads 1 (one worker, like ringmaster-1t),
 * the worker module (../workers/piscina-w1.ts) keeping per-key results. The producer keeps at most
 * MAX_IN_FLIGHT tasks outstanding (so memory stays bounded, as ringmaster's ring bounds it) and,
 * when it hits that, waits until half have finished; at the end it waits for every task's result,
 * then asks the worker for its totals. The thread is started (one control task) and has run the
 * warm-up messages (ThroughputPlan) before the clock starts.
 */
import type { Piscina as PiscinaPool } from 'piscina';
import { secondsSince, withTimeout, type Peer, type PeerRun, type ThroughputPlan } from '../peer.js';
import { verifyW1, type W1Totals } from '../w1.js';
import type { PiscinaW1Task } from '../workers/piscina-w1.js';
import { TaskWindow } from './task-window.js';

const WORKER = new URL('../workers/piscina-w1.js', import.meta.url);

/**
 * piscina, loaded only when a run compares against it: it is a devDependency, so an installed
 * ringmaster runs `ringmaster bench` without it and says how to get it when --compare asks for it.
 */
async function loadPiscina(): Promise<typeof PiscinaPool> {
  try {
    return (await import('piscina')).Piscina;
  } catch (error) {
    throw new Error(`--compare piscina needs the piscina package (npm install piscina): ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A one-thread pool on `worker`, its thread started and the module loaded (a first control task). */
export async function startPool<Task extends { op?: string }, Result>(worker: URL): Promise<PiscinaPool<Task, Result>> {
  const Piscina = await loadPiscina();
  const pool = new Piscina<Task, Result>({ filename: worker.href, minThreads: 1, maxThreads: 1, idleTimeout: 60_000 });
  await pool.run({ op: 'totals', from: 0, to: 0 } as unknown as Task);
  return pool;
}
const MAX_IN_FLIGHT = 1024;
export const MAX_IN_FLIGHT_TASKS = MAX_IN_FLIGHT;
const LOW_WATER = MAX_IN_FLIGHT / 2;
const HANG_MS = 120_000;

async function run({ workload, warmup, messages, expected }: ThroughputPlan): Promise<PeerRun> {
  const pool = await startPool<PiscinaW1Task, W1Totals | undefined>(WORKER);
  try {
    const window = new TaskWindow(MAX_IN_FLIGHT, LOW_WATER, 'piscina');
    // Waits for every task's result (like ringmaster's drain).
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        if (window.full) await window.room();
        window.track(pool.run(workload.message(i)));
      }
      await window.drained();
    };
    await send(0, warmup);
    const start = process.hrtime.bigint();
    await send(warmup, warmup + messages);
    const totals = await withTimeout(pool.run({ op: 'totals', from: 0, to: workload.keys }), HANG_MS, 'piscina totals');
    const seconds = secondsSince(start);
    if (totals === undefined) throw new Error('piscina: no totals');
    // piscina does not promise task order, even with one thread: reordering is reported, not failed.
    verifyW1('piscina', expected, totals, { order: false });
    const all = warmup + messages;
    return totals.outOfOrder > 0 ? { messages, seconds, note: reorderNote(totals.outOfOrder, all) } : { messages, seconds };
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
