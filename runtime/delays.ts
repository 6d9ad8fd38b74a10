/**
 * Delayed sends (`send(key, msg, { delayMs })`), held on the main thread until due: a binary
 * min-heap by due time (FIFO among equal times), O(log n) per message, one timer for the earliest.
 * They wait here rather than in a ring, where a frame would hold the ring's space (and every frame
 * behind it) for the whole delay.
 */
import type { OutboundFrame } from './lane.js';

export interface DelayedFrame {
  /** performance.now() at which it is due. */
  due: number;
  /** Insertion order: the tie-break that keeps equal due times in send order. */
  order: number;
  /** The frame, its payload a private copy. */
  frame: OutboundFrame;
}

export class DelayQueue {
  private readonly heap: DelayedFrame[] = [];
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

  push(due: number, frame: OutboundFrame): void {
    const item: DelayedFrame = { due, order: this.nextOrder++, frame };
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

  /** Removes and returns everything still queued (close() reports it). */
  takeAll(): DelayedFrame[] {
    const all = this.heap.splice(0).sort((a, b) => (before(a, b) ? -1 : 1));
    this.disarm();
    for (const wake of this.emptyWaiters.splice(0)) wake();
    return all;
  }

  /** The earliest due time, or Infinity. */
  nextDue(): number {
    return this.heap.length > 0 ? this.heap[0]!.due : Infinity;
  }

  private pop(): DelayedFrame {
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
    const due: DelayedFrame[] = [];
    while (this.heap.length > 0 && this.heap[0]!.due <= now) due.push(this.pop());
    this.arm();
    if (due.length > 0) this.onDue(due);
    if (this.heap.length === 0) for (const wake of this.emptyWaiters.splice(0)) wake();
  };
}

const before = (a: DelayedFrame, b: DelayedFrame): boolean => a.due < b.due || (a.due === b.due && a.order < b.order);
