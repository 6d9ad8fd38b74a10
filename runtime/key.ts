/**
 * Keys and partitions: validation and FNV-1a 32 over the key's UTF-8 bytes.
 *
 * `partition = fnv1a32(utf8Bytes(String(key))) % partitions` is part of the public contract, so
 * other processes and languages can compute where a key lives. The hash walks the string's char
 * codes and hashes the UTF-8 bytes they encode to, so no buffer is allocated per call.
 */

const FNV_OFFSET_BASIS = 2166136261;
const FNV_PRIME = 16777619;

/** UTF-8 byte length of the string hashed last by fnv1a32 (saves a second pass). */
export let lastUtf8Length = 0;
/** Whether the string hashed last held a lone surrogate (its UTF-8 bytes would not tell it apart). */
export let lastHadLoneSurrogate = false;

/** FNV-1a 32-bit over the UTF-8 encoding of `text` (lone surrogates encode as U+FFFD, as TextEncoder does). */
export function fnv1a32(text: string): number {
  // `| 0`: as an int32 (not the double 2166136261) the hash stays in a register through the
  // loop; about 3× faster per char. Math.imul and ^ give the same low 32 bits either way.
  let h = FNV_OFFSET_BASIS | 0;
  let bytes = 0;
  let lone = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      bytes += 1;
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
      bytes += 2;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        h = Math.imul(h ^ (0xf0 | (cp >> 18)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 12) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | (cp & 0x3f)), FNV_PRIME);
        bytes += 4;
        continue;
      }
      c = 0xfffd; // lone surrogate
      lone = true;
    }
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
    bytes += 3;
  }
  lastUtf8Length = bytes;
  lastHadLoneSurrogate = lone;
  return h >>> 0;
}

/** A key as users pass it: a non-empty string or a safe integer. */
export type Key = string | number;

/**
 * The canonical string form of a key (`42` and `'42'` are the same key), or a TypeError for
 * anything else: undefined, null, objects, NaN, non-integers, unsafe integers, ''.
 */
export function keyToString(key: unknown): string {
  if (typeof key === 'string') {
    if (key.length === 0) throw new TypeError('key must not be the empty string');
    return key;
  }
  if (typeof key === 'number') {
    if (Number.isSafeInteger(key)) return '' + key;
    throw new TypeError(`a number key must be a safe integer, got ${key}`);
  }
  throw new TypeError(`key must be a non-empty string or a safe integer, got ${key === null ? 'null' : typeof key}`);
}

/** The partition of a key, as the contract defines it. */
export function partitionOfKey(key: Key, partitions: number): number {
  return fnv1a32(keyToString(key)) % partitions;
}
