/**
 * `ringmaster bench` flags: their defaults (all here), their parsing and validation. A bad flag is
 * a UsageError, which the CLI prints as one line and exits with code 2.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { Mapping } from '../index.js';
import { defaultThreads } from '../runtime/options.js';
import type { RingmasterConfig } from './peers/ringmaster.js';
import { MAX_KEYS, W1_KEYS, W1Workload } from './w1.js';

/** Peers `--compare` accepts (ringmaster itself always runs). */
export const COMPARE_PEERS = ['floor', 'inline', 'postmessage', 'postmessage-batched', 'piscina'] as const;
export type ComparePeer = (typeof COMPARE_PEERS)[number];

export const DEFAULTS = {
  partitions: 64,
  messages: 500_000,
  warmupMessages: 20_000,
  runs: 1,
  rate: 20_000,
  latencySeconds: 2,
  /**
   * Long enough for a fresh runtime's start-up garbage collections (its workers' heaps grow while
   * they create the 10,000 actors) to fall before the recorded window: with 0.5 s, V8's first
   * mark-compacts and large scavenges of ringmaster-2t's workers often fell inside it.
   */
  latencyWarmup: 1.5,
  keys: W1_KEYS,
  payloadBytes: 0,
  sloUs: 200,
  idleMs: 2000,
  piscinaMessages: 100_000,
} as const;

export const BENCH_USAGE = `usage: ringmaster bench [options]

Runs workload W1 (keyed small messages; per-key sums and counts verified exactly) through ringmaster,
optionally next to its peers, and prints throughput and HDR latency percentiles.

  --threads N[,N...]       worker threads; a list runs one configuration each (default ${defaultThreads()}: cores - 1)
  --partitions N           partitions, 1..65536 (default ${DEFAULTS.partitions})
  --mapping M              modulo | range | <file.json> holding one thread index per partition (default modulo)
  --messages N             messages per throughput run (default ${DEFAULTS.messages})
  --warmup-messages N      untimed messages each throughput run sends through its fresh threads before the clock
                           starts, verified with the rest; at most the run's count (default ${DEFAULTS.warmupMessages}; 0: cold threads)
  --duration S             instead of --messages: about S seconds per throughput run (the count is set from a
                           warm-up run's rate), and S seconds recorded per latency point
  --runs R                 throughput runs per peer, peer order rotated each run (default ${DEFAULTS.runs})
  --rate R[,R...]          offered load for the latency phase, msgs/s, open loop with coordinated-omission
                           correction (default ${DEFAULTS.rate}); 0 skips the latency phase
  --latency-seconds S      seconds recorded per latency point (default ${DEFAULTS.latencySeconds}, or --duration)
  --latency-warmup S       seconds of unrecorded traffic before each latency and sweep point, on its fresh runtime
                           (default ${DEFAULTS.latencyWarmup}: a fresh worker's start-up garbage collections fall before the window)
  --keys N                 distinct keys, 1..${MAX_KEYS} (default ${DEFAULTS.keys})
  --payload-bytes B        extra bytes carried by every message (default ${DEFAULTS.payloadBytes})
  --actor <module>         benchmark your own actor module instead of the W1 actor; needs --factory
  --factory <module>       module whose default export (i) => ({ key, msg }) builds message i for --actor
  --compare LIST           also run these peers, same workload, same run: ${COMPARE_PEERS.join(',')} or all
  --piscina-messages N     messages per piscina throughput run, ~30x slower than the others (default ${DEFAULTS.piscinaMessages})
  --sweep                  latency at a ladder of offered rates until the peer cannot keep up; prints the highest
                           rate whose p99 stays under --slo-us (ringmaster, and piscina / postmessage-batched if compared)
  --slo-us US              the p99 bound for --sweep, µs (default ${DEFAULTS.sloUs})
  --idle-ms MS             idle-CPU window after traffic (default ${DEFAULTS.idleMs}; 0 skips)
  --json                   print a machine-readable summary on stdout (the human report goes to stderr)
  --hgrm <file>            write latency histograms in HdrHistogram percentile-distribution format
  --html <file>            write a self-contained report page (latency-by-percentile plot, throughput bars)
  --profile <dir>          write CPU profiles (.cpuprofile) of the main thread and every worker thread to <dir>
  -h, --help               this text

Exit codes: 0 verified, 1 a verification failed or a phase hung, 2 bad command line.`;

