/** The runtime's options: their types, their defaults (all in one place) and their validation. */
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { ResourceLimits } from 'node:worker_threads';
import type { Mapping } from './mapping.js';
import { resolveRetry, type RetryPolicy } from '../actors/define.js';
import { MAX_RING_CAPACITY, nextPowerOfTwo } from '../shm/ring.js';

export interface RuntimeOptions {
  /**
   * Path or file URL of the actor module (its default export is `defineActor({...})`): the
   * single-kind form. Give this or `actors`, not both.
   */
  actor?: string | URL;
  /**
   * Several actor kinds on the same threads, by name: `{ orders: './orders.js', users: url }`.
   * Address one with `rt.kind('orders').send(key, msg)`; each kind keeps its own per-key state
   * and order. Names: 1-64 characters of letters, digits, `_` and `-`; at most 255 kinds.
   */
  actors?: Readonly<Record<string, string | URL>>;
  /**
   * Topics for rt.publish(topic, key, msg): each topic names the actor kinds subscribed to it;
   * a published message reaches every one of them (each with its own per-key order).
   */
  topics?: Readonly<Record<string, readonly string[]>>;
  /** Worker threads. Default: max(1, os.availableParallelism() - 1). */
  threads?: number;
  /** Partitions, 1..65536. Default 64. */
  partitions?: number;
  /** Which thread owns each partition. Default 'modulo'. */
  mapping?: Mapping;
  /** Bytes of each main→worker ring (rounded up to a power of two, 4 KiB..1 GiB). Default 1 MiB. */
  ringBytes?: number;
  /** Bytes of each worker→main reply ring (same rules). Default 256 KiB. */
  replyRingBytes?: number;
  /** Bytes of each main→worker `{ priority: 'high' }` ring (same rules). Default 256 KiB. */
  highRingBytes?: number;
  /**
   * How many times a worker re-checks its ring before parking when it runs dry. Default 2000
   * (a few µs: long enough to catch the next message of a busy stream) when every worker and the
   * main thread can have a core of their own (threads + 1 <= os.availableParallelism()), else 50:
   * on an oversubscribed machine a spinning worker steals the core the producer needs.
   */
  spinIterations?: number;
  /**
   * Scheduling niceness of the worker threads, 0 (normal) to 19 (yields the CPU soonest); Linux
   * only, where niceness is per thread (elsewhere ignored). Default 10 when the machine is
   * oversubscribed (threads + 1 > os.availableParallelism()), else 0: there a worker that wakes
   * up would otherwise preempt the main thread, which routes every message (`npm run
   * bench:send-path`, 2 workers on 2 cores: the producer preempted 1,800 to 16,000 times per
   * 500,000 messages, 50 to 75 with niceness 10). A niced worker still gets any idle core at once.
   */
  workerNice?: number;
  /**
   * Longest a parked worker sleeps before giving its event loop a turn (timers started by actor
   * code run then). Default 50 ms; wake-ups on new messages are immediate.
   */
  idleTurnMs?: number;
  /**
   * What happens when a worker thread dies (uncaught exception, `process.exit()`, out of memory):
   * by default it is restarted with backoff and resumes from its ring's released position, so
   * messages it had not finished are delivered again (at least once). `false` leaves it dead.
   */
  restart?: boolean | RestartOptions;
  /** Retries of failing sends for actors that set no `retry` of their own. Default: none (1 attempt). */
  retry?: RetryPolicy;
  /**
   * Heap limits of each worker thread (Node's Worker `resourceLimits`). A worker that runs out of
   * memory then dies alone (and is restarted) instead of taking the process down.
   */
  resourceLimits?: ResourceLimits;
}

export interface RestartOptions {
  /** Delay before the first restart, ms; doubles for each further crash in the window. Default 50. */
  backoffMs?: number;
  /** Longest delay before a restart, ms. Default 5000. */
  maxBackoffMs?: number;
  /** More crashes of one thread than this within `withinMs` stop the runtime. Default 5. */
  maxRestarts?: number;
  /** The window for `maxRestarts`, ms. Default 10000. */
  withinMs?: number;
  /**
   * A message that was being delivered each time its thread crashed, this many times in a row, is a
   * poison message: the next worker sets it aside as a dead letter instead of delivering it. Default 3.
   */
  maxCrashes?: number;
}

