/**
 * Worker thread entry: loads the actor module, then consumes this thread's ring.
 *
 * The consume loop (pump) reads every published frame, hands each to its key's actor, and
 * releases ring space only up to the oldest frame still unfinished (an async receive or a message
 * queued behind one), so frames are never given back before they are handled. When the ring runs
 * dry it spins briefly, then parks: synchronously (Atomics.wait) when nothing async is in flight,
 * or with Atomics.waitAsync when promise continuations must run. A long burst yields to the event
 * loop every few milliseconds (the clock is read every 16 frames) so timers and async
 * continuations keep running, and at once after the message in hand when the ring's alert is up.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { RingBuffer, RingReader, RingWriter } from '../shm/ring.js';
import { parkAsync, parkSync, spinForData, waitForSpaceSync } from '../shm/wait.js';
import { deserialize, serialize } from 'node:v8';
import { isDefinedActor, type ActorDefinition, type ContextSendOptions } from '../actors/define.js';
import { MessageCodec } from './codec.js';
import { SharedStructures } from './structures.js';
import { copyBytes } from './bytes.js';
import { errorToData, PoisonMessageError } from './errors.js';
import { KEY_UTF16, KIND_STOP, KIND_TELL, MAX_KEY_BYTES, MessageFrameView, REPLY_ERROR, REPLY_HEADER_BYTES, REPLY_OK, writeReplyHeader } from './frame.js';
import { fnv1a32, keyToString, lastHadLoneSurrogate, lastUtf8Length, type Key } from './key.js';
import { Mailboxes, type Completion, type Delivery, type ExportedActor, type ThreadShared } from './mailboxes.js';
import { Outbox } from './outbox.js';
import { OutboundFrame } from './frame-writer.js';
import { exposeControl, type WorkerControl, type WorkerSnapshot } from './control.js';
import { SharedCounters } from './shared-counters.js';
import type { HostMessage, WorkerInit } from './protocol.js';

/** Longest stretch of synchronous consuming before the event loop gets a turn. */
const SLICE_MS = 5;
/** How long a reply waits for ring space before asking the main thread to read (see writeReply). */
const REPLY_SPACE_WAIT_MS = 1000;
/** With async receives in flight, frames handled between event-loop turns (their continuations run then). */
const ASYNC_BATCH = 64;

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (message: HostMessage): void => port.postMessage(message);

/** Posts a report that carries a user's message; one the port cannot clone goes without its body. */
function postCarrying(report: Extract<HostMessage, { message: unknown }>): void {
  try {
    post(report);
  } catch {
    post({ ...report, message: undefined });
  }
}

async function loadActor(url: string): Promise<ActorDefinition<unknown, unknown, unknown>> {
  const module = (await import(url)) as { default?: unknown };
  if (!isDefinedActor(module.default)) {
    throw new TypeError(`actor module ${url} does not default-export defineActor({...})`);
  }
  return module.default;
}

/** One inbound ring of this worker (lane 0: normal, lane 1: high priority) and its progress. */
class InboundLane {
  readonly ring: RingBuffer;
  readonly reader: RingReader;
  /** Unfinished deliveries by frame sequence number → frame start; the first bounds what may be released. */
  readonly unfinished = new Map<number, number>();
  /** Sequence number (frame header) of the frame after the last one read. */
  frameSeq: number;

  constructor(
    readonly index: number,
    sab: SharedArrayBuffer,
    resumeAt: number,
  ) {
    this.ring = new RingBuffer(sab);
    this.reader = new RingReader(this.ring);
    this.frameSeq = resumeAt;
  }

  /** Releases ring space up to the oldest unfinished frame; returns the done watermark. */
  progress(): number {
    // Map iteration follows insertion, i.e. frame order: the first entry is the oldest unfinished.
    const oldest = this.unfinished.entries().next().value;
    this.reader.release(oldest === undefined ? this.reader.cursor : oldest[1]); // a no-op when nothing new is released
    return (oldest === undefined ? this.frameSeq : oldest[0]) | 0;
  }
}

