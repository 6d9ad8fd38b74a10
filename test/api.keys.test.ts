/**
 * API contract — keys and partitions (API.md "Keys and partitions").
 * partition = fnv1a32(utf8Bytes(String(key))) % partitions; number keys are their decimal string;
 * anything else is a TypeError with nothing enqueued.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRuntime, fnv1a32 } from 'ringmaster';
import { fixture, fnvBytes, INVALID_KEYS, keyForPartition, prng, refHash } from './helpers/api.js';

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

describe('fnv1a32', () => {
  test('published FNV-1a 32 test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('b')).toBe(0xe70c2de5);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(fnv1a32('foo')).toBe(0xa9f37ed7);
    expect(fnvBytes(Buffer.from('foobar'))).toBe(0xbf9cf968); // the reference itself is right
  });

  test('returns an unsigned 32-bit integer', () => {
    const next = prng(7);
    for (let i = 0; i < 500; i++) {
      const h = fnv1a32(`key-${Math.floor(next() * 1e9)}`);
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 32);
    }
  });

  test.each([
    ['latin-1', 'é'],
    ['2-byte edge U+007F/U+0080', '\u007f\u0080'],
    ['2-byte top U+07FF', '\u07ff'],
    ['3-byte start U+0800', '\u0800'],
    ['3-byte top U+FFFF', '\uffff'],
    ['U+FFFD itself', '\ufffd'],
    ['German', 'Straße'],
    ['CJK', '中文キー'],
    ['euro', '€100'],
    ['emoji (surrogate pair)', '😀'],
    ['emoji in text', 'a😀b'],
    ['flag (two pairs)', '🇫🇷'],
    ['ZWJ family', '👨‍👩‍👧'],
    ['U+10000', '\u{10000}'],
    ['U+10FFFF', '\u{10ffff}'],
    ['combining mark', 'e\u0301'],
    ['NUL inside', 'a\u0000b'],
  ])('matches FNV-1a over Buffer.from(str, "utf8") bytes: %s', (_label, text) => {
    expect(fnv1a32(text)).toBe(fnvBytes(Buffer.from(text, 'utf8')));
  });

  test.each([
    ['lone high surrogate', '\ud800'],
    ['lone low surrogate', '\udc00'],
    ['lone high inside text', 'a\ud83db'],
    ['lone high at end', 'abc\ud83d'],
    ['reversed pair', '\ude00\ud83d'],
    ['high, then a valid pair', '\ud800\ud83d\ude00'],
    ['two lone highs', '\ud800\ud800'],
  ])('lone surrogates hash like TextEncoder (U+FFFD): %s', (_label, text) => {
    const viaEncoder = fnvBytes(new TextEncoder().encode(text));
    expect(fnv1a32(text)).toBe(viaEncoder);
    expect(fnv1a32(text)).toBe(fnvBytes(Buffer.from(text, 'utf8')));
  });

  test('random UTF-16 strings (any code units, lone surrogates included) match the byte-loop reference', () => {
    const next = prng(12345);
    const pools = [
      () => 0x20 + Math.floor(next() * 0x5f), // ASCII
      () => 0x80 + Math.floor(next() * 0x780), // 2-byte
      () => 0x800 + Math.floor(next() * 0xf800), // BMP incl. surrogates
      () => 0xd800 + Math.floor(next() * 0x800), // surrogates only
    ];
    for (let n = 0; n < 3000; n++) {
      const len = Math.floor(next() * 24);
      let s = '';
      for (let i = 0; i < len; i++) s += String.fromCharCode(pools[Math.floor(next() * pools.length)]!());
      if (next() < 0.3) s += String.fromCodePoint(0x10000 + Math.floor(next() * 0xfffff));
      expect(fnv1a32(s), JSON.stringify(s)).toBe(fnvBytes(new TextEncoder().encode(s)));
    }
  });
});

describe('partitions of keys', () => {
  let rt: Runtime;
  let rt7: Runtime;
  let rtMax: Runtime;

  beforeAll(async () => {
    [rt, rt7, rtMax] = await Promise.all([
      createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, partitions: 64 }),
      createRuntime({ actor: fixture('api-probe.mjs'), threads: 1, partitions: 7 }),
      createRuntime({ actor: fixture('api-probe.mjs'), threads: 1, partitions: 65536 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([rt?.close(), rt7?.close(), rtMax?.close()]);
  });

  const KEYS: Array<string | number> = [
    'a', 'user-1', 'user-9999', 'Straße', '中文', '😀', 'a😀b', '\u{10ffff}', ' ', '0', '-1',
    0, 1, 42, -42, 123456789, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER,
  ];

  test('rt.partitionOf(key) === fnv1a32(utf8(String(key))) % partitions', () => {
    for (const key of KEYS) {
      expect(rt.partitionOf(key), String(key)).toBe(refHash(key) % 64);
      expect(rt7.partitionOf(key), String(key)).toBe(refHash(key) % 7);
      expect(rtMax.partitionOf(key), String(key)).toBe(refHash(key) % 65536);
    }
    const next = prng(99);
    for (let i = 0; i < 2000; i++) {
      const key = `k${Math.floor(next() * 1e12)}`;
      expect(rt7.partitionOf(key)).toBe(refHash(key) % 7);
      expect(rtMax.partitionOf(key)).toBe(refHash(key) % 65536);
    }
  });

  test('the actor sees the same partition, on the thread threadOf names; ctx.key is String(key)', async () => {
    for (const key of KEYS) {
      const info = await rt.ask<any>(key, { op: 'info' });
      const p = refHash(key) % 64;
      expect(info.partition, String(key)).toBe(p);
      expect(info.thread, String(key)).toBe(rt.threadOf(p));
      expect(info.key).toBe(String(key));
      expect(info.keyType).toBe('string');
    }
  });

  test('high partition numbers (partitions: 65536) reach the actor intact', async () => {
    for (const p of [65535, 65534, 40000, 32768, 32767, 256, 255, 0]) {
      const key = keyForPartition(p, 65536, 'hp');
      expect(rtMax.partitionOf(key)).toBe(p);
      const info = await rtMax.ask<any>(key, { op: 'info' });
      expect(info.partition).toBe(p);
      expect(info.key).toBe(key);
    }
  });

  test('a number key is the same key as its decimal string (shared actor and state)', async () => {
    // (keys not used by other tests of this file)
    const pairs: Array<[number, string]> = [[4242, '4242'], [7, '7'], [-7, '-7'], [9007199254740990, '9007199254740990']];
    for (const [n, s] of pairs) {
      expect(rt.partitionOf(n)).toBe(rt.partitionOf(s));
      await rt.send(n, { op: 'add', n: 1 });
      await rt.send(s, { op: 'add', n: 10 });
      expect(rt.trySend(n, { op: 'add', n: 100 })).toBe(true);
      const viaNumber = await rt.ask<any>(n, { op: 'info' });
      const viaString = await rt.ask<any>(s, { op: 'info' });
      expect(viaNumber.key).toBe(s);
      expect(viaString.key).toBe(s);
      expect(viaNumber.sum).toBe(111);
      expect(viaString.sum).toBe(111);
      expect(viaString.total).toBe(5); // 3 adds + 2 infos, one actor
      expect(viaString.initCalls).toBe(1);
    }
    // -0 is the safe integer 0: its string form is '0', the key 0.
    const zeroBefore = await rt.ask<any>(0, { op: 'info' });
    const zero = await rt.ask<any>(-0, { op: 'info' });
    expect(zero.key).toBe('0');
    expect(zero.total).toBe(zeroBefore.total + 1);
    // '042' is a different string, hence a different key.
    const other = await rt.ask<any>('042', { op: 'info' });
    expect(other.key).toBe('042');
    expect(other.sum).toBe(0);
  });

  test('distinct keys keep distinct actors, even when they share a partition', async () => {
    const a = keyForPartition(5, 64, 'same-a');
    const b = keyForPartition(5, 64, 'same-b');
    await rt.send(a, { op: 'add', n: 3 });
    await rt.send(b, { op: 'add', n: 4 });
    expect((await rt.ask<any>(a, { op: 'info' })).sum).toBe(3);
    expect((await rt.ask<any>(b, { op: 'info' })).sum).toBe(4);
  });

  test('keys with the same FNV-1a hash keep distinct actors: same length, different lengths, and past the first 12 bytes', async () => {
    // Found by a birthday search over FNV-1a 32; the worker finds actors by hash, then compares keys.
    const pairs: Array<[string, string]> = [['u043zx', 'u0bpad'], ['k32728', 'k261234'], ['tenant-00042/user-132789', 'tenant-00042/user-729192']];
    for (const [a, b] of pairs) {
      expect(fnv1a32(a)).toBe(fnv1a32(b));
      expect(rt.partitionOf(a)).toBe(rt.partitionOf(b)); // so also the same thread
      for (let i = 0; i < 20; i++) {
        await rt.send(a, { op: 'add', n: 1 });
        await rt.send(b, { op: 'add', n: 100 });
      }
      const ia = await rt.ask<any>(a, { op: 'info' });
      const ib = await rt.ask<any>(b, { op: 'info' });
      expect([ia.key, ia.sum, ia.initCalls]).toStrictEqual([a, 20, 1]);
      expect([ib.key, ib.sum, ib.initCalls]).toStrictEqual([b, 2000, 1]);
    }
  });

  test('ctx.key is String(key) for keys with lone surrogates, and such keys do not share an actor', async () => {
    // Two different strings whose UTF-8 encodings are equal (both lone surrogates become U+FFFD):
    // same partition by the contract's formula, but still two different keys.
    const k1 = 'lone-\ud800';
    const k2 = 'lone-\udc00';
    expect(rt.partitionOf(k1)).toBe(rt.partitionOf(k2));
    await rt.send(k1, { op: 'add', n: 1 });
    await rt.send(k2, { op: 'add', n: 2 });
    const i1 = await rt.ask<any>(k1, { op: 'info' });
    const i2 = await rt.ask<any>(k2, { op: 'info' });
    expect(i1.key).toBe(k1);
    expect(i2.key).toBe(k2);
    expect(i1.sum).toBe(1);
    expect(i2.sum).toBe(2);
  });

  test('keys of every length and encoding keep their actor and state across moves between threads', async () => {
    // Short keys are matched by the words inlined in the actor, longer ones by their bytes too;
    // a move carries the key as a string and the new thread rebuilds both.
    // (Keys no other test here uses: the runtime is shared.)
    const keys = ['m', 'mv-456789012', 'mv-4567890123', 'mv-'.repeat(10), 'mv-Straße-über', 'mv-\ud800', 'mv-\udc00', 'mv-\ud800-longer-than-12', 'mv-😀'];
    const partitions = [...new Set(keys.map((k) => rt.partitionOf(k)))];
    const before = partitions.map((p) => rt.threadOf(p));
    for (const key of keys) await rt.send(key, { op: 'add', n: 1 });
    for (const [round, n] of [[1, 10], [2, 100]] as const) {
      for (const p of partitions) await rt.rebalance(p, 1 - rt.threadOf(p));
      for (const key of keys) await rt.send(key, { op: 'add', n });
      for (const key of keys) {
        const info = await rt.ask<any>(key, { op: 'info' });
        expect([info.key, info.sum, info.thread], `${JSON.stringify(key)} after move ${round}`).toStrictEqual([key, round === 1 ? 11 : 111, rt.threadOf(rt.partitionOf(key))]);
      }
    }
    expect(partitions.map((p) => rt.threadOf(p))).toStrictEqual(before); // moved twice: back home
  });

  describe('invalid keys are a TypeError and nothing is enqueued', () => {
    test.each(INVALID_KEYS)('%s', async (_label, key) => {
      const before = rt.stats();
      expect(() => rt.trySend(key as any, { op: 'add' })).toThrow(TypeError);
      let sendPromise!: Promise<void>;
      let askPromise!: Promise<unknown>;
      // send and ask report errors by rejecting, not by throwing synchronously.
      expect(() => {
        sendPromise = rt.send(key as any, { op: 'add' });
      }).not.toThrow();
      expect(() => {
        askPromise = rt.ask(key as any, { op: 'info' });
      }).not.toThrow();
      await expect(sendPromise).rejects.toThrow(TypeError);
      await expect(askPromise).rejects.toThrow(TypeError);
      expect(() => rt.partitionOf(key as any)).toThrow(TypeError);
      expect(rt.stats().sent).toBe(before.sent);
      await rt.drain();
      const after = rt.stats();
      expect(after.sent).toBe(before.sent);
      expect(after.processed).toBe(before.processed);
      expect(after.processed).toBe(after.sent);
    });
  });
});
