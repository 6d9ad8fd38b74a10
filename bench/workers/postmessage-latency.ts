/**
 * Worker for the batched-postMessage latency peer: for each message of a batch, read the clock
 * and record now − intended send time (the same "receive start" the ringmaster latency actor
 * records), then apply the W1 logic. Acks for flow control; answers { op: 'histogram' } and
 * { op: 'totals' }.
 */
import { parentPort } from 'node:worker_threads';
import { initHistograms, LatencyRecorder } from '../histogram.js';
import { nowNs, type LatencyMessage } from '../latency-message.js';
import { PmAcker } from '../peers/postmessage-channel.js';
import { W1Tally } from '../w1.js';

export type PmLatencyIn = LatencyMessage[] | { op: 'histogram' } | { op: 'totals'; from: number; to: number };

await initHistograms();
const port = parentPort!;
const acker = new PmAcker(port);
const recorder = new LatencyRecorder();
const tally = new W1Tally();

port.on('message', (data: PmLatencyIn) => {
  if (Array.isArray(data)) {
    for (let i = 0; i < data.length; i++) {
      const msg = data[i]!;
      const start = nowNs();
      recorder.record(start, msg.t, msg.w);
      tally.apply(msg);
      recorder.recordService(nowNs() - start, msg.w);
    }
    acker.done(data.length);
  } else if (data.op === 'histogram') {
    acker.result(recorder.snapshot());
  } else {
    acker.result(tally.totals(data.from, data.to));
  }
});
acker.ready();
