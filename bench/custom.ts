/**
 * `ringmaster bench --actor <module> --factory <module>`: the user's own actor, fed by the user's
 * message factory (default export `(i) => ({ key, msg })`). Throughput runs the actor as it is;
 * the latency phase wraps it (actors/instrumented.ts) to time each receive. Verification is what
 * a generic actor allows: every message sent was processed, none failed.
 */
import { createRuntime, type Key, type Runtime } from '../index.js';
import type { RecorderSnapshot } from './histogram.js';
import { BENCH_ACTOR_ENV, type BenchEnvelope, type InstrumentedMsg } from './latency-message.js';
import { secondsSince, withTimeout, type Peer, type PeerRun, type ThroughputPlan } from './peer.js';
import { ringmasterName, describeConfig, type RingmasterConfig } from './peers/ringmaster.js';
import type { LatencyOptions, LatencyPeer, LatencyRun } from './latency.js';
import { checkSnapshots, latencyCounts, latencyResult, paceOpenLoop } from './latency.js';
import { probeKeys } from './ringmaster-threads.js';
import { UsageError, type CustomActor } from './args.js';
import { VerificationError } from './w1.js';

const INSTRUMENTED = new URL('./actors/instrumented.js', import.meta.url);
const HANG_MS = 120_000;

export type MessageFactory = (i: number) => { key: Key; msg: unknown };

/** Loads and checks the factory module (a bad one is a usage error: exit code 2). */
export async function loadFactory(url: string): Promise<MessageFactory> {
  let factory: unknown;
  try {
    factory = ((await import(url)) as { default?: unknown }).default;
  } catch (error) {
    throw new UsageError(`--factory: cannot load ${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof factory !== 'function') throw new UsageError(`--factory: ${url} must default-export a function (i) => ({ key, msg })`);
  const first = (factory as MessageFactory)(0);
  if (first === null || typeof first !== 'object' || !('key' in first) || !('msg' in first)) {
    throw new UsageError(`--factory: ${url}: factory(0) must return { key, msg }`);
  }
  return factory as MessageFactory;
}

/** After `total` sends: every one processed, none failed. */
async function verifyCounts(rt: Runtime, label: string, failed: () => number, total: number): Promise<void> {
  await withTimeout(rt.drain(), HANG_MS, `${label} drain`);
  const stats = rt.stats();
  if (stats.sent !== total) throw new VerificationError(`${label}: ${stats.sent} sent, ${total} expected`);
  if (failed() !== 0 || stats.failed !== 0) throw new VerificationError(`${label}: ${Math.max(failed(), stats.failed)} receives failed`);
  if (stats.processed !== stats.sent) throw new VerificationError(`${label}: ${stats.sent} sent, ${stats.processed} processed`);
}

export function customPeer(custom: CustomActor, factory: MessageFactory, config: RingmasterConfig): Peer {
  const name = ringmasterName(config);
  async function run({ warmup, messages }: ThroughputPlan): Promise<PeerRun> {
    const { threads, partitions, mapping } = config;
    const rt = await createRuntime({ actor: custom.actor, threads, partitions, mapping });
    let failures = 0;
    rt.on('actorError', () => failures++);
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        const { key, msg } = factory(i);
        if (!rt.trySend(key, msg)) await rt.send(key, msg);
      }
    };
    try {
      await send(0, warmup);
      await withTimeout(rt.drain(), HANG_MS, `${name} warm-up drain`);
      const start = process.hrtime.bigint();
      await send(warmup, warmup + messages);
      await verifyCounts(rt, name, () => failures, warmup + messages);
      return { messages, seconds: secondsSince(start) };
    } finally {
      await withTimeout(rt.close(), HANG_MS, `${name} close`);
    }
  }
  return { name, describe: `your actor (${custom.actor}) on ringmaster, ${describeConfig(config)}`, run };
}

export function customLatencyPeer(custom: CustomActor, factory: MessageFactory, config: RingmasterConfig): LatencyPeer {
  const name = ringmasterName(config);
  async function run(o: LatencyOptions): Promise<LatencyRun> {
    const label = `latency ${name} @${o.rate}/s`;
    const { total, warm } = latencyCounts(o);
    const { threads, partitions, mapping } = config;
    process.env[BENCH_ACTOR_ENV] = custom.actor; // read by the wrapper in every worker thread
    const rt = await createRuntime({ actor: INSTRUMENTED, threads, partitions, mapping });
    let failures = 0;
    rt.on('actorError', () => failures++);
    try {
      const pacer = await paceOpenLoop(total, warm, o.rate, (startNs) => {
        const intervalNs = 1e9 / o.rate;
        const send = async (j: number, to: number): Promise<void> => {
          for (let i = j; i < to; i++) {
            const { key, msg } = factory(i);
            const envelope: BenchEnvelope = { t: startNs + i * intervalNs, w: i < warm ? 1 : 0, m: msg };
            if (!rt.trySend(key, envelope)) await rt.send(key, envelope);
          }
        };
        return (from, to) => {
          for (let i = from; i < to; i++) {
            const { key, msg } = factory(i);
            const envelope: BenchEnvelope = { t: startNs + i * intervalNs, w: i < warm ? 1 : 0, m: msg };
            if (!rt.trySend(key, envelope)) return rt.send(key, envelope).then(() => send(i + 1, to));
          }
          return undefined;
        };
      });
      await verifyCounts(rt, label, () => failures, total);
      const control: InstrumentedMsg = { benchControl: 'histogram' };
      const snapshots = await Promise.all(probeKeys(rt).map((key) => rt.ask<RecorderSnapshot>(key, control, { timeoutMs: HANG_MS })));
      checkSnapshots(label, snapshots, total - warm, warm);
      return latencyResult(name, o, total, snapshots, pacer);
    } finally {
      await withTimeout(rt.close(), HANG_MS, `${label} close`);
    }
  }
  return { name, describe: `your actor on ringmaster, ${describeConfig(config)}`, run };
}
