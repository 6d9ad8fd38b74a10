/**
 * The cluster engine on Redis Streams (Redis 6.2+; tested with Debian's 7.0), through ioredis.
 *
 * Keys, all under `rm:{name}:`:
 *   p:{partition}      the partition's stream; consumer group `g`; fields k (key), m (message),
 *                      and for an ask r (reply-to node) and a (ask id)
 *   lease:{partition}  `{node}:{token}`, with a TTL: who owns the partition
 *   fence:{partition}  the last fencing token handed out (INCR per new owner)
 *   members            sorted set: node → last heartbeat (server clock, ms)
 *   reply:{node}       a node's reply stream (asks it sent), trimmed to about REPLY_KEEP entries
 *
 * Four connections: appends and replies (auto-pipelined, so a burst goes out as one pipeline);
 * control (leases, heartbeats, acknowledgements, take-overs), apart so that a burst of appends
 * never delays a lease renewal past its expiry; and one each for the blocking reads of partitions
 * and of replies (a blocked connection cannot carry anything else). Non-blocking connections do
 * not queue while Redis is unreachable:
 * appends reject at once (ClusterUnavailableError), so nothing counts as sent that Redis does not
 * have; ioredis reconnects by itself and work goes on when Redis is back.
 */
import type { Redis } from 'ioredis';
import type { RedisClass } from './load-redis.js';
import type { ClusterEngine, LogEntry, Reply } from './engine.js';

const GROUP = 'g';
const REPLY_KEEP = 10_000;

/** Redis is unreachable (or answered with an error the cluster cannot work around). */
export class ClusterUnavailableError extends Error {
  override readonly name = 'ClusterUnavailableError';
}

// Lease scripts: a lease is ours when its value is exactly `{node}:{token}`.
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1] .. ':' .. (tonumber(redis.call('GET', KEYS[2]) or '0') + 1), 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0`;
// Renews many leases in one round trip: KEYS lease keys, ARGV[1] the TTL, then one value per key.
const RENEW = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then out[i] = redis.call('PEXPIRE', key, ARGV[1]) else out[i] = 0 end
end
return out`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
// Acknowledge only while the lease is ours (fencing), then trim what no consumer needs: entries
// before the oldest pending one, or before the last acknowledged one when none is pending.
const ACK = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local n = redis.call('XACK', KEYS[2], ARGV[2], unpack(ARGV, 4))
local pending = redis.call('XPENDING', KEYS[2], ARGV[2])
local floor = ARGV[3]
if pending[1] > 0 then floor = pending[2] end
redis.call('XTRIM', KEYS[2], 'MINID', floor)
return n`;
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZRANGE', KEYS[1], 0, -1)`;

type Field = Buffer;

/**
 * The Buffer-returning stream reads we use, as ioredis has them at run time (its typings for the
 * RESP2 "legacy" client leave them out). Typed methods, not callBuffer: ioredis's auto-pipelining
 * drops callBuffer's command name, and callBuffer flattens a one-stream XREAD reply.
 */
interface BufferCommands {
  xclaimBuffer(...args: (string | number)[]): Promise<unknown>;
  xreadgroupBuffer(...args: (string | number)[]): Promise<unknown>;
  xreadBuffer(...args: (string | number)[]): Promise<unknown>;
}

function unavailable(error: unknown): ClusterUnavailableError {
  const e = error as Error;
  return new ClusterUnavailableError(`Redis is unreachable or refused the command: ${e.message}`, { cause: e });
}

/** [id, [field, value, ...]] as Redis returns a stream entry. */
function toEntry(partition: number, raw: [Buffer, Field[]]): LogEntry {
  const [id, fields] = raw;
  let key = '';
  let payload: Buffer = Buffer.alloc(0);
  let replyTo: string | null = null;
  let askId = 0;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    const value = fields[i + 1]!;
    if (name === 'k') key = value.toString();
    else if (name === 'm') payload = value;
    else if (name === 'r') replyTo = value.toString();
    else if (name === 'a') askId = Number(value.toString());
  }
  return { id: id.toString(), partition, key, payload, replyTo, askId };
}

export interface RedisStreamsOptions {
  /** redis:// URL. */
  url: string;
  /** Namespace of this cluster's keys. */
  name: string;
}

export class RedisStreams implements ClusterEngine {
  private readonly commands: Redis;
  private readonly control: Redis;
  private readonly reader: Redis;
  private readonly replyReader: Redis;
  private readonly prefix: string;
  private closed = false;

