/**
 * Delayed sends: delivered no earlier than their delay, in due-time order; many pending delays
 * stay cheap; close() waits for them (or, past its timeout, reports them as unprocessed).
 */
import { describe, expect, test } from 'vitest';
import { createRuntime, type DeadLetter } from 'ringmaster';
import { fixture } from './helpers/api.js';

const ACTOR = fixture('delay-actor.mjs');
const now = (): number => performance.timeOrigin + performance.now();
interface Arrival {
  id: number;
  at: number;
  notBefore: number;
}

describe('delayMs', () => {
  test('delivered by due time, never early; undelayed messages do not wait for them', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1 });
    try {
      const t = now();
      rt.trySend('k', { id: 300, notBefore: t + 300 }, { delayMs: 300 });
      await rt.send('k', { id: 100, notBefore: t + 100 }, { delayMs: 100 });
      rt.trySend('k', { id: 200, notBefore: t + 200 }, { delayMs: 200 });
      rt.trySend('k', { id: 0, notBefore: t }); // no delay
      expect(rt.stats().delayed).toBe(3);
      const deadline = Date.now() + 10_000;
      while ((await rt.ask<number>('k', { op: 'count' })) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const log = await rt.ask<Arrival[]>('k', { op: 'log' });
      expect(log.map((a) => a.id)).toEqual([0, 100, 200, 300]);
      for (const a of log) expect(a.at, `message ${a.id}`).toBeGreaterThanOrEqual(a.notBefore - 1); // 1 ms: clock rounding
      expect(rt.stats().delayed).toBe(0);
    } finally {
      await rt.close();
    }
  });

  test('100,000 pending delayed messages: bounded memory, all delivered after their delay, exact count', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 2 });
    try {
      global.gc?.();
      const before = process.memoryUsage().heapUsed;
      const t = now();
      const N = 100_000;
      for (let i = 0; i < N; i++) {
        const delayMs = 200 + (i % 997);
        rt.trySend(`k${i % 64}`, { id: i, notBefore: t + delayMs }, { delayMs });
      }
      const held = process.memoryUsage().heapUsed - before;
      expect(rt.stats().delayed).toBe(N);
      console.log(`delays: ${N} pending, heap +${(held / 2 ** 20).toFixed(1)} MB (${Math.round(held / N)} B each)`);
      expect(held).toBeLessThan(64 * 2 ** 20);
      await rt.close(); // waits until every delayed message is due, then drains
      expect(rt.stats().delayed).toBe(0);
      expect(rt.stats().processed).toBe(N);
      expect(now() - t).toBeGreaterThanOrEqual(200 + 996 - 5);
    } finally {
      await rt.close();
    }
  }, 60_000);

  test('close({ timeoutMs }) shorter than the delays: they are reported as unprocessed dead letters', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1 });
    const letters: DeadLetter[] = [];
    rt.on('deadLetter', (d) => letters.push(d));
    rt.trySend('k', { id: 1, notBefore: 0 }, { delayMs: 60_000 });
    await rt.send('k', { id: 2, notBefore: 0 }, { delayMs: 50_000 });
    await rt.close({ timeoutMs: 200 });
    expect(rt.closeReport()).toEqual({ timedOut: true, unprocessed: 2 });
    expect(letters.map((d) => [d.reason, (d.message as { id: number }).id])).toEqual([
      ['unprocessed', 2],
      ['unprocessed', 1],
    ]);
  });

  test('a bad delay is a RangeError and nothing is enqueued', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1 });
    try {
      for (const delayMs of [-1, NaN, Infinity, '5' as unknown as number]) {
        expect(() => rt.trySend('k', { id: 1 }, { delayMs })).toThrow(RangeError);
        await expect(rt.send('k', { id: 1 }, { delayMs })).rejects.toThrow(RangeError);
      }
      expect(rt.stats().delayed).toBe(0);
      expect(rt.stats().sent).toBe(0);
    } finally {
      await rt.close();
    }
  });
});
