/**
 * `npm run bench:send-path [-- --runs R]`: where the producer's time goes, for the README's
 * "Where the time goes". Three parts, every one checking its work:
 *
 *   1. The send path's pieces on one thread, W1 messages, best of 10 rounds of 200,000: building
 *      the message, FNV-1a, then the codec's general path (the structured-clone scan, msgpackr
 *      pack) and the shape encoder the runtime uses for W1 instead (both in one walk), writing
 *      the frame into a ring (drained on the same thread); and the runtime's record codec next to
 *      plain maps (encode, decode, bytes per message).
 *   2. A fresh worker's warm-up: after a warm-up runtime (so the main thread's code is warm), a
 *      new 1-thread runtime gets 400,000 W1 messages in chunks of 50,000, each sent and drained;
 *      the time per chunk shows how long the worker's JIT takes to warm up. Verified exactly.
 *   3. The main thread preempted by workers: W1, 500,000 messages, with 1 worker and with 2 at
 *      workerNice 0, 5 and the default; throughput and the main thread's involuntary context
 *      switches (Linux: /proc/thread-self/status). Verified exactly.
 *   4. The worker's own cost per message, with nothing else running: a warm 1-thread runtime
 *      with 64 MiB rings is held (its actor blocks), 400,000 W1 messages are written meanwhile
 *      (timed too: the main thread's cost per trySend with no consumer beside it), and the drain
 *      after the hold is timed. Verified exactly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRuntime, type Runtime, type RuntimeOptions } from '../index.js';
import { MessageCodec, scanMessage } from '../runtime/codec.js';
import { SharedStructures } from '../runtime/structures.js';
import { OutboundFrame, writeFrame, writeFrameEncoding } from '../runtime/frame-writer.js';
import { KIND_TELL } from '../runtime/frame.js';
import { fnv1a32, lastUtf8Length } from '../runtime/key.js';
import { RingBuffer, RingReader, RingWriter } from '../shm/ring.js';
import { UsageError } from './args.js';
import { W1_ACTOR } from './peers/ringmaster.js';
import { fetchW1Totals, probeKeys } from './ringmaster-threads.js';
import { VerificationError, verifyW1, W1, W1_KEYS } from './w1.js';

const PART_MESSAGES = 200_000;
const PART_ROUNDS = 10;
const CHUNK = 50_000;
const CHUNKS = 8;
const RUN_MESSAGES = 500_000;
const HANG_MS = 120_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const range = (xs: number[], f: (x: number) => string): string => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;

interface Step {
  loop: (n: number) => number;
  check: (sum: number) => void;
}

/**
 * Best time per message of each step over PART_ROUNDS rounds, ns. The rounds go round-robin over
 * the steps, so every step sees the machine in the same moods (this VM's speed swings by 2×).
 * Each step runs its own for loop over PART_MESSAGES messages (one loop per step, so V8 compiles
 * each on its own: one shared loop calling a different closure per step would measure the
 * megamorphic call instead) and returns a sum that its check verifies.
 */
function bestNs<K extends string>(steps: Record<K, Step>): Record<K, number> {
  const best = {} as Record<K, number>;
  for (let round = 0; round < PART_ROUNDS; round++) {
    for (const name of Object.keys(steps) as K[]) {
      const t = performance.now();
      const sum = steps[name].loop(PART_MESSAGES);
      best[name] = Math.min(best[name] ?? Infinity, ((performance.now() - t) * 1e6) / PART_MESSAGES);
      steps[name].check(sum);
    }
  }
  return best;
}

/** PART_ROUNDS rounds' worth of FNV-1a over the W1 keys of messages 0..PART_MESSAGES-1, summed mod 2^32. */
function expectedHashSum(): number {
  let sum = 0;
  for (let round = 0; round < PART_ROUNDS; round++) for (let i = 0; i < PART_MESSAGES; i++) sum = (sum + fnv1a32(W1.key(i))) >>> 0;
  return sum;
}

