/**
 * The main-thread runtime: routes keyed messages into per-thread rings, answers asks from the
 * reply rings, and owns the worker threads' lifecycle.
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { RingBuffer, RingWriter } from '../shm/ring.js';
import { MessageCodec } from './codec.js';
import {
  AbortError,
  ActorLoadError,
  errorFromData,
  RuntimeClosedError,
  TimeoutError,
  WorkerExitError,
  type ErrorData,
} from './errors.js';
import { CODEC_MASK, KEY_UTF16, KIND_ASK, KIND_STOP, KIND_TELL } from './frame.js';
import { fnv1a32, keyToString, lastHadLoneSurrogate, lastUtf8Length, type Key } from './key.js';
import { OutboundLane, type OutboundFrame } from './lane.js';
import { DelayQueue, type DelayedFrame } from './delays.js';
import { buildPartitionTable } from './mapping.js';
import { actorFileExists, resolveOptions, type ResolvedOptions, type RuntimeOptions } from './options.js';
import type { HostMessage, WorkerInit } from './protocol.js';
import { unprocessedFrames } from './leftovers.js';
import { ReplyChannel } from './replies.js';
import { RestartPolicy } from './supervisor.js';
import { SharedCounters } from './shared-counters.js';

export interface SendOptions {
  /**
   * 'high': through the thread's second ring, which its worker drains before the normal one (a
   * high message waits at most for the message in hand). Order holds within each priority.
   */
  priority?: 'high' | 'normal';
  /**
   * Deliver no earlier than this many milliseconds from now. Delayed messages wait on the main
   * thread (not in a ring), ordered by due time; at most MAX_DELAYED at once.
   */
  delayMs?: number;
}

export interface AskOptions {
  /** As SendOptions.priority. */
  priority?: 'high' | 'normal';
  /** Reject with a TimeoutError when no reply came within this many milliseconds. */
  timeoutMs?: number;
  /** Reject with an AbortError when this signal aborts first. */
  signal?: AbortSignal;
}

export interface ThreadStats {
  thread: number;
  partitions: number;
  sent: number;
  processed: number;
  failed: number;
  /** send() calls waiting for ring space. */
  waiting: number;
  /** Bytes published to the thread's ring and not yet released. */
  ringUsedBytes: number;
  /** Times this thread's worker was restarted after a crash. */
  restarts: number;
}

export interface PartitionStats {
  partition: number;
  thread: number;
  sent: number;
  processed: number;
}

/** A plain, JSON-serializable snapshot. */
export interface RuntimeStats {
  threads: ThreadStats[];
  partitions: PartitionStats[];
  /** Messages (tells and asks) written to the rings. */
  sent: number;
  /** Messages whose receive finished (successfully or not). */
  processed: number;
  /** Tells whose receive threw or rejected (each also emitted as 'actorError'). */
  failed: number;
  pendingAsks: number;
  /** Delayed sends not due yet. */
  delayed: number;
  closed: boolean;
}

/** Emitted for a tell (send/trySend) whose receive threw or rejected. */
export interface ActorErrorEvent {
  key: string;
  partition: number;
  thread: number;
  error: Error;
}

/** A worker thread ended without being asked to. */
export interface WorkerExitEvent {
  thread: number;
  exitCode: number;
  /** The uncaught error that ended it, if any. */
  error?: Error;
  /** Whether it will be restarted (the `restart` option, and the restart intensity). */
  restarting: boolean;
}

/** A crashed worker thread was replaced and is reading its ring again. */
export interface WorkerRestartEvent {
  thread: number;
  /** 1 for the first restart within the restart window, 2 for the next, ... */
  attempt: number;
  /** How long the restart waited (backoff), ms. */
  delayMs: number;
}

export interface CloseOptions {
  /** Longest close() waits for the drain, ms; then it ends the threads and reports (see close). */
  timeoutMs?: number;
}

