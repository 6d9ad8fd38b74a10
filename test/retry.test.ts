/**
 * Failures inside receive: a failing send is retried per the actor's policy with exponential
 * backoff while the key's later messages wait behind it; after its last attempt it is a dead
 * letter (key, partition, message, error with name and message, attempts). Asks are not retried.
 */
import { describe, expect, test } from 'vitest';
import { createRuntime, type DeadLetter } from 'ringmaster';
import { fixture } from './helpers/api.js';

const ACTOR = fixture('retry-actor.mjs');
interface Run {
  key: string;
  id: string;
  run: number;
  at: number;
}

describe('retries and dead letters', () => {
  test.each([
    ['a throwing receive', false],
    ['a rejecting receive', true],
  ])('%s that fails twice then succeeds runs 3 times, once successfully, and keeps the key in order', async (_label, async) => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1 });
    const letters: DeadLetter[] = [];
    rt.on('deadLetter', (d) => letters.push(d));
    rt.on('actorError', () => {});
    try {
      rt.trySend('k', { id: 'a', failTimes: 2, async });
      rt.trySend('k', { id: 'b', failTimes: 0 });
      rt.trySend('k', { id: 'c', failTimes: 0 });
      await rt.drain(); // waits for the retries too: the first message is unfinished until then
      const log = await rt.ask<Run[]>('k', { op: 'log' });
      expect(log.map((r) => `${r.id}${r.run}`)).toEqual(['a1', 'a2', 'a3', 'b1', 'c1']);
      expect(letters).toEqual([]);
      expect(rt.stats().failed).toBe(0);
    } finally {
      await rt.close();
    }
  });

  test('a send that always fails is a dead letter after maxAttempts, with the backoff schedule between attempts', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1 });
    const letters: DeadLetter[] = [];
    rt.on('deadLetter', (d) => letters.push(d));
    const errors: Error[] = [];
    rt.on('actorError', (e) => errors.push(e.error));
    try {
      rt.trySend('bad', { id: 'x', failTimes: Infinity, note: 'kept' });
      rt.trySend('bad', { id: 'y', failTimes: 0 });
      await rt.drain();
      const log = await rt.ask<Run[]>('bad', { op: 'log' });
      expect(log.map((r) => `${r.id}${r.run}`)).toEqual(['x1', 'x2', 'x3', 'y1']);
      // backoffMs 40, doubling: ≥ 40 ms then ≥ 80 ms between attempts (timers never fire early;
      // the upper side is loose on a shared machine, and a late first timer may outlast the second).
      const gap1 = log[1]!.at - log[0]!.at;
      const gap2 = log[2]!.at - log[1]!.at;
      expect(gap1).toBeGreaterThanOrEqual(38);
      expect(gap2).toBeGreaterThanOrEqual(78);
      expect(gap2).toBeLessThan(2000);
      expect(letters).toHaveLength(1);
      const d = letters[0]!;
      expect(d).toMatchObject({ key: 'bad', thread: 0, reason: 'failed', attempts: 3, ask: false, message: { id: 'x', note: 'kept' } });
      expect(d.partition).toBe(rt.partitionOf('bad'));
      expect(d.error).toBeInstanceOf(RangeError);
      expect(d.error!.message).toBe('failing x (run 3)');
      expect(d.error!.stack).toContain('retry-actor.mjs');
      expect(rt.deadLetters()).toEqual(letters);
      expect(errors).toHaveLength(1); // one 'actorError', for the final failure
      expect(rt.stats().failed).toBe(1);
    } finally {
      await rt.close();
    }
  });

  test('an ask is not retried: the caller gets the error of its one run', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1 });
    try {
      await expect(rt.ask('asker', { id: 'q', failTimes: 5 })).rejects.toThrow('failing q (run 1)');
      const log = await rt.ask<Run[]>('asker', { op: 'log' });
      expect(log.map((r) => r.run)).toEqual([1]);
      expect(rt.deadLetters()).toEqual([]);
    } finally {
      await rt.close();
    }
  });

  test('bad retry policies are refused (runtime option and defineActor)', async () => {
    await expect(createRuntime({ actor: ACTOR, retry: { maxAttempts: 0 } })).rejects.toThrow(RangeError);
    await expect(createRuntime({ actor: ACTOR, retry: { tries: 3 } as never })).rejects.toThrow(/unknown option 'tries'/);
    const { defineActor } = await import('ringmaster');
    expect(() => defineActor({ receive: () => 1, retry: { backoffMs: -1 } })).toThrow(RangeError);
  });
});
