/**
 * examples/http-service: the server runs as a child process (PORT=0, THREADS=2) and is driven
 * over real HTTP: per-user routing and order under concurrency, /metrics in Prometheus text
 * format, a live rebalance that carries the user's state to the other thread, input checks,
 * 404s, and a graceful SIGTERM that ends the process with exit code 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { partitionOfKey } from 'ringmaster';
import { PACKAGE_ROOT } from './helpers/child.js';

const SERVER = fileURLToPath(new URL('../examples/http-service/server.mjs', import.meta.url));

interface WorkReply {
  user: string;
  count: number;
  totalRounds: number;
  digest: string;
  partition: number;
  thread: number;
}

let child: ChildProcess;
let base = '';
let stdout = '';
let stderr = '';
/** The thread u1's replies came from in the first test. */
let u1Thread = -1;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

/** Rejects with `what` if `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms\nstdout: ${stdout}\nstderr: ${stderr}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function get(path: string, init?: RequestInit): Promise<{ status: number; type: string | null; body: any; text: string }> {
  const res = await fetch(base + path, init);
  const text = await res.text();
  const type = res.headers.get('content-type');
  return { status: res.status, type, text, body: type?.startsWith('application/json') ? JSON.parse(text) : undefined };
}
const post = (path: string) => get(path, { method: 'POST' });
const work = (user: string, rounds = 2000) => get(`/users/${user}/work?rounds=${rounds}`);

beforeAll(async () => {
  child = spawn(process.execPath, [SERVER], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, PORT: '0', THREADS: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code, signal) => reject(new Error(`server ended before listening (code ${code}, signal ${signal})\n${stdout}\n${stderr}`)));
  });
  base = await within(listening, 20_000, 'server listening');
});

afterAll(() => {
  // Only if a test failed before the SIGTERM test ended it.
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('examples/http-service', () => {
  test('50 concurrent work requests over 10 users: all 200, per-user counts exactly 1..5', async () => {
    const users = Array.from({ length: 10 }, (_, i) => `u${i}`);
    const requests = users.flatMap((u) => Array.from({ length: 5 }, () => work(u)));
    const replies = await Promise.all(requests);
    const counts = new Map<string, number[]>();
    for (const r of replies) {
      expect(r.status, r.text).toBe(200);
      const reply = r.body as WorkReply;
      expect(reply.digest).toMatch(/^[0-9a-f]{64}$/);
      expect([0, 1]).toContain(reply.thread);
      counts.set(reply.user, [...(counts.get(reply.user) ?? []), reply.count]);
    }
    expect([...counts.keys()].sort()).toEqual([...users].sort());
    for (const [user, seen] of counts) {
      // One at a time per user: each request saw a distinct count, ending exactly at 5.
      expect([...seen].sort((a, b) => a - b), user).toEqual([1, 2, 3, 4, 5]);
    }
    // The same user always lands on the same thread (its partition's).
    for (const user of users) {
      const threads = new Set(replies.map((r) => r.body as WorkReply).filter((b) => b.user === user).map((b) => b.thread));
      expect(threads.size, user).toBe(1);
      if (user === 'u1') u1Thread = [...threads][0]!;
    }
  });

  test('/metrics is Prometheus text and counts the processed messages', async () => {
    const label = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*"';
    const sample = new RegExp(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{${label}(?:,${label})*\\})? (NaN|[+-]Inf|-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)$`);
    /** One scrape: every line checked, the processed count summed over threads. */
    const scrape = async (): Promise<number> => {
      const r = await get('/metrics');
      expect(r.status).toBe(200);
      expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
      let processed = 0;
      let samples = 0;
      for (const line of r.text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const m = sample.exec(line);
        expect(m, `not a Prometheus sample line: ${JSON.stringify(line)}`).not.toBeNull();
        samples++;
        if (m![1] === 'ringmaster_messages_processed_total') processed += Number(m![3]);
      }
      expect(samples).toBeGreaterThan(0);
      return processed;
    };
    // A worker publishes its processed count when it runs dry (or every 256 messages), which can
    // come a moment after the reply the client already has: wait for it, up to 10 s.
    const deadline = Date.now() + 10_000;
    let processed = await scrape();
    while (processed < 50 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      processed = await scrape();
    }
    expect(processed).toBeGreaterThanOrEqual(50);
  });

  test('/stats is the runtime snapshot plus the mapping', async () => {
    const r = await get('/stats');
    expect(r.status).toBe(200);
    expect(r.body.processed).toBeGreaterThanOrEqual(50);
    expect(r.body.threads).toHaveLength(2);
    expect(r.body.mapping).toHaveLength(r.body.partitions.length);
    expect(r.body.mapping.every((t: number) => t === 0 || t === 1)).toBe(true);
  });

  test("POST /rebalance moves u1's partition to the other thread, with its state", async () => {
    // Where u1 lives now, without sending it a request: its partition by the documented hash, its
    // thread from the mapping (cross-checked against the thread its 5 replies reported).
    const stats = (await get('/stats')).body;
    const partition = partitionOfKey('u1', stats.partitions.length);
    const from = stats.mapping[partition] as number;
    expect(from).toBe(u1Thread);
    const target = 1 - from;
    const moved = await post(`/rebalance?partition=${partition}&thread=${target}`);
    expect(moved.status, moved.text).toBe(200);
    expect(moved.body).toEqual({ partition, from, thread: target });
    expect((await get('/stats')).body.mapping[partition]).toBe(target);
    const after = await work('u1');
    expect(after.status, after.text).toBe(200);
    const reply = after.body as WorkReply;
    expect(reply.partition).toBe(partition);
    expect(reply.thread).toBe(target);
    expect(reply.count).toBe(6); // the count continued on the new thread: the state moved
    expect(reply.totalRounds).toBe(6 * 2000);
  });

  test('bad input: 400 with a JSON error', async () => {
    for (const path of [
      '/users/u1/work', // rounds missing
      '/users/u1/work?rounds=0',
      '/users/u1/work?rounds=100001',
      '/users/u1/work?rounds=abc',
      '/users/u1/work?rounds=1.5',
      '/users//work', // empty id
      '/users/bad%20id/work',
      `/users/${'x'.repeat(65)}/work`,
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(400);
      expect(typeof r.body.error, path).toBe('string');
    }
    for (const path of ['/rebalance', '/rebalance?partition=0', '/rebalance?partition=999999&thread=0', '/rebalance?partition=0&thread=2', '/rebalance?partition=-1&thread=0', '/resize?threads=0', '/resize']) {
      const r = await post(path);
      expect(r.status, path).toBe(400);
      expect(typeof r.body.error, path).toBe('string');
    }
    // Nothing above reached u1's actor.
    expect(((await work('u1')).body as WorkReply).count).toBe(7);
  });

  test('POST /resize changes the thread count live; the state survives', async () => {
    const down = await post('/resize?threads=1');
    expect(down.status, down.text).toBe(200);
    expect(down.body.threads).toBe(1);
    expect(down.body.mapping.every((t: number) => t === 0)).toBe(true);
    const one = (await work('u1')).body as WorkReply;
    expect({ thread: one.thread, count: one.count }).toEqual({ thread: 0, count: 8 });
    const up = await post('/resize?threads=2');
    expect(up.status, up.text).toBe(200);
    expect(up.body.threads).toBe(2);
    expect(new Set(up.body.mapping)).toEqual(new Set([0, 1]));
    const two = (await work('u1')).body as WorkReply;
    expect(two.thread).toBe(up.body.mapping[two.partition]);
    expect(two.count).toBe(9);
  });

  test('unknown routes and methods: 404 with a JSON error', async () => {
    for (const [method, path] of [['GET', '/'], ['GET', '/nope'], ['POST', '/metrics'], ['GET', '/rebalance'], ['DELETE', '/users/u1/work?rounds=1'], ['GET', '/users/u1/work/extra']] as const) {
      const r = await get(path, { method });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(typeof r.body.error).toBe('string');
    }
  });

  test('SIGTERM: the server closes the runtime and exits with code 0 by itself', async () => {
    child.kill('SIGTERM');
    const { code, signal } = await within(exited, 15_000, 'exit after SIGTERM');
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    expect(stdout).toContain('runtime closed {"timedOut":false,"unprocessed":0}');
  });
});
