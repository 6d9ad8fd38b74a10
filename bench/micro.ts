/**
 * Micro-benchmarks of the hot-path pieces (`npm run bench:micro`), with tinybench:
 *
 *   1. ring write+read per frame size (one thread: claim, write body, publish; next, copy out, release)
 *   2. FNV-1a 32 per key length
 *   3. MessageCodec encode and decode per message shape
 *   4. wake-up round trip to a worker parked in Atomics.wait (bench/micro-worker.ts)
 *
 * tinybench times every call of a task with performance.now(), which costs ~70 ns on a small VM:
 * about a ring frame or a short hash. So the synchronous tasks run a calibrated batch of operations per call
 * (a batch takes about BATCH_TARGET_NS) and the tables divide by it: figures are per operation,
 * `samples` counts timed batches. Every task checks its work (frame counts, sequence stamps and
 * checksums, hash values, encoded lengths, decoded values) and throws on a mismatch, so nothing is
 * optimized away or silently wrong.
 *
 *   node dist/bench/micro.js [--time <ms per task>]
 */
import { cpus, availableParallelism, platform, arch } from 'node:os';
import { parseArgs, isDeepStrictEqual } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Bench, type Task } from 'tinybench';
import { copyBytes } from '../runtime/bytes.js';
import { CODEC_PLAIN, CODEC_V8, MessageCodec, type CodecId } from '../runtime/codec.js';
import { readU32, writeU32 } from '../runtime/frame.js';
import { fnv1a32, lastUtf8Length } from '../runtime/key.js';
import { RingBuffer, RingReader, RingWriter } from '../shm/ring.js';
import { parkAsync } from '../shm/wait.js';
import {
  CTL_AT_ONCE,
  CTL_PARK_DATA,
  CTL_PARK_TIMED_OUT,
  CTL_PARK_WOKEN,
  CTL_SPIN,
  CTL_SPUN,
  CTL_WORDS,
  type MicroWorkerData,
} from './micro-worker.js';

const USAGE = `usage: node dist/bench/micro.js [--time <ms>]

  --time <ms>   measuring time per task (default 400; warm-up is half of it, at most 250)
  -h, --help    this text`;

const DEFAULT_TIME_MS = 400;
/** Wall time one timed batch should take: the two performance.now() calls around it (~70 ns each on the 2-core box) stay under 1%. */
const BATCH_TARGET_NS = 20_000;
const MAX_BATCH = 1 << 16;

// ---- command line ---------------------------------------------------------------------------------

