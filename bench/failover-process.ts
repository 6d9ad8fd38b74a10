/**
 * One process of `ringmaster bench --failover`: a runtime (failover actor, 2 threads, 32
 * partitions) joined to the cluster. Args: redis-url cluster-name node lease-ms (the log
 * directory and node name reach the actor through FAILOVER_LOG_DIR and FAILOVER_NODE).
 * JSON lines on stdin/stdout. Prints {ready} and every {acquired, partition, at}. Ops:
 *   {traffic, rate}: sends seq 0, 1, 2 ... at `rate` messages/s (keys user-0..999) until
 *     {stop-traffic}, then prints {traffic-stopped, sent} (every one of them confirmed by Redis);
 *   {probe, partitions}: asks a key of each partition and prints {served, partition, at, by}
 *     when it answers (behind whatever that partition's stream already holds);
 *   {stop}: leaves the cluster, closes, prints {stopped} and exits.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connectCluster, createRuntime } from '../index.js';

const ACTOR = fileURLToPath(new URL('./actors/failover-actor.js', import.meta.url));
const [url, name, node, leaseMs] = process.argv.slice(2);
const say = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const rt = await createRuntime({ actor: ACTOR, threads: 2, partitions: 32 });
const cluster = await connectCluster(rt, { redis: url!, name: name!, node: node!, leaseMs: Number(leaseMs) });
cluster.on('acquired', (e) => say({ event: 'acquired', partition: e.partition, at: e.at }));
cluster.on('error', () => {}); // background loops retry by themselves

/** A key of partition p (probe-p-i for the first i that hashes there). */
function probeKey(p: number): string {
  for (let i = 0; ; i++) if (rt.partitionOf(`probe-${p}-${i}`) === p) return `probe-${p}-${i}`;
}

let sending = false;
let traffic: Promise<number> = Promise.resolve(0);
async function sendAtRate(rate: number): Promise<number> {
  const start = performance.now();
  let seq = 0;
  while (sending) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    const sends: Promise<void>[] = [];
    while (seq < due) {
      const s = seq++;
      sends.push(cluster.send(`user-${s % 1000}`, { seq: s }));
    }
    await Promise.all(sends);
    await sleep(10);
  }
  return seq;
}

say({ event: 'ready' });
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { op: string; rate?: number; partitions?: number[] };
  if (cmd.op === 'traffic') {
    sending = true;
    traffic = sendAtRate(cmd.rate!);
  } else if (cmd.op === 'stop-traffic') {
    sending = false;
    say({ event: 'traffic-stopped', sent: await traffic });
  } else if (cmd.op === 'probe') {
    for (const p of cmd.partitions!) {
      cluster.ask<string>(probeKey(p), { op: 'ping' }, { timeoutMs: 300_000 }).then(
        (by) => say({ event: 'served', partition: p, at: Date.now(), by }),
        (error: Error) => say({ event: 'probe-failed', partition: p, error: error.message }),
      );
    }
  } else if (cmd.op === 'stop') {
    sending = false;
    await traffic;
    await cluster.close();
    await rt.close();
    say({ event: 'stopped' });
    break;
  }
}
process.stdin.destroy(); // our last handle: the process ends by itself
