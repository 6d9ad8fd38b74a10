/**
 * API contract — partition → thread mappings ('modulo', 'range', array, function), verified by
 * rt.threadOf and by what the actors report (ctx.thread / ctx.partition, and the real worker
 * threadId); invalid options rejected with RangeError/TypeError and no thread left running.
 */
import { describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { fixture, keyForPartition } from './helpers/api.js';
import { explain, runScenario } from './helpers/child.js';
// @ts-ignore plain .mjs fixture without types
import { invalidOptionCases } from './fixtures/api-cases.mjs';

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

/** Asks one key per partition where it runs; checks it against `expected` (partition → thread). */
async function verifyPlacement(rt: Runtime, partitions: number, expected: number[]): Promise<void> {
  const threadIds = new Map<number, number>();
  for (let p = 0; p < partitions; p++) {
    expect(rt.threadOf(p), `threadOf(${p})`).toBe(expected[p]);
    const key = keyForPartition(p, partitions, `map${partitions}-`);
    expect(rt.partitionOf(key)).toBe(p);
    const info = await rt.ask<any>(key, { op: 'info' });
    expect(info.partition, `ctx.partition of ${key}`).toBe(p);
    expect(info.thread, `ctx.thread of partition ${p}`).toBe(expected[p]);
    // ctx.thread names a real, distinct worker thread.
    const seen = threadIds.get(info.thread);
    if (seen === undefined) threadIds.set(info.thread, info.threadId);
    else expect(info.threadId, `worker of thread ${info.thread}`).toBe(seen);
  }
  const ids = [...threadIds.values()];
  expect(new Set(ids).size).toBe(ids.length);
}

describe('mappings', () => {
  test("default mapping is 'modulo': partition p on thread p % threads", async () => {
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, partitions: 9 });
    try {
      await verifyPlacement(rt, 9, Array.from({ length: 9 }, (_, p) => p % 2));
    } finally {
      await rt.close();
    }
  });

  test("'modulo'", async () => {
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, partitions: 16, mapping: 'modulo' });
    try {
      await verifyPlacement(rt, 16, Array.from({ length: 16 }, (_, p) => p % 2));
    } finally {
      await rt.close();
    }
  });

  test.each([
    [2, 7],
    [2, 2],
    [2, 3],
    [2, 64],
    [1, 5],
  ])("'range' with %i threads, %i partitions: floor(p * threads / partitions), contiguous blocks, every thread has work", async (threads, partitions) => {
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads, partitions, mapping: 'range' });
    try {
      const expected = Array.from({ length: partitions }, (_, p) => Math.floor((p * threads) / partitions));
      await verifyPlacement(rt, partitions, expected);
      const counts = new Array(threads).fill(0);
      for (let p = 0; p < partitions; p++) counts[rt.threadOf(p)]++;
      expect(counts.every((c) => c > 0)).toBe(true);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      for (let p = 1; p < partitions; p++) expect(rt.threadOf(p)).toBeGreaterThanOrEqual(rt.threadOf(p - 1));
    } finally {
      await rt.close();
    }
  });

  test('an array names the thread of each partition', async () => {
    const mapping = [1, 1, 0, 1, 0, 0, 1, 1];
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, partitions: 8, mapping });
    try {
      await verifyPlacement(rt, 8, mapping);
    } finally {
      await rt.close();
    }
  });

  test('an array may leave a thread without partitions', async () => {
    const mapping = [1, 1, 1, 1];
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, partitions: 4, mapping });
    try {
      await verifyPlacement(rt, 4, mapping);
    } finally {
      await rt.close();
    }
  });

  test('a function is called once per partition (with partition and threads) at start', async () => {
    const calls: Array<[number, number]> = [];
    const mapping = (p: number, t: number): number => {
      calls.push([p, t]);
      return (p * 7 + 1) % t;
    };
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, partitions: 10, mapping });
    try {
      expect(calls.length).toBe(10);
      expect(calls.map(([p]) => p).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(calls.every(([, t]) => t === 2)).toBe(true);
      const expected = Array.from({ length: 10 }, (_, p) => (p * 7 + 1) % 2);
      await verifyPlacement(rt, 10, expected);
      expect(calls.length).toBe(10); // not called again while routing
    } finally {
      await rt.close();
    }
  });

  test('threadOf refuses a partition that does not exist', async () => {
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 1, partitions: 4 });
    try {
      for (const bad of [-1, 4, 1.5, NaN]) expect(() => rt.threadOf(bad)).toThrow();
    } finally {
      await rt.close();
    }
  });

  test('boundary options are accepted: partitions 1 and 65536, threads 1', async () => {
    for (const partitions of [1, 65536]) {
      const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 1, partitions });
      try {
        expect(rt.partitionOf('anything')).toBeLessThan(partitions);
        expect((await rt.ask<any>('anything', { op: 'info' })).partition).toBe(rt.partitionOf('anything'));
      } finally {
        await rt.close();
      }
    }
  });
});

const CASES = Object.keys(invalidOptionCases as Record<string, unknown>);

describe('invalid options: createRuntime rejects with RangeError/TypeError', () => {
  test.each(CASES)('%s (in process)', async (name) => {
    const options = (invalidOptionCases as Record<string, (a: string) => any>)[name]!(fixture('api-probe.mjs').href);
    const promise = createRuntime(options);
    await expect(promise).rejects.toSatisfy((e: unknown) => e instanceof RangeError || e instanceof TypeError);
  });

  test.each(CASES)('%s (child process exits by itself: no thread left running)', async (name) => {
    const outcome = await runScenario('create', name, { timeoutMs: 15_000 });
    expect(outcome.timedOut, explain(outcome)).toBe(false);
    expect(outcome.code, explain(outcome)).toBe(0);
    expect(outcome.result?.rejected, explain(outcome)).toBe(true);
    expect(outcome.result.isRangeError || outcome.result.isTypeError, explain(outcome)).toBe(true);
    expect(outcome.result.message.length).toBeGreaterThan(0);
  });
});