export interface ResolvedOptions {
  /** Actor kinds in frame order: name and module URL. */
  kinds: { name: string; url: string }[];
  /** Topic → indexes into kinds. */
  topics: Map<string, number[]>;
  threads: number;
  partitions: number;
  mapping: Mapping;
  ringBytes: number;
  replyRingBytes: number;
  highRingBytes: number;
  spinIterations: number;
  workerNice: number;
  idleTurnMs: number;
  /** null: do not restart. */
  restart: Required<RestartOptions> | null;
  retry: Required<RetryPolicy>;
  resourceLimits: ResourceLimits | undefined;
}

export const DEFAULTS = {
  partitions: 64,
  mapping: 'modulo' as Mapping,
  ringBytes: 1 << 20,
  replyRingBytes: 1 << 18,
  highRingBytes: 1 << 18,
  spinIterations: 2000,
  oversubscribedSpinIterations: 50,
  workerNice: 0,
  oversubscribedWorkerNice: 10,
  idleTurnMs: 50,
  restart: { backoffMs: 50, maxBackoffMs: 5000, maxRestarts: 5, withinMs: 10_000, maxCrashes: 3 },
} as const;

export const MAX_PARTITIONS = 65536;
const MIN_RING_BYTES = 4096;

export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${typeof value === 'number' ? value : typeof value}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function ringSize(name: string, value: unknown): number {
  return nextPowerOfTwo(checkInteger(name, value, MIN_RING_BYTES, MAX_RING_CAPACITY));
}

/** The actor module as a file URL string; a missing file is an ActorLoadError-worthy fact, reported by the caller. */
export function resolveActorUrl(actor: unknown, name = 'options.actor'): string {
  if (actor instanceof URL) return actor.href;
  if (typeof actor !== 'string' || actor.length === 0) {
    throw new TypeError(`${name} must be a path or file URL of the actor module`);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(actor) && !/^[a-z]:[\\/]/i.test(actor)) return new URL(actor).href;
  return pathToFileURL(path.resolve(actor)).href;
}

/** True when a file: URL points at an existing file (other schemes are left to the loader). */
export function actorFileExists(actorUrl: string): boolean {
  return !actorUrl.startsWith('file:') || existsSync(fileURLToPath(actorUrl));
}

/** The single-kind `actor` option's kind name. */
export const DEFAULT_KIND = 'default';
const MAX_KINDS = 255;
const KIND_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function resolveKinds(options: RuntimeOptions): { name: string; url: string }[] {
  if (options.actor !== undefined && options.actors !== undefined) throw new TypeError("give either 'actor' or 'actors', not both");
  if (options.actors === undefined) return [{ name: DEFAULT_KIND, url: resolveActorUrl(options.actor) }];
  const actors = options.actors;
  if (actors === null || typeof actors !== 'object') throw new TypeError('options.actors must be an object of kind name → actor module');
  const names = Object.keys(actors);
  if (names.length === 0) throw new RangeError('options.actors names no actor kind');
  if (names.length > MAX_KINDS) throw new RangeError(`options.actors names ${names.length} kinds; at most ${MAX_KINDS}`);
  return names.map((name) => {
    if (!KIND_NAME.test(name)) throw new TypeError(`actor kind name '${name}' must be 1-64 letters, digits, '_' or '-'`);
    return { name, url: resolveActorUrl(actors[name], `options.actors.${name}`) };
  });
}

