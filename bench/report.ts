/**
 * `ringmaster bench`: the W1 benchmark report: throughput of every peer, latency at fixed offered rates, idle CPU and
 * peak RSS, on this machine, with ratios (the machines are shared and noisy: ratios between peers
 * measured in the same run say more than absolute numbers).
 *
 *   ringmaster bench [--messages N] [--runs R] [--json FILE] [--piscina-messages N]
 *                    [--latency-seconds S] [--latency-warmup S] [--rates 20000,100000] [--idle-ms MS]
 *
 * Order: one untimed warm-up pass of every throughput peer; then R runs, each running every
 * throughput peer once and every latency point once, in an order rotated from run to run, so
 * noise and warm-up effects hit the peers alike; then idle CPU. Progress goes to stderr, one line
 * per phase; the report to stdout. Any verification failure (or hang) is reported and makes the
 * exit code 1; a bad flag is one line on stderr and exit code 2 (UsageError).
 */
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initHistograms, mergeEncoded, type LatencySummary } from './histogram.js';
import { processCpuPercent, ringmasterIdleCpu } from './idle.js';
import { postMessageBatchedLatency, ringmasterLatency, type LatencyOptions, type LatencyPeerName, type LatencyRun } from './latency.js';
import { PARTITIONS, withTimeout, type Peer } from './peer.js';
import { floorPeer } from './peers/floor.js';
import { inlinePeer } from './peers/inline.js';
import { piscinaPeer } from './peers/piscina.js';
import { postMessageBatched, postMessageSingle } from './peers/postmessage.js';
import { ringmaster1t, ringmaster2t } from './peers/ringmaster.js';
import { int, rate, spread, table, us, type Spread } from './summary.js';
import { expectedW1, type W1Totals } from './w1.js';

// ---- options ---------------------------------------------------------------------------------------

export const BENCH_USAGE = `usage: ringmaster bench [options]
  --messages N           W1 messages per peer per run (default 500000)
  --piscina-messages N   messages for the piscina peer, which runs ~30x slower (default min(N, 100000))
  --runs R               runs (default 3)
  --latency-seconds S    recorded seconds per latency point (default 1)
  --latency-warmup S     warm-up seconds before each latency point (default 0.5)
  --rates A,B            offered rates for latency, msgs/s (default 20000,100000)
  --idle-ms MS           idle-CPU window (default 2000)
  --json FILE            also write the figures as JSON
  -h, --help             this text`;

/** A bad command line: the CLI prints the message as one line and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}


function positive(name: string, text: string | undefined, fallback: number, integer = true): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`);
  }
  return n;
}

function parseBenchArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
  options: {
    messages: { type: 'string' },
    'piscina-messages': { type: 'string' },
    runs: { type: 'string' },
    'latency-seconds': { type: 'string' },
    'latency-warmup': { type: 'string' },
    rates: { type: 'string' },
    'idle-ms': { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
  allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Runs the benchmark and prints the report; resolves with the exit code (0 ok, 1 a failed phase). */
