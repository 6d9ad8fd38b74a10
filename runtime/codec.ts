/**
 * Message encoding with structured-clone meaning.
 *
 * Three codecs:
 * - CODEC_RECORDS, msgpackr with record structures (`moreTypes`): the fast path for what the main
 *   thread sends to its workers (plain objects and arrays of strings, numbers, booleans, bigint,
 *   Date, Set, RegExp, typed arrays, ArrayBuffer, Buffer). An object's keys are written once, in
 *   the runtime's SharedStructures (see structures.ts), not in every frame: about half the bytes,
 *   and decoding builds the object from a compiled literal instead of key by key (~2x faster).
 * - CODEC_PLAIN, msgpackr with records off: the same types with the keys in every frame, so any
 *   reader decodes it without a registry. What workers send (ctx.send, replies) and what the
 *   cluster puts in Redis, where no registry of this runtime's main thread reaches.
 * - CODEC_V8, `node:v8` serialize: V8's own ValueSerializer, the very algorithm behind
 *   `postMessage`'s structured clone. Used for what msgpackr would change: a Map (it would become
 *   a plain object), an object reached twice (a shared reference or a cycle), -0 (msgpackr writes
 *   integer 0), a string with a lone surrogate (msgpackr writes UTF-8, which replaces it), an Error,
 *   a boxed primitive (it would become an empty object), an array with holes (they would become
 *   undefined), an own '__proto__' key (msgpackr's reader renames it).
 *
 * One scan of the message picks the codec and refuses, with a TypeError before anything is
 * written, what structured clone refuses: functions, symbols, WeakMap, WeakSet, WeakRef, Promise.
 * The writer of records first tries ShapeEncoder (shape-encoder.ts), which does scan and pack in
 * one walk for messages of known shapes and simple values, and falls back to this general path.
 * Its frames are CODEC_SHAPES: msgpackr's record bytes, read by ShapeDecoder (shape-decoder.ts)
 * in place, without the heap copy msgpackr needs.
 *
 * msgpackr decodes from a heap copy of the frame, never from the SharedArrayBuffer itself: its
 * native string extractor crashes the process on SharedArrayBuffer-backed input.
 */
import { deserialize, serialize } from 'node:v8';
import { Packr, Unpackr, REUSE_BUFFER_MODE, RESET_BUFFER_MODE } from 'msgpackr';
import { copyBytes } from './bytes.js';
import { MAX_SHARED_STRUCTURES, type SharedStructures } from './structures.js';
import { hasLoneSurrogate, keyNeedsV8 } from './msgpackr-limits.js';
import { objectPrototypeClean } from './own-keys.js';
import { ShapeDecoder } from './shape-decoder.js';
import { ShapeEncoder } from './shape-encoder.js';
import { Visits } from './visits.js';

export const CODEC_PLAIN = 0;
export const CODEC_V8 = 1;
export const CODEC_RECORDS = 2;
/** CODEC_RECORDS bytes that the shape encoder wrote: only its subset, so its own reader reads them (shape-decoder.ts). */
export const CODEC_SHAPES = 3;
export type CodecId = typeof CODEC_PLAIN | typeof CODEC_V8 | typeof CODEC_RECORDS | typeof CODEC_SHAPES;

function refuseFunction(): never {
  throw new TypeError('a function cannot be sent: messages must be structured-clone-able');
}

/** Options objects are created per Packr: msgpackr mutates the object it is given. */
const plainOptions = () => ({ moreTypes: true, useRecords: false, copyBuffers: true, writeFunction: refuseFunction });
const recordOptions = () => ({ moreTypes: true, useRecords: true, mapsAsObjects: true, copyBuffers: true, writeFunction: refuseFunction });

/**
 * The packer of CODEC_RECORDS frames, adding new shapes to `structures` (pack with packReused, as
 * MessageCodec does). Also the benchmark's encode floor.
 */
export function newRecordPacker(structures: SharedStructures): Packr {
  return new Packr({
    ...recordOptions(),
    structures: [],
    maxSharedStructures: MAX_SHARED_STRUCTURES,
    // A shape the registry cannot take goes as a plain map. msgpackr's per-message records would
    // read a second use of such a shape in one message through the shared ids, which a registry
    // that is full by bytes but young does not have: the message would not decode.
    maxOwnStructures: 0,
    saveStructures: (list: string[][]) => structures.save(list),
    shouldShareStructure: (keys: string[]) => structures.shouldShare(keys),
  });
}

/**
 * What msgpackr's `pack` returns in REUSE_BUFFER_MODE: its reused buffer with the bytes at
 * [start, end); or, from the pack that saved a new record structure, a fresh subarray holding
 * just those bytes, without start/end. packedStart/packedEnd read either.
 */
export type ReusedPack = Buffer & { start?: number; end?: number };

