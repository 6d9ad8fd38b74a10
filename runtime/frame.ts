/**
 * The bytes of a frame body, on both rings.
 *
 * Message frame (main → worker):
 *   0  u8   frame kind (KIND_TELL, KIND_ASK, KIND_STOP)
 *   1  u8   bits 0-3: codec (see codec.ts); bits 4-6: padding bytes between key and message
 *           (aligns a large message with its source, for a fast copy); bit 7: KEY_UTF16, the key
 *           bytes are UTF-16LE code units (a key with a lone surrogate, which UTF-8 would merge
 *           with other keys)
 *   2  u16  partition
 *   4  u24  key length in bytes
 *   7  u8   actor kind (index into the runtime's actor kinds; 0 for the single-kind `actor`)
 *   8  u32  ask id (0 for a tell)
 *  12  u32  FNV-1a hash of the key (computed for routing anyway; the worker finds the key's
 *           actor by it without decoding the key to a string)
 *  16  u32  frame sequence number on this ring (0, 1, 2, ... wrapping): the worker reports the
 *           oldest unfinished one (drain), and a restarted worker knows where it resumes
 *  20  key bytes (UTF-8), padding, then the encoded message
 *
 * Reply frame (worker → main):
 *   0  u8   kind (REPLY_OK, REPLY_ERROR)
 *   1  u8   codec
 *   4  u32  ask id
 *   8  encoded value (REPLY_ERROR: an ErrorData)
 *
 * Little-endian throughout; fields are written byte by byte (no DataView per call).
 */

export const KIND_TELL = 1;
export const KIND_ASK = 2;
export const KIND_STOP = 3;
export const MESSAGE_HEADER_BYTES = 20;
/** Where the sequence number sits in a message frame (a relayed frame gets its new ring's). */
export const SEQ_OFFSET = 16;
/** Longest key in bytes (the header's 24-bit field). */
export const MAX_KEY_BYTES = 0xffffff;
export const KEY_UTF16 = 0x80;
export const CODEC_MASK = 0x0f;
export const PAD_SHIFT = 4;
export const PAD_MASK = 7;

export const REPLY_OK = 1;
export const REPLY_ERROR = 2;
export const REPLY_HEADER_BYTES = 8;

export function writeU16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
}

export function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

export function readU16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

export function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Writes a message frame's header at `at`; the caller writes key and payload after it. */
export function writeMessageHeader(
  bytes: Uint8Array,
  at: number,
  kind: number,
  codec: number,
  partition: number,
  keyLength: number,
  askId: number,
  keyHash: number,
  seq: number,
  actorKind: number,
): void {
  bytes[at] = kind;
  bytes[at + 1] = codec;
  writeU16(bytes, at + 2, partition);
  writeU32(bytes, at + 4, keyLength);
  bytes[at + 7] = actorKind;
  writeU32(bytes, at + 8, askId);
  writeU32(bytes, at + 12, keyHash);
  writeU32(bytes, at + 16, seq);
}

export function writeReplyHeader(bytes: Uint8Array, at: number, kind: number, codec: number, askId: number): void {
  bytes[at] = kind;
  bytes[at + 1] = codec;
  bytes[at + 2] = 0;
  bytes[at + 3] = 0;
  writeU32(bytes, at + 4, askId);
}

/**
 * The fields of a message frame, read in place into a reused object (no allocation per frame):
 * the worker's consume loop and close()'s scan of unprocessed frames read frames the same way.
 */
export class MessageFrameView {
  kind = 0;
  codec = 0;
  keyUtf16 = false;
  partition = 0;
  actorKind = 0;
  keyLength = 0;
  askId = 0;
  keyHash = 0;
  seq = 0;
  keyStart = 0;
  payloadStart = 0;
  payloadLength = 0;

  /** Reads the frame whose body (`length` bytes) starts at `at`. */
  read(bytes: Uint8Array, at: number, length: number): this {
    const kind = bytes[at]!;
    const flags = bytes[at + 1]!;
    this.kind = kind;
    this.codec = flags & CODEC_MASK;
    this.keyUtf16 = (flags & KEY_UTF16) !== 0;
    this.partition = readU16(bytes, at + 2);
    this.keyLength = readU32(bytes, at + 4) & MAX_KEY_BYTES;
    this.actorKind = bytes[at + 7]!;
    this.askId = kind === KIND_ASK ? readU32(bytes, at + 8) : 0;
    this.keyHash = readU32(bytes, at + 12);
    this.seq = readU32(bytes, at + 16) | 0;
    this.keyStart = at + MESSAGE_HEADER_BYTES;
    this.payloadStart = this.keyStart + this.keyLength + ((flags >> PAD_SHIFT) & PAD_MASK);
    this.payloadLength = at + length - this.payloadStart;
    return this;
  }

  /** The key as a string (decoded from the frame's bytes). */
  key(bytes: Buffer): string {
    return bytes.toString(this.keyUtf16 ? 'utf16le' : 'utf8', this.keyStart, this.keyStart + this.keyLength);
  }
}
