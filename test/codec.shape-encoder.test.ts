/**
 * The shape encoder (runtime/shape-encoder.ts), the main thread's fast path, and its reader
 * (runtime/shape-decoder.ts): what it writes decodes, on a worker's codec that only has the
 * shared registry, straight from shared memory, to exactly what structured clone gives, and
 * msgpackr reads the same bytes to the same value; it takes the messages it claims to (so the
 * runtime really uses it for W1) and hands everything else to the general path, which then keeps
 * every refusal and every codec choice it had.
 */
import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CODEC_RECORDS, CODEC_SHAPES, CODEC_V8, MessageCodec } from '../dist/runtime/codec.js';
import { ShapeEncoder } from '../dist/runtime/shape-encoder.js';
import { SharedStructures } from '../dist/runtime/structures.js';

const structuredCopy = (value: unknown): unknown => deserialize(serialize(value));

interface Pair {
  writer: MessageCodec;
  /** A worker's codec: reads CODEC_SHAPES frames with ShapeDecoder. */
  reader: MessageCodec;
  /** Another worker's codec, told the same bytes are plain CODEC_RECORDS: msgpackr reads them. */
  msgpackr: MessageCodec;
  structures: SharedStructures;
}

function pair(): Pair {
  const structures = new SharedStructures();
  const worker = () => new MessageCodec({ structures: new SharedStructures(structures.sab) });
  return { structures, writer: new MessageCodec({ structures, writeRecords: true }), reader: worker(), msgpackr: worker() };
}

/**
 * Encodes on the writer and decodes on the reader, as a frame would travel (from a ring-like
 * SharedArrayBuffer, at an odd offset); also says which codec and whether the fast path wrote it.
 * What the fast path wrote must read the same through msgpackr.
 */
function travel(p: Pair, value: unknown): { value: unknown; codec: number; fast: boolean } {
  const buffer = p.writer.encode(value);
  const length = p.writer.lastEnd - p.writer.lastStart;
  const shared = Buffer.from(new SharedArrayBuffer(length + 13));
  buffer.copy(shared, 13, p.writer.lastStart, p.writer.lastEnd);
  const codec = p.writer.lastCodec;
  const got = p.reader.decode(shared, 13, length, codec);
  if (codec === CODEC_SHAPES) expect(p.msgpackr.decode(shared, 13, length, CODEC_RECORDS)).toStrictEqual(got);
  return { value: got, codec, fast: codec === CODEC_SHAPES };
}

/** Sends `value` twice: the first registers its shapes (general path), the second may take the fast path. */
function second(p: Pair, value: unknown): { value: unknown; codec: number; fast: boolean } {
  travel(p, value);
  return travel(p, value);
}

const INTEGERS = [
  0, 1, 0x1f, 0x20, 0x3f, 0x40, 0x5f, 0x60, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 53 - 1,
  -1, -31, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1),
];
const DOUBLES = [0.5, -0.25, 1e-300, 1.7976931348623157e308, 5e-324, Math.PI, NaN, Infinity, -Infinity];

