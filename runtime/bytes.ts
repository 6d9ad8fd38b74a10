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
