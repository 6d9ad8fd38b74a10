/**
 * Worker side of actor-to-actor messages (ctx.send): frames go into this worker's outbox ring,
 * whose one reader is the main thread; it relays them into the receiving partition's ring (see
 * relay.ts). Every ring keeps one producer and one consumer, whatever the number of threads, and
 * the main thread's partition table (with its hand-offs) decides where each message goes.
 *
 * ctx.send never blocks: a worker that waited for outbox space could wait on itself (its own
 * inbound ring full of messages it has not read). When the outbox is full, frames wait in the
 * worker's memory, in order, and go out as space appears. That queue has no bound: a cycle of
 * actors that produce faster than they consume grows it (stats: outboxOverflow).
 */
import { RingBuffer, RingWriter } from '../shm/ring.js';
import { checkedFrameSize, writeFrame, type OutboundFrame } from './frame-writer.js';

export class Outbox {
  private readonly writer: RingWriter;
  private overflow: OutboundFrame[] = [];
  private head = 0;
  /** Frames sent so far (into the ring or the overflow); the main thread relays as many. */
  produced: number;
  private seq = 0;

  constructor(sab: SharedArrayBuffer, produced: number) {
    this.writer = new RingWriter(new RingBuffer(sab));
    this.produced = produced;
  }

  get overflowCount(): number {
    return this.overflow.length - this.head;
  }

  /** RangeError for a frame that can never fit the outbox ring. */
  checkSize(keyLength: number, payloadLength: number): void {
    checkedFrameSize(this.writer.maxFrameBytes, keyLength, payloadLength, 'the outbox ring', '');
  }

  /** Writes the frame, or keeps a copy until there is space. Not published until flush(). */
  send(frame: OutboundFrame): void {
    this.produced = (this.produced + 1) | 0;
    if (this.head === this.overflow.length && writeFrame(this.writer, frame, this.seq)) {
      this.seq = (this.seq + 1) | 0;
      return;
    }
    this.overflow.push(frame.copy());
  }

  /** Moves what waited into the ring as far as it fits, and publishes. */
  flush(): void {
    const overflow = this.overflow;
    while (this.head < overflow.length && writeFrame(this.writer, overflow[this.head]!, this.seq)) {
      overflow[this.head++] = undefined as never;
      this.seq = (this.seq + 1) | 0;
    }
    if (this.head === overflow.length && this.head > 0) {
      this.overflow = [];
      this.head = 0;
    }
    this.writer.publish();
  }
}
