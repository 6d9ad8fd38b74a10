/**
 * Record structures shared through SharedStructures (runtime/structures.ts): what the main thread
 * encodes with records decodes, on a reader that only has the shared registry, to exactly what
 * the plain codec gives, in any order and on a reader that starts late (a restarted worker).
 * Past the registry's ids or bytes, new shapes still travel (as plain maps). And across
 * real threads: a worker decodes hundreds of shapes the main thread adds while traffic flows, and
 * a replacement worker decodes what was queued behind its predecessor's crash.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { CODEC_PLAIN, CODEC_RECORDS, CODEC_SHAPES, CODEC_V8, MessageCodec } from '../dist/runtime/codec.js';
import { MAX_SHARED_STRUCTURES, SharedStructures, STRUCTURES_BYTES } from '../dist/runtime/structures.js';
import { fixture, prng } from './helpers/api.js';

interface Encoded {
  bytes: Uint8Array;
  codec: number;
}

function encodeAll(codec: MessageCodec, messages: readonly unknown[]): Encoded[] {
  return messages.map((m) => {
    const buffer = codec.encode(m);
    return { bytes: Uint8Array.from(buffer.subarray(codec.lastStart, codec.lastEnd)), codec: codec.lastCodec };
  });
}

function decode(codec: MessageCodec, e: Encoded): unknown {
  return codec.decode(Buffer.from(e.bytes), 0, e.bytes.length, e.codec);
}

/** Messages as people send them: objects of a few recurring shapes, nested, with the listed types. */
const value = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }).filter((x) => !Object.is(x, -0)),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt(),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 20 }),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)), // must stay a Buffer, also in a new shape
);
const keyName = fc.constantFrom('id', 'key', 'seq', 'amount', 'tags', 'user', 'at', 'kind', 'payload', 'n');
const message = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, value, tie('object'), fc.array(tie('node'), { maxLength: 4 })),
  object: fc.dictionary(keyName, tie('node'), { maxKeys: 5 }),
})).object;

