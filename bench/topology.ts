/**
 * `npm run bench:topology [-- --messages N --runs R --idle-keys K]`: what live topology costs.
 *
 * Per run, on 2 worker threads and 32 partitions, each phase verified exactly (W1 counts, sums,
 * seq sums and per-key order):
 *   steady      W1 with a fixed mapping;
 *   rebalancing W1 while partitions move to the other thread back to back (one move at a time,
 *               each awaited), with the hand-off pause per move (how long a partition's messages
 *               were held) from rt.stats().handoffs;
 *   pipeline    W1 through two stages: a forwarder kind sends each message on with ctx.send
 *               (relayed by the main thread) to the W1 kind.
 * Then, once: memory per idle key, with and without passivation (needs --expose-gc, which the npm
 * script passes): K distinct keys get one message each; worker heap after a full GC, before and
 * after their 200 ms idle time (or 1 s later without passivation).
 */
import { createRuntime, type Runtime } from '../index.js';
import { W1_ACTOR } from './peers/ringmaster.js';
import { fetchW1Totals } from './ringmaster-threads.js';
import { verifyW1, W1, W1_KEYS } from './w1.js';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`--${name} needs a positive integer, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return value;
}
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith('--') && !['--messages', '--runs', '--idle-keys'].includes(arg)) {
    console.error(`unknown flag ${arg} (flags: --messages N, --runs R, --idle-keys K)`);
    process.exit(2);
  }
}
const MESSAGES = flag('messages', 500_000);
const RUNS = flag('runs', 3);
const IDLE_KEYS = flag('idle-keys', 200_000);
const THREADS = 2;
const PARTITIONS = 32;
const HANG_MS = 120_000;
const FORWARDER = new URL('./actors/w1-forwarder.js', import.meta.url);
const IDLE_ACTOR = new URL('./actors/idle-actor.js', import.meta.url);

async function produce(n: number, send: (key: string, msg: ReturnType<typeof W1.message>) => boolean | Promise<void>, forwardKey?: (i: number) => string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const msg = W1.message(i);
    const key = forwardKey ? forwardKey(i) : msg.key;
    const r = send(key, msg);
    if (r !== true && r !== false) await r;
  }
}

interface Phase {
  msgsPerSec: number;
  moves?: number;
  pauseP50Ms?: number;
  pauseP99Ms?: number;
}

async function w1Phase(moving: boolean): Promise<Phase> {
  const rt = await createRuntime({ actor: W1_ACTOR, threads: THREADS, partitions: PARTITIONS });
  try {
    let stop = false;
    let x = 12345;
    const mover = async (): Promise<void> => {
      while (!stop) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        const p = x % PARTITIONS;
        await rt.rebalance(p, 1 - rt.threadOf(p));
      }
    };
    const start = performance.now();
    const moves = moving ? mover() : Promise.resolve();
    await produce(MESSAGES, (key, msg) => rt.trySend(key, msg) || rt.send(key, msg));
    stop = true;
    await moves;
    await rt.drain();
    const totals = await fetchW1Totals(rt, W1_KEYS, HANG_MS);
    const seconds = (performance.now() - start) / 1000;
    verifyW1(moving ? 'rebalancing' : 'steady', W1.expected(MESSAGES), totals);
    const h = rt.stats().handoffs;
    return moving ? { msgsPerSec: MESSAGES / seconds, moves: h.count, pauseP50Ms: h.p50Ms, pauseP99Ms: h.p99Ms } : { msgsPerSec: MESSAGES / seconds };
  } finally {
    await rt.close();
  }
}

async function pipelinePhase(): Promise<Phase> {
  const rt = await createRuntime({ actors: { forwarder: FORWARDER, w1: W1_ACTOR }, threads: THREADS, partitions: PARTITIONS });
  try {
    const forwarder = rt.kind('forwarder');
    const start = performance.now();
    // One forwarder key per W1 key's residue mod 64: every W1 key hears from one sender only.
    const sources = Array.from({ length: 64 }, (_, k) => `src-${k}`);
    await produce(MESSAGES, (key, msg) => forwarder.trySend(key, msg) || forwarder.send(key, msg), (i) => sources[(i % W1_KEYS) % 64]!);
    await rt.drain();
    const totals = await fetchW1Totals(rt, W1_KEYS, HANG_MS, rt.kind('w1'));
    const seconds = (performance.now() - start) / 1000;
    verifyW1('pipeline', W1.expected(MESSAGES), totals);
    return { msgsPerSec: MESSAGES / seconds };
  } finally {
    await rt.close();
  }
}

async function heapAfterGc(rt: Runtime): Promise<number> {
  const all = await rt.snapshots({ collectGarbage: true });
  return all.reduce((n, s) => n + s.heapUsedBytes, 0);
}

async function idleKeyMemory(passivate: boolean): Promise<{ idleBytes: number }> {
  if (passivate) process.env.RINGMASTER_BENCH_PASSIVATE = '1';
  else delete process.env.RINGMASTER_BENCH_PASSIVATE;
  const rt = await createRuntime({ actor: IDLE_ACTOR, threads: 1 });
  try {
    const base = await heapAfterGc(rt);
    await produce(IDLE_KEYS, (_key, msg) => rt.trySend(`idle-${msg.seq}`, msg) || rt.send(`idle-${msg.seq}`, msg));
    await rt.drain();
    // Wait out the idle time (and a sweep): until no key is left, or 1 s without passivation.
    const until = Date.now() + (passivate ? 30_000 : 1_000);
    while (Date.now() < until) {
      const live = (await rt.snapshots())[0]!.actors.default!;
      if (passivate && live === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const idle = await heapAfterGc(rt);
    return { idleBytes: (idle - base) / IDLE_KEYS };
  } finally {
    await rt.close();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const k = (n: number): string => `${Math.round(n / 1000)}K`;
const range = (xs: number[], f: (n: number) => string): string => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;

console.log(`bench:topology: ${MESSAGES.toLocaleString('en-US')} W1 messages per phase, ${RUNS} runs, ${THREADS} threads, ${PARTITIONS} partitions (Node ${process.version})`);
const steady: number[] = [];
const moving: number[] = [];
const pipeline: number[] = [];
const p50: number[] = [];
const p99: number[] = [];
const moves: number[] = [];
for (let run = 1; run <= RUNS; run++) {
  const s = await w1Phase(false);
  const m = await w1Phase(true);
  const p = await pipelinePhase();
  steady.push(s.msgsPerSec);
  moving.push(m.msgsPerSec);
  pipeline.push(p.msgsPerSec);
  p50.push(m.pauseP50Ms!);
  p99.push(m.pauseP99Ms!);
  moves.push(m.moves!);
  console.log(
    `run ${run}/${RUNS}: steady ${k(s.msgsPerSec)} msgs/s · rebalancing ${k(m.msgsPerSec)} msgs/s (${m.moves} moves, pause p50 ${m.pauseP50Ms} ms, p99 ${m.pauseP99Ms} ms) · pipeline ${k(p.msgsPerSec)} msgs/s — verified`,
  );
}
const ratio = moving.map((m, i) => m / steady[i]!);
const pipeRatio = pipeline.map((p, i) => p / steady[i]!);
const ms = (n: number): string => `${n.toFixed(2)} ms`;
const x = (n: number): string => `${n.toFixed(2)}×`;
console.log('');
console.log(`steady W1                   ${range(steady, k)} msgs/s`);
console.log(`W1 while rebalancing        ${range(moving, k)} msgs/s; ${range(ratio, x)} of steady in the same run; ${range(moves, String)} moves per run`);
console.log(`hand-off pause per move     p50 ${range(p50, ms)}, p99 ${range(p99, ms)}`);
console.log(`two-stage pipeline (ctx.send) ${range(pipeline, k)} msgs/s end to end; ${range(pipeRatio, x)} of steady`);
if ((globalThis as { gc?: unknown }).gc === undefined && !process.execArgv.includes('--expose-gc')) {
  console.log('memory per idle key: skipped (run with node --expose-gc; npm run bench:topology does)');
} else {
  const kept = await idleKeyMemory(false);
  const passivated = await idleKeyMemory(true);
  console.log(
    `memory per idle key (${IDLE_KEYS.toLocaleString('en-US')} keys, one message each; worker heap after GC): ` +
      `${Math.round(kept.idleBytes)} B without passivation; ${Math.round(passivated.idleBytes)} B with passivateAfterMs 200, once idle`,
  );
}