/** performance.timeOrigin, read once: it is a getter call, and it never changes. */
const TIME_ORIGIN = performance.timeOrigin;

/** Scratch frame for ctx.send (no allocation per message). */
const sendFrame = new OutboundFrame(KIND_TELL);

class WorkerHost implements Completion, ThreadShared, WorkerControl {
  private readonly normal: InboundLane;
  /** Drained before `normal`: `{ priority: 'high' }` sends. */
  private readonly high: InboundLane;
  private readonly lanes: InboundLane[];
  private readonly replies: RingWriter;
  private readonly counters: SharedCounters;
  /** Decodes the main thread's record frames with its structures; encodes plain (see codec.ts). */
  private readonly codec = new MessageCodec({ structures: new SharedStructures(init.structures) });
  /** One per actor kind, indexed as the frames' actor kind byte. */
  private readonly kinds: Mailboxes[];
  private readonly kindIndex = new Map<string, number>();
  private readonly outbox: Outbox;
  private readonly thread: number;
  /** ThreadShared: the batch clock and the deliveries in flight over all kinds. */
  now = performance.now();
  inFlight = 0;
  private completed: number;
  private failed: number;
  private stopping = false;
  /** The frame being handled (read in place). */
  private readonly frame = new MessageFrameView();
  private readonly delivery: Delivery = { msg: undefined, askId: 0, frameStart: 0, frameSeq: 0, lane: 0, attempt: 0 };
  /** Poison messages, as `${lane}:${seq}` (WorkerInit.skip). */
  private readonly skip = new Set(init.skip);

  constructor(definitions: ActorDefinition<unknown, unknown, unknown>[]) {
    this.thread = init.thread;
    this.counters = new SharedCounters(init.counters, init.partitions);
    // A restarted worker goes on from what its predecessor published (all 0 for a first start).
    this.normal = new InboundLane(0, init.inbound, this.counters.watermark(this.thread, 0));
    this.high = new InboundLane(1, init.inboundHigh, this.counters.watermark(this.thread, 1));
    this.lanes = [this.normal, this.high];
    this.replies = new RingWriter(new RingBuffer(init.replies));
    this.replies.endWaitForSpace(); // a crashed predecessor may have died waiting for reply space
    this.completed = this.counters.completed(this.thread);
    this.failed = this.counters.failed(this.thread);
    this.outbox = new Outbox(init.outbox, this.counters.produced(this.thread));
    this.kinds = definitions.map((d, i) => {
      this.kindIndex.set(init.kinds[i]!, i);
      return new Mailboxes(init.kinds[i]!, d, init.thread, this, init.retry, init.restarts, this);
    });
    this.startPassivation(definitions);
  }

  /** Sweeps idle keys of the kinds that passivate, at half their idle time (at least every 10 ms apart). */
  private startPassivation(definitions: ActorDefinition<unknown, unknown, unknown>[]): void {
    definitions.forEach((d, i) => {
      if (d.passivateAfterMs === undefined) return;
      const timer = setInterval(() => {
        this.now = performance.now();
        this.kinds[i]!.passivateIdle();
      }, Math.max(10, d.passivateAfterMs / 2));
      timer.unref(); // the control port keeps this thread alive; the sweep must not
    });
  }

