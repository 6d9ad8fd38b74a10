/**
 * Latency at a fixed offered rate, open loop, with coordinated-omission correction.
 *
 * Method (the same for every peer):
 * - Message j has an intended send time start + j / rate. The pacer, on the main thread, loops:
 *   read the clock, and hand the sink every message whose intended time has come (a window
 *   [next, due)). Between windows it busy-waits, but gives the event loop a turn (setImmediate)
 *   every YIELD_NS so acks, replies and `send` waits progress.
 * - Each message carries its intended send time; the receiving thread reads the same monotonic
 *   clock first thing when the message reaches the actor logic (ringmaster: start of `receive`;
 *   postMessage: start of the per-message loop body) and records receive − intended. Measuring
 *   from the intended time, not the actual send, is the coordinated-omission correction: when the
 *   producer stalls (ring full, ack window closed, event-loop turn, GC), the messages that should
 *   have gone out meanwhile are sent late in a burst and their wait counts as latency.
 * - Besides that latency, the receiving side records each message's service time (the actor
 *   logic's own run time), so a user can tell queueing from work.
 * - ringmaster sink: trySend each due message, `await rt.send` when the ring is full.
 *   batched-postMessage sink: the due window goes out as one postMessage (split into arrays of at
 *   most BATCH), through the same ack-window flow control as the throughput peer. So batching is
 *   "whatever is due at this tick": at these rates that is usually one message per tick, and
 *   after a stall a larger batch — the fair equivalent of ringmaster publishing what is due.
 *   piscina sink: one `pool.run` per message, at most MAX_IN_FLIGHT unfinished.
 * - The first WARM-UP seconds of messages are delivered but not recorded. Every run is verified
 *   with the exact W1 check (all messages, warm-up included) and the recorded count.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createRuntime, type Runtime } from '../index.js';
import { mergeEncoded, type LatencySummary, type RecorderSnapshot } from './histogram.js';
import { makeLatencyMessage, nowNs, type LatencyMessage } from './latency-message.js';
import { withTimeout } from './peer.js';
import { BATCH } from './peers/postmessage.js';
import { PmChannel } from './peers/postmessage-channel.js';
import { MAX_IN_FLIGHT_TASKS as MAX_IN_FLIGHT, reorderNote, startPool } from './peers/piscina.js';
import { TaskWindow } from './peers/task-window.js';
import { describeConfig, ringmasterName, type RingmasterConfig } from './peers/ringmaster.js';
import { fetchW1Totals, probeKeys } from './ringmaster-threads.js';
import { VerificationError, verifyW1, type W1Totals, type W1Workload } from './w1.js';
import type { PiscinaLatencyTask } from './workers/piscina-latency.js';
import type { PmLatencyIn } from './workers/postmessage-latency.js';

const LATENCY_ACTOR = new URL('./actors/latency-actor.js', import.meta.url);
const PM_LATENCY_WORKER = new URL('./workers/postmessage-latency.js', import.meta.url);
const PISCINA_LATENCY_WORKER = new URL('./workers/piscina-latency.js', import.meta.url);
/** Longest stretch the pacer busy-waits before giving the event loop a turn. */
const YIELD_NS = 1e6;
const HANG_MS = 120_000;

export interface LatencyOptions {
  /** Offered rate, messages per second. */
  rate: number;
  /** Seconds of recorded traffic. */
  seconds: number;
  /** Seconds of warm-up traffic before it (delivered, not recorded). */
  warmSeconds: number;
  workload: W1Workload;
}

export interface PacerStats {
  /** Largest window handed to the sink at once (recorded part of the run, warm-up excluded). */
  maxBurst: number;
  /** Largest delay between a message's intended time and the pacer reaching it, µs (warm-up excluded). */
  maxBehindUs: number;
  /** Achieved send rate over the whole run, messages/s. */
  achievedRate: number;
}

export interface LatencyRun {
  peer: string;
  rate: number;
  messages: number;
  /** Intended send → receive start. */
  summary: LatencySummary;
  /** That histogram (compressed base64), for merging over runs. */
  encoded: string;
  /** Receive start → end. */
  service: LatencySummary;
  serviceEncoded: string;
  pacer: PacerStats;
  wasm: boolean;
  /** As PeerRun.note. */
  note?: string;
}

/** A peer that can be measured at a fixed offered rate. */
export interface LatencyPeer {
  name: string;
  describe: string;
  run(o: LatencyOptions): Promise<LatencyRun>;
}

/** Sends messages [from, to); returns a promise only when it had to wait. */
export type Sink = (from: number, to: number) => Promise<void> | undefined;

