/**
 * Counters the workers publish to the main thread through one SharedArrayBuffer.
 *
 * Per thread, a 128-byte slot of i32 words: the done watermark (every message frame before it, in
 * ring order, has finished; wrapping, compared with wrap-safe arithmetic), a "main is waiting for
 * progress" flag, messages whose receive failed, and messages finished in any order (for stats).
 * drain() waits on the watermark, not on the count: later messages finishing before an earlier,
 * still-async one must not make drain() resolve early.
 * After the slots, one f64 per thread: milliseconds it spent handling messages (busy time); then
 * per partition two f64s: messages completed for it, and when the last one finished. Each has exactly one writing thread at a time
 * (a partition's next owner starts writing only after its hand-off, which orders the two); the
 * main thread only reads them for stats, so plain accesses suffice.
 * Slots exist for MAX_THREADS threads, so threads can be added while the runtime runs.
 */

const SLOT_WORDS = 32;
const WATERMARK = 0;
const PROGRESS_WANTED = 1;
const FAILED = 2;
const COMPLETED = 3;
/** Sequence number of the frame whose delivery started last (read after a crash: the suspect). */
const CURRENT = 4;
/** The high-priority lane's done watermark (WATERMARK is the normal lane's). */
const HIGH_WATERMARK = 5;
/** Which lane CURRENT is on. */
const CURRENT_LANE = 6;
/** Bumped by a worker that takes the "progress wanted" flag: what drain() waits on (as ring doorbells). */
const PROGRESS_BELL = 7;
/** Actor-to-actor messages (ctx.send) this thread's workers produced; the main thread relays as many. */
const PRODUCED = 8;
const watermarkWord = (lane: number): number => (lane === 0 ? WATERMARK : HIGH_WATERMARK);
/** Most worker threads a runtime can have (options.threads, resize). */
export const MAX_THREADS = 1024;

export class SharedCounters {
  readonly sab: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly partitionCompleted: Float64Array;
  /** Per thread: ms spent handling messages (written by that thread's worker). */
  readonly busyMs: Float64Array;

  /** Per partition: when a message for it last finished (epoch ms, coarse: the worker's batch clock). */
  readonly partitionLastDone: Float64Array;

  static create(partitions: number): SharedCounters {
    const counters = new SharedCounters(new SharedArrayBuffer(MAX_THREADS * (SLOT_WORDS * 4 + 8) + partitions * 16), partitions);
    counters.partitionLastDone.fill(performance.timeOrigin + performance.now());
    return counters;
  }

  constructor(sab: SharedArrayBuffer, partitions: number) {
    this.sab = sab;
    this.words = new Int32Array(sab, 0, MAX_THREADS * SLOT_WORDS);
    this.busyMs = new Float64Array(sab, MAX_THREADS * SLOT_WORDS * 4, MAX_THREADS);
    const partitionsAt = MAX_THREADS * (SLOT_WORDS * 4 + 8);
    this.partitionCompleted = new Float64Array(sab, partitionsAt, partitions);
    this.partitionLastDone = new Float64Array(sab, partitionsAt + partitions * 8, partitions);
  }

  /** Clears a thread's slot for a new thread at that index (resize after a shrink). */
  resetThread(thread: number): void {
    this.words.fill(0, thread * SLOT_WORDS, (thread + 1) * SLOT_WORDS);
    this.busyMs[thread] = 0;
  }

  /** The done watermark a thread last published for a lane (where a restarted worker's count resumes). */
  watermark(thread: number, lane: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + watermarkWord(lane));
  }

  /** Worker side, per frame: plain stores (read only after this thread died). */
  setCurrent(thread: number, lane: number, seq: number): void {
    this.words[thread * SLOT_WORDS + CURRENT] = seq;
    this.words[thread * SLOT_WORDS + CURRENT_LANE] = lane;
  }

  /** The frame whose delivery a (dead) worker started last, as `${lane}:${seq}`. */
  current(thread: number): string {
    return `${Atomics.load(this.words, thread * SLOT_WORDS + CURRENT_LANE)}:${Atomics.load(this.words, thread * SLOT_WORDS + CURRENT)}`;
  }

  completed(thread: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + COMPLETED);
  }

  produced(thread: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + PRODUCED);
  }

  /** Main side, while the thread has no worker: where its next worker's produced count starts. */
  setProduced(thread: number, produced: number): void {
    Atomics.store(this.words, thread * SLOT_WORDS + PRODUCED, produced);
  }

  failed(thread: number): number {
    return Atomics.load(this.words, thread * SLOT_WORDS + FAILED);
  }

  /** Worker side: publish progress, and wake the main thread if it asked to be told. */
  publish(thread: number, watermark: number, highWatermark: number, completed: number, failed: number, produced: number): void {
    const base = thread * SLOT_WORDS;
    // Before the watermark: whoever sees a message done also sees the ctx.sends it made.
    Atomics.store(this.words, base + PRODUCED, produced);
    Atomics.store(this.words, base + FAILED, failed);
    Atomics.store(this.words, base + COMPLETED, completed);
    const moved = Atomics.load(this.words, base + WATERMARK) !== watermark || Atomics.load(this.words, base + HIGH_WATERMARK) !== highWatermark;
    if (!moved) return;
    Atomics.store(this.words, base + HIGH_WATERMARK, highWatermark);
    Atomics.store(this.words, base + WATERMARK, watermark);
    // The waiter waits on the bell (it may wait for either lane): whoever takes its flag rings it.
    if (Atomics.load(this.words, base + PROGRESS_WANTED) === 1 && Atomics.exchange(this.words, base + PROGRESS_WANTED, 0) === 1) {
      Atomics.add(this.words, base + PROGRESS_BELL, 1);
      Atomics.notify(this.words, base + PROGRESS_BELL);
    }
  }

  /**
   * Main side: resolves once the first `target` message frames written to `thread` have all
   * finished (wrap-safe), waiting with Atomics.waitAsync between checks. A non-null `dead()` ends
   * the wait with that error.
   */
  async waitForCompleted(thread: number, lane: number, target: number, dead: () => Error | null): Promise<void> {
    const base = thread * SLOT_WORDS;
    const index = base + watermarkWord(lane);
    for (;;) {
      if (((Atomics.load(this.words, index) - target) | 0) >= 0) return;
      const error = dead();
      if (error) throw error;
      // Flag, then bell, then the watermark again (the order that makes the wake-up exact).
      Atomics.store(this.words, base + PROGRESS_WANTED, 1);
      const bell = Atomics.load(this.words, base + PROGRESS_BELL);
      if (((Atomics.load(this.words, index) - target) | 0) >= 0) return;
      const wait = Atomics.waitAsync(this.words, base + PROGRESS_BELL, bell, 1000);
      if (wait.async) await wait.value;
    }
  }

  /** Wakes every waiter on a thread's progress (used when the thread dies). */
  wakeAll(thread: number): void {
    Atomics.add(this.words, thread * SLOT_WORDS + PROGRESS_BELL, 1);
    Atomics.notify(this.words, thread * SLOT_WORDS + PROGRESS_BELL);
  }
}