  /** `RedisClient`: ioredis's Redis class, from loadRedis() (see load-redis.ts for why it is not imported here). */
  constructor(options: RedisStreamsOptions, RedisClient: RedisClass) {
    const common = { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (times: number) => Math.min(1000, 50 * times) };
    this.commands = new RedisClient(options.url, { ...common, enableAutoPipelining: true, enableOfflineQueue: false });
    this.control = new RedisClient(options.url, { ...common, enableOfflineQueue: false });
    this.reader = new RedisClient(options.url, { ...common, maxRetriesPerRequest: null });
    this.replyReader = new RedisClient(options.url, { ...common, maxRetriesPerRequest: null });
    for (const connection of this.connections()) connection.on('error', () => {}); // reconnects; callers see rejections
    this.prefix = `rm:${options.name}:`;
    this.control.defineCommand('rmAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    this.control.defineCommand('rmRenew', { lua: RENEW });
    this.control.defineCommand('rmRelease', { numberOfKeys: 1, lua: RELEASE });
    this.control.defineCommand('rmAck', { numberOfKeys: 2, lua: ACK });
    this.control.defineCommand('rmHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT });
  }

  private connections(): Redis[] {
    return [this.commands, this.control, this.reader, this.replyReader];
  }

  /** Connects all three connections; rejects with ClusterUnavailableError when Redis is unreachable. */
  async connect(timeoutMs = 5000): Promise<void> {
    // The first error ends the attempt: ioredis would otherwise retry forever (its retry strategy
    // is for reconnecting once connected).
    const first = (c: Redis): Promise<void> =>
      new Promise((resolve, reject) => {
        c.once('error', reject);
        c.connect().then(() => {
          c.off('error', reject);
          resolve();
        }, reject);
      });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs)));
    try {
      await Promise.race([Promise.all(this.connections().map(first)), timeout]);
    } catch (error) {
      for (const c of this.connections()) c.disconnect();
      throw unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every process of a cluster must use the same partition count: the first one sets it. */
  async checkPartitions(partitions: number): Promise<void> {
    const key = `${this.prefix}partitions`;
    await this.run(this.commands.set(key, String(partitions), 'NX'));
    const stored = Number(await this.run(this.commands.get(key)));
    if (stored !== partitions) throw new RangeError(`cluster has ${stored} partitions, this runtime ${partitions}: every process must use the same`);
  }

  private stream(partition: number): string {
    return `${this.prefix}p:${partition}`;
  }

  private async run<T>(command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (error) {
      throw unavailable(error);
    }
  }

  private script(name: string, ...args: (string | number)[]): Promise<unknown> {
    return this.run((this.control as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!(...args));
  }

  async prepare(partitions: number): Promise<void> {
    await Promise.all(
      Array.from({ length: partitions }, (_, p) =>
        this.commands.xgroup('CREATE', this.stream(p), GROUP, '0', 'MKSTREAM').catch((error: Error) => {
          if (!/BUSYGROUP/.test(error.message)) throw unavailable(error);
        }),
      ),
    );
  }

  async append(partition: number, key: string, payload: Buffer, replyTo: string | null, askId: number): Promise<void> {
    const fields: (string | Buffer)[] = ['k', key, 'm', payload];
    if (replyTo !== null) fields.push('r', replyTo, 'a', String(askId));
    await this.run(this.commands.xadd(this.stream(partition), '*', ...fields));
  }

  async heartbeat(node: string, ttlMs: number): Promise<string[]> {
    // By name: every node must see the same order (the set orders by heartbeat time).
    return ((await this.script('rmHeartbeat', `${this.prefix}members`, node, ttlMs)) as string[]).sort();
  }

  async leave(node: string): Promise<void> {
    await this.run(this.control.zrem(`${this.prefix}members`, node));
  }

  async acquire(partition: number, node: string, ttlMs: number): Promise<number | null> {
    const token = Number(await this.script('rmAcquire', `${this.prefix}lease:${partition}`, `${this.prefix}fence:${partition}`, node, ttlMs));
    return token > 0 ? token : null;
  }

  async renew(leases: readonly { partition: number; token: number }[], node: string, ttlMs: number): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const keys = leases.map((l) => `${this.prefix}lease:${l.partition}`);
    const values = leases.map((l) => `${node}:${l.token}`);
    const out = (await this.script('rmRenew', keys.length, ...keys, ttlMs, ...values)) as number[];
    return out.map((n) => Number(n) === 1);
  }

  async release(partition: number, node: string, token: number): Promise<void> {
    await this.script('rmRelease', `${this.prefix}lease:${partition}`, `${node}:${token}`);
  }

  async claimPending(partition: number, consumer: string, count: number, minIdleMs: number, inFlight: ReadonlySet<string>): Promise<{ entries: LogEntry[]; more: boolean }> {
    const stream = this.stream(partition);
    const summary = (await this.run(this.control.xpending(stream, GROUP))) as [number, string | null, string | null, [string, string][] | null];
    const ids: string[] = [];
    let more = false;
    for (const [name] of summary[3] ?? []) {
      const listed = (await this.run(this.control.xpending(stream, GROUP, 'IDLE', minIdleMs, '-', '+', count + inFlight.size, name))) as [string, string, number, number][];
      if (listed.length >= count + inFlight.size) more = true;
      // Ours still in flight here are not taken again (that would deliver them twice).
      for (const [id] of listed) if (name !== consumer || !inFlight.has(id)) ids.push(id);
    }
    if (ids.length === 0) return { entries: [], more: false };
    // Stream ids "ms-seq" in log order (several old owners' entries interleave).
    const order = (id: string): [number, number] => id.split('-').map(Number) as [number, number];
    ids.sort((x, y) => {
      const [a1, a2] = order(x);
      const [b1, b2] = order(y);
      return a1 - b1 || a2 - b2;
    });
    const taken = ids.slice(0, count);
    if (taken.length < ids.length) more = true;
    const raw = (await this.run((this.control as unknown as BufferCommands).xclaimBuffer(stream, GROUP, consumer, 0, ...taken))) as ([Buffer, Field[]] | null)[];
    // Entries trimmed away while pending come back as nil: nothing to deliver for those.
    const entries = raw.filter((e): e is [Buffer, Field[]] => e !== null && e[1] !== null).map((e) => toEntry(partition, e));
    return { entries, more };
  }

  async readNew(partitions: readonly number[], consumer: string, count: number, blockMs: number): Promise<LogEntry[]> {
    if (partitions.length === 0) return [];
    const streams = partitions.map((p) => this.stream(p));
    let raw: [Buffer, [Buffer, Field[]][]][] | null;
    try {
      raw = (await (this.reader as unknown as BufferCommands).xreadgroupBuffer('GROUP', GROUP, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...streams, ...partitions.map(() => '>'))) as typeof raw;
    } catch (error) {
      if (this.closed) return [];
      throw unavailable(error);
    }
    if (raw === null) return [];
    const out: LogEntry[] = [];
    for (const [stream, entries] of raw) {
      const partition = Number(stream.toString().slice(this.prefix.length + 2));
      for (const e of entries) out.push(toEntry(partition, e));
    }
    return out;
  }

  async ack(partition: number, node: string, token: number, ids: readonly string[]): Promise<boolean> {
    if (ids.length === 0) return true;
    const n = Number(await this.script('rmAck', `${this.prefix}lease:${partition}`, this.stream(partition), `${node}:${token}`, GROUP, ids[ids.length - 1]!, ...ids));
    return n >= 0;
  }

  async reply(to: string, askId: number, ok: boolean, payload: Buffer): Promise<void> {
    await this.run(this.commands.xadd(`${this.prefix}reply:${to}`, 'MAXLEN', '~', String(REPLY_KEEP), '*', 'a', String(askId), 'o', ok ? '1' : '0', 'm', payload));
  }

  async readReplies(node: string, lastId: string, blockMs: number): Promise<{ lastId: string; replies: Reply[] }> {
    let raw: [Buffer, [Buffer, Field[]][]][] | null;
    try {
      raw = (await (this.replyReader as unknown as BufferCommands).xreadBuffer('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', `${this.prefix}reply:${node}`, lastId)) as typeof raw;
    } catch (error) {
      if (this.closed) return { lastId, replies: [] };
      throw unavailable(error);
    }
    const replies: Reply[] = [];
    let last = lastId;
    for (const [, entries] of raw ?? []) {
      for (const [id, fields] of entries) {
        last = id.toString();
        const get = (name: string): Buffer | undefined => {
          for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1];
          return undefined;
        };
        replies.push({ askId: Number(get('a')?.toString()), ok: get('o')?.toString() === '1', payload: get('m') ?? Buffer.alloc(0) });
      }
    }
    return { lastId: last, replies };
  }

  /** Deletes a node's reply stream (on its clean leave). */
  async dropReplies(node: string): Promise<void> {
    await this.commands.del(`${this.prefix}reply:${node}`).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reader.disconnect();
    this.replyReader.disconnect();
    await Promise.all([this.commands, this.control].map((c) => c.quit().catch(() => c.disconnect())));
  }
}
