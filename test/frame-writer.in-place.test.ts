/**
 * A tell encoded straight into the ring (writeFrameEncoding, the shape encoder writing into the
 * claimed frame, then RingWriter.shrinkLast) must read back exactly like one encoded into the
 * codec's buffer and copied (writeFrame). Where it cannot take a message (a shape not yet in the
 * registry, a message over DIRECT_PAYLOAD_ROOM, a ring without room for the claim, a ring too
 * small for it) it writes nothing (RingWriter.unclaim when the encoder gave up mid-way) and the
 * copy path takes the message: frames come back in order, each decoded as a worker decodes it.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CODEC_SHAPES, MessageCodec } from '../dist/runtime/codec.js';
import { DIRECT_PAYLOAD_ROOM, OutboundFrame, writeFrame, writeFrameEncoding } from '../dist/runtime/frame-writer.js';
import { KEY_UTF16, KIND_TELL, MessageFrameView } from '../dist/runtime/frame.js';
import { fnv1a32 } from '../dist/runtime/key.js';
import { hasLoneSurrogate } from '../dist/runtime/msgpackr-limits.js';
import { SharedStructures } from '../dist/runtime/structures.js';
import { RingBuffer, RingReader, RingWriter } from '../dist/shm/ring.js';

const KEYS = ['k', 'key-17', 'Straße', '中文キー', 'lone\ud800surrogate', 'x'.repeat(300)] as const;

interface Sent {
  key: string;
  seq: number;
  msg: unknown;
}

/** A main-thread writer and a worker-side reader of one ring, with the runtime's two codecs. */
class Pair {
  readonly structures = new SharedStructures();
  readonly codec = new MessageCodec({ structures: this.structures, writeRecords: true });
  readonly workerCodec = new MessageCodec({ structures: new SharedStructures(this.structures.sab) });
  readonly ring: RingBuffer;
  readonly writer: RingWriter;
  readonly reader: RingReader;
  readonly frame = new OutboundFrame(KIND_TELL);
  readonly view = new MessageFrameView();
  readonly inFlight: Sent[] = [];
  seq = 0;
  inPlace = 0;
  /** Messages the in-place path refused while the copy path wrote them into the same ring. */
  refusedThenCopied = 0;
  refusedLarge = 0;
  checked = 0;

  constructor(capacity: number) {
    this.ring = new RingBuffer(capacity);
    this.writer = new RingWriter(this.ring);
    this.reader = new RingReader(this.ring);
  }

  /** Fills the frame's key fields as the runtime's route() does. */
  route(key: string): void {
    const frame = this.frame;
    const utf16 = hasLoneSurrogate(key);
    frame.key = key;
    frame.keyLength = utf16 ? key.length * 2 : Buffer.byteLength(key);
    frame.keyHash = fnv1a32(key);
    frame.partition = frame.keyHash % 64;
    frame.codec = utf16 ? KEY_UTF16 : 0;
  }

  /** The runtime's trySend: in place, else the copy path; false when the ring is full. */
  private tryWrite(key: string, msg: unknown): boolean {
    this.route(key);
    if (writeFrameEncoding(this.writer, this.frame, msg, this.codec, this.seq)) {
      this.inPlace++;
      return true;
    }
    const payload = this.codec.encode(msg);
    const frame = this.frame;
    frame.codec |= this.codec.lastCodec;
    frame.payload = payload;
    frame.payloadStart = this.codec.lastStart;
    frame.payloadEnd = this.codec.lastEnd;
    if (!writeFrame(this.writer, frame, this.seq)) return false;
    if (this.codec.lastCodec === CODEC_SHAPES) {
      if (frame.payloadEnd - frame.payloadStart > DIRECT_PAYLOAD_ROOM) this.refusedLarge++;
      else this.refusedThenCopied++;
    }
    return true;
  }

  send(key: string, msg: unknown): void {
    const before = this.writer.hasUnpublished();
    let written: boolean;
    try {
      written = this.tryWrite(key, msg);
    } catch (error) {
      // Too big for this ring (the runtime's frameSize check refuses it before): nothing written.
      expect(error).toBeInstanceOf(RangeError);
      expect(this.codec.lastEnd - this.codec.lastStart).toBeGreaterThan(this.writer.maxFrameBytes - 20 - this.frame.keyLength - 7);
      expect(this.writer.hasUnpublished()).toBe(before);
      return;
    }
    if (!written) {
      this.drain();
      if (!this.tryWrite(key, msg)) throw new Error(`an empty ring of ${this.ring.capacity} bytes refused a frame`);
    }
    this.inFlight.push({ key, seq: this.seq, msg });
    this.seq++;
    // Publish now and then, so the reader also meets published and unpublished frames mixed.
    if ((this.seq & 7) === 0) this.writer.publish();
  }

