/**
 * The main thread's fast encoder: the structured-clone scan and msgpackr's records `pack` in one
 * walk, for the messages services send over and over. It writes the MessagePack records that
 * msgpackr's Unpackr reads, using only record structures already in the shared registry
 * (structures.ts). Its frames are marked CODEC_SHAPES, so a worker knows they hold only this
 * subset and reads them with ShapeDecoder (shape-decoder.ts), straight from the ring.
 *
 * What it takes: null, booleans, numbers but -0, well-formed strings, dense arrays of these, and
 * plain (or null-prototype) objects whose key list is one of the registry's first 32 structures
 * (their record id is one byte), nested up to MAX_DEPTH, no object reached twice, while
 * Object.prototype has no enumerable property (a plain object's for-in would list it too). For
 * anything else encode() returns -1 and the caller takes the general path (scan, then msgpackr),
 * which also adds new shapes to the registry and raises the TypeErrors. Nothing it wrote is seen
 * then; only getters run again (as they already run in both the scan and msgpackr's pack).
 *
 * Where it writes what msgpackr would write differently, both are valid MessagePack that
 * msgpackr reads to the same value: integers 0x40-0xff as uint8 (with records on, msgpackr's
 * reader takes the bytes 0x40-0x7f as record ids), strings with a str8/16/32 header sized by
 * their UTF-16 length (the UTF-8 length is known only after writing them).
 */
import { writeFloat64BE } from './bytes.js';
import { hasLoneSurrogate, keyNeedsV8 } from './msgpackr-limits.js';
import { objectPrototypeClean } from './own-keys.js';
import { FIRST_RECORD_ID, type SharedStructures } from './structures.js';
import { Visits } from './visits.js';

/** Record ids from 0x40 to 0x5f are one byte; later ones take msgpackr's two-byte form (not written here). */
const ONE_BYTE_RECORD_IDS = 32;
/** Deeper messages take the general path (whose recursion has no limit of its own but the stack). */
const MAX_DEPTH = 32;
/** Bytes a message may take; larger ones take the general path. */
const CAPACITY = 64 * 1024;
/** Every value but a string writes at most 9 bytes (a float64), so a walk checks room once per value. */
const VALUE_ROOM = 16;

/** One step of the key-list tree: the node reached by a shape's first keys, in order. */
class ShapeNode {
  /** The record id of the shape whose key list ends here; 0 for none. */
  id = 0;
  private readonly children = new Map<string, ShapeNode>();
  /** The child looked up last: most nodes see one shape only, and this skips the Map then. */
  private lastKey: string | undefined = undefined;
  private lastChild: ShapeNode | undefined = undefined;

  child(key: string): ShapeNode | undefined {
    if (key === this.lastKey) return this.lastChild;
    const child = this.children.get(key);
    if (child !== undefined) {
      this.lastKey = key;
      this.lastChild = child;
    }
    return child;
  }

  childOrNew(key: string): ShapeNode {
    let child = this.children.get(key);
    if (child === undefined) this.children.set(key, (child = new ShapeNode()));
    return child;
  }
}

/** Writes the low 16 bits of `v` big-endian at `pos`. */
function writeU16BE(b: Uint8Array, pos: number, v: number): void {
  b[pos] = (v >>> 8) & 0xff;
  b[pos + 1] = v & 0xff;
}

/** Writes the low 32 bits of `v` big-endian (MessagePack's byte order) at `pos`. */
function writeU32BE(b: Uint8Array, pos: number, v: number): void {
  b[pos] = v >>> 24;
  b[pos + 1] = (v >>> 16) & 0xff;
  b[pos + 2] = (v >>> 8) & 0xff;
  b[pos + 3] = v & 0xff;
}

/** Writes a MessagePack type byte and then `v` in `size` (1, 2 or 4) big-endian bytes; returns the position after them. */
function writeSized(b: Uint8Array, pos: number, type: number, v: number, size: 1 | 2 | 4): number {
  b[pos] = type;
  if (size === 1) b[pos + 1] = v & 0xff;
  else if (size === 2) writeU16BE(b, pos + 1, v);
  else writeU32BE(b, pos + 1, v);
  return pos + 1 + size;
}

export class ShapeEncoder {
  /** Where encode() writes: bytes [0, end) after an encode that returned `end`. */
  readonly buffer = Buffer.allocUnsafeSlow(CAPACITY);
  /** Where the current encode writes, and the end it must stay within. */
  private target: Buffer = this.buffer;
  private limit = CAPACITY;
  private readonly root = new ShapeNode();
  private readonly structures: SharedStructures;
  /** How many of the registry's structures are in the tree. */
  private learned = 0;
  private readonly visits = new Visits();
  private pos = 0;

  constructor(structures: SharedStructures) {
    this.structures = structures;
  }

  /** Encodes `value` into `buffer`; returns the end of its bytes, or -1 when the general path must take it. */
  encode(value: unknown): number {
    return this.encodeInto(value, this.buffer, 0, CAPACITY);
  }

  /**
   * Encodes `value` into target[start, limit) (a ring's bytes: no copy afterwards); returns the end
   * of its bytes, or -1 when it does not fit there or the general path must take it. What it
   * wrote before giving up is garbage the caller must not publish.
   */
  encodeInto(value: unknown, target: Buffer, start: number, limit: number): number {
    if (this.structures.savedShapes.length !== this.learned) this.learn();
    this.target = target;
    this.limit = Math.min(limit, start + CAPACITY);
    this.pos = start;
    try {
      return this.write(value, 0) ? this.pos : -1;
    } finally {
      this.visits.clear();
    }
  }

