/** Passivation: keys idle for passivateAfterMs drop their state (after the passivate hook); the next message re-activates them. */
import { describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { fixture, until } from './helpers/api.js';

const DISTINCT_KEYS = Number(process.env.PASSIVATION_KEYS ?? 1_000_000);

describe('passivation', () => {
  test(`${DISTINCT_KEYS} distinct keys: live keys stay bounded while they stream, and all go once idle`, async () => {
    const rt = await createRuntime({ actor: fixture('passivating-actor.mjs'), threads: 1 });
    try {
      let peak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, (await rt.snapshots())[0]!.actors.default!);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      })();
      for (let i = 0; i < DISTINCT_KEYS; i++) {
        if (!rt.trySend(`k${i}`, 1)) await rt.send(`k${i}`, 1);
        if ((i & 4095) === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await rt.drain();
      sampling = false;
      await sampler;
      // Bound: keys touched within the last passivateAfterMs plus one sweep interval; at any rate
      // this machine reaches that is far below a quarter of the keys.
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThan(DISTINCT_KEYS / 4);
      await until('every key to passivate', async () => (await rt.snapshots())[0]!.actors.default === 0);
      const snapshot = (await rt.snapshots())[0]!;
      expect(snapshot.passivated).toBe(DISTINCT_KEYS);
      // The next message activates the key again, through init.
      const after = await rt.ask<{ count: number; inits: number; passivated: number }>('k7', { op: 'get' });
      expect(after).toEqual({ count: 0, inits: DISTINCT_KEYS + 1, passivated: DISTINCT_KEYS });
    } finally {
      await rt.close();
    }
  }, 120_000);

  test('a key that keeps getting messages keeps its state; passivate can save what init restores', async () => {
    // 400 ms idle before passivation: a stall of the sending loop must not look like idleness.
    process.env.PASSIVATE_AFTER_MS = '400';
    const rt = await createRuntime({ actor: fixture('passivating-actor.mjs'), threads: 1 });
    delete process.env.PASSIVATE_AFTER_MS; // the workers copied it at their start
    try {
      for (let i = 0; i < 30; i++) {
        await rt.send('hot', 1);
        await rt.send('keep-1', 1);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const hot = await rt.ask<{ count: number; inits: number }>('hot', { op: 'get' });
      expect(hot.count).toBe(30); // never passivated: it was never idle for 400 ms
      await until('the keys to passivate', async () => (await rt.snapshots())[0]!.actors.default === 0);
      expect(await rt.ask<{ count: number }>('keep-1', { op: 'get' })).toMatchObject({ count: 30 }); // restored by init
      expect(await rt.ask<{ count: number }>('hot', { op: 'get' })).toMatchObject({ count: 0 }); // not saved: fresh state
    } finally {
      await rt.close();
    }
  }, 60_000);

  test('defineActor refuses a bad passivateAfterMs or hook', async () => {
    const { defineActor } = await import('ringmaster');
    expect(() => defineActor({ receive() {}, passivateAfterMs: 0 })).toThrow(RangeError);
    expect(() => defineActor({ receive() {}, passivateAfterMs: Number.NaN })).toThrow(RangeError);
    expect(() => defineActor({ receive() {}, passivate: 1 as never })).toThrow(TypeError);
    expect(() => defineActor({ receive() {}, exportState: 'x' as never })).toThrow(TypeError);
  });
});
