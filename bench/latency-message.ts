/**
 * The latency workload: W1 message j plus the time it was meant to be sent.
 *
 * `t` is the intended send time in process.hrtime.bigint() nanoseconds (one monotonic clock for
 * every thread of the process) as a Number: exact below 2^53 ns (104 days of uptime), and within
 * a few ns beyond, far below what is measured. `w` is 1 for warm-up messages, which are delivered
 * and counted but not recorded.
 */
import type { W1Message, W1Workload } from './w1.js';

export interface LatencyMessage extends W1Message {
  t: number;
  w: number;
}

export function makeLatencyMessage(workload: W1Workload, j: number, intendedNs: number, warmUp: boolean): LatencyMessage {
  const msg = workload.message(j) as LatencyMessage;
  msg.t = intendedNs;
  msg.w = warmUp ? 1 : 0;
  return msg;
}

/** Reads the shared clock as a Number of ns (see above). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Where actors/instrumented.ts finds the user's actor module (`--actor`). */
export const BENCH_ACTOR_ENV = 'RINGMASTER_BENCH_ACTOR';

/** A user's message on its way to an instrumented actor, with its intended send time. */
export interface BenchEnvelope {
  t: number;
  w: number;
  m: unknown;
}
export type InstrumentedMsg = BenchEnvelope | { benchControl: 'histogram' };
