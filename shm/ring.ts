/**
 * A single-producer / single-consumer ring of variable-length frames over one SharedArrayBuffer.
 *
 * Memory layout (bytes):
 *
 *     0    write counter   (i32, producer stores, consumer loads)
 *   128    read counter    (i32, consumer stores, producer loads)
 *   256    consumer parked (i32 flag, consumer sets, producer clears and notifies)
 *   384    producer parked (i32 flag, producer sets, consumer clears and notifies)
 *   448    doorbell (i32, bumped by a producer that wakes the parked consumer; what it waits on)
 *   480    alert (i32 flag: someone wants the consumer's attention outside the frame stream)
 *   512    data: `capacity` bytes, capacity a power of two
 *
 * The counters and parked flags each have their own 128-byte slot (two cache lines, as Agrona
 * does) so the producer and the consumer never write the same line and the adjacent-line
 * prefetcher does not pair them. The doorbell and the alert share the last slot: both are written
 * only to wake the consumer, rarely.
 *
 * The counters are byte positions that only grow (mod 2^32); `(write - read) | 0` is the number
 * of bytes in use, which stays correct across the 32-bit wrap because capacity <= 2^30.
 *
 * A frame is a 4-byte little-endian length followed by the body, padded to 8 bytes. A frame never
 * straddles the end of the data area: when it does not fit in the tail, the producer writes a skip
 * marker (length -1) there and puts the frame at offset 0.
 *
 * Ordering: the producer writes body and header with plain stores, then publishes with
 * `Atomics.store(write)`; the consumer reads `Atomics.load(write)` before touching bytes. Atomics
 * are sequentially consistent, so bytes written before the store are visible after the load.
 * Space goes back to the producer only through `Atomics.store(read)`, which the consumer calls
 * once it is done with the frames (see RingReader.release).
 */

export const WRITE_INDEX = 0; // i32 index of the write counter
export const READ_INDEX = 32; // byte 128
export const CONSUMER_PARKED_INDEX = 64; // byte 256
export const PRODUCER_PARKED_INDEX = 96; // byte 384
export const DOORBELL_INDEX = 112; // byte 448
export const ALERT_INDEX = 120; // byte 480
export const RING_HEADER_BYTES = 512;
const FRAME_HEADER_BYTES = 4;
const SKIP_MARKER = -1;
export const MIN_RING_CAPACITY = 64;
export const MAX_RING_CAPACITY = 1 << 30;

const align8 = (n: number): number => (n + 7) & ~7;

/** The shared memory of one ring; both sides build their views from the same buffer. */
export class RingBuffer {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  readonly mask: number;
  readonly control: Int32Array;
  /** The data area as bytes; offsets returned by the ring index into this view. */
  readonly bytes: Buffer;
  /** The data area as i32 words, for frame headers (frames start 8-aligned). */
  readonly words: Int32Array;
  /** Largest frame body this ring accepts: half the data area less the frame header. */
  readonly maxFrameBytes: number;

  /** Wraps an existing buffer (the other side's) or allocates one of `capacity` data bytes. */
  constructor(source: SharedArrayBuffer | number) {
    const sab =
      typeof source === 'number' ? new SharedArrayBuffer(RING_HEADER_BYTES + checkCapacity(source)) : source;
    const capacity = sab.byteLength - RING_HEADER_BYTES;
    checkCapacity(capacity);
    this.sab = sab;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.control = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    this.bytes = Buffer.from(sab, RING_HEADER_BYTES, capacity);
    this.words = new Int32Array(sab, RING_HEADER_BYTES, capacity / 4);
    // Any frame of at most capacity/2 bytes fits into an empty ring whatever the position,
    // either in the tail or (after a skip marker) at offset 0.
    this.maxFrameBytes = capacity / 2 - FRAME_HEADER_BYTES;
  }

  /**
   * Asks the consumer for its attention (e.g. control-plane work waiting on its event loop): sets
   * the alert flag, then rings the doorbell, so a parked consumer wakes and a consumer about to
   * park sees the flag (prepareToPark re-checks it after reading the doorbell). Any thread may call it.
   */
  alert(): void {
    Atomics.store(this.control, ALERT_INDEX, 1);
    Atomics.add(this.control, DOORBELL_INDEX, 1);
    Atomics.notify(this.control, DOORBELL_INDEX);
  }

