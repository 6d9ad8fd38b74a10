/**
 * RingWriter.tryClaimAligned: a body of prefix + padding + rest bytes whose `rest` part starts at
 * a chosen offset mod 8 (so large copies between the ring and heap buffers are fast). The padding
 * is a hint, but the frames must always read back exactly: length, padding, bytes, order.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RingBuffer, RingReader, RingWriter } from '../dist/shm/ring.js';

describe('tryClaimAligned', () => {
  it('aligns the rest of the body as asked, in the tail and after a wrap', () => {
    const ring = new RingBuffer(4096);
    const writer = new RingWriter(ring);
    const reader = new RingReader(ring);
    for (let i = 0; i < 200; i++) {
      const prefix = 16 + (i % 13);
      const rest = 100 + ((i * 37) % 700);
      const align = i % 8;
      const at = writer.tryClaimAligned(prefix, rest, align);
      expect(at).toBeGreaterThanOrEqual(0);
      expect((at + prefix + writer.lastPad) & 7, `frame ${i}`).toBe(align);
      writer.publish();
      expect(reader.next()).toBe(at);
      expect(reader.frameLength).toBe(prefix + writer.lastPad + rest);
      reader.release();
    }
  });

  it('never makes a frame too large: at the maximum size the padding is dropped', () => {
    const ring = new RingBuffer(1024);
    const writer = new RingWriter(ring);
    const rest = writer.maxFrameBytes - 20;
    const at = writer.tryClaimAligned(20, rest, 5);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(writer.lastPad).toBe(0);
    expect(() => writer.tryClaimAligned(21, rest, 5)).toThrow(RangeError);
  });

  it('random frames read back intact, with the padding the writer chose (model check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ prefix: fc.integer({ min: 0, max: 40 }), rest: fc.integer({ min: 0, max: 400 }), align: fc.integer({ min: 0, max: 7 }) }), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 0, max: 3 }),
        (frames, lag) => {
          const ring = new RingBuffer(2048);
          const writer = new RingWriter(ring);
          const reader = new RingReader(ring);
          const queue: { at: number; length: number; fill: number; restAt: number; rest: number }[] = [];
          const drainOne = (): void => {
            const want = queue.shift()!;
            expect(reader.next()).toBe(want.at);
            expect(reader.frameLength).toBe(want.length);
            for (let b = 0; b < want.rest; b++) expect(ring.bytes[want.restAt + b]).toBe((want.fill + b) & 0xff);
            reader.release();
          };
          frames.forEach((f, n) => {
            let at = writer.tryClaimAligned(f.prefix, f.rest, f.align);
            while (at < 0) {
              drainOne(); // full: the reader frees space
              at = writer.tryClaimAligned(f.prefix, f.rest, f.align);
            }
            const restAt = at + f.prefix + writer.lastPad;
            for (let b = 0; b < f.rest; b++) ring.bytes[restAt + b] = (n + b) & 0xff;
            queue.push({ at, length: f.prefix + writer.lastPad + f.rest, fill: n, restAt, rest: f.rest });
            writer.publish();
            while (queue.length > lag) drainOne();
          });
          while (queue.length > 0) drainOne();
          expect(reader.next()).toBe(-1);
        },
      ),
      { numRuns: 150 },
    );
  });
});
