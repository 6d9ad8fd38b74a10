/**
 * API contract — the package: `ringmaster` resolves (exports → built JS and .d.ts), exposes
 * createRuntime / defineActor / fnv1a32, declares its bin; default options (threads, partitions).
 */
import { describe, expect, test } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as ringmaster from 'ringmaster';
import { createRuntime, defineActor } from 'ringmaster';
import { fixture, refHash } from './helpers/api.js';
import { PACKAGE_ROOT } from './helpers/child.js';

const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8'));

describe('package', () => {
  test("is ESM named 'ringmaster', exports built JS and type declarations", () => {
    expect(pkg.name).toBe('ringmaster');
    expect(pkg.type).toBe('module');
    const root = pkg.exports['.'] ?? pkg.exports;
    expect(typeof root.import === 'string' || typeof root.default === 'string').toBe(true);
    expect(typeof root.types).toBe('string');
    expect(existsSync(path.join(PACKAGE_ROOT, root.import ?? root.default))).toBe(true);
    expect(existsSync(path.join(PACKAGE_ROOT, root.types))).toBe(true);
    const dts = readFileSync(path.join(PACKAGE_ROOT, root.types), 'utf8');
    for (const name of ['createRuntime', 'defineActor', 'fnv1a32']) expect(dts).toContain(name);
  });

  test("resolves by name to the built entry point", () => {
    const resolved = import.meta.resolve ? import.meta.resolve('ringmaster') : createRequire(import.meta.url).resolve('ringmaster');
    expect(String(resolved)).toContain('dist');
  });

  test('exports createRuntime, defineActor and fnv1a32', () => {
    expect(typeof ringmaster.createRuntime).toBe('function');
    expect(typeof ringmaster.defineActor).toBe('function');
    expect(typeof ringmaster.fnv1a32).toBe('function');
  });

  test('defineActor accepts a definition with receive (and optional init)', () => {
    expect(() => defineActor({ receive: () => 1 })).not.toThrow();
    expect(() => defineActor({ init: () => ({}), receive: () => 1 })).not.toThrow();
  });

  test('declares the ringmaster bin, pointing at a built file', () => {
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.ringmaster;
    expect(typeof bin).toBe('string');
    expect(existsSync(path.join(PACKAGE_ROOT, bin))).toBe(true);
  });

  test('defaults: threads = max(1, availableParallelism - 1), partitions = 64, modulo mapping', async () => {
    const rt = await createRuntime({ actor: fixture('api-probe.mjs') });
    try {
      const expectedThreads = Math.max(1, os.availableParallelism() - 1);
      const used = new Set(Array.from({ length: 64 }, (_, p) => rt.threadOf(p)));
      expect(used.size).toBe(Math.min(expectedThreads, 64));
      expect(() => rt.threadOf(64)).toThrow();
      for (let p = 0; p < 64; p++) expect(rt.threadOf(p)).toBe(p % expectedThreads);
      for (const key of ['a', 'b', 'user-1', 12, '😀']) {
        expect(rt.partitionOf(key)).toBe(refHash(key) % 64);
        const info = await rt.ask<any>(key, { op: 'info' });
        expect(info.partition).toBe(refHash(key) % 64);
      }
    } finally {
      await rt.close();
    }
  });
});
