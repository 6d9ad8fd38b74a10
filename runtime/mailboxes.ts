/**
 * Worker side: one actor per key (its context and state) and its ordered mailbox.
 *
 * A message runs at once when its key is idle. A `receive` (or `init`) that returns a Promise
 * makes the key busy: later messages for that key wait in its mailbox, in arrival order, until
 * the promise settles; other keys keep running. Only keys that have ever been busy get a mailbox.
 */
import type { ActorContext, ActorDefinition, ContextSendOptions, RetryPolicy } from '../actors/define.js';
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

/** What every kind's Mailboxes on one thread share with the host. */
export interface ThreadShared {
  /** performance.now() as of the host's current batch (a coarse clock: one read per batch). */
  now: number;
  /** Deliveries whose receive has not finished yet (async or queued), over all kinds. */
  inFlight: number;
  /** ctx.send: hands a message for another key to the host (see ActorContext.send). */
  send(fromKind: string, key: string | number, msg: unknown, options: ContextSendOptions | undefined): void;
}

/**
 * A key's actor, which is also its ActorContext: one object per key, so finding the key and
 * running its message touch one object rather than two (a frame's key, then the context, then
 * the state: each a dependent cache miss with 10,000 keys). The fields past ActorContext's are
 * the runtime's own; the methods live on the prototype, so a key costs only its fields.
 */
export class KeyActor implements ActorContext<unknown> {
  /**
   * The key's first INLINE_KEY_BYTES bytes as three int32 words (zero past its end) and its
   * length: a frame's key is compared with these, in the actor itself, so a lookup touches no
   * other object for keys of up to 12 bytes.
   */
  readonly key0: number;
  readonly key1: number;
  readonly key2: number;
  readonly keyLength: number;
  /** Next actor whose key has the same hash (collisions are rare; a short chain). */
  sameHash: KeyActor | null;
  activated = false;
  busy = false;
  /** ThreadShared.now when its last message arrived (passivation). */
  lastUsed: number;
  state: unknown = undefined;
  mailbox: Delivery[] | null = null;
  readonly key: string;
  /**
   * A key longer than INLINE_KEY_BYTES: a copy of all its bytes, for the comparison past the inline
   * words. Null for a shorter key (the words are the whole key): a small Uint8Array of its own is
   * about 200 bytes of heap, as much as the rest of the actor.
   */
  readonly longKeyBytes: Uint8Array | null;

  constructor(
    /** The key's bytes are bytes[at, at + length) (not kept: the ring's bytes are reused). */
    bytes: Uint8Array,
    at: number,
    length: number,
    /** Whether the key's bytes are UTF-16LE code units (a key with a lone surrogate) rather than UTF-8. */
    readonly keyUtf16: boolean,
    readonly keyHash: number,
    readonly partition: number,
    readonly thread: number,
    readonly restarts: number,
    readonly kind: string,
    private readonly shared: ThreadShared,
    sameHash: KeyActor | null,
  ) {
    const end = at + length;
    this.key0 = keyWord(bytes, at, end);
    this.key1 = keyWord(bytes, at + 4, end);
    this.key2 = keyWord(bytes, at + 8, end);
    this.keyLength = length;
    this.sameHash = sameHash;
    this.lastUsed = shared.now;
    this.key = Buffer.from(bytes.buffer, bytes.byteOffset + at, length).toString(keyUtf16 ? 'utf16le' : 'utf8');
    this.longKeyBytes = length > INLINE_KEY_BYTES ? copyOf(bytes, at, length) : null;
  }

  send(key: string | number, msg: unknown, options?: ContextSendOptions): void {
    this.shared.send(this.kind, key, msg, options);
  }
}

/** A key's actor on its way to another thread (rebalance): its key and exported state. */
export interface ExportedActor {
  keyHash: number;
  key: string;
  keyUtf16: boolean;
  state: unknown;
}

/** The bytes a frame carries for `key` (see KeyActor.keyUtf16). */
function keyBytesOf(key: string, keyUtf16: boolean): Buffer {
  return Buffer.from(key, keyUtf16 ? 'utf16le' : 'utf8');
}

function copyOf(bytes: Uint8Array, at: number, length: number): Uint8Array {
  const copy = new Uint8Array(length);
  copyBytes(bytes, at, copy, 0, length);
  return copy;
}

/** Whether `a` holds the `length` bytes at b[at], comparing from index `from` on (the bytes before it are known equal). */
function sameBytes(a: Uint8Array, b: Uint8Array, at: number, length: number, from: number): boolean {
  if (a.length !== length) return false;
  for (let i = from; i < length; i++) if (a[i] !== b[at + i]) return false;
  return true;
}