  /**
   * Adds the registry's new one-byte-id structures to the tree; not one with a key msgpackr would
   * not carry as it is ('__proto__', a lone surrogate), which the scan sends through node:v8.
   * (The registry gets one only if a getter adds such a key between the scan and the pack.)
   */
  private learn(): void {
    const shapes = this.structures.savedShapes;
    for (let i = this.learned; i < shapes.length && i < ONE_BYTE_RECORD_IDS; i++) {
      const keys = shapes[i]!;
      if (keys.some(keyNeedsV8)) continue;
      let node = this.root; // the empty object's shape ends here
      for (const key of keys) node = node.childOrNew(key);
      node.id = FIRST_RECORD_ID + i;
    }
    this.learned = shapes.length;
  }

  private write(value: unknown, depth: number): boolean {
    if (this.pos > this.limit - VALUE_ROOM) return false;
    switch (typeof value) {
      case 'string':
        return this.writeString(value);
      case 'number':
        return this.writeNumber(value);
      case 'boolean':
        this.target[this.pos++] = value ? 0xc3 : 0xc2;
        return true;
      case 'object':
        break;
      default:
        return false; // undefined (in an array it may be a hole), bigint, function, symbol
    }
    if (value === null) {
      this.target[this.pos++] = 0xc0;
      return true;
    }
    if (depth >= MAX_DEPTH || this.visits.seen(value)) return false;
    if (Array.isArray(value)) return this.writeArray(value, depth + 1);
    // A null-prototype object arrives as a plain one, as from structured clone; its for-in sees
    // its own keys only, too.
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return this.writeRecord(value as Record<string, unknown>, depth + 1);
    return false;
  }

  private writeRecord(record: Record<string, unknown>, depth: number): boolean {
    if (!objectPrototypeClean()) return false; // checked per object: a getter may have changed it
    const idAt = this.pos++;
    let node = this.root;
    // for-in: the key order msgpackr's records use, and (Object.prototype clean) the own keys only.
    for (const key in record) {
      const next = node.child(key);
      if (next === undefined) return false;
      node = next;
      if (!this.write(record[key], depth)) return false;
    }
    if (node.id === 0) return false; // the keys so far begin a known shape but are not one
    this.target[idAt] = node.id;
    return true;
  }

  private writeArray(array: readonly unknown[], depth: number): boolean {
    const n = array.length;
    const b = this.target;
    let pos = this.pos;
    if (n < 16) b[pos++] = 0x90 | n;
    else if (n < 0x10000) pos = writeSized(b, pos, 0xdc, n, 2);
    else return false;
    this.pos = pos;
    for (let i = 0; i < n; i++) {
      const item = array[i];
      if (item === undefined || !this.write(item, depth)) return false;
    }
    return true;
  }

  private writeNumber(v: number): boolean {
    const b = this.target;
    const pos = this.pos;
    if ((v | 0) === v) {
      if (v >= 0) {
        if (v < 0x40) {
          if (v === 0 && 1 / v < 0) return false; // -0: only CODEC_V8 keeps it
          b[pos] = v;
          this.pos = pos + 1;
        } else this.pos = v < 0x100 ? writeSized(b, pos, 0xcc, v, 1) : v < 0x10000 ? writeSized(b, pos, 0xcd, v, 2) : writeSized(b, pos, 0xce, v, 4);
      } else if (v >= -32) {
        b[pos] = v & 0xff;
        this.pos = pos + 1;
      } else this.pos = v >= -0x80 ? writeSized(b, pos, 0xd0, v, 1) : v >= -0x8000 ? writeSized(b, pos, 0xd1, v, 2) : writeSized(b, pos, 0xd2, v, 4);
      return true;
    }
    // Any other double (and NaN, ±Infinity, integers past int32) as a big-endian float64: exact.
    b[pos] = 0xcb;
    writeFloat64BE(b, pos + 1, v);
    this.pos = pos + 9;
    return true;
  }

  private writeString(s: string): boolean {
    const n = s.length;
    if (n < 0x100) {
      // ASCII, the common case, byte by byte (cheaper than a call into C++ for short strings).
      const b = this.target;
      const header = n < 32 ? 1 : 2;
      const at = this.pos + header;
      if (at + n > this.limit) return false;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[at + i] = c;
      }
      if (i === n) {
        if (header === 1) b[this.pos] = 0xa0 | n;
        else writeSized(b, this.pos, 0xd9, n, 1);
        this.pos = at + n;
        return true;
      }
    }
    if (hasLoneSurrogate(s)) return false; // a lone surrogate: UTF-8 would replace it, only CODEC_V8 keeps it
    const most = n * 3;
    const header = most < 32 ? 1 : most < 0x100 ? 2 : most < 0x10000 ? 3 : 5;
    const at = this.pos + header;
    if (at + most > this.limit) return false;
    const b = this.target;
    const length = b.write(s, at, 'utf8');
    if (header === 1) b[this.pos] = 0xa0 | length;
    else if (header === 2) writeSized(b, this.pos, 0xd9, length, 1);
    else if (header === 3) writeSized(b, this.pos, 0xda, length, 2);
    else writeSized(b, this.pos, 0xdb, length, 4);
    this.pos = at + length;
    return true;
  }
}