export interface CloseReport {
  /** The drain did not finish within timeoutMs. */
  timedOut: boolean;
  /** Messages not confirmed processed (0 unless timedOut): each also reported as a dead letter. */
  unprocessed: number;
}

/** A message set aside instead of delivered. */
export interface DeadLetter {
  key: string;
  partition: number;
  thread: number;
  /** The message as sent (undefined if it could not be carried over the worker's port). */
  message: unknown;
  /**
   * 'failed': its receive failed every one of `attempts` runs (the retry policy);
   * 'poison': it was being delivered each of the last `attempts` times its thread crashed;
   * 'unprocessed': close() timed out before it was confirmed processed.
   */
  reason: 'failed' | 'poison' | 'unprocessed';
  attempts: number;
  /** The last error ('failed'), with its name, message and stack. */
  error?: Error;
  /** It was an ask (which rejected with a PoisonMessageError). */
  ask: boolean;
  /** When it was set aside (Date.now()). */
  at: number;
}

export interface RuntimeEvents {
  actorError: [ActorErrorEvent];
  deadLetter: [DeadLetter];
  workerExit: [WorkerExitEvent];
  workerRestart: [WorkerRestartEvent];
  /** close() finished (see CloseReport). */
  closed: [CloseReport];
  /** A thread crashed more often than the restart intensity allows: the runtime stopped. */
  failed: [{ error: WorkerExitError }];
}

interface PendingAsk {
  resolve(value: unknown): void;
  reject(error: Error): void;
  thread: number;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const RESOLVED: Promise<void> = Promise.resolve();
const emptyFrame = (kind: number): OutboundFrame => ({
  kind,
  codec: 0,
  partition: 0,
  key: '',
  keyLength: 0,
  keyHash: 0,
  askId: 0,
  payload: new Uint8Array(0),
  payloadStart: 0,
  payloadEnd: 0,
});
const WORKER_ENTRY = new URL('./worker-host.js', import.meta.url);
/** Delayed messages that may wait at once (memory stays bounded: ~150 B each plus the message). */
export const MAX_DELAYED = 1_000_000;

function isHigh(options: SendOptions | AskOptions | undefined): boolean {
  const priority = options?.priority;
  if (priority === undefined || priority === 'normal') return false;
  if (priority === 'high') return true;
  throw new TypeError(`priority must be 'high' or 'normal', got ${String(priority)}`);
}

function delayOf(options: SendOptions | undefined): number {
  const delayMs = options?.delayMs;
  if (delayMs === undefined) return 0;
  if (typeof delayMs !== 'number' || !(delayMs >= 0) || !Number.isFinite(delayMs)) {
    throw new RangeError(`delayMs must be a finite non-negative number, got ${String(delayMs)}`);
  }
  return delayMs;
}

/** Dead letters rt.deadLetters() keeps (the oldest go first). */
const DEAD_LETTERS_KEPT = 1000;
/** Poison frame numbers a worker is told to skip (older ones are long released). */
const MAX_SKIPPED = 64;
/** How long close() waits for a worker to acknowledge STOP before terminating it anyway. */
const STOP_GRACE_MS = 5000;

export class Runtime extends EventEmitter<RuntimeEvents> {
  readonly threads: number;
  readonly partitions: number;
  private readonly options: ResolvedOptions;
  private readonly table: Uint16Array;
  private readonly codec = new MessageCodec();
  private readonly counters: SharedCounters;
  private readonly lanes: OutboundLane[] = [];
  /** Per thread, the `{ priority: 'high' }` lane (its own ring). */
  private readonly highLanes: OutboundLane[] = [];
  private readonly replies: ReplyChannel[] = [];
  private readonly inits: WorkerInit[] = [];
  /** The current worker of each thread (a restart replaces it). */
  private readonly workers: Worker[] = [];
  /** Settles when the current worker of each thread has exited. */
  private readonly exited: Promise<void>[] = [];
  /** STOP was written to the thread's ring: its exit is expected. */
  private readonly stopSent: boolean[] = [];
  /** The uncaught error a worker reported before its exit. */
  private readonly lastError: (Error | undefined)[] = [];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  /** Delayed sends, until due. */
  private readonly delays = new DelayQueue((due) => this.release(due));
  private readonly supervisor: RestartPolicy | null;
  /** Per thread: the frame that was being delivered at its last crashes, and how many in a row. */
  private readonly suspects: { frame: string; crashes: number }[] = [];
  private readonly deadLetterList: DeadLetter[] = [];
  /** Set when the runtime gave up on a thread (restart intensity exceeded). */
  private failure: WorkerExitError | null = null;
  private readonly partitionSent: Float64Array;
  private readonly pendingAsks = new Map<number, PendingAsk>();
  private nextAskId = 1;
  private closed = false;
  private closing: Promise<void> | null = null;
  private report: CloseReport | null = null;
  private warnedActorError = false;
  /** Scratch frame for the send path (no allocation per message). */
  private readonly frame: OutboundFrame = emptyFrame(0);

