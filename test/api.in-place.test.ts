/**
 * Tells encoded straight into the ring (the runtime's fast path for messages the shape encoder
 * takes) and tells that go the copy way (a shape's first message, strings past the in-place
 * claim, Maps, a full ring, a queue of waiting send()s) mix on one lane: each key still receives
 * exactly its messages, in order, with their values, keys with lone surrogates included.
 */
import { describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { fixture, prng } from './helpers/api.js';

const KEYS = ['a', 'key-2', 'Straße', '中文キー', 'lone\ud800', 7, 'k'.repeat(200)] as const;

describe('in-place and copied tells on one lane', () => {
  test('a 64 KiB ring held full behind an unfinished receive: trySend refusals, waiting send()s, every key gets its own messages in order', async () => {
    const rt = await createRuntime({ actor: fixture('recorder-actor.mjs'), threads: 1, partitions: 8, ringBytes: 65536 });
    const channel = new BroadcastChannel('recorder-gate');
    try {
      const holding = rt.ask('gate', { op: 'hold' });
      const rnd = prng(77);
      const expected = new Map<string | number, unknown[]>(KEYS.map((k) => [k, []]));
      const pending: Promise<void>[] = [];
      let refused = 0;
      for (let i = 0; i < 6000; i++) {
        // Half way, the receive holding the ring finishes, and the loop lets the event loop turn
        // now and then: the waiting send()s go out while new tells arrive, which must queue behind them.
        if (i === 3000) channel.postMessage('open');
        if (i > 3000 && i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
        const key = KEYS[Math.floor(rnd() * KEYS.length)]!;
        const r = rnd();
        const msg =
          r < 0.8 ? { seq: i, s: 'x'.repeat(i % 40), n: i * 0.5 } // W1-like: in place once its shape is known
          : r < 0.9 ? { seq: i, s: 'é'.repeat(2100 + (i % 100)), n: i } // over the in-place claim: copied
          : r < 0.95 ? new Map([[i, 'map']]) // the general path only
          : { seq: i, nested: { list: [i, true, null, 'ünï'] } };
        expected.get(key)!.push(msg);
        // Every third message through send(): once the ring is full, those wait in the lane's
        // queue, and the in-place path must not pass them.
        if (i % 3 === 0) pending.push(rt.send(key, msg));
        else if (!rt.trySend(key, msg)) {
          refused++;
          pending.push(rt.send(key, msg)); // the refused one was not enqueued: send it again, in order
        }
      }
      // The ring did fill: the fast path met a full ring and a queue, not just an empty ring.
      expect(refused).toBeGreaterThan(0);
      await holding;
      await Promise.all(pending);
      await rt.drain();
      for (const key of KEYS) {
        const want = expected.get(key)!;
        const got: unknown[] = [];
        while (got.length <= want.length) {
          const page = await rt.ask<unknown[]>(key, { op: 'log', from: got.length, count: 10 });
          got.push(...page);
          if (page.length === 0) break;
        }
        expect(got, `key ${String(key)}`).toEqual(want);
      }
      expect(rt.stats().processed).toBe(rt.stats().sent);
    } finally {
      channel.close();
      await rt.close();
    }
  });

  test('a getter that throws while its message is encoded in place: the error reaches the caller, nothing is written, later messages arrive intact', async () => {
    const rt = await createRuntime({ actor: fixture('recorder-actor.mjs'), threads: 1 });
    try {
      const first = { s: 'a', n: 1 };
      await rt.send('k', first); // the registry learns { s, n }: the next ones go in place
      const throwing = { s: 'b', get n(): number { throw new Error('boom'); } };
      expect(() => rt.trySend('k', throwing)).toThrow('boom');
      await expect(rt.send('k', throwing)).rejects.toThrow('boom');
      const after = [{ s: 'c', n: 3 }, { s: 'd', n: 4 }];
      for (const m of after) expect(rt.trySend('k', m)).toBe(true);
      await rt.drain();
      expect(await rt.ask('k', { op: 'log', from: 0, count: 10 })).toEqual([first, ...after]);
      const { sent, processed, failed } = rt.stats();
      expect([sent, processed, failed]).toEqual([4, 4, 0]); // the three tells and the ask
    } finally {
      await rt.close();
    }
  });

  test('a send from a getter of a message being encoded (in place or not) is an error, and neither message is sent', async () => {
    const rt = await createRuntime({ actor: fixture('recorder-actor.mjs'), threads: 1 });
    try {
      await rt.send('a', { s: 'x', n: 0 }); // registered: { s, n } goes in place
      const inner = { s: 'inner', n: -1 };
      const sending = { s: 'y', get n(): number { rt.trySend('b', inner); return 1; } };
      expect(() => rt.trySend('a', sending)).toThrow(/getter or proxy/);
      // The same through the general path (a Map only it takes) and through ask().
      const viaGeneral = { m: new Map([[1, 2]]), get n(): number { rt.trySend('b', inner); return 1; } };
      expect(() => rt.trySend('a', viaGeneral)).toThrow(/getter or proxy/);
      await expect(rt.ask('a', sending)).rejects.toThrow(/getter or proxy/);
      const last = { s: 'z', n: 2 };
      expect(rt.trySend('a', last)).toBe(true);
      await rt.drain();
      expect(await rt.ask('a', { op: 'log', from: 0, count: 10 })).toEqual([{ s: 'x', n: 0 }, last]);
      expect(await rt.ask('b', { op: 'log', from: 0, count: 10 })).toEqual([]);
      const { sent, processed, failed } = rt.stats();
      expect([sent, processed, failed]).toEqual([4, 4, 0]);
    } finally {
      await rt.close();
    }
  });
});
