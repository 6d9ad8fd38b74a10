/**
 * Loads ioredis on first use, not at import time, and undoes what loading it does to strings.
 *
 * Why: ioredis declares `class VerbatimString extends String`. Making String.prototype the
 * prototype of another object turns it into a dictionary-mode object in V8, and from then on
 * every string method call in the process (charCodeAt, isWellFormed: our key hash, msgpackr's
 * string writer and reader) takes a slow path: the send path measured 2–3× slower, in every
 * process and worker that merely imported ringmaster. So cluster mode's Redis client is loaded
 * only by connectCluster (a worker never loads it), and after loading, one property lookup through
 * an object whose prototype is String.prototype, from a function warm enough to have inline
 * caches, makes V8 turn String.prototype back into a fast object (test/string-prototype.test.ts
 * checks both, with %HasFastProperties).
 */
import type { Redis } from 'ioredis';

export type RedisClass = typeof Redis;

let loaded: Promise<RedisClass> | undefined;

export function loadRedis(): Promise<RedisClass> {
  loaded ??= import('ioredis').then((m) => {
    refastenStringPrototype();
    return m.Redis;
  });
  return loaded;
}

function lookUp(o: { charCodeAt?: unknown }): unknown {
  return o.charCodeAt;
}

/** Makes String.prototype a fast-properties object again (see the module comment). */
export function refastenStringPrototype(): void {
  const viaPrototype = Object.create(String.prototype) as { charCodeAt?: unknown };
  // Enough calls for V8 to give lookUp feedback (inline caches); the cached lookup is what
  // re-optimizes the prototype chain it walks.
  for (let i = 0; i < 1000; i++) lookUp(viaPrototype);
}
