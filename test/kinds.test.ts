/**
 * Several actor kinds on the same threads, actor-to-actor messages (ctx.send, relayed by the main
 * thread into the receiving partition's ring), topics and broadcast.
 */
import { describe, expect, test } from 'vitest';
import { createRuntime, type Runtime } from 'ringmaster';
import { fixture } from './helpers/api.js';

const kinds = {
  parser: fixture('pipeline-parser.mjs'),
  aggregator: fixture('pipeline-aggregator.mjs'),
  auditor: fixture('pipeline-auditor.mjs'),
};

interface Aggregate { sum: number; count: number; violations: number; published: number; config: Record<string, unknown> | null; broadcasts: number; thread: number; kind: string }

/** Line i: source src-(i % sources) reads 'user-(i % users),(i % 100) / 4'. */
async function feed(rt: Runtime, lines: number, sources: number, users: number, during?: (i: number) => Promise<void> | void): Promise<void> {
  const parser = rt.kind('parser');
  for (let i = 0; i < lines; i++) {
    const key = `src-${i % sources}`;
    const msg = { line: `user-${i % users},${(i % 100) / 4}` };
    if (!parser.trySend(key, msg)) await parser.send(key, msg);
    if (during && (i & 2047) === 0) await during(i);
  }
}

async function checkAggregates(rt: Runtime, lines: number, users: number): Promise<void> {
  const bad: string[] = [];
  let total = 0;
  for (let u = 0; u < users; u++) {
    let sum = 0;
    let count = 0;
    for (let i = u; i < lines; i += users) {
      sum += (i % 100) / 4;
      count++;
    }
    const a = await rt.kind('aggregator').ask<Aggregate>(`user-${u}`, { op: 'get' });
    total += a.count;
    if (a.count !== count || Math.abs(a.sum - sum) > 1e-6 || a.violations !== 0) bad.push(`user-${u}: ${a.count}/${count} ${a.sum}/${sum} violations ${a.violations}`);
  }
  expect(bad.slice(0, 10)).toEqual([]);
  expect(total).toBe(lines);
}

describe('actor kinds and ctx.send', () => {
  test('a two-stage pipeline (parse → aggregate across keys on other threads): exact sums, per-sender order', async () => {
    const rt = await createRuntime({ actors: kinds, threads: 2, partitions: 16 });
    try {
      const lines = 100_000;
      const started = performance.now();
      await feed(rt, lines, 50, 1000);
      await rt.drain(); // also waits for what the parsers sent on
      const seconds = (performance.now() - started) / 1000;
      console.log(`pipeline: ${lines} lines through 2 stages in ${seconds.toFixed(2)} s (${Math.round(lines / seconds)} lines/s, 2 threads)`);
      await checkAggregates(rt, lines, 1000);
      const stats = rt.stats();
      expect(stats.sent).toBe(2 * lines + 1000); // each line, what its parser sent on, and the asks
      expect(stats.processed).toBe(2 * lines + 1000);
    } finally {
      await rt.close();
    }
  }, 60_000);

  test('the pipeline stays exact while partitions move and threads resize', async () => {
    const rt = await createRuntime({ actors: kinds, threads: 2, partitions: 16 });
    try {
      const lines = 60_000;
      let x = 3;
      await feed(rt, lines, 50, 500, async (i) => {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        if (i === 20480) await rt.resize(3);
        void rt.rebalance(x % 16, (x >> 8) % 2).catch(() => {});
      });
      await rt.drain();
      await checkAggregates(rt, lines, 500);
    } finally {
      await rt.close();
    }
  }, 60_000);

  test('each kind keeps its own state for the same key; rt.send needs a kind when there are several', async () => {
    const rt = await createRuntime({ actors: kinds, threads: 2 });
    try {
      await rt.kind('aggregator').send('user-1', { amount: 5, from: 'test', seq: 0 });
      await rt.kind('auditor').send('user-1', { amount: 7 });
      expect(await rt.kind('aggregator').ask<Aggregate>('user-1', { op: 'get' })).toMatchObject({ sum: 5, count: 1, kind: 'aggregator' });
      expect(await rt.kind('auditor').ask('user-1', { op: 'get' })).toEqual({ seen: 1, sum: 7 });
      expect(rt.kind('auditor').partitionOf('user-1')).toBe(rt.partitionOf('user-1'));
      expect(() => rt.trySend('user-1', 1)).toThrow(TypeError);
      await expect(rt.send('user-1', 1)).rejects.toThrow(/rt\.kind/);
      await expect(rt.ask('user-1', 1)).rejects.toThrow(TypeError);
      expect(() => rt.kind('nope')).toThrow(RangeError);
      // ctx.send's own errors reach the sender's caller.
      await expect(rt.kind('parser').ask('src-1', { op: 'send-to-nowhere' })).rejects.toThrow(/no actor kind 'nowhere'/);
      await expect(rt.kind('parser').ask('src-1', { op: 'send-function' })).rejects.toThrow(TypeError);
    } finally {
      await rt.close();
    }
  }, 30_000);

  test('publish(topic) reaches every subscribed kind, each in its own per-key order', async () => {
    const rt = await createRuntime({ actors: kinds, threads: 2, topics: { payments: ['aggregator', 'auditor'] } });
    try {
      for (let i = 0; i < 100; i++) await rt.publish('payments', `user-${i % 10}`, { amount: 1, from: 'pub', seq: Math.floor(i / 10) });
      await rt.drain();
      for (let u = 0; u < 10; u++) {
        expect(await rt.kind('aggregator').ask<Aggregate>(`user-${u}`, { op: 'get' })).toMatchObject({ count: 10, sum: 10, violations: 0 });
        expect(await rt.kind('auditor').ask(`user-${u}`, { op: 'get' })).toEqual({ seen: 10, sum: 10 });
      }
      await expect(rt.publish('nope', 'k', 1)).rejects.toThrow(RangeError);
    } finally {
      await rt.close();
    }
    await expect(createRuntime({ actors: kinds, topics: { t: ['missing'] } })).rejects.toThrow(RangeError);
    await expect(createRuntime({ actors: kinds, actor: kinds.parser })).rejects.toThrow(TypeError);
    await expect(createRuntime({ actors: { 'bad name': kinds.parser } })).rejects.toThrow(TypeError);
  }, 30_000);

  test('broadcast runs every kind\'s onBroadcast once on every thread', async () => {
    const rt = await createRuntime({ actors: kinds, threads: 3, partitions: 12 });
    try {
      await rt.broadcast({ version: 2 });
      // One key per thread (keys are found by the partition table).
      const perThread = new Map<number, string>();
      for (let i = 0; perThread.size < 3; i++) {
        const t = rt.threadOf(rt.partitionOf(`k${i}`));
        if (!perThread.has(t)) perThread.set(t, `k${i}`);
      }
      for (const [t, key] of perThread) {
        const a = await rt.kind('aggregator').ask<Aggregate>(key, { op: 'get' });
        expect(a).toMatchObject({ broadcasts: 1, thread: t, config: { version: 2, thread: t, kind: 'aggregator' } });
        expect(await rt.kind('parser').ask(key, { op: 'get' })).toMatchObject({ broadcasts: 1, thread: t });
      }
      await expect(rt.broadcast({ f() {} })).rejects.toThrow(TypeError);
    } finally {
      await rt.close();
    }
  }, 30_000);
});