  /** @internal use createRuntime() */
  constructor(options: ResolvedOptions, table: Uint16Array) {
    super();
    this.options = options;
    this.table = table;
    this.threads = options.threads;
    this.partitions = options.partitions;
    this.partitionSent = new Float64Array(options.partitions);
    this.counters = SharedCounters.create(options.threads, options.partitions);
    this.supervisor = options.restart ? new RestartPolicy(options.restart, options.threads) : null;
  }

  /** @internal Spawns the workers and waits until each has loaded the actor module. */
  async start(): Promise<void> {
    const o = this.options;
    const ready: Promise<void>[] = [];
    for (let t = 0; t < o.threads; t++) {
      const inbound = new RingBuffer(o.ringBytes);
      const inboundHigh = new RingBuffer(o.highRingBytes);
      const replyRing = new RingBuffer(o.replyRingBytes);
      this.lanes.push(new OutboundLane(new RingWriter(inbound)));
      // The worker parks on its normal ring: the high lane's writer rings that ring's doorbell.
      this.highLanes.push(new OutboundLane(new RingWriter(inboundHigh, inbound)));
      this.replies.push(new ReplyChannel(replyRing, this.codec, this.onReply));
      this.inits.push({
        actorUrl: o.actorUrl,
        thread: t,
        threads: o.threads,
        partitions: o.partitions,
        inbound: inbound.sab,
        inboundHigh: inboundHigh.sab,
        replies: replyRing.sab,
        counters: this.counters.sab,
        spinIterations: o.spinIterations,
        idleTurnMs: o.idleTurnMs,
        skip: [],
        restarts: 0,
        maxCrashes: o.restart?.maxCrashes ?? 0,
        retry: o.retry,
      });
      this.suspects.push({ frame: '', crashes: 0 });
      this.stopSent.push(false);
      ready.push(this.spawn(t));
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      this.closed = true;
      this.stopSent.fill(true); // these exits are ours, not crashes to restart
      await Promise.all(this.workers.map((w) => w.terminate()));
      await Promise.all(this.exited);
      throw error;
    }
  }

  /** Starts (or restarts) thread t's worker on its rings; resolves once it has loaded the actor module. */
  private spawn(thread: number): Promise<void> {
    const limits = this.options.resourceLimits;
    const worker = new Worker(WORKER_ENTRY, { workerData: this.inits[thread], name: `ringmaster-${thread}`, ...(limits ? { resourceLimits: limits } : {}) });
    this.workers[thread] = worker;
    this.exited[thread] = new Promise((resolve) => worker.once('exit', () => resolve()));
    return this.watch(worker, thread);
  }

