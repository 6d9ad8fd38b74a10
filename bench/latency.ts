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
 * - ringmaster sink: trySend each due message, `await rt.send` when the ring is full.
 *   batched-postMessage sink: the due window goes out as one postMessage (split into arrays of at
 *   most BATCH), through the same ack-window flow control as the throughput peer. So batching is
 *   "whatever is due at this tick": at these rates that is usually one message per tick, and
 *   after a stall a larger batch — the fair equivalent of ringmaster publishing what is due.
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
import { fetchW1Totals, probeKeys } from './ringmaster-threads.js';
import { expectedW1, VerificationError, verifyW1, type W1Totals } from './w1.js';
import type { PmLatencyIn } from './workers/postmessage-latency.js';

const LATENCY_ACTOR = new URL('./actors/latency-actor.js', import.meta.url);
const PM_LATENCY_WORKER = new URL('./workers/postmessage-latency.js', import.meta.url);
/** Longest stretch the pacer busy-waits before giving the event loop a turn. */
const YIELD_NS = 1e6;
const HANG_MS = 120_000;

export type LatencyPeerName = 'ringmaster-1t' | 'postmessage-batched';

export interface LatencyOptions {
  /** Offered rate, messages per second. */
  rate: number;
  /** Seconds of recorded traffic. */
  seconds: number;
  /** Seconds of warm-up traffic before it (delivered, not recorded). */
  warmSeconds: number;
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
  peer: LatencyPeerName;
  rate: number;
  messages: number;
  summary: LatencySummary;
  /** The merged histogram (compressed base64), for merging over runs. */
  encoded: string;
  pacer: PacerStats;
  wasm: boolean;
}

/** Sends messages [from, to); returns a promise only when it had to wait. */
type Sink = (from: number, to: number) => Promise<void> | undefined;

/** The open-loop pacer (see the module comment). `message(j)` builds message j with its intended time. */
async function pace(total: number, warm: number, rate: number, sink: (startNs: number) => Sink): Promise<PacerStats> {
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

function counts(o: LatencyOptions): { total: number; warm: number } {
  const warm = Math.round(o.rate * o.warmSeconds);
  return { warm, total: warm + Math.round(o.rate * o.seconds) };
}

function checkSnapshots(label: string, snapshots: RecorderSnapshot[], recordedWanted: number, warmWanted: number): void {
  const recorded = snapshots.reduce((n, s) => n + s.recorded, 0);
  const warm = snapshots.reduce((n, s) => n + s.warm, 0);
  const early = snapshots.reduce((n, s) => n + s.early, 0);
  if (recorded !== recordedWanted || warm !== warmWanted || early !== 0) {
    throw new VerificationError(
      `${label}: recorded ${recorded}/${recordedWanted} latencies, ${warm}/${warmWanted} warm-up, ${early} received before their send time`,
    );
  }
}

function result(peer: LatencyPeerName, o: LatencyOptions, total: number, snapshots: RecorderSnapshot[], pacer: PacerStats): LatencyRun {
  const merged = mergeEncoded(snapshots.map((s) => s.encoded));
  return {
    peer,
    rate: o.rate,
    messages: total,
    summary: merged.summary,
    encoded: merged.encoded,
    pacer,
    wasm: snapshots.every((s) => s.wasm),
  };
}

/** ringmaster, 1 worker thread, default options. */
export async function ringmasterLatency(o: LatencyOptions): Promise<LatencyRun> {
  const threads = 1;
  const label = `latency ringmaster-1t @${o.rate}/s`;
  const { total, warm } = counts(o);
  const rt: Runtime = await createRuntime({ actor: LATENCY_ACTOR, threads });
  let closeable = true;
  try {
    const sink = (startNs: number): Sink => {
      const intervalNs = 1e9 / o.rate;
      const message = (j: number): LatencyMessage => makeLatencyMessage(j, startNs + j * intervalNs, j < warm);
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
    const pacer = await pace(total, warm, o.rate, sink);
    closeable = false;
    await withTimeout(rt.drain(), HANG_MS, `${label} drain`);
    const totals = await fetchW1Totals(rt, HANG_MS);
    const snapshots = await Promise.all(probeKeys(rt).map((key) => rt.ask<RecorderSnapshot>(key, { op: 'histogram' }, { timeoutMs: HANG_MS })));
    closeable = true;
    verifyW1(label, expectedW1(total), totals);
    checkSnapshots(label, snapshots, total - warm, warm);
    return result('ringmaster-1t', o, total, snapshots, pacer);
  } finally {
    if (closeable) await withTimeout(rt.close(), HANG_MS, `${label} close`);
  }
}

/** Raw postMessage to one worker, the due window batched (arrays of at most BATCH). */
export async function postMessageBatchedLatency(o: LatencyOptions): Promise<LatencyRun> {
  const label = `latency postmessage-batched @${o.rate}/s`;
  const { total, warm } = counts(o);
  const channel = new PmChannel<PmLatencyIn>(PM_LATENCY_WORKER, label);
  try {
    await withTimeout(channel.ready(), HANG_MS, `${label} start`);
    const sink = (startNs: number): Sink => {
      const intervalNs = 1e9 / o.rate;
      const batchOf = (from: number, to: number): LatencyMessage[] => {
        const msgs = new Array<LatencyMessage>(to - from);
        for (let j = from; j < to; j++) msgs[j - from] = makeLatencyMessage(j, startNs + j * intervalNs, j < warm);
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
    const pacer = await pace(total, warm, o.rate, sink);
    const totals = await withTimeout(channel.request<W1Totals>({ op: 'totals' }), HANG_MS, `${label} totals`);
    const snapshot = await withTimeout(channel.request<RecorderSnapshot>({ op: 'histogram' }), HANG_MS, `${label} histogram`);
    verifyW1(label, expectedW1(total), totals);
    checkSnapshots(label, [snapshot], total - warm, warm);
    return result('postmessage-batched', o, total, [snapshot], pacer);
  } finally {
    await channel.terminate();
  }
}
