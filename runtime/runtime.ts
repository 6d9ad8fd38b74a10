/**
 * The main-thread runtime: routes keyed messages into per-thread rings, answers asks from the
 * reply rings, and owns the worker threads' lifecycle.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { RingBuffer, RingWriter } from '../shm/ring.js';
import { MessageCodec } from './codec.js';
import { SharedStructures } from './structures.js';
import {
  AbortError,
  ActorLoadError,
  errorFromData,
  RuntimeClosedError,
  TimeoutError,
  WorkerExitError,
  type ErrorData,
} from './errors.js';
import { CODEC_MASK, KEY_UTF16, KIND_ASK, KIND_STOP, KIND_TELL, MAX_KEY_BYTES, readU16 } from './frame.js';
import { fnv1a32, keyToString, lastHadLoneSurrogate, lastUtf8Length, type Key } from './key.js';
import { OutboundLane } from './lane.js';
import { OutboundFrame } from './frame-writer.js';
import { connectControl, type RemoteControl, type WorkerSnapshot } from './control.js';
import { frameFromEncoded, Relay } from './relay.js';
import { HandoffPauses, Move, nanosecondHistogram } from './handoff.js';
import { histogramQuantiles, renderPrometheus, summaryFamily, type MetricFamily } from './prometheus.js';
import { DelayQueue, type DelayedFrame } from './delays.js';
import { buildPartitionTable, type Mapping } from './mapping.js';
import { actorFileExists, resolveOptions, type ResolvedOptions, type RuntimeOptions } from './options.js';
import type { HostMessage, WorkerInit } from './protocol.js';
import { unprocessedFrames } from './leftovers.js';
import { ReplyChannel } from './replies.js';
import { RestartPolicy } from './supervisor.js';
import { MAX_THREADS, SharedCounters } from './shared-counters.js';

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
  /** Messages sent to the partitions it owns now (their history moves with them; see written). */
  sent: number;
  /** Messages processed of the partitions it owns now (see completed). */
  processed: number;
  failed: number;
  /** send() calls waiting for ring space. */
  waiting: number;
  /** Bytes published to the thread's ring and not yet released. */
  ringUsedBytes: number;
  /** Times this thread's worker was restarted after a crash. */
  restarts: number;
  /** Milliseconds its worker spent handling messages (all time; a restart goes on counting). */
  busyMs: number;
  /** Messages sent to its partitions and not processed yet. */
  depth: number;
  /** Messages written to its rings, all time (monotonic: not moved with partitions). */
  written: number;
  /** Messages its workers finished, all time (monotonic; a crash's redeliveries count again). */
  completed: number;
}

export interface PartitionStats {
  partition: number;
  thread: number;
  sent: number;
  processed: number;
  /**
   * Messages sent and not processed yet (in its rings, waiting for space, or held while it moves
   * or is paused). After a worker crash, redelivered messages count as processed twice, so this
   * can read low until the counts catch up (it never goes below 0).
   */
  depth: number;
  /** With messages waiting: ms since one of its messages last finished (0 when none wait). */
  lagMs: number;
  /** It is moving to another thread right now. */
  moving: boolean;
  /** pause()d: its new messages wait on the main thread. */
  paused: boolean;
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
  /** Partition moves completed so far, failed ones, and the pause they held their partition (ms). */
  handoffs: { count: number; failed: number; inProgress: number; p50Ms: number; p99Ms: number; maxMs: number };
  /** Dead letters so far (all time; rt.deadLetters() keeps the last 1000). */
  deadLetters: number;
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
  /** autoBalance moved a partition. */
  rebalanced: [RebalancedEvent];
}

interface PendingAsk {
  resolve(value: unknown): void;
  reject(error: Error): void;
  thread: number;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** performance.now() when it was sent. */
  sentAt: number;
}

const RESOLVED: Promise<void> = Promise.resolve();
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

const CRASHED = Symbol('crashed');

export interface AutoBalanceOptions {
  /** How often to look, ms. Default 1000 (also the least time between two moves). */
  intervalMs?: number;
  /** Move only when the busiest thread is at least this many times as busy as the least busy. Default 1.5. */
  minImbalance?: number;
}

/** Emitted when autoBalance moved a partition. */
export interface RebalancedEvent {
  partition: number;
  from: number;
  to: number;
  auto: boolean;
}

/** Dead letters rt.deadLetters() keeps (the oldest go first). */
const DEAD_LETTERS_KEPT = 1000;
/** Poison frame numbers a worker is told to skip (older ones are long released). */
const MAX_SKIPPED = 64;
/** How long close() waits for a worker to acknowledge STOP before terminating it anyway. */
const STOP_GRACE_MS = 5000;

export class Runtime extends EventEmitter<RuntimeEvents> {
  readonly partitions: number;
  private readonly options: ResolvedOptions;
  private readonly table: Uint16Array;
  /** The record structures of what this thread sends to its workers (one registry, all threads). */
  private readonly structures = new SharedStructures();
  private readonly codec = new MessageCodec({ structures: this.structures, writeRecords: true });
  private readonly counters: SharedCounters;
  private readonly lanes: OutboundLane[] = [];
  /** Per thread, the `{ priority: 'high' }` lane (its own ring). */
  private readonly highLanes: OutboundLane[] = [];
  private readonly replies: ReplyChannel[] = [];
  /** Per thread: relays its worker's ctx.send messages. */
  private readonly relays: Relay[] = [];
  private readonly inits: WorkerInit[] = [];
  /** The current worker of each thread (a restart replaces it). */
  private readonly workers: Worker[] = [];
  /** Its control plane (comlink) and the port under it. */
  private readonly controls: RemoteControl[] = [];
  private readonly controlPorts: MessagePort[] = [];
  /** Settles when the current worker of each thread has exited. */
  private readonly exited: Promise<void>[] = [];
  /** Settles when the current worker of each thread has loaded its actor modules. */
  private readonly ready: Promise<void>[] = [];
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
  /** Partitions being moved to another thread, and what waits for them. */
  private readonly moves = new Map<number, Move>();
  /** Partitions paused with pause(): their messages wait here until resume(). */
  private readonly pausedHolds = new Map<number, Move>();
  /** Per thread: resolvers of control calls in flight, run when its worker exits. */
  private readonly controlWaiters: Set<() => void>[] = [];
  /** Partition moves that failed (the partition stayed where it was). */
  private failedMoves = 0;
  /** Serializes topology changes (setMapping, resize): one at a time. */
  private topologyChange: Promise<unknown> = RESOLVED;
  private readonly pauses = new HandoffPauses();
  /** Ask round trips (send → reply), ns. */
  private readonly askLatency = nanosecondHistogram();
  private deadLetterCount = 0;
  private sendCount = 0;
  private autoBalancer: NodeJS.Timeout | null = null;
  private nextAskId = 1;
  private closed = false;
  private closing: Promise<void> | null = null;
  private report: CloseReport | null = null;
  private warnedActorError = false;
  /** Scratch frame for the send path (no allocation per message). */
  private readonly frame = new OutboundFrame(KIND_TELL);
  /**
   * Set while a message is encoded (its getters and proxies may run): a send from in there would
   * reuse the scratch frame and the codec's buffer, and claim in a ring whose claim is still open.
   */
  private encoding = false;
  private readonly kindHandles = new Map<string, ActorKind>();