  /** Bytes published and not yet released. May be stale by the time the caller uses it. */
  usedBytes(): number {
    return (Atomics.load(this.control, WRITE_INDEX) - Atomics.load(this.control, READ_INDEX)) | 0;
  }
}

function checkCapacity(capacity: number): number {
  if (
    !Number.isInteger(capacity) ||
    capacity < MIN_RING_CAPACITY ||
    capacity > MAX_RING_CAPACITY ||
    (capacity & (capacity - 1)) !== 0
  ) {
    throw new RangeError(
      `ring capacity must be a power of two between ${MIN_RING_CAPACITY} and ${MAX_RING_CAPACITY} bytes, got ${capacity}`,
    );
  }
  return capacity;
}

/** The smallest power of two >= n (n >= 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * The producer side. Only one thread may own a RingWriter for a ring at a time.
 *
 * `tryClaim` reserves space for a frame and returns where to write its body; `publish` makes every
 * claimed frame visible at once, so a burst of frames costs one `Atomics.store` (and at most one
 * notify).
 */
export class RingWriter {
  readonly ring: RingBuffer;
  readonly maxFrameBytes: number;
  /** Write position including claimed, unpublished frames. Only this side changes it. */
  private claimed: number;
  /**
   * The control words whose consumer-parked flag and doorbell wake this ring's consumer: its own,
   * or those of another ring the same consumer parks on (a second lane to one worker).
   */
  private readonly wake: Int32Array;
  /** The write counter as this side last stored it. */
  private published: number;
  /**
   * Last read counter seen. It may be older than the consumer's real position: that only makes
   * the ring look fuller than it is, so we re-load it before saying "full".
   */
  private cachedRead: number;

  constructor(ring: RingBuffer, parksOn: RingBuffer = ring) {
    this.ring = ring;
    this.wake = parksOn.control;
    this.maxFrameBytes = ring.maxFrameBytes;
    this.claimed = Atomics.load(ring.control, WRITE_INDEX);
    this.published = this.claimed;
    this.cachedRead = Atomics.load(ring.control, READ_INDEX);
  }

  /**
   * Reserves a frame of `length` body bytes. Returns the body's offset in `ring.bytes`, or -1 when
   * the ring has no room now (nothing is reserved then). Throws RangeError for a frame that could
   * never fit.
   */
  tryClaim(length: number): number {
    // Written so that NaN (and any non-number) fails it too: `!(0 <= length <= max)`.
    if (!(length >= 0 && length <= this.maxFrameBytes) || (length | 0) !== length) {
      throw new RangeError(`frame of ${length} bytes exceeds this ring's maximum of ${this.maxFrameBytes} bytes`);
    }
    const ring = this.ring;
    const need = align8(FRAME_HEADER_BYTES + length);
    const pos = this.claimed & ring.mask;
    const tail = ring.capacity - pos;
    const total = need <= tail ? need : tail + need;
    if (ring.capacity - ((this.claimed - this.cachedRead) | 0) < total) {
      this.cachedRead = Atomics.load(ring.control, READ_INDEX);
      if (ring.capacity - ((this.claimed - this.cachedRead) | 0) < total) return -1;
    }
    let at = pos;
    if (need > tail) {
      ring.words[pos >> 2] = SKIP_MARKER;
      at = 0;
    }
    ring.words[at >> 2] = length;
    this.lastClaimFrom = this.claimed;
    this.lastFrameAt = (this.claimed + total - need) | 0;
    this.claimed = (this.claimed + total) | 0;
    return at + FRAME_HEADER_BYTES;
  }

  /** The write position before the last tryClaim, and the position of the frame it claimed (for shrinkLast and unclaim). */
  private lastClaimFrom = 0;
  private lastFrameAt = 0;

  /**
   * Makes the frame claimed last `length` body bytes long (at most what was claimed), giving the
   * rest back: for a frame whose size is known only once it is written (the runtime encodes
   * messages straight into the ring). Only before publish() and before the next claim. A frame
   * that went to offset 0 stays there (the skipped tail stays skipped), so nothing moves.
   */
  shrinkLast(length: number): void {
    this.ring.words[(this.lastFrameAt & this.ring.mask) >> 2] = length;
    this.claimed = (this.lastFrameAt + align8(FRAME_HEADER_BYTES + length)) | 0;
  }

  /**
   * Takes the frame claimed last back, as if it had not been claimed. Only before publish() and
   * before the next claim. What was written there (a skip marker too) is past the published
   * counter, so the consumer never reads it; the next claim writes over it.
   */
  unclaim(): void {
    this.claimed = this.lastClaimFrom;
  }