function parts(): void {
  const seqSum = (PART_MESSAGES * (PART_MESSAGES - 1)) / 2;
  const exactly = (what: string, want: number) => (got: number) => {
    if (got !== want) throw new VerificationError(`send-path ${what}: got ${got}, expected ${want}`);
  };
  // The main thread's codec: records, with a registry of its own; and its general path alone.
  const structures = new SharedStructures();
  const codec = new MessageCodec({ structures, writeRecords: true });
  const general = new MessageCodec({ structures: new SharedStructures(), writeRecords: true, generalOnly: true });
  const ring = new RingBuffer(1 << 20);
  const writer = new RingWriter(ring);
  const reader = new RingReader(ring);
  const frame = new OutboundFrame(KIND_TELL);
  /** The key fields, as the runtime's router fills them (W1 keys are ASCII: codec 0 so far). */
  const routeFrame = (key: string): void => {
    const h = fnv1a32(key);
    frame.key = key;
    frame.keyLength = lastUtf8Length;
    frame.keyHash = h;
    frame.partition = h % 64;
  };
  let framesRead = 0;
  const drainRing = (): void => {
    writer.publish();
    while (reader.next() >= 0) framesRead++;
    reader.release();
  };
  // Each step does the previous ones too: the differences are what each piece adds.
  const buildStep: Step = { loop: (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += W1.message(i).seq;
    return sum;
  }, check: exactly('build', seqSum) };
  let hashSum = 0;
  const hashStep: Step = { loop: (n) => {
    let count = 0;
    for (let i = 0; i < n; i++) {
      hashSum = (hashSum + fnv1a32(W1.message(i).key)) >>> 0; // used, so the hash is not optimized away
      count++;
    }
    return count;
  }, check: exactly('hash', PART_MESSAGES) };
  const scanStep: Step = { loop: (n) => {
    let plainOnes = 0; // messages msgpackr keeps the meaning of: every W1 message
    for (let i = 0; i < n; i++) {
      const m = W1.message(i);
      fnv1a32(m.key);
      if (!scanMessage(m)) plainOnes++;
    }
    return plainOnes;
  }, check: exactly('scan', PART_MESSAGES) };
  // The general path and the runtime's codec in two loops written out, for the reason given at the
  // codec steps below: one loop over both codecs would measure a polymorphic call.
  const generalStep: Step = { loop: (n) => {
    let encoded = 0;
    for (let i = 0; i < n; i++) {
      const m = W1.message(i);
      fnv1a32(m.key);
      general.encode(m);
      if (general.lastEnd > general.lastStart) encoded++;
    }
    return encoded;
  }, check: exactly('encode (general path)', PART_MESSAGES) };
  const encodeStep: Step = { loop: (n) => {
    let encoded = 0;
    for (let i = 0; i < n; i++) {
      const m = W1.message(i);
      fnv1a32(m.key);
      codec.encode(m);
      if (codec.lastEnd > codec.lastStart) encoded++;
    }
    return encoded;
  }, check: exactly('encode', PART_MESSAGES) };
  const writeStep: Step = { loop: (n) => {
    let written = 0;
    for (let i = 0; i < n; i++) {
      const m = W1.message(i);
      routeFrame(m.key);
      const payload = codec.encode(m);
      frame.payload = payload;
      frame.payloadStart = codec.lastStart;
      frame.payloadEnd = codec.lastEnd;
      if (!writeFrame(writer, frame, i)) {
        drainRing();
        if (!writeFrame(writer, frame, i)) throw new VerificationError('send-path write: an empty ring refused a frame');
      }
      if ((i & 31) === 0) writer.publish();
      written++;
    }
    return written;
  }, check: exactly('write', PART_MESSAGES) };
  // What the runtime does for a W1 tell when the ring has room: the shape encoder writes straight
  // into the claimed frame (no encode buffer, no copy).
  const inPlaceStep: Step = { loop: (n) => {
    let written = 0;
    for (let i = 0; i < n; i++) {
      const m = W1.message(i);
      routeFrame(m.key);
      if (!writeFrameEncoding(writer, frame, m, codec, i)) {
        drainRing();
        if (!writeFrameEncoding(writer, frame, m, codec, i)) throw new VerificationError('send-path in place: an empty ring refused a frame');
      }
      if ((i & 31) === 0) writer.publish();
      written++;
    }
    return written;
  }, check: exactly('write in place', PART_MESSAGES) };
  const { build, hash, scan, pack, encode, write, inPlace } = bestNs({ build: buildStep, hash: hashStep, scan: scanStep, pack: generalStep, encode: encodeStep, write: writeStep, inPlace: inPlaceStep });
  if (hashSum !== expectedHashSum()) throw new VerificationError('send-path hash: FNV-1a sums differ between rounds');
  drainRing();
  if (framesRead !== 2 * PART_MESSAGES * PART_ROUNDS) throw new VerificationError(`send-path write: ${framesRead} frames read back, ${2 * PART_MESSAGES * PART_ROUNDS} written`);
  console.log(`1. the send path's pieces, one thread, W1 (best of ${PART_ROUNDS} rounds of ${PART_MESSAGES.toLocaleString('en-US')}; each step includes the ones before):`);
  console.log(`   build ${build.toFixed(0)} ns · + FNV-1a ${(hash - build).toFixed(0)} ns`);
  console.log(`   · the general path: + scan ${(scan - hash).toFixed(0)} ns · + msgpackr pack (records) ${(pack - scan).toFixed(0)} ns`);
  console.log(`   · what the runtime runs for W1, the shape encoder (scan and pack in one walk): + ${(encode - hash).toFixed(0)} ns · + frame write ${(write - encode).toFixed(0)} ns = ${write.toFixed(0)} ns per message`);
  console.log(`   · encoded straight into the ring instead (what a tell with room takes): + ${(inPlace - hash).toFixed(0)} ns = ${inPlace.toFixed(0)} ns per message`);

  // The runtime's two msgpackr codecs: plain maps (what workers and cluster mode send) and
  // records (what the main thread sends), each decoded as a worker decodes it.
  const plain = new MessageCodec();
  const recordsIn = new MessageCodec({ structures: new SharedStructures(structures.sab) });
  const sample = Array.from({ length: 1000 }, (_, i) => W1.message(i));
  const encodeSample = (c: MessageCodec): { bytes: Buffer; codec: number }[] =>
    sample.map((m) => ({ bytes: Buffer.from(c.encode(m).subarray(c.lastStart, c.lastEnd)), codec: c.lastCodec }));
  const plainBytes = encodeSample(plain);
  const recordBytes = encodeSample(codec);
  const sampleSeqs = (PART_MESSAGES / 1000) * ((999 * 1000) / 2);
  // Four loops written out: closures made from one literal would share V8's feedback and code,
  // and measure a polymorphic call instead of each codec.
  const packPlainStep: Step = { loop: (n) => {
    let encoded = 0;
    for (let i = 0; i < n; i++) {
      plain.encode(W1.message(i));
      if (plain.lastEnd > plain.lastStart) encoded++;
    }
    return encoded;
  }, check: exactly('encode plain', PART_MESSAGES) };
  const packRecordsStep: Step = { loop: (n) => {
    let encoded = 0;
    for (let i = 0; i < n; i++) {
      codec.encode(W1.message(i));
      if (codec.lastEnd > codec.lastStart) encoded++;
    }
    return encoded;
  }, check: exactly('encode records', PART_MESSAGES) };
  const unpackPlainStep: Step = { loop: (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const f = plainBytes[i % 1000]!;
      sum += (plain.decode(f.bytes, 0, f.bytes.length, f.codec) as { seq: number }).seq;
    }
    return sum;
  }, check: exactly('decode plain', sampleSeqs) };
  const unpackRecordsStep: Step = { loop: (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const f = recordBytes[i % 1000]!;
      sum += (recordsIn.decode(f.bytes, 0, f.bytes.length, f.codec) as { seq: number }).seq;
    }
    return sum;
  }, check: exactly('decode records', sampleSeqs) };
  const { packPlain, packRecords, unpackPlain, unpackRecords } = bestNs({ packPlain: packPlainStep, packRecords: packRecordsStep, unpackPlain: unpackPlainStep, unpackRecords: unpackRecordsStep });
  const avg = (xs: { bytes: Buffer }[]): string => (xs.reduce((n, f) => n + f.bytes.length, 0) / xs.length).toFixed(1);
  console.log(`   the codec (scan included), plain maps → records (the runtime's): encode ${packPlain.toFixed(0)} → ${packRecords.toFixed(0)} ns, decode ${unpackPlain.toFixed(0)} → ${unpackRecords.toFixed(0)} ns, ${avg(plainBytes)} → ${avg(recordBytes)} bytes per message (messages 0–999)`);
}

