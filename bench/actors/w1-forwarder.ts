/**
 * Stage one of the two-stage W1 pipeline (npm run bench:topology): receives a W1 message and
 * sends it on with ctx.send to the W1 actor of its key ('w1' kind), wherever that lives. Each W1
 * key gets all its messages from one forwarder key, so per-key order is checked end to end.
 */
import { defineActor } from '../../index.js';
import type { W1Message } from '../w1.js';

export default defineActor<undefined, W1Message, void>({
  receive(msg, ctx) {
    ctx.send(msg.key, msg, { kind: 'w1' });
  },
});
