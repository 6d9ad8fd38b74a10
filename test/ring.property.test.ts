/**
 * Single-thread model-based tests of the shared-memory ring (shm/ring.ts, built into dist/).
 *
 * The model is a plain queue of frames with unbounded byte counters (ordinary JS numbers, no
 * 32-bit wrap), and the placement rule is re-derived from the layout documented in ring.ts:
 *
 *   - a frame takes 4 header bytes + body, padded to a multiple of 8;
 *   - a frame never straddles the end of the data area: if it does not fit in the tail, the tail
 *     is wasted (skip marker) and the frame goes to offset 0;
 *   - a claim succeeds iff (tail waste, if any) + padded size <= capacity - (claimed - released).
 *
 * The ring's own counters are i32 and wrap mod 2^32; the model's are compared to them via `| 0`.
 * Runs start their counters at random 8-aligned values, including just below 2^31 and 2^32, so
 * both the sign flip and the 32-bit wrap of the counters are crossed.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MIN_RING_CAPACITY,
  READ_INDEX,
  RING_HEADER_BYTES,
  RingBuffer,
  RingReader,
  RingWriter,
  WRITE_INDEX,
} from '../dist/shm/ring.js';

const FRAME_HEADER = 4;
const CAPACITIES = [64, 128, 256, 1024] as const;

/** Bytes a frame of `len` body bytes occupies: header + body rounded up to a multiple of 8. */
const paddedSize = (len: number): number => Math.ceil((FRAME_HEADER + len) / 8) * 8;

interface Placement {
  /** Offset of the frame header in the data area. */
  at: number;
  /** Bytes the claim advances the write counter by (wasted tail included). */
  consumed: number;
}

/** Where the model puts a frame, or null when it does not fit in the released space. */
function placement(capacity: number, claimed: number, released: number, len: number): Placement | null {
  const size = paddedSize(len);
  const pos = claimed % capacity;
  const tail = capacity - pos;
  const wraps = size > tail;
  const consumed = wraps ? tail + size : size;
  const free = capacity - (claimed - released);
  if (consumed > free) return null;
  return { at: wraps ? 0 : pos, consumed };
}

// ---------------------------------------------------------------------------------------------
// Commands

type SizeSpec =
  | { kind: 'small'; r: number } // 0..16 bytes
  | { kind: 'any'; r: number } // 0..maxFrameBytes
  | { kind: 'exact-wrap'; r: number } // lands the write position exactly at capacity
  | { kind: 'over-wrap'; r: number } // one 8-byte step too big for the tail: skip marker + offset 0
  | { kind: 'max'; r: number }; // exactly maxFrameBytes

type Cmd =
  | { t: 'write'; size: SizeSpec; fill: 'random' | 'ones' | 'zeros'; seed: number }
  | { t: 'write-shrink'; size: SizeSpec; keep: number; undo: boolean; seed: number }
  | { t: 'too-big'; negative: boolean }
  | { t: 'publish' }
  | { t: 'read'; n: number }
  | { t: 'release'; all: boolean; k: number; useDefault: boolean }
  | { t: 'reopen'; newView: boolean };

const r32 = fc.integer({ min: 0, max: 0x7fffffff });

const sizeArb: fc.Arbitrary<SizeSpec> = fc.oneof(
  { weight: 6, arbitrary: r32.map((r) => ({ kind: 'small' as const, r })) },
  { weight: 3, arbitrary: r32.map((r) => ({ kind: 'any' as const, r })) },
  { weight: 3, arbitrary: r32.map((r) => ({ kind: 'exact-wrap' as const, r })) },
  { weight: 2, arbitrary: r32.map((r) => ({ kind: 'over-wrap' as const, r })) },
  { weight: 1, arbitrary: r32.map((r) => ({ kind: 'max' as const, r })) },
);

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      size: sizeArb,
      fill: fc.constantFrom('random' as const, 'random' as const, 'ones' as const, 'zeros' as const),
      seed: r32,
    }),
  },
  {
    // A claim whose size is known only once written (the runtime encodes into the ring): shrunk
    // to its first `keep` bytes, or taken back.
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('write-shrink' as const), size: sizeArb, keep: r32, undo: fc.boolean(), seed: r32 }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('too-big' as const), negative: fc.boolean() }) },
  { weight: 3, arbitrary: fc.constant({ t: 'publish' as const }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('read' as const), n: fc.integer({ min: 1, max: 8 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('release' as const),
      all: fc.boolean(), // everything read so far, else the first k % (read + 1) frames read
      k: fc.nat(16),
      useDefault: fc.boolean(), // release() rather than release(position) when that is the same
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), newView: fc.boolean() }) },
);

