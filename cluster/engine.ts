/**
 * What cluster mode needs from a stream engine, kept small so another engine (NATS JetStream,
 * Kafka) can stand in for Redis Streams: one ordered log per partition with a consumer group,
 * leases with fencing tokens for partition ownership, a membership list, and reply streams for
 * asks between processes.
 */

/** One message in a partition's log. */
export interface LogEntry {
  /** Engine-assigned id, ordered within the partition. */
  id: string;
  partition: number;
  key: string;
  /** The encoded (maybe encrypted) message. */
  payload: Buffer;
  /** Set for an ask: where to send the reply (the asking node) and its ask id there. */
  replyTo: string | null;
  askId: number;
}

export interface Reply {
  askId: number;
  ok: boolean;
  payload: Buffer;
}

export interface ClusterEngine {
  /** Creates each partition's log and consumer group if missing. */
  prepare(partitions: number): Promise<void>;
  /** Appends to a partition's log; resolves once the engine has it. */
  append(partition: number, key: string, payload: Buffer, replyTo: string | null, askId: number): Promise<void>;
  /** Announces `node` alive for `ttlMs`; returns the live nodes, sorted (server clock). */
  heartbeat(node: string, ttlMs: number): Promise<string[]>;
  /** Removes `node` from the live nodes at once (a clean leave). */
  leave(node: string): Promise<void>;
  /** Takes the partition's lease if free: its fencing token (grows with every owner), or null. */
  acquire(partition: number, node: string, ttlMs: number): Promise<number | null>;
  /** Extends our leases (one round trip); false for each that is no longer ours (expired, taken). */
  renew(leases: readonly { partition: number; token: number }[], node: string, ttlMs: number): Promise<boolean[]>;
  /** Gives the lease up if it is still ours. */
  release(partition: number, node: string, token: number): Promise<void>;
  /**
   * Takes over entries delivered and not acknowledged for at least `minIdleMs` (a dead or
   * fenced-off owner's, ours from a lease we lost), except ours still `inFlight`, oldest first, at
   * most `count`; `more` when some are left.
   */
  claimPending(partition: number, consumer: string, count: number, minIdleMs: number, inFlight: ReadonlySet<string>): Promise<{ entries: LogEntry[]; more: boolean }>;
  /** New entries of the partitions, at most `count` per partition, waiting up to `blockMs` for some. */
  readNew(partitions: readonly number[], consumer: string, count: number, blockMs: number): Promise<LogEntry[]>;
  /** Acknowledges (and trims) if the lease with `token` is still ours; false when fenced off. */
  ack(partition: number, node: string, token: number, ids: readonly string[]): Promise<boolean>;
  /** Sends an ask's reply to the asking node's reply log. */
  reply(to: string, askId: number, ok: boolean, payload: Buffer): Promise<void>;
  /** Replies for `node` after `lastId`, waiting up to `blockMs`. */
  readReplies(node: string, lastId: string, blockMs: number): Promise<{ lastId: string; replies: Reply[] }>;
  /** Ends blocking reads and connections. */
  close(): Promise<void>;
}
