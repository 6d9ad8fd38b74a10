/**
 * { priority: 'high' }: a second ring per thread that its worker drains before the normal one.
 * A high message overtakes a normal backlog (it waits at most for the message in hand); order
 * holds within each priority; drain and crash recovery cover both rings.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { fixture } from './helpers/api.js';

describe("priority: 'high'", () => {
  test('high messages overtake a backlog of normal ones; each priority keeps its order', async () => {
    const rt = await createRuntime({ actor: fixture('priority-actor.mjs'), threads: 1 });
    try {
      const blocked = rt.ask('blocker', { op: 'block', ms: 300 }); // holds the worker
      for (let i = 0; i < 2000; i++) if (!rt.trySend(`n${i % 7}`, { id: i, lane: 'n' })) await rt.send(`n${i % 7}`, { id: i, lane: 'n' });
      for (let i = 0; i < 20; i++) rt.trySend(`h${i % 3}`, { id: i, lane: 'h' }, { priority: 'high' });
      expect(await blocked).toBe('unblocked');
      await rt.drain();
      const log = await rt.ask<string[]>('reader', { op: 'log' }, { priority: 'high' });
      expect(log).toHaveLength(2020);
      // The worker had read at most a batch of the normal ring when it blocked; everything high
      // came before the normal backlog behind it.
      const firstNormal = log.findIndex((e) => e.startsWith('n'));
      const lastHigh = log.map((e) => e.startsWith('h')).lastIndexOf(true);
      const normalBeforeLastHigh = log.slice(0, lastHigh).filter((e) => e.startsWith('n')).length;
      expect(normalBeforeLastHigh, `first normal at ${firstNormal}, last high at ${lastHigh}`).toBeLessThan(300);
      const order = (lane: string): number[] => log.filter((e) => e.startsWith(lane)).map((e) => Number(e.slice(1)));
      expect(order('h')).toEqual([...Array(20).keys()]);
      expect(order('n')).toEqual([...Array(2000).keys()]);
      expect(rt.stats().processed).toBe(rt.stats().sent);
    } finally {
      await rt.close();
    }
  });

  test('a bad priority is a TypeError, nothing enqueued', async () => {
    const rt = await createRuntime({ actor: fixture('priority-actor.mjs'), threads: 1 });
    try {
      expect(() => rt.trySend('k', { id: 1 }, { priority: 'urgent' as never })).toThrow(TypeError);
      await expect(rt.send('k', { id: 1 }, { priority: 'urgent' as never })).rejects.toThrow(TypeError);
      expect(rt.stats().sent).toBe(0);
    } finally {
      await rt.close();
    }
  });

  test('a crash while both rings hold traffic: both resume, nothing lost', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ringmaster-prio-fault-'));
    process.env.RINGMASTER_FAULT_DIR = dir;
    try {
      const rt = await createRuntime({ actor: fixture('fault-actor.mjs'), threads: 1, restart: { backoffMs: 1 } });
      let restarts = 0;
      rt.on('workerRestart', () => restarts++);
      try {
        const N = 20_000;
        for (let i = 0; i < N; i++) {
          if (i === N / 2) void rt.ask('boom', { crash: 'exit', id: 'p1' }, { priority: 'high' });
          const high = i % 4 === 0;
          const msg = { seq: i, amount: 1 };
          const options = high ? { priority: 'high' as const } : {};
          if (!rt.trySend(`k${i % 13}`, msg, options)) await rt.send(`k${i % 13}`, msg, options);
        }
        await rt.drain();
      } finally {
        await rt.close();
      }
      expect(restarts).toBe(1);
      const seen = new Set<number>();
      for (const file of readdirSync(dir).filter((f) => f.startsWith('deliveries-'))) {
        for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) if (line) seen.add(Number(line.split(' ')[1]));
      }
      expect(seen.size).toBe(20_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