async function sendAll(rt: Runtime, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const m = W1.message(i);
    if (!rt.trySend(m.key, m)) await rt.send(m.key, m);
  }
}

async function verified(rt: Runtime, label: string, n: number): Promise<void> {
  await rt.drain();
  verifyW1(label, W1.expected(n), await fetchW1Totals(rt, W1_KEYS, HANG_MS));
}

async function warmUp(runs: number): Promise<void> {
  const warm = await createRuntime({ actor: W1_ACTOR, threads: 1 });
  await sendAll(warm, 0, RUN_MESSAGES);
  await verified(warm, 'send-path warm-up', RUN_MESSAGES);
  await warm.close();
  console.log(`2. a fresh worker warming up: ms per chunk of ${CHUNK.toLocaleString('en-US')} W1 messages (sent and drained), main thread warm, 1 worker:`);
  const firstToLater: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const rt = await createRuntime({ actor: W1_ACTOR, threads: 1 });
    const chunks: number[] = [];
    for (let c = 0; c < CHUNKS; c++) {
      const t = performance.now();
      await sendAll(rt, c * CHUNK, (c + 1) * CHUNK);
      await rt.drain();
      chunks.push(performance.now() - t);
    }
    await verified(rt, 'send-path warm-up', CHUNK * CHUNKS);
    await rt.close();
    const later = median(chunks.slice(2));
    firstToLater.push(chunks[0]! / later);
    console.log(`   run ${run}/${runs}: ${chunks.map((ms) => ms.toFixed(0)).join(' ')} ms — verified`);
  }
  console.log(`   first chunk ÷ median of chunks 3–${CHUNKS}: ${range(firstToLater, (x) => `${x.toFixed(1)}×`)}`);
}

