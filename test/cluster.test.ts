/**
 * Cluster mode on a real Redis (started here on a free loopback port; installed with apt-get when
 * missing). Several processes share 32 partitions; every delivery is logged by the actor (see
 * fixtures/cluster-actor.mjs); the test de-duplicates by seq and checks exact per-key sums, and
 * that first deliveries keep per-key (per sender) order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Redis } from 'ioredis';
import { connectCluster, createRuntime, ClusterUnavailableError } from 'ringmaster';
import { startRedisServer, type LocalRedis } from '../dist/bench/redis-server.js';
import { allAcknowledged, leaseHolders } from '../dist/bench/cluster-children.js';
import { fixture, fixturePath } from './helpers/api.js';
import { PACKAGE_ROOT, runNode } from './helpers/child.js';

const MESSAGES = Number(process.env.CLUSTER_MESSAGES ?? 200_000);

interface NodeProcess {
  name: string;
  child: ChildProcess;
  events: Record<string, unknown>[];
  exited: Promise<number | null>;
  /** Set when it exits; `stopping` when the test asked it to. */
  exitCode?: number | null;
  stopping?: boolean;
}

/** Every node started, so a wait can fail at once when one dies unasked. */
const running: NodeProcess[] = [];

function startNode(redis: LocalRedis, cluster: string, name: string, logDir: string, send: { every: number; index: number; messages: number }): NodeProcess {
  const child = spawn(process.execPath, [fixturePath('cluster-node.mjs')], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, REDIS_URL: redis.url, CLUSTER_NAME: cluster, CLUSTER_NODE: name, CLUSTER_LOG_DIR: logDir, SEND_EVERY: String(send.every), SEND_INDEX: String(send.index), MESSAGES: String(send.messages), LEASE_MS: '3000' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const node: NodeProcess = { name, child, events: [], exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  void node.exited.then((code) => (node.exitCode = code));
  running.push(node);
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      node.events.push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
      buffer = buffer.slice(nl + 1);
    }
  });
  return node;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    const dead = running.find((n) => n.exitCode !== undefined && !n.stopping && n.child.signalCode !== 'SIGKILL');
    if (dead) throw new Error(`node ${dead.name} exited (code ${dead.exitCode}) while waiting for ${what}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const has = (node: NodeProcess, event: string) => node.events.some((e) => e.event === event);

async function stopNode(node: NodeProcess): Promise<void> {
  node.stopping = true;
  if (node.exitCode === undefined) node.child.stdin!.write('stop\n');
  expect(await node.exited).toBe(0);
}

/** Reads every log line; checks de-duplicated sums per key, and order of first deliveries per file. */
function verifyLogs(logDir: string, messages: number, senders: number): { duplicates: number } {
  const seen = new Set<number>();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  let duplicates = 0;
  const disorder: string[] = [];
  for (const file of readdirSync(logDir)) {
    const last = new Map<string, number>(); // per key and sender: last first-delivered seq in this file
    for (const line of readFileSync(path.join(logDir, file), 'utf8').split('\n')) {
      const [key, seqText, amountText] = line.split(' ');
      if (!key || seqText === undefined || amountText === undefined) continue;
      const seq = Number(seqText);
      if (seen.has(seq)) {
        duplicates++;
        continue;
      }
      seen.add(seq);
      sums.set(key, (sums.get(key) ?? 0) + Number(amountText));
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const stream = `${key}/${seq % senders}`;
      if ((last.get(stream) ?? -1) > seq) disorder.push(`${file}: ${key} seq ${seq} after ${last.get(stream)}`);
      last.set(stream, seq);
    }
  }
  const wrong: string[] = [];
  for (let k = 0; k < 10_000; k++) {
    let sum = 0;
    let count = 0;
    for (let i = k; i < messages; i += 10_000) {
      sum += (i % 100) / 4;
      count++;
    }
    const key = `user-${k}`;
    if ((counts.get(key) ?? 0) !== count || Math.abs((sums.get(key) ?? 0) - sum) > 1e-6) wrong.push(`${key}: ${counts.get(key)}/${count} ${sums.get(key)}/${sum}`);
  }
  expect(wrong.slice(0, 10)).toEqual([]);
  expect(seen.size).toBe(messages);
  expect(disorder.slice(0, 10)).toEqual([]);
  return { duplicates };
}

describe('cluster mode (Redis Streams)', () => {
  let redis: LocalRedis;
  let client: Redis;
  const dirs: string[] = [];
  const logDir = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ringmaster-cluster-'));
    dirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url);
  }, 600_000);

  afterAll(async () => {
    client?.disconnect();
    await redis?.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test(`three processes share 32 partitions: ${MESSAGES} W1 messages sent from all of them, exact after de-duplication`, async () => {
    const dir = logDir();
    const nodes = [0, 1, 2].map((i) => startNode(redis, 'three', `n${i}`, dir, { every: 3, index: i, messages: MESSAGES }));
    try {
      await until('every node to send its share', () => nodes.every((n) => has(n, 'sent')), 180_000);
      await until('every entry to be acknowledged', () => allAcknowledged(client, 'three', 32), 180_000);
      const { duplicates } = verifyLogs(dir, MESSAGES, 3);
      console.log(`cluster: ${MESSAGES} messages over 3 processes, ${duplicates} duplicates`);
      // Ownership spreads evenly: 32 partitions over 3 live nodes.
      // Waited for: a heartbeat that lapsed late in the run leaves ownership mid-move for a moment.
      await until('each node to hold at least 10 of the 32 leases', async () => {
        const holders = await leaseHolders(client, 'three', 32);
        return nodes.every((n) => holders.filter((h) => h === n.name).length >= 10);
      }, 30_000);
      for (let p = 0; p < 32; p++) expect(await client.xlen(`rm:three:p:${p}`)).toBeLessThanOrEqual(1); // trimmed once acknowledged
    } finally {
      for (const n of nodes) await stopNode(n);
    }
  }, 300_000);

  test('kill -9 of an owner mid-stream: its partitions move after the lease time, nothing lost; a new process then takes its share', async () => {
    const dir = logDir();
    const n = Math.floor(MESSAGES / 4);
    const senders = [0, 1].map((i) => startNode(redis, 'kill', `s${i}`, dir, { every: 2, index: i, messages: n }));
    const victim = startNode(redis, 'kill', 'victim', dir, { every: 0, index: 0, messages: 0 });
    const nodes = [...senders, victim];
    try {
      await until('every node ready', () => nodes.every((x) => has(x, 'ready')));
      const leasesOf = async (node: string): Promise<number> => (await leaseHolders(client, 'kill', 32)).filter((h) => h === node).length;
      await until('the victim to own its share', async () => (await leasesOf('victim')) >= 10, 30_000);
      await until('some of its entries to be in flight', async () => (await client.xlen('rm:kill:p:0')) > 0 || has(senders[0]!, 'sent'), 30_000);
      const victimPartitions = (await leaseHolders(client, 'kill', 32)).flatMap((h, p) => (h === 'victim' ? [p] : []));
      expect(victimPartitions.length).toBeGreaterThan(5);
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      // Its partitions are served again once its lease (3 s) expired and a survivor took them.
      await until('the survivors to take its partitions', () => {
        const taken = new Set(senders.flatMap((s) => s.events.filter((e) => e.event === 'acquired' && (e.at as number) >= killedAt).map((e) => e.partition as number)));
        return victimPartitions.every((p) => taken.has(p));
      }, 30_000);
      const failoverMs = Math.max(...senders.flatMap((s) => s.events.filter((e) => e.event === 'acquired' && (e.at as number) >= killedAt).map((e) => (e.at as number) - killedAt)));
      console.log(`cluster fail-over: ${victimPartitions.length} partitions served again ${failoverMs} ms after kill -9 (lease 3000 ms)`);
      expect(failoverMs).toBeLessThan(10_000);
      const joiner = startNode(redis, 'kill', 'joiner', dir, { every: 0, index: 0, messages: 0 });
      nodes.push(joiner);
      await until('the new process to take its share', async () => (await leasesOf('joiner')) >= 10, 30_000);
      await until('every sender done', () => senders.every((s) => has(s, 'sent')), 120_000);
      await until('every entry to be acknowledged', () => allAcknowledged(client, 'kill', 32), 120_000);
      const { duplicates } = verifyLogs(dir, n, 2);
      // In flight at the kill, at most: batch (256) per partition, 2 batches.
      console.log(`cluster kill -9: ${n} messages, ${duplicates} duplicates`);
      expect(duplicates).toBeLessThanOrEqual(victimPartitions.length * 256 * 2);
    } finally {
      for (const x of nodes) if (x !== victim) await stopNode(x);
    }
  }, 300_000);

  test('ask across processes, with timeout and actor errors; bad input and an unreachable Redis are clear errors', async () => {
    const dir = logDir();
    const owner = startNode(redis, 'ask', 'owner', dir, { every: 0, index: 0, messages: 0 });
    process.env.CLUSTER_LOG_DIR = dir; // read by the actor module in this process's workers
    process.env.CLUSTER_NODE = 'asker';
    const rt = await createRuntime({ actor: fixture('cluster-actor.mjs'), threads: 1, partitions: 32 });
    try {
      await until('the owner ready', () => has(owner, 'ready'));
      // An asker that owns nothing yet while the owner holds every lease: replies come from the owner's process.
      const asker = await connectCluster(rt, { redis: redis.url, name: 'ask', node: 'asker', leaseMs: 3000 });
      try {
        await asker.send('user-1', { key: 'user-1', seq: 1, amount: 1 });
        const reply = await asker.ask<{ count: number; node: string }>('user-1', { op: 'get' }, { timeoutMs: 10_000 });
        expect(reply.count).toBeGreaterThanOrEqual(1);
        await expect(asker.ask('user-2', { op: 'fail' }, { timeoutMs: 10_000 })).rejects.toMatchObject({ name: 'RangeError', message: 'asked to fail' });
        await expect(asker.ask('user-3', { op: 'slow', ms: 1000 }, { timeoutMs: 20 })).rejects.toMatchObject({ name: 'TimeoutError' });
        await expect(asker.send(undefined as never, 1)).rejects.toThrow(TypeError);
        await expect(asker.send('k', { f() {} })).rejects.toThrow(TypeError);
      } finally {
        await asker.close();
      }
      await expect(connectCluster(rt, { redis: 'redis://127.0.0.1:1', name: 'x' })).rejects.toThrow(ClusterUnavailableError);
      await expect(connectCluster(rt, { redis: 'http://x', name: 'x' })).rejects.toThrow(TypeError);
      const other = await createRuntime({ actor: fixture('cluster-actor.mjs'), threads: 1, partitions: 16 });
      await expect(connectCluster(other, { redis: redis.url, name: 'ask' })).rejects.toThrow(/32 partitions/);
      await other.close();
    } finally {
      await stopNode(owner);
      await rt.close();
    }
  }, 120_000);

  test('ringmaster bench --cluster: a short run is verified and reported; bad flags exit 2', async () => {
    const cli = path.join(PACKAGE_ROOT, 'dist/bench/cli.js');
    const run = await runNode([cli, 'bench', '--cluster', redis.url, '--messages', '2000', '--runs', '1'], { timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/run 1\/1: .*3p .* msgs\/s — verified/);
    expect(run.stdout).toMatch(/cluster, 3 processes +[\d.]+K msgs\/s/);
    const bad = await runNode([cli, 'bench', '--cluster', 'http://x'], { timeoutMs: 20_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/redis:\/\/ URL/);
  }, 150_000);

  test('ringmaster bench --failover: kill -9s are timed until the partitions are served again, nothing lost; bad flags exit 2', async () => {
    const cli = path.join(PACKAGE_ROOT, 'dist/bench/cli.js');
    const run = await runNode([cli, 'bench', '--failover', redis.url, '--kills', '2', '--lease-ms', '3000', '--rate', '1000'], { timeoutMs: 180_000 });
    expect(run.code, run.stderr).toBe(0);
    const kills = [...run.stdout.matchAll(/kill (\d)\/2: victim-\d owned (\d+) partitions; leases taken ([\d.]+) s, all served again ([\d.]+) s/g)];
    expect(kills.map((m) => m[1])).toEqual(['1', '2']);
    for (const m of kills) {
      expect(Number(m[2])).toBeGreaterThanOrEqual(10); // its even share of 32 over 3 processes
      // Not at once: its lease had to run out (renewed a third of a lease before the kill, or later
      // on a loaded machine: the bound leaves room for a renewal late by 2.5 s), and not long after.
      expect(Number(m[4])).toBeGreaterThan(0.5);
      expect(Number(m[4])).toBeLessThan(30);
    }
    expect(run.stdout).toMatch(/served again \(2 kills\): p50 [\d.]+ s, p99 [\d.]+ s/);
    expect(run.stdout).toMatch(/verified: \d+ messages sent, every one delivered/);
    const bad = await runNode([cli, 'bench', '--failover', redis.url, '--kills', '0'], { timeoutMs: 20_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--kills must be an integer of at least 1/);
  }, 200_000);

  test('encrypt: what Redis stores is sealed, and still arrives intact', async () => {
    const dir = logDir();
    process.env.CLUSTER_LOG_DIR = dir;
    process.env.CLUSTER_NODE = 'sealed';
    const keys = [{ id: 'k1', key: Buffer.alloc(32, 7) }];
    const rt = await createRuntime({ actor: fixture('cluster-actor.mjs'), threads: 1, partitions: 32 });
    const node = await connectCluster(rt, { redis: redis.url, name: 'sealed', node: 'sealed', leaseMs: 3000, encrypt: keys, batch: 1 });
    try {
      const secret = 'card-4111-1111';
      await node.send('user-9', { key: 'user-9', seq: 9, amount: 2, note: secret });
      const p = rt.partitionOf('user-9');
      const stored = (await client.xrangeBuffer(`rm:sealed:p:${p}`, '-', '+')).flatMap(([, fields]) => fields);
      expect(stored.length).toBeGreaterThan(0); // trimming keeps the last acknowledged entry
      expect(stored.some((f) => f.includes(Buffer.from(secret)))).toBe(false);
      expect(await node.ask('user-9', { op: 'get' }, { timeoutMs: 10_000 })).toMatchObject({ count: 1 });
    } finally {
      await node.close();
      await rt.close();
    }
  }, 60_000);

  test('Redis restarted mid-stream (persistence on): the processes reconnect and go on, nothing lost', async () => {
    const persistent = await startRedisServer({ persistent: true });
    const pclient = new Redis(persistent.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
    pclient.on('error', () => {});
    const dir = logDir();
    const n = 20_000;
    const nodes = [0, 1].map((i) => startNode(persistent, 'restart', `r${i}`, dir, { every: 2, index: i, messages: n }));
    try {
      await until('every node ready', () => nodes.every((x) => has(x, 'ready')));
      await until('traffic to flow', async () => (await pclient.xlen('rm:restart:p:0').catch(() => 0)) > 0 || nodes.every((x) => has(x, 'sent')), 30_000);
      await persistent.stop();
      await new Promise((resolve) => setTimeout(resolve, 300)); // Redis really down for a while
      await persistent.start();
      await until('every sender done', () => nodes.every((s) => has(s, 'sent')), 120_000);
      await until('every entry to be acknowledged', () => allAcknowledged(pclient, 'restart', 32), 120_000);
      const { duplicates } = verifyLogs(dir, n, 2);
      const retries = nodes.map((x) => x.events.find((e) => e.event === 'sent')!.retries as number);
      console.log(`cluster Redis restart: ${n} messages, ${duplicates} duplicates, send retries ${retries.join('+')}`);
    } finally {
      for (const x of nodes) await stopNode(x);
      pclient.disconnect();
      await persistent.dispose();
    }
  }, 300_000);
});