/** Counter start values: small, just below 2^31 (i32 sign flip), just below 2^32 (wrap to 0). */
const startArb: fc.Arbitrary<number> = fc.oneof(
  fc.constant(0),
  fc.nat(4096).map((k) => 8 * k),
  fc.nat(512).map((k) => 2 ** 31 - 8 * k),
  fc.nat(512).map((k) => 2 ** 32 - 8 * k),
);

/** Body length for a size spec, given the model's current write position. */
function resolveLength(spec: SizeSpec, capacity: number, pos: number): number {
  const max = capacity / 2 - FRAME_HEADER;
  const tail = capacity - pos;
  const pick = (lo: number, hi: number): number => lo + (spec.r % (hi - lo + 1));
  switch (spec.kind) {
    case 'small':
      return pick(0, 16);
    case 'any':
      return pick(0, max);
    case 'max':
      return max;
    case 'exact-wrap':
      // paddedSize(len) === tail  <=>  4 + len in (tail - 8, tail].
      if (tail - FRAME_HEADER <= max) return pick(Math.max(0, tail - 11), tail - FRAME_HEADER);
      // No single frame reaches the end from here: land exactly at capacity/2 instead, so that a
      // later exact-wrap (then a maximum-size frame) does.
      return tail - capacity / 2 - FRAME_HEADER;
    case 'over-wrap': {
      // paddedSize(len) === tail + 8  <=>  4 + len in (tail, tail + 8].
      const lo = Math.max(0, tail - 3);
      const hi = Math.min(max, tail + 4);
      return lo <= hi ? pick(lo, hi) : max;
    }
  }
}

