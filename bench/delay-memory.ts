/**
 * `npm run bench:delays [-- N]`: memory per pending delayed message. Queues N (default 1,000,000)
 * W1 messages with delays of a minute or more, measures heap and buffer growth after a forced GC
 * (hence `node --expose-gc`), checks the count, then closes (the messages are reported as
 * unprocessed, which is the point of a close timeout).
 */
import { createRuntime } from '../index.js';
import { W1_ACTOR } from './peers/ringmaster.js';
import { W1 } from './w1.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:delays does)');
const n = Number(process.argv[2] ?? 1_000_000);
if (!Number.isSafeInteger(n) || n < 1) throw new Error(`N must be a positive integer, got ${process.argv[2]}`);

const rt = await createRuntime({ actor: W1_ACTOR, threads: 1 });
gc();
const before = process.memoryUsage();
for (let i = 0; i < n; i++) {
  const msg = W1.message(i);
  if (!rt.trySend(msg.key, msg, { delayMs: 60_000 + (i % 1000) })) throw new Error(`delayed message ${i} refused`);
}
gc();
const after = process.memoryUsage();
const pending = rt.stats().delayed;
if (pending !== n) throw new Error(`${pending} delayed messages pending, expected ${n}`);
const heap = after.heapUsed - before.heapUsed;
const buffers = after.arrayBuffers - before.arrayBuffers;
console.log(
  `${n.toLocaleString('en-US')} pending delayed W1 messages: heap +${(heap / 2 ** 20).toFixed(1)} MB, ` +
    `buffers +${(buffers / 2 ** 20).toFixed(1)} MB, ${Math.round((heap + buffers) / n)} bytes each`,
);
await rt.close({ timeoutMs: 10 });
