/**
 * The W1 actor for ringmaster: one state per key (count, sum, seqSum; see ../w1.ts) kept by the
 * runtime in ctx.state. Every state is also registered by key number in this thread's W1Tally, so
 * the whole thread's result can be read back with a few asks ({ op: 'totals', from, to }) instead
 * of one ask per key. When a key's partition moves to another thread, its state leaves this
 * thread's tally and joins the new one's (exportState/importState).
 */
import { defineActor } from '../../index.js';
import { applyW1, W1Tally, type KeyTally, type W1Message, type W1Totals } from '../w1.js';

export type W1Control =
  | { op: 'get' }
  /** The per-key results of this thread for keys [from, to) (keys on other threads read as 0). */
  | { op: 'totals'; from: number; to: number }
  /** Blocks this thread for `ms` (bench:send-path fills the ring meanwhile, then times the drain). */
  | { op: 'hold'; ms: number };

export type W1ActorMsg = W1Message | W1Control;

export interface W1KeyReply {
  key: string;
  count: number;
  sum: number;
  seqSum: number;
}

const tally = new W1Tally();
/** Never notified: waiting on it blocks for the timeout. */
const holdCell = new Int32Array(new SharedArrayBuffer(4));

export default defineActor<KeyTally, W1ActorMsg, W1Totals | W1KeyReply | undefined>({
  init: (key) => tally.stateFor(key),
  exportState(state) {
    tally.forget(state.key);
    return state;
  },
  importState: (data) => tally.adopt(data as KeyTally),
  receive(msg, ctx) {
    if (msg.op === undefined) {
      applyW1(ctx.state, msg);
      return undefined;
    }
    if (msg.op === 'totals') return tally.totals(msg.from, msg.to);
    if (msg.op === 'hold') {
      Atomics.wait(holdCell, 0, 0, msg.ms);
      return undefined;
    }
    const s = ctx.state;
    return { key: s.key, count: s.count, sum: s.sum, seqSum: s.seqSum };
  },
});
