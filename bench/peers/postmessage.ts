/**
 * Peers "postmessage-single" (one postMessage per W1 message) and "postmessage-batched" (arrays
 * of BATCH messages per postMessage) to one worker thread, with the ack-window flow control of
 * ./postmessage-channel.ts. The worker (../workers/postmessage-w1.ts) runs the W1 actor logic;
 * a final { op: 'totals' } request, answered after every earlier message (ports are FIFO), is
 * verified. The clock starts after the worker reported ready and processed the warm-up messages
 * (ThroughputPlan).
 */
import { secondsSince, withTimeout, type Peer, type PeerRun, type ThroughputPlan } from '../peer.js';
import { verifyW1, type W1Message, type W1Totals } from '../w1.js';
import type { PmW1In } from '../workers/postmessage-w1.js';
import { PmChannel } from './postmessage-channel.js';

const WORKER = new URL('../workers/postmessage-w1.js', import.meta.url);
export const BATCH = 256;
const HANG_MS = 120_000;

function postMessagePeer(batch: number): Peer {
  const name = batch === 1 ? 'postmessage-single' : 'postmessage-batched';
  async function run({ workload, warmup, messages, expected }: ThroughputPlan): Promise<PeerRun> {
    const channel = new PmChannel<PmW1In>(WORKER, name);
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += batch) {
        const end = Math.min(to, i + batch);
        let waiting: Promise<void> | undefined;
        if (batch === 1) waiting = channel.post(workload.message(i), 1);
        else {
          const msgs: W1Message[] = new Array<W1Message>(end - i);
          for (let j = i; j < end; j++) msgs[j - i] = workload.message(j);
          waiting = channel.post(msgs, msgs.length);
        }
        if (waiting) await withTimeout(waiting, HANG_MS, `${name} ack`);
      }
    };
    // Answered after every earlier message (ports are FIFO): the totals of `to` keys when all are processed.
    const processed = (to: number): Promise<W1Totals> =>
      withTimeout(channel.request<W1Totals>({ op: 'totals', from: 0, to }), HANG_MS, `${name} totals`);
    try {
      await withTimeout(channel.ready(), HANG_MS, `${name} start`);
      await send(0, warmup);
      await processed(0);
      const start = process.hrtime.bigint();
      await send(warmup, warmup + messages);
      const totals = await processed(workload.keys);
      const seconds = secondsSince(start);
      verifyW1(name, expected, totals);
      return { messages, seconds };
    } finally {
      await channel.terminate();
    }
  }
  return {
    name,
    describe:
      batch === 1
        ? 'raw postMessage, one message per call, 1 worker, ack window'
        : `raw postMessage, arrays of ${batch} per call, 1 worker, ack window`,
    run,
  };
}

export const postMessageSingle = postMessagePeer(1);
export const postMessageBatched = postMessagePeer(BATCH);
