/**
 * Echo worker for the wake-up round trip of bench/micro.ts: reads 4-byte frames from one ring and
 * writes each one back on a second ring. When the inbound ring is dry it spins `control[SPIN]`
 * loads (0: none) and then parks in Atomics.wait, so every round trip measures
 * park → notify → run on this side. A 0-byte frame stops it; the thread then exits by itself.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { readU32, writeU32 } from '../runtime/frame.js';
import { RingBuffer, RingReader, RingWriter } from '../shm/ring.js';
import { parkSync, spinForData } from '../shm/wait.js';

/**
 * Indices into the shared control words (Int32Array over `control`). The worker counts each frame
 * once, by how it last waited before the frame was there.
 */
export const CTL_SPIN = 0;
/** next() found the frame straight after the previous echo: no spin, no park. */
export const CTL_AT_ONCE = 1;
/** spinForData found the frame before parking. */
export const CTL_SPUN = 2;
/** prepareToPark found the frame already there: no wait. */
export const CTL_PARK_DATA = 3;
/** Atomics.wait returned because the producer notified. */
export const CTL_PARK_WOKEN = 4;
/** Park timeouts (idle time, not frames). */
export const CTL_PARK_TIMED_OUT = 5;
export const CTL_WORDS = 8;

export interface MicroWorkerData {
  readonly toWorker: SharedArrayBuffer;
  readonly toMain: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

/** Long enough to be rare, short enough that a lost notify would show as a timeout count. */
const PARK_TIMEOUT_MS = 1000;

function run(data: MicroWorkerData): void {
  const reader = new RingReader(new RingBuffer(data.toWorker));
  const writer = new RingWriter(new RingBuffer(data.toMain));
  const control = new Int32Array(data.control);
  const inBytes = reader.ring.bytes;
  const outBytes = writer.ring.bytes;
  let how = CTL_AT_ONCE;
  for (;;) {
    const at = reader.next();
    if (at < 0) {
      const spin = Atomics.load(control, CTL_SPIN);
      if (spin > 0 && spinForData(reader, spin)) {
        how = CTL_SPUN;
        continue;
      }
      const outcome = parkSync(reader, PARK_TIMEOUT_MS);
      if (outcome === 'timed-out') Atomics.add(control, CTL_PARK_TIMED_OUT, 1);
      else how = outcome === 'data' ? CTL_PARK_DATA : CTL_PARK_WOKEN;
      continue;
    }
    if (reader.frameLength === 0) {
      reader.release();
      return;
    }
    const seq = readU32(inBytes, at);
    reader.release();
    // The main thread waits for each echo before sending again, so the reply ring is never full.
    const out = writer.tryClaim(4);
    if (out < 0) throw new Error('micro-worker: reply ring full (the main thread sent without waiting)');
    writeU32(outBytes, out, seq);
    writer.publish();
    // Counted after the echo is out, so the count is not part of the measured wake-up.
    Atomics.add(control, how, 1);
    how = CTL_AT_ONCE;
  }
}

// Only in a worker: micro.ts imports the control-word layout from this module.
if (!isMainThread) run(workerData as MicroWorkerData);