function parseTime(argv: string[]): number | 'help' {
  let values: { time?: string | undefined; help?: boolean | undefined };
  try {
    values = parseArgs({
      args: argv,
      options: { time: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return 'help';
  if (values.time === undefined) return DEFAULT_TIME_MS;
  const ms = Number(values.time);
  if (!Number.isFinite(ms) || ms <= 0) usageError(`--time must be a positive number of milliseconds, got '${values.time}'`);
  return ms;
}

function usageError(message: string): never {
  process.stderr.write(`micro: ${message.split('\n')[0]}\n`);
  process.exit(2);
}

// ---- measuring and printing ---------------------------------------------------------------------

interface Row {
  task: string;
  opsPerSec: number;
  meanNs: number;
  rmePercent: number;
  samples: number;
  batch: number;
}

/**
 * Picks how many operations one timed call runs, from the cost per operation over 2 ms windows
 * once two windows in a row agree within 10% (at least 10 ms, at most 100 ms). It runs after
 * tinybench's warm-up: code starts interpreted, and on a loaded 2-core box msgpackr needed over
 * 100 ms to reach its optimized speed (10-20× faster), so sizing the batch on cold code picked
 * batches far too small. Rounds up to a power of two.
 */
function calibrate(run: (n: number) => void): number {
  const chunk = 16;
  const began = performance.now();
  let previous = Infinity;
  let best = Infinity;
  for (;;) {
    let ops = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < 2) {
      run(chunk);
      ops += chunk;
      t = performance.now();
    }
    const nsPerOp = ((t - t0) * 1e6) / ops;
    // The fastest window sizes the batch: a GC pause or a preemption only ever slows one down.
    best = Math.min(best, nsPerOp);
    if ((Math.abs(nsPerOp - previous) <= 0.1 * previous && t - began >= 10) || t - began >= 100) {
      let n = 1;
      while (n < MAX_BATCH && n * best < BATCH_TARGET_NS) n *= 2;
      return n;
    }
    previous = nsPerOp;
  }
}

/** Operations per call while tinybench warms a task up (the real batch is sized after it). */
const WARMUP_BATCH = 16;

/** A group of tasks with the batch each one runs per call. */
class Group {
  readonly bench: Bench;
  private readonly batches = new Map<string, { n: number }>();

  constructor(
    readonly title: string,
    timeMs: number,
  ) {
    // throws: a failed check must stop the run, not become a row with an error.
    this.bench = new Bench({ time: timeMs, warmupTime: Math.min(250, timeMs / 2), throws: true });
  }

  /** A synchronous task: `run(n)` performs and checks n operations. `afterAll` checks a result. */
  addBatched(name: string, run: (n: number) => void, afterAll?: () => void): void {
    const batch = { n: WARMUP_BATCH };
    this.batches.set(name, batch);
    const fn = (): void => run(batch.n);
    this.bench.add(name, fn, {
      beforeAll: (mode) => {
        batch.n = mode === 'run' ? calibrate(run) : WARMUP_BATCH;
      },
      ...(afterAll ? { afterAll } : {}),
    });
  }

  /** An asynchronous task timed one operation per call. */
  addAsync(name: string, fn: () => Promise<void>, hooks: { beforeAll?: () => void } = {}): void {
    this.batches.set(name, { n: 1 });
    this.bench.add(name, fn, hooks.beforeAll ? { beforeAll: hooks.beforeAll } : {});
  }

  async run(): Promise<Row[]> {
    await this.bench.run();
    return this.bench.tasks.map((task: Task) => {
      const result = task.result;
      if (!result || result.error) throw result?.error ?? new Error(`task '${task.name}' has no result`);
      const batch = this.batches.get(task.name)?.n ?? 1;
      return {
        task: task.name,
        // 1 / mean latency, so the two columns agree. tinybench's throughput.mean averages per-sample
        // rates, which fast samples dominate: on the skewed wake-up samples it read 2.5× this.
        opsPerSec: (batch * 1000) / result.latency.mean,
        meanNs: (result.latency.mean * 1e6) / batch,
        rmePercent: result.latency.rme,
        samples: result.latency.samples.length,
        batch,
      };
    });
  }
}

function formatDuration(ns: number): string {
  if (ns < 1_000) return `${ns.toFixed(ns < 10 ? 2 : 1)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

function printTable(title: string, rows: Row[]): void {
  const header = ['task', 'ops/s', 'mean', '± rme', 'samples', 'ops/sample'];
  const cells = rows.map((r) => [
    r.task,
    Math.round(r.opsPerSec).toLocaleString('en-US'),
    formatDuration(r.meanNs),
    `± ${r.rmePercent.toFixed(2)} %`,
    r.samples.toLocaleString('en-US'),
    String(r.batch),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  // Text left, figures right, as a reader scans them.
  const line = (c: string[]): string =>
    c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

// ---- 1. ring write+read ---------------------------------------------------------------------------

const RING_FRAME_SIZES = [0, 16, 64, 256, 1024, 4096];
/** 64 KiB: a 4 KiB frame wraps (skip marker) every ~16 frames, so the wrap path is measured too. */
const RING_CAPACITY = 1 << 16;

function ringGroup(timeMs: number): Group {
  const group = new Group('ring: tryClaim + write body + publish, then next + copy body out + release (one thread)', timeMs);
  for (const size of RING_FRAME_SIZES) {
    const ring = new RingBuffer(RING_CAPACITY);
    const writer = new RingWriter(ring);
    const reader = new RingReader(ring);
    const bytes = ring.bytes;
    const source = Buffer.alloc(size);
    for (let i = 0; i < size; i++) source[i] = (i * 31 + 7) & 0xff;
    // The heap copy a consumer decodes from (the codec never decodes from shared memory).
    const target = Buffer.alloc(Math.max(size, 1));
    const last = size - 1;
    const lastByte = size > 4 ? source[last]! : 0;
    let seq = 0;
    group.addBatched(`${size} B frame`, (n) => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const at = writer.tryClaim(size);
        if (at < 0) throw new Error(`ring ${size} B: no room in a drained ring`);
        copyBytes(source, 0, bytes, at, size);
        if (size >= 4) writeU32(bytes, at, seq); // sequence stamp: proves we read back this frame
        writer.publish();
        const got = reader.next();
        if (got !== at || reader.frameLength !== size) throw new Error(`ring ${size} B: read frame at ${got} length ${reader.frameLength}, wrote at ${at}`);
        copyBytes(bytes, got, target, 0, size);
        if (size >= 4 && readU32(target, 0) !== seq) throw new Error(`ring ${size} B: frame ${seq} read back as ${readU32(target, 0)}`);
        if (size > 4) sum += target[last]!;
        reader.release();
        seq = (seq + 1) >>> 0;
      }
      if (sum !== n * lastByte) throw new Error(`ring ${size} B: checksum ${sum}, expected ${n * lastByte}`);
      if (ring.usedBytes() !== 0) throw new Error(`ring ${size} B: ${ring.usedBytes()} bytes left after the batch`);
    });
  }
  return group;
}

// ---- 2. FNV-1a ------------------------------------------------------------------------------------

/** A flat ASCII key of `length` chars (join gives a flat string; a rope would measure flattening). */
function asciiKey(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
  return Array.from({ length }, (_, i) => alphabet[(i * 7 + 3) % alphabet.length]!).join('');
}

/** The reference: FNV-1a 32 over Buffer's UTF-8 encoding, to check the allocation-free version. */
function fnvReference(text: string): number {
  let h = 2166136261;
  for (const b of Buffer.from(text, 'utf8')) h = Math.imul(h ^ b, 16777619);
  return h >>> 0;
}

function fnvGroup(timeMs: number): Group {
  const group = new Group('fnv1a32 (key → partition hash, over the UTF-8 bytes)', timeMs);
  // 2-byte (Cyrillic), 3-byte (CJK) and 4-byte (surrogate pair) sequences: every branch of the walk.
  const nonAscii = 'ключ-用户-42-🔑-données';
  const keys: Array<[string, string]> = [
    ...[4, 16, 64, 256].map((n): [string, string] => [`${n} ASCII chars`, asciiKey(n)]),
    [`non-ASCII (${nonAscii.length} chars, ${Buffer.byteLength(nonAscii)} B)`, nonAscii],
  ];
  for (const [name, key] of keys) {
    const expected = fnvReference(key);
    if (fnv1a32(key) !== expected || lastUtf8Length !== Buffer.byteLength(key)) {
      throw new Error(`fnv1a32('${key}') disagrees with the UTF-8 reference`);
    }
    group.addBatched(name, (n) => {
      // A sum the caller checks: the JIT cannot drop the calls, and a wrong hash shows.
      let acc = 0;
      for (let i = 0; i < n; i++) acc = (acc + fnv1a32(key)) | 0;
      if (acc !== Math.imul(expected, n)) throw new Error(`fnv1a32 ${name}: sum ${acc} over ${n} calls is wrong`);
    });
  }
  return group;
}

// ---- 3. codec -------------------------------------------------------------------------------------

function codecGroup(timeMs: number): Group {
  const group = new Group('MessageCodec: encode (scan + pack) and decode (copy to heap + unpack), per message', timeMs);
  // One codec, as one thread side has one.
  const codec = new MessageCodec();
  const text = asciiKey(1024);
  const blob = Buffer.alloc(4096);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 13 + 1) & 0xff;
  const shapes: Array<[string, unknown, CodecId]> = [
    ['W1 message', { key: 'user-42', seq: 1, amount: 10.5, tags: ['a', 'b'] }, CODEC_PLAIN],
    ['1 KiB string', { key: 'user-42', text }, CODEC_PLAIN],
    ['4 KiB Buffer', { key: 'user-42', blob }, CODEC_PLAIN],
    ['Map (node:v8 path)', { key: 'user-42', counts: new Map<string, number>([['a', 1], ['b', 2], ['c', 3], ['d', 4]]) }, CODEC_V8],
    [
      'nested object',
      {
        key: 'user-42',
        order: {
          id: 981_234,
          customer: { name: 'Ada Lovelace', address: { street: '12 St James Sq', city: 'London', zip: 'SW1Y 4JH' } },
          lines: [
            { sku: 'A-100', qty: 2, price: 9.99 },
            { sku: 'B-220', qty: 1, price: 24.5 },
            { sku: 'C-310', qty: 5, price: 1.25 },
          ],
          flags: { gift: false, express: true },
        },
        at: 1_700_000_000_000,
      },
      CODEC_PLAIN,
    ],
  ];
  for (const [name, message, expectedCodec] of shapes) {
    const encoded = codec.encode(message);
    if (codec.lastCodec !== expectedCodec) throw new Error(`codec ${name}: encoded with codec ${codec.lastCodec}, expected ${expectedCodec}`);
    // A plain heap copy of the frame: encode()'s buffer is reused by the next encode.
    const frame = Buffer.from(encoded.subarray(codec.lastStart, codec.lastEnd));
    const length = frame.length;
    if (!isDeepStrictEqual(codec.decode(frame, 0, length, expectedCodec), message)) {
      throw new Error(`codec ${name}: does not round-trip`);
    }

    group.addBatched(`encode ${name} (${length} B)`, (n) => {
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        codec.encode(message);
        bytes += codec.lastEnd - codec.lastStart;
      }
      if (bytes !== n * length || codec.lastCodec !== expectedCodec) throw new Error(`codec ${name}: encoded ${bytes} B over ${n} messages, expected ${n * length}`);
    });

    let decoded: unknown;
    group.addBatched(
      `decode ${name}`,
      (n) => {
        for (let i = 0; i < n; i++) decoded = codec.decode(frame, 0, length, expectedCodec);
      },
      () => {
        if (!isDeepStrictEqual(decoded, message)) throw new Error(`codec ${name}: the last decoded value differs from the message`);
      },
    );
  }
  return group;
}

// ---- 4. wake-up round trip ------------------------------------------------------------------------

/** Small rings: one 4-byte frame is in flight at a time. */
const WAKE_RING_CAPACITY = 1 << 12;
/** The main side's waitAsync timeout; a round trip that times out this many times fails the run. */
const ECHO_TIMEOUT_MS = 1000;
const MAX_TIMEOUTS = 3;

interface WakeTally {
  roundTrips: number;
  mainFoundEcho: number;
  mainWoken: number;
}

async function wakeGroup(timeMs: number): Promise<{ title: string; rows: Row[]; notes: string[] }> {
  const group = new Group('wake-up round trip: main publishes 1 frame → parked worker wakes, echoes → main wakes (waitAsync)', timeMs);
  const toWorker = new RingBuffer(WAKE_RING_CAPACITY);
  const toMain = new RingBuffer(WAKE_RING_CAPACITY);
  const controlSab = new SharedArrayBuffer(CTL_WORDS * 4);
  const control = new Int32Array(controlSab);
  const writer = new RingWriter(toWorker);
  const reader = new RingReader(toMain);
  const data: MicroWorkerData = { toWorker: toWorker.sab, toMain: toMain.sab, control: controlSab };
  const worker = new Worker(new URL('./micro-worker.js', import.meta.url), { workerData: data, name: 'micro-echo' });
  // The ref'd worker keeps the process alive while main waits with waitAsync (which does not).
  let failure: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      failure ??= new Error(`echo worker exited (code ${code})`);
      resolve();
    });
  });
  worker.on('error', (error) => {
    failure = error;
  });

  let seq = 0;
  let tally: WakeTally = { roundTrips: 0, mainFoundEcho: 0, mainWoken: 0 };
  const roundTrip = async (): Promise<void> => {
    seq = (seq + 1) >>> 0;
    const at = writer.tryClaim(4);
    if (at < 0) throw new Error('wake: request ring full');
    writeU32(toWorker.bytes, at, seq);
    writer.publish(); // notifies: the worker is parked (or about to see the frame)
    let parked = false;
    for (let timeouts = 0; ; ) {
      const back = reader.next();
      if (back >= 0) {
        const echoed = readU32(toMain.bytes, back);
        if (reader.frameLength !== 4 || echoed !== seq) throw new Error(`wake: sent ${seq}, echo ${echoed} (${reader.frameLength} B)`);
        reader.release();
        tally.roundTrips++;
        if (parked) tally.mainWoken++;
        else tally.mainFoundEcho++;
        return;
      }
      if (failure) throw failure;
      const outcome = await parkAsync(reader, ECHO_TIMEOUT_MS);
      if (outcome !== 'data') parked = true;
      if (outcome === 'timed-out' && ++timeouts >= MAX_TIMEOUTS) throw new Error(`wake: no echo for frame ${seq} in ${MAX_TIMEOUTS} s`);
    }
  };

  const tallies = new Map<string, { main: WakeTally; worker: number[] }>();
  const variants: Array<[string, number]> = [
    ['worker parks at once', 0],
    // The runtime's default spin when every worker and the main thread can have a core.
    ['worker spins 2000 loads, then parks', 2000],
  ];
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
    for (const [name, spin] of variants) {
      group.addAsync(name, roundTrip, {
        // Runs before warm-up and before the measured run: the tallies describe the measured run.
        beforeAll: () => {
          Atomics.store(control, CTL_SPIN, spin);
          for (const i of [CTL_AT_ONCE, CTL_SPUN, CTL_PARK_DATA, CTL_PARK_WOKEN, CTL_PARK_TIMED_OUT]) Atomics.store(control, i, 0);
          tally = { roundTrips: 0, mainFoundEcho: 0, mainWoken: 0 };
          tallies.set(name, { main: tally, worker: Array.from(control) });
        },
      });
    }
    // Task order is insertion order, so snapshot each variant's worker counters when it completes.
    group.bench.addEventListener('cycle', (event) => {
      const entry = event.task ? tallies.get(event.task.name) : undefined;
      if (entry) entry.worker = Array.from(control);
    });
    const rows = await group.run();
    const notes = variants.map(([name]) => {
      const { main, worker: w } = tallies.get(name)!;
      const pct = (k: number): string => `${((100 * k) / Math.max(main.roundTrips, 1)).toFixed(1)}%`;
      return (
        `  ${name}: ${main.roundTrips.toLocaleString('en-US')} round trips. Worker got the frame: woken from Atomics.wait ${pct(w[CTL_PARK_WOKEN]!)}, ` +
        `spinning ${pct(w[CTL_SPUN]!)}, at the park check ${pct(w[CTL_PARK_DATA]!)}, already there after its previous echo ${pct(w[CTL_AT_ONCE]!)} ` +
        `(${w[CTL_PARK_TIMED_OUT]!} idle timeouts). Main got the echo: woken from waitAsync ${pct(main.mainWoken)}, without waiting ${pct(main.mainFoundEcho)}`
      );
    });
    notes.push(
      '  ("already there after its previous echo": the frame arrived before the worker looked again, i.e. main ran in between, typically on the worker\'s core: a scheduler handoff, not a spin or a park)',
    );
    return { title: group.title, rows, notes };
  } finally {
    // A 0-byte frame stops the worker's loop; terminate covers a worker that is stuck or gone.
    const at = writer.tryClaim(0);
    if (at >= 0) writer.publish();
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
    await worker.terminate();
  }
}

// ---- main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const time = parseTime(process.argv.slice(2));
  if (time === 'help') {
    console.log(USAGE);
    return;
  }
  const cpu = cpus()[0];
  console.log('ringmaster micro-benchmarks (tinybench)');
  console.log(
    `machine: ${cpu?.model.trim() ?? 'unknown CPU'}, ${cpus().length} cores (${availableParallelism()} available), ` +
      `Node ${process.version}, ${platform()}/${arch()}`,
  );
  console.log(
    `time per task: ${time} ms measured after ${Math.min(250, time / 2)} ms warm-up; figures per operation ` +
      `(a sample times a batch of "ops/sample" operations); ops/s = 1 / mean; ± rme is tinybench's relative margin of error of the mean (95%)`,
  );
  const began = performance.now();
  for (const make of [ringGroup, fnvGroup, codecGroup]) {
    const group = make(time);
    printTable(group.title, await group.run());
  }
  const wake = await wakeGroup(time);
  printTable(wake.title, wake.rows);
  for (const note of wake.notes) console.log(note);
  console.log(`\ndone in ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