function resolveTopics(topics: unknown, kinds: { name: string }[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (topics === undefined) return out;
  if (topics === null || typeof topics !== 'object') throw new TypeError('options.topics must be an object of topic → actor kind names');
  for (const [topic, subscribers] of Object.entries(topics)) {
    if (!Array.isArray(subscribers) || subscribers.length === 0) throw new TypeError(`topic '${topic}' must list at least one actor kind`);
    out.set(
      topic,
      subscribers.map((name: unknown) => {
        const index = kinds.findIndex((k) => k.name === name);
        if (index < 0) throw new RangeError(`topic '${topic}' names actor kind '${String(name)}', which options.actors does not have`);
        return index;
      }),
    );
  }
  return out;
}

function resolveResourceLimits(limits: unknown): ResourceLimits | undefined {
  if (limits === undefined) return undefined;
  if (limits === null || typeof limits !== 'object') throw new TypeError('resourceLimits must be an object');
  const known = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(limits)) {
    if (!known.includes(name)) throw new TypeError(`unknown resourceLimits option '${name}'`);
    if (typeof value !== 'number' || !(value > 0)) throw new RangeError(`resourceLimits.${name} must be a positive number`);
    out[name] = value;
  }
  return out as ResourceLimits;
}

function resolveRestart(restart: unknown): Required<RestartOptions> | null {
  if (restart === false) return null;
  if (restart === undefined || restart === true) return { ...DEFAULTS.restart };
  if (restart === null || typeof restart !== 'object') throw new TypeError('restart must be a boolean or an object of restart options');
  const r = restart as RestartOptions;
  for (const name of Object.keys(r)) {
    if (!(name in DEFAULTS.restart)) throw new TypeError(`unknown restart option '${name}'`);
  }
  return {
    backoffMs: checkInteger('restart.backoffMs', r.backoffMs ?? DEFAULTS.restart.backoffMs, 0, 3_600_000),
    maxBackoffMs: checkInteger('restart.maxBackoffMs', r.maxBackoffMs ?? DEFAULTS.restart.maxBackoffMs, 0, 3_600_000),
    maxRestarts: checkInteger('restart.maxRestarts', r.maxRestarts ?? DEFAULTS.restart.maxRestarts, 0, 1_000_000),
    withinMs: checkInteger('restart.withinMs', r.withinMs ?? DEFAULTS.restart.withinMs, 1, 86_400_000),
    maxCrashes: checkInteger('restart.maxCrashes', r.maxCrashes ?? DEFAULTS.restart.maxCrashes, 1, 1_000_000),
  };
}

export function resolveOptions(options: RuntimeOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('createRuntime needs an options object');
  const known = new Set(['actor', 'actors', 'topics', 'threads', 'partitions', 'mapping', 'ringBytes', 'replyRingBytes', 'highRingBytes', 'spinIterations', 'workerNice', 'idleTurnMs', 'restart', 'retry', 'resourceLimits']);
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new TypeError(`unknown option '${name}'`);
  }
  const threads = checkInteger('threads', options.threads ?? defaultThreads(), 1, 1024);
  const oversubscribed = threads + 1 > os.availableParallelism();
  const spinDefault = oversubscribed ? DEFAULTS.oversubscribedSpinIterations : DEFAULTS.spinIterations;
  const niceDefault = oversubscribed ? DEFAULTS.oversubscribedWorkerNice : DEFAULTS.workerNice;
  const kinds = resolveKinds(options);
  return {
    kinds,
    topics: resolveTopics(options.topics, kinds),
    threads,
    partitions: checkInteger('partitions', options.partitions ?? DEFAULTS.partitions, 1, MAX_PARTITIONS),
    mapping: options.mapping ?? DEFAULTS.mapping,
    ringBytes: ringSize('ringBytes', options.ringBytes ?? DEFAULTS.ringBytes),
    replyRingBytes: ringSize('replyRingBytes', options.replyRingBytes ?? DEFAULTS.replyRingBytes),
    highRingBytes: ringSize('highRingBytes', options.highRingBytes ?? DEFAULTS.highRingBytes),
    spinIterations: checkInteger('spinIterations', options.spinIterations ?? spinDefault, 0, 1e9),
    workerNice: checkInteger('workerNice', options.workerNice ?? niceDefault, 0, 19),
    idleTurnMs: checkInteger('idleTurnMs', options.idleTurnMs ?? DEFAULTS.idleTurnMs, 1, 60_000),
    restart: resolveRestart(options.restart),
    retry: resolveRetry(options.retry, 'retry'),
    resourceLimits: resolveResourceLimits(options.resourceLimits),
  };
}
