/**
 * Writing one message frame into a ring: the main thread's lanes and a worker's outbox (ctx.send)
 * write frames the same way.
 */
import type { RingWriter } from '../shm/ring.js';
import { CODEC_SHAPES, type MessageCodec } from './codec.js';
import { copyBytes, LOOP_COPY_MAX, writeUtf8 } from './bytes.js';
import { KEY_UTF16, MESSAGE_HEADER_BYTES, PAD_SHIFT, writeMessageHeader } from './frame.js';

/** One frame's fields, before it is written. */
export interface FrameFields {
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

const NO_PAYLOAD = new Uint8Array(0);

/**
 * A frame before it is written. Every frame that reaches writeFrame is one of these, never an
 * object literal or a spread copy: writeFrame's field loads then see a single hidden class. With
 * literals, spreads and the waiting queue's extended copies they saw more than four and went
 * megamorphic (V8's --log-ic showed it), a dictionary lookup per field on the hot send path.
 */
export class OutboundFrame implements FrameFields {
  kind: number;
  actorKind = 0;
  codec = 0;
  partition = 0;
  key = '';
  keyLength = 0;
  keyHash = 0;
  askId = 0;
  payload: Uint8Array = NO_PAYLOAD;
  payloadStart = 0;
  payloadEnd = 0;

  constructor(kind: number) {
    this.kind = kind;
  }

  static of(fields: FrameFields): OutboundFrame {
    const frame = new OutboundFrame(fields.kind);
    frame.actorKind = fields.actorKind;
    frame.codec = fields.codec;
    frame.partition = fields.partition;
    frame.key = fields.key;
    frame.keyLength = fields.keyLength;
    frame.keyHash = fields.keyHash;
    frame.askId = fields.askId;
    frame.payload = fields.payload;
    frame.payloadStart = fields.payloadStart;
    frame.payloadEnd = fields.payloadEnd;
    return frame;
  }

  /** The frame with a private copy of its payload (Buffer#slice would only be a view of the codec's reused buffer). */
  copy(): OutboundFrame {
    const payload = new Uint8Array(this.payloadEnd - this.payloadStart);
    copyBytes(this.payload, this.payloadStart, payload, 0, payload.length);
    const frame = OutboundFrame.of(this);
    frame.payload = payload;
    frame.payloadStart = 0;
    frame.payloadEnd = payload.length;
    return frame;
  }
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
  const payloadAt = writeFrameHead(bytes, at, frame, frame.codec | (pad << PAD_SHIFT), seq) + pad;
  copyBytes(frame.payload, frame.payloadStart, bytes, payloadAt, payloadLength);
  return true;
}

/** Writes the message header (with `codec`, padding included) and the key at `at`; returns where the payload goes. */
function writeFrameHead(bytes: Buffer, at: number, frame: OutboundFrame, codec: number, seq: number): number {
  writeMessageHeader(bytes, at, frame.kind, codec, frame.partition, frame.keyLength, frame.askId, frame.keyHash, seq, frame.actorKind);
  const keyAt = at + MESSAGE_HEADER_BYTES;
  if (frame.codec & KEY_UTF16) bytes.write(frame.key, keyAt, frame.keyLength, 'utf16le');
  else writeUtf8(bytes, keyAt, frame.key, frame.keyLength);
  return keyAt + frame.keyLength;
}

/**
 * Payload bytes a frame written by writeFrameEncoding claims before its message is encoded (the
 * rest goes back once the size is known): W1-like messages take tens of bytes; one of more takes
 * the general path.
 */
export const DIRECT_PAYLOAD_ROOM = 4096;

/**
 * Writes `frame` (its payload fields unused) with `msg` encoded straight into the ring by the
 * codec's shape encoder: no encode buffer, no copy (DESIGN's data path). False, with nothing
 * written, when the ring has no room for DIRECT_PAYLOAD_ROOM now or the shape encoder does not
 * take the message: the caller then encodes it the general way (which also raises its errors).
 * What a getter in the message throws comes out of here, with nothing written. Not published.
 * The caller must not write to this ring while this runs (a getter that sends: see Runtime.encoding).
 */
export function writeFrameEncoding(writer: RingWriter, frame: OutboundFrame, msg: unknown, codec: MessageCodec, seq: number): boolean {
  const prefix = MESSAGE_HEADER_BYTES + frame.keyLength;
  const claim = prefix + DIRECT_PAYLOAD_ROOM;
  if (claim > writer.maxFrameBytes) return false; // a small ring: the general path sizes the frame exactly
  const at = writer.tryClaim(claim);
  if (at < 0) return false;
  const bytes = writer.ring.bytes;
  const payloadAt = at + prefix;
  let end: number;
  try {
    end = codec.encodeShapesInto(msg, bytes, payloadAt, payloadAt + DIRECT_PAYLOAD_ROOM);
  } catch (error) {
    writer.unclaim(); // a getter or proxy in the message threw: the half-written claim must not be published
    throw error;
  }
  if (end < 0) {
    writer.unclaim();
    return false;
  }
  writeFrameHead(bytes, at, frame, frame.codec | CODEC_SHAPES, seq);
  writer.shrinkLast(end - at);
  return true;
}