/** Key bytes kept in the actor itself (KeyActor.key0-2). */
const INLINE_KEY_BYTES = 12;

/** The 4 bytes at `at` of a key that ends at `end`, little-endian, as an int32; zero past the end. */
function keyWord(bytes: Uint8Array, at: number, end: number): number {
  if (at + 4 <= end) return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
  let word = 0;
  for (let i = 0; at + i < end; i++) word |= bytes[at + i]! << (8 * i);
  return word;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';

/** The actors of one actor kind on one thread. */
export class Mailboxes {
  /**
   * Actors by key hash (the FNV-1a the router computed), chained on collision. Keyed by the hash
   * as an int32 (`| 0`): half of all uint32 hashes are past the small-integer range, and such a
   * key is a boxed number, slower to hash and allocated per lookup.
   */
  private readonly actors = new Map<number, KeyActor>();
  /** Actors by partition: what a hand-off moves. */
  private readonly byPartition = new Map<number, Set<KeyActor>>();
  private count = 0;
  /** Keys dropped by passivation so far. */
  passivated = 0;

  constructor(
    readonly kind: string,
    readonly definition: ActorDefinition<unknown, unknown, unknown>,
    private readonly thread: number,
    private readonly completion: Completion,
    private readonly retry: Required<RetryPolicy>,
    private readonly restarts: number,
    private readonly shared: ThreadShared,
  ) {}

  /** Keys with an actor on this thread. */
  get size(): number {
    return this.count;
  }

  /** The actor of the key whose UTF-8 bytes are bytes[at, at + length), created on first use. */
  actorFor(keyHash: number, bytes: Buffer, at: number, length: number, keyUtf16: boolean, partition: number): KeyActor {
    const first = this.actors.get(keyHash | 0);
    const end = at + length;
    const key0 = keyWord(bytes, at, end);
    const key1 = keyWord(bytes, at + 4, end);
    const key2 = keyWord(bytes, at + 8, end);
    for (let actor: KeyActor | null = first ?? null; actor !== null; actor = actor.sameHash) {
      if (actor.key0 === key0 && actor.key1 === key1 && actor.key2 === key2 && actor.keyLength === length && actor.keyUtf16 === keyUtf16 &&
        (length <= INLINE_KEY_BYTES || sameBytes(actor.longKeyBytes!, bytes, at, length, INLINE_KEY_BYTES))) {
        return actor;
      }
    }
    return this.add(keyHash, bytes, at, length, keyUtf16, partition);
  }

  private add(keyHash: number, bytes: Uint8Array, at: number, length: number, keyUtf16: boolean, partition: number): KeyActor {
    const first = this.actors.get(keyHash | 0) ?? null;
    const actor = new KeyActor(bytes, at, length, keyUtf16, keyHash, partition, this.thread, this.restarts, this.kind, this.shared, first);
    this.actors.set(keyHash | 0, actor);
    let members = this.byPartition.get(partition);
    if (members === undefined) this.byPartition.set(partition, (members = new Set()));
    members.add(actor);
    this.count++;
    return actor;
  }

  private remove(actor: KeyActor): void {
    let head = this.actors.get(actor.keyHash | 0)!;
    if (head === actor) {
      if (actor.sameHash === null) this.actors.delete(actor.keyHash | 0);
      else this.actors.set(actor.keyHash | 0, actor.sameHash);
    } else {
      while (head.sameHash !== actor) head = head.sameHash!;
      head.sameHash = actor.sameHash;
    }
    const members = this.byPartition.get(actor.partition)!;
    members.delete(actor);
    if (members.size === 0) this.byPartition.delete(actor.partition);
    this.count--;
  }

  /**
   * Hand-off: removes the partition's actors and returns them with their exported state. Call
   * only when nothing for the partition is in flight (the runtime drains it first).
   */
  exportPartition(partition: number): ExportedActor[] {
    const members = [...(this.byPartition.get(partition) ?? [])];
    const out: ExportedActor[] = [];
    for (const actor of members) {
      if (actor.busy || (actor.mailbox !== null && actor.mailbox.length > 0)) {
        throw new Error(`key '${actor.key}' still has messages in flight; a partition moves only once drained`);
      }
      if (!actor.activated) continue; // never initialised: nothing to carry
      const { exportState } = this.definition;
      out.push({ keyHash: actor.keyHash, key: actor.key, keyUtf16: actor.keyUtf16, state: exportState ? exportState(actor.state, actor) : actor.state });
    }
    return out;
  }

  /**
   * The move failed after exportPartition (another state could not be serialized): the keys stay
   * here, with their state as importState makes it from what exportState gave.
   */
  restorePartition(partition: number, exported: readonly ExportedActor[]): void {
    const { importState, exportState } = this.definition;
    if (!exportState) return; // the state objects were handed out as they are: nothing changed
    for (const moved of exported) {
      for (const actor of this.byPartition.get(partition) ?? []) {
        if (actor.keyHash === moved.keyHash && actor.keyUtf16 === moved.keyUtf16 && actor.key === moved.key) {
          actor.state = importState ? importState(moved.state, actor) : moved.state;
        }
      }
    }
  }

  /** After exportPartition's result is safely serialized: drops the partition's actors. */
  dropPartition(partition: number): void {
    for (const actor of [...(this.byPartition.get(partition) ?? [])]) this.remove(actor);
  }

  /** Hand-off, on the new thread: the exported actors, activated with their state. */
  importPartition(partition: number, actors: readonly ExportedActor[]): void {
    const { importState } = this.definition;
    const added: KeyActor[] = [];
    try {
      for (const moved of actors) {
        const bytes = keyBytesOf(moved.key, moved.keyUtf16);
        const actor = this.add(moved.keyHash, bytes, 0, bytes.length, moved.keyUtf16, partition);
        added.push(actor);
        actor.state = importState ? importState(moved.state, actor) : moved.state;
        actor.activated = true;
      }
    } catch (error) {
      for (const actor of added) this.remove(actor); // all or nothing: the move goes back
      throw error;
    }
  }

  /**
   * Passivation: drops the state of keys idle for at least passivateAfterMs (after the passivate
   * hook). Keys with anything in flight stay. Returns how many went.
   */
  passivateIdle(): number {
    const idleMs = this.definition.passivateAfterMs;
    if (idleMs === undefined) return 0;
    const cutoff = this.shared.now - idleMs;
    let dropped = 0;
    for (const members of [...this.byPartition.values()]) {
      for (const actor of members) {
        if (actor.busy || actor.lastUsed > cutoff || (actor.mailbox !== null && actor.mailbox.length > 0)) continue;
        if (actor.activated && this.definition.passivate) {
          try {
            this.definition.passivate(actor.state, actor);
          } catch {
            // A failing hook must not keep the key alive forever; its state goes all the same.
          }
        }
        this.remove(actor);
        dropped++;
      }
    }
    this.passivated += dropped;
    return dropped;
  }

  /**
   * Hands a message to its key's actor: runs it now, or queues it behind the key's pending one.
   * `delivery` is the caller's again once this returns (the host fills one object per frame):
   * a delivery that has to wait is copied (markPending).
   */
  deliver(actor: KeyActor, delivery: Delivery): void {
    actor.lastUsed = this.shared.now;
    if (actor.busy) {
      (actor.mailbox ??= []).push(this.markPending(delivery));
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
    const held = wasPending ? delivery : this.markPending(delivery);
    result.then(
      (value) => this.settle(actor, held, true, value),
      (error: unknown) => this.settle(actor, held, false, error),
    );
  }

  /** Activates the key if needed (init), then calls receive. Returns its result (maybe a Promise). */
  private start(actor: KeyActor, msg: unknown): unknown {
    const { definition } = this;
    if (!actor.activated) {
      // Activated only once init succeeded: a failed init is tried again by the key's next message.
      if (definition.init) {
        const state = definition.init(actor.key, actor);
        if (isThenable(state)) {
          return Promise.resolve(state).then((s) => {
            actor.state = s;
            actor.activated = true;
            return definition.receive(msg, actor);
          });
        }
        actor.state = state;
      }
      actor.activated = true;
    }
    return definition.receive(msg, actor);
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
    const held = wasPending ? delivery : this.markPending(delivery);
    let delay = Math.min(maxBackoffMs, backoffMs * 2 ** (delivery.attempt - 1));
    if (jitter) delay *= 0.5 + Math.random() / 2;
    setTimeout(() => {
      actor.busy = false;
      this.run(actor, held, true);
      this.runQueued(actor);
    }, delay);
    return true;
  }

  /** A delivery from deliver() that has to wait: the copy to keep (deliver's is the host's to reuse). */
  private markPending(delivery: Delivery): Delivery {
    const { msg, askId, frameStart, frameSeq, lane, attempt } = delivery;
    const held: Delivery = { msg, askId, frameStart, frameSeq, lane, attempt };
    this.shared.inFlight++;
    this.completion.pending(held);
    return held;
  }

  private finish(actor: KeyActor, delivery: Delivery, ok: boolean, value: unknown, wasPending: boolean): void {
    if (wasPending) this.shared.inFlight--;
    this.completion.done(delivery, actor.partition, actor.key, ok, value, wasPending);
  }
}