describe('record structures shared through SharedStructures', () => {
  test('decode, in any order and on a reader that starts late, to what the plain codec gives', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 1000 }), (messages, seed) => {
        const structures = new SharedStructures();
        const writer = new MessageCodec({ structures, writeRecords: true });
        const encoded = encodeAll(writer, messages);
        const plain = encodeAll(new MessageCodec(), messages);
        // Records: by msgpackr, or, for shapes met before, by the shape encoder in the same format.
        expect(encoded.every((e) => e.codec === CODEC_RECORDS || e.codec === CODEC_SHAPES)).toBe(true);
        const random = prng(seed);
        const order = messages.map((_, i) => i).sort(() => random() - 0.5);
        // One reader from the start (it loads as it goes); one created after all the writing.
        const early = new MessageCodec({ structures: new SharedStructures(structures.sab) });
        for (const i of order) expect(decode(early, encoded[i]!)).toStrictEqual(decode(new MessageCodec(), plain[i]!));
        const late = new MessageCodec({ structures: new SharedStructures(structures.sab) });
        for (const i of order.reverse()) expect(decode(late, encoded[i]!)).toStrictEqual(decode(new MessageCodec(), plain[i]!));
      }),
      { numRuns: 200 },
    );
  });

  test('the W1 message takes about half the bytes of plain maps', () => {
    const writer = new MessageCodec({ structures: new SharedStructures(), writeRecords: true });
    const plain = new MessageCodec();
    const msg = { key: 'user-42', seq: 123_456, amount: 10.25, tags: ['a', 'b'] };
    const [first, second] = encodeAll(writer, [msg, msg]);
    const [flat] = encodeAll(plain, [msg]);
    expect(flat!.codec).toBe(CODEC_PLAIN);
    expect(second!.bytes.length).toBe(first!.bytes.length); // the shape lives in the registry, not the frame
    expect(second!.bytes.length).toBeLessThan(flat!.bytes.length * 0.7);
  });

  test(`past ${MAX_SHARED_STRUCTURES} shapes, and past the registry's bytes, new shapes still decode`, () => {
    const structures = new SharedStructures();
    const writer = new MessageCodec({ structures, writeRecords: true });
    // 600 shapes: the first with short keys, later ones with keys long enough to fill the bytes.
    const messages = Array.from({ length: 600 }, (_, i) => ({ [`f${i}`]: i, [(i > 300 ? 'k'.repeat(2000) : 'k') + i]: `v${i}`, shared: true }));
    const reader = new MessageCodec({ structures: new SharedStructures(structures.sab) });
    const encoded = encodeAll(writer, messages);
    encoded.forEach((e, i) => expect(decode(reader, e)).toStrictEqual(messages[i]));
    // Again, so the shapes that did get shared ids are read from the registry by a fresh reader.
    const fresh = new MessageCodec({ structures: new SharedStructures(structures.sab) });
    encodeAll(writer, messages).forEach((e, i) => expect(decode(fresh, e)).toStrictEqual(messages[i]));
    expect(new Int32Array(structures.sab, 0, 1)[0]).toBeLessThanOrEqual(STRUCTURES_BYTES);
  });

  test('a shape the registry cannot take, used twice in one message, decodes: on a young registry full by bytes, and when it alone is too big', () => {
    // Found in review: msgpackr's per-message records read a second use of their shape through
    // the shared ids, which a young registry does not have yet. Unshared shapes must go as maps.
    const structures = new SharedStructures();
    const writer = new MessageCodec({ structures, writeRecords: true });
    const reader = new MessageCodec({ structures: new SharedStructures(structures.sab) });
    const roundTrip = (m: unknown) => decode(reader, encodeAll(writer, [m])[0]!);
    const oneBig = { items: [0, 1].map((n) => Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`key_with_a_longish_name_${i}`, n + i]))) };
    expect(roundTrip(oneBig)).toStrictEqual(oneBig);
    // Shapes with keys of 20,000 characters fill the bytes (by the bound) after a few shapes.
    const usedBytes = () => new Int32Array(structures.sab, 0, 1)[0]!;
    let shared = 0;
    for (let i = 0; i < 10; i++) {
      const before = usedBytes();
      const m = { ['x'.repeat(20_000) + i]: 1, ['y'.repeat(20_000) + i]: 2 };
      expect(roundTrip(m)).toStrictEqual(m);
      if (usedBytes() > before) shared++;
    }
    expect(shared).toBeGreaterThan(0);
    expect(shared).toBeLessThan(10); // full by bytes, with few shapes: a young registry
    for (const m of [[{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }], [{ a: 1, b: 2 }, { a: 3, b: 4 }, { c: 5 }, { c: 6 }], { before: { q: 1, r: [{ s: 1 }, { s: 2 }] }, after: { q: 2, r: [] } }]) {
      expect(roundTrip(m)).toStrictEqual(m);
      expect(decode(new MessageCodec({ structures: new SharedStructures(structures.sab) }), encodeAll(writer, [m])[0]!)).toStrictEqual(m);
    }
  });

  test('an object msgpackr cannot write (70,000 keys, past its 16-bit map size) goes through node:v8, on both codecs', () => {
    const big = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]));
    const structures = new SharedStructures();
    for (const writer of [new MessageCodec({ structures, writeRecords: true }), new MessageCodec()]) {
      const [e] = encodeAll(writer, [big]);
      expect(e!.codec).toBe(CODEC_V8);
      expect(decode(new MessageCodec({ structures: new SharedStructures(structures.sab) }), e!)).toStrictEqual(big);
    }
    // The records writer is fine afterwards.
    const writer = new MessageCodec({ structures, writeRecords: true });
    const [after] = encodeAll(writer, [{ a: 1 }]);
    expect(after!.codec).toBe(CODEC_RECORDS);
  });

  test('packs that fail after a new shape was promised room leave that room free', () => {
    const structures = new SharedStructures();
    const writer = new MessageCodec({ structures, writeRecords: true });
    const usedBytes = () => new Int32Array(structures.sab, 0, 1)[0]!;
    const huge = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, 0]));
    // Each outer shape (a 10,000-character key) is promised ~30 KB by the bound, then the inner
    // object makes the pack fail (past msgpackr's 16-bit map size): the message goes through
    // node:v8, and 10 of them would promise the registry's whole 256 KiB.
    for (let i = 0; i < 10; i++) expect(encodeAll(writer, [{ [`${i}`.padEnd(10_000, 'x')]: huge }])[0]!.codec).toBe(CODEC_V8);
    expect(usedBytes()).toBe(0);
    const [fresh] = encodeAll(writer, [{ ['fresh'.padEnd(10_000, 'y')]: 1 }]);
    expect(fresh!.codec).toBe(CODEC_RECORDS);
    expect(usedBytes()).toBeGreaterThan(0); // shared: the failed packs' promises were dropped
  });

  test('a codec without the registry refuses a records frame with a clear error', () => {
    const writer = new MessageCodec({ structures: new SharedStructures(), writeRecords: true });
    const [e] = encodeAll(writer, [{ a: 1 }]);
    expect(() => decode(new MessageCodec(), e!)).toThrow(/no record structures/);
    expect(() => new MessageCodec({ writeRecords: true })).toThrow(TypeError);
  });

  test('a replacement worker decodes shapes only its crashed predecessor had seen, and new ones', async () => {
    const rt = await createRuntime({ actor: fixture('records-crash-actor.mjs'), threads: 1 });
    try {
      const shape = (i: number) => ({ n: i, nested: { [`f${i}`]: [i, `s${i}`], at: new Date(i) }, bytes: Buffer.from([i & 255]) });
      const before = Array.from({ length: 300 }, (_, i) => shape(i));
      for (const r of await Promise.all(before.map((m, i) => rt.ask<{ value: unknown; restarts: number }>(`k${i % 7}`, m)))) expect(r.restarts).toBe(0);
      // Queued behind the crash: shapes the dead worker had learned, then shapes nobody has seen.
      const crash = rt.ask('k0', { crash: true });
      const after = [...before.slice(0, 150), ...Array.from({ length: 150 }, (_, i) => shape(1000 + i))];
      const replies = await Promise.all(after.map((m, i) => rt.ask<{ value: unknown; restarts: number }>(`k${i % 7}`, m)));
      expect(await crash).toBe('survived');
      replies.forEach((r, i) => {
        expect(r.restarts).toBe(1);
        expect(r.value).toStrictEqual(after[i]);
      });
    } finally {
      await rt.close();
    }
  });

  test('across threads: a worker decodes 2,000 shapes added while the traffic flows, each exactly', async () => {
    const rt = await createRuntime({ actor: fixture('api-echo.mjs'), threads: 2 });
    try {
      const asks: Promise<{ value: unknown }>[] = [];
      const sent: unknown[] = [];
      for (let i = 0; i < 2000; i++) {
        // A new shape every message (its own key name), nested in a recurring one.
        const msg = { i, body: { [`field${i}`]: i * 3, tags: ['x', String(i)] }, at: new Date(i), bytes: Buffer.from([i & 255]) };
        sent.push(msg);
        asks.push(rt.ask<{ value: unknown }>(`k${i % 50}`, msg));
      }
      const replies = await Promise.all(asks);
      replies.forEach((r, i) => expect(r.value).toStrictEqual(sent[i]));
    } finally {
      await rt.close();
    }
  });
});
