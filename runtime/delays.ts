/**
 * Delayed sends (`send(key, msg, { delayMs })`), held on the main thread until due: a binary
 * min-heap by due time (FIFO among equal times), O(log n) per message, one timer for the earliest.
 * They wait here rather than in a ring, where a frame would hold the ring's space (and every frame
 * behind it) for the whole delay.
 *
 * Memory: one small record per message, its encoded bytes packed into shared 256 KiB chunks (a
 * typed array per message would cost more than a W1 message itself); a chunk goes when the last
 * message in it has gone.
 */
import { copyBytes } from './bytes.js';
import { KIND_TELL } from './frame.js';
import { OutboundFrame } from './frame-writer.js';

const CHUNK_BYTES = 256 * 1024;

interface Chunk {
  bytes: Uint8Array;
  /** Messages in it still waiting. */
  refs: number;
}

interface DelayedRecord {
  /** performance.now() at which it is due. */
  due: number;
  /** Insertion order: the tie-break that keeps equal due times in send order. */
  order: number;
  codec: number;
  actorKind: number;
  partition: number;
  key: string;
  keyLength: number;
  keyHash: number;
  chunk: Chunk;
  start: number;
  end: number;
  /** `{ priority: 'high' }`. */
  high: boolean;
}

/** A due (or taken) message, as a frame the lanes can write; valid during the callback only. */
export interface DelayedFrame {
  due: number;
  frame: OutboundFrame;
  high: boolean;
}

export class DelayQueue {
  private readonly heap: DelayedRecord[] = [];
  private chunk: Chunk = { bytes: new Uint8Array(CHUNK_BYTES), refs: 0 };
  private used = 0;
  private nextOrder = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;

  private emptyWaiters: (() => void)[] = [];

  constructor(private readonly onDue: (frames: DelayedFrame[]) => void) {}

  /** Resolves once nothing is queued (at once when nothing is). */
  whenEmpty(): Promise<void> {
    if (this.heap.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  get size(): number {
    return this.heap.length;
  }

  /** Queues a copy of `frame` (its payload is copied now: the caller's buffer is reused). */
  push(due: number, frame: OutboundFrame, high: boolean): void {
    const length = frame.payloadEnd - frame.payloadStart;
    let chunk = this.chunk;
    if (length > CHUNK_BYTES - this.used) {
      chunk = { bytes: new Uint8Array(Math.max(CHUNK_BYTES, length)), refs: 0 };
      if (length < CHUNK_BYTES) {
        this.chunk = chunk; // the old one lives on while its messages wait
        this.used = 0;
      }
    }
    const start = chunk === this.chunk ? this.used : 0;
    copyBytes(frame.payload, frame.payloadStart, chunk.bytes, start, length);
    if (chunk === this.chunk) this.used += length;
    chunk.refs++;
    const item: DelayedRecord = {
      due,
      order: this.nextOrder++,
      codec: frame.codec,
      actorKind: frame.actorKind,
      partition: frame.partition,
      key: frame.key,
      keyLength: frame.keyLength,
      keyHash: frame.keyHash,
      chunk,
      start,
      end: start + length,
      high,
    };
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
    this.arm();
  }

  /** Removes everything still queued and hands it to `each`, in due order (close() reports it). */
  takeAll(each: (frames: DelayedFrame[]) => void): void {
    const all = this.heap.splice(0).sort((a, b) => (before(a, b) ? -1 : 1));
    this.disarm();
    this.hand(all, each);
    for (const wake of this.emptyWaiters.splice(0)) wake();
  }

  /** Passes records to `each` as frames, then lets their chunks go. */
  private hand(records: DelayedRecord[], each: (frames: DelayedFrame[]) => void): void {
    each(records.map((r) => ({ due: r.due, frame: toFrame(r), high: r.high })));
    for (const r of records) {
      if (--r.chunk.refs === 0 && r.chunk === this.chunk) this.used = 0; // reuse the current chunk from its start
    }
  }

  /** The earliest due time, or Infinity. */
  nextDue(): number {
    return this.heap.length > 0 ? this.heap[0]!.due : Infinity;
  }

  private pop(): DelayedRecord {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }

  /** One timer, for the earliest due time; re-armed when an earlier one arrives. */
  private arm(): void {
    const due = this.nextDue();
    if (due >= this.timerDue) return;
    this.disarm();
    this.timerDue = due;
    this.timer = setTimeout(this.fire, Math.max(0, due - performance.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = performance.now();
    const due: DelayedRecord[] = [];
    while (this.heap.length > 0 && this.heap[0]!.due <= now) due.push(this.pop());
    this.arm();
    if (due.length > 0) this.hand(due, this.onDue);
    if (this.heap.length === 0) for (const wake of this.emptyWaiters.splice(0)) wake();
  };
}

const before = (a: DelayedRecord, b: DelayedRecord): boolean => a.due < b.due || (a.due === b.due && a.order < b.order);

const toFrame = (r: DelayedRecord): OutboundFrame =>
  OutboundFrame.of({
    kind: KIND_TELL,
    actorKind: r.actorKind,
    codec: r.codec,
    partition: r.partition,
    key: r.key,
    keyLength: r.keyLength,
    keyHash: r.keyHash,
    askId: 0,
    payload: r.chunk.bytes,
    payloadStart: r.start,
    payloadEnd: r.end,
  });
