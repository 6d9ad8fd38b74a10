/**
 * Peers "postmessage-single" (one postMessage per W1 message) and "postmessage-batched" (arrays
 * of BATCH messages per postMessage) to one worker thread, with the ack-window flow control of
 * ./postmessage-channel.ts. The worker (../workers/postmessage-w1.ts) runs the W1 actor logic;
 * a final { op: 'totals' } request, answered after every earlier message (ports are FIFO), is
 * verified. The clock starts after the worker reported ready.
 */
import { secondsSince, withTimeout, type Peer, type PeerRun } from '../peer.js';
import { verifyW1, type W1Message, type W1Totals, type W1Workload } from '../w1.js';
import type { PmW1In } from '../workers/postmessage-w1.js';
import { PmChannel } from './postmessage-channel.js';

const WORKER = new URL('../workers/postmessage-w1.js', import.meta.url);
export const BATCH = 256;
const HANG_MS = 120_000;

function postMessagePeer(batch: number): Peer {
  const name = batch === 1 ? 'postmessage-single' : 'postmessage-batched';
  async function run(n: number, workload: W1Workload, expected: W1Totals): Promise<PeerRun> {
    const channel = new PmChannel<PmW1In>(WORKER, name);
    try {
      await withTimeout(channel.ready(), HANG_MS, `${name} start`);
      const start = process.hrtime.bigint();
      if (batch === 1) {
        for (let i = 0; i < n; i++) {
          const waiting = channel.post(workload.message(i), 1);
          if (waiting) await withTimeout(waiting, HANG_MS, `${name} ack`);
        }
      } else {
        for (let i = 0; i < n; i += batch) {
          const end = Math.min(n, i + batch);
          const msgs: W1Message[] = new Array<W1Message>(end - i);
          for (let j = i; j < end; j++) msgs[j - i] = workload.message(j);
          const waiting = channel.post(msgs, msgs.length);
          if (waiting) await withTimeout(waiting, HANG_MS, `${name} ack`);
        }
      }
      const totals = await withTimeout(channel.request<W1Totals>({ op: 'totals', from: 0, to: workload.keys }), HANG_MS, `${name} totals`);
      const seconds = secondsSince(start);
      verifyW1(name, expected, totals);
      return { messages: n, seconds };
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