  /** Consumes until both rings are dry and the thread should wait; see the module comment. */
  readonly pump = (): void => {
    const { normal, high } = this;
    let started = performance.now();
    this.now = started;
    let handled = 0;
    for (;;) {
      // The high lane first, every time: a high frame waits at most for the one frame in hand.
      let lane = high;
      let frameStart = high.reader.cursor;
      let at = high.reader.next();
      if (at < 0) {
        lane = normal;
        frameStart = normal.reader.cursor;
        at = normal.reader.next();
      }
      if (at >= 0) {
        this.handleFrame(lane, at, lane.reader.frameLength, frameStart);
        if (this.stopping) return;
        handled++;
        // Control-plane calls (an alert) wait for our event loop: a turn after the message in hand.
        if (normal.reader.takeAlert()) return this.yieldTurn(started);
        if (this.inFlight > 0 && handled % ASYNC_BATCH === 0) return this.yieldTurn(started);
        if ((handled & 15) === 0) {
          const now = performance.now();
          this.now = now;
          if (now - started > SLICE_MS) return this.yieldTurn(started);
          if ((handled & 255) === 0) this.publishProgress();
        }
        continue;
      }
      this.publishProgress();
      if (normal.reader.takeAlert()) return this.yieldTurn(started);
      if (this.inFlight > 0 || this.outbox.overflowCount > 0) {
        // Promise continuations run only when we return to the event loop; overflowing ctx.sends
        // retry on a short timer.
        this.addBusy(started);
        void parkAsync(normal.reader, this.outbox.overflowCount > 0 ? 1 : init.idleTurnMs, high.reader).then(this.pump);
        return;
      }
      if (spinForData(normal.reader, init.spinIterations, high.reader)) continue;
      this.addBusy(started);
      const outcome = parkSync(normal.reader, init.idleTurnMs, high.reader);
      if (outcome === 'timed-out' || normal.reader.takeAlert()) return this.yieldTurn(-1);
      // A fresh busy-time interval (a loop, not a call: a call per wake-up would grow the stack
      // until receive itself overflows it).
      started = performance.now();
      this.now = started;
    }
  };

  /** Counts the time since `started` as busy (started < 0: already counted). */
  private addBusy(started: number): void {
    if (started >= 0) this.counters.busyMs[this.thread]! += performance.now() - started;
  }

  private yieldTurn(started: number): void {
    this.addBusy(started);
    this.publishProgress();
    setImmediate(this.pump);
  }

  private handleFrame(lane: InboundLane, at: number, length: number, frameStart: number): void {
    const bytes = lane.ring.bytes;
    const kind = bytes[at]!;
    if (kind === KIND_STOP) {
      this.stop();
      return;
    }
    const f = this.frame.read(bytes, at, length);
    const { partition, askId, seq } = f;
    lane.frameSeq = (seq + 1) | 0;
    // One object for every frame: Mailboxes copies a delivery that has to wait (deliver()).
    const where = this.delivery;
    where.msg = undefined;
    where.askId = askId;
    where.frameStart = frameStart;
    where.frameSeq = seq;
    where.lane = lane.index;
    where.attempt = 0;
    let msg: unknown;
    try {
      msg = this.codec.decode(bytes, f.payloadStart, f.payloadLength, f.codec);
    } catch (error) {
      // Cannot happen for frames the runtime wrote; reported rather than crashing the thread.
      where.attempt = 1;
      this.done(where, partition, f.key(bytes), false, error, false);
      return;
    }
    where.msg = msg;
    if (this.skip.size > 0 && this.skip.has(`${lane.index}:${seq}`)) {
      this.setAside(where, partition, f.key(bytes));
      return;
    }
    const mailboxes = this.kinds[f.actorKind];
    if (mailboxes === undefined) {
      where.attempt = 1;
      this.done(where, partition, f.key(bytes), false, new RangeError(`frame names actor kind ${f.actorKind}, which this runtime does not have`), false);
      return;
    }
    const actor = mailboxes.actorFor(f.keyHash, bytes, f.keyStart, f.keyLength, f.keyUtf16, partition);
    this.counters.setCurrent(this.thread, lane.index, seq); // the suspect, should this thread die now
    mailboxes.deliver(actor, where);
  }

  /** A poison message: reported as a dead letter, not delivered; an ask gets a PoisonMessageError. */
  private setAside(delivery: Delivery, partition: number, key: string): void {
    postCarrying({ type: 'deadLetter', key, partition, message: delivery.msg, ask: delivery.askId !== 0 });
    this.completed = (this.completed + 1) | 0;
    this.counters.countCompleted(partition);
    if (delivery.askId !== 0) {
      const error = new PoisonMessageError(`the message to key '${key}' crashed its worker ${init.maxCrashes} times: set aside as a dead letter`);
      this.reply(delivery.askId, false, error);
    }
  }

  pending(delivery: Delivery): void {
    this.lanes[delivery.lane]!.unfinished.set(delivery.frameSeq, delivery.frameStart);
  }

