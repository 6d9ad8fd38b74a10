/**
 * Writing one message frame into a ring: the main thread's lanes and a worker's outbox (ctx.send)
 * write frames the same way.
 */
import type { RingWriter } from '../shm/ring.js';
import { copyBytes, LOOP_COPY_MAX, writeUtf8 } from './bytes.js';
import { KEY_UTF16, MESSAGE_HEADER_BYTES, PAD_SHIFT, writeMessageHeader } from './frame.js';

/** One frame's fields, before it is written. */
export interface OutboundFrame {
  kind: number;
  /** Which actor kind receives it (see frame.ts). */
  actorKind: number;
  codec: number;
  partition: number;
  key: string;
  keyLength: number;
  keyHash: number;
  askId: number;
  /** The encoded message is payload[payloadStart, payloadEnd). */
  payload: Uint8Array;
  payloadStart: number;
  payloadEnd: number;
}

/** The frame with a private copy of its payload (Buffer#slice would only be a view of the codec's reused buffer). */
export function copyFrame(frame: OutboundFrame): OutboundFrame {
  const payload = new Uint8Array(frame.payloadEnd - frame.payloadStart);
  copyBytes(frame.payload, frame.payloadStart, payload, 0, payload.length);
  return { ...frame, payload, payloadStart: 0, payloadEnd: payload.length };
}

/**
 * The body size of a message frame; a RangeError (naming `ring`, with `advice`) when it can never
 * fit a ring whose largest frame is `maxFrameBytes`.
 */
export function checkedFrameSize(maxFrameBytes: number, keyLength: number, payloadLength: number, ring: string, advice: string): number {
  const size = MESSAGE_HEADER_BYTES + keyLength + payloadLength;
  if (size > maxFrameBytes) {
    throw new RangeError(`message of ${payloadLength} bytes (encoded) is too large for ${ring}: at most ${maxFrameBytes - MESSAGE_HEADER_BYTES - keyLength} bytes fit${advice}`);
  }
  return size;
}

/** Claims space and writes the frame with sequence number `seq`; false (nothing written) when the ring is full. Not published. */
export function writeFrame(writer: RingWriter, frame: OutboundFrame, seq: number): boolean {
  const payloadLength = frame.payloadEnd - frame.payloadStart;
  const prefix = MESSAGE_HEADER_BYTES + frame.keyLength;
  // A large message goes where its bytes line up with their source mod 8 (see tryClaimAligned).
  const aligned = payloadLength > LOOP_COPY_MAX;
  const at = aligned
    ? writer.tryClaimAligned(prefix, payloadLength, frame.payload.byteOffset + frame.payloadStart)
    : writer.tryClaim(prefix + payloadLength);
  if (at < 0) return false;
  const pad = aligned ? writer.lastPad : 0;
  const bytes = writer.ring.bytes;
  writeMessageHeader(bytes, at, frame.kind, frame.codec | (pad << PAD_SHIFT), frame.partition, frame.keyLength, frame.askId, frame.keyHash, seq, frame.actorKind);
  const keyAt = at + MESSAGE_HEADER_BYTES;
  if (frame.codec & KEY_UTF16) bytes.write(frame.key, keyAt, frame.keyLength, 'utf16le');
  else writeUtf8(bytes, keyAt, frame.key, frame.keyLength);
  copyBytes(frame.payload, frame.payloadStart, bytes, keyAt + frame.keyLength + pad, payloadLength);
  return true;
}
