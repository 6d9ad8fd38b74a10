/**
 * Mailboxes.actorFor finds a key's actor by its hash, then compares the key (runtime/mailboxes.ts):
 * here every key is given the same hash, so only the comparison tells them apart, including the
 * cases no real FNV-1a collision is at hand for (keys that differ only by trailing NUL bytes,
 * which the zero-padded inline words alone would not tell apart). The actor found is also the
 * ctx its key's init and receive see.
 */
import { describe, expect, test } from 'vitest';
import { Mailboxes } from '../dist/runtime/mailboxes.js';

const noop = () => {};

function mailboxes(): Mailboxes {
  const shared = { now: 0, inFlight: 0, send: noop };
  return new Mailboxes('k', { receive: noop }, 0, { pending: noop, done: noop }, { attempts: 1, backoffMs: 0, maxBackoffMs: 0 }, 0, shared);
}

/** The key's bytes at an odd offset of a larger buffer, as in a ring. */
function framed(key: string, utf16 = false): [Buffer, number, number] {
  const bytes = Buffer.from(key, utf16 ? 'utf16le' : 'utf8');
  const frame = Buffer.alloc(bytes.length + 11, 0xee);
  bytes.copy(frame, 7);
  return [frame, 7, bytes.length];
}

describe('Mailboxes.actorFor', () => {
  test('keys sharing one hash keep one actor each, found again by their bytes', () => {
    const m = mailboxes();
    const keys = ['a', 'a\0', 'a\0\0', 'abcd', 'abcd\0', 'abcdefghijkl', 'abcdefghijkl\0', 'abcdefghijklm', 'abcdefghijkln', 'abcdefghijklmnopqrstuvwxyz', 'abcdefghijklmnopqrstuvwxyZ', 'é', 'ü'];
    const actors = keys.map((key) => m.actorFor(12345, ...framed(key), false, 0));
    expect(new Set(actors).size).toBe(keys.length);
    expect(actors.map((a) => a.key)).toStrictEqual(keys);
    keys.forEach((key, i) => expect(m.actorFor(12345, ...framed(key), false, 0)).toBe(actors[i]));
    expect(m.size).toBe(keys.length);
    // The same bytes flagged as UTF-16 code units are another key: 'ab' in UTF-16LE is 'a\0b\0' in UTF-8.
    const utf16 = m.actorFor(12345, ...framed('ab', true), true, 0);
    const utf8Twin = m.actorFor(12345, ...framed('a\0b\0'), false, 0);
    expect(utf16).not.toBe(utf8Twin);
    expect(m.actorFor(12345, ...framed('ab', true), true, 0)).toBe(utf16);
  });

  test('the ctx that init and receive see is one object per key, with the ActorContext fields', () => {
    const seen: { key: string; ctx: unknown; state: unknown }[] = [];
    const definition = {
      init: (key: string) => ({ key, n: 0 }),
      receive(msg: unknown, ctx: { key: string; state: { n: number } }) {
        ctx.state.n++;
        seen.push({ key: ctx.key, ctx, state: ctx.state });
      },
    };
    const shared = { now: 0, inFlight: 0, send: noop };
    const m = new Mailboxes('orders', definition as never, 3, { pending: noop, done: noop }, { attempts: 1, backoffMs: 0, maxBackoffMs: 0 }, 2, shared);
    const a = m.actorFor(1, ...framed('alpha'), false, 7);
    const b = m.actorFor(2, ...framed('beta'), false, 9);
    for (const actor of [a, b, a]) m.deliver(actor, { msg: null, askId: 0, frameStart: 0, frameSeq: 0, lane: 0, attempt: 0 });
    expect(seen.map((s) => s.key)).toStrictEqual(['alpha', 'beta', 'alpha']);
    expect(seen[0]!.ctx).toBe(seen[2]!.ctx);
    expect(seen[0]!.ctx).not.toBe(seen[1]!.ctx);
    expect(seen[2]!.state).toStrictEqual({ key: 'alpha', n: 2 });
    expect(seen[1]!.ctx).toMatchObject({ key: 'beta', partition: 9, thread: 3, restarts: 2, kind: 'orders', state: { key: 'beta', n: 1 } });
    expect(typeof (seen[1]!.ctx as { send: unknown }).send).toBe('function');
  });
});
