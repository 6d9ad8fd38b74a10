/** Shared bits for the API contract tests (test/api.*.test.ts). */
import { fileURLToPath } from 'node:url';

export const fixture = (name: string): URL => new URL(`../fixtures/${name}`, import.meta.url);
export const fixturePath = (name: string): string => fileURLToPath(fixture(name));

/** Reference FNV-1a 32 over bytes, written the plain way. */
export function fnvBytes(bytes: Uint8Array): number {
  let h = 2166136261;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h >>> 0;
}

const encoder = new TextEncoder();
/** The contract's hash of a key: FNV-1a 32 over utf8Bytes(String(key)) (TextEncoder: lone surrogates → U+FFFD). */
export const refHash = (key: string | number): number => fnvBytes(encoder.encode(String(key)));

/** A deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A key whose partition (per the contract's formula) is `partition`. */
export function keyForPartition(partition: number, partitions: number, prefix = 'k'): string {
  for (let i = 0; i < 10_000_000; i++) {
    const key = `${prefix}${i}`;
    if (refHash(key) % partitions === partition) return key;
  }
  throw new Error(`no key found for partition ${partition}`);
}

/** Settles after the event loop has had `turns` full turns (lets anything already runnable run). */
export async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Polls `check` every 10 ms until it holds; throws after `timeoutMs`, naming what it waited for. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Opens a gate of test/fixtures/api-gates.mjs on every thread, without going through a ring. */
export function openGate(name: string): void {
  const bc = new BroadcastChannel('api-gates');
  bc.postMessage({ open: name });
  bc.close();
}

/** An invalid key and its label, per API.md. */
export const INVALID_KEYS: Array<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['{}', {}],
  ['[]', []],
  ["['a']", ['a']],
  ['NaN', NaN],
  ['1.5', 1.5],
  ['-0.5', -0.5],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['2**53', 2 ** 53],
  ['-(2**53)', -(2 ** 53)],
  ["''", ''],
  ['true', true],
  ['false', false],
  ['Symbol()', Symbol('k')],
  ['1n', 1n],
  ["new String('a')", new String('a')],
  ['Date', new Date(0)],
  ['function', () => 'k'],
];
