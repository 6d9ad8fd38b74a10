/**
 * options.workerNice: on Linux each worker thread lowers its own scheduling priority, so a worker
 * waking up does not preempt the main thread (the router) on an oversubscribed machine. Checked
 * through /proc: the niceness of every thread of this process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { fixture, until } from './helpers/api.js';

/** Threads of this process running at niceness `nice` (field 19 of /proc/.../stat, after the parenthesized name). */
function threadsAtNice(nice: number): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[16]) === nice) n++; // fields[0] is field 3 (state): field 19 is fields[16]
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}

describe.runIf(process.platform === 'linux')('workerNice (Linux)', () => {
  const actor = fixture('api-echo.mjs');

  test('oversubscribed (threads + 1 > cores): every worker runs at niceness 10 by default, the main thread at 0', async () => {
    const threads = availableParallelism();
    const before = threadsAtNice(10);
    const rt = await createRuntime({ actor, threads });
    try {
      expect(threadsAtNice(10) - before).toBe(threads);
      expect(await rt.ask('k', 'hello')).toBeDefined(); // the workers still work
    } finally {
      await rt.close();
    }
    await until('the niced workers to end', () => threadsAtNice(10) === before, 10_000);
  });

  test('one core each (threads + 1 <= cores): niceness 0 by default; an explicit value is applied; 0 turns it off', async () => {
    const before = threadsAtNice(7);
    const spare = availableParallelism() - 1;
    if (spare >= 1) {
      const normal = await createRuntime({ actor, threads: spare });
      try {
        expect(threadsAtNice(7)).toBe(before); // nothing niced
        expect(threadsAtNice(10)).toBe(0);
      } finally {
        await normal.close();
      }
    }
    const seven = await createRuntime({ actor, threads: 2, workerNice: 7 });
    try {
      expect(threadsAtNice(7) - before).toBe(2);
    } finally {
      await seven.close();
    }
    const off = await createRuntime({ actor, threads: availableParallelism() + 1, workerNice: 0 });
    try {
      expect(threadsAtNice(10)).toBe(0);
    } finally {
      await off.close();
    }
  });

  test('bad values are refused before any thread starts', async () => {
    const tasks = readdirSync('/proc/self/task').length;
    await expect(createRuntime({ actor, workerNice: -1 })).rejects.toThrow(RangeError);
    await expect(createRuntime({ actor, workerNice: 20 })).rejects.toThrow(RangeError);
    await expect(createRuntime({ actor, workerNice: 1.5 })).rejects.toThrow(TypeError);
    await expect(createRuntime({ actor, workerNice: '5' as never })).rejects.toThrow(TypeError);
    expect(readdirSync('/proc/self/task').length).toBe(tasks);
  });
});
