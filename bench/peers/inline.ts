/**
 * Peer "inline": no threads and no encoding. Each message is hashed to its partition (as the
 * router does) and the W1 actor logic runs directly on the main thread: look the key's state up,
 * apply the message. What the work itself costs when nothing crosses a thread.
 */
import { fnv1a32 } from '../../runtime/key.js';
import { PARTITIONS, secondsSince, type Peer, type PeerRun, type ThroughputPlan } from '../peer.js';
import { VerificationError, verifyW1, W1Tally } from '../w1.js';

async function run({ workload, warmup, messages, expected }: ThroughputPlan): Promise<PeerRun> {
  const tally = new W1Tally();
  const perPartition = new Float64Array(PARTITIONS);
  const apply = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const msg = workload.message(i);
      perPartition[fnv1a32(msg.key) % PARTITIONS]!++;
      tally.apply(msg);
    }
  };
  apply(0, warmup);
  const start = process.hrtime.bigint();
  apply(warmup, warmup + messages);
  const totals = tally.totals(0, workload.keys);
  const seconds = secondsSince(start);
  verifyW1('inline', expected, totals);
  let hashed = 0;
  for (let p = 0; p < PARTITIONS; p++) hashed += perPartition[p]!;
  if (hashed !== warmup + messages) throw new VerificationError(`inline: hashed ${hashed} of ${warmup + messages} messages`);
  return { messages, seconds };
}

export const inlinePeer: Peer = {
  name: 'inline',
  describe: 'hash + W1 actor logic called directly on the main thread (no threads, no encoding)',
  run,
};
