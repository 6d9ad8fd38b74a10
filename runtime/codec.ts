/**
 * Message encoding with structured-clone meaning, on msgpackr.
 *
 * Two stateless codecs (no shared record structures, so any reader can decode any frame, e.g. a
 * replacement worker): a fast one for the common case, and msgpackr's structuredClone mode when
 * the message holds a Map (the fast one would turn it into a plain object) or is deep enough to
 * be cyclic. A scan picks one and refuses what structured clone refuses (functions, symbols) with
 * a TypeError before anything is written.
 *
 * Decoding always reads from a heap copy of the frame, never from the SharedArrayBuffer itself:
 * msgpackr's native string extractor crashes the process on SharedArrayBuffer-backed input.
 */
import { Packr, REUSE_BUFFER_MODE, RESET_BUFFER_MODE } from 'msgpackr';
import { copyBytes } from './bytes.js';

export const CODEC_PLAIN = 0;
export const CODEC_STRUCTURED = 1;
export type CodecId = typeof CODEC_PLAIN | typeof CODEC_STRUCTURED;

/** Deeper than this, a message is treated as possibly cyclic and goes through the structured codec. */
const MAX_PLAIN_DEPTH = 32;

function refuseFunction(): never {
  throw new TypeError('a function cannot be sent: messages must be structured-clone-able');
}

/** Options objects are created per Packr: msgpackr mutates the object it is given. */
const plainOptions = () => ({ moreTypes: true, useRecords: false, copyBuffers: true, writeFunction: refuseFunction });
const structuredOptions = () => ({ structuredClone: true, copyBuffers: true, writeFunction: refuseFunction });

/**
 * Walks a message: throws TypeError on a function or symbol anywhere in it, and returns true when
 * the structured codec is needed (a Map, or nesting past MAX_PLAIN_DEPTH).
 */
export function scanMessage(value: unknown, depth = 0): boolean {
  const type = typeof value;
  if (type === 'function') throw new TypeError('a message cannot contain a function (structured clone refuses it)');
  if (type === 'symbol') throw new TypeError('a message cannot contain a symbol (structured clone refuses it)');
  if (type !== 'object' || value === null) return false;
  if (depth >= MAX_PLAIN_DEPTH) return true;
  if (Array.isArray(value)) {
    let structured = false;
    for (let i = 0; i < value.length; i++) if (scanMessage(value[i], depth + 1)) structured = true;
    return structured;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      scanMessage(k, depth + 1);
      scanMessage(v, depth + 1);
    }
    return true;
  }
  if (value instanceof Set) {
    let structured = false;
    for (const v of value) if (scanMessage(v, depth + 1)) structured = true;
    return structured;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp) {
    return false;
  }
  let structured = false;
  const record = value as Record<string, unknown>;
  for (const k in record) if (scanMessage(record[k], depth + 1)) structured = true;
  return structured;
}

/** One encoder/decoder pair; one per thread side (msgpackr instances are not re-entrant across threads). */
export class MessageCodec {
  private readonly plain = new Packr(plainOptions());
  private readonly structured = new Packr(structuredOptions());
  /** Heap scratch the frame is copied into before decoding. */
  private scratch = Buffer.allocUnsafe(4096);
  private readonly decodeRange = { start: 0, end: 0 };
  /** Which codec the last encode() used. */
  lastCodec: CodecId = CODEC_PLAIN;
  /** Where the last encode() put its bytes in the returned buffer. */
  lastStart = 0;
  lastEnd = 0;

  /**
   * Encodes a message into msgpackr's own reused buffer and returns that buffer; the bytes are
   * at [lastStart, lastEnd) and valid only until the next encode: copy them out before that.
   * (Reuse mode: no allocation per message.)
   */
  encode(value: unknown): Buffer {
    const structured = scanMessage(value);
    this.lastCodec = structured ? CODEC_STRUCTURED : CODEC_PLAIN;
    try {
      const target = (structured ? this.structured : this.plain).pack(value, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Buffer & {
        start: number;
        end: number;
      };
      this.lastStart = target.start;
      this.lastEnd = target.end;
      return target;
    } catch (error) {
      if (error instanceof TypeError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new TypeError(`message cannot be encoded: ${reason}`, { cause: error });
    }
  }

  /** Decodes `length` bytes at `offset` of `source` (typically a ring's shared bytes). */
  decode(source: Buffer, offset: number, length: number, codec: number): unknown {
    if (length === 0) return undefined;
    if (this.scratch.length < length) this.scratch = Buffer.allocUnsafe(Math.max(length, this.scratch.length * 2));
    copyBytes(source, offset, this.scratch, 0, length);
    this.decodeRange.end = length;
    return (codec === CODEC_STRUCTURED ? this.structured : this.plain).unpack(this.scratch, this.decodeRange);
  }
}
