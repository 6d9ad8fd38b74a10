/**
 * Worker → main: reads one worker's reply ring while asks to it are outstanding.
 *
 * The main thread never blocks: between batches it parks with Atomics.waitAsync (the worker
 * notifies only when it sees us parked). It listens while any ask frame to this worker has not
 * been answered, including asks that already timed out, so the worker never waits on a full ring.
 * It tracks the ask ids it waits for, not a count: a restarted worker answers again the asks it
 * re-reads, and such a duplicate must not stand in for a reply still to come.
 */
import { RingBuffer, RingReader } from '../shm/ring.js';
import { parkAsync } from '../shm/wait.js';
import type { MessageCodec } from './codec.js';
import { readU32, REPLY_HEADER_BYTES, REPLY_OK } from './frame.js';

export type ReplyHandler = (askId: number, ok: boolean, value: unknown) => void;

const PARK_TIMEOUT_MS = 1000;

export class ReplyChannel {
  private readonly reader: RingReader;
  /** Ask ids sent to this worker and not answered yet. */
  private readonly expected = new Set<number>();
  private listening = false;
  private closed = false;

  constructor(
    ring: RingBuffer,
    private readonly codec: MessageCodec,
    private readonly onReply: ReplyHandler,
  ) {
    this.reader = new RingReader(ring);
  }

  /** Call when sending an ask frame. */
  expectReply(askId: number): void {
    this.expected.add(askId);
    this.listen();
  }

  /** An ask frame that was counted but will never reach the worker. */
  cancelExpected(askId: number): void {
    this.expected.delete(askId);
  }

  /** The worker says it waits for reply space: read what is there, whatever we expect. */
  kick(): void {
    if (this.closed) return;
    this.readAll();
    this.listen();
  }

  /** The worker is gone: takes the replies it wrote last, then stops listening. */
  close(): void {
    if (this.closed) return;
    this.readAll();
    this.closed = true;
  }

  private listen(): void {
    if (this.listening || this.closed || this.expected.size === 0) return;
    this.listening = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.expected.size > 0 && !this.closed) {
        this.readAll();
        if (this.expected.size === 0) break;
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
      read++;
      if (this.expected.delete(askId)) this.onReply(askId, kind === REPLY_OK, value); // else a duplicate
    }
    if (read > 0) reader.release();
  }
}
