/**
 * Two-thread stress tests of the shared-memory ring and its waits (dist/shm/ring.js, wait.js).
 *
 * A producer and a consumer (test/fixtures/ring-stress-*.mjs) run on a 16 KiB ring so that the
 * write position wraps all the time. Frame sizes (0 .. maxFrameBytes, many landing exactly at the
 * end of the data area) and contents are pure functions of a seed, so the consumer checks every
 * frame's offset, length, sequence number and checksum on its own.
 *
 * Waits: every wait uses WAIT_TIMEOUT_MS. Neither side ever has a reason to wait that long (the
 * producer publishes before it waits for space, the consumer releases before it parks), so a wait
 * that lasts its whole timeout is a lost wake-up and fails the test at once. A side that stops
 * reporting progress for STALL_MS fails it too (a hang).
 *
 * The vitest thread never blocks: it waits on worker messages, or runs one side itself with the
 * async waits (parkAsync / waitForSpaceAsync).
 *
 * RING_STRESS_FRAMES=n (>= 20000) runs the first case with n frames (the others scale with it);
 * RING_STRESS_SEED=s changes the seed.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  CONSUMER_PARKED_INDEX,
  PRODUCER_PARKED_INDEX,
  READ_INDEX,
  RING_HEADER_BYTES,
  WRITE_INDEX,
} from '../dist/shm/ring.js';
// Plain JS fixtures, shared with the worker threads.
import { consume } from './fixtures/ring-stress-consumer.mjs';
import { produce } from './fixtures/ring-stress-producer.mjs';

const CAPACITY = 16 * 1024;
const FRAMES = envInt('RING_STRESS_FRAMES', 1_200_000, 20_000);
const SEED = envInt('RING_STRESS_SEED', 0x5eed1234);
const WAIT_TIMEOUT_MS = 10_000;
const STALL_MS = 30_000;
/** Generous (a million frames takes 2-4 s here): a minute per started million, at least two. */
const timeoutFor = (frames: number): number => Math.max(120_000, Math.ceil(frames / 1e6) * 60_000);

function envInt(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return n;
}
/** About 64 forced waits per run. */
const gateEvery = (frames: number): number => Math.ceil(frames / 64);

const PRODUCER_URL = new URL('./fixtures/ring-stress-producer.mjs', import.meta.url);
const CONSUMER_URL = new URL('./fixtures/ring-stress-consumer.mjs', import.meta.url);

type Role = 'producer' | 'consumer';

interface ProducerStats {
  role: 'producer';
  frames: number;
  bytes: number;
  publishes: number;
  fullClaims: number;
  spaceWaits: number;
  lostSpaceWakeups: number;
  longestSpaceWaitMs: number;
  gates: number;
  placementErrors: number;
  firstError: string | null;
  exactWraps: number;
  skips: number;
}

interface ConsumerStats {
  role: 'consumer';
  frames: number;
  bytes: number;
  sequenceErrors: number;
  checksumErrors: number;
  layoutErrors: number;
  firstError: string | null;
  releases: number;
  spinsWithData: number;
  parks: number;
  parksWithData: number;
  parksWoken: number;
  lostParkWakeups: number;
  gates: number;
}

type Stats = ProducerStats | ConsumerStats;

interface SideSpec {
  /** Run in a worker (sync waits), or on the vitest thread (async waits). */
  on: 'worker' | 'main';
  [option: string]: unknown;
}

interface StressSpec {
  frames: number;
  seed: number;
  producer: SideSpec;
  consumer: SideSpec;
}

interface StressResult {
  producer: ProducerStats;
  consumer: ConsumerStats;
  seconds: number;
}

function controlSnapshot(sab: SharedArrayBuffer): string {
  const c = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
  const write = Atomics.load(c, WRITE_INDEX);
  const read = Atomics.load(c, READ_INDEX);
  return (
    `write=${write} read=${read} used=${(write - read) | 0} ` +
    `consumerParked=${Atomics.load(c, CONSUMER_PARKED_INDEX)} producerParked=${Atomics.load(c, PRODUCER_PARKED_INDEX)}`
  );
}

/** What is wrong in a progress report, if anything (checked on every report, to fail fast). */
function problemIn(s: Stats): string | null {
  if (s.role === 'producer') {
    if (s.lostSpaceWakeups > 0) return `lost wake-up: the producer slept a whole ${WAIT_TIMEOUT_MS} ms timeout in waitForSpace*`;
    if (s.firstError !== null) return `producer: ${s.firstError}`;
  } else {
    if (s.lostParkWakeups > 0) return `lost wake-up: the consumer slept a whole ${WAIT_TIMEOUT_MS} ms timeout in park*`;
    if (s.firstError !== null) return `consumer: ${s.firstError}`;
  }
  return null;
}

