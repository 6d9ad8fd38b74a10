/**
 * `ringmaster bench --failover <redis-url|local> [--kills N] [--lease-ms L] [--rate R]` (and
 * `npm run bench:failover`): how long a cluster's partitions go unserved when their owner dies.
 *
 * Three processes share 32 partitions: a sender (which also owns its share) offers a steady
 * `rate` of messages to every partition, a second survivor, and a victim. Once the victim owns
 * its share and has been served traffic, it gets kill -9; at once the sender asks a probe key in
 * each of the victim's partitions. A partition counts as served again when its probe is answered:
 * its lease expired, a survivor took it and the entries the victim left unacknowledged, and
 * worked through the stream up to the probe. Then a new victim joins, takes its share from the
 * survivors, and the next kill follows. At the end every message sent must have been delivered
 * at least once (the actor logs each seq before its entry can be acknowledged, see
 * actors/failover-actor.ts); duplicates are counted against the in-flight bound.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRedis } from '../cluster/load-redis.js';
import { UsageError } from './args.js';
import { allAcknowledged, leaseHolders, startChild, until, type Child } from './cluster-children.js';
import { startRedisServer } from './redis-server.js';

const PROCESS_SCRIPT = fileURLToPath(new URL('./failover-process.js', import.meta.url));
const PARTITIONS = 32;
/** The cluster's defaults (batch 256 × 2 batches in flight): at most this many entries per partition can be delivered and not yet acknowledged when an owner dies. */
const IN_FLIGHT_PER_PARTITION = 256 * 2;

interface Options {
  target: string;
  kills: number;
  leaseMs: number;
  rate: number;
}

function parse(argv: string[]): Options {
  const o: Partial<Options> = { kills: 10, leaseMs: 5000, rate: 2000 };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    const int = (min: number): number => {
      const v = Number(value);
      if (!Number.isSafeInteger(v) || v < min) throw new UsageError(`${flag} must be an integer of at least ${min}, got ${String(value)}`);
      return v;
    };
    if (flag === '--failover') o.target = value;
    else if (flag === '--kills') o.kills = int(1);
    else if (flag === '--lease-ms') o.leaseMs = int(500);
    else if (flag === '--rate') o.rate = int(1);
    else throw new UsageError(`--failover takes --kills N, --lease-ms L and --rate R only, got ${flag}`);
  }
  if (o.target === undefined || !(o.target === 'local' || /^rediss?:\/\//.test(o.target))) throw new UsageError('--failover needs a redis:// URL, or local (a throwaway redis-server)');
  return o as Options;
}

/** Nearest-rank percentile. */
const percentile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(q * xs.length) - 1)]!;
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const spread = (xs: number[]): string => `p50 ${s(percentile(xs, 0.5))}, p99 ${s(percentile(xs, 0.99))}, max ${s(Math.max(...xs))}`;

/** Every seq logged by every process and thread: nothing below `sent` may be missing. */
function verifyLogs(dir: string, sent: number): { delivered: number; duplicates: number } {
  const seen = new Uint8Array(sent);
  let delivered = 0;
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      if (line === '') continue;
      const seq = Number(line);
      if (!Number.isSafeInteger(seq) || seq < 0 || seq >= sent) throw new Error(`fail-over bench: ${file} logs '${line}', which was never sent`);
      seen[seq] = 1;
      delivered++;
    }
  }
  const missing = seen.indexOf(0);
  if (missing >= 0) throw new Error(`fail-over bench: seq ${missing} (of ${sent} sent) was never delivered: lost`);
  return { delivered, duplicates: delivered - sent };
}