  /** Publishes, reads every frame as the worker would and checks each against what was sent. */
  drain(): void {
    this.writer.publish();
    const bytes = this.ring.bytes;
    for (let at = this.reader.next(); at >= 0; at = this.reader.next()) {
      const want = this.inFlight[this.checked]!;
      const view = this.view.read(bytes, at, this.reader.frameLength);
      const got = { kind: view.kind, seq: view.seq, key: view.key(bytes), keyHash: view.keyHash, msg: this.workerCodec.decode(bytes, view.payloadStart, view.payloadLength, view.codec) };
      const expected = { kind: KIND_TELL, seq: want.seq, key: want.key, keyHash: fnv1a32(want.key), msg: want.msg };
      // expect() only on a mismatch: tens of thousands of frames are checked.
      if (!isDeepStrictEqual(got, expected)) expect(got).toEqual(expected);
      this.checked++;
    }
    this.reader.release();
    expect(this.checked).toBe(this.inFlight.length);
  }
}

const messageArb = fc.record({
  key: fc.constantFrom(...KEYS),
  // W1's shape, its string from empty to past DIRECT_PAYLOAD_ROOM; now and then a nested shape, or
  // something only the general path takes (a Map, undefined).
  text: fc.oneof(
    { weight: 6, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.nat(6000).map((n) => 'é'.repeat(n % 400) + 'a'.repeat(n)) },
    { weight: 1, arbitrary: fc.constant('z'.repeat(DIRECT_PAYLOAD_ROOM)) },
  ),
  n: fc.oneof(fc.integer(), fc.double({ noNaN: true })),
  variant: fc.constantFrom('w1', 'w1', 'w1', 'nested', 'map', 'undefined'),
});

function build(m: { text: string; n: number; variant: string }, seq: number): unknown {
  switch (m.variant) {
    case 'nested':
      return { seq, inner: { text: m.text, list: [m.n, true, null] } };
    case 'map':
      return new Map([[seq, m.text]]);
    case 'undefined':
      return { seq, text: m.text, n: undefined };
    default:
      return { seq, text: m.text, n: Object.is(m.n, -0) ? 0 : m.n };
  }
}

describe('writeFrameEncoding: messages encoded straight into the ring', () => {
  test('property: frames read back in order and decode to what was sent, in rings of every size', () => {
    const totals = { inPlace: 0, refusedThenCopied: 0, refusedLarge: 0 };
    fc.assert(
      fc.property(fc.constantFrom(4096, 16384, 65536), fc.array(messageArb, { minLength: 50, maxLength: 400, size: 'max' }), (capacity, messages) => {
        const pair = new Pair(capacity);
        for (const m of messages) pair.send(m.key, build(m, pair.seq));
        pair.drain();
        if (capacity === 4096) expect(pair.inPlace).toBe(0); // its largest frame (2044 bytes) is under the claim
        totals.inPlace += pair.inPlace;
        totals.refusedThenCopied += pair.refusedThenCopied;
        totals.refusedLarge += pair.refusedLarge;
      }),
      { numRuns: 60 },
    );
    // The runs went through every branch: in place, refused for want of room while the copy fit,
    // refused as larger than the claim.
    expect(totals.inPlace).toBeGreaterThan(1000);
    expect(totals.refusedThenCopied).toBeGreaterThan(0);
    expect(totals.refusedLarge).toBeGreaterThan(0);
  });

  test('a W1 stream through a 16 KiB ring read as it goes: all but the first in place, across hundreds of wraps, every frame checked', () => {
    const pair = new Pair(16384);
    for (let i = 0; i < 20_000; i++) {
      pair.send(`key-${i % 1000}`, { key: `key-${i % 1000}`, seq: i, n: i * 7, s: i % 3 === 0 ? 'σ' : 'abc' });
      if (i % 64 === 63) pair.drain(); // a consumer that keeps up: the claim always has room
    }
    pair.drain();
    expect(pair.checked).toBe(20_000);
    // Only the shape's first message (the registry learns the shape from it) is copied.
    expect(pair.inPlace).toBe(19_999);
    expect(pair.ring.usedBytes()).toBe(0);
  });

  test('a message the shape encoder gives up on mid-way leaves nothing behind', () => {
    const pair = new Pair(16384);
    pair.send('k', { seq: 0, text: 'a', n: 1 }); // teaches the registry the shape
    pair.drain();
    pair.route('k');
    // The shape's keys, then a function: the encoder has written bytes into the claim before it gives up.
    expect(writeFrameEncoding(pair.writer, pair.frame, { seq: 1, text: 'b'.repeat(100), n: () => 1 }, pair.codec, 1)).toBe(false);
    expect(pair.writer.hasUnpublished()).toBe(false);
    pair.writer.publish();
    expect(pair.reader.next()).toBe(-1);
    pair.send('k', { seq: 1, text: 'c', n: 2 });
    pair.drain();
    expect(pair.checked).toBe(2);
  });

  test('a getter that throws mid-way: the error comes out, the claim is taken back', () => {
    const pair = new Pair(16384);
    pair.send('k', { seq: 0, text: 'a', n: 1 });
    pair.route('k');
    const throwing = { seq: 1, text: 'b'.repeat(100), get n(): number { throw new Error('boom'); } };
    expect(() => writeFrameEncoding(pair.writer, pair.frame, throwing, pair.codec, 1)).toThrow('boom');
    pair.drain(); // publishes: only the first frame may be there
    expect(pair.checked).toBe(1);
    expect(pair.writer.hasUnpublished()).toBe(false);
    pair.send('k', { seq: 1, text: 'c', n: 2 });
    pair.drain();
    expect(pair.checked).toBe(2);
  });
});
