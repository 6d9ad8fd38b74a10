/**
 * For the passivation memory figure (npm run bench:topology): the W1 per-key state, without the
 * thread-wide tally, passivated after 200 ms idle when PASSIVATE is set in the environment.
 */
import { defineActor } from '../../index.js';
import { applyW1, newKeyTally, type KeyTally, type W1Message } from '../w1.js';

export default defineActor<KeyTally, W1Message, void>({
  ...(process.env.RINGMASTER_BENCH_PASSIVATE ? { passivateAfterMs: 200 } : {}),
  init: (key) => newKeyTally(key),
  receive(msg, ctx) {
    applyW1(ctx.state, msg);
  },
});