  done(delivery: Delivery, partition: number, key: string, ok: boolean, value: unknown, wasPending: boolean): void {
    this.completed = (this.completed + 1) | 0;
    if (wasPending) this.now = performance.now(); // async completions come between batches
    this.counters.countCompleted(partition, TIME_ORIGIN + this.now);
    if (delivery.askId !== 0) this.reply(delivery.askId, ok, value);
    else if (!ok) {
      this.failed = (this.failed + 1) | 0;
      // After its last attempt a failed send is a dead letter (the main thread keeps it).
      postCarrying({ type: 'actorError', key, partition, error: errorToData(value), attempts: delivery.attempt, message: delivery.msg });
    }
    if (wasPending) {
      this.lanes[delivery.lane]!.unfinished.delete(delivery.frameSeq);
      this.publishProgress();
    }
  }

  /** Releases each ring's space up to its oldest unfinished frame and publishes the counters. */
  private publishProgress(): void {
    // The outbox first: a message's ctx.sends are visible (and counted) before the message counts
    // done. While some wait in memory (outbox full), nothing is released: a crash now must replay
    // the messages that sent them.
    this.outbox.flush();
    if (this.outbox.overflowCount > 0) return;
    this.counters.publish(this.thread, this.normal.progress(), this.high.progress(), this.completed, this.failed, this.outbox.produced);
  }

  // ---- ctx.send (ThreadShared) ----------------------------------------------------------------

  send(fromKind: string, key: Key, msg: unknown, options: ContextSendOptions | undefined): void {
    const kindName = options?.kind ?? fromKind;
    const actorKind = this.kindIndex.get(kindName);
    if (actorKind === undefined) throw new TypeError(`ctx.send: no actor kind '${String(kindName)}' in this runtime (kinds: ${init.kinds.join(', ')})`);
    const keyString = keyToString(key);
    const keyHash = fnv1a32(keyString);
    const keyUtf16 = lastHadLoneSurrogate;
    const keyLength = keyUtf16 ? keyString.length * 2 : lastUtf8Length;
    if (keyLength > MAX_KEY_BYTES) throw new RangeError(`key of ${keyLength} bytes is longer than the ${MAX_KEY_BYTES} allowed`);
    const codec = this.codec;
    const payload = codec.encode(msg);
    this.outbox.checkSize(keyLength, codec.lastEnd - codec.lastStart);
    const f = sendFrame;
    f.actorKind = actorKind;
    f.codec = keyUtf16 ? codec.lastCodec | KEY_UTF16 : codec.lastCodec;
    f.partition = keyHash % init.partitions;
    f.key = keyString;
    f.keyLength = keyLength;
    f.keyHash = keyHash;
    f.payload = payload;
    f.payloadStart = codec.lastStart;
    f.payloadEnd = codec.lastEnd;
    this.outbox.send(f);
  }

  // ---- control plane (WorkerControl, over comlink) ----------------------------------------------

  snapshot(collectGarbage = false): WorkerSnapshot {
    if (collectGarbage) (globalThis as { gc?: () => void }).gc?.();
    const actors: Record<string, number> = {};
    let passivated = 0;
    for (const kind of this.kinds) {
      actors[kind.kind] = kind.size;
      passivated += kind.passivated;
    }
    return { thread: this.thread, actors, inFlight: this.inFlight, passivated, outboxOverflow: this.outbox.overflowCount, heapUsedBytes: process.memoryUsage().heapUsed };
  }