function makeBody(len: number, fill: 'random' | 'ones' | 'zeros', seed: number): Buffer {
  const body = Buffer.alloc(len, fill === 'ones' ? 0xff : 0);
  if (fill === 'random') {
    let x = seed | 1;
    for (let i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      body[i] = x & 0xff;
    }
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// Model and runner

interface MFrame {
  len: number;
  at: number;
  /** Model counter just past this frame: the reader's cursor after reading it. */
  end: number;
  body: Buffer;
}

class Scenario {
  readonly ring: RingBuffer;
  readonly writer: RingWriter;
  reader: RingReader;
  readonly max: number;
  /** Unreleased frames, oldest first: [0, nPub) published, [0, nRead) read by the current reader. */
  frames: MFrame[] = [];
  nPub = 0;
  nRead = 0;
  claimed: number;
  published: number;
  released: number;
  readonly log: string[] = [];

  constructor(
    readonly capacity: number,
    start: number,
  ) {
    this.ring = new RingBuffer(capacity);
    // A ring that has been running for a while: both counters at `start`, the ring empty.
    Atomics.store(this.ring.control, WRITE_INDEX, start | 0);
    Atomics.store(this.ring.control, READ_INDEX, start | 0);
    this.writer = new RingWriter(this.ring);
    this.reader = new RingReader(this.ring);
    this.max = capacity / 2 - FRAME_HEADER;
    this.claimed = this.published = this.released = start;
  }

  fail(msg: string): never {
    throw new Error(`${msg}\n  capacity=${this.capacity}\n  history:\n    ${this.log.slice(-30).join('\n    ')}`);
  }

  /** Body bytes at `off` equal the model's, else fail. */
  checkBytes(off: number, frame: MFrame, what: string): void {
    const got = this.ring.bytes.subarray(off, off + frame.len);
    if (!got.equals(frame.body)) {
      this.fail(`${what}: frame body at ${off} (len ${frame.len}) differs from what was written`);
    }
  }

  write(len: number, body: Buffer): void {
    const expected = placement(this.capacity, this.claimed, this.released, len);
    const pos = this.claimed % this.capacity;
    const off = this.writer.tryClaim(len);
    this.log.push(
      `tryClaim(${len}) at pos ${pos}, used ${this.claimed - this.released} -> ${off} (model ${expected ? expected.at + FRAME_HEADER : -1})`,
    );
    if (expected === null) {
      if (off !== -1) this.fail(`tryClaim(${len}) returned ${off}, model says it does not fit`);
      return;
    }
    if (off !== expected.at + FRAME_HEADER) {
      this.fail(`tryClaim(${len}) returned ${off}, model expects ${expected.at + FRAME_HEADER}`);
    }
    this.ring.bytes.set(body, off);
    this.claimed += expected.consumed;
    this.frames.push({ len, at: expected.at, end: this.claimed, body });
  }

  /** Claims `len` bytes, then gives them all back (undo) or all but the first `keep`. */
  writeShrink(len: number, keep: number, undo: boolean, body: Buffer): void {
    const expected = placement(this.capacity, this.claimed, this.released, len);
    const off = this.writer.tryClaim(len);
    this.log.push(`tryClaim(${len}) -> ${off}, then ${undo ? 'unclaim()' : `shrinkLast(${keep})`}`);
    if (expected === null) {
      if (off !== -1) this.fail(`tryClaim(${len}) returned ${off}, model says it does not fit`);
      return;
    }
    if (off !== expected.at + FRAME_HEADER) this.fail(`tryClaim(${len}) returned ${off}, model expects ${expected.at + FRAME_HEADER}`);
    this.ring.bytes.fill(0xee, off, off + len); // what an encoder that gave up leaves behind
    if (undo) {
      this.writer.unclaim();
      return;
    }
    this.ring.bytes.set(body, off);
    this.writer.shrinkLast(keep);
    const start = this.claimed + expected.consumed - paddedSize(len); // where the frame went, a skipped tail included
    this.claimed = start + paddedSize(keep);
    this.frames.push({ len: keep, at: expected.at, end: this.claimed, body });
  }

  publish(): void {
    this.log.push(`publish (${this.frames.length - this.nPub} frames)`);
    this.writer.publish();
    this.published = this.claimed;
    this.nPub = this.frames.length;
  }

  read(n: number): void {
    for (let i = 0; i < n; i++) {
      const off = this.reader.next();
      if (this.nRead === this.nPub) {
        this.log.push(`next -> ${off} (model: nothing published)`);
        if (off !== -1) this.fail(`next() returned ${off} with no published frame left (unpublished: ${this.frames.length - this.nPub})`);
        if (this.reader.hasMore()) this.fail('hasMore() true with no published frame left');
        return;
      }
      const frame = this.frames[this.nRead]!;
      this.log.push(`next -> ${off} len ${this.reader.frameLength} (model ${frame.at + FRAME_HEADER} len ${frame.len})`);
      if (off !== frame.at + FRAME_HEADER) this.fail(`next() returned ${off}, model expects ${frame.at + FRAME_HEADER}`);
      if (this.reader.frameLength !== frame.len) {
        this.fail(`next() frameLength ${this.reader.frameLength}, model expects ${frame.len}`);
      }
      this.checkBytes(off, frame, 'read');
      this.nRead++;
    }
  }

  /** Releases the first `count` frames read (0..nRead). */
  release(count: number, useDefault: boolean): void {
    const position = count > 0 ? this.frames[count - 1]!.end : this.released;
    if (useDefault && count === this.nRead) {
      this.log.push(`release() (${count} frames)`);
      this.reader.release();
    } else {
      this.log.push(`release(${position | 0}) (${count} of ${this.nRead} read frames)`);
      this.reader.release(position | 0);
    }
    this.frames.splice(0, count);
    this.nPub -= count;
    this.nRead -= count;
    this.released = position;
  }

  reopen(newView: boolean): void {
    this.log.push(`new RingReader (${newView ? 'new RingBuffer view' : 'same view'}); ${this.nRead} read, unreleased frames come again`);
    this.reader = new RingReader(newView ? new RingBuffer(this.ring.sab) : this.ring);
    this.nRead = 0;
  }

  checkInvariants(): void {
    const control = this.ring.control;
    if (Atomics.load(control, WRITE_INDEX) !== (this.published | 0)) this.fail('write counter differs from model');
    if (this.reader.released() !== (this.released | 0)) this.fail('read counter differs from model');
    if (this.reader.published() !== (this.published | 0)) this.fail('published() differs from model');
    if (this.ring.usedBytes() !== this.published - this.released) {
      this.fail(`usedBytes() ${this.ring.usedBytes()}, model ${this.published - this.released}`);
    }
    if (this.writer.hasUnpublished() !== (this.claimed !== this.published)) this.fail('hasUnpublished() differs from model');
    const cursor = this.nRead > 0 ? this.frames[this.nRead - 1]!.end : this.released;
    if (this.reader.cursor !== (cursor | 0)) this.fail(`reader cursor ${this.reader.cursor}, model ${cursor | 0}`);
  }

  run(cmd: Cmd): void {
    switch (cmd.t) {
      case 'write': {
        const len = resolveLength(cmd.size, this.capacity, this.claimed % this.capacity);
        this.write(len, makeBody(len, cmd.fill, cmd.seed));
        break;
      }
      case 'write-shrink': {
        const len = resolveLength(cmd.size, this.capacity, this.claimed % this.capacity);
        const keep = cmd.keep % (len + 1);
        this.writeShrink(len, keep, cmd.undo, makeBody(keep, 'random', cmd.seed));
        break;
      }
      case 'too-big': {
        const len = cmd.negative ? -1 : this.max + 1;
        this.log.push(`tryClaim(${len}) must throw`);
        expect(() => this.writer.tryClaim(len)).toThrow(RangeError);
        break;
      }
      case 'publish':
        this.publish();
        break;
      case 'read':
        this.read(cmd.n);
        break;
      case 'release':
        this.release(cmd.all ? this.nRead : cmd.k % (this.nRead + 1), cmd.useDefault);
        break;
      case 'reopen':
        this.reopen(cmd.newView);
        break;
    }
    this.checkInvariants();
  }

  /** Publishes everything, reads every remaining frame, releases, and checks the ring is empty. */
  drain(): void {
    this.log.push('-- drain --');
    this.publish();
    this.read(this.frames.length - this.nRead + 1); // the extra read must return -1
    this.release(this.nRead, true);
    this.checkInvariants();
    if (this.ring.usedBytes() !== 0) this.fail('ring not empty after draining');
    // All space is back: a maximum-size frame fits wherever the write position is.
    this.write(this.max, makeBody(this.max, 'random', 7));
    if (this.frames.length !== 1) this.fail('maximum-size frame did not fit into the drained ring');
    this.publish();
    this.read(2);
    this.checkInvariants();
  }
}

// ---------------------------------------------------------------------------------------------

describe('RingBuffer/RingWriter/RingReader against a queue model', () => {
  it('random interleavings of write/publish/read/release/reopen match the model', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CAPACITIES),
        startArb,
        fc.array(cmdArb, { minLength: 1, maxLength: 300, size: 'max' }),
        (capacity, start, cmds) => {
          const s = new Scenario(capacity, start);
          for (const cmd of cmds) s.run(cmd);
          s.drain();
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a replacement reader resumes at the released position and reads unreleased frames again', () => {
    const s = new Scenario(256, 2 ** 32 - 64);
    for (let i = 0; i < 6; i++) s.write(20 + i, makeBody(20 + i, 'random', i + 1));
    s.publish();
    s.read(4);
    s.release(2, false); // frames 0, 1 released; 2, 3 read but not released
    s.checkInvariants();
    s.reopen(true);
    s.checkInvariants();
    // Released position = 2^32 - 8, just before the 32-bit wrap; frame 2 starts with a skip marker there.
    expect(s.reader.cursor).toBe(-8);
    expect(s.frames[0]!.at).toBe(0);
    s.read(5); // frames 2..5 (4 frames), then -1
    expect(s.nRead).toBe(4);
    s.checkInvariants();
  });

  it('unpublished frames are invisible, whatever was claimed', () => {
    const s = new Scenario(128, 0);
    s.write(10, makeBody(10, 'ones', 1));
    s.publish();
    s.write(10, makeBody(10, 'ones', 2));
    s.write(3, makeBody(3, 'ones', 3));
    s.read(3); // one frame, then -1 twice
    expect(s.nRead).toBe(1);
    expect(s.reader.hasMore()).toBe(false);
    s.publish();
    expect(s.reader.hasMore()).toBe(true);
    s.read(3);
    expect(s.nRead).toBe(3);
    s.checkInvariants();
  });

  it('a frame exactly maxFrameBytes long fits an empty ring at every 8-aligned position', () => {
    for (const capacity of [...CAPACITIES, 4096]) {
      const max = capacity / 2 - FRAME_HEADER;
      // Counter bases: 0, one that crosses 2^31 (i32 sign flip), one that crosses 2^32 (wrap).
      for (const base of [0, 2 ** 31 - capacity, 2 ** 32 - capacity]) {
        for (let p = 0; p < capacity; p += 8) {
          const s = new Scenario(capacity, base + p);
          expect(s.ring.maxFrameBytes).toBe(max);
          expect(s.writer.maxFrameBytes).toBe(max);
          expect(() => s.writer.tryClaim(max + 1)).toThrow(RangeError);
          const body = makeBody(max, 'random', p + 1);
          s.write(max, body);
          if (s.frames.length !== 1) throw new Error(`capacity ${capacity}, position ${p}: max frame did not fit`);
          s.publish();
          s.read(2);
          s.release(1, true);
          s.checkInvariants();
          expect(s.ring.usedBytes()).toBe(0);
          expect(() => s.writer.tryClaim(max + 1)).toThrow(RangeError);
        }
      }
    }
  });

  it('a full ring refuses even an empty frame until space is released', () => {
    const s = new Scenario(64, 8);
    s.write(28, makeBody(28, 'random', 1)); // 32 bytes at 8
    s.write(20, makeBody(20, 'random', 2)); // 24 bytes at 40: write position lands exactly at 64
    s.write(0, Buffer.alloc(0)); // 8 bytes at 0: ring full (64 of 64)
    expect(s.frames.length).toBe(3);
    s.write(0, Buffer.alloc(0));
    expect(s.frames.length).toBe(3); // refused
    s.publish();
    s.read(1);
    s.release(1, true); // 32 bytes back
    s.write(20, makeBody(20, 'random', 3)); // 24 bytes at 8
    expect(s.frames.length).toBe(3);
    s.drain();
  });

  it('rejects capacities that are not a power of two in range', () => {
    const bad = [0, 1, 2, 8, 32, MIN_RING_CAPACITY / 2, 63, 65, 96, 100, 127, 1000, 64.5, -64, NaN, Infinity, 2 ** 31, 2 ** 32];
    for (const capacity of bad) {
      expect(() => new RingBuffer(capacity), `capacity ${capacity}`).toThrow(RangeError);
    }
    // Wrapping a buffer whose data area (byteLength - header) is bad.
    for (const dataBytes of [-RING_HEADER_BYTES, -1, 0, 32, 63, 65, 100, 1000, 3 * 64]) {
      const sab = new SharedArrayBuffer(RING_HEADER_BYTES + dataBytes);
      expect(() => new RingBuffer(sab), `data area ${dataBytes}`).toThrow(RangeError);
    }
    for (const capacity of [64, 128, 4096, 1 << 16]) {
      expect(new RingBuffer(capacity).capacity).toBe(capacity);
      expect(new RingBuffer(new SharedArrayBuffer(RING_HEADER_BYTES + capacity)).capacity).toBe(capacity);
    }
  });

  // Regression: the range check once let NaN through (`NaN > max` is false), and tryClaim(NaN)
  // wrote a 0-length header over the oldest unread frame of a full ring.
  it('tryClaim(NaN) throws instead of corrupting the oldest unread frame', () => {
    const s = new Scenario(64, 0);
    s.write(28, makeBody(28, 'random', 1));
    s.write(28, makeBody(28, 'random', 2)); // ring full
    s.publish();
    let threw = false;
    try {
      s.writer.tryClaim(NaN);
    } catch (e) {
      threw = e instanceof RangeError;
    }
    s.read(2); // the first frame must still be 28 bytes long
    expect(threw).toBe(true);
  });
});
