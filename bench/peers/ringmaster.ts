/**
 * Peer "ringmaster-<t>t": the runtime with a given configuration (threads, partitions, mapping;
 * default 1 MiB rings). Producer loop: trySend, and `await rt.send` when the ring is full; then
 * drain; then read every thread's per-key results back (a few asks) and verify them exactly.
 * The clock runs from the first timed send to the verified result; starting the runtime, the
 * warm-up messages (ThroughputPlan) and closing it are outside it.
 */
import { createRuntime, type Mapping } from '../../index.js';
import { PhaseTimeoutError, secondsSince, withTimeout, type Peer, type PeerRun, type ThroughputPlan } from '../peer.js';
import { fetchW1Totals } from '../ringmaster-threads.js';
import { VerificationError, verifyW1 } from '../w1.js';

export const W1_ACTOR = new URL('../actors/w1-actor.js', import.meta.url);

/** Longest a drain or the verification asks may take before the run counts as hung. */
const HANG_MS = 120_000;

/** How the benchmark configures a runtime (the CLI's --threads, --partitions, --mapping). */
export interface RingmasterConfig {
  threads: number;
  partitions: number;
  mapping: Mapping;
  /** How the mapping was given, for the report ('modulo', 'range', a file name). */
  mappingLabel: string;
}

export const ringmasterName = (config: RingmasterConfig): string => `ringmaster-${config.threads}t`;

export function describeConfig(config: RingmasterConfig): string {
  const { threads, partitions, mappingLabel } = config;
  return `${threads} worker thread${threads > 1 ? 's' : ''}, ${partitions} partitions, ${mappingLabel} mapping`;
}

export function ringmasterPeer(config: RingmasterConfig): Peer {
  const name = ringmasterName(config);
  async function run({ workload, warmup, messages, expected }: ThroughputPlan): Promise<PeerRun> {
    const { threads, partitions, mapping } = config;
    const rt = await createRuntime({ actor: W1_ACTOR, threads, partitions, mapping });
    let hung = false;
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        const msg = workload.message(i);
        if (!rt.trySend(msg.key, msg)) await rt.send(msg.key, msg);
      }
      await withTimeout(rt.drain(), HANG_MS, `${name} drain`);
    };
    try {
      await send(0, warmup);
      const start = process.hrtime.bigint();
      await send(warmup, warmup + messages);
      const totals = await fetchW1Totals(rt, workload.keys, HANG_MS);
      const seconds = secondsSince(start);
      verifyW1(name, expected, totals);
      const stats = rt.stats();
      if (stats.failed !== 0) throw new VerificationError(`${name}: ${stats.failed} receives failed`);
      // sent/processed include the verification asks.
      if (stats.sent !== stats.processed) throw new VerificationError(`${name}: stats say ${stats.sent} sent, ${stats.processed} processed`);
      return { messages, seconds };
    } catch (error) {
      if (error instanceof PhaseTimeoutError) hung = true;
      throw error;
    } finally {
      // A hung runtime would hang close() too: leave it (the report exits non-zero anyway).
      if (!hung) await withTimeout(rt.close(), HANG_MS, `${name} close`);
    }
  }
  return { name, describe: `ringmaster runtime, ${describeConfig(config)}`, run };
}
