/**
 * Peer "floor": the same messages hashed (fnv1a32 % partitions, as the router does) and
 * msgpackr-encoded (the runtime's own record packer, into a reused buffer as the runtime packs)
 * in a tight loop on one thread. No threads, no rings, no decoding, no actor: the least work any
 * threaded peer must also do on the producer side, so ringmaster ÷ floor says how much the rings,
 * wake-ups and dispatch add.
 *
 * What it verifies: every message was hashed into the right partition exactly once (per-partition
 * counts equal those of the expected per-key counts) and produced a non-empty encoding.
 */
import { newRecordPacker, packedEnd, packedStart, packReused } from '../../runtime/codec.js';
import type { Packr } from 'msgpackr';
import { SharedStructures } from '../../runtime/structures.js';
import { fnv1a32 } from '../../runtime/key.js';
import { PARTITIONS, secondsSince, type Peer, type PeerRun, type ThroughputPlan } from '../peer.js';
import { VerificationError, type W1Totals, type W1Workload } from '../w1.js';

function expectedPartitionCounts(workload: W1Workload, expected: W1Totals): Float64Array {
  const counts = new Float64Array(PARTITIONS);
  for (let k = 0; k < workload.keys; k++) counts[fnv1a32(workload.key(k)) % PARTITIONS]! += expected.counts[k]!;
  return counts;
}

/** Hashes and encodes messages [from, to), counting them per partition; returns the bytes encoded and the empty encodings. */
function encodeRange(packr: Packr, workload: W1Workload, perPartition: Float64Array, from: number, to: number): { bytes: number; empty: number } {
  let bytes = 0;
  let empty = 0;
  for (let i = from; i < to; i++) {
    const msg = workload.message(i);
    const partition = fnv1a32(msg.key) % PARTITIONS;
    const encoded = packReused(packr, msg);
    const length = packedEnd(encoded) - packedStart(encoded);
    perPartition[partition]!++;
    bytes += length;
    if (length === 0) empty++;
  }
  return { bytes, empty };
}

async function run({ workload, warmup, messages, expected }: ThroughputPlan): Promise<PeerRun> {
  const want = expectedPartitionCounts(workload, expected);
  // The packer the runtime's main thread uses (runtime/codec.ts), with a registry of its own.
  const packr = newRecordPacker(new SharedStructures());
  const perPartition = new Float64Array(PARTITIONS);
  const warm = encodeRange(packr, workload, perPartition, 0, warmup);
  const start = process.hrtime.bigint();
  const timed = encodeRange(packr, workload, perPartition, warmup, warmup + messages);
  const seconds = secondsSince(start);
  for (let p = 0; p < PARTITIONS; p++) {
    if (perPartition[p] !== want[p]) {
      throw new VerificationError(`floor: partition ${p} got ${perPartition[p]} messages, expected ${want[p]}`);
    }
  }
  const empty = warm.empty + timed.empty;
  if (empty !== 0 || (warmup + messages > 0 && warm.bytes + timed.bytes === 0)) throw new VerificationError(`floor: ${empty} empty encodings`);
  return { messages, seconds };
}

export const floorPeer: Peer = {
  name: 'floor',
  describe: 'hash + msgpackr encode, one thread, no delivery (the encode floor)',
  run,
};