/** A bad command line: the CLI prints the message as one line and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CustomActor {
  /** File URL of the actor module. */
  actor: string;
  /** File URL of the message factory module. */
  factory: string;
}

export interface BenchSettings {
  configs: RingmasterConfig[];
  messages: number;
  /** Untimed messages at the start of every throughput run (see ThroughputPlan), at most the run's count. */
  warmupMessages: number;
  /** --duration: seconds per throughput run (the message count comes from a warm-up). */
  durationSeconds: number | null;
  runs: number;
  rates: number[];
  latencySeconds: number;
  latencyWarmup: number;
  workload: W1Workload;
  custom: CustomActor | null;
  compare: ComparePeer[];
  piscinaMessages: number;
  sweep: boolean;
  sloUs: number;
  idleMs: number;
  json: boolean;
  hgrm: string | null;
  html: string | null;
  profile: string | null;
}

function number(name: string, text: string | undefined, fallback: number, opts: { integer?: boolean; min?: number; max?: number } = {}): number {
  if (text === undefined) return fallback;
  const { integer = true, min = 1, max = Number.MAX_SAFE_INTEGER } = opts;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    const kind = integer ? 'an integer' : 'a number';
    throw new UsageError(`--${name} must be ${kind} in ${min}..${max}, got '${text}'`);
  }
  return n;
}

function list(name: string, text: string | undefined, fallback: number[], opts: { integer?: boolean; min?: number; max?: number } = {}): number[] {
  if (text === undefined) return fallback;
  const values = text.split(',').map((part) => number(name, part.trim(), 0, opts));
  return [...new Set(values)];
}

function moduleUrl(flag: string, file: string): string {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) throw new UsageError(`--${flag}: module not found: ${absolute}`);
  return pathToFileURL(absolute).href;
}

function parseMapping(text: string | undefined, partitions: number): { mapping: Mapping; label: string } {
  if (text === undefined || text === 'modulo') return { mapping: 'modulo', label: 'modulo' };
  if (text === 'range') return { mapping: 'range', label: 'range' };
  const file = path.resolve(text);
  if (!existsSync(file)) throw new UsageError(`--mapping must be modulo, range or a JSON file; no file ${file}`);
  let table: unknown;
  try {
    table = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--mapping ${text}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!Array.isArray(table) || !table.every((t) => Number.isInteger(t) && t >= 0)) {
    throw new UsageError(`--mapping ${text}: must hold a JSON array of thread indices, one per partition`);
  }
  if (table.length !== partitions) {
    throw new UsageError(`--mapping ${text}: has ${table.length} entries, --partitions is ${partitions}`);
  }
  return { mapping: table as number[], label: path.basename(file) };
}

function parseCompare(text: string | undefined): ComparePeer[] {
  if (text === undefined || text === '') return [];
  if (text === 'all') return [...COMPARE_PEERS];
  const peers: ComparePeer[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (!(COMPARE_PEERS as readonly string[]).includes(part)) {
      throw new UsageError(`--compare: unknown peer '${part}' (known: ${COMPARE_PEERS.join(', ')}, all)`);
    }
    if (!peers.includes(part as ComparePeer)) peers.push(part as ComparePeer);
  }
  return peers;
}

