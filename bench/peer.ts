/** What a throughput peer is: a function that moves n W1 messages, verifies them, and says how long it took. */
import type { W1Totals, W1Workload } from './w1.js';

export interface PeerRun {
  messages: number;
  /** From the first send to the last message verified (set-up and tear-down excluded). */
  seconds: number;
  /** Something the reader should know about this run (e.g. reordering by a peer that does not promise order). */
  note?: string;
}

export interface Peer {
  /** Stable name used in the report and the JSON. */
  name: string;
  /** One line saying what the peer does. */
  describe: string;
  /** Runs n messages of the workload; throws (typically a VerificationError) when the result is not `expected` exactly. */
  run(n: number, workload: W1Workload, expected: W1Totals): Promise<PeerRun>;
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
