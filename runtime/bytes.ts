/** Small byte helpers for the hot path, where Buffer's native calls cost more than they save. */

/** Below this, a JS loop beats Buffer.copy / TypedArray.set (their per-call overhead dominates). */
export const LOOP_COPY_MAX = 96;

export function copyBytes(source: Uint8Array, from: number, target: Uint8Array, to: number, length: number): void {
  if (length <= LOOP_COPY_MAX) {
    for (let i = 0; i < length; i++) target[to + i] = source[from + i]!;
  } else {
    target.set(source.subarray(from, from + length), to);
  }
}

/**
 * Writes `text` as UTF-8 at `at`; `byteLength` is its UTF-8 length (known from hashing). ASCII
 * (byteLength === text.length) is written by a loop, anything else by Buffer's encoder.
 */
export function writeUtf8(target: Buffer, at: number, text: string, byteLength: number): void {
  if (byteLength === text.length && byteLength <= LOOP_COPY_MAX) {
    for (let i = 0; i < byteLength; i++) target[at + i] = text.charCodeAt(i);
  } else {
    target.write(text, at, byteLength, 'utf8');
  }
}

const float = new Float64Array(1);
const floatBytes = new Uint8Array(float.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes `v` as a big-endian float64 (MessagePack's byte order) at `pos`. */
export function writeFloat64BE(target: Uint8Array, pos: number, v: number): void {
  float[0] = v;
  if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) target[pos + i] = floatBytes[7 - i]!;
  else for (let i = 0; i < 8; i++) target[pos + i] = floatBytes[i]!;
}

/** Reads the big-endian float64 at `pos`. */
export function readFloat64BE(source: Uint8Array, pos: number): number {
  if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) floatBytes[7 - i] = source[pos + i]!;
  else for (let i = 0; i < 8; i++) floatBytes[i] = source[pos + i]!;
  return float[0]!;
}
