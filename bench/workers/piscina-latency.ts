/**
 * Piscina task for the latency peer: record now − intended send time (receive start) and the
 * service time, then apply the W1 logic. Control tasks read back the histograms and the totals.
 */
import { initHistograms, LatencyRecorder, type RecorderSnapshot } from '../histogram.js';
import { nowNs, type LatencyMessage } from '../latency-message.js';
import { W1Tally, type W1Totals } from '../w1.js';

export type PiscinaLatencyTask = LatencyMessage | { op: 'histogram' } | { op: 'totals'; from: number; to: number };

await initHistograms();
const recorder = new LatencyRecorder();
const tally = new W1Tally();

export default function task(msg: PiscinaLatencyTask): W1Totals | RecorderSnapshot | undefined {
  if (msg.op === undefined) {
    const start = nowNs();
    recorder.record(start, msg.t, msg.w);
    tally.apply(msg);
    recorder.recordService(nowNs() - start, msg.w);
    return undefined;
  }
  if (msg.op === 'totals') return tally.totals(msg.from, msg.to);
  return recorder.snapshot();
}
