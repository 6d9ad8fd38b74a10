/**
 * Latency histograms (hdr-histogram-js), the same way in every thread: WebAssembly mode when it
 * initialises (it does in worker threads too), else the JS implementation. Values are
 * nanoseconds; summaries are microseconds. Threads hand their histograms over as compressed
 * base64 strings (encodeIntoCompressedBase64), merged on the main thread with `add`.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, initWebAssembly, type Histogram } from 'hdr-histogram-js';

let wasm = false;
let initialised = false;

/** Call once per thread before building histograms; resolves true when WebAssembly mode is on. */
export async function initHistograms(): Promise<boolean> {
  if (!initialised) {
    initialised = true;
    try {
      await initWebAssembly();
      wasm = true;
    } catch {
      wasm = false;
    }
  }
  return wasm;
}

export function histogramsUseWasm(): boolean {
  return wasm;
}

export function newHistogram(): Histogram {
  return build({
    useWebAssembly: wasm,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60e9, // 60 s in ns (auto-resizes beyond)
    numberOfSignificantValueDigits: 3,
  });
}

export interface LatencySummary {
  count: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  p9999Us: number;
  maxUs: number;
  meanUs: number;
}

export function summarize(h: Histogram): LatencySummary {
  const us = (ns: number): number => Math.round(ns / 10) / 100; // µs with 2 decimals
  return {
    count: h.totalCount,
    p50Us: us(h.getValueAtPercentile(50)),
    p90Us: us(h.getValueAtPercentile(90)),
    p99Us: us(h.getValueAtPercentile(99)),
    p999Us: us(h.getValueAtPercentile(99.9)),
    p9999Us: us(h.getValueAtPercentile(99.99)),
    maxUs: us(h.maxValue),
    meanUs: us(h.mean),
  };
}

/** Merges compressed histograms (from threads or runs) and summarises them. */
export function mergeEncoded(encoded: readonly string[]): { summary: LatencySummary; encoded: string } {
  const total = newHistogram();
  for (const e of encoded) {
    const h = decodeFromCompressedBase64(e, 32, wasm);
    total.add(h);
    h.destroy();
  }
  const result = { summary: summarize(total), encoded: encodeIntoCompressedBase64(total) };
  total.destroy();
  return result;
}

/** What a thread reports about the latencies it recorded. */
export interface RecorderSnapshot {
  /** send (intended) → receive start, ns. */
  encoded: string;
  /** receive start → receive end (service time), ns. */
  serviceEncoded: string;
  recorded: number;
  /** Warm-up messages seen (not recorded). */
  warm: number;
  /** Messages received before their intended send time (clock trouble; must be 0). */
  early: number;
  wasm: boolean;
}

/** One thread's recorder: latency = receive time − intended send time, both hrtime ns. */
export class LatencyRecorder {
  private readonly histogram = newHistogram();
  private readonly service = newHistogram();
  private recorded = 0;
  private warm = 0;
  private early = 0;

  record(nowNs: number, intendedNs: number, warmUp: number): void {
    if (warmUp !== 0) {
      this.warm++;
      return;
    }
    const latency = nowNs - intendedNs;
    if (latency < 0) {
      this.early++;
      return;
    }
    this.histogram.recordValue(latency);
    this.recorded++;
  }

  /** Service time of a recorded (non-warm-up) message. */
  recordService(ns: number, warmUp: number): void {
    if (warmUp === 0) this.service.recordValue(ns > 0 ? ns : 0);
  }

  snapshot(): RecorderSnapshot {
    return {
      encoded: encodeIntoCompressedBase64(this.histogram),
      serviceEncoded: encodeIntoCompressedBase64(this.service),
      recorded: this.recorded,
      warm: this.warm,
      early: this.early,
      wasm,
    };
  }
}