/**
 * Runs a producer and a consumer over a fresh ring and resolves with both sides' final stats.
 * Rejects (after stopping both sides) on a worker error or early exit, on the first problem a side
 * reports, or when neither side reports progress for STALL_MS.
 */
function runStress(spec: StressSpec): Promise<StressResult> {
  const sab = new SharedArrayBuffer(RING_HEADER_BYTES + CAPACITY);
  const started = performance.now();
  const common = { sab, frames: spec.frames, seed: spec.seed, spaceTimeoutMs: WAIT_TIMEOUT_MS, parkTimeoutMs: WAIT_TIMEOUT_MS };

  return new Promise<StressResult>((resolve, reject) => {
    const workers: Worker[] = [];
    const latest: Partial<Record<Role, Stats>> = {};
    const done: Partial<Record<Role, Stats>> = {};
    const exited: Partial<Record<Role, boolean>> = {};
    // On the first problem, give the other side one wait timeout to report its own (a lost wake-up
    // on one side usually leaves the other one waiting too), then fail with both.
    const problems: Partial<Record<Role, string>> = {};
    let failTimer: NodeJS.Timeout | undefined;
    let lastProgress = performance.now();
    let finished = false;

    const describeState = (): string =>
      `\n  seed=${spec.seed} frames=${spec.frames} capacity=${CAPACITY}` +
      `\n  ring now: ${controlSnapshot(sab)}` +
      `\n  producer: ${JSON.stringify(done.producer ?? latest.producer ?? null)}` +
      `\n  consumer: ${JSON.stringify(done.consumer ?? latest.consumer ?? null)}`;

    const finish = (error?: Error): void => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      clearTimeout(failTimer);
      for (const w of workers) void w.terminate();
      if (error) reject(error);
      else {
        resolve({
          producer: done.producer as ProducerStats,
          consumer: done.consumer as ConsumerStats,
          seconds: (performance.now() - started) / 1000,
        });
      }
    };
    const fail = (msg: string): void => finish(new Error(msg + describeState()));
    const maybeDone = (): void => {
      if (!(done.producer && done.consumer && exited.producer && exited.consumer)) return;
      if (problems.producer || problems.consumer) failWithProblems();
      else finish();
    };
    let ringAtFirstProblem = '';
    const failWithProblems = (): void =>
      fail([problems.producer, problems.consumer].filter(Boolean).join('\n') + `\n  ring at first report: ${ringAtFirstProblem}`);
    const onStats = (role: Role, stats: Stats): void => {
      latest[role] = stats;
      lastProgress = performance.now();
      const problem = problemIn(stats);
      if (!problem || problems[role]) return;
      problems[role] = problem;
      ringAtFirstProblem ||= controlSnapshot(sab);
      if (problems.producer && problems.consumer) failWithProblems();
      else failTimer ??= setTimeout(failWithProblems, WAIT_TIMEOUT_MS + 500);
    };

    const watchdog = setInterval(() => {
      if (performance.now() - lastProgress > STALL_MS) fail(`no progress from either side for ${STALL_MS} ms (hang)`);
    }, 250);

    for (const role of ['consumer', 'producer'] as const) {
      const { on, ...options } = spec[role];
      if (on === 'worker') {
        const worker = new Worker(role === 'producer' ? PRODUCER_URL : CONSUMER_URL, {
          workerData: { ...common, ...options, role },
        });
        workers.push(worker);
        worker.on('message', (m: { type: 'progress' | 'done'; stats: Stats }) => {
          onStats(role, m.stats);
          if (m.type === 'done') done[role] = m.stats;
        });
        worker.on('error', (e) => fail(`${role} worker threw: ${e.stack ?? e}`));
        worker.on('exit', (code) => {
          exited[role] = true;
          if (!finished && (code !== 0 || !done[role])) fail(`${role} worker exited (code ${code}) before reporting`);
          maybeDone();
        });
      } else {
        const run = role === 'producer' ? produce : consume;
        (run({
          ...common,
          ...options,
          mode: 'async',
          onProgress: (s: Stats) => onStats(role, { ...s }),
          shouldStop: () => finished,
        }) as Promise<Stats>).then(
          (stats) => {
            if (finished) return;
            onStats(role, { ...stats });
            done[role] = { ...stats };
            exited[role] = true;
            maybeDone();
          },
          (e: Error) => fail(`${role} on the test thread threw: ${e.stack ?? e}`),
        );
      }
    }
  });
}

