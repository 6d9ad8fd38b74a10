/** Live topology against faults and races: failing imports, resizes racing moves, crashes during resizes, close timeouts. */
import { describe, expect, test } from 'vitest';
import { createRuntime, type Runtime } from 'ringmaster';
import { fixture } from './helpers/api.js';

const actor = fixture('topology-faults-actor.mjs');

/** A key whose partition is `partition`. */
function keyOn(rt: Runtime, partition: number): string {
  for (let i = 0; ; i++) if (rt.partitionOf(`k${i}`) === partition) return `k${i}`;
}

describe('live topology under faults', () => {
  test('a failing importState: the move rejects, the partition and its state stay where they were', async () => {
    const rt = await createRuntime({ actor, threads: 2, partitions: 4, mapping: 'modulo' });
    try {
      const k = keyOn(rt, 0);
      for (let i = 0; i < 5; i++) await rt.send(k, { seq: i });
      await rt.send(k, { op: 'fail-import' });
      await expect(rt.rebalance(0, 1)).rejects.toThrow(/cannot import on thread 1/);
      expect(rt.threadOf(0)).toBe(0);
      expect(await rt.ask(k, { op: 'get' })).toEqual({ seen: [0, 1, 2, 3, 4], thread: 0 });
      const actors = (await rt.snapshots()).map((s) => s.actors.default);
      expect(actors).toEqual([1, 0]); // nothing half-imported left on thread 1
      expect(rt.stats().handoffs).toMatchObject({ count: 0, failed: 1 });
    } finally {
      await rt.close();
    }
  }, 30_000);

  test('a move queued behind another to a thread that resize then removes: refused, nothing lost', async () => {
    const rt = await createRuntime({ actor, threads: 3, partitions: 3 });
    try {
      const k = keyOn(rt, 0);
      for (let i = 0; i < 5; i++) await rt.send(k, { seq: i });
      await rt.send(k, { op: 'sleep', ms: 300 }); // the first move drains for that long
      const first = rt.rebalance(0, 1);
      const queued = rt.rebalance(0, 2); // thread 2 exists now; it waits for the first move
      const shrink = rt.resize(2);
      await first;
      await expect(queued).rejects.toThrow(RangeError);
      await shrink;
      expect(rt.threads).toBe(2);
      expect(rt.mapping().every((t) => t < 2)).toBe(true);
      await rt.send(k, { seq: 5 });
      expect((await rt.ask<{ seen: number[] }>(k, { op: 'get' })).seen).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      await rt.close();
    }
  }, 30_000);

  test('a thread that crashes and is removed by resize during its restart backoff: no restart on a removed thread', async () => {
    const rt = await createRuntime({ actor, threads: 2, partitions: 4, restart: { backoffMs: 300 } });
    try {
      const exited = new Promise((resolve) => rt.once('workerExit', resolve));
      await rt.send(keyOn(rt, 1), { op: 'crash' });
      await exited;
      await rt.resize(1); // drains thread 1 first: that waits for its restart
      await rt.resize(2); // a new thread 1, on new rings
      await new Promise((resolve) => setTimeout(resolve, 400)); // past the old backoff: nothing may start on thread 1's rings now
      for (let i = 0; i < 2000; i++) await rt.send(keyOn(rt, i % 4), { seq: i });
      await rt.drain();
      const s = rt.stats();
      expect(s.threads.map((t) => t.completed)).toEqual(s.threads.map((t) => t.written)); // one consumer per ring
    } finally {
      await rt.close();
    }
  }, 30_000);

  test('resize to a thread that cannot start: rejects, and the runtime keeps its threads', async () => {
    process.env.RINGMASTER_TEST_NO_THREAD_2 = '1';
    const rt = await createRuntime({ actor, threads: 2, partitions: 4 });
    try {
      await expect(rt.resize(3)).rejects.toThrow(/no third thread today/);
      expect(rt.threads).toBe(2);
      expect(rt.mapping()).toEqual([0, 1, 0, 1]);
      await expect(rt.rebalance(0, 2)).rejects.toThrow(RangeError);
      await rt.send(keyOn(rt, 0), { seq: 1 });
      expect(await rt.ask(keyOn(rt, 0), { op: 'get' })).toMatchObject({ seen: [1] });
    } finally {
      delete process.env.RINGMASTER_TEST_NO_THREAD_2;
      await rt.close();
    }
  }, 30_000);

  test('close({ timeoutMs }) reports the messages a move was holding', async () => {
    const rt = await createRuntime({ actor, threads: 2, partitions: 4 });
    const k = keyOn(rt, 0);
    await rt.send(k, { op: 'sleep', ms: 2000 }); // the move waits for this
    const move = rt.rebalance(0, 1).catch((e: Error) => e);
    for (let i = 0; i < 10; i++) void rt.send(k, { seq: i }).catch(() => {});
    await rt.close({ timeoutMs: 200 });
    const report = rt.closeReport()!;
    expect(report.timedOut).toBe(true);
    const letters = rt.deadLetters().filter((d) => d.reason === 'unprocessed');
    expect(letters.map((d) => (d.message as { seq?: number }).seq).filter((x) => x !== undefined).sort((a, b) => a! - b!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(report.unprocessed).toBe(letters.length);
    await move;
  }, 30_000);
});
