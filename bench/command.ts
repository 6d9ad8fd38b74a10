/**
 * `ringmaster bench`: runs the phases the flags ask for and reports them.
 *
 * Phases, in order: a small warm-up run of every throughput peer (it warms the main thread's code
 * and gives --duration its rate); `--runs` throughput runs of every peer, each on fresh threads
 * after `--warmup-messages` untimed messages (ThroughputPlan), the peer order rotated from run to
 * run so noise hits the peers alike;
 * the latency phase (each `--rate` for ringmaster and for the compared peers that can be paced);
 * `--sweep`; idle CPU after traffic. Every phase verifies its work (W1: exact per-key counts,
 * sums, seq sums, order; `--actor`: every message processed, none failed); a failed or hung
 * phase is reported and makes the exit code 1.
 *
 * Output: the human report on stdout (on stderr with --json, which prints the summary on stdout),
 * progress on stderr, and the files --hgrm / --html ask for.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { BENCH_USAGE, parseBenchArgs, type BenchSettings, type ComparePeer } from './args.js';
import { customLatencyPeer, customPeer, loadFactory } from './custom.js';
import { histogramsUseWasm, initHistograms, type LatencySummary } from './histogram.js';
import { renderHtmlReport, type HtmlLatencyCurve } from './html.js';
import { processCpuPercent, ringmasterIdleCpu, ringmasterWakeUpLatency } from './idle.js';
import {
  piscinaLatencyPeer,
  postMessageBatchedLatencyPeer,
  ringmasterLatencyPeer,
  type LatencyPeer,
  type LatencyRun,
} from './latency.js';
import { withTimeout, type Peer } from './peer.js';
import { floorPeer } from './peers/floor.js';
import { inlinePeer } from './peers/inline.js';
import { piscinaPeer } from './peers/piscina.js';
import { postMessageBatched, postMessageSingle } from './peers/postmessage.js';
import { describeConfig, ringmasterPeer } from './peers/ringmaster.js';
import { Progress } from './progress.js';
import { int, rate, spread, table, us, type Spread } from './summary.js';
import type { W1Totals } from './w1.js';

/** Longest any single phase may take before it counts as hung. */
const PHASE_MS = 300_000;
/** Offered rates --sweep climbs, msgs/s. */
const SWEEP_RATES = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000];
/** The idle wake-up phase: messages one timer gap apart, so the worker parks before each. */
const WAKE_UP_COUNT = 200;
const WAKE_UP_GAP_MS = 10;
/** A sweep point "kept up" when it delivered at least this share of the offered rate. */
const KEPT_UP = 0.9;
/** Percentiles of the latency curves in the HTML page. */
const CURVE_PERCENTILES = [0, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.75, 99.9, 99.95, 99.99, 99.995, 99.999, 100];

const COMPARE_THROUGHPUT: Record<ComparePeer, Peer> = {
  floor: floorPeer,
  inline: inlinePeer,
  postmessage: postMessageSingle,
  'postmessage-batched': postMessageBatched,
  piscina: piscinaPeer,
};
const COMPARE_LATENCY: Partial<Record<ComparePeer, LatencyPeer>> = {
  'postmessage-batched': postMessageBatchedLatencyPeer,
  piscina: piscinaLatencyPeer,
};

export interface Machine {
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  node: string;
  platform: string;
  totalMemMB: number;
  hdrHistogramWasm: boolean;
}

function machineInfo(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    totalMemMB: Math.round(os.totalmem() / 2 ** 20),
    hdrHistogramWasm: histogramsUseWasm(),
  };
}

const machineLine = (m: Machine): string =>
  `${m.cpuModel}, ${m.cores} cores (availableParallelism ${m.availableParallelism}), ${m.totalMemMB} MB RAM, Node ${m.node}, ${m.platform}`;

interface ThroughputFigures {
  peer: string;
  describe: string;
  /** Timed messages per run. */
  messages: number;
  /** Untimed messages before them, per run (ThroughputPlan). */
  warmupMessages: number;
  /** msgs/s per run (null: that run failed). */
  runs: (number | null)[];
  spread: Spread | null;
}

interface LatencyFigures {
  peer: string;
  rate: number;
  samples: number;
  latencyUs: LatencySummary;
  serviceUs: LatencySummary;
  achievedRate: number;
  pacerMaxBehindUs: number;
  /** Merged histograms (compressed base64, ns). */
  encoded: string;
  serviceEncoded: string;
}