/** Packs `value` into the packer's reused buffer (no allocation per message). */
export const packReused = (packr: Packr, value: unknown): ReusedPack => packr.pack(value, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as ReusedPack;
export const packedStart = (packed: ReusedPack): number => packed.start ?? 0;
export const packedEnd = (packed: ReusedPack): number => packed.end ?? packed.length;

/** msgpackr's merge of loaded structures into its own (what its getStructures path runs; not in its types). */
interface MergingUnpackr {
  structures: unknown;
  _mergeStructures(loaded: string[][], existing: unknown): unknown;
}

/** Which record structures a codec reads frames with, and whether it also writes with them. */
export interface CodecOptions {
  /** The registry CODEC_RECORDS frames are decoded with. */
  structures?: SharedStructures;
  /** Encode with records, adding shapes to the registry: only its one writer (the main thread). */
  writeRecords?: boolean;
  /** Records without the fast path (shape-encoder.ts): every message scanned, then packed by msgpackr. For tests and benchmarks. */
  generalOnly?: boolean;
}

/** The objects the current scan has met. */
const visits = new Visits();

const refused = (what: string): TypeError =>
  new TypeError(`a message cannot contain a ${what} (structured clone refuses it)`);

/**
 * Walks a message: throws TypeError on anything structured clone refuses, and returns true when
 * only CODEC_V8 keeps its meaning (see the module comment).
 */
export function scanMessage(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return scan(value);
  try {
    return scan(value);
  } finally {
    visits.clear();
  }
}

function scan(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
      return hasLoneSurrogate(value);
    case 'number':
      return value === 0 && 1 / value < 0; // -0
    case 'function':
      throw refused('function');
    case 'symbol':
      throw refused('symbol');
    case 'object':
      break;
    default:
      return false; // undefined, boolean, bigint
  }
  if (value === null) return false;
  if (visits.seen(value)) return true; // shared or cyclic: only CODEC_V8 keeps the graph's shape
  let v8 = false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      // A hole (msgpackr would write undefined there) only where an element reads undefined.
      if (scan(item) || (item === undefined && !(i in value))) v8 = true;
    }
    return v8;
  }
  const record = value as Record<string, unknown>;
  if (Object.getPrototypeOf(record) === Object.prototype && objectPrototypeClean()) {
    // The common case first: a plain object's for-in sees its own properties only (with
    // enumerable ones on Object.prototype, the loop below checks each key, as structured clone
    // and msgpackr skip inherited keys). An own '__proto__' key (JSON.parse makes them) would
    // arrive renamed from msgpackr.
    for (const k in record) if (scan(record[k]) || keyNeedsV8(k)) v8 = true;
    return v8;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp) {
    return false;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      scan(k);
      scan(v);
    }
    return true;
  }
  if (value instanceof Set) {
    for (const v of value) if (scan(v)) v8 = true;
    return v8;
  }
  // Boxed primitives stay boxed in structured clone; msgpackr would make them empty objects.
  if (value instanceof Number || value instanceof String || value instanceof Boolean || value instanceof BigInt) return true;
  if (value instanceof Symbol) throw refused('Symbol object');
  if (value instanceof Promise) throw refused('Promise');
  if (value instanceof WeakMap) throw refused('WeakMap');
  if (value instanceof WeakSet) throw refused('WeakSet');
  if (value instanceof WeakRef) throw refused('WeakRef');
  if (value instanceof Error) v8 = true;
  for (const k in record) {
    if (!Object.hasOwn(record, k)) continue; // structured clone copies own properties only
    if (scan(record[k]) || keyNeedsV8(k)) v8 = true;
  }
  return v8;
}

/** One encoder/decoder pair; one per thread side (msgpackr instances are not re-entrant across threads). */
export class MessageCodec {
  private readonly plain = new Packr(plainOptions());
  /** What messages msgpackr keeps the meaning of are packed with: the record packer, or `plain`. */
  private readonly encoder: Packr;
  private readonly encoderCodec: CodecId;
  private readonly records: Unpackr | null;
  private readonly structures: SharedStructures | undefined;
  /** The fast path for shapes the registry holds (the writer of records only). */
  private readonly shapes: ShapeEncoder | null;
  /** Reads what the fast path wrote (any codec with the registry). */
  private readonly shapeReader = new ShapeDecoder();
  /** Heap scratch the frame is copied into before decoding. */
  private scratch = Buffer.allocUnsafeSlow(4096);
  private readonly decodeRange = { start: 0, end: 0 };
  /** Which codec the last encode() used. */
  lastCodec: CodecId = CODEC_PLAIN;
  /** Where the last encode() put its bytes in the returned buffer. */
  lastStart = 0;
  lastEnd = 0;