  /** Wires a worker's events; resolves when it is ready, rejects if it fails to start. */
  private watch(worker: Worker, thread: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on('message', (message: HostMessage) => {
        switch (message.type) {
          case 'ready':
            started = true;
            resolve();
            break;
          case 'loadError':
            reject(this.loadError(message.error));
            break;
          case 'actorError':
            this.reportActorError(thread, message.key, message.partition, message.error);
            this.recordDeadLetter(thread, { key: message.key, partition: message.partition, message: message.message, ask: false, reason: 'failed', attempts: message.attempts, error: errorFromData(message.error) });
            break;
          case 'deadLetter':
            this.recordDeadLetter(thread, { key: message.key, partition: message.partition, message: message.message, ask: message.ask, reason: 'poison', attempts: this.options.restart?.maxCrashes ?? 0 });
            break;
          case 'replyRingFull':
            this.replies[thread]!.kick();
            break;
          case 'stopped':
            void worker.terminate();
            break;
        }
      });
      worker.on('error', (error) => {
        if (!started) reject(new ActorLoadError(`worker ${thread} failed while loading the actor module: ${error.message}`, { cause: error }));
        else this.lastError[thread] = error; // 'exit' follows
      });
      worker.on('exit', (exitCode) => {
        if (!started) reject(new ActorLoadError(`worker ${thread} exited (code ${exitCode}) before loading the actor module`));
        else if (worker === this.workers[thread]) this.onWorkerGone(thread, exitCode);
      });
    });
  }

  private loadError(data: ErrorData): ActorLoadError {
    const where = this.options.actorUrl.startsWith('file:') ? fileURLToPath(this.options.actorUrl) : this.options.actorUrl;
    return new ActorLoadError(`cannot load actor module ${where}: ${data.name}: ${data.message}`, { cause: errorFromData(data) });
  }

  private reportActorError(thread: number, key: string, partition: number, data: ErrorData): void {
    const error = errorFromData(data);
    if (this.listenerCount('actorError') > 0) {
      this.emit('actorError', { key, partition, thread, error });
    } else if (!this.warnedActorError) {
      this.warnedActorError = true;
      process.emitWarning(
        `receive failed for key '${key}' (${error.name}: ${error.message}); listen to 'actorError' to handle these (further ones are counted in stats().failed)`,
        'RingmasterWarning',
      );
    }
  }

  /** Thread t's worker ended: expected after STOP; otherwise a crash, restarted per the policy. */
  private onWorkerGone(thread: number, exitCode: number, cause?: Error): void {
    const lane = this.lanes[thread]!;
    const error = cause ?? this.lastError[thread];
    this.lastError[thread] = undefined;
    if (lane.dead) return;
    if (this.stopSent[thread]) {
      this.failLanes(thread, new RuntimeClosedError('runtime is closed'));
      this.replies[thread]!.close();
      if (error) this.emit('workerExit', { thread, exitCode, error, restarting: false });
      return;
    }
    const decision = this.supervisor?.onCrash(thread, Date.now()) ?? null;
    const event: WorkerExitEvent = error ? { thread, exitCode, error, restarting: decision !== null } : { thread, exitCode, restarting: decision !== null };
    if (decision === null) {
      const why = this.supervisor
        ? `worker ${thread} crashed more than ${this.options.restart!.maxRestarts} times within ${this.options.restart!.withinMs} ms; the runtime stopped`
        : error
          ? `worker ${thread} failed: ${error.message}`
          : `worker ${thread} exited with code ${exitCode}`;
      const gone = new WorkerExitError(why, thread, error ? { cause: error } : undefined);
      if (this.supervisor) this.stopAll(gone);
      else this.abandon(thread, gone);
      this.emit('workerExit', event);
      if (this.supervisor) this.emit('failed', { error: gone });
      return;
    }
    this.emit('workerExit', event);
    this.notePoisonSuspect(thread);
    // The rings, their counters and their unreleased frames stay: the new worker resumes there.
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.failure || this.lanes[thread]!.dead) return;
      this.inits[thread]!.restarts++; // the replacement's ctx.restarts
      this.spawn(thread).then(
        () => {
          this.supervisor!.restarted(thread);
          this.emit('workerRestart', { thread, attempt: decision.attempt, delayMs: decision.delayMs });
        },
        (startError: Error) => this.onWorkerGone(thread, -1, startError),
      );
    }, decision.delayMs);
    this.restartTimers.add(timer);
  }

  /**
   * The frame a crashed worker was delivering is a suspect; the same one `maxCrashes` times in a
   * row is a poison message, which the next worker sets aside (WorkerInit.skip).
   */
  private notePoisonSuspect(thread: number): void {
    const frame = this.counters.current(thread);
    const suspect = this.suspects[thread]!;
    if (suspect.crashes > 0 && suspect.frame === frame) suspect.crashes++;
    else {
      suspect.frame = frame;
      suspect.crashes = 1;
    }
    const init = this.inits[thread]!;
    if (suspect.crashes >= init.maxCrashes && !init.skip.includes(frame)) {
      init.skip.push(frame);
      if (init.skip.length > MAX_SKIPPED) init.skip.shift(); // long released by now
    }
  }

  private recordDeadLetter(thread: number, m: Omit<DeadLetter, 'thread' | 'at'>): void {
    const letter: DeadLetter = { ...m, thread, at: Date.now() };
    this.deadLetterList.push(letter);
    if (this.deadLetterList.length > DEAD_LETTERS_KEPT) this.deadLetterList.shift();
    this.emit('deadLetter', letter);
  }

  /** The most recent dead letters (at most DEAD_LETTERS_KEPT, oldest first). */
  deadLetters(): DeadLetter[] {
    return [...this.deadLetterList];
  }

  /** Both lanes of a thread refuse further writes; their waiting sends reject with `error`. */
  private failLanes(thread: number, error: Error): void {
    this.lanes[thread]!.fail(error);
    this.highLanes[thread]!.fail(error);
  }

  /** Gives up on one thread: its sends and pending asks fail with `gone` (restart disabled). */
  private abandon(thread: number, gone: WorkerExitError): void {
    this.failLanes(thread, gone);
    this.replies[thread]!.close();
    for (const [id, pending] of this.pendingAsks) {
      if (pending.thread === thread) this.settleAsk(id, false, gone);
    }
    this.counters.wakeAll(thread);
  }

  /** Gives up on the runtime (restart intensity exceeded): everything pending fails with `gone`. */
  private stopAll(gone: WorkerExitError): void {
    this.failure = gone;
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    this.delays.takeAll((frames) => {
      for (const { frame } of frames) this.reportUnprocessedDelay(frame);
    });
    for (let t = 0; t < this.threads; t++) {
      this.stopSent[t] = true; // their exits are expected now
      this.abandon(t, gone);
      void this.workers[t]!.terminate();
    }
  }

  // ---- routing -------------------------------------------------------------------------------

  partitionOf(key: Key): number {
    return fnv1a32(keyToString(key)) % this.partitions;
  }

  threadOf(partition: number): number {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new RangeError(`partition must be an integer in 0..${this.partitions - 1}, got ${partition}`);
    }
    return this.table[partition]!;
  }

  /** The lane (ring) of a partition's thread for the given priority. */
  private laneOf(partition: number, high: boolean): OutboundLane {
    return (high ? this.highLanes : this.lanes)[this.table[partition]!]!;
  }

  /** Validates key and message and fills the scratch frame; throws TypeError/RangeError before anything is written. */
  private prepare(kind: number, key: Key, msg: unknown, high = false): OutboundLane {
    if (this.failure) throw this.failure;
    if (this.closed) throw new RuntimeClosedError('runtime is closed');
    const keyString = keyToString(key);
    const keyHash = fnv1a32(keyString);
    const partition = keyHash % this.partitions;
    const keyUtf16 = lastHadLoneSurrogate;
    const keyLength = keyUtf16 ? keyString.length * 2 : lastUtf8Length;
    const lane = this.laneOf(partition, high);
    if (lane.dead) throw lane.dead;
    const codec = this.codec;
    const payload = codec.encode(msg);
    lane.frameSize(keyLength, codec.lastEnd - codec.lastStart);
    const frame = this.frame;
    frame.kind = kind;
    frame.codec = keyUtf16 ? this.codec.lastCodec | KEY_UTF16 : this.codec.lastCodec;
    frame.partition = partition;
    frame.key = keyString;
    frame.keyLength = keyLength;
    frame.keyHash = keyHash;
    frame.askId = 0;
    frame.payload = payload;
    frame.payloadStart = codec.lastStart;
    frame.payloadEnd = codec.lastEnd;
    return lane;
  }

  // ---- sending -------------------------------------------------------------------------------

  /**
   * Enqueues without waiting; false when the target ring is full (nothing enqueued then). With
   * `delayMs`, queues it until due; false when MAX_DELAYED messages are already waiting.
   */
  trySend(key: Key, msg: unknown, options?: SendOptions): boolean {
    const delayMs = delayOf(options);
    const high = isHigh(options);
    const lane = this.prepare(KIND_TELL, key, msg, high);
    if (delayMs > 0) {
      if (this.delays.size >= MAX_DELAYED) return false;
      this.delays.push(performance.now() + delayMs, this.frame, high);
      return true;
    }
    if (!lane.tryWrite(this.frame)) return false;
    this.partitionSent[this.frame.partition]!++;
    return true;
  }

  /**
   * Enqueues, waiting for ring space without blocking the event loop. Never drops. With `delayMs`,
   * resolves once queued until due (a RangeError when MAX_DELAYED messages already wait).
   */
  send(key: Key, msg: unknown, options?: SendOptions): Promise<void> {
    let lane: OutboundLane;
    try {
      const delayMs = delayOf(options);
      const high = isHigh(options);
      lane = this.prepare(KIND_TELL, key, msg, high);
      if (delayMs > 0) {
        if (this.delays.size >= MAX_DELAYED) throw new RangeError(`${MAX_DELAYED} delayed messages are already waiting`);
        this.delays.push(performance.now() + delayMs, this.frame, high);
        return RESOLVED;
      }
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.partitionSent[this.frame.partition]!++;
    if (lane.tryWrite(this.frame)) return RESOLVED;
    return lane.enqueue(this.frame);
  }

  /** Sends a message and resolves with what the key's receive returned (or rejects with its error). */
  ask<R = unknown>(key: Key, msg: unknown, options: AskOptions = {}): Promise<R> {
    let lane: OutboundLane;
    try {
      const { timeoutMs, signal } = options ?? {};
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) {
        throw new RangeError(`timeoutMs must be a non-negative number, got ${String(timeoutMs)}`);
      }
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
      if (signal?.aborted) throw new AbortError('ask aborted before it was sent', { cause: signal.reason });
      lane = this.prepare(KIND_ASK, key, msg, isHigh(options));
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const askId = this.nextAskId;
    this.nextAskId = this.nextAskId >= 0xffffffff ? 1 : this.nextAskId + 1;
    const frame = this.frame;
    frame.askId = askId;
    const thread = this.table[frame.partition]!;
    const promise = new Promise<R>((resolve, reject) => {
      const pending: PendingAsk = { resolve: resolve as (v: unknown) => void, reject, thread, timer: undefined, signal: options.signal, onAbort: undefined };
      if (options.timeoutMs !== undefined) {
        pending.timer = setTimeout(
          () => this.settleAsk(askId, false, new TimeoutError(`ask to key '${frame.key}' timed out after ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
      }
      if (options.signal) {
        const signal = options.signal;
        pending.onAbort = () => this.settleAsk(askId, false, new AbortError('ask aborted', { cause: signal.reason }));
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.pendingAsks.set(askId, pending);
    });
    this.partitionSent[frame.partition]!++;
    const replies = this.replies[thread]!;
    replies.expectReply(askId);
    if (!lane.tryWrite(frame)) {
      lane.enqueue(frame).catch((error: Error) => {
        replies.cancelExpected(askId);
        this.settleAsk(askId, false, error);
      });
    }
    return promise;
  }

  private readonly onReply = (askId: number, ok: boolean, value: unknown): void => {
    this.settleAsk(askId, ok, ok ? value : errorFromData(value as ErrorData));
  };

  private settleAsk(askId: number, ok: boolean, value: unknown): void {
    const pending = this.pendingAsks.get(askId);
    if (pending === undefined) return; // timed out or aborted earlier: the late reply is dropped
    this.pendingAsks.delete(askId);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (pending.onAbort) pending.signal!.removeEventListener('abort', pending.onAbort);
    if (ok) pending.resolve(value);
    else pending.reject(value as Error);
  }

  /** Delayed frames that came due: into their rings now (behind any send already waiting there). */
  private release(due: DelayedFrame[]): void {
    for (const { frame, high } of due) {
      const lane = this.laneOf(frame.partition, high);
      if (lane.dead) continue; // the runtime gave up on that thread; its sends fail alike
      this.partitionSent[frame.partition]!++;
      if (!lane.tryWrite(frame)) lane.enqueue(frame).catch(() => {}); // rejected only when the thread is given up
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Resolves when every message enqueued (or waiting to be) before the call has been processed. */
  async drain(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const [index, lanes] of [this.lanes, this.highLanes].entries()) {
      lanes.forEach((lane, thread) => {
        const target = (lane.written + lane.waitingCount) | 0;
        waits.push(this.counters.waitForCompleted(thread, index, target, () => lane.dead));
      });
    }
    await Promise.all(waits);
  }

  /**
   * Stops accepting, drains, then ends every thread. Idempotent. With `timeoutMs`, it waits at
   * most that long for the drain; then it ends the threads anyway and reports what was not
   * processed: each message as a dead letter (`reason: 'unprocessed'`), pending asks and waiting
   * sends rejected, and the count in `closeReport()` and the `'closed'` event.
   */
  close(options: CloseOptions = {}): Promise<void> {
    const { timeoutMs } = options ?? {};
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) {
      return Promise.reject(new RangeError(`timeoutMs must be a non-negative number, got ${String(timeoutMs)}`));
    }
    this.closing ??= this.shutdown(timeoutMs).then((report) => {
      this.report = report;
      this.emit('closed', report);
    });
    return this.closing;
  }

  /** How close() went (null until it finished). */
  closeReport(): CloseReport | null {
    return this.report;
  }

  private async shutdown(timeoutMs: number | undefined): Promise<CloseReport> {
    this.closed = true;
    // Delayed messages are part of what was enqueued: wait until they are due and in the rings.
    const drain = this.delays
      .whenEmpty()
      .then(() => this.drain())
      .then(
        () => null,
        (error: Error) => error,
      );
    let timer: NodeJS.Timeout | undefined;
    const outcome = await (timeoutMs === undefined
      ? drain
      : Promise.race([drain, new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), timeoutMs)))]));
    clearTimeout(timer);
    if (outcome === 'timed out') return { timedOut: true, unprocessed: await this.abandonUnprocessed(timeoutMs!) };
    const drained = outcome;
    for (let t = 0; t < this.threads; t++) {
      const lane = this.lanes[t]!;
      if (lane.dead) continue;
      this.stopSent[t] = true;
      const stop = emptyFrame(KIND_STOP);
      if (!lane.tryWrite(stop)) void lane.enqueue(stop).catch(() => {});
      const worker = this.workers[t]!;
      const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
      void this.exited[t]!.then(() => clearTimeout(timer));
    }
    await Promise.all(this.exited);
    for (const replies of this.replies) replies.close();
    if (drained && !(drained instanceof WorkerExitError)) throw drained;
    return { timedOut: false, unprocessed: 0 };
  }

  /** A delayed message that will not be sent now: an 'unprocessed' dead letter, decoded back. */
  private reportUnprocessedDelay(frame: OutboundFrame): void {
    let message: unknown;
    try {
      const bytes = Buffer.from(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength);
      message = this.codec.decode(bytes, frame.payloadStart, frame.payloadEnd - frame.payloadStart, frame.codec & CODEC_MASK);
    } catch {
      message = undefined;
    }
    this.recordDeadLetter(this.table[frame.partition]!, { key: frame.key, partition: frame.partition, message, ask: false, reason: 'unprocessed', attempts: 0 });
  }

  /** close() ran out of time: end the threads now and report what they had not done. */
  private async abandonUnprocessed(timeoutMs: number): Promise<number> {
    const gone = new RuntimeClosedError(`close() timed out after ${timeoutMs} ms before this was processed`);
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    this.stopSent.fill(true);
    let unprocessed = 0;
    this.delays.takeAll((frames) => {
      for (const { frame } of frames) {
        this.reportUnprocessedDelay(frame);
        unprocessed++;
      }
    });
    for (const lane of [...this.lanes, ...this.highLanes]) {
      unprocessed += lane.waitingCount; // never written: their send() rejects with `gone`
      lane.fail(gone);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
    await Promise.all(this.exited);
    for (let t = 0; t < this.threads; t++) {
      // The worker is gone and nothing writes the ring any more: what is left in it can be read.
      for (const [index, lane] of [this.lanes[t]!, this.highLanes[t]!].entries()) {
        for (const left of unprocessedFrames(lane.writer.ring, this.counters.watermark(t, index), this.codec)) {
          this.recordDeadLetter(t, { key: left.key, partition: left.partition, message: left.message, ask: left.askId !== 0, reason: 'unprocessed', attempts: 0 });
          unprocessed++;
        }
      }
      this.replies[t]!.close();
      this.counters.wakeAll(t);
    }
    for (const id of [...this.pendingAsks.keys()]) this.settleAsk(id, false, gone);
    return unprocessed;
  }

  stats(): RuntimeStats {
    const threads: ThreadStats[] = [];
    for (let t = 0; t < this.threads; t++) {
      const lane = this.lanes[t]!;
      threads.push({
        thread: t,
        partitions: 0,
        sent: 0,
        processed: 0,
        failed: this.counters.failed(t),
        waiting: lane.waitingCount,
        ringUsedBytes: lane.writer.ring.usedBytes(),
        restarts: this.supervisor?.restarts(t) ?? 0,
      });
    }
    const partitions: PartitionStats[] = [];
    let sent = 0;
    let processed = 0;
    for (let p = 0; p < this.partitions; p++) {
      const thread = this.table[p]!;
      const entry = { partition: p, thread, sent: this.partitionSent[p]!, processed: this.counters.partitionCompleted[p]! };
      partitions.push(entry);
      const ts = threads[thread]!;
      ts.partitions++;
      ts.sent += entry.sent;
      ts.processed += entry.processed;
      sent += entry.sent;
      processed += entry.processed;
    }
    const failed = threads.reduce((n, t) => n + t.failed, 0);
    return { threads, partitions, sent, processed, failed, pendingAsks: this.pendingAsks.size, delayed: this.delays.size, closed: this.closed };
  }
}

/**
 * Starts a runtime: validates the options, spawns the worker threads and resolves once each has
 * loaded the actor module. Rejects (leaving no thread running) on bad options or a bad module.
 */
export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const resolved = resolveOptions(options);
  const table = buildPartitionTable(resolved.mapping, resolved.partitions, resolved.threads);
  if (!actorFileExists(resolved.actorUrl)) {
    throw new ActorLoadError(`actor module not found: ${fileURLToPath(resolved.actorUrl)}`);
  }
  const runtime = new Runtime(resolved, table);
  await runtime.start();
  return runtime;
}
