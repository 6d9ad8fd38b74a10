/**
 * `ringmaster bench --cluster <redis-url|local> [--messages N] [--runs R]` (and `npm run
 * bench:cluster`, which starts a throwaway local Redis): W1 through cluster mode with 1, 2 and 3
 * processes on this machine, next to the in-process runtime and a plain Redis-list queue
 * (LPUSH + BRPOP, one consumer) on the same Redis, per run; medians and ranges at the end.
 *
 * Cluster runs: the processes join, the partitions settle (every process owns its share), then
 * the clock runs from "go" until every entry is acknowledged (XINFO GROUPS: lag and pending 0).
 * Each is verified: every W1 message processed at least once (per-key counts and sums, summed over
 * the processes; the surplus is reported as duplicates).
 */
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { loadRedis } from '../cluster/load-redis.js';
import { pack, unpack } from 'msgpackr';
import { createRuntime } from '../index.js';
import { W1_ACTOR } from './peers/ringmaster.js';
import { fetchW1Totals } from './ringmaster-threads.js';
import { startRedisServer } from './redis-server.js';
import { applyW1, newKeyTally, verifyW1, W1, W1_KEYS, type W1Message } from './w1.js';
import { UsageError } from './args.js';
import { allAcknowledged, leaseHolders, startChild, until } from './cluster-children.js';

const PROCESS_SCRIPT = fileURLToPath(new URL('./cluster-process.js', import.meta.url));
const PARTITIONS = 32;

