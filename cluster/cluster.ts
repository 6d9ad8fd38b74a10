/**
 * Cluster mode: many processes (on many machines) share a runtime's partitions through a stream
 * engine (Redis Streams: redis-streams.ts). Each partition is one stream; each is owned by exactly
 * one live process at a time (a lease with a fencing token), which reads it with a consumer group,
 * feeds its local runtime, and acknowledges an entry only after its receive finished (at least
 * once). Inside each process ringmaster does what it does anyway: threads, rings, per-key order.
 *
 * Ownership: every node heartbeats into the members set; partition p belongs to the live member
 * at index p % members (sorted), so partitions spread evenly and move when a node joins or
 * leaves. A node releases what is no longer its own once its batches in flight are acknowledged;
 * a dead node's leases expire after leaseMs. The new owner first takes over the entries the old
 * one read and never acknowledged (XPENDING + XCLAIM, in log order), then reads new ones: first
 * deliveries keep per-key order across the change.
 *
 * Flow: a node reads up to `batch` entries per partition, hands them to its runtime in log order
 * (send for tells, ask for asks, whose replies go to the asking node's reply stream), and keeps at
 * most `inFlightBatches` batches in flight: the local backlog per partition stays bounded by
 * batch × inFlightBatches. A batch is acknowledged (fenced: only while the lease is still ours)
 * once rt.drain() says it is done and its replies are out.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { MessageCodec } from '../runtime/codec.js';
import { AbortError, RuntimeClosedError, TimeoutError, errorFromData, errorToData, type ErrorData } from '../runtime/errors.js';
import { keyToString, type Key } from '../runtime/key.js';
import type { AskOptions, Runtime } from '../runtime/runtime.js';
import type { ClusterEngine, LogEntry } from './engine.js';
import { keysFromEnv, PayloadSealer, type EncryptionKey } from './encryption.js';
import { ClusterUnavailableError, RedisStreams } from './redis-streams.js';
import { loadRedis } from './load-redis.js';

export interface ClusterOptions {
  /** Redis URL (redis://host:port/db). */
  redis: string;
  /** The cluster's name: every process of one cluster uses the same (and the same partitions). */
  name: string;
  /** This process's id in the cluster. Default: hostname-pid-random. */
  node?: string;
  /** How long a lease (partition ownership) lasts without renewal, ms: the fail-over time. Default 5000. */
  leaseMs?: number;
  /** Entries read per partition at a time. Default 256. */
  batch?: number;
  /** Batches handed to the runtime and not yet acknowledged, at most. Default 2. */
  inFlightBatches?: number;
  /**
   * Encrypt what is stored in Redis (AES-256-GCM): `true` takes the keys from
   * RINGMASTER_CLUSTER_KEYS (see encryption.ts); or give the keys. Every node must have the keys.
   */
  encrypt?: boolean | readonly EncryptionKey[];
}

export interface ClusterStats {
  node: string;
  /** Live nodes, as of the last heartbeat. */
  members: string[];
  /** Partitions this node owns now. */
  owned: number[];
  /** Entries appended by send/ask from this node. */
  sent: number;
  /** Entries this node handed to its runtime (first deliveries and taken-over ones). */
  delivered: number;
  /** Of those, taken over from a previous owner (XCLAIM). */
  claimed: number;
  acknowledged: number;
  /** Entries that could not be delivered (undecodable, undecryptable): acknowledged and reported. */
  undeliverable: number;
  /** Entries handed to the runtime and not acknowledged yet. */
  inFlight: number;
  pendingAsks: number;
}

export interface ClusterEvents {
  /** This node took a partition (fail-over or rebalance). */
  acquired: [{ partition: number; token: number; at: number }];
  /** This node gave a partition up (rebalance, close). */
  released: [{ partition: number }];
  /** A lease was lost (expired or fenced off): the partition is no longer read or acknowledged here. */
  lost: [{ partition: number }];
  undeliverable: [{ partition: number; id: string; error: Error }];
  /** Redis trouble in a background loop (it retries); sends reject on their own. */
  error: [Error];
}

