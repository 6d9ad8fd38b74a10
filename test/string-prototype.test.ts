/**
 * ioredis declares `class VerbatimString extends String`, which turns String.prototype into a
 * slow (dictionary-mode) object for the whole V8 isolate: every string method call then takes a
 * slow path, and the send path measured 2–3× slower (cluster/load-redis.ts). Importing ringmaster
 * must not do that, in the main thread or in a worker, and loading cluster mode's Redis client
 * must undo it. Checked with V8's own %HasFastProperties in a child process.
 */
import { describe, expect, test } from 'vitest';
import { fixturePath } from './helpers/api.js';
import { runNode } from './helpers/child.js';

const CHILD = fixturePath('fast-strings-child.mjs');

describe('String.prototype stays fast', () => {
  test('the check sees the hazard: importing ioredis directly makes String.prototype slow', async () => {
    const run = await runNode(['--allow-natives-syntax', CHILD, 'ioredis-directly']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.result).toEqual({ initially: true, afterIoredis: false });
  });

  test('importing ringmaster, running a worker, and loading the cluster client keep it fast', async () => {
    const run = await runNode(['--allow-natives-syntax', CHILD]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.result).toEqual({ initially: true, afterImport: true, inWorker: true, afterLoadRedis: true });
  });
});