  /**
   * Bytes published and not yet released: an upper bound on the work the consumer has left before
   * it runs dry (it releases in batches, so part of it may be read already). May be stale by the
   * time the caller acts on it; the consumer only ever makes it smaller.
   */
  publishedBacklog(): number {
    return (this.published - Atomics.load(this.ring.control, READ_INDEX)) | 0;
  }

  /** True when claimed frames are waiting for publish(). */
  hasUnpublished(): boolean {
    return this.claimed !== this.published;
  }

  /**
   * As tryClaim, for a body of `prefix` bytes, then 0..7 padding bytes, then `rest` bytes that
   * start at an offset ≡ `align` (mod 8) of `ring.bytes`; the padding chosen is in `lastPad`.
   * Why: V8 copies a large block between a SharedArrayBuffer and heap memory byte by byte when
   * source and target are aligned differently, ~7× slower at 4 KiB. The padding is only a speed
   * hint: whatever `lastPad` says is what the caller must record in the frame.
   */
  tryClaimAligned(prefix: number, rest: number, align: number): number {
    const pos = this.claimed & this.ring.mask;
    let pad = (align - (pos + FRAME_HEADER_BYTES + prefix)) & 7;
    if (align8(FRAME_HEADER_BYTES + prefix + pad + rest) > this.ring.capacity - pos) {
      pad = (align - (FRAME_HEADER_BYTES + prefix)) & 7; // it goes to offset 0, after a skip marker
    }
    if (prefix + pad + rest > this.maxFrameBytes) pad = 0; // never refuse a frame for its padding
    this.lastPad = pad;
    return this.tryClaim(prefix + pad + rest);
  }

  /** Padding chosen by the last tryClaimAligned. */
  lastPad = 0;

  /**
   * Publishes every claimed frame and wakes the consumer if (and only if) it is parked.
   *
   * Does nothing when nothing new was claimed: with nothing to read, taking the consumer's flag
   * and ringing its doorbell would only wake it for nothing.
   */
  publish(): void {
    if (this.claimed === this.published) return;
    this.published = this.claimed;
    Atomics.store(this.ring.control, WRITE_INDEX, this.claimed);
    // A plain load first: the exchange is a locked instruction we skip on a busy ring. The
    // consumer waits on the doorbell (not on our counter: it may park on several rings), so the
    // one who takes its flag rings the bell: the wait then returns whatever the timing.
    const wake = this.wake;
    if (Atomics.load(wake, CONSUMER_PARKED_INDEX) === 1 && Atomics.exchange(wake, CONSUMER_PARKED_INDEX, 0) === 1) {
      Atomics.add(wake, DOORBELL_INDEX, 1);
      Atomics.notify(wake, DOORBELL_INDEX);
    }
  }

  /**
   * Announces that the producer is about to wait for space, and returns the read counter to wait
   * on, or null if space for a `length`-byte frame appeared meanwhile (then do not wait; the flag
   * is cleared). After a wait, call `endWaitForSpace()`.
   *
   * Lost-wakeup safe: the flag is set before the counter is re-read, and the consumer loads the
   * flag after it stores the counter, so either we see its release here or it sees our flag and
   * notifies. Unlike the consumer's flag, only this side clears this one: we wait for *enough*
   * space, so we may have seen a release and still need to wait for the next one, whose notify
   * must not depend on a flag that the previous release already took.
   */
  prepareToWaitForSpace(length: number): number | null {
    const control = this.ring.control;
    Atomics.store(control, PRODUCER_PARKED_INDEX, 1);
    const read = Atomics.load(control, READ_INDEX);
    this.cachedRead = read;
    if (this.fits(length)) {
      Atomics.store(control, PRODUCER_PARKED_INDEX, 0);
      return null;
    }
    return read;
  }

  /** Clears the waiting flag after a wait for space ended (woken, timed out or not needed). */
  endWaitForSpace(): void {
    Atomics.store(this.ring.control, PRODUCER_PARKED_INDEX, 0);
  }

  private fits(length: number): boolean {
    const ring = this.ring;
    const need = align8(FRAME_HEADER_BYTES + length);
    const tail = ring.capacity - (this.claimed & ring.mask);
    const total = need <= tail ? need : tail + need;
    return ring.capacity - ((this.claimed - this.cachedRead) | 0) >= total;
  }
}