/** The open-loop pacer (see the module comment). */
export async function paceOpenLoop(total: number, warm: number, rate: number, sink: (startNs: number) => Sink): Promise<PacerStats> {
  const intervalNs = 1e9 / rate;
  const startNs = nowNs() + 1e6; // first message 1 ms from now
  const send = sink(startNs);
  let next = 0;
  let maxBurst = 0;
  let maxBehindNs = 0;
  let lastYield = nowNs();
  while (next < total) {
    const now = nowNs();
    const elapsed = now - startNs;
    if (elapsed >= next * intervalNs) {
      const due = Math.min(total, Math.floor(elapsed / intervalNs) + 1);
      if (next >= warm) {
        maxBurst = Math.max(maxBurst, due - next);
        maxBehindNs = Math.max(maxBehindNs, elapsed - next * intervalNs);
      }
      const waiting = send(next, due);
      next = due;
      if (waiting) await waiting;
    }
    if (now - lastYield >= YIELD_NS) {
      await yieldToLoop();
      lastYield = nowNs();
    }
  }
  const seconds = (nowNs() - startNs) / 1e9;
  return { maxBurst, maxBehindUs: Math.round(maxBehindNs / 1e3), achievedRate: Math.round(total / seconds) };
}

/** Messages of a latency point: warm-up ones first, then the recorded ones. */
export function latencyCounts(o: LatencyOptions): { total: number; warm: number } {
  const warm = Math.round(o.rate * o.warmSeconds);
  return { warm, total: warm + Math.max(1, Math.round(o.rate * o.seconds)) };
}

export function checkSnapshots(label: string, snapshots: RecorderSnapshot[], recordedWanted: number, warmWanted: number): void {
  const recorded = snapshots.reduce((n, s) => n + s.recorded, 0);
  const warm = snapshots.reduce((n, s) => n + s.warm, 0);
  const early = snapshots.reduce((n, s) => n + s.early, 0);
  if (recorded !== recordedWanted || warm !== warmWanted || early !== 0) {
    throw new VerificationError(
      `${label}: recorded ${recorded}/${recordedWanted} latencies, ${warm}/${warmWanted} warm-up, ${early} received before their send time`,
    );
  }
}

/** A latency point's result from the receiving threads' recorder snapshots. */
export function latencyResult(peer: string, o: LatencyOptions, total: number, snapshots: RecorderSnapshot[], pacer: PacerStats): LatencyRun {
  const merged = mergeEncoded(snapshots.map((s) => s.encoded));
  const service = mergeEncoded(snapshots.map((s) => s.serviceEncoded));
  return {
    peer,
    rate: o.rate,
    messages: total,
    summary: merged.summary,
    encoded: merged.encoded,
    service: service.summary,
    serviceEncoded: service.encoded,
    pacer,
    wasm: snapshots.every((s) => s.wasm),
  };
}

/** ringmaster with the given configuration. */
export function ringmasterLatencyPeer(config: RingmasterConfig): LatencyPeer {
  const name = ringmasterName(config);
  async function run(o: LatencyOptions): Promise<LatencyRun> {
    const label = `latency ${name} @${o.rate}/s`;
    const { total, warm } = latencyCounts(o);
    const { threads, partitions, mapping } = config;
    const rt: Runtime = await createRuntime({ actor: LATENCY_ACTOR, threads, partitions, mapping });
    let closeable = true;
    try {
      const sink = (startNs: number): Sink => {
        const intervalNs = 1e9 / o.rate;
        const message = (j: number): LatencyMessage => makeLatencyMessage(o.workload, j, startNs + j * intervalNs, j < warm);
        // Slow path: the ring was full at message j; wait for room for each remaining one in turn.
        const rest = async (j: number, msg: LatencyMessage, to: number): Promise<void> => {
          await rt.send(msg.key, msg);
          for (let i = j + 1; i < to; i++) {
            const m = message(i);
            if (!rt.trySend(m.key, m)) await rt.send(m.key, m);
          }
        };
        return (from, to) => {
          for (let j = from; j < to; j++) {
            const msg = message(j);
            if (!rt.trySend(msg.key, msg)) return rest(j, msg, to);
          }
          return undefined;
        };
      };
      const pacer = await paceOpenLoop(total, warm, o.rate, sink);
      closeable = false;
      await withTimeout(rt.drain(), HANG_MS, `${label} drain`);
      const totals = await fetchW1Totals(rt, o.workload.keys, HANG_MS);
      const snapshots = await Promise.all(probeKeys(rt).map((key) => rt.ask<RecorderSnapshot>(key, { op: 'histogram' }, { timeoutMs: HANG_MS })));
      closeable = true;
      verifyW1(label, o.workload.expected(total), totals);
      checkSnapshots(label, snapshots, total - warm, warm);
      return latencyResult(name, o, total, snapshots, pacer);
    } finally {
      if (closeable) await withTimeout(rt.close(), HANG_MS, `${label} close`);
    }
  }
  return { name, describe: `ringmaster runtime, ${describeConfig(config)}`, run };
}