interface Owned {
  token: number;
  /** Taking over a previous owner's unacknowledged entries (all, or the long-idle stragglers), or null: reading new ones. */
  claimMode: 'takeover' | 'stragglers' | null;
  /** When the last take-over pass began (Date.now()). */
  claimedAt: number;
  /** No longer ours to keep: released once nothing of it is in flight. */
  releasing: boolean;
}

interface Batch {
  ids: Map<number, string[]>;
  done: Promise<unknown>;
}

interface PendingAsk {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const DEFAULTS = { leaseMs: 5000, batch: 256, inFlightBatches: 2 } as const;

function positiveInteger(name: string, value: unknown, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`cluster.${name} must be a positive integer, got ${String(value)}`);
  return v;
}

export class ClusterNode extends EventEmitter<ClusterEvents> {
  readonly node: string;
  private readonly codec = new MessageCodec();
  private readonly owned = new Map<number, Owned>();
  private readonly inFlight: Batch[] = [];
  private readonly pendingAsks = new Map<number, PendingAsk>();
  private members: string[] = [];
  private nextAskId = 1;
  private repliesAt = '0';
  private readingReplies = false;
  private closing = false;
  private readonly counts = { sent: 0, delivered: 0, claimed: 0, acknowledged: 0, undeliverable: 0 };
  private ownershipTimer: NodeJS.Timeout | undefined;
  private readerLoop: Promise<void> = Promise.resolve();
  private readonly leaseMs: number;
  private readonly batch: number;
  private readonly maxInFlight: number;
  private readonly blockMs: number;

  /** @internal use connectCluster() */
  constructor(
    private readonly rt: Runtime,
    private readonly engine: ClusterEngine,
    options: ClusterOptions,
    private readonly sealer: PayloadSealer | null,
  ) {
    super();
    this.node = options.node ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.leaseMs = positiveInteger('leaseMs', options.leaseMs, DEFAULTS.leaseMs);
    this.batch = positiveInteger('batch', options.batch, DEFAULTS.batch);
    this.maxInFlight = positiveInteger('inFlightBatches', options.inFlightBatches, DEFAULTS.inFlightBatches);
    this.blockMs = Math.max(50, Math.min(1000, Math.floor(this.leaseMs / 4)));
  }

  /** @internal */
  async start(): Promise<void> {
    await this.engine.prepare(this.rt.partitions);
    await this.manageOwnership();
    this.ownershipTimer = setInterval(() => void this.manageOwnership(), Math.max(20, Math.floor(this.leaseMs / 3)));
    this.ownershipTimer.unref();
    this.readerLoop = this.read();
  }

  // ---- sending -------------------------------------------------------------------------------

  private encode(msg: unknown): Buffer {
    const codec = this.codec;
    const bytes = codec.encode(msg);
    const plain = Buffer.allocUnsafe(1 + codec.lastEnd - codec.lastStart);
    plain[0] = codec.lastCodec;
    bytes.copy(plain, 1, codec.lastStart, codec.lastEnd);
    return this.sealer ? this.sealer.seal(plain) : plain;
  }

  private decode(payload: Buffer): unknown {
    const plain = this.sealer ? this.sealer.open(payload) : payload;
    return this.codec.decode(plain, 1, plain.length - 1, plain[0]!);
  }

  /**
   * Appends the message to its partition's stream; resolves once Redis has it (whichever node
   * owns the partition delivers it). Rejects with a TypeError/RangeError for a bad key or message
   * and with a ClusterUnavailableError when Redis is unreachable: then nothing was appended.
   */
  async send(key: Key, msg: unknown): Promise<void> {
    if (this.closing) throw new RuntimeClosedError('cluster node is closed');
    const keyString = keyToString(key);
    const payload = this.encode(msg);
    await this.engine.append(this.rt.partitionOf(keyString), keyString, payload, null, 0);
    this.counts.sent++;
  }

