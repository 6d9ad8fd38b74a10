/**
 * The control plane: each worker exposes a small API over its own MessageChannel with comlink,
 * off the hot path (hand-off steps, snapshots, broadcasts). Pausing a partition is main-side
 * (its messages wait on the main thread): a worker holding them would hold their ring space,
 * and with it every other partition of its thread.
 *
 * A worker runs control calls on its event loop, which it may not turn for up to idleTurnMs while
 * parked on its ring: every call from the main thread also raises the ring's alert (see
 * RingBuffer.alert), so the worker yields to its event loop at once when parked, and after the
 * message in hand when busy.
 */
import * as Comlink from 'comlink';
import adapter from 'comlink/dist/umd/node-adapter.js';
import type { MessagePort } from 'node:worker_threads';
import type { RingBuffer } from '../shm/ring.js';

/** What a worker reports of itself. */
export interface WorkerSnapshot {
  thread: number;
  /** Keys with an actor (state) on this thread, per actor kind. */
  actors: Record<string, number>;
  /** Deliveries started and not finished (async receives and messages queued behind them). */
  inFlight: number;
  /** Keys passivated since the worker started. */
  passivated: number;
  /** Actor-to-actor messages waiting in this worker's memory for outbox ring space. */
  outboxOverflow: number;
  heapUsedBytes: number;
}

export interface WorkerControl {
  /** `collectGarbage`: run a full GC first, where the process runs with --expose-gc (memory figures). */
  snapshot(collectGarbage?: boolean): WorkerSnapshot;
  /**
   * Hand-off, step 1 (on the old thread, once everything sent to the partition is processed):
   * removes the partition's actors and returns their state, serialized (node:v8, structured-clone
   * semantics). Throws, removing nothing, when a state cannot be serialized.
   */
  exportPartition(partition: number): Uint8Array;
  /** Hand-off, step 2 (on the new thread): installs the actors exported by step 1, activated. */
  importPartition(partition: number, actors: Uint8Array): number;
  /** Runs every actor kind's onBroadcast hook with the message; resolves when all returned. */
  broadcast(msg: unknown): Promise<void>;
}

/** Worker side: serve `api` on `port`. */
export function exposeControl(api: WorkerControl, port: MessagePort): void {
  Comlink.expose(api, nodeEndpoint(port));
}

// The adapter is CommonJS with `module.exports = nodeEndpoint`; its typings say `export default`.
const nodeEndpoint = adapter as unknown as typeof adapter.default;

export type RemoteControl = Comlink.Remote<WorkerControl>;

/** Main side: a proxy of the worker's control API; each call also alerts the worker's `ring`. */
export function connectControl(port: MessagePort, ring: RingBuffer): RemoteControl {
  const endpoint = nodeEndpoint(port);
  const alerting: Comlink.Endpoint = {
    postMessage(...args: Parameters<Comlink.Endpoint['postMessage']>) {
      endpoint.postMessage(...args);
      ring.alert();
    },
    addEventListener: endpoint.addEventListener.bind(endpoint),
    removeEventListener: endpoint.removeEventListener.bind(endpoint),
  };
  return Comlink.wrap<WorkerControl>(alerting);
}