  /** @internal use createRuntime() */
  constructor(options: ResolvedOptions, table: Uint16Array) {
    super();
    this.options = options;
    this.table = table;
    this.partitions = options.partitions;
    this.partitionSent = new Float64Array(options.partitions);
    this.counters = SharedCounters.create(options.partitions);
    this.supervisor = options.restart ? new RestartPolicy(options.restart) : null;
    this.currentMapping = options.mapping;
    options.kinds.forEach(({ name }, index) => this.kindHandles.set(name, new ActorKind(this, name, index)));
  }

  /** Worker threads now (resize changes it). */
  get threads(): number {
    return this.lanes.length;
  }

  /** @internal Spawns the workers and waits until each has loaded the actor module. */
  async start(): Promise<void> {
    try {
      await Promise.all(Array.from({ length: this.options.threads }, () => this.addThread()));
    } catch (error) {
      this.closed = true;
      this.stopSent.fill(true); // these exits are ours, not crashes to restart
      await Promise.all(this.workers.map((w) => w.terminate()));
      await Promise.all(this.exited);
      for (const relay of this.relays) relay.close();
      throw error;
    }
  }

  /** A new thread at the next index: its rings, lanes and worker; resolves once the worker is ready. */
  private addThread(): Promise<void> {
    const o = this.options;
    const t = this.lanes.length;
    this.counters.resetThread(t);
    const inbound = new RingBuffer(o.ringBytes);
    const inboundHigh = new RingBuffer(o.highRingBytes);
    const replyRing = new RingBuffer(o.replyRingBytes);
    const outbox = new RingBuffer(o.ringBytes);
    this.lanes.push(new OutboundLane(new RingWriter(inbound)));
    // The worker parks on its normal ring: the high lane's writer rings that ring's doorbell.
    this.highLanes.push(new OutboundLane(new RingWriter(inboundHigh, inbound)));
    this.replies.push(new ReplyChannel(replyRing, this.codec, this.onReply));
    this.relays.push(new Relay(outbox.sab, 0, this.routeEncoded));
    this.inits.push({
      actorUrls: o.kinds.map((k) => k.url),
      kinds: o.kinds.map((k) => k.name),
      thread: t,
      partitions: o.partitions,
      inbound: inbound.sab,
      inboundHigh: inboundHigh.sab,
      replies: replyRing.sab,
      outbox: outbox.sab,
      control: undefined as never, // a fresh port per worker (spawn)
      counters: this.counters.sab,
      structures: this.structures.sab,
      spinIterations: o.spinIterations,
      nice: o.workerNice,
      idleTurnMs: o.idleTurnMs,
      skip: [],
      restarts: 0,
      maxCrashes: o.restart?.maxCrashes ?? 0,
      retry: o.retry,
    });
    this.suspects.push({ frame: '', crashes: 0 });
    this.stopSent.push(false);
    this.lastError.push(undefined);
    this.controlWaiters.push(new Set());
    return this.spawn(t);
  }

