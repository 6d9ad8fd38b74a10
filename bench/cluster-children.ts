/**
 * Child processes of the cluster benchmarks (cluster.ts, failover.ts): each speaks JSON lines,
 * ops on stdin and events on stdout. Events wait in a queue until asked for by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';

export interface Child {
  proc: ChildProcess;
  /** Every event seen so far, in order (also those handed out by next). */
  readonly events: Record<string, unknown>[];
  /** The next event of that name not yet handed out (waits for it). */
  next(event: string): Promise<Record<string, unknown>>;
  send(op: string, fields?: Record<string, unknown>): void;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
}

export function startChild(script: string, args: string[], env?: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: env ?? process.env });
  const events: Record<string, unknown>[] = [];
  const queue: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve(v: Record<string, unknown>): void }[] = [];
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as Record<string, unknown>;
    events.push(msg);
    const w = waiters.findIndex((x) => x.event === msg.event);
    if (w >= 0) waiters.splice(w, 1)[0]!.resolve(msg);
    else queue.push(msg);
  });
  return {
    proc,
    events,
    exited,
    next(event) {
      const i = queue.findIndex((m) => m.event === event);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]!);
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.reject(new Error(`cluster bench process exited before '${event}'`));
      return new Promise((resolve, reject) => {
        waiters.push({ event, resolve });
        proc.once('exit', (code) => reject(new Error(`cluster bench process exited (code ${code}) before '${event}'`)));
      });
    },
    send(op, fields) {
      proc.stdin!.write(JSON.stringify({ op, ...fields }) + '\n');
    },
  };
}

/** Polls check every 10 ms until it holds; throws after timeoutMs, naming what it waited for. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Which node holds each partition's lease now (null: nobody), read from the Redis Streams
 * engine's keys (redis-streams.ts: `rm:{name}:lease:{p}` holds `{node}:{token}`).
 */
export async function leaseHolders(redis: Redis, name: string, partitions: number): Promise<(string | null)[]> {
  const values = await Promise.all(Array.from({ length: partitions }, (_, p) => redis.get(`rm:${name}:lease:${p}`)));
  return values.map((v) => (v === null ? null : v.slice(0, v.lastIndexOf(':'))));
}

/** True once every entry of the cluster's partition streams is acknowledged (no lag, nothing pending). */
export async function allAcknowledged(redis: Redis, name: string, partitions: number): Promise<boolean> {
  for (let p = 0; p < partitions; p++) {
    const groups = (await redis.call('XINFO', 'GROUPS', `rm:${name}:p:${p}`)) as unknown[][];
    const g = groups[0];
    if (g === undefined) continue; // never written to
    const info: Record<string, unknown> = {};
    for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
    if (Number(info.pending) !== 0 || Number(info.lag) !== 0) return false;
  }
  return true;
}
