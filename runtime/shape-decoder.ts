/**
 * The reader of CODEC_SHAPES frames: what the shape encoder wrote (shape-encoder.ts), read
 * straight from the ring's bytes. Those frames hold only the encoder's subset of MessagePack
 * (the same bytes msgpackr's reader would read to the same values), so there is nothing to give
 * up on, no heap copy first (msgpackr's native string reader, which must not see shared memory,
 * is not used), and no per-call set-up.
 *
 * An object is built by a function compiled once per shape, an object literal of its keys (as
 * msgpackr's reader does): each object of a shape then gets the same hidden class at once.
 * Record ids refer to the shared registry (structures.ts); the codec hands over its key lists
 * (learn) before a frame that could use a new one is read.
 */

import { readFloat64BE } from './bytes.js';
import { FIRST_RECORD_ID } from './structures.js';

/** Builds one object of a shape, reading its values in key order. */
type ShapeReader = (decoder: ShapeDecoder) => unknown;

const NO_BYTES = new Uint8Array(0);

/** An object literal of `keys`, each value read in turn (a literal's values are evaluated in source order). */
function compileReader(keys: readonly string[]): ShapeReader {
  // `__proto__: v` in a literal would set the prototype; the registry never holds such a key
  // (the scan sends those messages through node:v8), so meeting one is a bug, not a case.
  if (keys.includes('__proto__')) throw new Error("a shape with a '__proto__' key in the registry");
  const body = `return {${keys.map((key) => `${JSON.stringify(key)}: d.read()`).join(', ')}};`;
  return new Function('d', body) as ShapeReader;
}

export class ShapeDecoder {
  /** The registry's key lists, by record id - 0x40. */
  private shapes: readonly (readonly string[])[] = [];
  private readonly readers: (ShapeReader | undefined)[] = [];
  private bytes: Uint8Array = NO_BYTES;
  private pos = 0;

  /** Takes the registry's key lists as they are now (append-only: earlier ids keep their lists). */
  learn(shapes: readonly (readonly string[])[]): void {
    this.shapes = shapes;
  }

  /** Decodes the CODEC_SHAPES message at bytes[at, at + length). */
  decode(bytes: Uint8Array, at: number, length: number): unknown {
    this.bytes = bytes;
    this.pos = at;
    try {
      const value = this.read();
      if (this.pos !== at + length) throw new Error(`a shapes frame of ${length} bytes held ${this.pos - at}`);
      return value;
    } finally {
      this.bytes = NO_BYTES;
    }
  }

  /** Reads one value (public for the compiled shape readers). */
  read(): unknown {
    const b = this.bytes;
    const p = this.pos;
    const token = b[p]!;
    this.pos = p + 1;
    if (token < 0x40) return token;
    if (token < 0x60) return this.record(token - FIRST_RECORD_ID);
    if (token >= 0xe0) return token - 0x100;
    if (token >= 0xa0 && token < 0xc0) return this.string(token & 0x1f);
    if (token >= 0x90 && token < 0xa0) return this.array(token & 0x0f);
    switch (token) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xcb:
        this.pos = p + 9;
        return readFloat64BE(b, p + 1);
      case 0xcc:
        this.pos = p + 2;
        return b[p + 1]!;
      case 0xcd:
        this.pos = p + 3;
        return (b[p + 1]! << 8) | b[p + 2]!;
      case 0xce:
        this.pos = p + 5;
        return this.u32(p + 1) >>> 0;
      case 0xd0:
        this.pos = p + 2;
        return (b[p + 1]! << 24) >> 24;
      case 0xd1:
        this.pos = p + 3;
        return ((b[p + 1]! << 24) | (b[p + 2]! << 16)) >> 16;
      case 0xd2:
        this.pos = p + 5;
        return this.u32(p + 1) | 0;
      case 0xd9:
        this.pos = p + 2;
        return this.string(b[p + 1]!);
      case 0xda:
        this.pos = p + 3;
        return this.string((b[p + 1]! << 8) | b[p + 2]!);
      case 0xdb:
        this.pos = p + 5;
        return this.string(this.u32(p + 1) >>> 0);
      case 0xdc:
        this.pos = p + 3;
        return this.array((b[p + 1]! << 8) | b[p + 2]!);
      default:
        throw new Error(`a shapes frame holds the byte 0x${token.toString(16)}, which the shape encoder never writes`);
    }
  }

  private record(index: number): unknown {
    let reader = this.readers[index];
    if (reader === undefined) {
      const keys = this.shapes[index];
      if (keys === undefined) throw new Error(`a shapes frame names record id 0x${(index + FIRST_RECORD_ID).toString(16)}, not in the registry`);
      reader = this.readers[index] = compileReader(keys);
    }
    return reader(this);
  }

  private array(n: number): unknown[] {
    const array = new Array<unknown>(n);
    for (let i = 0; i < n; i++) array[i] = this.read();
    return array;
  }

  /** The big-endian u32 at `at` (as an int32: `>>> 0` for unsigned). */
  private u32(at: number): number {
    const b = this.bytes;
    return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
  }

  /** The UTF-8 string of `n` bytes at pos: short ASCII ones by char codes, others by Buffer's decoder. */
  private string(n: number): string {
    const b = this.bytes;
    const at = this.pos;
    this.pos = at + n;
    if (n <= 16) {
      let high = 0;
      for (let i = 0; i < n; i++) high |= b[at + i]!;
      if (high < 0x80) return asciiString(b, at, n);
    }
    return Buffer.prototype.utf8Slice.call(b, at, at + n);
  }
}

/** n (at most 16) ASCII bytes as a string: one fromCharCode call, no intermediate strings. */
function asciiString(b: Uint8Array, at: number, n: number): string {
  const f = String.fromCharCode;
  switch (n) {
    case 0:
      return '';
    case 1:
      return f(b[at]!);
    case 2:
      return f(b[at]!, b[at + 1]!);
    case 3:
      return f(b[at]!, b[at + 1]!, b[at + 2]!);
    case 4:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
    case 5:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!);
    case 6:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!);
    case 7:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!);
    case 8:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!);
    case 9:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, b[at + 8]!);
    case 10:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, b[at + 8]!, b[at + 9]!);
    case 11:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, b[at + 8]!, b[at + 9]!, b[at + 10]!);
    case 12:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, b[at + 8]!, b[at + 9]!, b[at + 10]!, b[at + 11]!);
    case 13:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, b[at + 8]!, b[at + 9]!, b[at + 10]!, b[at + 11]!, b[at + 12]!);
    case 14:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, b[at + 8]!, b[at + 9]!, b[at + 10]!, b[at + 11]!, b[at + 12]!, b[at + 13]!);
    case 15:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, b[at + 8]!, b[at + 9]!, b[at + 10]!, b[at + 11]!, b[at + 12]!, b[at + 13]!, b[at + 14]!);
    default:
      return f(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, b[at + 8]!, b[at + 9]!, b[at + 10]!, b[at + 11]!, b[at + 12]!, b[at + 13]!, b[at + 14]!, b[at + 15]!);
  }
}
