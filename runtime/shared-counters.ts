/**
 * Counters the workers publish to the main thread through one SharedArrayBuffer.
 *
 * Per thread, a 128-byte slot of i32 words: messages completed (wrapping, compared with
 * wrap-safe arithmetic), a "main is waiting for progress" flag, and messages whose receive failed.
 * After the slots, one f64 per partition: messages completed for it (each partition has exactly
 * one writing thread; the main thread only reads these for stats, so plain accesses suffice).
 */

const SLOT_WORDS = 32;
const COMPLETED = 0;
const PROGRESS_WANTED = 1;
const FAILED = 2;

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

  completed(thread: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + COMPLETED);
  }

  failed(thread: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + FAILED);
  }

  /** Worker side: publish progress, and wake the main thread if it asked to be told. */
  publish(thread: number, completed: number, failed: number): void {
    const base = thread * SLOT_WORDS;
    Atomics.store(this.words, base + FAILED, failed);
    Atomics.store(this.words, base + COMPLETED, completed);
    if (Atomics.load(this.words, base + PROGRESS_WANTED) === 1 && Atomics.exchange(this.words, base + PROGRESS_WANTED, 0) === 1) {
      Atomics.notify(this.words, base + COMPLETED);
    }
  }

  /**
   * Main side: resolves once `thread` has completed `target` messages (wrap-safe), waiting with
   * Atomics.waitAsync between checks. `alive()` false ends the wait with an error.
   */
  async waitForCompleted(thread: number, target: number, alive: () => Error | null): Promise<void> {
    const index = thread * SLOT_WORDS + COMPLETED;
    for (;;) {
      let seen = Atomics.load(this.words, index);
      if (((seen - target) | 0) >= 0) return;
      const dead = alive();
      if (dead) throw dead;
      Atomics.store(this.words, thread * SLOT_WORDS + PROGRESS_WANTED, 1);
      seen = Atomics.load(this.words, index);
      if (((seen - target) | 0) >= 0) return;
      const wait = Atomics.waitAsync(this.words, index, seen, 1000);
      if (wait.async) await wait.value;
    }
  }

  /** Wakes every waiter on a thread's progress (used when the thread dies). */
  wakeAll(thread: number): void {
    Atomics.notify(this.words, thread * SLOT_WORDS + COMPLETED);
  }
}
