// One actor per user id: a request count and a running total of hashing rounds, kept on the
// thread that hosts the user's partition (and moved with it by rt.rebalance / rt.resize).
import { createHash } from 'node:crypto';
import { defineActor } from 'ringmaster';

export const MAX_ROUNDS = 100_000;

export default defineActor({
  init: () => ({ count: 0, totalRounds: 0 }), // a user's first request activates it
  receive(msg, ctx) {
    // One request at a time per user, in arrival order: count goes 1, 2, 3, ...
    const rounds = msg.rounds;
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS) {
      throw new RangeError(`rounds must be an integer in 1..${MAX_ROUNDS}, got ${rounds}`);
    }
    ctx.state.count += 1;
    ctx.state.totalRounds += rounds;
    // The CPU-heavy part: sha256 iterated `rounds` times over the payload.
    let digest = createHash('sha256').update(`${ctx.key}:${ctx.state.count}:${msg.payload ?? ''}`).digest();
    for (let i = 1; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
    return {
      user: ctx.key,
      count: ctx.state.count,
      totalRounds: ctx.state.totalRounds,
      digest: digest.toString('hex'),
      partition: ctx.partition,
      thread: ctx.thread,
    };
  },
});
