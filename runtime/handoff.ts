/**
 * A partition on its way from one thread to another (rt.rebalance, setMapping, resize).
 *
 * While it moves, messages for it are held on the main thread, in send order; the old thread
 * finishes what it already has, hands its keys' state over, and only then is the table switched
 * and the held messages written to the new thread. So per key nothing is lost, duplicated or
 * reordered. trySend says false for a moving partition; send() holds the message and resolves
 * from the event loop, and past `limitBytes` only once the move is done (what it sends is still
 * taken, in order), so holding is bounded for callers that await their sends.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import type { OutboundFrame } from './frame-writer.js';

export interface HeldFrame {
  frame: OutboundFrame;
  high: boolean;
}

export class Move {
  readonly held: HeldFrame[] = [];
  heldBytes = 0;
  readonly done: Promise<void>;
  readonly started = performance.now();
  private resolveDone!: () => void;

  constructor(
    readonly partition: number,
    private readonly limitBytes: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** True while holding more stays within the limit. */
  get hasRoom(): boolean {
    return this.heldBytes < this.limitBytes;
  }

  /** Keeps a copy of the frame (the caller's buffers are reused). */
  hold(frame: OutboundFrame, high: boolean): void {
    const copy = frame.copy();
    this.held.push({ frame: copy, high });
    this.heldBytes += copy.payloadEnd + copy.keyLength + 64;
  }

  finish(): void {
    this.resolveDone();
  }
}

/** A latency histogram in nanoseconds (what rt.metrics() summarizes). */
export function nanosecondHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3 });
}

/** How long partitions were held during their moves (the hand-off pause). */
export class HandoffPauses {
  readonly histogram = nanosecondHistogram();
  moves = 0;

  record(ms: number): void {
    this.moves++;
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1e6)));
  }
}