export async function failoverBench(argv: string[]): Promise<number> {
  const { target, kills, leaseMs, rate } = parse(argv);
  const local = target === 'local' ? await startRedisServer() : null;
  const url = local?.url ?? target;
  const redis = new (await loadRedis())(url);
  const logDir = mkdtempSync(path.join(tmpdir(), 'ringmaster-failover-'));
  const name = `failover-${process.pid}`;
  const children: Child[] = [];
  const start = (node: string): Child => {
    const child = startChild(PROCESS_SCRIPT, [url, name, node, String(leaseMs)], { ...process.env, FAILOVER_LOG_DIR: logDir, FAILOVER_NODE: node });
    children.push(child);
    return child;
  };
  const ownedBy = async (node: string): Promise<number[]> => (await leaseHolders(redis, name, PARTITIONS)).flatMap((h, p) => (h === node ? [p] : []));
  const share = Math.floor(PARTITIONS / 3);
  try {
    console.log(`ringmaster bench --failover: ${kills} kill -9s of a cluster process, Redis ${url}${local ? ' (local, persistence off)' : ''}; 3 processes of 2 worker threads, 32 partitions, lease ${leaseMs} ms, ${rate} msgs/s offered throughout`);
    const sender = start('sender');
    const survivor = start('survivor');
    let victim = start('victim-1');
    await Promise.all(children.map((c) => c.next('ready')));
    sender.send('traffic', { rate });
    const perKill: number[] = [];
    const perPartition: number[] = [];
    const leaseTaken: number[] = [];
    for (let kill = 1; kill <= kills; kill++) {
      const node = `victim-${kill}`;
      // Settled: each of the three holds its even share (10 or 11 of 32).
      await until(async () => {
        const holders = await leaseHolders(redis, name, PARTITIONS);
        return ['sender', 'survivor', node].every((n) => holders.filter((h) => h === n).length >= share);
      }, `the partitions to settle with ${node}`, 60_000);
      // Served traffic: its log has grown since it settled (so entries are in flight when it dies).
      const logged = (): number => readdirSync(logDir).filter((f) => f.startsWith(`${node}-`)).reduce((n, f) => n + statSync(path.join(logDir, f)).size, 0);
      const before = logged();
      await until(() => logged() > before, `${node} to be served traffic`, 60_000);
      const partitions = await ownedBy(node);
      const killedAt = Date.now();
      victim.proc.kill('SIGKILL');
      sender.send('probe', { partitions });
      const from = sender.events.length;
      const served = new Map<number, number>();
      await until(() => {
        for (const e of sender.events.slice(from)) {
          if (e.event === 'probe-failed') throw new Error(`fail-over bench: the probe of partition ${String(e.partition)} failed: ${String(e.error)}`);
          if (e.event === 'served') served.set(e.partition as number, (e.at as number) - killedAt);
        }
        return served.size === partitions.length;
      }, `the partitions of ${node} to be served again`, 20 * leaseMs + 120_000);
      await victim.exited;
      const taken = [sender, survivor].flatMap((c) => c.events.filter((e) => e.event === 'acquired' && (e.at as number) >= killedAt && partitions.includes(e.partition as number)).map((e) => (e.at as number) - killedAt));
      const times = [...served.values()];
      perKill.push(Math.max(...times));
      perPartition.push(...times);
      if (taken.length > 0) leaseTaken.push(Math.max(...taken));
      console.log(`kill ${kill}/${kills}: ${node} owned ${partitions.length} partitions; leases taken ${taken.length > 0 ? s(Math.max(...taken)) : '-'}, all served again ${s(Math.max(...times))} after kill -9`);
      if (kill < kills) {
        victim = start(`victim-${kill + 1}`);
        await victim.next('ready');
      }
    }
    sender.send('stop-traffic');
    const sent = (await sender.next('traffic-stopped')).sent as number;
    await until(() => allAcknowledged(redis, name, PARTITIONS), 'every entry to be acknowledged', 300_000);
    const { duplicates } = verifyLogs(logDir, sent);
    const bound = kills * share * 2 * IN_FLIGHT_PER_PARTITION;
    if (duplicates > bound) throw new Error(`fail-over bench: ${duplicates} duplicates, more than the in-flight bound ${bound}`);
    console.log('');
    console.log(`fail-over, kill -9 → every partition of the victim served again (${kills} kills): ${spread(perKill)}`);
    console.log(`  per partition (${perPartition.length}): ${spread(perPartition)}`);
    if (leaseTaken.length > 0) console.log(`  leases taken over (${leaseTaken.length} kills): ${spread(leaseTaken)}`);
    console.log(`verified: ${sent} messages sent, every one delivered; ${duplicates} delivered twice (bound ${bound})`);
    return 0;
  } finally {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.send('stop');
    await Promise.all(children.map((c) => c.exited));
    const keys = await redis.keys(`rm:${name}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await local?.dispose();
    rmSync(logDir, { recursive: true, force: true });
  }
}