interface SweepPoint {
  rate: number;
  p99Us: number | null;
  achievedRate: number | null;
  keptUp: boolean;
}

interface SweepFigures {
  peer: string;
  sloUs: number;
  highestRateWithinSlo: number | null;
  points: SweepPoint[];
}

/** Re-runs this command under `node --cpu-prof` (every thread writes its profile at exit). */
async function profiled(argv: string[], dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--profile') i++;
    else if (!argv[i]!.startsWith('--profile=')) rest.push(argv[i]!);
  }
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`, cli, 'bench', ...rest], { stdio: 'inherit' });
  const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  process.stderr.write(
    `CPU profiles in ${path.resolve(dir)}: ${files.length} files (.cpuprofile; one per thread: main, then workers in start order). ` +
      `Open them in Chrome DevTools (Performance → Load profile) or speedscope.\n`,
  );
  return code;
}

function curve(encoded: string): HtmlLatencyCurve['points'] {
  const h = decodeFromCompressedBase64(encoded, 32, histogramsUseWasm());
  try {
    return CURVE_PERCENTILES.map((p) => ({ percentile: p, us: (p === 100 ? h.maxValue : h.getValueAtPercentile(p)) / 1e3 }));
  } finally {
    h.destroy();
  }
}

/** The HdrHistogram percentile-distribution text (values in µs) of an encoded ns histogram. */
function hgrm(encoded: string): string {
  const h = decodeFromCompressedBase64(encoded, 32, histogramsUseWasm());
  try {
    return h.outputPercentileDistribution(5, 1000);
  } finally {
    h.destroy();
  }
}

function hgrmFile(base: string, index: number, label: string): string {
  if (index === 0) return base;
  const ext = path.extname(base);
  const safe = label.replace(/[^a-z0-9@.-]+/gi, '-');
  return `${base.slice(0, base.length - ext.length)}.${safe}${ext || '.hgrm'}`;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

const latencyLine = (l: LatencySummary): string =>
  `p50 ${us(l.p50Us)} µs, p99 ${us(l.p99Us)} µs, p99.9 ${us(l.p999Us)} µs, max ${us(l.maxUs)} µs`;

/** Runs the benchmark and prints the report; resolves with the exit code (0 ok, 1 a failed phase). */
export async function benchCommand(argv: string[]): Promise<number> {
  const settings = parseBenchArgs(argv);
  if (settings === null) {
    console.log(BENCH_USAGE);
    return 0;
  }
  if (settings.profile !== null) return profiled(argv, settings.profile);
  const factory = settings.custom ? await loadFactory(settings.custom.factory) : null;
  await initHistograms();
  const machine = machineInfo();
  const { workload } = settings;

  const throughputPeers: Peer[] = [];
  const latencyPeers: LatencyPeer[] = [];
  for (const config of settings.configs) {
    if (settings.custom && factory) {
      throughputPeers.push(customPeer(settings.custom, factory, config));
      latencyPeers.push(customLatencyPeer(settings.custom, factory, config));
    } else {
      throughputPeers.push(ringmasterPeer(config));
      latencyPeers.push(ringmasterLatencyPeer(config));
    }
  }
  for (const name of settings.compare) {
    throughputPeers.push(COMPARE_THROUGHPUT[name]);
    const lp = COMPARE_LATENCY[name];
    if (lp) latencyPeers.push(lp);
  }
  const sweepPeers = settings.sweep ? [latencyPeers[0]!, ...latencyPeers.filter((p) => p.name === 'piscina' || p.name === 'postmessage-batched')] : [];
  const idleConfigs = settings.idleMs > 0 && !settings.custom ? settings.configs : [];
  const phases =
    throughputPeers.length * (1 + settings.runs) +
    settings.rates.length * latencyPeers.length +
    sweepPeers.length * SWEEP_RATES.length +
    (idleConfigs.length > 0 ? 2 * idleConfigs.length + 1 : 0);

  const human: string[] = [];
  /** Things the reader should know, from the runs (deduplicated). */
  const notes = new Set<string>();
  const failures: string[] = [];
  let verifiedPhases = 0;
  const progress = new Progress(phases);
  const began = process.hrtime.bigint();
  const config0 = settings.configs[0]!;
  const settingsLine =
    `${settings.custom ? `your actor ${settings.custom.actor}` : `W1, ${workload.describe()}`}; ` +
    `ringmaster ${settings.configs.map((c) => `${c.threads}t`).join(' & ')} (${describeConfig(config0).replace(/^\d+ worker threads?, /, '')}); ` +
    `${settings.durationSeconds !== null ? `~${settings.durationSeconds} s` : `${int(settings.messages)} messages`} per throughput run × ${settings.runs}` +
    (settings.warmupMessages > 0 ? `, each after ${int(settings.warmupMessages)} untimed on its fresh threads` : ', cold threads (no untimed warm-up)') +
    (settings.rates.length > 0 ? `; latency at ${settings.rates.map(int).join(' & ')} msg/s × ${settings.latencySeconds} s after ${settings.latencyWarmup} s warm-up` : '') +
    (settings.compare.length > 0 ? `; compared: ${settings.compare.join(', ')}` : '');
  progress.note(`ringmaster bench — ${machineLine(machine)}`);
  progress.note(`settings: ${settingsLine}`);

  async function phase<T>(label: string, body: () => Promise<T>, describe: (value: T) => string): Promise<T | undefined> {
    progress.start(label);
    try {
      const value = await withTimeout(body(), PHASE_MS, label);
      verifiedPhases++;
      progress.done(label, describe(value));
      return value;
    } catch (error) {
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      failures.push(`${label}: ${text}`);
      progress.done(label, `FAILED ${text}`);
      return undefined;
    }
  }

  // ---- throughput -------------------------------------------------------------------------------
  const expectedCache = new Map<number, W1Totals>();
  const expectedFor = (n: number): W1Totals => {
    let e = expectedCache.get(n);
    if (e === undefined) expectedCache.set(n, (e = workload.expected(n)));
    return e;
  };
  const sizes = new Map<Peer, number>();
  const sizeOf = (peer: Peer): number =>
    sizes.get(peer) ?? (peer === piscinaPeer ? Math.min(settings.messages, settings.piscinaMessages) : settings.messages);
  /** Untimed messages before each of a peer's throughput runs: --warmup-messages, at most the run's own count. */
  const warmupOf = (peer: Peer): number => Math.min(settings.warmupMessages, sizeOf(peer));
  /** A run of n timed messages, after `warmup` untimed ones on the run's fresh threads. */
  const runPeer = async (peer: Peer, n: number, warmup: number, label: string): Promise<number | undefined> => {
    const r = await phase(
      label,
      () => peer.run({ workload, warmup, messages: n, expected: expectedFor(warmup + n) }),
      (x) => `${rate(x.messages / x.seconds)} msg/s (${int(x.messages)} msgs in ${x.seconds.toFixed(3)} s, verified)${x.note ? `; ${x.note}` : ''}`,
    );
    if (r?.note !== undefined) notes.add(`${peer.name}: ${r.note.replace(/^[\d,]+ of [\d,]+ messages/, 'some messages')}`);
    return r === undefined ? undefined : r.messages / r.seconds;
  };
  for (const peer of throughputPeers) {
    const n = Math.min(peer === piscinaPeer ? 10_000 : 100_000, sizeOf(peer));
    // Itself a warm-up (of the main thread's code, and the rate --duration sizes runs by): no untimed part.
    const warmRate = await runPeer(peer, n, 0, `warm-up ${peer.name}`);
    if (settings.durationSeconds !== null && warmRate !== undefined) sizes.set(peer, Math.max(1000, Math.round(warmRate * settings.durationSeconds)));
  }
  const throughputRuns = new Map<string, (number | undefined)[]>(throughputPeers.map((p) => [p.name, []]));
  for (let run = 0; run < settings.runs; run++) {
    for (const peer of rotate(throughputPeers, run)) {
      throughputRuns.get(peer.name)![run] = await runPeer(peer, sizeOf(peer), warmupOf(peer), `[run ${run + 1}/${settings.runs}] ${peer.name}`);
    }
  }
  const throughput: ThroughputFigures[] = throughputPeers.map((peer) => {
    const runs = throughputRuns.get(peer.name)!;
    return {
      peer: peer.name,
      describe: peer.describe,
      messages: sizeOf(peer),
      warmupMessages: warmupOf(peer),
      runs: Array.from({ length: settings.runs }, (_, i) => runs[i] ?? null),
      spread: spread(runs.filter((v): v is number => v !== undefined)),
    };
  });
  /** a ÷ b per run (paired within the run, so shared noise cancels), then median and range. */
  const ratio = (a: string, b: string): { runs: (number | null)[]; spread: Spread | null } => {
    const ra = throughputRuns.get(a)!;
    const rb = throughputRuns.get(b)!;
    const runs = Array.from({ length: settings.runs }, (_, i) => (ra[i] !== undefined && rb[i] !== undefined ? ra[i]! / rb[i]! : null));
    return { runs, spread: spread(runs.filter((v): v is number => v !== null)) };
  };
  const ratios: Record<string, ReturnType<typeof ratio>> = {};
  const first = throughputPeers[0]!.name;
  for (const peer of throughputPeers.slice(1)) ratios[`${first} / ${peer.name}`] = ratio(first, peer.name);

  // ---- latency ----------------------------------------------------------------------------------
  const latency: LatencyFigures[] = [];
  const toFigures = (r: LatencyRun): LatencyFigures => ({
    peer: r.peer,
    rate: r.rate,
    samples: r.summary.count,
    latencyUs: r.summary,
    serviceUs: r.service,
    achievedRate: r.pacer.achievedRate,
    pacerMaxBehindUs: r.pacer.maxBehindUs,
    encoded: r.encoded,
    serviceEncoded: r.serviceEncoded,
  });
  for (const offered of settings.rates) {
    for (const peer of latencyPeers) {
      const o = { rate: offered, seconds: settings.latencySeconds, warmSeconds: settings.latencyWarmup, workload };
      const r = await phase(
        `latency ${peer.name} @ ${int(offered)} msg/s`,
        () => peer.run(o),
        (x) => `${latencyLine(x.summary)} (service p50 ${us(x.service.p50Us)} µs; ${int(x.summary.count)} recorded, verified)${x.note ? `; ${x.note}` : ''}`,
      );
      if (r !== undefined) latency.push(toFigures(r));
    }
  }

  // ---- sweep --------------------------------------------------------------------------------------
  const sweep: SweepFigures[] = [];
  for (const peer of sweepPeers) {
    const points: SweepPoint[] = [];
    for (const offered of SWEEP_RATES) {
      const o = { rate: offered, seconds: Math.min(1, settings.latencySeconds), warmSeconds: settings.latencyWarmup, workload }; // the full warm-up: start-up GCs out of the window, as in the latency phase
      const r = await phase(`sweep ${peer.name} @ ${int(offered)} msg/s`, () => peer.run(o), (x) => `${latencyLine(x.summary)}, achieved ${rate(x.pacer.achievedRate)} msg/s`);
      const keptUp = r !== undefined && r.pacer.achievedRate >= KEPT_UP * offered;
      points.push({ rate: offered, p99Us: r?.summary.p99Us ?? null, achievedRate: r?.pacer.achievedRate ?? null, keptUp });
      if (!keptUp) break;
    }
    const within = points.filter((p) => p.keptUp && p.p99Us !== null && p.p99Us <= settings.sloUs);
    sweep.push({ peer: peer.name, sloUs: settings.sloUs, highestRateWithinSlo: within.length > 0 ? within[within.length - 1]!.rate : null, points });
  }

  // ---- idle CPU -------------------------------------------------------------------------------------
  const idle: Record<string, number | null> = {};
  if (idleConfigs.length > 0) {
    idle['baseline (no worker threads)'] = (await phase('idle CPU baseline', () => processCpuPercent(settings.idleMs), (p) => `${p}% of one core`)) ?? null;
    for (const config of idleConfigs) {
      const label = `idle CPU ringmaster-${config.threads}t`;
      idle[`ringmaster-${config.threads}t`] =
        (await phase(label, () => ringmasterIdleCpu(config.threads, workload, Math.min(200_000, settings.messages), settings.idleMs), (p) => `${p}% of one core over ${settings.idleMs} ms after traffic`)) ?? null;
    }
  }
  const wakeUp: { peer: string; gapMs: number; latencyUs: LatencySummary }[] = [];
  for (const config of idleConfigs) {
    const label = `wake-up latency ringmaster-${config.threads}t (${WAKE_UP_COUNT} messages, one every ${WAKE_UP_GAP_MS} ms)`;
    const r = await phase(label, () => ringmasterWakeUpLatency(config.threads, workload, WAKE_UP_COUNT, WAKE_UP_GAP_MS), latencyLine);
    if (r !== undefined) wakeUp.push({ peer: `ringmaster-${config.threads}t`, gapMs: WAKE_UP_GAP_MS, latencyUs: r });
  }
  const peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  progress.stop();

  // ---- report ---------------------------------------------------------------------------------------
  human.push(`ringmaster benchmark — ${settings.custom ? 'your actor' : 'workload W1 (keyed small messages)'}`);
  human.push(`machine: ${machineLine(machine)}`);
  human.push(`settings: ${settingsLine}`);
  human.push('');
  human.push(`Throughput (messages/s, first timed send to last message verified${settings.warmupMessages > 0 ? ', after the untimed warm-up on fresh threads' : ''}; median and min–max over ${settings.runs} run${settings.runs > 1 ? 's' : ''})`);
  const tpRows: string[][] = [['peer', 'median', 'min–max', 'runs', 'what']];
  for (const f of throughput) {
    const s = f.spread;
    tpRows.push([f.peer, s ? `${rate(s.median)}/s` : 'FAILED', s ? `${rate(s.min)} – ${rate(s.max)}` : '', `${s?.n ?? 0}/${settings.runs}`, f.describe]);
  }
  human.push(table(tpRows, new Set([1, 2, 3])));
  if (Object.keys(ratios).length > 0) {
    human.push('');
    human.push('Ratios (a ÷ b within each run, then median and min–max)');
    human.push(
      table(
        Object.entries(ratios).map(([name, r]) => [name, r.spread ? `${r.spread.median.toFixed(2)}×` : 'n/a', r.spread ? `(${r.spread.min.toFixed(2)} – ${r.spread.max.toFixed(2)})` : '']),
        new Set([1]),
      ),
    );
  }
  if (latency.length > 0) {
    human.push('');
    human.push(
      `Latency, µs (HDR; open-loop pacing with coordinated-omission correction; ${settings.latencySeconds} s recorded after ${settings.latencyWarmup} s warm-up)`,
    );
    const rows: string[][] = [['offered', 'peer', 'what', 'samples', 'p50', 'p90', 'p99', 'p99.9', 'p99.99', 'max', 'achieved', 'pacer behind']];
    for (const l of latency) {
      for (const [what, s] of [['send→receive', l.latencyUs], ['service', l.serviceUs]] as const) {
        rows.push([
          what === 'service' ? '' : `${int(l.rate)}/s`,
          what === 'service' ? '' : l.peer,
          what,
          int(s.count),
          us(s.p50Us),
          us(s.p90Us),
          us(s.p99Us),
          us(s.p999Us),
          us(s.p9999Us),
          us(s.maxUs),
          what === 'service' ? '' : `${rate(l.achievedRate)}/s`,
          what === 'service' ? '' : `${int(l.pacerMaxBehindUs)} µs`,
        ]);
      }
    }
    human.push(table(rows, new Set([3, 4, 5, 6, 7, 8, 9, 10, 11])));
    human.push(
      `  (send→receive: intended send time → receive start; service: receive start → end. "pacer behind" = worst stall of the\n   producer itself, included in the latencies. hdr-histogram-js ${machine.hdrHistogramWasm ? 'WebAssembly' : 'JS'} mode.)`,
    );
  }
  if (sweep.length > 0) {
    human.push('');
    human.push(`Sweep: highest offered rate with p99 ≤ ${settings.sloUs} µs (send→receive)`);
    const rows: string[][] = [['peer', 'highest within SLO', 'ladder (rate: p99 µs)']];
    for (const s of sweep) {
      rows.push([
        s.peer,
        s.highestRateWithinSlo === null ? 'none' : `${int(s.highestRateWithinSlo)} msg/s`,
        s.points.map((p) => `${rate(p.rate)}: ${p.p99Us === null ? 'failed' : us(p.p99Us)}${p.keptUp ? '' : ' (could not keep up)'}`).join(', '),
      ]);
    }
    human.push(table(rows));
  }
  if (Object.keys(idle).length > 0) {
    human.push('');
    human.push(`Idle CPU (whole process, all threads, ${settings.idleMs} ms right after traffic stops, % of one core)`);
    human.push(table(Object.entries(idle).map(([k, v]) => [k, v === null ? 'FAILED' : `${v.toFixed(1)}%`]), new Set([1])));
  }
  if (wakeUp.length > 0) {
    human.push('');
    human.push(`Idle wake-up latency (send → receive start, µs; ${WAKE_UP_COUNT} messages, one every ${WAKE_UP_GAP_MS} ms: the park → notify → run path)`);
    human.push(table(wakeUp.map((w) => [w.peer, `p50 ${us(w.latencyUs.p50Us)}`, `p99 ${us(w.latencyUs.p99Us)}`, `max ${us(w.latencyUs.maxUs)}`]), new Set([1, 2, 3])));
  }
  human.push('');
  for (const note of notes) human.push(`Note: ${note}`);
  human.push(`Peak RSS of the process (all phases): ${peakRssMB} MB`);
  human.push(
    failures.length === 0
      ? `Verification: all ${verifiedPhases} phases verified.`
      : `Verification: ${failures.length} FAILED (${verifiedPhases} passed):\n${failures.map((f) => `  - ${f}`).join('\n')}`,
  );
  const elapsedSeconds = Number(process.hrtime.bigint() - began) / 1e9;
  human.push(`Total time: ${elapsedSeconds.toFixed(1)} s`);

  const files: string[] = [];
  if (settings.hgrm !== null && latency.length > 0) {
    latency.forEach((l, i) => {
      const file = hgrmFile(settings.hgrm!, i, `${l.peer}@${l.rate}`);
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      writeFileSync(file, `# ringmaster bench: ${l.peer} @ ${l.rate} msg/s, send→receive latency, values in µs\n${hgrm(l.encoded)}`);
      files.push(`${file} (${l.peer} @ ${int(l.rate)} msg/s)`);
    });
  }
  if (settings.html !== null) {
    const page = renderHtmlReport({
      title: 'ringmaster benchmark',
      machine: machineLine(machine),
      settings: settingsLine,
      generated: new Date().toISOString(),
      throughput: throughput.filter((t) => t.spread !== null).map((t) => ({ peer: t.peer, median: t.spread!.median, min: t.spread!.min, max: t.spread!.max })),
      latency: latency.map((l) => ({ label: `${l.peer} @ ${int(l.rate)} msg/s`, points: curve(l.encoded) })),
      notes: [human[human.length - 2]!, ...sweep.map((s) => `sweep ${s.peer}: highest rate with p99 ≤ ${s.sloUs} µs: ${s.highestRateWithinSlo === null ? 'none' : `${int(s.highestRateWithinSlo)} msg/s`}`)],
    });
    mkdirSync(path.dirname(path.resolve(settings.html)), { recursive: true });
    writeFileSync(settings.html, page);
    files.push(`${settings.html} (HTML report)`);
  }
  if (files.length > 0) human.push(`Files: ${files.join('; ')}`);

  const report = human.join('\n') + '\n';
  if (settings.json) {
    process.stderr.write(report);
    const summary = {
      machine,
      settings: summarizeSettings(settings),
      throughput,
      ratios,
      latency: latency.map(({ encoded: _e, serviceEncoded: _s, ...rest }) => rest),
      sweep,
      idleCpuPercent: idle,
      wakeUp,
      peakRssMB,
      notes: [...notes],
      verified: failures.length === 0,
      failures,
      elapsedSeconds,
      date: new Date().toISOString(),
    };
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  } else {
    process.stdout.write(report);
  }
  return failures.length === 0 ? 0 : 1;
}

/** The settings as plain JSON (mapping tables and URLs as given). */
function summarizeSettings(s: BenchSettings): Record<string, unknown> {
  return {
    threads: s.configs.map((c) => c.threads),
    partitions: s.configs[0]!.partitions,
    mapping: s.configs[0]!.mappingLabel,
    messages: s.messages,
    warmupMessages: s.warmupMessages,
    durationSeconds: s.durationSeconds,
    runs: s.runs,
    rates: s.rates,
    latencySeconds: s.latencySeconds,
    latencyWarmupSeconds: s.latencyWarmup,
    keys: s.workload.keys,
    payloadBytes: s.workload.payloadBytes,
    actor: s.custom?.actor ?? null,
    factory: s.custom?.factory ?? null,
    compare: s.compare,
    piscinaMessages: s.piscinaMessages,
    sweep: s.sweep,
    sloUs: s.sloUs,
    idleMs: s.idleMs,
  };
}