/** The assertions every case makes: all frames, in order, intact, no lost wake-up. */
function expectClean(r: StressResult, frames: number): void {
  const { producer: p, consumer: c } = r;
  expect(p.firstError).toBeNull();
  expect(c.firstError).toBeNull();
  expect(p.frames).toBe(frames);
  expect(c.frames).toBe(frames);
  expect(c.sequenceErrors).toBe(0);
  expect(c.checksumErrors).toBe(0);
  expect(c.layoutErrors).toBe(0);
  expect(p.placementErrors).toBe(0);
  expect(c.bytes).toBe(p.bytes);
  expect(p.lostSpaceWakeups).toBe(0);
  expect(c.lostParkWakeups).toBe(0);
  // The size mix does reach the edge cases (deterministic: sizes depend on the seed only).
  expect(p.exactWraps).toBeGreaterThan(0);
  expect(p.skips).toBeGreaterThan(0);
}

function summary(name: string, r: StressResult): string {
  const { producer: p, consumer: c } = r;
  return (
    `${name}: ${c.frames} frames, ${(c.bytes / 2 ** 20).toFixed(0)} MiB in ${r.seconds.toFixed(2)} s; ` +
    `producer: ${p.fullClaims} full, ${p.spaceWaits} space waits (longest ${p.longestSpaceWaitMs.toFixed(1)} ms), ` +
    `${p.gates} gates, ${p.exactWraps} exact wraps, ${p.skips} skips; ` +
    `consumer: ${c.parks} parks (${c.parksWoken} woken, ${c.parksWithData} data), ${c.releases} releases, ${c.gates} gates`
  );
}

describe('ring under two threads', () => {
  it(
    'worker → worker: every frame arrives in order and intact; parked consumer always woken',
    async () => {
      const frames = FRAMES;
      const r = await runStress({
        frames,
        seed: SEED,
        // Now and then (gateEvery) the producer waits, after publishing, until the consumer has
        // parked, so parkSync is exercised whatever the relative speeds; the next publish must wake it.
        producer: { on: 'worker', maxBatch: 64, spaceSpin: 64, gateEvery: gateEvery(frames) },
        consumer: { on: 'worker', releaseEvery: 1, spin: 256 },
      });
      console.log(summary('worker → worker', r));
      expectClean(r, frames);
      expect(r.producer.gates).toBeGreaterThan(0);
      // Each gate saw the consumer's parked flag set by a separate parkSync call.
      expect(r.consumer.parks).toBeGreaterThanOrEqual(r.producer.gates);
    },
    timeoutFor(FRAMES),
  );

  it(
    'worker → worker, consumer releasing every 16 frames: producer waiting for space always woken',
    async () => {
      const frames = Math.ceil(FRAMES / 2);
      const r = await runStress({
        frames,
        seed: SEED + 1,
        producer: { on: 'worker', maxBatch: 64, spaceSpin: 0 },
        // Now and then (gateEvery) the consumer stops until the producer is waiting for space (it
        // must: more than a ringful of frames is left), then releases: that release must wake it.
        consumer: { on: 'worker', releaseEvery: 16, spin: 64, gateEvery: gateEvery(frames) },
      });
      console.log(summary('worker → worker, release every 16', r));
      expectClean(r, frames);
      expect(r.consumer.gates).toBeGreaterThan(0);
      // Each gate saw the producer's parked flag set by a separate waitForSpaceSync call.
      expect(r.producer.spaceWaits).toBeGreaterThanOrEqual(r.consumer.gates);
    },
    timeoutFor(FRAMES / 2),
  );

  it(
    'worker → test thread (spinForData + parkAsync)',
    async () => {
      const frames = Math.ceil(FRAMES / 5);
      const r = await runStress({
        frames,
        seed: SEED + 2,
        producer: { on: 'worker', maxBatch: 64, spaceSpin: 64, gateEvery: gateEvery(frames) },
        consumer: { on: 'main', releaseEvery: 4, spin: 256 },
      });
      console.log(summary('worker → test thread', r));
      expectClean(r, frames);
      expect(r.producer.gates).toBeGreaterThan(0);
      expect(r.consumer.parks).toBeGreaterThanOrEqual(r.producer.gates);
    },
    timeoutFor(FRAMES / 5),
  );

  it(
    'test thread (waitForSpaceAsync) → worker releasing every 16 frames',
    async () => {
      const frames = Math.ceil(FRAMES / 5);
      const r = await runStress({
        frames,
        seed: SEED + 3,
        producer: { on: 'main', maxBatch: 64, spaceSpin: 0 },
        consumer: { on: 'worker', releaseEvery: 16, spin: 64, gateEvery: gateEvery(frames) },
      });
      console.log(summary('test thread → worker', r));
      expectClean(r, frames);
      expect(r.consumer.gates).toBeGreaterThan(0);
      expect(r.producer.spaceWaits).toBeGreaterThanOrEqual(r.consumer.gates);
    },
    timeoutFor(FRAMES / 5),
  );
});
