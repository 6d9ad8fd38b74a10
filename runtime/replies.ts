/**
 * Worker → main: reads one worker's reply ring while asks to it are outstanding.
 *
 * The main thread never blocks: between batches it parks with Atomics.waitAsync (the worker
 * notifies only when it sees us parked). It listens while any ask frame to this worker has not
 * been answered, including asks that already timed out, so the worker never waits on a full ring.
 */
import { RingBuffer, RingReader } from '../shm/ring.js';
import { parkAsync } from '../shm/wait.js';
import type { MessageCodec } from './codec.js';
import { readU32, REPLY_HEADER_BYTES, REPLY_OK } from './frame.js';

export type ReplyHandler = (askId: number, ok: boolean, value: unknown) => void;

const PARK_TIMEOUT_MS = 1000;

export class ReplyChannel {
  private readonly reader: RingReader;
  /** Ask frames sent to this worker and not answered yet. */
  outstanding = 0;
  private listening = false;
  private closed = false;

  constructor(
    ring: RingBuffer,
    private readonly codec: MessageCodec,
    private readonly onReply: ReplyHandler,
  ) {
    this.reader = new RingReader(ring);
  }

  /** Call after sending an ask frame. */
  expectReply(): void {
    this.outstanding++;
    if (!this.listening && !this.closed) {
      this.listening = true;
      void this.listen();
    }
  }

  /** An ask frame that was counted but will never reach the worker. */
  cancelExpected(): void {
    this.outstanding--;
  }

  /**
   * A restarted worker answers again the asks it re-reads, some of them already answered: from now
   * on expect at least `pending` more replies (extra ones are read and dropped by ask id).
   */
  expectAtLeast(pending: number): void {
    if (this.outstanding < pending) this.outstanding = pending;
    if (this.outstanding > 0 && !this.listening && !this.closed) {
      this.listening = true;
      void this.listen();
    }
  }

  /** The worker says it waits for reply space: read what is there, whatever the count says. */
  kick(): void {
    if (this.closed) return;
    this.readAll();
    this.expectAtLeast(1);
  }

  close(): void {
    this.closed = true;
  }

  private async listen(): Promise<void> {
    try {
      while (this.outstanding > 0 && !this.closed) {
        this.readAll();
        if (this.outstanding <= 0) break;
        await parkAsync(this.reader, PARK_TIMEOUT_MS);
      }
    } finally {
      this.listening = false;
    }
  }

  private readAll(): void {
    const reader = this.reader;
    const bytes = reader.ring.bytes;
    let read = 0;
    for (;;) {
      const at = reader.next();
      if (at < 0) break;
      const length = reader.frameLength;
      const kind = bytes[at]!;
      const codec = bytes[at + 1]!;
      const askId = readU32(bytes, at + 4);
      const value = this.codec.decode(bytes, at + REPLY_HEADER_BYTES, length - REPLY_HEADER_BYTES, codec);
      if (this.outstanding > 0) this.outstanding--;
      read++;
      this.onReply(askId, kind === REPLY_OK, value);
    }
    if (read > 0) reader.release();
  }
}