/** Parses `ringmaster bench` arguments; `null` means --help was asked for. */
export function parseBenchArgs(argv: string[]): BenchSettings | null {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        threads: { type: 'string' },
        partitions: { type: 'string' },
        mapping: { type: 'string' },
        messages: { type: 'string' },
        'warmup-messages': { type: 'string' },
        duration: { type: 'string' },
        runs: { type: 'string' },
        rate: { type: 'string' },
        'latency-seconds': { type: 'string' },
        'latency-warmup': { type: 'string' },
        keys: { type: 'string' },
        'payload-bytes': { type: 'string' },
        actor: { type: 'string' },
        factory: { type: 'string' },
        compare: { type: 'string' },
        'piscina-messages': { type: 'string' },
        sweep: { type: 'boolean' },
        'slo-us': { type: 'string' },
        'idle-ms': { type: 'string' },
        json: { type: 'boolean' },
        hgrm: { type: 'string' },
        html: { type: 'string' },
        profile: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return null;
  const str = (name: string): string | undefined => values[name] as string | undefined;

  const partitions = number('partitions', str('partitions'), DEFAULTS.partitions, { max: 65536 });
  const threads = list('threads', str('threads'), [defaultThreads()], { max: 1024 });
  const { mapping, label } = parseMapping(str('mapping'), partitions);
  if (Array.isArray(mapping)) {
    const most = Math.max(...mapping);
    const fewest = Math.min(...threads);
    if (most >= fewest) throw new UsageError(`--mapping ${str('mapping')} names thread ${most}, but --threads ${fewest} has 0..${fewest - 1}`);
  }
  const durationText = str('duration');
  const duration = durationText === undefined ? null : number('duration', durationText, 0, { integer: false, min: 0.1, max: 3600 });
  if (duration !== null && str('messages') !== undefined) throw new UsageError('--messages and --duration exclude each other');
  const actorText = str('actor');
  const factoryText = str('factory');
  if ((actorText === undefined) !== (factoryText === undefined)) throw new UsageError('--actor and --factory go together');
  const custom = actorText !== undefined && factoryText !== undefined ? { actor: moduleUrl('actor', actorText), factory: moduleUrl('factory', factoryText) } : null;
  const compare = parseCompare(str('compare'));
  if (custom !== null && compare.length > 0) throw new UsageError('--compare runs the W1 workload; it does not combine with --actor');
  const rates = list('rate', str('rate'), [DEFAULTS.rate], { min: 0, max: 100_000_000 }).filter((r) => r > 0);
  const messages = number('messages', str('messages'), DEFAULTS.messages, { max: 1e10 });
  return {
    configs: threads.map((t) => ({ threads: t, partitions, mapping, mappingLabel: label })),
    messages,
    warmupMessages: number('warmup-messages', str('warmup-messages'), DEFAULTS.warmupMessages, { min: 0, max: 1e10 }),
    durationSeconds: duration,
    runs: number('runs', str('runs'), DEFAULTS.runs, { max: 100 }),
    rates,
    latencySeconds: number('latency-seconds', str('latency-seconds'), duration ?? DEFAULTS.latencySeconds, { integer: false, min: 0.01, max: 3600 }),
    latencyWarmup: number('latency-warmup', str('latency-warmup'), DEFAULTS.latencyWarmup, { integer: false, min: 0, max: 600 }),
    workload: new W1Workload(
      number('keys', str('keys'), DEFAULTS.keys, { max: MAX_KEYS }),
      number('payload-bytes', str('payload-bytes'), DEFAULTS.payloadBytes, { min: 0, max: 16 * 2 ** 20 }),
    ),
    custom,
    compare,
    piscinaMessages: number('piscina-messages', str('piscina-messages'), Math.min(messages, DEFAULTS.piscinaMessages), { max: 1e10 }),
    sweep: values.sweep === true,
    sloUs: number('slo-us', str('slo-us'), DEFAULTS.sloUs, { integer: false, min: 0.001 }),
    idleMs: number('idle-ms', str('idle-ms'), DEFAULTS.idleMs, { min: 0, max: 600_000 }),
    json: values.json === true,
    hgrm: str('hgrm') ?? null,
    html: str('html') ?? null,
    profile: str('profile') ?? null,
  };
}