  /** As the runtime's ask, across processes: the owner's receive answers through our reply stream. */
  ask<R = unknown>(key: Key, msg: unknown, options: AskOptions = {}): Promise<R> {
    let keyString: string;
    let payload: Buffer;
    try {
      if (this.closing) throw new RuntimeClosedError('cluster node is closed');
      const { timeoutMs, signal } = options;
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) throw new RangeError(`timeoutMs must be a non-negative number, got ${String(timeoutMs)}`);
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
      if (signal?.aborted) throw new AbortError('ask aborted before it was sent', { cause: signal.reason });
      keyString = keyToString(key);
      payload = this.encode(msg);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const askId = this.nextAskId++;
    const promise = new Promise<R>((resolve, reject) => {
      const pending: PendingAsk = { resolve: resolve as (v: unknown) => void, reject, timer: undefined, signal: options.signal, onAbort: undefined };
      if (options.timeoutMs !== undefined) {
        pending.timer = setTimeout(() => this.settle(askId, false, new TimeoutError(`ask to key '${keyString}' timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
      }
      if (options.signal) {
        const signal = options.signal;
        pending.onAbort = () => this.settle(askId, false, new AbortError('ask aborted', { cause: signal.reason }));
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.pendingAsks.set(askId, pending);
    });
    this.engine.append(this.rt.partitionOf(keyString), keyString, payload, this.node, askId).then(
      () => {
        this.counts.sent++;
        this.listenForReplies();
      },
      (error: Error) => this.settle(askId, false, error),
    );
    return promise;
  }

  private settle(askId: number, ok: boolean, value: unknown): void {
    const pending = this.pendingAsks.get(askId);
    if (pending === undefined) return;
    this.pendingAsks.delete(askId);
    if (pending.timer) clearTimeout(pending.timer);
    if (pending.onAbort) pending.signal!.removeEventListener('abort', pending.onAbort);
    if (ok) pending.resolve(value);
    else pending.reject(value as Error);
  }

  /** Reads our reply stream while asks are pending (a blocking read: no polling). */
  private listenForReplies(): void {
    if (this.readingReplies) return;
    this.readingReplies = true;
    void (async () => {
      try {
        while (this.pendingAsks.size > 0 && !this.closing) {
          let batch;
          try {
            batch = await this.engine.readReplies(this.node, this.repliesAt, this.blockMs);
          } catch (error) {
            this.emit('error', error as Error);
            await new Promise((resolve) => setTimeout(resolve, 100));
            continue;
          }
          this.repliesAt = batch.lastId;
          for (const r of batch.replies) {
            let value: unknown;
            try {
              value = this.decode(r.payload);
            } catch (error) {
              this.settle(r.askId, false, error);
              continue;
            }
            this.settle(r.askId, r.ok, r.ok ? value : errorFromData(value as ErrorData));
          }
        }
      } finally {
        this.readingReplies = false;
        if (this.pendingAsks.size > 0 && !this.closing) this.listenForReplies();
      }
    })();
  }

  // ---- ownership ------------------------------------------------------------------------------

  private managing = false;

  /** Heartbeat, renew, release what is no longer ours, acquire what is ours and free. */
  private async manageOwnership(): Promise<void> {
    if (this.managing || this.closing) return;
    this.managing = true;
    try {
      this.members = await this.engine.heartbeat(this.node, this.leaseMs);
      const index = this.members.indexOf(this.node);
      const n = this.members.length;
      const mine = (p: number): boolean => index >= 0 && p % n === index;
      const held = [...this.owned].map(([partition, o]) => ({ partition, token: o.token }));
      const renewed = await this.engine.renew(held, this.node, this.leaseMs);
      held.forEach((l, i) => {
        if (!renewed[i] && this.owned.get(l.partition)?.token === l.token) this.lose(l.partition);
      });
      for (const [p, o] of this.owned) {
        if (!mine(p)) o.releasing = true;
        else if (o.claimMode === null && Date.now() - o.claimedAt >= this.leaseMs) {
          // Now and then, take over entries an owner fenced off (alive, but it lost the lease)
          // left unacknowledged: they are idle for leaseMs by then.
          o.claimMode = 'stragglers';
          o.claimedAt = Date.now();
        }
      }
      await this.releaseIdle();
      for (let p = 0; p < this.rt.partitions; p++) {
        if (!mine(p) || this.owned.has(p)) continue;
        const token = await this.engine.acquire(p, this.node, this.leaseMs);
        if (token === null) continue; // its previous owner still holds it (releasing, or its lease not expired yet)
        this.owned.set(p, { token, claimMode: 'takeover', claimedAt: Date.now(), releasing: false });
        this.emit('acquired', { partition: p, token, at: Date.now() });
      }
    } catch (error) {
      this.emit('error', error as Error);
    } finally {
      this.managing = false;
    }
  }

  private lose(partition: number): void {
    this.owned.delete(partition);
    this.emit('lost', { partition });
  }

  /** Releases partitions marked releasing that have nothing in flight. */
  private async releaseIdle(): Promise<void> {
    for (const [p, o] of [...this.owned]) {
      if (!o.releasing || this.inFlight.some((b) => b.ids.has(p))) continue;
      this.owned.delete(p);
      await this.engine.release(p, this.node, o.token);
      this.emit('released', { partition: p });
    }
  }

  // ---- delivery -------------------------------------------------------------------------------

  private async read(): Promise<void> {
    while (!this.closing) {
      try {
        const entries = await this.nextEntries();
        if (entries.length > 0) this.deliver(entries);
        while (this.inFlight.length >= this.maxInFlight || (entries.length === 0 && this.inFlight.length > 0)) await this.ackOldest();
      } catch (error) {
        if (this.closing) break;
        this.emit('error', error as Error);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    while (this.inFlight.length > 0) await this.ackOldest().catch((error: Error) => this.emit('error', error));
  }

  /** Taken-over entries first (one partition at a time, in log order), else new ones (a blocking read). */
  private async nextEntries(): Promise<LogEntry[]> {
    for (const [p, o] of this.owned) {
      if (o.claimMode === null || o.releasing) continue;
      // On taking the partition: everything a previous owner left (its lease is gone, so it can no
      // longer acknowledge; ours in flight here are acknowledged with the new token). Later passes:
      // only entries idle for leaseMs, which an owner that lost its lease while alive read after
      // the take-over and could not acknowledge.
      const minIdle = o.claimMode === 'takeover' ? 0 : this.leaseMs;
      const inFlight = new Set(this.inFlight.flatMap((b) => b.ids.get(p) ?? []));
      const { entries, more } = await this.engine.claimPending(p, this.node, this.batch, minIdle, inFlight);
      o.claimMode = more ? o.claimMode : null;
      this.counts.claimed += entries.length;
      if (entries.length > 0) return entries;
    }
    const readable = [...this.owned].filter(([, o]) => o.claimMode === null && !o.releasing).map(([p]) => p);
    if (readable.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, this.blockMs)); // nothing owned yet: wait for the ownership loop
      return [];
    }
    return this.engine.readNew(readable, this.node, this.batch, this.blockMs);
  }

  /** Hands entries to the runtime in log order; their batch completes when they are processed and replied to. */
  private deliver(entries: LogEntry[]): void {
    const ids = new Map<number, string[]>();
    const replies: Promise<unknown>[] = [];
    for (const e of entries) {
      let list = ids.get(e.partition);
      if (list === undefined) ids.set(e.partition, (list = []));
      list.push(e.id);
      let msg: unknown;
      try {
        msg = this.decode(e.payload);
        keyToString(e.key);
      } catch (error) {
        this.counts.undeliverable++;
        this.emit('undeliverable', { partition: e.partition, id: e.id, error: error as Error });
        continue;
      }
      this.counts.delivered++;
      if (e.replyTo === null) {
        replies.push(this.rt.send(e.key, msg));
        continue;
      }
      const to = e.replyTo;
      const askId = e.askId;
      replies.push(
        this.rt.ask(e.key, msg).then(
          (value) => this.engine.reply(to, askId, true, this.encodeReply(value)),
          (error: unknown) => this.engine.reply(to, askId, false, this.encode(errorToData(error))),
        ),
      );
    }
    this.inFlight.push({ ids, done: Promise.all([...replies, this.rt.drain()]) });
  }

  private encodeReply(value: unknown): Buffer {
    try {
      return this.encode(value);
    } catch (error) {
      return this.encode(errorToData(error));
    }
  }

  /** Waits for the oldest batch, then acknowledges it partition by partition (fenced). */
  private async ackOldest(): Promise<void> {
    const batch = this.inFlight[0]!;
    await batch.done;
    for (const [p, ids] of batch.ids) {
      const o = this.owned.get(p);
      if (o === undefined) continue; // lost meanwhile: its next owner gets these again
      if (await this.engine.ack(p, this.node, o.token, ids)) this.counts.acknowledged += ids.length;
      else this.lose(p);
    }
    this.inFlight.shift();
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /** The partitions this node owns now. */
  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  stats(): ClusterStats {
    const inFlight = this.inFlight.reduce((n, b) => n + [...b.ids.values()].reduce((m, l) => m + l.length, 0), 0);
    return { node: this.node, members: [...this.members], owned: this.ownedPartitions(), ...this.counts, inFlight, pendingAsks: this.pendingAsks.size };
  }

  /**
   * Leaves the cluster cleanly: stops reading, lets what is in flight finish and acknowledges it,
   * releases the leases (their next owners take over at once, not after leaseMs) and leaves the
   * members. Pending asks reject. The runtime stays open (close it yourself).
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.ownershipTimer);
    await this.readerLoop;
    for (const [p, o] of this.owned) await this.engine.release(p, this.node, o.token).catch(() => {});
    this.owned.clear();
    await this.engine.leave(this.node).catch(() => {});
    for (const id of [...this.pendingAsks.keys()]) this.settle(id, false, new RuntimeClosedError('cluster node closed before the reply came'));
    if (this.engine instanceof RedisStreams) await this.engine.dropReplies(this.node);
    await this.engine.close();
  }
}

/**
 * Joins `rt` to the cluster `options.name` on Redis: from now on its partitions are shared with
 * every process of that cluster (the same `partitions` everywhere). Resolves once connected and
 * the first ownership round ran; rejects with ClusterUnavailableError when Redis is unreachable.
 */
export async function connectCluster(rt: Runtime, options: ClusterOptions): Promise<ClusterNode> {
  if (options === null || typeof options !== 'object') throw new TypeError('connectCluster needs an options object');
  if (typeof options.redis !== 'string' || !/^rediss?:\/\//.test(options.redis)) throw new TypeError('cluster.redis must be a redis:// URL');
  if (typeof options.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(options.name)) throw new TypeError('cluster.name must be 1-64 letters, digits, _ . or -');
  const sealer = options.encrypt ? new PayloadSealer(options.encrypt === true ? keysFromEnv() : options.encrypt) : null;
  const engine = new RedisStreams({ url: options.redis, name: options.name }, await loadRedis());
  const node = new ClusterNode(rt, engine, options, sealer); // validates the numbers before connecting
  await engine.connect();
  try {
    await engine.checkPartitions(rt.partitions);
    await node.start();
  } catch (error) {
    await engine.close();
    throw error;
  }
  return node;
}

export { ClusterUnavailableError };