export async function benchCommand(argv: string[]): Promise<number> {
const args = parseBenchArgs(argv);
if (args.help) {
  console.log(BENCH_USAGE);
  return 0;
}
const messages = positive('messages', args.messages, 500_000);
const settings = {
  messages,
  piscinaMessages: positive('piscina-messages', args['piscina-messages'], Math.min(messages, 100_000)),
  runs: positive('runs', args.runs, 3),
  latencySeconds: positive('latency-seconds', args['latency-seconds'], 1, false),
  latencyWarmupSeconds: positive('latency-warmup', args['latency-warmup'], 0.5, false),
  rates: (args.rates ?? '20000,100000').split(',').map((r) => positive('rates', r.trim(), 0)),
  idleMs: positive('idle-ms', args['idle-ms'], 2000),
  partitions: PARTITIONS,
};

// ---- phases ------------------------------------------------------------------------------------------

const failures: string[] = [];
let verifiedPhases = 0;
const began = process.hrtime.bigint();
const elapsed = (): string => `${(Number(process.hrtime.bigint() - began) / 1e9).toFixed(0).padStart(4)}s`;
const progress = (line: string): void => void process.stderr.write(`${elapsed()}  ${line}\n`);

/** Longest any single phase may take before it counts as hung. */
const PHASE_MS = 300_000;

/** Runs one phase; a failure is recorded (and printed) and yields undefined. */
async function phase<T>(label: string, body: () => Promise<T>, describe: (value: T) => string): Promise<T | undefined> {
  try {
    const value = await withTimeout(body(), PHASE_MS, label);
    verifiedPhases++;
    progress(`${label}: ${describe(value)}`);
    return value;
  } catch (error) {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    failures.push(`${label}: ${text}`);
    progress(`${label}: FAILED ${text}`);
    return undefined;
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

const peers: Peer[] = [floorPeer, inlinePeer, ringmaster1t, ringmaster2t, piscinaPeer, postMessageSingle, postMessageBatched];
const sizeOf = (peer: Peer, n: number): number => (peer === piscinaPeer ? Math.min(n, settings.piscinaMessages) : n);
const expectedCache = new Map<number, W1Totals>();
const expectedFor = (n: number): W1Totals => {
  let e = expectedCache.get(n);
  if (e === undefined) expectedCache.set(n, (e = expectedW1(n)));
  return e;
};

async function runPeer(peer: Peer, n: number, label: string): Promise<number | undefined> {
  const result = await phase(
    label,
    () => peer.run(n, expectedFor(n)),
    (r) => `${rate(r.messages / r.seconds)} msg/s (${int(r.messages)} msgs in ${r.seconds.toFixed(3)} s, verified)`,
  );
  return result === undefined ? undefined : result.messages / result.seconds;
}

type LatencyFn = (o: LatencyOptions) => Promise<LatencyRun>;
const latencyPeers: [LatencyPeerName, LatencyFn][] = [
  ['ringmaster-1t', ringmasterLatency],
  ['postmessage-batched', postMessageBatchedLatency],
];

// ---- run ---------------------------------------------------------------------------------------------

const wasm = await initHistograms();
const cpus = os.cpus();
const machine = {
  cpuModel: cpus[0]?.model.trim() ?? 'unknown',
  cores: cpus.length,
  availableParallelism: os.availableParallelism(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  totalMemMB: Math.round(os.totalmem() / 2 ** 20),
  hdrHistogramWasm: wasm,
};
progress(
  `ringmaster W1 benchmark: ${int(settings.messages)} msgs/peer/run (piscina ${int(settings.piscinaMessages)}), ${settings.runs} runs, ` +
    `latency ${settings.rates.join(' & ')} msg/s × ${settings.latencySeconds} s; ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}`,
);

// Warm-up: every peer once, small, untimed (JIT of the producer loops, module loading, disk cache).
for (const peer of peers) {
  const n = peer === piscinaPeer ? Math.min(10_000, settings.piscinaMessages) : Math.min(100_000, settings.messages);
  await runPeer(peer, n, `warm-up ${peer.name}`);
}

const throughput = new Map<string, (number | undefined)[]>(peers.map((p) => [p.name, []]));
const latencyRuns = new Map<string, LatencyRun[]>();
const latencyKey = (peer: string, r: number): string => `${peer} @${r}`;

for (let run = 0; run < settings.runs; run++) {
  const tag = `[run ${run + 1}/${settings.runs}]`;
  for (const peer of rotate(peers, run)) {
    throughput.get(peer.name)![run] = await runPeer(peer, sizeOf(peer, settings.messages), `${tag} ${peer.name}`);
  }
  for (const offered of settings.rates) {
    for (const [name, fn] of rotate(latencyPeers, run)) {
      const o: LatencyOptions = { rate: offered, seconds: settings.latencySeconds, warmSeconds: settings.latencyWarmupSeconds };
      const r = await phase(
        `${tag} latency ${name} @ ${int(offered)} msg/s`,
        () => fn(o),
        (x) =>
          `p50 ${us(x.summary.p50Us)} µs, p99 ${us(x.summary.p99Us)} µs, p99.9 ${us(x.summary.p999Us)} µs, max ${us(x.summary.maxUs)} µs ` +
          `(${int(x.summary.count)} recorded, pacer max ${int(x.pacer.maxBehindUs)} µs behind, verified)`,
      );
      if (r !== undefined) {
        const key = latencyKey(name, offered);
        latencyRuns.set(key, [...(latencyRuns.get(key) ?? []), r]);
      }
    }
  }
}

const idle: Record<string, number | undefined> = {};
idle['baseline (no worker threads)'] = await phase('idle CPU baseline', () => processCpuPercent(settings.idleMs), (p) => `${p}% of one core`);
for (const threads of [1, 2]) {
  idle[`ringmaster-${threads}t`] = await phase(
    `idle CPU ringmaster-${threads}t`,
    () => ringmasterIdleCpu(threads, Math.min(200_000, settings.messages), settings.idleMs),
    (p) => `${p}% of one core over ${settings.idleMs} ms after traffic`,
  );
}
const peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);

// ---- figures -----------------------------------------------------------------------------------------

interface PeerFigures {
  describe: string;
  messages: number;
  runs: (number | null)[];
  spread: Spread | null;
}
const peerFigures: Record<string, PeerFigures> = {};
for (const peer of peers) {
  const runs = throughput.get(peer.name)!;
  const ok = runs.filter((v): v is number => v !== undefined);
  peerFigures[peer.name] = {
    describe: peer.describe,
    messages: sizeOf(peer, settings.messages),
    runs: Array.from({ length: settings.runs }, (_, i) => runs[i] ?? null),
    spread: spread(ok),
  };
}

/** a ÷ b per run (paired within the run, so shared noise cancels), then median and range. */
function ratio(a: string, b: string): { runs: (number | null)[]; spread: Spread | null } {
  const ra = throughput.get(a)!;
  const rb = throughput.get(b)!;
  const runs: (number | null)[] = [];
  for (let i = 0; i < settings.runs; i++) {
    const x = ra[i];
    const y = rb[i];
    runs.push(x !== undefined && y !== undefined ? x / y : null);
  }
  return { runs, spread: spread(runs.filter((v): v is number => v !== null)) };
}
const ratioPairs: [string, string][] = [
  ['ringmaster-1t', 'postmessage-batched'],
  ['ringmaster-1t', 'postmessage-single'],
  ['ringmaster-1t', 'piscina'],
  ['ringmaster-1t', 'floor'],
  ['ringmaster-1t', 'inline'],
  ['ringmaster-2t', 'ringmaster-1t'],
];
const ratios: Record<string, ReturnType<typeof ratio>> = {};
for (const [a, b] of ratioPairs) ratios[`${a} / ${b}`] = ratio(a, b);

interface LatencyFigures {
  peer: string;
  rate: number;
  merged: LatencySummary;
  p50PerRun: Spread | null;
  p99PerRun: Spread | null;
  pacerMaxBehindUs: number;
  perRun: { summary: LatencySummary; pacer: LatencyRun['pacer'] }[];
}
const latency: LatencyFigures[] = [];
for (const offered of settings.rates) {
  for (const [name] of latencyPeers) {
    const runs = latencyRuns.get(latencyKey(name, offered)) ?? [];
    if (runs.length === 0) continue;
    latency.push({
      peer: name,
      rate: offered,
      merged: mergeEncoded(runs.map((r) => r.encoded)).summary,
      p50PerRun: spread(runs.map((r) => r.summary.p50Us)),
      p99PerRun: spread(runs.map((r) => r.summary.p99Us)),
      pacerMaxBehindUs: Math.max(...runs.map((r) => r.pacer.maxBehindUs)),
      perRun: runs.map((r) => ({ summary: r.summary, pacer: r.pacer })),
    });
  }
}

// ---- report ------------------------------------------------------------------------------------------

const out: string[] = [];
out.push('ringmaster benchmark — workload W1 (keyed small messages, 10,000 keys)');
out.push(
  `machine: ${machine.cpuModel}, ${machine.cores} cores (availableParallelism ${machine.availableParallelism}), ${machine.totalMemMB} MB RAM, ` +
    `Node ${machine.node}, ${machine.platform}`,
);
out.push(
  `settings: ${int(settings.messages)} messages per peer per run (piscina ${int(settings.piscinaMessages)}), ${settings.runs} runs, ` +
    `${settings.partitions} partitions; peer order rotated each run; every run verified exactly (per-key counts, sums, seq sums, order)`,
);
out.push('');
out.push('Throughput (messages/s, from first send to last message verified; median and min–max over runs)');
const tpRows: string[][] = [['peer', 'median', 'min–max', 'runs', 'what']];
for (const peer of peers) {
  const f = peerFigures[peer.name]!;
  const s = f.spread;
  tpRows.push([
    peer.name,
    s ? `${rate(s.median)}/s` : 'FAILED',
    s ? `${rate(s.min)} – ${rate(s.max)}` : '',
    `${s?.n ?? 0}/${settings.runs}`,
    f.describe,
  ]);
}
out.push(table(tpRows, new Set([1, 2, 3])));
out.push('');
out.push('Ratios (a ÷ b computed within each run, then median and min–max)');
const ratioRows: string[][] = [];
for (const [name, r] of Object.entries(ratios)) {
  const s = r.spread;
  ratioRows.push([name, s ? `${s.median.toFixed(2)}×` : 'n/a', s ? `(${s.min.toFixed(2)} – ${s.max.toFixed(2)})` : '']);
}
out.push(table(ratioRows, new Set([1])));
out.push('');
out.push(
  `Latency (µs, intended send time → receive start, coordinated-omission corrected, open-loop pacing; ` +
    `${settings.latencySeconds} s recorded after ${settings.latencyWarmupSeconds} s warm-up per point; merged over runs)`,
);
const latRows: string[][] = [['offered', 'peer', 'samples', 'p50', 'p99', 'p99.9', 'max', 'p50 per run', 'p99 per run', 'pacer max behind']];
for (const l of latency) {
  latRows.push([
    `${int(l.rate)}/s`,
    l.peer,
    int(l.merged.count),
    us(l.merged.p50Us),
    us(l.merged.p99Us),
    us(l.merged.p999Us),
    us(l.merged.maxUs),
    l.p50PerRun ? `${us(l.p50PerRun.min)} – ${us(l.p50PerRun.max)}` : '',
    l.p99PerRun ? `${us(l.p99PerRun.min)} – ${us(l.p99PerRun.max)}` : '',
    `${int(l.pacerMaxBehindUs)} µs`,
  ]);
}
out.push(table(latRows, new Set([2, 3, 4, 5, 6, 7, 8, 9])));
out.push(`  (histograms: hdr-histogram-js ${wasm ? 'WebAssembly' : 'JS'} mode; "pacer max behind" = worst stall of the producer itself, included in the latencies;\n   per-run ranges show how much the shared machine's load moved them)`);
out.push('');
out.push(`Idle CPU (whole process incl. all threads, ${settings.idleMs} ms right after traffic stops, % of one core)`);
out.push(table(Object.entries(idle).map(([k, v]) => [k, v === undefined ? 'FAILED' : `${v.toFixed(1)}%`]), new Set([1])));
out.push('');
out.push(`Peak RSS of the process (all phases): ${peakRssMB} MB`);
out.push('');
out.push(
  failures.length === 0
    ? `Verification: all ${verifiedPhases} phases verified.`
    : `Verification: ${failures.length} FAILED (${verifiedPhases} passed):\n${failures.map((f) => `  - ${f}`).join('\n')}`,
);
out.push(`Total time: ${(Number(process.hrtime.bigint() - began) / 1e9).toFixed(1)} s`);
console.log(out.join('\n'));

if (args.json !== undefined) {
  const figures = {
    machine,
    settings,
    throughput: peerFigures,
    ratios,
    latency,
    idleCpuPercent: idle,
    peakRssMB,
    failures,
    elapsedSeconds: Number(process.hrtime.bigint() - began) / 1e9,
    date: new Date().toISOString(),
  };
  writeFileSync(args.json, JSON.stringify(figures, null, 2) + '\n');
  progress(`figures written to ${args.json}`);
}

return failures.length === 0 ? 0 : 1;
}