  /** Starts (or restarts) thread t's worker on its rings; resolves once it has loaded the actor module. */
  private spawn(thread: number): Promise<void> {
    const limits = this.options.resourceLimits;
    const { port1, port2 } = new MessageChannel();
    const init = { ...this.inits[thread]!, control: port2 };
    const worker = new Worker(WORKER_ENTRY, { workerData: init, transferList: [port2], name: `ringmaster-${thread}`, ...(limits ? { resourceLimits: limits } : {}) });
    this.workers[thread] = worker;
    this.controlPorts[thread]?.close();
    this.controlPorts[thread] = port1;
    this.controls[thread] = connectControl(port1, this.lanes[thread]!.writer.ring);
    port1.unref(); // the worker keeps the process alive while it runs, not its control port
    this.exited[thread] = new Promise((resolve) => worker.once('exit', () => resolve()));
    const ready = this.watch(worker, thread);
    this.ready[thread] = ready.catch(() => {});
    return ready;
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
            reject(this.loadError(message.url, message.error));
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
        if (worker === this.workers[thread]) for (const wake of [...(this.controlWaiters[thread] ?? [])]) wake();
        if (!started) reject(new ActorLoadError(`worker ${thread} exited (code ${exitCode}) before loading the actor module`));
        else if (worker === this.workers[thread]) this.onWorkerGone(thread, exitCode);
      });
    });
  }

  private loadError(url: string, data: ErrorData): ActorLoadError {
    const where = url.startsWith('file:') ? fileURLToPath(url) : url;
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
    // Its published ctx.sends go on; the replacement counts on from what was relayed (the
    // messages behind anything unpublished are replayed, so those are sent again).
    this.relays[thread]!.readNow();
    this.counters.setProduced(thread, this.relays[thread]!.relayed);
    // The rings, their counters and their unreleased frames stay: the new worker resumes there.
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      // Gone meanwhile: the runtime gave up, or resize removed the thread (a later thread at the
      // same index has other rings).
      if (this.failure || this.lanes[thread] !== lane || lane.dead) return;
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
    this.deadLetterCount++;
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
    this.checkPartition(partition);
    return this.table[partition]!;
  }

  private checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new RangeError(`partition must be an integer in 0..${this.partitions - 1}, got ${partition}`);
    }
  }

  /** The lane (ring) of a partition's thread for the given priority. */
  private laneOf(partition: number, high: boolean): OutboundLane {
    return (high ? this.highLanes : this.lanes)[this.table[partition]!]!;
  }

  /** The actor kind `name` of this runtime: send, trySend, ask and partitionOf for its keys. */
  kind(name: string): ActorKind {
    const handle = this.kindHandles.get(name);
    if (handle === undefined) throw new RangeError(`no actor kind '${String(name)}' (kinds: ${[...this.kindHandles.keys()].join(', ')})`);
    return handle;
  }

  /** The actor kind rt.send/trySend/ask address: the only one (several kinds: use rt.kind(name)). */
  private defaultKind(): number {
    if (this.options.kinds.length === 1) return 0;
    throw new TypeError(`this runtime hosts several actor kinds (${this.options.kinds.map((k) => k.name).join(', ')}): use rt.kind(name).send(...)`);
  }

  /**
   * Validates key and message and fills the scratch frame; throws TypeError/RangeError before
   * anything is written. Returns the lane to write to, or the partition's Move while it moves;
   * with `inPlace` (a tell without delay), null once the tell went straight into its ring
   * (tryWriteInPlace). Sends from the message's getters meanwhile are refused (`encoding`).
   */
  private prepare(kind: number, actorKind: number, key: Key, msg: unknown, high?: boolean): OutboundLane | Move;
  private prepare(kind: number, actorKind: number, key: Key, msg: unknown, high: boolean, inPlace: boolean): OutboundLane | Move | null;
  private prepare(kind: number, actorKind: number, key: Key, msg: unknown, high = false, inPlace = false): OutboundLane | Move | null {
    const lane = this.route(kind, actorKind, key, high);
    this.encoding = true;
    try {
      if (inPlace && this.tryWriteInPlace(lane, msg)) return null;
      this.encodeInto(this.frame, lane, msg);
    } finally {
      this.encoding = false;
    }
    return this.holdOr(lane);
  }

  /**
   * The key half of prepare: validates the key (TypeError/RangeError), fills the scratch frame's
   * key fields (its codec holds only the key's KEY_UTF16 flag so far) and returns the lane of the
   * key's partition. Nothing is written.
   */
  private route(kind: number, actorKind: number, key: Key, high: boolean): OutboundLane {
    if (this.failure) throw this.failure;
    if (this.closed) throw new RuntimeClosedError('runtime is closed');
    if (this.encoding) throw new Error('a message was sent from a getter or proxy of a message being encoded: send it after that send returns');
    const keyString = keyToString(key);
    const keyHash = fnv1a32(keyString);
    const partition = keyHash % this.partitions;
    const keyUtf16 = lastHadLoneSurrogate;
    const keyLength = keyUtf16 ? keyString.length * 2 : lastUtf8Length;
    if (keyLength > MAX_KEY_BYTES) throw new RangeError(`key of ${keyLength} bytes is longer than the ${MAX_KEY_BYTES} allowed`);
    const lane = this.laneOf(partition, high);
    if (lane.dead) throw lane.dead;
    // A producer in a tight loop turns the event loop only when a ring is full: relay the
    // workers' ctx.sends from here too, so they do not wait for that.
    if ((++this.sendCount & 255) === 0) for (const relay of this.relays) relay.readNow();
    const frame = this.frame;
    frame.kind = kind;
    frame.actorKind = actorKind;
    frame.codec = keyUtf16 ? KEY_UTF16 : 0;
    frame.partition = partition;
    frame.key = keyString;
    frame.keyLength = keyLength;
    frame.keyHash = keyHash;
    frame.askId = 0;
    return lane;
  }

  /** The message half of prepare: encodes `msg` into the codec's buffer as the frame's payload (TypeError/RangeError before anything is written). Only from prepare (see `encoding`). */
  private encodeInto(frame: OutboundFrame, lane: OutboundLane, msg: unknown): void {
    const codec = this.codec;
    const payload = codec.encode(msg);
    lane.frameSize(frame.keyLength, codec.lastEnd - codec.lastStart);
    frame.codec |= codec.lastCodec;
    frame.payload = payload;
    frame.payloadStart = codec.lastStart;
    frame.payloadEnd = codec.lastEnd;
  }

  /** The lane, or the partition's Move (or pause) while it has one. */
  private holdOr(lane: OutboundLane): OutboundLane | Move {
    return this.anyHeld() ? (this.holdOf(this.frame.partition) ?? lane) : lane;
  }

  /**
   * A tell without delay written straight into its lane's ring, the message encoded in place (see
   * OutboundLane.tryWriteEncoding), after route(); only from prepare (see `encoding`). False,
   * nothing written, whenever the usual way must take it: a partition moving or paused, a queue
   * or no room in the lane, a message the shape encoder does not take.
   */
  private tryWriteInPlace(lane: OutboundLane, msg: unknown): boolean {
    if (this.anyHeld()) return false;
    if (!lane.tryWriteEncoding(this.frame, msg, this.codec)) return false;
    this.partitionSent[this.frame.partition]!++;
    return true;
  }

  /** Whether any partition is moving or paused: the one check the send path pays while none is. */
  private anyHeld(): boolean {
    return this.moves.size > 0 || this.pausedHolds.size > 0;
  }

  /** Where a partition's messages wait instead of being written: its move, or its pause. */
  private holdOf(partition: number): Move | undefined {
    return this.moves.get(partition) ?? this.pausedHolds.get(partition);
  }

  // ---- sending -------------------------------------------------------------------------------

  /**
   * Enqueues without waiting; false when the target ring is full, or the key's partition is
   * moving to another thread (nothing enqueued then; send() waits in both cases). With `delayMs`,
   * queues it until due; false when MAX_DELAYED messages are already waiting.
   */
  trySend(key: Key, msg: unknown, options?: SendOptions): boolean {
    return this.trySendTo(this.defaultKind(), key, msg, options);
  }

  /**
   * Enqueues, waiting for ring space without blocking the event loop. Never drops. With `delayMs`,
   * resolves once queued until due (a RangeError when MAX_DELAYED messages already wait).
   */
  send(key: Key, msg: unknown, options?: SendOptions): Promise<void> {
    let actorKind: number;
    try {
      actorKind = this.defaultKind();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.sendTo(actorKind, key, msg, options);
  }

  /** Sends a message and resolves with what the key's receive returned (or rejects with its error). */
  ask<R = unknown>(key: Key, msg: unknown, options: AskOptions = {}): Promise<R> {
    let actorKind: number;
    try {
      actorKind = this.defaultKind();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.askTo<R>(actorKind, key, msg, options);
  }

  /**
   * Sends the message to every actor kind subscribed to `topic` (options.topics), for the same
   * key: each kind's actor of that key gets it, in that kind's per-key order.
   */
  async publish(topic: string, key: Key, msg: unknown, options?: SendOptions): Promise<void> {
    const kinds = this.options.topics.get(topic);
    if (kinds === undefined) throw new RangeError(`no topic '${String(topic)}' (options.topics)`);
    const sends = kinds.map((k) => this.sendTo(k, key, msg, options));
    await Promise.all(sends);
  }

  /** @internal (rt.kind(name).trySend) */
  trySendTo(actorKind: number, key: Key, msg: unknown, options?: SendOptions): boolean {
    const delayMs = delayOf(options);
    const high = isHigh(options);
    const target = this.prepare(KIND_TELL, actorKind, key, msg, high, delayMs === 0);
    if (target === null) return true; // written in place
    if (delayMs > 0) {
      if (this.delays.size >= MAX_DELAYED) return false;
      this.delays.push(performance.now() + delayMs, this.frame, high);
      return true;
    }
    // While its partition moves, a message can only wait: that is send()'s job (see there).
    if (target instanceof Move || !target.tryWrite(this.frame)) return false;
    this.partitionSent[this.frame.partition]!++;
    return true;
  }

  /** @internal (rt.kind(name).send) */
  sendTo(actorKind: number, key: Key, msg: unknown, options?: SendOptions): Promise<void> {
    let target: OutboundLane | Move;
    try {
      const delayMs = delayOf(options);
      const high = isHigh(options);
      const prepared = this.prepare(KIND_TELL, actorKind, key, msg, high, delayMs === 0);
      if (prepared === null) return RESOLVED; // written in place
      target = prepared;
      if (delayMs > 0) {
        if (this.delays.size >= MAX_DELAYED) throw new RangeError(`${MAX_DELAYED} delayed messages are already waiting`);
        this.delays.push(performance.now() + delayMs, this.frame, high);
        return RESOLVED;
      }
      this.partitionSent[this.frame.partition]!++;
      if (target instanceof Move) {
        const room = target.hasRoom;
        target.hold(this.frame, high);
        // Resolved from the event loop, not a microtask: a tight producer loop then gives the
        // move's steps (which run there) their turns. Past the hold limit it waits for the move.
        return room ? new Promise((resolve) => setImmediate(resolve)) : target.done;
      }
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (target.tryWrite(this.frame)) return RESOLVED;
    return target.enqueue(this.frame);
  }

  /** @internal (rt.kind(name).ask) */
  askTo<R = unknown>(actorKind: number, key: Key, msg: unknown, options: AskOptions = {}): Promise<R> {
    let target: OutboundLane | Move;
    try {
      const { timeoutMs, signal } = options ?? {};
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) {
        throw new RangeError(`timeoutMs must be a non-negative number, got ${String(timeoutMs)}`);
      }
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
      if (signal?.aborted) throw new AbortError('ask aborted before it was sent', { cause: signal.reason });
      target = this.prepare(KIND_ASK, actorKind, key, msg, isHigh(options));
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const askId = this.nextAskId;
    this.nextAskId = this.nextAskId >= 0xffffffff ? 1 : this.nextAskId + 1;
    const frame = this.frame;
    frame.askId = askId;
    // A held ask is on no thread yet (-1): a thread given up meanwhile does not reject it.
    const thread = target instanceof Move ? -1 : this.table[frame.partition]!;
    const promise = new Promise<R>((resolve, reject) => {
      const pending: PendingAsk = { resolve: resolve as (v: unknown) => void, reject, thread, timer: undefined, signal: options.signal, onAbort: undefined, sentAt: performance.now() };
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
    if (target instanceof Move) target.hold(frame, isHigh(options)); // its reply is expected once written
    else this.writeAsk(target, frame, thread);
    return promise;
  }

  /** Writes an ask frame to a thread's lane, expecting its reply there. */
  private writeAsk(lane: OutboundLane, frame: OutboundFrame, thread: number): void {
    const askId = frame.askId;
    const replies = this.replies[thread]!;
    replies.expectReply(askId);
    const pending = this.pendingAsks.get(askId);
    if (pending) pending.thread = thread;
    if (!lane.tryWrite(frame)) {
      lane.enqueue(frame).catch((error: Error) => {
        replies.cancelExpected(askId);
        this.settleAsk(askId, false, error);
      });
    }
  }

  private readonly onReply = (askId: number, ok: boolean, value: unknown): void => {
    const pending = this.pendingAsks.get(askId);
    if (pending) this.askLatency.recordValue(Math.max(1, Math.round((performance.now() - pending.sentAt) * 1e6)));
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

  /**
   * Writes a frame that is not from a caller waiting on it (a due delayed send, a held frame,
   * a relayed ctx.send): now, behind what waits in its lane, or held while its partition moves.
   */
  private forward(frame: OutboundFrame, high: boolean): void {
    const hold = this.holdOf(frame.partition);
    if (hold) {
      hold.hold(frame, high);
      return;
    }
    const thread = this.table[frame.partition]!;
    const lane = (high ? this.highLanes : this.lanes)[thread]!;
    if (lane.dead) {
      if (frame.kind === KIND_ASK) this.settleAsk(frame.askId, false, lane.dead);
      return; // the runtime gave up on that thread; its sends fail alike
    }
    if (frame.kind === KIND_ASK) this.writeAsk(lane, frame, thread);
    else if (!lane.tryWrite(frame)) lane.enqueue(frame).catch(() => {}); // rejected only when the thread is given up
  }

  /** Delayed frames that came due: into their rings now (behind any send already waiting there). */
  private release(due: DelayedFrame[]): void {
    for (const { frame, high } of due) {
      this.partitionSent[frame.partition]!++;
      this.forward(frame, high);
    }
  }

  /** A ctx.send frame from a worker's outbox (see relay.ts): copied as it is when it can be. */
  private readonly routeEncoded = (bytes: Buffer, at: number, length: number): void => {
    const partition = readU16(bytes, at + 2);
    this.partitionSent[partition]!++;
    if (this.holdOf(partition) === undefined) {
      const lane = this.lanes[this.table[partition]!]!;
      if (lane.dead || lane.tryWriteEncoded(bytes, at, length)) return;
    }
    this.forward(frameFromEncoded(bytes, at, length), false);
  };

  // ---- lifecycle -----------------------------------------------------------------------------

  /**
   * Resolves when every message enqueued (or waiting to be) before the call has been processed,
   * and every message those sent on with ctx.send, and so on until nothing is left in flight.
   */
  async drain(): Promise<void> {
    for (;;) {
      await Promise.all([...this.moves.values(), ...this.pausedHolds.values()].map((m) => m.done));
      const waits: Promise<void>[] = [];
      for (let t = 0; t < this.threads; t++) waits.push(this.drainThread(t));
      await Promise.all(waits);
      // What those messages sent on: relayed by now, or soon (then drain the lanes again).
      let quiet = this.moves.size === 0 && this.pausedHolds.size === 0;
      const relayWaits: Promise<void>[] = [];
      for (let t = 0; t < this.threads; t++) {
        const produced = this.counters.produced(t);
        if (((this.relays[t]!.relayed - produced) | 0) < 0) {
          quiet = false;
          relayWaits.push(this.relays[t]!.whenRelayed(produced));
        }
      }
      if (quiet && relayWaits.length === 0 && this.lanesDrained()) return;
      await Promise.all(relayWaits);
    }
  }

  /** Resolves when thread t has processed everything written (or waiting) for it so far. */
  private drainThread(thread: number): Promise<void> {
    const waits = [this.lanes[thread]!, this.highLanes[thread]!].map((lane, index) => {
      const target = (lane.written + lane.waitingCount) | 0;
      return this.counters.waitForCompleted(thread, index, target, () => lane.dead);
    });
    return Promise.all(waits).then(() => {});
  }

  /** True when every lane's watermark is at what was written (nothing came in since the wait). */
  private lanesDrained(): boolean {
    for (let t = 0; t < this.threads; t++) {
      for (const [index, lane] of [this.lanes[t]!, this.highLanes[t]!].entries()) {
        if (lane.dead) continue;
        if (lane.waitingCount > 0 || ((this.counters.watermark(t, index) - lane.written) | 0) < 0) return false;
      }
    }
    return true;
  }

  // ---- topology: moving partitions, resizing ---------------------------------------------------

  /** The partition → thread table as it is now (a copy). */
  mapping(): number[] {
    return [...this.table];
  }

  /**
   * Moves a partition to another thread while traffic flows. Messages sent to it meanwhile are
   * held (in order); the old thread finishes what it has, its keys' state moves over (structured
   * clone, or the actor's exportState/importState), then the held messages go to the new thread.
   * Per key nothing is lost, duplicated or reordered. Resolves when the move is complete.
   */
  async rebalance(partition: number, thread: number): Promise<void> {
    this.checkPartition(partition);
    this.checkThread(thread);
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.closed) throw new RuntimeClosedError('runtime is closed');
      const current = this.moves.get(partition);
      if (current === undefined) break;
      await current.done; // one move of a partition at a time
    }
    this.checkThread(thread); // again: resize may be removing it by now
    if (this.table[partition] === thread) return;
    const move = new Move(partition, this.options.ringBytes);
    this.moves.set(partition, move);
    let moved = false;
    try {
      const from = this.table[partition]!;
      const state = await this.takePartition(from, partition);
      try {
        await this.onThread(thread, (c) => c.importPartition(partition, state), 'retry');
      } catch (error) {
        // The state goes back where it came from; the partition stays there.
        await this.onThread(from, (c) => c.importPartition(partition, state), 'retry').catch(() => {});
        throw error;
      }
      this.table[partition] = thread;
      moved = true;
    } finally {
      this.moves.delete(partition);
      // Everything held, in order, to wherever the partition is now (the old thread if it
      // failed), or into its pause hold.
      for (const { frame, high } of move.held) this.forward(frame, high);
      if (moved) this.pauses.record(performance.now() - move.started);
      else this.failedMoves++;
      move.finish();
    }
  }

  /**
   * Step 1 of a move: waits until `from` has processed everything sent to it so far, then takes
   * the partition's state out. A crash of `from` meanwhile: its replacement replays the partition's
   * unfinished messages, so wait for it and do it again.
   */
  private async takePartition(from: number, partition: number): Promise<Uint8Array> {
    for (;;) {
      await this.drainThread(from);
      const state = await this.onThread(from, (c) => c.exportPartition(partition), () => null);
      if (state !== null) return state; // else `from` crashed: drain its replacement, and again
    }
  }

  /**
   * Runs a control call on thread t's worker. Should the worker die first, waits for its
   * replacement, then calls again (`'retry'`) or returns `onCrash()` (the call's effect on the
   * dead worker is gone with it). Rejects when the thread is given up or removed.
   */
  private async onThread<T>(thread: number, call: (control: RemoteControl) => Promise<T>, onCrash: (() => T) | 'retry'): Promise<T> {
    for (;;) {
      if (thread >= this.threads) throw new RangeError(`thread ${thread} was removed`);
      if (this.failure) throw this.failure;
      if (this.lanes[thread]!.dead) throw this.lanes[thread]!.dead;
      const worker = this.workers[thread]!;
      const waiters = this.controlWaiters[thread]!;
      let wake!: () => void;
      const crashed = new Promise<typeof CRASHED>((resolve) => (wake = () => resolve(CRASHED)));
      waiters.add(wake);
      let outcome: T | typeof CRASHED;
      try {
        outcome = await Promise.race([call(this.controls[thread]!), crashed]);
      } finally {
        waiters.delete(wake); // nothing stays attached to long-lived promises (one call, one waiter)
      }
      if (outcome !== CRASHED) return outcome;
      await this.whenReplaced(thread, worker);
      if (onCrash !== 'retry') return onCrash();
    }
  }

  /** Resolves once thread t runs a worker other than `old` that is ready (a restart). */
  private async whenReplaced(thread: number, old: Worker): Promise<void> {
    while (this.workers[thread] === old) {
      if (thread >= this.threads) throw new RangeError(`thread ${thread} was removed`);
      if (this.failure) throw this.failure;
      if (this.lanes[thread]!.dead) throw this.lanes[thread]!.dead;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.ready[thread];
  }

  private checkThread(thread: number): void {
    const limit = Math.min(this.threads, this.keepThreads);
    if (!Number.isInteger(thread) || thread < 0 || thread >= limit) {
      const why = limit < this.threads ? ` (threads ${limit}.. are being removed)` : '';
      throw new RangeError(`thread must be an integer in 0..${limit - 1}, got ${thread}${why}`);
    }
  }

  /** Threads at this index and up are being removed (resize): no partition may move there. */
  private keepThreads = Infinity;

  /**
   * Moves partitions so that the table becomes what `mapping` gives (a strategy, an array or a
   * function, as createRuntime's option) for the current threads. Partitions move concurrently,
   * each with rebalance's guarantees. Resolves when every move is complete.
   */
  setMapping(mapping: Mapping): Promise<void> {
    return this.changeTopology(async () => {
      const target = buildPartitionTable(mapping, this.partitions, this.threads);
      await this.moveTo(target);
      this.currentMapping = mapping;
    });
  }

  /**
   * Adds or removes worker threads while traffic flows: new threads start first, then partitions
   * move (the runtime's mapping, recomputed for the new count; an array mapping becomes 'modulo'),
   * then removed threads (the highest indexes) stop. Resolves when done.
   */
  resize(threads: number): Promise<void> {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      return Promise.reject(new RangeError(`threads must be an integer between 1 and ${MAX_THREADS}, got ${threads}`));
    }
    return this.changeTopology(async () => {
      const before = this.threads;
      if (threads > before) {
        for (let t = before; t < threads; t++) {
          try {
            await this.addThread();
          } catch (error) {
            await this.forgetLastThread(); // a thread that did not start is not left behind
            throw error;
          }
        }
      }
      const mapping = Array.isArray(this.currentMapping) ? 'modulo' : this.currentMapping;
      if (threads < before) this.keepThreads = threads;
      try {
        await this.moveTo(buildPartitionTable(mapping, this.partitions, threads));
        if (Array.isArray(this.currentMapping)) this.currentMapping = 'modulo';
        // Moves started elsewhere (rebalance calls) may still be heading for a removed thread.
        for (;;) {
          await Promise.all([...this.moves.values()].map((m) => m.done));
          const stray = [...this.table.keys()].filter((p) => this.table[p]! >= threads);
          if (stray.length === 0) break;
          await Promise.all(stray.map((p) => this.rebalance(p, p % threads)));
        }
        for (let t = this.threads - 1; t >= threads; t--) await this.removeLastThread();
      } finally {
        await Promise.allSettled([...this.moves.values()].map((m) => m.done));
        this.keepThreads = Infinity;
      }
    });
  }

  /** The mapping resize recomputes (createRuntime's, then the last setMapping's). */
  private currentMapping: Mapping;

  /** Runs topology changes one after another. */
  private changeTopology(change: () => Promise<void>): Promise<void> {
    const run = this.topologyChange.then(() => {
      if (this.failure) throw this.failure;
      if (this.closed) throw new RuntimeClosedError('runtime is closed');
      return change();
    });
    this.topologyChange = run.catch(() => {});
    return run;
  }

  private async moveTo(target: Uint16Array): Promise<void> {
    const moves: Promise<void>[] = [];
    for (let p = 0; p < this.partitions; p++) if (target[p] !== this.table[p]) moves.push(this.rebalance(p, target[p]!));
    await Promise.all(moves);
  }

  /** Stops the highest-index thread (its partitions are elsewhere by now) and forgets it. */
  private async removeLastThread(): Promise<void> {
    const t = this.threads - 1;
    if (this.table.includes(t)) throw new Error(`thread ${t} still owns partitions; cannot remove it`);
    await this.drainThread(t);
    const lane = this.lanes[t]!;
    this.stopSent[t] = true;
    const stop = new OutboundFrame(KIND_STOP);
    if (!lane.tryWrite(stop)) void lane.enqueue(stop).catch(() => {});
    const worker = this.workers[t]!;
    const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
    await this.exited[t];
    clearTimeout(timer);
    this.relays[t]!.readNow(); // its last ctx.sends go on
    await this.forgetLastThread();
  }

  /** Drops the highest thread's main-side state (its worker has exited, or never started). */
  private async forgetLastThread(): Promise<void> {
    const t = this.threads - 1;
    const worker = this.workers[t];
    if (worker) {
      this.stopSent[t] = true;
      await worker.terminate();
      await this.exited[t];
    }
    this.relays[t]?.close();
    this.replies[t]?.close();
    this.controlPorts[t]?.close();
    this.supervisor?.forget(t);
    for (const list of [this.lanes, this.highLanes, this.replies, this.relays, this.inits, this.workers, this.controls, this.controlPorts, this.exited, this.ready, this.stopSent, this.lastError, this.suspects, this.controlWaiters]) {
      list.length = t;
    }
  }

  /**
   * Every `intervalMs`, moves one partition from the busiest thread (busy time over the last
   * interval, then ring backlog) to the least busy one, when the gap is worth it (the busiest at
   * least `minImbalance` times as busy). At most one move per interval, so it does not thrash.
   * Returns a function that stops it.
   */
  autoBalance(options: AutoBalanceOptions = {}): () => void {
    const intervalMs = options.intervalMs ?? 1000;
    const minImbalance = options.minImbalance ?? 1.5;
    if (!(intervalMs >= 10) || !Number.isFinite(intervalMs)) throw new RangeError(`intervalMs must be at least 10, got ${intervalMs}`);
    if (!(minImbalance >= 1)) throw new RangeError(`minImbalance must be at least 1, got ${minImbalance}`);
    if (this.autoBalancer) clearInterval(this.autoBalancer);
    let lastBusy = Array.from({ length: this.threads }, (_, t) => this.counters.busyMs[t]!);
    let lastDone = this.counters.completedByPartition();
    let moving = false;
    const timer = setInterval(() => {
      if (moving || this.closed || this.threads < 2) return;
      // One read of each counter per tick: what finishes after it counts in the next tick's delta.
      const busyNow = Array.from({ length: this.threads }, (_, t) => this.counters.busyMs[t]!);
      const doneNow = this.counters.completedByPartition();
      const busy = busyNow.map((b, t) => b - (lastBusy[t] ?? 0));
      const done = doneNow.map((v, p) => v - lastDone[p]!);
      lastBusy = busyNow;
      lastDone = doneNow;
      const load = busy.map((b, t) => b + this.lanes[t]!.writer.ring.usedBytes() / 1e6);
      const hot = load.indexOf(Math.max(...load));
      const cold = load.indexOf(Math.min(...load));
      if (hot === cold || load[hot]! < minImbalance * Math.max(load[cold]!, 1e-3)) return;
      // The hot thread's partition whose share of its work comes closest to half the gap.
      const owned = [...this.table.keys()].filter((p) => this.table[p] === hot && done[p]! > 0);
      if (owned.length < 2) return;
      const total = owned.reduce((n, p) => n + done[p]!, 0);
      const want = ((load[hot]! - load[cold]!) / 2 / load[hot]!) * total;
      const pick = owned.reduce((best, p) => (Math.abs(done[p]! - want) < Math.abs(done[best]! - want) ? p : best));
      moving = true;
      this.rebalance(pick, cold)
        .then(() => this.emit('rebalanced', { partition: pick, from: hot, to: cold, auto: true }))
        .catch(() => {})
        .finally(() => (moving = false));
    }, intervalMs);
    timer.unref();
    this.autoBalancer = timer;
    return () => {
      clearInterval(timer);
      if (this.autoBalancer === timer) this.autoBalancer = null;
    };
  }

  /**
   * Holds a partition's messages from now on, on the main thread and in order, until resume();
   * what is already in its thread's ring still runs, and every other partition goes on. Bounded
   * like a move's hold: trySend says false, send() waits past `ringBytes` held. drain() and close()
   * wait for paused messages (close() resumes first). A paused partition can still move.
   */
  pause(partition: number): void {
    this.checkPartition(partition);
    if (this.closed) throw new RuntimeClosedError('runtime is closed');
    if (!this.pausedHolds.has(partition)) this.pausedHolds.set(partition, new Move(partition, this.options.ringBytes));
  }

  /** Lets a paused partition's held messages go (in order) to its thread. */
  resume(partition: number): void {
    this.checkPartition(partition);
    const hold = this.pausedHolds.get(partition);
    if (hold === undefined) return;
    this.pausedHolds.delete(partition);
    for (const { frame, high } of hold.held) this.forward(frame, high);
    hold.finish();
  }

  /** A call to thread t that failed because resize removed the thread (meanwhile): undefined. */
  private async skipIfRemoved<T>(thread: number, call: Promise<T>): Promise<T | undefined> {
    try {
      return await call;
    } catch (error) {
      if (thread >= Math.min(this.threads, this.keepThreads)) return undefined;
      throw error;
    }
  }

  /** Partitions paused now. */
  pausedPartitions(): number[] {
    return [...this.pausedHolds.keys()].sort((a, b) => a - b);
  }

  /**
   * Runs every actor kind's `onBroadcast(msg)` once on every thread (config reloads, cache
   * invalidation), between messages. Resolves when all have returned; messages sent after that
   * see its effect. Not ordered with messages sent before it that are still in the rings.
   */
  async broadcast(msg: unknown): Promise<void> {
    if (this.closed) throw new RuntimeClosedError('runtime is closed');
    this.codec.encode(msg); // the same refusals as send (TypeError for a function, ...)
    // A worker that crashes first runs it again as its replacement. (One that crashes after it ran
    // starts with fresh module state, as after any crash: keep what must survive elsewhere.)
    await Promise.all(Array.from({ length: this.threads }, (_, t) => this.skipIfRemoved(t, this.onThread(t, (c) => c.broadcast(msg), 'retry'))));
  }

  /**
   * Each worker's own report (actors per kind, in flight, paused partitions, passivated keys,
   * heap), over the control plane. `collectGarbage`: each worker runs a full GC first, when the
   * process runs with --expose-gc (for memory figures; slow).
   */
  async snapshots(options: { collectGarbage?: boolean } = {}): Promise<WorkerSnapshot[]> {
    const collect = options.collectGarbage === true;
    const all = await Promise.all(Array.from({ length: this.threads }, (_, t) => this.skipIfRemoved(t, this.onThread(t, (c) => c.snapshot(collect), 'retry'))));
    return all.filter((s): s is WorkerSnapshot => s !== undefined);
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

  /** After every worker is gone: the main-side ends of their rings and ports. */
  private closeChannels(): void {
    for (const replies of this.replies) replies.close();
    for (const relay of this.relays) relay.close();
    for (const port of this.controlPorts) port.close();
  }

  private async shutdown(timeoutMs: number | undefined): Promise<CloseReport> {
    this.closed = true;
    if (this.autoBalancer) clearInterval(this.autoBalancer);
    for (const p of this.pausedPartitions()) this.resume(p); // what waits there was sent: it runs
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
      const stop = new OutboundFrame(KIND_STOP);
      if (!lane.tryWrite(stop)) void lane.enqueue(stop).catch(() => {});
      const worker = this.workers[t]!;
      const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
      void this.exited[t]!.then(() => clearTimeout(timer));
    }
    await Promise.all(this.exited);
    this.closeChannels();
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
    // Held by moves (and pauses, resumed into them): accepted sends, reported like the delayed ones.
    for (const hold of [...this.moves.values(), ...this.pausedHolds.values()]) {
      for (const { frame } of hold.held.splice(0)) {
        if (frame.kind === KIND_ASK) this.settleAsk(frame.askId, false, gone);
        else this.reportUnprocessedDelay(frame);
        unprocessed++;
      }
    }
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
      this.counters.wakeAll(t);
    }
    this.closeChannels();
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
        busyMs: Math.round(this.counters.busyMs[t]! * 1000) / 1000,
        depth: 0,
        written: lane.written + this.highLanes[t]!.written,
        completed: this.counters.completed(t) >>> 0,
      });
    }
    const partitions: PartitionStats[] = [];
    let sent = 0;
    let processed = 0;
    const now = performance.timeOrigin + performance.now();
    for (let p = 0; p < this.partitions; p++) {
      const thread = this.table[p]!;
      const partitionSent = this.partitionSent[p]!;
      const partitionProcessed = this.counters.partitionCompleted(p);
      const depth = Math.max(0, partitionSent - partitionProcessed);
      const lagMs = depth > 0 ? Math.max(0, Math.round(now - this.counters.partitionLastDone(p))) : 0;
      const entry = { partition: p, thread, sent: partitionSent, processed: partitionProcessed, depth, lagMs, moving: this.moves.has(p), paused: this.pausedHolds.has(p) };
      partitions.push(entry);
      const ts = threads[thread]!;
      ts.partitions++;
      ts.sent += entry.sent;
      ts.processed += entry.processed;
      ts.depth += depth;
      sent += entry.sent;
      processed += entry.processed;
    }
    const failed = threads.reduce((n, t) => n + t.failed, 0);
    const h = this.pauses.histogram;
    const ms = (ns: number): number => Math.round(ns / 1000) / 1000;
    const handoffs = { count: this.pauses.moves, failed: this.failedMoves, inProgress: this.moves.size, p50Ms: ms(h.getValueAtPercentile(50)), p99Ms: ms(h.getValueAtPercentile(99)), maxMs: ms(h.maxValue) };
    return { threads, partitions, sent, processed, failed, pendingAsks: this.pendingAsks.size, delayed: this.delays.size, handoffs, deadLetters: this.deadLetterCount, closed: this.closed };
  }

  /**
   * The runtime's metrics in Prometheus text format (version 0.0.4), for a service's `/metrics`:
   * message counters, backlog gauges per thread and partition, busy time, restarts, dead letters,
   * and summaries of ask latency (send → reply) and of partition hand-off pauses.
   */
  metrics(): string {
    const s = this.stats();
    const perThread = (pick: (t: ThreadStats) => number) => s.threads.map((t) => ({ labels: { thread: t.thread }, value: pick(t) }));
    const perPartition = (pick: (p: PartitionStats) => number) => s.partitions.map((p) => ({ labels: { partition: p.partition, thread: p.thread }, value: pick(p) }));
    const family = (name: string, help: string, type: MetricFamily['type'], samples: MetricFamily['samples']): MetricFamily => ({ name, help, type, samples });
    return renderPrometheus([
      family('ringmaster_threads', 'Worker threads.', 'gauge', [{ value: this.threads }]),
      family('ringmaster_messages_written_total', 'Messages (sends, asks, relayed ctx.sends) written to the thread\'s rings.', 'counter', perThread((t) => t.written)),
      family('ringmaster_messages_processed_total', 'Messages whose receive finished on the thread (redeliveries after a crash included).', 'counter', perThread((t) => t.completed)),
      family('ringmaster_messages_failed_total', 'Sends whose receive failed its last attempt.', 'counter', perThread((t) => t.failed)),
      family('ringmaster_thread_busy_seconds_total', 'Time the thread spent handling messages.', 'counter', perThread((t) => t.busyMs / 1000)),
      family('ringmaster_worker_restarts_total', 'Worker restarts after a crash.', 'counter', perThread((t) => t.restarts)),
      family('ringmaster_ring_used_bytes', 'Bytes in the thread\'s ring not released yet.', 'gauge', perThread((t) => t.ringUsedBytes)),
      family('ringmaster_sends_waiting', 'send() calls waiting for ring space.', 'gauge', perThread((t) => t.waiting)),
      family('ringmaster_partition_depth', 'Messages sent to the partition and not processed yet.', 'gauge', perPartition((p) => p.depth)),
      family('ringmaster_partition_lag_seconds', 'With messages waiting: time since one of the partition\'s messages last finished.', 'gauge', perPartition((p) => p.lagMs / 1000)),
      family('ringmaster_partition_processed_total', 'Messages processed per partition.', 'counter', s.partitions.map((p) => ({ labels: { partition: p.partition }, value: p.processed }))),
      family('ringmaster_partition_paused', '1 while the partition is paused.', 'gauge', s.partitions.map((p) => ({ labels: { partition: p.partition }, value: p.paused ? 1 : 0 }))),
      family('ringmaster_pending_asks', 'Asks waiting for their reply.', 'gauge', [{ value: s.pendingAsks }]),
      family('ringmaster_delayed_messages', 'Delayed sends not due yet.', 'gauge', [{ value: s.delayed }]),
      family('ringmaster_dead_letters_total', 'Messages set aside instead of delivered.', 'counter', [{ value: s.deadLetters }]),
      family('ringmaster_handoffs_total', 'Partition moves completed.', 'counter', [{ value: s.handoffs.count }]),
      family('ringmaster_handoffs_failed_total', 'Partition moves that failed (the partition stayed).', 'counter', [{ value: s.handoffs.failed }]),
      summaryFamily('ringmaster_ask_latency_seconds', 'Ask round trip, send to reply (HDR histogram).', [{ source: histogramQuantiles(this.askLatency) }]),
      summaryFamily('ringmaster_handoff_pause_seconds', 'How long a moving partition\'s messages were held (HDR histogram).', [{ source: histogramQuantiles(this.pauses.histogram) }]),
    ]);
  }
}