/** Involuntary context switches of this (the main) thread so far, or null where /proc cannot tell. */
function preempted(): number | null {
  if (!existsSync('/proc/thread-self/status')) return null;
  const m = /nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'));
  return m ? Number(m[1]) : null;
}

async function preemption(runs: number): Promise<void> {
  const configs: { label: string; options: Partial<RuntimeOptions> }[] = [
    { label: '1 worker', options: { threads: 1 } },
    { label: '2 workers, workerNice 0', options: { threads: 2, workerNice: 0 } },
    { label: '2 workers, workerNice 5', options: { threads: 2, workerNice: 5 } },
    { label: '2 workers, default workerNice', options: { threads: 2 } },
  ];
  const oversubscribed = 3 > availableParallelism();
  console.log(`3. the main thread preempted: W1, ${RUN_MESSAGES.toLocaleString('en-US')} messages per run, ${runs} runs per configuration, configurations interleaved (${availableParallelism()} cores: 2 workers ${oversubscribed ? 'oversubscribe them, default workerNice 10' : 'do not oversubscribe them, default workerNice 0'}):`);
  const results = configs.map(() => ({ rates: [] as number[], preemptions: [] as number[] }));
  for (let run = 0; run < runs; run++) {
    for (const [c, config] of configs.entries()) {
      const rt = await createRuntime({ actor: W1_ACTOR, ...config.options });
      const before = preempted();
      const t = performance.now();
      await sendAll(rt, 0, RUN_MESSAGES);
      await verified(rt, `send-path ${config.label}`, RUN_MESSAGES);
      const seconds = (performance.now() - t) / 1000;
      const after = preempted();
      await rt.close();
      results[c]!.rates.push(RUN_MESSAGES / seconds);
      if (before !== null && after !== null) results[c]!.preemptions.push(after - before);
    }
  }
  for (const [c, config] of configs.entries()) {
    const { rates, preemptions } = results[c]!;
    const p = preemptions.length > 0 ? `; main thread preempted ${range(preemptions, (x) => x.toFixed(0))} times` : '';
    console.log(`   ${config.label.padEnd(30)} ${range(rates, (x) => `${(x / 1000).toFixed(0)}K`)} msgs/s${p} — verified`);
  }
}

