/**
 * API contract — drain(), close() and stats():
 * drain resolves once everything enqueued before it is processed; close stops accepting (later
 * sends throw/reject), drains, ends every thread, is idempotent, and lets the process exit;
 * stats() is a plain JSON-serializable snapshot whose counts add up.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntime } from 'ringmaster';
import { fixture, openGate, turns } from './helpers/api.js';
import { explain, runScenario } from './helpers/child.js';

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

describe('drain', () => {
  test('resolves once every message enqueued before it is processed (actor-side counts agree)', async () => {
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, partitions: 16, ringBytes: 8192 });
    try {
      expect(rt.stats().sent).toBe(0);
      await rt.drain(); // nothing sent: resolves at once
      const KEYS = Array.from({ length: 40 }, (_, i) => `d${i}`);
      const expected = new Map<string, number>(KEYS.map((k) => [k, 0]));
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 5000; i++) {
        const key = KEYS[(i * 7) % KEYS.length]!;
        sends.push(rt.send(key, { op: 'seq', seq: expected.get(key)! }));
        expected.set(key, expected.get(key)! + 1);
      }
      await Promise.all(sends); // all enqueued now
      for (let i = 0; i < 200; i++) {
        const key = KEYS[i % KEYS.length]!;
        if (!rt.trySend(key, { op: 'seq', seq: expected.get(key)! })) break;
        expected.set(key, expected.get(key)! + 1);
      }
      await rt.drain();
      const s = rt.stats();
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      expect(s.sent).toBe(total);
      expect(s.processed).toBe(s.sent);
      for (const key of KEYS) {
        const r = await rt.ask<any>(key, { op: 'seqReport' });
        expect(r.seqReceived, key).toBe(expected.get(key));
        expect(r.violations, key).toEqual([]);
      }
    } finally {
      await rt.close();
    }
  });

  test('waits for an async receive that is still in flight', async () => {
    const rt = await createRuntime({ actor: fixture('api-gates.mjs'), threads: 2 });
    try {
      const held = rt.ask('drain-held', { op: 'wait', gate: 'drain-gate', tag: 'held' });
      let drained = false;
      const drain = rt.drain().then(() => (drained = true));
      // Plenty of other traffic completes meanwhile; drain must still wait for the held message.
      for (let i = 0; i < 20; i++) expect(await rt.ask(`other-${i}`, { op: 'mark', tag: 'o' })).toBe('o');
      await turns(10);
      expect(drained).toBe(false);
      openGate('drain-gate');
      await drain;
      expect(await held).toBe('held');
      expect(rt.stats().processed).toBe(rt.stats().sent);
    } finally {
      openGate('drain-gate');
      await rt.close();
    }
  });
});

describe('close', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ringmaster-api-close-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('drains first: every message sent just before close() is processed (actor appends to a file)', async () => {
    const file = path.join(dir, 'appended.tsv');
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, ringBytes: 4096 });
    const KEYS = ['c0', 'c1', 'c2', 'c3', 'c4', 5, 'c6', 'c7'];
    const expected = new Map<string, number>(KEYS.map((k) => [String(k), 0]));
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = KEYS[i % KEYS.length]!;
      const seq = expected.get(String(key))!;
      if (i % 5 === 0 && rt.trySend(key, { op: 'append', file, seq })) {
        expected.set(String(key), seq + 1);
        continue;
      }
      sends.push(rt.send(key, { op: 'append', file, seq })); // many of these wait for ring space
      expected.set(String(key), seq + 1);
    }
    const asked = rt.ask('c0', { op: 'info' });
    await rt.close(); // not awaiting the sends first
    const settled = await Promise.allSettled(sends);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    expect((await asked as any).key).toBe('c0');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const seen = new Map<string, number[]>();
    for (const line of lines) {
      const [key, seq] = line.split('\t');
      if (!seen.has(key!)) seen.set(key!, []);
      seen.get(key!)!.push(Number(seq));
    }
    expect(lines.length).toBe(3000);
    for (const [key, n] of expected) {
      expect(seen.get(key), key).toEqual(Array.from({ length: n }, (_, i) => i));
    }
  });

  test('waits for async receives in flight: their asks resolve before close() does', async () => {
    const rt = await createRuntime({ actor: fixture('api-gates.mjs'), threads: 2 });
    const order: string[] = [];
    const asks = ['s1', 's2', 's3'].map((k, i) => rt.ask(k, { op: 'sleep', ms: 50 + i * 20, value: k }).then((v) => order.push(`ask:${v}`)));
    await rt.close().then(() => order.push('closed'));
    await Promise.all(asks);
    expect(order.slice(-1)).toEqual(['closed']);
    expect(order.sort()).toEqual(['ask:s1', 'ask:s2', 'ask:s3', 'closed']);
  });

  test('stops accepting: later trySend throws, later send/ask reject', async () => {
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 1 });
    await rt.send('x', { op: 'add' });
    const closing = rt.close();
    // Already refused while close() is still draining.
    expect(() => rt.trySend('x', { op: 'add' })).toThrow();
    let send!: Promise<void>;
    let ask!: Promise<unknown>;
    expect(() => {
      send = rt.send('x', { op: 'add' });
      ask = rt.ask('x', { op: 'info' });
    }).not.toThrow();
    await expect(send).rejects.toBeInstanceOf(Error);
    await expect(ask).rejects.toBeInstanceOf(Error);
    await closing;
    expect(() => rt.trySend('x', { op: 'add' })).toThrow();
    await expect(rt.send('x', { op: 'add' })).rejects.toBeInstanceOf(Error);
    await expect(rt.ask('x', { op: 'info' })).rejects.toBeInstanceOf(Error);
    await expect(rt.ask('x', { op: 'info' }, { timeoutMs: 10 })).rejects.toBeInstanceOf(Error);
  });

  test('is idempotent: concurrent and repeated calls all resolve', async () => {
    const rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2 });
    for (let i = 0; i < 100; i++) rt.trySend(`i${i}`, { op: 'add' });
    const a = rt.close();
    const b = rt.close();
    await expect(a).resolves.toBeUndefined();
    await expect(b).resolves.toBeUndefined();
    await expect(rt.close()).resolves.toBeUndefined();
    const s = rt.stats();
    expect(s.processed).toBe(s.sent);
    expect(s.sent).toBe(100);
  });

  test.each([
    ['close() right after a burst of sends and asks', 'immediate'],
    ['close() after everything settled', 'after-await'],
  ])('a process whose runtime is closed exits on its own: %s', async (_label, variant) => {
    const outcome = await runScenario('close-exit', variant, { timeoutMs: 20_000 });
    expect(outcome.timedOut, explain(outcome)).toBe(false);
    expect(outcome.code, explain(outcome)).toBe(0);
    expect(outcome.result, explain(outcome)).toEqual({ closed: true, rejected: 0, asks: ['x', 'y'] });
  });
});

describe('stats', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await createRuntime({ actor: fixture('api-probe.mjs'), threads: 2, partitions: 8 });
  });
  afterAll(async () => {
    await rt?.close();
  });

  test('a plain, JSON-serializable snapshot; sent/processed and per-thread, per-partition counts add up', async () => {
    const s0 = rt.stats();
    expect(JSON.parse(JSON.stringify(s0))).toEqual(s0);
    expect(s0.sent).toBe(0);
    expect(s0.processed).toBe(0);

    const perPartition = new Array<number>(8).fill(0);
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = i % 3 === 0 ? i % 301 : `s-${i % 301}`;
      perPartition[rt.partitionOf(key)]!++;
      if (i % 10 === 0) sends.push(rt.ask(key, { op: 'add' }));
      else if (i % 2 === 0) sends.push(rt.send(key, { op: 'add' }));
      else if (!rt.trySend(key, { op: 'add' })) sends.push(rt.send(key, { op: 'add' }));
    }
    await Promise.all(sends);
    await rt.drain();
    const s = rt.stats();
    // Plain data all the way down: JSON round-trips to an equal value.
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(s.sent).toBe(3000);
    expect(s.processed).toBe(3000);

    expect(s.threads.length).toBe(2);
    expect(s.partitions.length).toBe(8);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(s.threads.map((t: any) => t.sent))).toBe(s.sent);
    expect(sum(s.threads.map((t: any) => t.processed))).toBe(s.processed);
    expect(sum(s.partitions.map((p: any) => p.sent))).toBe(s.sent);
    expect(sum(s.partitions.map((p: any) => p.processed))).toBe(s.processed);
    for (let p = 0; p < 8; p++) {
      const entry = s.partitions[p] as any;
      expect(entry.partition ?? p).toBe(p);
      expect(entry.sent, `partition ${p}`).toBe(perPartition[p]);
      expect(entry.processed, `partition ${p}`).toBe(perPartition[p]);
    }
    for (let t = 0; t < 2; t++) {
      const mine = Array.from({ length: 8 }, (_, p) => p).filter((p) => rt.threadOf(p) === t);
      expect((s.threads[t] as any).sent, `thread ${t}`).toBe(sum(mine.map((p) => perPartition[p]!)));
      expect((s.threads[t] as any).processed, `thread ${t}`).toBe(sum(mine.map((p) => perPartition[p]!)));
    }
    // A snapshot: later traffic does not change it.
    const frozen = JSON.stringify(s);
    await rt.send('later', { op: 'add' });
    await rt.drain();
    expect(JSON.stringify(s)).toBe(frozen);
    expect(rt.stats().sent).toBe(3001);
  });
});
