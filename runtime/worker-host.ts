/**
 * Worker thread entry: loads the actor module, then consumes this thread's ring.
 *
 * The consume loop (pump) reads every published frame, hands each to its key's actor, and
 * releases ring space only up to the oldest frame still unfinished (an async receive or a message
 * queued behind one), so frames are never given back before they are handled. When the ring runs
 * dry it spins briefly, then parks: synchronously (Atomics.wait) when nothing async is in flight,
 * or with Atomics.waitAsync when promise continuations must run. A long burst yields to the event
 * loop every few milliseconds so timers and async continuations keep running.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { RingBuffer, RingReader, RingWriter } from '../shm/ring.js';
import { parkAsync, parkSync, spinForData, waitForSpaceSync } from '../shm/wait.js';
import { isDefinedActor, type ActorDefinition } from '../actors/define.js';
import { MessageCodec } from './codec.js';
import { copyBytes } from './bytes.js';
import { errorToData, PoisonMessageError } from './errors.js';
import { KIND_STOP, MessageFrameView, REPLY_ERROR, REPLY_HEADER_BYTES, REPLY_OK, writeReplyHeader } from './frame.js';
import { Mailboxes, type Completion, type Delivery } from './mailboxes.js';
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

class WorkerHost implements Completion {
  private readonly normal: InboundLane;
  /** Drained before `normal`: `{ priority: 'high' }` sends. */
  private readonly high: InboundLane;
  private readonly lanes: InboundLane[];
  private readonly replies: RingWriter;
  private readonly counters: SharedCounters;
  private readonly codec = new MessageCodec();
  private readonly mailboxes: Mailboxes;
  private readonly thread: number;
  private completed: number;
  private failed: number;
  private stopping = false;
  /** The frame being handled (read in place). */
  private readonly frame = new MessageFrameView();
  /** Poison messages, as `${lane}:${seq}` (WorkerInit.skip). */
  private readonly skip = new Set(init.skip);

  constructor(definition: ActorDefinition<unknown, unknown, unknown>) {
    this.thread = init.thread;
    this.counters = new SharedCounters(init.counters, init.threads, init.partitions);
    // A restarted worker goes on from what its predecessor published (all 0 for a first start).
    this.normal = new InboundLane(0, init.inbound, this.counters.watermark(this.thread, 0));
    this.high = new InboundLane(1, init.inboundHigh, this.counters.watermark(this.thread, 1));
    this.lanes = [this.normal, this.high];
    this.replies = new RingWriter(new RingBuffer(init.replies));
    this.replies.endWaitForSpace(); // a crashed predecessor may have died waiting for reply space
    this.completed = this.counters.completed(this.thread);
    this.failed = this.counters.failed(this.thread);
    this.mailboxes = new Mailboxes(definition, init.thread, this, init.retry, init.restarts);
  }

  /** Consumes until both rings are dry and the thread should wait; see the module comment. */
  readonly pump = (): void => {
    const { normal, high } = this;
    const started = performance.now();
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
        if (this.mailboxes.inFlight > 0 && handled % ASYNC_BATCH === 0) return this.yieldTurn();
        if ((handled & 255) === 0) {
          this.publishProgress();
          if (performance.now() - started > SLICE_MS) return this.yieldTurn();
        }
        continue;
      }
      this.publishProgress();
      if (this.mailboxes.inFlight > 0) {
        // Promise continuations run only when we return to the event loop.
        void parkAsync(normal.reader, init.idleTurnMs, high.reader).then(this.pump);
        return;
      }
      if (spinForData(normal.reader, init.spinIterations, high.reader)) continue;
      if (parkSync(normal.reader, init.idleTurnMs, high.reader) === 'timed-out') return this.yieldTurn();
    }
  };

  private yieldTurn(): void {
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
    const where = { msg: undefined as unknown, askId, frameStart, frameSeq: seq, lane: lane.index, attempt: 0 };
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
    const actor = this.mailboxes.actorFor(f.keyHash, bytes, f.keyStart, f.keyLength, f.keyUtf16, partition);
    this.counters.setCurrent(this.thread, lane.index, seq); // the suspect, should this thread die now
    this.mailboxes.deliver(actor, where);
  }

  /** A poison message: reported as a dead letter, not delivered; an ask gets a PoisonMessageError. */
  private setAside(delivery: Delivery, partition: number, key: string): void {
    postCarrying({ type: 'deadLetter', key, partition, message: delivery.msg, ask: delivery.askId !== 0 });
    this.completed = (this.completed + 1) | 0;
    this.counters.partitionCompleted[partition]!++;
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
    this.counters.partitionCompleted[partition]!++;
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
    this.counters.publish(this.thread, this.normal.progress(), this.high.progress(), this.completed, this.failed);
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

async function main(): Promise<void> {
  let definition: ActorDefinition<unknown, unknown, unknown>;
  try {
    definition = await loadActor(init.actorUrl);
  } catch (error) {
    post({ type: 'loadError', error: errorToData(error) });
    return;
  }
  const host = new WorkerHost(definition);
  // A ref'd listener keeps this thread's event loop alive while it waits with Atomics.waitAsync
  // (a pending waitAsync alone does not, in Node 20).
  port.on('message', () => {});
  post({ type: 'ready' });
  host.pump();
}

void main();
