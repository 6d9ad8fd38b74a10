/**
 * Worker side: one actor per key (its context and state) and its ordered mailbox.
 *
 * A message runs at once when its key is idle. A `receive` (or `init`) that returns a Promise
 * makes the key busy: later messages for that key wait in its mailbox, in arrival order, until
 * the promise settles; other keys keep running. Only keys that have ever been busy get a mailbox.
 */
import type { ActorContext, ActorDefinition, RetryPolicy } from '../actors/define.js';
import { copyBytes } from './bytes.js';

/** One message on its way through a key's actor. */
export interface Delivery {
  msg: unknown;
  /** 0 for a tell; otherwise the ask to answer. */
  askId: number;
  /** Ring position of the frame's start, kept while the delivery is unfinished (see Completion). */
  frameStart: number;
  /** Order of the frame on its ring. */
  frameSeq: number;
  /** Which of the thread's rings it came through (0 normal, 1 high priority). */
  lane: number;
  /** Runs of receive so far for this message (retries count). */
  attempt: number;
}

/** What the host does when a delivery finishes (sync or async). */
export interface Completion {
  /** Called before a delivery becomes pending (async or queued), with its frame's start. */
  pending(delivery: Delivery): void;
  /** Called once per delivery, when it finished. `wasPending` says whether pending() was called. */
  done(delivery: Delivery, partition: number, key: string, ok: boolean, value: unknown, wasPending: boolean): void;
}

export interface KeyActor {
  readonly ctx: ActorContext<unknown>;
  /** The key's UTF-8 bytes, compared against frames to find the actor without decoding the key. */
  readonly keyBytes: Uint8Array;
  /** Whether keyBytes are UTF-16LE code units (a key with a lone surrogate) rather than UTF-8. */
  readonly keyUtf16: boolean;
  /** Next actor whose key has the same hash (collisions are rare; a short chain). */
  sameHash: KeyActor | null;
  activated: boolean;
  busy: boolean;
  mailbox: Delivery[] | null;
}

function copyOf(bytes: Uint8Array, at: number, length: number): Uint8Array {
  const copy = new Uint8Array(length);
  copyBytes(bytes, at, copy, 0, length);
  return copy;
}

function sameBytes(a: Uint8Array, b: Uint8Array, at: number, length: number): boolean {
  if (a.length !== length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[at + i]) return false;
  return true;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';

export class Mailboxes {
  /** Actors by key hash (the FNV-1a the router computed), chained on collision. */
  private readonly actors = new Map<number, KeyActor>();
  private count = 0;
  /** Deliveries whose receive has not finished yet (async or queued). */
  inFlight = 0;

  constructor(
    private readonly definition: ActorDefinition<unknown, unknown, unknown>,
    private readonly thread: number,
    private readonly completion: Completion,
    private readonly retry: Required<RetryPolicy>,
    private readonly restarts: number,
  ) {}

  /** Keys with an actor on this thread. */
  get size(): number {
    return this.count;
  }

  /** The actor of the key whose UTF-8 bytes are bytes[at, at + length), created on first use. */
  actorFor(keyHash: number, bytes: Buffer, at: number, length: number, keyUtf16: boolean, partition: number): KeyActor {
    const first = this.actors.get(keyHash);
    for (let actor: KeyActor | null = first ?? null; actor !== null; actor = actor.sameHash) {
      if (actor.keyUtf16 === keyUtf16 && sameBytes(actor.keyBytes, bytes, at, length)) return actor;
    }
    const key = bytes.toString(keyUtf16 ? 'utf16le' : 'utf8', at, at + length);
    const actor: KeyActor = {
      ctx: { key, partition, thread: this.thread, restarts: this.restarts, state: undefined },
      keyBytes: copyOf(bytes, at, length), // a copy: the ring's bytes are reused
      keyUtf16,
      sameHash: first ?? null,
      activated: false,
      busy: false,
      mailbox: null,
    };
    this.actors.set(keyHash, actor);
    this.count++;
    return actor;
  }

  /** Hands a message to its key's actor: runs it now, or queues it behind the key's pending one. */
  deliver(actor: KeyActor, delivery: Delivery): void {
    if (actor.busy) {
      this.markPending(delivery);
      (actor.mailbox ??= []).push(delivery);
      return;
    }
    this.run(actor, delivery, false);
  }

  private run(actor: KeyActor, delivery: Delivery, wasPending: boolean): void {
    let result: unknown;
    delivery.attempt++;
    try {
      result = this.start(actor, delivery.msg);
    } catch (error) {
      if (this.retryLater(actor, delivery, wasPending)) return;
      this.finish(actor, delivery, false, error, wasPending);
      return;
    }
    if (!isThenable(result)) {
      this.finish(actor, delivery, true, result, wasPending);
      return;
    }
    actor.busy = true;
    if (!wasPending) this.markPending(delivery);
    result.then(
      (value) => this.settle(actor, delivery, true, value),
      (error: unknown) => this.settle(actor, delivery, false, error),
    );
  }

  /** Activates the key if needed (init), then calls receive. Returns its result (maybe a Promise). */
  private start(actor: KeyActor, msg: unknown): unknown {
    const { definition } = this;
    const ctx = actor.ctx;
    if (!actor.activated) {
      // Activated only once init succeeded: a failed init is tried again by the key's next message.
      if (definition.init) {
        const state = definition.init(ctx.key, ctx);
        if (isThenable(state)) {
          return Promise.resolve(state).then((s) => {
            ctx.state = s;
            actor.activated = true;
            return definition.receive(msg, ctx);
          });
        }
        ctx.state = state;
      }
      actor.activated = true;
    }
    return definition.receive(msg, ctx);
  }

  private settle(actor: KeyActor, delivery: Delivery, ok: boolean, value: unknown): void {
    actor.busy = false;
    if (!ok && this.retryLater(actor, delivery, true)) return;
    this.finish(actor, delivery, ok, value, true);
    this.runQueued(actor);
  }

  /** Runs what queued up behind the key's last message, until one goes async (or retries) again. */
  private runQueued(actor: KeyActor): void {
    const mailbox = actor.mailbox;
    while (mailbox !== null && mailbox.length > 0 && !actor.busy) this.run(actor, mailbox.shift()!, true);
  }

  /**
   * A failed send with attempts left: hold the key (its later messages queue, so order holds) and
   * run it again after the backoff. Returns false when it is an ask or out of attempts.
   */
  private retryLater(actor: KeyActor, delivery: Delivery, wasPending: boolean): boolean {
    const { maxAttempts, backoffMs, maxBackoffMs, jitter } = this.definition.retry ? { ...this.retry, ...this.definition.retry } : this.retry;
    if (delivery.askId !== 0 || delivery.attempt >= maxAttempts) return false;
    actor.busy = true;
    if (!wasPending) this.markPending(delivery);
    let delay = Math.min(maxBackoffMs, backoffMs * 2 ** (delivery.attempt - 1));
    if (jitter) delay *= 0.5 + Math.random() / 2;
    setTimeout(() => {
      actor.busy = false;
      this.run(actor, delivery, true);
      this.runQueued(actor);
    }, delay);
    return true;
  }

  private markPending(delivery: Delivery): void {
    this.inFlight++;
    this.completion.pending(delivery);
  }

  private finish(actor: KeyActor, delivery: Delivery, ok: boolean, value: unknown, wasPending: boolean): void {
    if (wasPending) this.inFlight--;
    this.completion.done(delivery, actor.ctx.partition, actor.ctx.key, ok, value, wasPending);
  }
}