const HOLD_MESSAGES = 400_000;

async function workerCost(runs: number): Promise<void> {
  const rt = await createRuntime({ actor: W1_ACTOR, threads: 1, ringBytes: 64 << 20 });
  const [probe] = probeKeys(rt);
  await sendAll(rt, 0, HOLD_MESSAGES); // warm, both sides
  await rt.drain();
  const perMessage: number[] = [];
  const perTrySend: number[] = [];
  let holdMs = 1500;
  let sent = HOLD_MESSAGES;
  while (perMessage.length < runs) {
    const t = performance.now();
    if (!rt.trySend(probe!, { op: 'hold', ms: holdMs })) throw new VerificationError('send-path worker cost: an empty ring refused the hold');
    for (let i = sent; i < sent + HOLD_MESSAGES; i++) {
      const m = W1.message(i);
      if (!rt.trySend(m.key, m)) throw new VerificationError('send-path worker cost: the 64 MiB ring filled up');
    }
    sent += HOLD_MESSAGES;
    const written = performance.now() - t;
    await rt.drain();
    const drainMs = performance.now() - t - holdMs;
    // The writing must end well inside the hold, or the drain would include waiting for it: on a
    // machine that slow the round is done again with a longer hold.
    if (written > holdMs * 0.8) {
      holdMs = Math.ceil(written * 3);
      continue;
    }
    perMessage.push((drainMs * 1e6) / HOLD_MESSAGES);
    perTrySend.push((written * 1e6) / HOLD_MESSAGES);
  }
  await verified(rt, 'send-path worker cost', sent);
  await rt.close();
  console.log(`4. the worker's own cost (ring filled while it was held, then the drain timed; ${runs} rounds of ${HOLD_MESSAGES.toLocaleString('en-US')}):`);
  console.log(`   ${range(perMessage, (x) => x.toFixed(0))} ns per W1 message — verified`);
  console.log(`   meanwhile the main thread, alone on its core: ${range(perTrySend, (x) => x.toFixed(0))} ns per trySend`);
}

async function main(argv: string[]): Promise<void> {
  let runs = 3;
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] !== '--runs') throw new UsageError(`bench:send-path takes --runs R only, got ${argv[i]}`);
    runs = Number(argv[i + 1]);
    if (!Number.isSafeInteger(runs) || runs < 1) throw new UsageError('--runs must be a positive integer');
  }
  console.log(`ringmaster send path — W1, Node ${process.version}, ${availableParallelism()} cores`);
  parts();
  await warmUp(runs);
  await preemption(runs);
  await workerCost(runs);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`bench:send-path: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
