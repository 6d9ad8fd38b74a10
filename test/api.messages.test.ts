/**
 * API contract — messages have structured-clone meaning: every listed type round-trips through
 * ask() as the same type and value (checked inside the worker too); functions and symbols anywhere
 * are a TypeError at send time with nothing enqueued; a message too large for the ring is a
 * RangeError with nothing enqueued while the largest that fits works; Buffers sent back to back
 * keep their own contents.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { fixture, fnvBytes, prng } from './helpers/api.js';
import { explain, runScenario } from './helpers/child.js';
// @ts-ignore plain .mjs fixture without types
import { describe as shapeOf } from './fixtures/api-describe.mjs';

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

class Point {
  x: number;
  y: number;
  constructor(x: number, y: number) {
    this.x = x;
    this.y = y;
  }
  get length(): number {
    return Math.hypot(this.x, this.y);
  }
  norm(): number {
    return this.length;
  }
}

const pooled = Buffer.from('pooled bytes'); // a small Buffer: a view into Node's shared pool, byteOffset != 0
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

const ROUND_TRIP: Array<[string, unknown]> = [
  ['plain object', { a: 1, b: 'x', c: { d: [1, 2, { e: null }] } }],
  ['empty object', {}],
  ['object with many keys', Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]))],
  ['array', [1, 'a', null, true, false, 2.5]],
  ['empty array', []],
  ['nested arrays', [[1, [2, [3, [4, []]]]]]],
  ['string', 'hello'],
  ['empty string', ''],
  ['unicode string', 'Straße · 中文 · キー · עברית · 😀 · 🇫🇷 · 👨‍👩‍👧 · e\u0301 · \u{10ffff}'],
  ['string with NUL', 'a\u0000b'],
  ['long string', 'abcdefghij'.repeat(5000)],
  ['integer', 42],
  ['negative integer', -42],
  ['zero', 0],
  ['float', 0.1],
  ['numbers', [1.5, -1.5, 2 ** 31, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 60, 1e308, 5e-324, Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON]],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['NaN and infinities nested', { n: NaN, i: Infinity, m: -Infinity, a: [NaN, Infinity, -Infinity] }],
  ['bigint small', 5n],
  ['bigint zero', 0n],
  ['bigint negative', -5n],
  ['bigint 2^63-1', 2n ** 63n - 1n],
  ['bigint 2^63', 2n ** 63n],
  ['bigint -2^63', -(2n ** 63n)],
  ['bigint 2^64-1', 2n ** 64n - 1n],
  ['bigint 2^64', 2n ** 64n],
  ['bigint > 2^64', 2n ** 100n + 12345n],
  ['bigint < -2^64', -(10n ** 40n) - 7n],
  ['bigints nested', { a: [1n, 2n ** 70n], b: { c: -(2n ** 65n) } }],
  ['true', true],
  ['false', false],
  ['null', null],
  ['undefined', undefined],
  ['undefined in object and array', { a: undefined, b: [undefined, 1, undefined], c: 1 }],
  // eslint-disable-next-line no-sparse-arrays
  ['array with holes', [1, , 3, , undefined]],
  ['holes nested', { list: new Array(3), more: [[, 'x']] }],
  ['own __proto__ key', JSON.parse('{"__proto__": {"x": 1}, "a": 2}')],
  ['own __proto__ key nested', { inner: JSON.parse('{"a": 1, "__proto__": [1]}') }],
  ['boxed primitives', [new Number(1.5), new Number(-0), new String('boxed'), new Boolean(false), Object(7n)]],
  ['boxed primitive in an object', { n: new Number(3), s: new String('') }],
  ['Date', new Date(1_700_000_000_123)],
  ['Date at epoch', new Date(0)],
  ['Date before epoch', new Date(-86_400_001)],
  ['Dates nested', { when: [new Date(1), new Date(2_000_000_000_000)] }],
  ['Map', new Map([['a', 1], ['b', 2]])],
  ['empty Map', new Map()],
  ['Map with object values', new Map([['u1', { name: 'Ann', tags: ['x'] }], ['u2', { name: 'Bob', tags: [] }]])],
  ['Map with non-string keys', new Map<unknown, unknown>([[1, 'one'], [true, 'yes'], [null, 'nil'], [2.5, 'float'], [10n, 'big'], [{ k: 1 }, 'object key'], [[1, 2], 'array key']])],
  ['nested Maps', new Map([['outer', new Map([['inner', new Map([[1, { deep: true }]])]])]])],
  ['Map inside object and array', { m: new Map([[1, 2]]), list: [new Map([['x', [1, 2]]])] }],
  ['Set', new Set([1, 'a', 2.5])],
  ['empty Set', new Set()],
  ['Set of objects', new Set([{ a: 1 }, { b: [2] }])],
  ['Set with a Map', new Set([new Map([[1, new Set([2])]])])],
  ['RegExp', /abc/],
  ['RegExp with flags', /a+.b\s/gimsuy],
  ['RegExp with d flag', /x(?<name>y)/d],
  ['RegExp unicode', /\u{1F600}+/u],
  ['Int8Array', new Int8Array([-128, -1, 0, 1, 127])],
  ['Uint8Array', new Uint8Array([0, 1, 128, 255])],
  ['Uint8ClampedArray', new Uint8ClampedArray([0, 128, 255])],
  ['Int16Array', new Int16Array([-32768, -1, 0, 32767])],
  ['Uint16Array', new Uint16Array([0, 1, 65535])],
  ['Int32Array', new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1])],
  ['Uint32Array', new Uint32Array([0, 1, 2 ** 32 - 1])],
  ['Float32Array', new Float32Array([0, 1.5, -2.25, Infinity, NaN])],
  ['Float64Array', new Float64Array([0, Math.PI, -1e300, -Infinity, NaN])],
  ['BigInt64Array', new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n])],
  ['BigUint64Array', new BigUint64Array([0n, 1n, 2n ** 64n - 1n])],
  ['empty Float64Array', new Float64Array(0)],
  ['Float64Array view at an offset', new Float64Array(new ArrayBuffer(64), 8, 3).fill(1.25)],
  ['Int16Array odd offset view', new Int16Array(new Uint8Array(22).buffer, 2, 5).fill(-7)],
  ['Uint8Array subarray', new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 4)],
  ['ArrayBuffer', new Uint8Array([1, 2, 3, 250]).buffer],
  ['empty ArrayBuffer', new ArrayBuffer(0)],
  ['Buffer', Buffer.from('hi there')],
  ['empty Buffer', Buffer.alloc(0)],
  ['Buffer with every byte value', allBytes],
  ['pooled Buffer (byteOffset != 0)', pooled],
  ['Buffers nested', { a: [Buffer.from('x'), Buffer.from([0, 255])], m: new Map([[1, Buffer.from('y')]]) }],
  [
    'nested combination',
    {
      users: [
        {
          id: 12345678901234567890n,
          name: 'Zoë',
          joined: new Date(1_600_000_000_000),
          tags: new Set(['a', 'b']),
          scores: new Map<unknown, unknown>([[1, { re: /x/g, f: new Float32Array([0.5]) }], ['two', [NaN, undefined]]]),
          avatar: Buffer.from([1, 2, 3]),
          raw: new Uint16Array([7, 8]).buffer,
          nothing: null,
          maybe: undefined,
        },
      ],
      total: Infinity,
      ok: true,
    },
  ],
  ['deep nesting (100 levels)', (() => {
    let v: any = { leaf: [1n, new Date(5)] };
    for (let i = 0; i < 100; i++) v = { i, v };
    return v;
  })()],
  ['deep nesting with a Map at the bottom', (() => {
    let v: any = new Map([[1, { x: 1 }]]);
    for (let i = 0; i < 50; i++) v = [v];
    return v;
  })()],
];

describe('messages', () => {
  let echo: Runtime;
  beforeAll(async () => {
    echo = await createRuntime({ actor: fixture('api-echo.mjs'), threads: 2 });
  });
  afterAll(async () => {
    await echo?.close();
  });

  describe('round-trip through ask with the same types and values (also checked in the worker)', () => {
    test.each(ROUND_TRIP)('%s', async (_label, value) => {
      const reply = await echo.ask<any>('echo', value);
      expect(reply.shape).toEqual(shapeOf(value)); // as the worker saw it
      expect(shapeOf(reply.value)).toEqual(shapeOf(value)); // as it came back
      expect(reply.value).toStrictEqual(value);
    });

    test('the same, nested inside one object sent with send() and read back', async () => {
      const all = Object.fromEntries(ROUND_TRIP.map(([label, value]) => [label, value]));
      const reply = await echo.ask<any>('echo-all', all);
      expect(reply.shape).toEqual(shapeOf(all));
      expect(reply.value).toStrictEqual(all);
    });
  });

  test('a RegExp keeps source and flags', async () => {
    const re = /a(b)c/gimsuy;
    const reply = await echo.ask<any>('echo', re);
    expect(reply.value).toBeInstanceOf(RegExp);
    expect(reply.value.source).toBe(re.source);
    expect(reply.value.flags).toBe(re.flags);
  });

  test('an invalid Date arrives as an invalid Date', async () => {
    const reply = await echo.ask<any>('echo', { d: new Date(NaN) });
    expect(reply.shape).toEqual({ Object: { d: 'Date' } });
    expect(reply.value.d).toBeInstanceOf(Date);
    expect(Number.isNaN(reply.value.d.getTime())).toBe(true);
  });

  test('-0 arrives as -0 (structured clone keeps the sign of zero)', async () => {
    const reply = await echo.ask<any>('echo', { z: -0, a: [-0] });
    expect(reply.shape).toEqual({ Object: { z: 'number:-0', a: { Array: ['number:-0'] } } });
    expect(Object.is(reply.value.z, -0)).toBe(true);
    expect(Object.is(reply.value.a[0], -0)).toBe(true);
  });

  test('strings with lone surrogates arrive unchanged (structured clone keeps UTF-16 code units)', async () => {
    const s = 'x\ud800y\udc00z\ud83d';
    const reply = await echo.ask<any>('echo', { s });
    expect(reply.value.s).toBe(s);
  });

  test('class instances arrive as plain objects with their own enumerable data', async () => {
    const reply = await echo.ask<any>('echo', { p: new Point(3, 4), list: [new Point(1, 2)] });
    expect(reply.shape).toEqual({
      Object: { p: { Object: { x: 'number', y: 'number' } }, list: { Array: [{ Object: { x: 'number', y: 'number' } }] } },
    });
    expect(reply.value).toStrictEqual({ p: { x: 3, y: 4 }, list: [{ x: 1, y: 2 }] });
    expect(Object.getPrototypeOf(reply.value.p)).toBe(Object.prototype);
  });

  test('an object with a null prototype arrives as a plain object', async () => {
    const o = Object.assign(Object.create(null), { a: 1, b: [2] });
    const reply = await echo.ask<any>('echo', o);
    expect(reply.value).toEqual({ a: 1, b: [2] });
  });

  // Run in a child process: a runtime that loses such a message can hang drain()/close().
  test.concurrent.each([
    ['an object with a cycle', 'cyclic'],
    ['one object referenced twice, in a message holding a Map', 'shared-with-map'],
    ['one object referenced twice', 'shared-plain'],
  ])('object graphs keep their shape, as structured clone does: %s', async (_label, variant) => {
    const outcome = await runScenario('graph', variant, { timeoutMs: 30_000 });
    expect(outcome.timedOut, explain(outcome)).toBe(false);
    const r = outcome.result;
    expect(r, explain(outcome)).toBeDefined();
    expect(r.ask, explain(outcome)).toBe('resolved');
    expect(r.sharedValue).toEqual({ s: 1 });
    expect(r.sharedKept).toBe(true);
    if (variant === 'cyclic') expect(r.selfKept).toBe(true);
    if (variant === 'shared-with-map') expect(r.mapKept).toBe(true);
    expect(r.after).toBe('still alive');
    expect(r.close).toBe('closed');
    expect(outcome.code, explain(outcome)).toBe(0);
  });

  describe('functions and symbols anywhere in a message: TypeError at send time, nothing enqueued', () => {
    const fn = () => 1;
    const sym = Symbol('s');
    const deepFn = (() => {
      let v: any = { f: fn };
      for (let i = 0; i < 40; i++) v = { v };
      return v;
    })();
    const REFUSED: Array<[string, unknown]> = [
      ['function at top level', fn],
      ['function in an object', { a: 1, f: fn }],
      ['method on a plain object', { m() {} }],
      ['function in an array', [1, fn]],
      ['function in a nested object', { a: { b: { c: [0, { fn }] } } }],
      ['function 40 levels deep', deepFn],
      ['function as a Map value', new Map([['k', fn]])],
      ['function as a Map key', new Map([[fn, 1]])],
      ['function in a Set', new Set([1, fn])],
      ['function in a Map in an array', [new Map([[1, { f: fn }]])]],
      ['function as an own property of a class instance', Object.assign(new Point(1, 2), { cb: fn })],
      ['class (constructor function)', { cls: Point }],
      ['symbol at top level', sym],
      ['symbol in an object', { s: sym }],
      ['symbol in an array', ['a', sym]],
      ['symbol as a Map value', new Map([['k', sym]])],
      ['symbol as a Map key', new Map([[sym, 1]])],
      ['symbol in a Set', new Set([sym])],
      ['a Symbol object', { boxed: Object(sym) }],
      ['symbol deep in a Map in a Set', new Set([new Map([[1, [{ s: sym }]]])])],
    ];

    let rt: Runtime;
    beforeAll(async () => {
      rt = await createRuntime({ actor: fixture('api-bufsum.mjs'), threads: 1 });
    });
    afterAll(async () => {
      await rt?.close();
    });

    test.each(REFUSED)('%s', async (_label, msg) => {
      const key = 'refused';
      const before = rt.stats();
      expect(() => rt.trySend(key, msg)).toThrow(TypeError);
      let sent!: Promise<void>;
      let asked!: Promise<unknown>;
      expect(() => {
        sent = rt.send(key, msg);
        asked = rt.ask(key, msg);
      }).not.toThrow();
      await expect(sent).rejects.toThrow(TypeError);
      await expect(asked).rejects.toThrow(TypeError);
      expect(rt.stats().sent).toBe(before.sent);
      await rt.drain();
      expect(rt.stats().processed).toBe(before.processed);
      expect(await rt.ask(key, { op: 'count' })).toBe(0);
    });
  });

  describe('other values structured clone refuses: TypeError at send time, nothing enqueued', () => {
    let rt: Runtime;
    beforeAll(async () => {
      rt = await createRuntime({ actor: fixture('api-bufsum.mjs'), threads: 1 });
    });
    afterAll(async () => {
      await rt?.close();
    });
    test.each([
      ['WeakMap', { w: new WeakMap() }],
      ['WeakSet', { w: new WeakSet() }],
      ['Promise', { p: Promise.resolve(1) }],
    ])('%s', async (_label, msg) => {
      expect(() => structuredClone(msg)).toThrow(); // the reference behaviour
      const before = rt.stats();
      expect(() => rt.trySend('refused-2', msg)).toThrow(TypeError);
      await expect(rt.send('refused-2', msg)).rejects.toThrow(TypeError);
      await expect(rt.ask('refused-2', msg)).rejects.toThrow(TypeError);
      await rt.drain();
      expect(rt.stats().sent).toBe(before.sent);
      expect(rt.stats().processed).toBe(before.processed);
    });
  });

  describe('message size', () => {
    let rt: Runtime;
    beforeAll(async () => {
      rt = await createRuntime({ actor: fixture('api-bufsum.mjs'), threads: 1, ringBytes: 4096 });
    });
    afterAll(async () => {
      await rt?.close();
    });

    /** true when a string message of n chars is accepted, false on RangeError. */
    async function fits(key: string, n: number): Promise<boolean> {
      try {
        await rt.send(key, 'x'.repeat(n));
        return true;
      } catch (e) {
        expect(e).toBeInstanceOf(RangeError);
        return false;
      }
    }

    test('the largest message that fits works; one byte more is a RangeError from trySend/send/ask, nothing enqueued', async () => {
      const key = 'size';
      let lo = 0; // fits
      let hi = 1 << 16; // does not fit
      expect(await fits(key, lo)).toBe(true);
      expect(await fits(key, hi)).toBe(false);
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (await fits(key, mid)) lo = mid;
        else hi = mid;
      }
      const largest = lo;
      // A sane limit for a 4 KiB ring (not, say, a few bytes).
      expect(largest).toBeGreaterThanOrEqual(1024);
      await rt.drain();
      const countBefore = await rt.ask<number>(key, { op: 'count' });
      const before = rt.stats();

      const big = 'y'.repeat(largest);
      expect(rt.trySend(key, big)).toBe(true);
      await rt.send(key, big);
      const tooBig = 'z'.repeat(largest + 1);
      expect(() => rt.trySend(key, tooBig)).toThrow(RangeError);
      await expect(rt.send(key, tooBig)).rejects.toThrow(RangeError);
      await expect(rt.ask(key, tooBig)).rejects.toThrow(RangeError);
      await rt.drain();
      const after = rt.stats();
      expect(after.sent).toBe(before.sent + 2);
      expect(after.processed).toBe(after.sent);
      expect(await rt.ask(key, { op: 'count' })).toBe(countBefore + 2);
      const report = await rt.ask<any[]>(key, { op: 'report' });
      const last = report.slice(-2);
      for (const r of last) {
        expect(r.length).toBe(largest);
        expect(r.sum).toBe(fnvBytes(Buffer.from(big)));
      }
    });

    test('a message far larger than the ring is a RangeError, nothing enqueued', async () => {
      const before = rt.stats();
      const huge = { data: Buffer.alloc(1 << 20, 7) };
      expect(() => rt.trySend('huge', huge)).toThrow(RangeError);
      await expect(rt.send('huge', huge)).rejects.toThrow(RangeError);
      await expect(rt.ask('huge', huge)).rejects.toThrow(RangeError);
      await rt.drain();
      expect(rt.stats().sent).toBe(before.sent);
      expect(rt.stats().processed).toBe(before.processed);
      expect(await rt.ask('huge', { op: 'count' })).toBe(0);
    });

    test('a large message on the default ring arrives intact', async () => {
      const rt2 = await createRuntime({ actor: fixture('api-bufsum.mjs'), threads: 1 });
      try {
        const data = Buffer.alloc(200_000);
        const rnd = prng(5);
        for (let i = 0; i < data.length; i++) data[i] = Math.floor(rnd() * 256);
        await rt2.send('large', { i: 0, data });
        const [r] = await rt2.ask<any[]>('large', { op: 'report' });
        expect(r).toMatchObject({ i: 0, isBuffer: true, length: data.length, sum: fnvBytes(data) });
      } finally {
        await rt2.close();
      }
    });
  });

  describe('Buffers sent back to back keep their own contents', () => {
    function makeBuffers(n: number, seed: number): Buffer[] {
      const rnd = prng(seed);
      return Array.from({ length: n }, (_, i) => {
        const b = Buffer.alloc(1 + Math.floor(rnd() * 300));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
        b[0] = i & 0xff;
        return b;
      });
    }

    async function check(rt: Runtime, buffers: Buffer[], keys: string[]): Promise<void> {
      const perKey = new Map<string, Array<{ i: number; sum: number; length: number }>>();
      for (let i = 0; i < buffers.length; i++) {
        const key = keys[i % keys.length]!;
        if (!perKey.has(key)) perKey.set(key, []);
        perKey.get(key)!.push({ i, sum: fnvBytes(buffers[i]!), length: buffers[i]!.length });
      }
      await rt.drain();
      for (const [key, expected] of perKey) {
        const report = await rt.ask<any[]>(key, { op: 'report' });
        expect(report.length, key).toBe(expected.length);
        report.forEach((r, n) => {
          expect(r.isBuffer, `${key} #${n}`).toBe(true);
          expect({ i: r.i, sum: r.sum, length: r.length }, `${key} #${n}`).toEqual(expected[n]);
        });
      }
    }

    test('1000 distinct Buffers through trySend/send on the default ring', async () => {
      const rt = await createRuntime({ actor: fixture('api-bufsum.mjs'), threads: 2 });
      try {
        const buffers = makeBuffers(1000, 11);
        const keys = ['b0', 'b1', 'b2', 'b3', 'b4'];
        const sends: Promise<void>[] = [];
        buffers.forEach((data, i) => {
          const key = keys[i % keys.length]!;
          if (i % 2 === 0) expect(rt.trySend(key, { i, data })).toBe(true);
          else sends.push(rt.send(key, { i, data }));
        });
        await Promise.all(sends);
        await check(rt, buffers, keys);
      } finally {
        await rt.close();
      }
    });

    test('1000 distinct Buffers through un-awaited send()s that wait for space in a 4 KiB ring', async () => {
      const rt = await createRuntime({ actor: fixture('api-bufsum.mjs'), threads: 2, ringBytes: 4096 });
      try {
        const buffers = makeBuffers(1000, 22);
        const keys = ['w0', 'w1', 'w2'];
        const sends = buffers.map((data, i) => rt.send(keys[i % keys.length]!, { i, data }));
        await Promise.all(sends);
        await check(rt, buffers, keys);
      } finally {
        await rt.close();
      }
    });

    test('a message is captured when send() is called: mutating the Buffer afterwards does not change what arrives', async () => {
      const rt = await createRuntime({ actor: fixture('api-bufsum.mjs'), threads: 1, ringBytes: 4096 });
      try {
        const buf = Buffer.alloc(200);
        const sends: Promise<void>[] = [];
        for (let i = 0; i < 300; i++) {
          buf.fill(i & 0xff);
          sends.push(rt.send('mut', { i, data: buf }));
        }
        buf.fill(0xee);
        await Promise.all(sends);
        await rt.drain();
        const report = await rt.ask<any[]>('mut', { op: 'report' });
        expect(report.length).toBe(300);
        report.forEach((r, i) => expect(r.sum, `#${i}`).toBe(fnvBytes(Buffer.alloc(200, i & 0xff))));
      } finally {
        await rt.close();
      }
    });
  });
});
