/** What a throughput peer is: a function that moves W1 messages, verifies them, and says how long it took. */
import type { W1Totals, W1Workload } from './w1.js';

/**
 * One throughput run. The peer starts its threads (fresh for every run), sends messages
 * [0, warmup) and waits until they are processed, with the clock not running: a fresh thread runs
 * its first tens of thousands of messages interpreted or half-compiled, which is JIT warm-up, not
 * the peer's throughput. Then the clock runs while it sends [warmup, warmup + messages) and
 * verifies the result of all of them against `expected`.
 */
export interface ThroughputPlan {
  workload: W1Workload;
  /** Untimed messages first (0: the clock starts with the threads' first message). */
  warmup: number;
  /** Timed messages. */
  messages: number;
  /** The exact result of all warmup + messages messages. */
  expected: W1Totals;
}

export interface PeerRun {
  /** Timed messages. */
  messages: number;
  /** From the first timed send to the last message verified (set-up, warm-up and tear-down excluded). */
  seconds: number;
  /** Something the reader should know about this run (e.g. reordering by a peer that does not promise order). */
  note?: string;
}

export interface Peer {
  /** Stable name used in the report and the JSON. */
  name: string;
  /** One line saying what the peer does. */
  describe: string;
  /** Runs the plan; throws (typically a VerificationError) when the result is not `plan.expected` exactly. */
  run(plan: ThroughputPlan): Promise<PeerRun>;
}

/** Partitions every peer hashes into (the runtime's default). */
export const PARTITIONS = 64;

export class PhaseTimeoutError extends Error {
  override name = 'PhaseTimeoutError';
}

/** Rejects with a PhaseTimeoutError when `promise` has not settled within `ms` (a hang guard). */
export function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PhaseTimeoutError(`${label}: no result after ${ms} ms (hung?)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Seconds since `startNs` (process.hrtime.bigint()). */
export function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}
