/**
 * Main side of actor-to-actor messages: reads one worker's outbox ring and hands each frame to
 * `route`, which writes it into the ring of the receiving partition's thread as it is (no decode,
 * no re-encode), queues it behind sends waiting there, or holds it while the partition moves.
 *
 * The relay never waits for ring space: a worker whose messages cannot move on would wait on
 * itself in a cycle (A's outbox full of messages for A's own full inbound ring). So the outbox
 * always drains; what does not fit a lane waits in that lane's queue (stats: waiting).
 */
import { RingBuffer, RingReader } from '../shm/ring.js';
import { parkAsync } from '../shm/wait.js';
import { CODEC_MASK, KEY_UTF16, MessageFrameView } from './frame.js';
import { OutboundFrame } from './frame-writer.js';

const PARK_TIMEOUT_MS = 1000;

export type RouteEncoded = (bytes: Buffer, at: number, length: number) => void;

export class Relay {
  private readonly reader: RingReader;
  /** Frames taken out of the outbox so far (compared with the worker's produced count). */
  relayed: number;
  private closed = false;
  private readonly waiters: { target: number; resolve(): void }[] = [];

  constructor(
    sab: SharedArrayBuffer,
    relayed: number,
    private readonly route: RouteEncoded,
  ) {
    this.reader = new RingReader(new RingBuffer(sab));
    this.relayed = relayed;
    void this.loop();
  }

  /** Reads whatever is in the outbox now (a worker died: nothing more comes from it). */
  readNow(): void {
    this.readAll();
  }

  /** Resolves once `target` frames (wrap-safe) have been relayed. */
  whenRelayed(target: number): Promise<void> {
    if (((this.relayed - target) | 0) >= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ target, resolve }));
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      this.readAll();
      await parkAsync(this.reader, PARK_TIMEOUT_MS);
    }
  }

  private readAll(): void {
    const reader = this.reader;
    const bytes = reader.ring.bytes;
    let read = 0;
    for (let at = reader.next(); at >= 0; at = reader.next()) {
      this.route(bytes, at, reader.frameLength);
      read++;
    }
    if (read === 0) return;
    reader.release();
    this.relayed = (this.relayed + read) | 0;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (((this.relayed - w.target) | 0) >= 0) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}

const view = new MessageFrameView();

/** An encoded message frame as an OutboundFrame (its payload a view of `bytes`: copy before keeping it). */
export function frameFromEncoded(bytes: Buffer, at: number, length: number): OutboundFrame {
  const f = view.read(bytes, at, length);
  return OutboundFrame.of({
    kind: f.kind,
    actorKind: f.actorKind,
    codec: bytes[at + 1]! & (CODEC_MASK | KEY_UTF16), // codec and KEY_UTF16, without the padding (re-chosen when written)
    partition: f.partition,
    key: f.key(bytes),
    keyLength: f.keyLength,
    keyHash: f.keyHash,
    askId: 0,
    payload: bytes,
    payloadStart: f.payloadStart,
    payloadEnd: f.payloadStart + f.payloadLength,
  });
}
