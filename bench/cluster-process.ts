/**
 * One process of `ringmaster bench --cluster`: a runtime (W1 actor, 2 threads, 32 partitions)
 * joined to the cluster. Protocol on stdin/stdout, one JSON line each: prints {ready}; on {go}
 * sends its share of W1 (messages i with i % processes === index) and prints {sent}; on {totals}
 * prints its runtime's per-key W1 results; on {stop} leaves and exits.
 */
import { createInterface } from 'node:readline';
import { connectCluster, createRuntime } from '../index.js';
import { W1_ACTOR } from './peers/ringmaster.js';
import { fetchW1Totals } from './ringmaster-threads.js';
import { W1, W1_KEYS } from './w1.js';

const [url, name, node, processes, index, messages] = process.argv.slice(2);
const say = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');
const rt = await createRuntime({ actor: W1_ACTOR, threads: 2, partitions: 32 });
const cluster = await connectCluster(rt, { redis: url!, name: name!, node: node! });
cluster.on('error', () => {});
say({ event: 'ready' });
for await (const line of createInterface({ input: process.stdin })) {
  const { op } = JSON.parse(line) as { op: string };
  if (op === 'go') {
    const sends: Promise<void>[] = [];
    for (let i = Number(index); i < Number(messages); i += Number(processes)) {
      const msg = W1.message(i);
      sends.push(cluster.send(msg.key, msg));
      if (sends.length === 1000) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
    say({ event: 'sent' });
  } else if (op === 'totals') {
    const t = await fetchW1Totals(rt, W1_KEYS, 60_000);
    say({ event: 'totals', counts: Array.from(t.counts), sums: Array.from(t.sums) });
  } else if (op === 'stop') {
    await cluster.close();
    await rt.close();
    say({ event: 'stopped' });
    break;
  }
}
process.stdin.destroy(); // our last handle: the process ends by itself
