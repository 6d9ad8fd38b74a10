/**
 * What is still in a ring when close() gives up waiting: every message frame from the worker's
 * done watermark on, decoded on the main thread so it can be reported instead of lost. Read only
 * after the worker is gone and the runtime is closed, so nobody writes or releases the ring then.
 * Frames past the oldest unfinished one may already have run (a worker finishes out of order
 * around an async receive): these are the messages not *confirmed* processed.
 */
import { RingReader, type RingBuffer } from '../shm/ring.js';
import type { MessageCodec } from './codec.js';
import { KIND_STOP, MessageFrameView } from './frame.js';

export interface Leftover {
  key: string;
  partition: number;
  /** The message (undefined if it could not be decoded). */
  message: unknown;
  /** 0 for a send. */
  askId: number;
}

export function unprocessedFrames(ring: RingBuffer, fromSeq: number, codec: MessageCodec): Leftover[] {
  const reader = new RingReader(ring); // starts at the released position; it never releases
  const view = new MessageFrameView();
  const out: Leftover[] = [];
  for (let at = reader.next(); at >= 0; at = reader.next()) {
    const f = view.read(ring.bytes, at, reader.frameLength);
    if (f.kind === KIND_STOP || ((f.seq - fromSeq) | 0) < 0) continue;
    let message: unknown;
    try {
      message = codec.decode(ring.bytes, f.payloadStart, f.payloadLength, f.codec);
    } catch {
      message = undefined;
    }
    out.push({ key: f.key(ring.bytes), partition: f.partition, message, askId: f.askId });
  }
  return out;
}
