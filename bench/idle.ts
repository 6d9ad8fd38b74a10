/**
 * Idle CPU: once traffic stops, how much CPU does the whole process burn? process.cpuUsage() is
 * getrusage(RUSAGE_SELF), so it covers every thread (main and workers). Reported as % of one core
 * over the measuring window. The measurement starts right after the last message was verified,
 * so it includes the workers' spin-then-park and any periodic wake-ups.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createRuntime } from '../index.js';
import { withTimeout } from './peer.js';
import { W1_ACTOR } from './peers/ringmaster.js';
import { fetchW1Totals, probeKeys } from './ringmaster-threads.js';
import { mergeEncoded, type LatencySummary, type RecorderSnapshot } from './histogram.js';
import { checkSnapshots } from './latency.js';
import { makeLatencyMessage, nowNs } from './latency-message.js';
import { verifyW1, type W1Workload } from './w1.js';

const HANG_MS = 120_000;
const LATENCY_ACTOR = new URL('./actors/latency-actor.js', import.meta.url);

/** % of one core used by the whole process over the next `ms`. */
export async function processCpuPercent(ms: number): Promise<number> {
  const before = process.cpuUsage();
  const start = process.hrtime.bigint();
  await sleep(ms);
  const used = process.cpuUsage(before);
  const wallUs = Number(process.hrtime.bigint() - start) / 1e3;
  return Math.round(((used.user + used.system) / wallUs) * 1000) / 10;
}

/** A ringmaster runtime after a burst of W1 traffic (verified): process CPU over `ms` of silence. */
export async function ringmasterIdleCpu(threads: number, workload: W1Workload, messages: number, ms: number): Promise<number> {
  const rt = await createRuntime({ actor: W1_ACTOR, threads });
  try {
    for (let i = 0; i < messages; i++) {
      const msg = workload.message(i);
      if (!rt.trySend(msg.key, msg)) await rt.send(msg.key, msg);
    }
    await withTimeout(rt.drain(), HANG_MS, `idle ringmaster-${threads}t drain`);
    verifyW1(`idle ringmaster-${threads}t`, workload.expected(messages), await fetchW1Totals(rt, workload.keys, HANG_MS));
    return await processCpuPercent(ms);
  } finally {
    await withTimeout(rt.close(), HANG_MS, `idle ringmaster-${threads}t close`);
  }
}

/**
 * Wake-up latency of an idle runtime: `count` messages, one every `gapMs` (a timer, so the worker
 * parks in between), each timed from its send to the start of its receive (the latency actor).
 * Measures the park → notify → run path, which a busy stream never takes.
 */
export async function ringmasterWakeUpLatency(threads: number, workload: W1Workload, count: number, gapMs: number): Promise<LatencySummary> {
  const rt = await createRuntime({ actor: LATENCY_ACTOR, threads });
  try {
    const warm = Math.min(10, Math.floor(count / 10));
    for (let i = 0; i < count; i++) {
      await sleep(gapMs);
      const msg = makeLatencyMessage(workload, i, nowNs(), i < warm);
      if (!rt.trySend(msg.key, msg)) await rt.send(msg.key, msg);
    }
    await withTimeout(rt.drain(), HANG_MS, `wake-up ringmaster-${threads}t drain`);
    verifyW1(`wake-up ringmaster-${threads}t`, workload.expected(count), await fetchW1Totals(rt, workload.keys, HANG_MS));
    const snapshots = await Promise.all(probeKeys(rt).map((key) => rt.ask<RecorderSnapshot>(key, { op: 'histogram' }, { timeoutMs: HANG_MS })));
    checkSnapshots(`wake-up ringmaster-${threads}t`, snapshots, count - warm, warm);
    return mergeEncoded(snapshots.map((s) => s.encoded)).summary;
  } finally {
    await withTimeout(rt.close(), HANG_MS, `wake-up ringmaster-${threads}t close`);
  }
}