  constructor(options: CodecOptions = {}) {
    const { structures, writeRecords = false } = options;
    if (writeRecords && structures === undefined) throw new TypeError('writeRecords needs the structures to write to');
    this.structures = structures;
    this.records = structures ? new Unpackr({ ...recordOptions(), getStructures: () => this.loadShapes() }) : null;
    this.encoder = writeRecords ? newRecordPacker(structures!) : this.plain;
    this.encoderCodec = writeRecords ? CODEC_RECORDS : CODEC_PLAIN;
    this.shapes = writeRecords && !options.generalOnly ? new ShapeEncoder(structures!) : null;
  }

  /**
   * Encodes a message and returns a buffer holding it at [lastStart, lastEnd), valid only until
   * the next encode: copy the bytes out before that. (msgpackr packs into its reused buffer: no
   * allocation per message, but for the one that adds a record shape.) Throws TypeError for what
   * structured clone refuses.
   */
  encode(value: unknown): Buffer {
    const shapes = this.shapes;
    if (shapes !== null) {
      const end = shapes.encode(value);
      if (end >= 0) {
        this.lastCodec = CODEC_SHAPES;
        this.lastStart = 0;
        this.lastEnd = end;
        return shapes.buffer;
      }
    }
    if (scanMessage(value)) return this.encodeV8(value);
    this.lastCodec = this.encoderCodec;
    let target: ReusedPack;
    try {
      target = packReused(this.encoder, value);
    } catch (error) {
      this.structures?.dropPromises(); // room promised to shapes of this failed pack
      if (error instanceof TypeError) throw error;
      // What msgpackr cannot write but structured clone can (an object of more than 65,535 keys).
      return this.encodeV8(value);
    }
    this.lastStart = packedStart(target);
    this.lastEnd = packedEnd(target);
    return target;
  }

  /**
   * The fast path alone, straight into target[start, limit) (a ring's bytes): returns the end of the
   * bytes (a CODEC_SHAPES payload), or -1 when the message is not one the shape encoder takes or
   * does not fit there; then encode() must take it. Throws only what the message's own getters or
   * proxies throw.
   */
  encodeShapesInto(value: unknown, target: Buffer, start: number, limit: number): number {
    return this.shapes === null ? -1 : this.shapes.encodeInto(value, target, start, limit);
  }

  private encodeV8(value: unknown): Buffer {
    let bytes: Buffer;
    try {
      bytes = serialize(value);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TypeError(`message cannot be encoded: ${reason}`, { cause: error });
    }
    this.lastCodec = CODEC_V8;
    this.lastStart = 0;
    this.lastEnd = bytes.length;
    return bytes;
  }

  /** Decodes `length` bytes at `offset` of `source` (typically a ring's shared bytes). */
  decode(source: Buffer, offset: number, length: number, codec: number): unknown {
    if (length === 0) return undefined;
    if (codec === CODEC_SHAPES) {
      this.loadNewStructures();
      return this.shapeReader.decode(source, offset, length); // in place: no copy, msgpackr not involved
    }
    // Same offset mod 8 in the scratch as in the source: V8 copies a large block between shared
    // and heap memory byte by byte when the two are aligned differently (about 7× slower at 4 KiB).
    const at = offset & 7;
    if (this.scratch.length < at + length) this.scratch = Buffer.allocUnsafeSlow(Math.max(at + length, this.scratch.length * 2));
    copyBytes(source, offset, this.scratch, at, length);
    if (codec === CODEC_V8) return deserialize(this.scratch.subarray(at, at + length));
    this.decodeRange.start = at;
    this.decodeRange.end = at + length;
    if (codec === CODEC_RECORDS) {
      this.loadNewStructures();
      return this.records!.unpack(this.scratch, this.decodeRange);
    }
    return this.plain.unpack(this.scratch, this.decodeRange);
  }

  /**
   * Before a frame that may name a new record structure: takes what the registry published since
   * the last load, into both readers. Merged before msgpackr's unpack, not in it: msgpackr's own
   * load, in mid-unpack, swaps its source for a Uint8Array copy, and a Buffer in that message
   * would arrive as a Uint8Array.
   */
  private loadNewStructures(): void {
    const { records, structures } = this;
    if (records === null || structures === undefined) throw new TypeError('a records frame, and this codec has no record structures');
    if (!structures.hasNew()) return;
    const merging = records as unknown as MergingUnpackr;
    merging._mergeStructures(this.loadShapes(), merging.structures);
  }

  /**
   * Every structure the registry published (msgpackr's getStructures too, should msgpackr ever
   * load by itself): the shape reader learns them at the same time, so neither falls behind.
   */
  private loadShapes(): string[][] {
    const loaded = this.structures!.load();
    this.shapeReader.learn(loaded.slice()); // its own list: msgpackr's merge rewrites the one it gets
    return loaded;
  }
}
