/** What the main thread and a worker say to each other outside the rings (rare, control-plane). */
import type { RetryPolicy } from '../actors/define.js';
import type { ErrorData } from './errors.js';
import type { MessagePort } from 'node:worker_threads';

/** workerData of each worker thread. */
export interface WorkerInit {
  /** The actor kinds' modules, in actor kind order (frames name a kind by its index). */
  actorUrls: string[];
  /** The actor kinds' names, same order. */
  kinds: string[];
  thread: number;
  partitions: number;
  /** main → worker ring */
  inbound: SharedArrayBuffer;
  /** main → worker ring for `{ priority: 'high' }` sends, drained first; its writer parks on `inbound`. */
  inboundHigh: SharedArrayBuffer;
  /** worker → main reply ring */
  replies: SharedArrayBuffer;
  /** worker → main ring of ctx.send messages, relayed by the main thread */
  outbox: SharedArrayBuffer;
  /** The control plane's port (comlink; see control.ts). */
  control: MessagePort;
  counters: SharedArrayBuffer;
  /** The main thread's msgpackr record structures (SharedStructures), read to decode its frames. */
  structures: SharedArrayBuffer;
  spinIterations: number;
  /** Niceness this thread sets for itself (options.workerNice). */
  nice: number;
  idleTurnMs: number;
  /** Poison messages, as `${lane}:${seq}`: not delivered, reported as dead letters. */
  skip: string[];
  /** How often this thread's worker was restarted before this one (0: first start). */
  restarts: number;
  /** restart.maxCrashes, for the poison message's error text. */
  maxCrashes: number;
  /** The runtime's retry policy (an actor's own overrides it). */
  retry: Required<RetryPolicy>;
}

/** Worker → main, over the worker's parentPort. */
export type HostMessage =
  | { type: 'ready' }
  | { type: 'loadError'; url: string; error: ErrorData }
  /** A send's receive failed its last attempt: an 'actorError' and a dead letter. */
  | { type: 'actorError'; key: string; partition: number; error: ErrorData; attempts: number; message: unknown }
  | { type: 'stopped' }
  /** A poison message (see WorkerInit.skip), set aside instead of delivered. */
  | { type: 'deadLetter'; key: string; partition: number; message: unknown; ask: boolean }
  /** The reply ring stayed full for a second: read it (see ReplyChannel.kick). */
  | { type: 'replyRingFull' };
