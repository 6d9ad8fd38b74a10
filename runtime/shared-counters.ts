/**
 * Counters the workers publish to the main thread through one SharedArrayBuffer.
 *
 * Per thread, a 128-byte slot of i32 words: the done watermark (every message frame before it, in
 * ring order, has finished; wrapping, compared with wrap-safe arithmetic), a "main is waiting for
 * progress" flag, messages whose receive failed, and messages finished in any order (for stats).
 * drain() waits on the watermark, not on the count: later messages finishing before an earlier,
 * still-async one must not make drain() resolve early.
 * After the slots, one f64 per thread: milliseconds it spent handling messages (busy time); then
 * per partition a 64-byte line of its own holding two f64s: messages completed for it, and when
 * the last one finished. Its own line, because neighbouring partitions usually belong to different
 * threads (modulo), and each worker writes its partitions' line for every message: packed, two
 * workers would take the same cache line from each other on every message. Each has exactly one
 * writing thread at a time (a partition's next owner starts writing only after its hand-off, which
 * orders the two); the main thread only reads them for stats, so plain accesses suffice.
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
/** f64s per partition: one 64-byte cache line (see the module comment). */
const PARTITION_STRIDE = 8;
const PARTITION_COMPLETED = 0;
const PARTITION_LAST_DONE = 1;
const watermarkWord = (lane: number): number => (lane === 0 ? WATERMARK : HIGH_WATERMARK);
/** Most worker threads a runtime can have (options.threads, resize). */
export const MAX_THREADS = 1024;
/** Byte offset of the per-partition lines: after the slots and busy times, a multiple of 64, so each line is 64-byte aligned from the buffer. */
const PARTITIONS_AT = MAX_THREADS * (SLOT_WORDS * 4 + 8);

export class SharedCounters {
  readonly sab: SharedArrayBuffer;
  readonly words: Int32Array;
  /** Per thread: ms spent handling messages (written by that thread's worker). */
  readonly busyMs: Float64Array;
  /** Per partition, PARTITION_STRIDE f64s: messages completed, when the last one finished. */
  private readonly partitionLines: Float64Array;
  private readonly partitions: number;

  static create(partitions: number): SharedCounters {
    const counters = new SharedCounters(new SharedArrayBuffer(PARTITIONS_AT + partitions * PARTITION_STRIDE * 8), partitions);
    const now = performance.timeOrigin + performance.now();
    for (let p = 0; p < partitions; p++) counters.partitionLines[p * PARTITION_STRIDE + PARTITION_LAST_DONE] = now;
    return counters;
  }

  constructor(sab: SharedArrayBuffer, partitions: number) {
    this.sab = sab;
    this.words = new Int32Array(sab, 0, MAX_THREADS * SLOT_WORDS);
    this.busyMs = new Float64Array(sab, MAX_THREADS * SLOT_WORDS * 4, MAX_THREADS);
    this.partitionLines = new Float64Array(sab, PARTITIONS_AT, partitions * PARTITION_STRIDE);
    this.partitions = partitions;
  }

  /** Messages completed for a partition, by whichever threads owned it. */
  partitionCompleted(partition: number): number {
    return this.partitionLines[partition * PARTITION_STRIDE + PARTITION_COMPLETED]!;
  }

  /** Every partition's completed count, copied (for the balancer's deltas). */
  completedByPartition(): Float64Array {
    const counts = new Float64Array(this.partitions);
    for (let p = 0; p < this.partitions; p++) counts[p] = this.partitionCompleted(p);
    return counts;
  }

  /** When a message for the partition last finished (epoch ms, coarse: the worker's batch clock). */
  partitionLastDone(partition: number): number {
    return this.partitionLines[partition * PARTITION_STRIDE + PARTITION_LAST_DONE]!;
  }

  /** Worker side, per message: one more completed for the partition; `at` (epoch ms) updates its last-done time. */
  countCompleted(partition: number, at?: number): void {
    const line = partition * PARTITION_STRIDE;
    this.partitionLines[line + PARTITION_COMPLETED]!++;
    if (at !== undefined) this.partitionLines[line + PARTITION_LAST_DONE] = at;
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
