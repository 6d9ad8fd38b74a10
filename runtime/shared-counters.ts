/**
 * Counters the workers publish to the main thread through one SharedArrayBuffer.
 *
 * Per thread, a 128-byte slot of i32 words: the done watermark (every message frame before it, in
 * ring order, has finished; wrapping, compared with wrap-safe arithmetic), a "main is waiting for
 * progress" flag, messages whose receive failed, and messages finished in any order (for stats).
 * drain() waits on the watermark, not on the count: later messages finishing before an earlier,
 * still-async one must not make drain() resolve early.
 * After the slots, one f64 per partition: messages completed for it (each partition has exactly
 * one writing thread; the main thread only reads these for stats, so plain accesses suffice).
 */

const SLOT_WORDS = 32;
const WATERMARK = 0;
const PROGRESS_WANTED = 1;
const FAILED = 2;
const COMPLETED = 3;
/** Sequence number of the frame whose delivery started last (read after a crash: the suspect). */
const CURRENT = 4;

export class SharedCounters {
  readonly sab: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly partitionCompleted: Float64Array;

  static create(threads: number, partitions: number): SharedCounters {
    return new SharedCounters(new SharedArrayBuffer(threads * SLOT_WORDS * 4 + partitions * 8), threads, partitions);
  }

  constructor(sab: SharedArrayBuffer, threads: number, partitions: number) {
    this.sab = sab;
    this.words = new Int32Array(sab, 0, threads * SLOT_WORDS);
    this.partitionCompleted = new Float64Array(sab, threads * SLOT_WORDS * 4, partitions);
  }

  /** The done watermark a thread last published (where a restarted worker's count resumes). */
  watermark(thread: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + WATERMARK);
  }

  /** Worker side, per frame: a plain store (read only after this thread died). */
  setCurrent(thread: number, seq: number): void {
    this.words[thread * SLOT_WORDS + CURRENT] = seq;
  }

  /** The frame whose delivery a (dead) worker started last. */
  current(thread: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + CURRENT);
  }

  completed(thread: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + COMPLETED);
  }

  failed(thread: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + FAILED);
  }

  /** Worker side: publish progress, and wake the main thread if it asked to be told. */
  publish(thread: number, watermark: number, completed: number, failed: number): void {
    const base = thread * SLOT_WORDS;
    Atomics.store(this.words, base + FAILED, failed);
    Atomics.store(this.words, base + COMPLETED, completed);
    if (Atomics.load(this.words, base + WATERMARK) === watermark) return;
    Atomics.store(this.words, base + WATERMARK, watermark);
    // Every exchange follows a change of the watermark, which the waiter waits on (see shm/ring.ts).
    if (Atomics.load(this.words, base + PROGRESS_WANTED) === 1 && Atomics.exchange(this.words, base + PROGRESS_WANTED, 0) === 1) {
      Atomics.notify(this.words, base + WATERMARK);
    }
  }

  /**
   * Main side: resolves once the first `target` message frames written to `thread` have all
   * finished (wrap-safe), waiting with Atomics.waitAsync between checks. A non-null `dead()` ends
   * the wait with that error.
   */
  async waitForCompleted(thread: number, target: number, dead: () => Error | null): Promise<void> {
    const index = thread * SLOT_WORDS + WATERMARK;
    for (;;) {
      let seen = Atomics.load(this.words, index);
      if (((seen - target) | 0) >= 0) return;
      const error = dead();
      if (error) throw error;
      Atomics.store(this.words, thread * SLOT_WORDS + PROGRESS_WANTED, 1);
      seen = Atomics.load(this.words, index);
      if (((seen - target) | 0) >= 0) return;
      const wait = Atomics.waitAsync(this.words, index, seen, 1000);
      if (wait.async) await wait.value;
    }
  }

  /** Wakes every waiter on a thread's progress (used when the thread dies). */
  wakeAll(thread: number): void {
    Atomics.notify(this.words, thread * SLOT_WORDS + WATERMARK);
  }
}