/** Raw postMessage to one worker, the due window batched (arrays of at most BATCH). */
export const postMessageBatchedLatencyPeer: LatencyPeer = {
  name: 'postmessage-batched',
  describe: `raw postMessage, the due messages in arrays of at most ${BATCH}, 1 worker, ack window`,
  async run(o: LatencyOptions): Promise<LatencyRun> {
    const label = `latency postmessage-batched @${o.rate}/s`;
    const { total, warm } = latencyCounts(o);
    const channel = new PmChannel<PmLatencyIn>(PM_LATENCY_WORKER, label);
    try {
      await withTimeout(channel.ready(), HANG_MS, `${label} start`);
      const sink = (startNs: number): Sink => {
        const intervalNs = 1e9 / o.rate;
        const batchOf = (from: number, to: number): LatencyMessage[] => {
          const msgs = new Array<LatencyMessage>(to - from);
          for (let j = from; j < to; j++) msgs[j - from] = makeLatencyMessage(o.workload, j, startNs + j * intervalNs, j < warm);
          return msgs;
        };
        const rest = async (waiting: Promise<void>, from: number, to: number): Promise<void> => {
          await waiting;
          for (let i = from; i < to; i += BATCH) {
            const end = Math.min(to, i + BATCH);
            await channel.post(batchOf(i, end), end - i);
          }
        };
        return (from, to) => {
          for (let i = from; i < to; i += BATCH) {
            const end = Math.min(to, i + BATCH);
            const waiting = channel.post(batchOf(i, end), end - i);
            if (waiting) return rest(waiting, end, to);
          }
          return undefined;
        };
      };
      const pacer = await paceOpenLoop(total, warm, o.rate, sink);
      const totals = await withTimeout(channel.request<W1Totals>({ op: 'totals', from: 0, to: o.workload.keys }), HANG_MS, `${label} totals`);
      const snapshot = await withTimeout(channel.request<RecorderSnapshot>({ op: 'histogram' }), HANG_MS, `${label} histogram`);
      verifyW1(label, o.workload.expected(total), totals);
      checkSnapshots(label, [snapshot], total - warm, warm);
      return latencyResult('postmessage-batched', o, total, [snapshot], pacer);
    } finally {
      await channel.terminate();
    }
  },
};

/** piscina, one task per message, one thread. */
export const piscinaLatencyPeer: LatencyPeer = {
  name: 'piscina',
  describe: `piscina, one task per message, maxThreads 1, ≤${MAX_IN_FLIGHT} tasks in flight`,
  async run(o: LatencyOptions): Promise<LatencyRun> {
    const label = `latency piscina @${o.rate}/s`;
    const { total, warm } = latencyCounts(o);
    const pool = await startPool<PiscinaLatencyTask, W1Totals | RecorderSnapshot | undefined>(PISCINA_LATENCY_WORKER);
    try {
      const window = new TaskWindow(MAX_IN_FLIGHT, MAX_IN_FLIGHT - 1, label);
      const sink = (startNs: number): Sink => {
        const intervalNs = 1e9 / o.rate;
        const submit = (j: number): void => window.track(pool.run(makeLatencyMessage(o.workload, j, startNs + j * intervalNs, j < warm)));
        const rest = async (from: number, to: number): Promise<void> => {
          for (let j = from; j < to; j++) {
            await window.room();
            submit(j);
          }
        };
        return (from, to) => {
          for (let j = from; j < to; j++) {
            if (window.full) return rest(j, to);
            submit(j);
          }
          return undefined;
        };
      };
      const pacer = await paceOpenLoop(total, warm, o.rate, sink);
      await window.drained();
      const totals = (await pool.run({ op: 'totals', from: 0, to: o.workload.keys })) as W1Totals;
      const snapshot = (await pool.run({ op: 'histogram' })) as RecorderSnapshot;
      verifyW1(label, o.workload.expected(total), totals, { order: false }); // piscina does not keep order
      checkSnapshots(label, [snapshot], total - warm, warm);
      const run = latencyResult('piscina', o, total, [snapshot], pacer);
      return totals.outOfOrder > 0 ? { ...run, note: reorderNote(totals.outOfOrder, total) } : run;
    } finally {
      await pool.destroy();
    }
  },
};
