// The README's quick-start actor: a running total per key.
import { defineActor } from 'ringmaster';

export default defineActor({
  init: (key) => ({ total: 0 }), // a key's first message activates it
  receive(msg, ctx) {
    // one at a time per key, in send order
    ctx.state.total += msg.amount;
    return ctx.state.total; // answers ask()
  },
});
