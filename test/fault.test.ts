/**
 * Supervision under traffic: worker threads killed while messages flow (process.exit in receive,
 * an uncaught exception from a timer, an unhandled rejection) are restarted and resume from their
 * ring's released position. What must hold, whatever the timing: every message processed at least
 * once (exact per-key seq sets and sums after de-duplication), first deliveries in per-key order,
 * duplicates within the documented bound, asks to a crashed thread answered by its replacement,
 * and a crash loop stopping the runtime with a clear error instead of spinning.
 *
 * Size: FAULT_MESSAGES=n (default 60,000; `npm run test:faults` runs 1,000,000).
 *
 * The actor (fixtures/fault-actor.mjs) appends every delivery to a file per worker instance
 * synchronously, so what a dead worker processed is on disk; files sort by threadId, i.e. by
 * worker start order.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createRuntime, PoisonMessageError, WorkerExitError, type DeadLetter, type WorkerExitEvent, type WorkerRestartEvent } from 'ringmaster';
import { fixture, keyForPartition } from './helpers/api.js';

const ACTOR = fixture('fault-actor.mjs');
/** Frames a worker may have handled but not yet released when it dies (it releases every 256). */
const DUPLICATES_PER_CRASH = 512;
const FAULT_MESSAGES = Number(process.env.FAULT_MESSAGES ?? 60_000);
if (!Number.isSafeInteger(FAULT_MESSAGES) || FAULT_MESSAGES < 6000) throw new Error(`FAULT_MESSAGES must be an integer >= 6000, got ${process.env.FAULT_MESSAGES}`);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ringmaster-fault-'));
  process.env.RINGMASTER_FAULT_DIR = dir; // worker threads inherit it
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Every delivery, in worker start order then delivery order. */
function deliveries(): { key: string; seq: number }[] {
  const out: { key: string; seq: number }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.startsWith('deliveries-')).sort()) {
    for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      if (line === '') continue;
      const [key, seq] = line.split(' ');
      out.push({ key: key!, seq: Number(seq) });
    }
  }
  return out;
}