async function clusterRun(url: string, redis: Redis, processes: number, n: number, run: number): Promise<{ rate: number; duplicates: number }> {
  const name = `bench-${process.pid}-${run}-${processes}`;
  const children = Array.from({ length: processes }, (_, i) => startChild(PROCESS_SCRIPT, [url, name, `p${i}`, String(processes), String(i), String(n)]));
  try {
    await Promise.all(children.map((c) => c.next('ready')));
    // Settled: every process holds its even share of the leases.
    const share = Math.floor(PARTITIONS / processes);
    await until(async () => {
      const holders = await leaseHolders(redis, name, PARTITIONS);
      return children.every((_, i) => holders.filter((h) => h === `p${i}`).length >= share);
    }, 'the partitions to settle');
    const start = performance.now();
    for (const c of children) c.send('go');
    await Promise.all(children.map((c) => c.next('sent')));
    await until(() => allAcknowledged(redis, name, PARTITIONS), 'every entry to be acknowledged');
    const seconds = (performance.now() - start) / 1000;
    for (const c of children) c.send('totals');
    const totals = await Promise.all(children.map((c) => c.next('totals')));
    const expected = W1.expected(n);
    let duplicates = 0;
    for (let k = 0; k < W1_KEYS; k++) {
      const count = totals.reduce((s, t) => s + (t.counts as number[])[k]!, 0);
      if (count < expected.counts[k]!) throw new Error(`cluster ${processes}p: key ${k} processed ${count} times, expected ${expected.counts[k]}: messages lost`);
      duplicates += count - expected.counts[k]!;
    }
    return { rate: n / seconds, duplicates };
  } finally {
    for (const c of children) c.send('stop');
    await Promise.all(children.map((c) => c.exited));
    const keys = await redis.keys(`rm:${name}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
}

async function inProcessRun(n: number): Promise<number> {
  const rt = await createRuntime({ actor: W1_ACTOR, threads: 2, partitions: PARTITIONS });
  try {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const msg = W1.message(i);
      if (!rt.trySend(msg.key, msg)) await rt.send(msg.key, msg);
    }
    await rt.drain();
    const totals = await fetchW1Totals(rt, W1_KEYS, 60_000);
    const seconds = (performance.now() - start) / 1000;
    verifyW1('in-process', W1.expected(n), totals);
    return n / seconds;
  } finally {
    await rt.close();
  }
}

/** The seeds' Redis queue: LPUSH (auto-pipelined) from one producer, BRPOP by one consumer, W1 applied. */
async function listRun(url: string, n: number, run: number): Promise<number> {
  const RedisClient = await loadRedis();
  const producer = new RedisClient(url, { enableAutoPipelining: true });
  const consumer = new RedisClient(url);
  const key = `bench-list-${process.pid}-${run}`;
  try {
    const states = new Map<string, ReturnType<typeof newKeyTally>>();
    const start = performance.now();
    const consumed = (async () => {
      for (let got = 0; got < n; got++) {
        const [, raw] = (await consumer.brpopBuffer(key, 10))!;
        const msg = unpack(raw) as W1Message;
        let s = states.get(msg.key);
        if (s === undefined) states.set(msg.key, (s = newKeyTally(msg.key)));
        applyW1(s, msg);
      }
    })();
    const pushes: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      pushes.push(producer.lpush(key, pack(W1.message(i))));
      if (pushes.length === 1000) await Promise.all(pushes.splice(0));
    }
    await Promise.all(pushes);
    await consumed;
    const seconds = (performance.now() - start) / 1000;
    let count = 0;
    for (const s of states.values()) count += s.count;
    if (count !== n) throw new Error(`list baseline: ${count} of ${n} processed`);
    return n / seconds;
  } finally {
    await producer.del(key);
    producer.disconnect();
    consumer.disconnect();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const k = (x: number): string => `${(x / 1000).toFixed(1)}K`;
const line = (label: string, xs: number[]): string => `${label.padEnd(34)} ${k(median(xs))} msgs/s (${k(Math.min(...xs))}–${k(Math.max(...xs))})`;

export async function clusterBench(argv: string[]): Promise<number> {
  let target: string | undefined;
  let n = 100_000;
  let runs = 3;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (flag === '--cluster') target = value;
    else if (flag === '--messages') n = Number(value);
    else if (flag === '--runs') runs = Number(value);
    else throw new UsageError(`--cluster takes --messages N and --runs R only, got ${flag}`);
    i++;
  }
  if (target === undefined || !(target === 'local' || /^rediss?:\/\//.test(target))) throw new UsageError('--cluster needs a redis:// URL, or local (a throwaway redis-server)');
  if (!Number.isSafeInteger(n) || n < 1000) throw new UsageError('--messages must be an integer of at least 1000');
  if (!Number.isSafeInteger(runs) || runs < 1) throw new UsageError('--runs must be a positive integer');
  const local = target === 'local' ? await startRedisServer() : null;
  const url = local?.url ?? target;
  const redis = new (await loadRedis())(url);
  try {
    console.log(`ringmaster bench --cluster: W1, ${n.toLocaleString('en-US')} messages, ${runs} runs, Redis ${url}${local ? ' (local, persistence off)' : ''}; processes of 2 worker threads, 32 partitions`);
    const results: Record<string, number[]> = { 'in-process (1 process, no Redis)': [], 'Redis list LPUSH/BRPOP (1 consumer)': [], 'cluster, 1 process': [], 'cluster, 2 processes': [], 'cluster, 3 processes': [] };
    for (let run = 1; run <= runs; run++) {
      const parts: string[] = [];
      const progress = (what: string): void => void process.stderr.write(`  run ${run}/${runs}: ${what}\n`);
      progress('in-process');
      const inProcess = await inProcessRun(n);
      progress('Redis list');
      results['in-process (1 process, no Redis)']!.push(inProcess);
      const list = await listRun(url, n, run);
      results['Redis list LPUSH/BRPOP (1 consumer)']!.push(list);
      parts.push(`in-process ${k(inProcess)}`, `list ${k(list)}`);
      for (const p of [1, 2, 3]) {
        progress(`cluster, ${p} process${p > 1 ? 'es' : ''}`);
        const r = await clusterRun(url, redis, p, n, run);
        results[`cluster, ${p} process${p > 1 ? 'es' : ''}`]!.push(r.rate);
        parts.push(`${p}p ${k(r.rate)} (${r.duplicates} dup)`);
      }
      console.log(`run ${run}/${runs}: ${parts.join(' · ')} msgs/s — verified`);
    }
    console.log('');
    for (const [label, xs] of Object.entries(results)) console.log(line(label, xs));
    return 0;
  } finally {
    redis.disconnect();
    await local?.dispose();
  }
}
