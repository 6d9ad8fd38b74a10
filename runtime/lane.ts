/**
 * Main thread → one worker: the ring's producer side plus the queue of sends waiting for space.
 *
 * Frames are written in call order: once anything waits, later frames queue behind it (trySend
 * says false), so a burst of un-awaited send()s keeps per-key order. Waiting uses
 * Atomics.waitAsync on the ring's read counter, never blocking the event loop.
 */
import { RingWriter } from '../shm/ring.js';
import { waitForSpaceAsync } from '../shm/wait.js';
import { KIND_STOP, MESSAGE_HEADER_BYTES, SEQ_OFFSET, writeU32 } from './frame.js';
import { copyBytes } from './bytes.js';
import { checkedFrameSize, writeFrame, writeFrameEncoding, type OutboundFrame } from './frame-writer.js';
import type { MessageCodec } from './codec.js';

export type { OutboundFrame };

/** A frame waiting for space, and its sender's promise (not an extended copy: see OutboundFrame). */
interface WaitingFrame {
  frame: OutboundFrame;
  resolve(): void;
  reject(error: Error): void;
}

const SPACE_WAIT_TIMEOUT_MS = 1000;
/**
 * Frames written per publish while the worker is busy. Every publish is a store to the line the
 * worker reads (and maybe a notify): batching keeps that line from bouncing between the cores once
 * per message. "Busy" means at least BUSY_BACKLOG_BYTES published and not released: the worker
 * releases every 256 frames at the latest, so it then still has hundreds of frames to go and
 * cannot run dry before the batch is out. With less backlog every frame is published at once, so
 * a worker that is idle or nearly so never waits for a batch. A burst's tail is published from a
 * microtask, as soon as the caller's synchronous code returns.
 */
const PUBLISH_EVERY = 32;
const BUSY_BACKLOG_BYTES = 64 * 1024;

export class OutboundLane {
  readonly writer: RingWriter;
  /** Message frames (tell and ask) written so far. */
  written = 0;
  /** Set once the worker is gone: nothing more is written, waiting frames are rejected. */
  dead: Error | null = null;
  private waiting: WaitingFrame[] = [];
  private head = 0;
  private flushing = false;
  private unpublished = 0;
  private publishScheduled = false;

  /** Backlog above which the worker counts as busy (BUSY_BACKLOG_BYTES, less on small rings). */
  private readonly busyBacklog: number;

  constructor(writer: RingWriter) {
    this.writer = writer;
    this.busyBacklog = Math.min(BUSY_BACKLOG_BYTES, writer.ring.capacity / 4);
  }

  get waitingCount(): number {
    return this.waiting.length - this.head;
  }

  /** Total frame body size; RangeError when it can never fit this ring. */
  frameSize(keyLength: number, payloadLength: number): number {
    return checkedFrameSize(this.writer.maxFrameBytes, keyLength, payloadLength, 'the ring', '; raise ringBytes');
  }

  /** Writes the frame now if nobody waits ahead of it and the ring has room. */
  tryWrite(frame: OutboundFrame): boolean {
    if (this.head < this.waiting.length) return false;
    return this.write(frame);
  }

  /**
   * Writes a tell frame with `msg` encoded straight into the ring (see writeFrameEncoding). False,
   * nothing written, when something waits ahead of it, the ring is short of room or the message
   * needs the general path: then encode it and tryWrite/enqueue as usual.
   */
  tryWriteEncoding(frame: OutboundFrame, msg: unknown, codec: MessageCodec): boolean {
    if (this.head < this.waiting.length) return false;
    if (!writeFrameEncoding(this.writer, frame, msg, codec, this.written)) return false;
    this.written++;
    this.committed(false);
    return true;
  }

  /** Queues a frame (its payload copied: the caller's buffer is reused) until space appears. */
  enqueue(frame: OutboundFrame): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ frame: frame.copy(), resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Rejects everything waiting and refuses further writes. */
  fail(error: Error): void {
    this.dead = error;
    for (let i = this.head; i < this.waiting.length; i++) this.waiting[i]!.reject(error);
    this.waiting = [];
    this.head = 0;
  }

  private write(frame: OutboundFrame): boolean {
    if (!writeFrame(this.writer, frame, this.written)) {
      // Full: the worker can free space only by reading what we hold back.
      this.publish();
      return false;
    }
    if (frame.kind !== KIND_STOP) this.written++;
    this.committed(frame.kind === KIND_STOP);
    return true;
  }

  /**
   * Writes a message frame that is already encoded (`length` body bytes at bytes[at]: an actor's
   * ctx.send relayed from its worker's outbox), with this ring's sequence number. False when
   * something waits ahead of it or the ring is full.
   */
  tryWriteEncoded(bytes: Uint8Array, at: number, length: number): boolean {
    if (this.head < this.waiting.length) return false;
    const to = this.writer.tryClaim(length);
    if (to < 0) {
      this.publish();
      return false;
    }
    const ring = this.writer.ring.bytes;
    copyBytes(bytes, at, ring, to, length);
    writeU32(ring, to + SEQ_OFFSET, this.written++);
    this.committed(false);
    return true;
  }

  /** Publishes now or soon (see PUBLISH_EVERY). */
  private committed(now: boolean): void {
    if (now || ++this.unpublished >= PUBLISH_EVERY || this.writer.publishedBacklog() < this.busyBacklog) {
      this.publish();
    } else if (!this.publishScheduled) {
      this.publishScheduled = true;
      queueMicrotask(this.publish);
    }
  }

  /** Makes every written frame visible to the worker (and wakes it if it sleeps). */
  readonly publish = (): void => {
    this.publishScheduled = false;
    this.unpublished = 0;
    this.writer.publish();
  };

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.head < this.waiting.length && this.dead === null) {
        const waiting = this.waiting[this.head]!;
        const frame = waiting.frame;
        if (this.write(frame)) {
          this.waiting[this.head++] = undefined as never; // let the payload go
          waiting.resolve();
          continue;
        }
        // + 7: the padding an aligned large frame may need (see tryClaimAligned); waiting for less
        // could return at once, again and again, with the frame still not fitting.
        await waitForSpaceAsync(this.writer, MESSAGE_HEADER_BYTES + frame.keyLength + frame.payloadEnd - frame.payloadStart + 7, SPACE_WAIT_TIMEOUT_MS);
      }
    } finally {
      if (this.head >= this.waiting.length) {
        this.waiting = [];
        this.head = 0;
      }
      this.flushing = false;
    }
  }
}