  exportPartition(partition: number): Uint8Array {
    const exported = this.kinds.map((kind) => kind.exportPartition(partition));
    let data: Buffer;
    try {
      data = serialize(exported);
    } catch (error) {
      const e = error as Error;
      this.kinds.forEach((kind, i) => kind.restorePartition(partition, exported[i]!));
      throw new TypeError(`partition ${partition} cannot move: a key's state is not structured-clone-able (${e.message}); give the actor exportState/importState`);
    }
    for (const kind of this.kinds) kind.dropPartition(partition); // only once nothing can fail any more
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  importPartition(partition: number, data: Uint8Array): number {
    const exported = deserialize(data) as ExportedActor[][];
    let count = 0;
    exported.forEach((actors, i) => {
      this.kinds[i]!.importPartition(partition, actors);
      count += actors.length;
    });
    return count;
  }

  async broadcast(msg: unknown): Promise<void> {
    const runs: unknown[] = [];
    for (const kind of this.kinds) {
      const hook = kind.definition.onBroadcast;
      if (hook) runs.push(hook.call(kind.definition, msg, { thread: this.thread, kind: kind.kind }));
    }
    // Counted in flight while async hooks run: the consume loop then parks without blocking the
    // event loop their continuations need.
    this.inFlight++;
    try {
      await Promise.all(runs);
    } finally {
      this.inFlight--;
    }
  }

  private reply(askId: number, ok: boolean, value: unknown): void {
    let kind = ok ? REPLY_OK : REPLY_ERROR;
    const codec = this.codec;
    let payload: Buffer;
    try {
      payload = codec.encode(ok ? value : errorToData(value));
    } catch (error) {
      kind = REPLY_ERROR;
      payload = codec.encode(errorToData(error));
    }
    if (REPLY_HEADER_BYTES + codec.lastEnd - codec.lastStart > this.replies.maxFrameBytes) {
      kind = REPLY_ERROR;
      const size = codec.lastEnd - codec.lastStart;
      payload = codec.encode(errorToData(new RangeError(`reply of ${size} bytes exceeds the reply ring's maximum frame`)));
    }
    this.writeReply(kind, payload, codec.lastStart, codec.lastEnd, codec.lastCodec, askId);
  }

  private writeReply(kind: number, payload: Buffer, start: number, end: number, codec: number, askId: number): void {
    const length = REPLY_HEADER_BYTES + end - start;
    let at = this.replies.tryClaim(length);
    // The main thread reads replies whenever asks are outstanding (this one is), so space comes.
    // As a safety net, a full second of waiting asks it over the port to read regardless.
    while (at < 0) {
      const started = performance.now();
      waitForSpaceSync(this.replies, length, REPLY_SPACE_WAIT_MS);
      at = this.replies.tryClaim(length);
      if (at < 0 && performance.now() - started >= REPLY_SPACE_WAIT_MS) post({ type: 'replyRingFull' });
    }
    const bytes = this.replies.ring.bytes;
    writeReplyHeader(bytes, at, kind, codec, askId);
    copyBytes(payload, start, bytes, at + REPLY_HEADER_BYTES, end - start);
    this.replies.publish();
  }

  private stop(): void {
    this.stopping = true;
    this.publishProgress();
    post({ type: 'stopped' });
  }
}

/**
 * Lowers this thread's scheduling priority. On Linux niceness belongs to each thread, set through
 * its thread id (/proc/thread-self names it); elsewhere this does nothing.
 */
function niceThisThread(nice: number): void {
  if (nice === 0 || process.platform !== 'linux') return;
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // No /proc (a container without it): run at normal priority.
  }
}

async function main(): Promise<void> {
  niceThisThread(init.nice);
  const definitions: ActorDefinition<unknown, unknown, unknown>[] = [];
  for (const url of init.actorUrls) {
    try {
      definitions.push(await loadActor(url));
    } catch (error) {
      post({ type: 'loadError', url, error: errorToData(error) });
      return;
    }
  }
  const host = new WorkerHost(definitions);
  // Only the control methods go on the port (not the whole host).
  const control: WorkerControl = {
    snapshot: (collect) => host.snapshot(collect),
    exportPartition: (p) => host.exportPartition(p),
    importPartition: (p, data) => host.importPartition(p, data),
    broadcast: (msg) => host.broadcast(msg),
  };
  exposeControl(control, init.control);
  // A ref'd listener keeps this thread's event loop alive while it waits with Atomics.waitAsync
  // (a pending waitAsync alone does not, in Node 20).
  port.on('message', () => {});
  post({ type: 'ready' });
  host.pump();
}

void main();