/**
 * Starts a runtime: validates the options, spawns the worker threads and resolves once each has
 * loaded the actor module. Rejects (leaving no thread running) on bad options or a bad module.
 */
export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const resolved = resolveOptions(options);
  const table = buildPartitionTable(resolved.mapping, resolved.partitions, resolved.threads);
  for (const { url } of resolved.kinds) {
    if (!actorFileExists(url)) throw new ActorLoadError(`actor module not found: ${fileURLToPath(url)}`);
  }
  const runtime = new Runtime(resolved, table);
  await runtime.start();
  return runtime;
}

/**
 * One actor kind of a runtime (rt.kind(name)): the runtime's send API, addressed to that kind's
 * actors. Keys map to partitions exactly as for the runtime: one key of two kinds lives on the
 * same thread.
 */
export class ActorKind {
  /** @internal use rt.kind(name) */
  constructor(
    private readonly runtime: Runtime,
    readonly name: string,
    private readonly index: number,
  ) {}

  trySend(key: Key, msg: unknown, options?: SendOptions): boolean {
    return this.runtime.trySendTo(this.index, key, msg, options);
  }

  send(key: Key, msg: unknown, options?: SendOptions): Promise<void> {
    return this.runtime.sendTo(this.index, key, msg, options);
  }

  ask<R = unknown>(key: Key, msg: unknown, options?: AskOptions): Promise<R> {
    return this.runtime.askTo<R>(this.index, key, msg, options);
  }

  partitionOf(key: Key): number {
    return this.runtime.partitionOf(key);
  }
}