/**
 * The consumer side. Only one thread may own a RingReader for a ring at a time; a replacement
 * reader starts from the released position, so frames read but not released are read again.
 */
export class RingReader {
  readonly ring: RingBuffer;
  /** Position after the last frame returned by next(). Only this side changes it. */
  cursor: number;
  /**
   * Last write counter seen. It may be older than the producer's: frames published since are
   * simply found on a later call, never skipped.
   */
  private cachedWrite: number;
  /** Body length of the frame last returned by next(). */
  frameLength = 0;
  /** The read counter as this side last stored it (only this side stores it). */
  private releasedAt: number;

  constructor(ring: RingBuffer) {
    this.ring = ring;
    this.cursor = Atomics.load(ring.control, READ_INDEX);
    this.releasedAt = this.cursor;
    this.cachedWrite = Atomics.load(ring.control, WRITE_INDEX);
  }

  /** Returns the body offset of the next published frame (length in `frameLength`), or -1. */
  next(): number {
    const ring = this.ring;
    if (this.cursor === this.cachedWrite) {
      this.cachedWrite = Atomics.load(ring.control, WRITE_INDEX);
      if (this.cursor === this.cachedWrite) return -1;
    }
    let pos = this.cursor & ring.mask;
    let length = ring.words[pos >> 2]!;
    if (length === SKIP_MARKER) {
      this.cursor = (this.cursor + ring.capacity - pos) | 0;
      pos = 0;
      length = ring.words[0]!;
    }
    this.cursor = (this.cursor + align8(FRAME_HEADER_BYTES + length)) | 0;
    this.frameLength = length;
    return pos + FRAME_HEADER_BYTES;
  }

  /** True when a frame past the cursor is published (re-reads the write counter). */
  hasMore(): boolean {
    this.cachedWrite = Atomics.load(this.ring.control, WRITE_INDEX);
    return this.cursor !== this.cachedWrite;
  }

  /** The published write counter as of now. */
  published(): number {
    return Atomics.load(this.ring.control, WRITE_INDEX);
  }

  /**
   * Gives the bytes before `position` back to the producer (default: everything read so far) and
   * wakes the producer if it waits for space. Call only once the frames there are handled: a
   * replacement reader resumes from here.
   */
  release(position: number = this.cursor): void {
    if (position === this.releasedAt) return;
    this.releasedAt = position;
    const control = this.ring.control;
    Atomics.store(control, READ_INDEX, position);
    // The producer clears its own flag (see RingWriter.prepareToWaitForSpace), so every release
    // while it waits notifies; it waits only when the ring is full, so that is rare.
    if (Atomics.load(control, PRODUCER_PARKED_INDEX) === 1) Atomics.notify(control, READ_INDEX);
  }

  /** The released read counter (what a replacement reader would start from). */
  released(): number {
    return this.releasedAt;
  }

  /**
   * Announces that the consumer is about to park, and returns the doorbell value to wait on (the
   * doorbell of this ring's control words), or null if a frame arrived meanwhile, here or on
   * `other` (a ring whose writer was told to wake this one: RingWriter's `parksOn`), or an alert
   * is up (see RingBuffer.alert; the caller takes it with takeAlert).
   * Order: flag, then doorbell, then the write counters. A producer stores its counter before it
   * checks the flag; if it took the flag it bumps the doorbell after. So either we see its frame
   * here, or the bell we wait on has moved (the wait returns at once) or will move (it wakes us).
   */
  prepareToPark(other: RingReader | null = null): number | null {
    const control = this.ring.control;
    Atomics.store(control, CONSUMER_PARKED_INDEX, 1);
    const bell = Atomics.load(control, DOORBELL_INDEX);
    if (this.hasMore() || (other !== null && other.hasMore()) || Atomics.load(control, ALERT_INDEX) !== 0) {
      Atomics.store(control, CONSUMER_PARKED_INDEX, 0);
      return null;
    }
    return bell;
  }

  /** Consumer side: true once per alert() (clears the flag). A plain load first: it is checked often. */
  takeAlert(): boolean {
    const control = this.ring.control;
    return Atomics.load(control, ALERT_INDEX) !== 0 && Atomics.exchange(control, ALERT_INDEX, 0) !== 0;
  }

  /** Clears the parked flag after a wait ended (woken, timed out, or not needed). */
  unpark(): void {
    Atomics.store(this.ring.control, CONSUMER_PARKED_INDEX, 0);
  }
}
