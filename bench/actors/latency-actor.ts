/**
 * The latency actor for ringmaster: first thing in receive, read the clock and record
 * now − intended send time in this thread's histogram; then do the W1 work (as w1-actor does).
 * Answers { op: 'histogram' } with the thread's compressed histogram and { op: 'totals', ... }
 * with its W1 results, so latency runs are verified exactly too.
 */
import { defineActor } from '../../index.js';
import { initHistograms, LatencyRecorder, type RecorderSnapshot } from '../histogram.js';
import { nowNs, type LatencyMessage } from '../latency-message.js';
import { applyW1, W1Tally, type KeyTally, type W1Totals } from '../w1.js';

export type LatencyActorMsg = LatencyMessage | { op: 'histogram' } | { op: 'totals'; from: number; to: number };

await initHistograms();
const recorder = new LatencyRecorder();
const tally = new W1Tally();

export default defineActor<KeyTally, LatencyActorMsg, W1Totals | RecorderSnapshot | undefined>({
  init: (key) => tally.stateFor(key),
  receive(msg, ctx) {
    if (msg.op === undefined) {
      const start = nowNs();
      recorder.record(start, msg.t, msg.w);
      applyW1(ctx.state, msg);
      recorder.recordService(nowNs() - start, msg.w);
      return undefined;
    }
    if (msg.op === 'totals') return tally.totals(msg.from, msg.to);
    return recorder.snapshot();
  },
});
