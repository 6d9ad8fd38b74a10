/**
 * API contract — loading the actor module and the actor's context:
 * createRuntime rejects clearly (no thread left running) for a missing / throwing / non-actor
 * module; it resolves only once every thread loaded the module; the module may be given as a
 * path, a file URL object or a 'file:' string; init runs once per key before its first receive
 * (sync or async); ctx has key/partition/thread/state; state persists per key on its thread.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntime } from 'ringmaster';
import { fixture, fixturePath } from './helpers/api.js';
import { explain, runScenario } from './helpers/child.js';

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

describe('createRuntime rejects for a bad actor module, leaving no thread running (child process must exit by itself)', () => {
  test.each([
    ['missing module', 'missing', 'api-no-such-actor.mjs', null],
    ['module throws while loading', 'api-bad-throws.mjs', 'api-bad-throws.mjs', 'kaboom while loading'],
    ['module top-level await rejects', 'api-bad-async-throws.mjs', 'api-bad-async-throws.mjs', 'late kaboom'],
    ['module has a syntax error', 'api-bad-syntax.mjs', 'api-bad-syntax.mjs', null],
    ['module imports a missing package', 'api-bad-import.mjs', 'api-bad-import.mjs', 'ringmaster-no-such-package-api-test'],
    ['no default export', 'api-bad-nodefault.mjs', 'api-bad-nodefault.mjs', null],
    ['default export is not defineActor(...)', 'api-bad-plain.mjs', 'api-bad-plain.mjs', null],
    ['defineActor refuses the definition at load', 'api-bad-define.mjs', 'api-bad-define.mjs', null],
    ['loads on one thread, throws on the other', 'api-bad-half.mjs', 'api-bad-half.mjs', 'kaboom on worker'],
  ])('%s', async (_label, arg, file, mention) => {
    const outcome = await runScenario('load', arg, { timeoutMs: 15_000 });
    expect(outcome.timedOut, explain(outcome)).toBe(false);
    expect(outcome.code, explain(outcome)).toBe(0);
    const r = outcome.result;
    expect(r?.rejected, explain(outcome)).toBe(true);
    expect(r.isError).toBe(true);
    // A clear error: it names the module, and says what went wrong when the module threw.
    expect(r.message).toContain(file);
    if (mention) expect(r.message).toContain(mention);
  });
});

describe('createRuntime resolves once every thread has loaded the module', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ringmaster-api-load-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a slow-loading module (top-level await) has loaded on both threads when createRuntime resolves', async () => {
    process.env.API_LOADED_DIR = dir;
    try {
      const rt = await createRuntime({ actor: fixture('api-slow-load.mjs'), threads: 2 });
      try {
        expect(readdirSync(dir).filter((f) => f.startsWith('loaded-')).length).toBe(2);
        const replies = await Promise.all(['x', 'y', 'z', 'w', 'v', 'u'].map((k) => rt.ask<any>(k, 1)));
        expect(replies.every((r) => r.msg === 1)).toBe(true);
      } finally {
        await rt.close();
      }
    } finally {
      delete process.env.API_LOADED_DIR;
    }
  });
});

describe('the actor module can be named several ways', () => {
  const abs = fixturePath('api-probe.mjs');
  test.each([
    ['absolute path string', () => abs],
    ['relative path string (to the working directory)', () => path.relative(process.cwd(), abs)],
    ['file URL object', () => fixture('api-probe.mjs')],
    ["'file:' URL string", () => fixture('api-probe.mjs').href],
  ])('%s', async (_label, actor) => {
    const rt = await createRuntime({ actor: actor(), threads: 1 });
    try {
      const info = await rt.ask<any>('who', { op: 'info' });
      expect(info.key).toBe('who');
    } finally {
      await rt.close();
    }
  });
});

describe('actor context, init and state', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, partitions: 16 });
  });
  afterAll(async () => {
    await rt?.close();
  });

  test('init runs once per key, before its first receive, with (key, ctx)', async () => {
    const keys = ['init-a', 'init-b', 77, 'init-😀'];
    for (const key of keys) {
      // A burst: several messages arrive before anything answers.
      for (let i = 0; i < 5; i++) expect(rt.trySend(key, { op: 'add', n: 1 })).toBe(true);
      const info = await rt.ask<any>(key, { op: 'info' });
      const p = rt.partitionOf(key);
      expect(info.initCalls).toBe(1);
      expect(info.total).toBe(6);
      expect(info.sum).toBe(5);
      expect(info.initArgs).toEqual({
        key: String(key),
        keyType: 'string',
        ctxKey: String(key),
        partition: p,
        thread: rt.threadOf(p),
        stateBefore: 'undefined',
      });
    }
  });

  test('ctx has key (string), partition, thread; state persists per key', async () => {
    for (let i = 0; i < 20; i++) await rt.send(`st-${i % 4}`, { op: 'add', n: i });
    const sums = [0, 0, 0, 0];
    for (let i = 0; i < 20; i++) sums[i % 4] += i;
    for (let k = 0; k < 4; k++) {
      const info = await rt.ask<any>(`st-${k}`, { op: 'info' });
      const p = rt.partitionOf(`st-${k}`);
      expect(info).toMatchObject({ key: `st-${k}`, keyType: 'string', partition: p, thread: rt.threadOf(p), sum: sums[k], initCalls: 1 });
    }
  });

  test('assigning ctx.state replaces the state for later messages', async () => {
    expect(await rt.ask('assign-1', { op: 'assign', n: 2 })).toBe(2);
    expect(await rt.ask('assign-1', { op: 'assign', n: 3 })).toBe(5);
    expect(await rt.ask('assign-1', { op: 'add', n: 4 })).toBe(9);
    const info = await rt.ask<any>('assign-1', { op: 'info' });
    expect(info.sum).toBe(9);
    expect(info.initCalls).toBe(1);
  });

  test('async init finishes once per key before the first receive; messages arriving meanwhile wait in order', async () => {
    const rt2 = await createRuntime({ actor: fixture('api-init-async.mjs'), threads: 2 });
    try {
      const keys = ['ai-1', 'ai-2', 'ai-3', 5];
      const sends: Promise<void>[] = [];
      for (let seq = 0; seq < 10; seq++) for (const key of keys) sends.push(rt2.send(key, { op: 'add', seq }));
      await Promise.all(sends);
      for (const key of keys) {
        const report = await rt2.ask<any>(key, { op: 'report' });
        expect(report.key).toBe(String(key));
        expect(report.initCalls).toBe(1);
        expect(report.state.ready).toBe(true);
        expect(report.state.initKey).toBe(String(key));
        expect(report.state.initCtxKey).toBe(String(key));
        expect(report.state.seen).toEqual(Array.from({ length: 10 }, (_, seq) => ({ seq, ready: true })));
      }
    } finally {
      await rt2.close();
    }
  });

  test('init is optional', async () => {
    const rt4 = await createRuntime({ actor: fixture('api-echo.mjs'), threads: 1 });
    try {
      // api-echo.mjs has no init; messages reach receive all the same.
      expect(await rt4.ask<any>('no-init', 'hello')).toEqual({ value: 'hello', shape: 'string' });
    } finally {
      await rt4.close();
    }
  });
});