describe('crashes while traffic flows', () => {
  test('exit, uncaught exception and unhandled rejection: nothing lost, first deliveries in order, duplicates bounded', async () => {
    const PARTITIONS = 16;
    const rt = await createRuntime({ actor: ACTOR, threads: 2, partitions: PARTITIONS, restart: { backoffMs: 5 } });
    const exits: WorkerExitEvent[] = [];
    const restarts: WorkerRestartEvent[] = [];
    rt.on('workerExit', (e) => exits.push(e));
    rt.on('workerRestart', (e) => restarts.push(e));
    const KEYS = 300;
    const N = Math.ceil(FAULT_MESSAGES / KEYS) * KEYS; // every key gets the same count
    const keyOf = (i: number): string => `k${i % KEYS}`;
    // Crash keys on known threads: partition p lives on thread p % 2 (modulo mapping).
    const crashes = [
      { at: Math.floor(N / 6), crash: 'exit', key: keyForPartition(0, PARTITIONS, 'c') }, // thread 0
      { at: Math.floor((N * 5) / 12), crash: 'throw', key: keyForPartition(1, PARTITIONS, 'c') }, // thread 1
      { at: Math.floor((N * 2) / 3), crash: 'reject', key: keyForPartition(2, PARTITIONS, 'c') }, // thread 0
    ];
    const crashReplies: Promise<unknown>[] = [];
    let pendingAsk: Promise<unknown> | undefined;
    try {
      for (let i = 0; i < N; i++) {
        const c = crashes.find((x) => x.at === i);
        if (c) {
          crashReplies.push(rt.ask(c.key, { crash: c.crash, id: i }, { timeoutMs: 60_000 }));
          // An ask queued right behind the crash on the same thread: the replacement answers it.
          if (c.crash === 'exit') pendingAsk = rt.ask(keyForPartition(4, PARTITIONS, 'a'), { seq: -1, amount: 0 }, { timeoutMs: 60_000 });
        }
        const key = keyOf(i);
        const msg = { seq: i, amount: i % 7 };
        if (!rt.trySend(key, msg)) await rt.send(key, msg);
      }
      await rt.drain();
      // The crash messages were re-delivered to the replacements, which survived them.
      expect(await Promise.all(crashReplies)).toEqual(['survived', 'survived', 'survived']);
      expect(await pendingAsk).toBe(-1);
    } finally {
      await rt.close();
    }

    // The threads crash concurrently: the order across threads is not fixed, the facts are.
    expect(exits.every((e) => e.restarting)).toBe(true);
    expect(exits.map((e) => e.thread).sort()).toEqual([0, 0, 1]);
    expect(exits.filter((e) => e.exitCode === 7 && e.error === undefined)).toHaveLength(1); // process.exit(7)
    const messages = exits.map((e) => e.error?.message ?? '').sort();
    expect(messages[1]).toMatch(/^injected crash/);
    expect(messages[2]).toMatch(/^injected unhandled rejection/);
    expect(restarts.map((r) => r.thread).sort()).toEqual([0, 0, 1]);
    expect(rt.stats().threads.map((t) => t.restarts)).toEqual([2, 1]);

    const seen = new Map<string, Set<number>>();
    const lastFirst = new Map<string, number>();
    let duplicates = 0;
    let orderErrors = 0;
    let sum = 0;
    for (const { key, seq } of deliveries()) {
      if (seq < 0) continue; // the pending ask's message
      let set = seen.get(key);
      if (!set) seen.set(key, (set = new Set()));
      if (set.has(seq)) {
        duplicates++;
        continue;
      }
      set.add(seq);
      sum += seq % 7;
      if (seq <= (lastFirst.get(key) ?? -1)) orderErrors++;
      lastFirst.set(key, seq);
    }
    let expectedSum = 0;
    for (let i = 0; i < N; i++) expectedSum += i % 7;
    const unique = [...seen.values()].reduce((n, s) => n + s.size, 0);
    console.log(`fault suite: ${N} messages, ${exits.length} crashes, ${unique} processed once, ${duplicates} duplicates, 0 lost`);
    expect(unique).toBe(N); // nothing lost
    expect(sum).toBe(expectedSum);
    expect(seen.size).toBe(KEYS);
    for (const [key, set] of seen) expect(set.size, key).toBe(N / KEYS);
    expect(orderErrors).toBe(0); // first deliveries in per-key order
    expect(duplicates).toBeLessThanOrEqual(DUPLICATES_PER_CRASH * exits.length);
  }, Math.max(120_000, FAULT_MESSAGES / 10));

  test('a poison message: after maxCrashes crashes it is set aside as a dead letter, everything else is processed', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1, restart: { backoffMs: 1, maxCrashes: 3 } });
    const letters: DeadLetter[] = [];
    rt.on('deadLetter', (d) => letters.push(d));
    const exits: WorkerExitEvent[] = [];
    rt.on('workerExit', (e) => exits.push(e));
    try {
      const N = 3000;
      const poisonAt = 1000;
      let poisonAsk: Promise<unknown> | undefined;
      for (let i = 0; i < N; i++) {
        if (i === poisonAt) poisonAsk = rt.ask('victim', { crash: 'always', note: 'the poison' }, { timeoutMs: 60_000 }).catch((e: Error) => e);
        const msg = { seq: i, amount: 1 };
        if (!rt.trySend(`p${i % 20}`, msg)) await rt.send(`p${i % 20}`, msg);
      }
      await rt.drain();
      const rejected = await poisonAsk;
      expect(rejected).toBeInstanceOf(PoisonMessageError);
      expect((rejected as Error).message).toMatch(/crashed its worker 3 times: set aside as a dead letter/);
      expect(exits).toHaveLength(3);
      expect(exits.every((e) => e.restarting && e.exitCode === 9)).toBe(true);
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ key: 'victim', thread: 0, reason: 'poison', attempts: 3, ask: true, message: { crash: 'always', note: 'the poison' } });
      expect(rt.deadLetters()).toEqual(letters);
      // After the poison message the runtime goes on, and its actors can tell they were restarted.
      expect(await rt.ask('after', { seq: -2, amount: 0 })).toBe(-2);
      expect(await rt.ask('after', { op: 'where' })).toEqual({ thread: 0, restarts: 3 });
    } finally {
      await rt.close();
    }
    const firsts = new Set(deliveries().filter((d) => d.seq >= 0).map((d) => d.seq));
    expect(firsts.size).toBe(3000); // every other message processed at least once
  }, 60_000);

  test('40 crash → restart cycles, each crash right behind an answered ask: every ask answered once (restart time printed)', async () => {
    // A replacement re-reads frames its predecessor answered but had not released yet, and answers
    // them again: those duplicates must not stand in for replies still to come.
    const rt = await createRuntime({ actor: ACTOR, threads: 1, restart: { backoffMs: 0, maxRestarts: 1000, withinMs: 1000 } });
    const restartMs: number[] = [];
    let exitAt = 0;
    rt.on('workerExit', () => (exitAt = performance.now()));
    rt.on('workerRestart', (e) => restartMs.push(performance.now() - exitAt - e.delayMs));
    try {
      for (let id = 0; id < 40; id++) {
        expect(await rt.ask('k', { crash: 'exit', id }, { timeoutMs: 20_000 })).toBe('survived');
        expect(await rt.ask('k', { seq: -10 - id, amount: 0 }, { timeoutMs: 20_000 })).toBe(-10 - id);
      }
    } finally {
      await rt.close();
    }
    restartMs.sort((a, b) => a - b);
    expect(restartMs).toHaveLength(40);
    console.log(`restart (worker exit → replacement ready): p50 ${restartMs[20]!.toFixed(1)} ms, p99 ${restartMs[39]!.toFixed(1)} ms over 40 restarts`);
  }, 120_000);

  test('out of memory under resourceLimits: only the worker dies, it is restarted, traffic goes on', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1, restart: { backoffMs: 1 }, resourceLimits: { maxOldGenerationSizeMb: 48 } });
    const exits: WorkerExitEvent[] = [];
    rt.on('workerExit', (e) => exits.push(e));
    try {
      const oom = rt.ask('hog', { crash: 'oom', id: 'oom-1' }, { timeoutMs: 60_000 });
      for (let i = 0; i < 1000; i++) await rt.send(`o${i % 10}`, { seq: i, amount: 1 });
      expect(await oom).toBe('survived');
      await rt.drain();
      expect(exits).toHaveLength(1);
      expect(exits[0]!.restarting).toBe(true);
      expect(exits[0]!.error?.message ?? '').toMatch(/memory/i);
    } finally {
      await rt.close();
    }
    const seqs = new Set(deliveries().filter((d) => d.seq >= 0).map((d) => d.seq));
    expect(seqs.size).toBe(1000);
  }, 60_000);

  test('a crash loop stops the runtime: pending asks and later sends fail with a WorkerExitError', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1, restart: { backoffMs: 1, maxRestarts: 2, withinMs: 60_000 } });
    const failed: Error[] = [];
    rt.on('failed', (e) => failed.push(e.error));
    const exits: WorkerExitEvent[] = [];
    rt.on('workerExit', (e) => exits.push(e));
    try {
      // Three different crash ids: each kills the worker once, so three crashes in a row.
      const asks = [1, 2, 3].map((id) => rt.ask('loop', { crash: 'exit', id }, { timeoutMs: 60_000 }).catch((e: Error) => e));
      const results = await Promise.all(asks);
      // The first two crash messages are re-delivered and survived; the third crash gives up.
      expect(results.slice(0, 2)).toEqual(['survived', 'survived']);
      expect(results[2]).toBeInstanceOf(WorkerExitError);
      expect((results[2] as Error).message).toMatch(/crashed more than 2 times within 60000 ms; the runtime stopped/);
      expect(failed).toHaveLength(1);
      expect(exits.map((e) => e.restarting)).toEqual([true, true, false]);
      expect(() => rt.trySend('loop', { seq: 1, amount: 1 })).toThrow(WorkerExitError);
      await expect(rt.ask('loop', { seq: 1, amount: 1 })).rejects.toThrow(WorkerExitError);
    } finally {
      await rt.close(); // resolves: nothing is left running
    }
  }, 60_000);

  test('restart: false leaves a crashed thread dead: its asks reject with WorkerExitError', async () => {
    const rt = await createRuntime({ actor: ACTOR, threads: 1, restart: false });
    const exits: WorkerExitEvent[] = [];
    rt.on('workerExit', (e) => exits.push(e));
    try {
      const crashed = rt.ask('solo', { crash: 'exit', id: 1 }, { timeoutMs: 60_000 });
      await expect(crashed).rejects.toThrow(WorkerExitError);
      expect(exits).toEqual([{ thread: 0, exitCode: 7, restarting: false }]);
      expect(() => rt.trySend('solo', { seq: 1, amount: 1 })).toThrow(WorkerExitError);
    } finally {
      await rt.close();
    }
  }, 60_000);
});