describe('shape encoder', () => {
  test('numbers at every format boundary, and doubles, arrive exactly, through the fast path', () => {
    const p = pair();
    for (const n of [...INTEGERS, ...DOUBLES]) {
      const got = second(p, { n, list: [n, n] });
      expect(got.fast).toBe(true);
      expect(got.value).toStrictEqual({ n, list: [n, n] });
    }
  });

  test('strings of every header size, ASCII and not, arrive exactly; a lone surrogate goes through node:v8', () => {
    const p = pair();
    // [string, whether the fast path takes it]: a string may take header + 3 bytes per UTF-16 unit
    // (ASCII under 256 units: exactly its length) of the 64 KiB buffer.
    const strings: [string, boolean][] = [
      ['', true], ['a', true], ['x'.repeat(31), true], ['x'.repeat(32), true], ['x'.repeat(255), true], ['x'.repeat(256), true],
      ['x'.repeat(21_000), true], ['x'.repeat(70_000), false], ['é', true], ['é'.repeat(10), true], ['é'.repeat(200), true],
      ['€'.repeat(20_000), true], ['€'.repeat(30_000), false], ['😀 mixed ascii', true], ['ascii then é', true],
    ];
    for (const [s, fast] of strings) {
      const got = second(p, { s });
      expect(got.fast, `${s.length} units`).toBe(fast);
      expect(got.value).toStrictEqual({ s });
    }
    const lone = second(p, { s: 'a\ud800b' });
    expect(lone.fast).toBe(false);
    expect(lone.codec).toBe(CODEC_V8);
    expect(lone.value).toStrictEqual({ s: 'a\ud800b' });
  });

  test('takes W1 messages after the first, nested shapes and arrays too', () => {
    const p = pair();
    const w1 = (i: number) => ({ key: `user-${i % 10}`, seq: i, amount: (i % 100) / 4, tags: ['a', 'b'] });
    expect(travel(p, w1(0)).fast).toBe(false); // a new shape: the general path registers it
    for (let i = 1; i < 100; i++) {
      const got = travel(p, w1(i));
      expect(got.fast).toBe(true);
      expect(got.value).toStrictEqual(w1(i));
    }
    const nested = { a: { b: { c: [1, { d: null, e: true, f: false }], g: [] } }, h: {} };
    const got = second(p, nested);
    expect(got.fast).toBe(true);
    expect(got.value).toStrictEqual(nested);
    const dictionary = Object.assign(Object.create(null) as object, { a: 1, b: 2 }); // arrives as a plain object
    const fromDictionary = second(p, dictionary);
    expect(fromDictionary.fast).toBe(true);
    expect(fromDictionary.value).toStrictEqual({ a: 1, b: 2 });
    expect(Object.getPrototypeOf(fromDictionary.value)).toBe(Object.prototype);
  });

  test('hands everything outside its subset to the general path, which keeps its codec choices and refusals', () => {
    const p = pair();
    second(p, { a: 1, b: 2 }); // the shape {a, b} is known from here on
    const shared = { a: 1, b: 2 };
    const sharedArray = [1];
    const cyclic: Record<string, unknown> = { a: 1, b: 2 };
    cyclic.b = cyclic;
    const holey = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const buffer = Buffer.from([1, 2]);
    // [what, message, the codec the general path picks, what arrives when not its structured clone]
    const cases: [string, unknown, number, unknown?][] = [
      ['-0', { a: -0, b: 2 }, CODEC_V8],
      ['undefined in an array', { a: [undefined], b: 2 }, CODEC_RECORDS],
      ['a hole', { a: holey, b: 2 }, CODEC_V8],
      ['a shared reference', { a: shared, b: shared }, CODEC_V8],
      ['a shared array', { a: sharedArray, b: sharedArray }, CODEC_V8],
      ['a cycle', cyclic, CODEC_V8],
      ['a Map', { a: new Map([[1, 2]]), b: 2 }, CODEC_V8],
      ['a Date', { a: new Date(5), b: 2 }, CODEC_RECORDS],
      ['a bigint', { a: 5n, b: 2 }, CODEC_RECORDS],
      ['a Buffer', { a: buffer, b: 2 }, CODEC_RECORDS, { a: buffer, b: 2 }],
      ['a prefix of a known shape', { a: 1 }, CODEC_RECORDS],
      ['a class instance', new (class Point { a = 1; b = 2; })(), CODEC_RECORDS],
      ['a known shape and one more key', { a: 1, b: 2, c: 3 }, CODEC_RECORDS],
      ['an Error', { a: new Error('x'), b: 2 }, CODEC_V8],
    ];
    for (const [what, value, codec, arrives = structuredCopy(value)] of cases) {
      const got = travel(p, value);
      expect(got.fast, what).toBe(false);
      expect(got.codec, what).toBe(codec);
      expect(got.value, what).toStrictEqual(arrives);
    }
    for (const refused of [{ a: () => 1, b: 2 }, { a: Symbol('s'), b: 2 }, { a: [new WeakMap()], b: 2 }]) {
      expect(() => p.writer.encode(refused)).toThrow(TypeError);
      expect(travel(p, { a: 1, b: 2 })).toStrictEqual({ value: { a: 1, b: 2 }, codec: CODEC_SHAPES, fast: true }); // and nothing stuck
    }
  });

  test('an enumerable property on Object.prototype keeps plain objects off the fast path (for-in would list it)', () => {
    const p = pair();
    second(p, { a: 1, x: 2 });
    second(p, { a: 1, b: { c: 1 } });
    second(p, { c: 1, x: 2 });
    const proto = Object.prototype as Record<string, unknown>;
    proto.x = 'polluted';
    try {
      for (const m of [{ a: 1 }, { a: 1, b: { c: 1 } }]) {
        const got = travel(p, m);
        expect(got.fast).toBe(false);
        expect(Object.keys(got.value as object)).toStrictEqual(Object.keys(m));
        expect({ ...(got.value as object) }).toStrictEqual({ ...m });
      }
    } finally {
      delete proto.x;
    }
    expect(travel(p, { a: 1, x: 2 }).fast).toBe(true); // and back once it is gone
  });

  test('an enumerable function on Object.prototype is not part of any message (structured clone skips inherited keys)', () => {
    const p = pair();
    const plainWriter = new MessageCodec();
    const proto = Object.prototype as Record<string, unknown>;
    proto.helper = () => 1; // what a careless polyfill does
    try {
      for (const m of [{ a: 1 }, { a: 1 }, { list: [{ b: 2 }], n: null }]) {
        expect(travel(p, m).value).toStrictEqual(structuredCopy(m));
        const bytes = Buffer.from(plainWriter.encode(m).subarray(plainWriter.lastStart, plainWriter.lastEnd));
        expect(new MessageCodec().decode(bytes, 0, bytes.length, plainWriter.lastCodec)).toStrictEqual(structuredCopy(m));
      }
      expect(() => p.writer.encode({ a: () => 1 })).toThrow(TypeError); // an own function still is refused
    } finally {
      delete proto.helper;
    }
  });

  test("a registry shape with a '__proto__' key (a getter added it between scan and pack) is never used", () => {
    const p = pair();
    const sneaky = {
      get q() {
        Object.defineProperty(this, '__proto__', { value: 5, enumerable: true, configurable: true, writable: true });
        return 1;
      },
    };
    p.writer.encode(sneaky); // the registry may now hold ['q', '__proto__']
    const own = JSON.parse('{"q":1,"__proto__":7}') as unknown; // an own '__proto__' key
    for (let i = 0; i < 2; i++) {
      const got = travel(p, own);
      expect(got.fast).toBe(false);
      expect(got.codec).toBe(CODEC_V8);
      expect(got.value).toStrictEqual(structuredCopy(own));
    }
  });

  test('only the registry\'s first 32 shapes, objects nested at most 32 deep, and messages within 64 KiB', () => {
    const p = pair();
    const shapes = Array.from({ length: 40 }, (_, i) => ({ [`k${i}`]: i }));
    for (const [i, shape] of shapes.entries()) {
      const got = second(p, shape);
      expect(got.fast, `shape ${i}`).toBe(i < 32);
      expect(got.value).toStrictEqual(shape);
    }
    let deep: unknown = 1;
    for (let d = 0; d < 40; d++) deep = [deep];
    const deepGot = second(p, deep);
    expect(deepGot.fast).toBe(false);
    expect(deepGot.value).toStrictEqual(deep);
    const big = { k0: Array.from({ length: 8000 }, (_, i) => i + 0.5) }; // 72 KB of float64s
    const bigGot = second(p, big);
    expect(bigGot.fast).toBe(false);
    expect(bigGot.value).toStrictEqual(big);
  });

  test('a worker that starts late (a restart, a moved partition) reads shapes frames through the registry alone', () => {
    const p = pair();
    const messages = Array.from({ length: 40 }, (_, i) => ({ [`k${i % 20}`]: { seq: i, tags: ['x', `y${i}`] } }));
    const frames: { bytes: Buffer; codec: number }[] = [];
    for (const m of [...messages, ...messages]) {
      const buffer = p.writer.encode(m);
      frames.push({ bytes: Buffer.from(buffer.subarray(p.writer.lastStart, p.writer.lastEnd)), codec: p.writer.lastCodec });
    }
    expect(frames.filter((f) => f.codec === CODEC_SHAPES).length).toBeGreaterThan(40);
    const late = new MessageCodec({ structures: new SharedStructures(p.structures.sab) });
    const all = [...messages, ...messages];
    for (let i = frames.length - 1; i >= 0; i--) expect(late.decode(frames[i]!.bytes, 0, frames[i]!.bytes.length, frames[i]!.codec)).toStrictEqual(all[i]);
  });

  test('a shapes frame with a byte the encoder never writes, or an unknown record id, is a clear error', () => {
    const reader = new MessageCodec({ structures: new SharedStructures() });
    expect(() => reader.decode(Buffer.from([0xc1]), 0, 1, CODEC_SHAPES)).toThrow(/never writes/);
    expect(() => reader.decode(Buffer.from([0x45]), 0, 1, CODEC_SHAPES)).toThrow(/not in the registry/);
    expect(() => reader.decode(Buffer.from([0x01, 0x02]), 0, 2, CODEC_SHAPES)).toThrow(/of 2 bytes held 1/);
  });

  test('a ShapeEncoder knows only what the registry saved: -1 for a shape before the general path saved it', () => {
    const structures = new SharedStructures();
    const shapes = new ShapeEncoder(structures);
    expect(shapes.encode({ a: 1 })).toBe(-1);
    expect(shapes.encode([1, 'two', null, true])).toBeGreaterThan(0); // no object: nothing to know
    new MessageCodec({ structures, writeRecords: true, generalOnly: true }).encode({ a: 1 });
    expect(shapes.encode({ a: 1 })).toBeGreaterThan(0);
  });

  test('property: any message decodes to its structured clone, whichever path wrote it', () => {
    // Few key names, so that shapes recur (as in a service) and stay within the registry's first 32.
    const keyName = fc.constantFrom('id', 'key', 'tags', '0', '10');
    // Mostly what the fast path takes, sometimes what it must hand over.
    const scalar = fc.oneof(
      { weight: 12, arbitrary: fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constantFrom(...INTEGERS, ...DOUBLES), fc.double(), fc.string(), fc.boolean(), fc.constant(null)) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ unit: 'binary' }), fc.constant(undefined), fc.constant(-0), fc.bigInt()) }, // lone surrogates too
    );
    const message = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, scalar, tie('object'), fc.array(tie('node'), { maxLength: 4 })),
      object: fc.dictionary(keyName, tie('node'), { maxKeys: 3 }),
    })).object;
    let fast = 0;
    let all = 0;
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 20 }), (messages) => {
        const p = pair();
        for (const m of [...messages, ...messages]) {
          const got = travel(p, m);
          if (got.fast) fast++;
          all++;
          expect(got.value).toStrictEqual(structuredCopy(m));
        }
      }),
      { numRuns: 200 },
    );
    expect(fast).toBeGreaterThan(all / 5); // the property reached the fast path, not only the general one
  });
});
