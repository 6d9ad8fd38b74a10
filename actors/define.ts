/** The actor API: what an actor module default-exports, and what each key's actor sees. */

/**
 * What `receive` and `init` see of their key's actor: the same object for every message of the key
 * (it is the runtime's actor object itself, so it also has fields of the runtime's own; only the
 * ones below are API).
 */
export interface ActorContext<State> {
  /** The key, always in string form (`42` arrives as `'42'`). */
  readonly key: string;
  /** The key's partition: fnv1a32(utf8(key)) % partitions. */
  readonly partition: number;
  /** 0-based index of the worker thread hosting this key. */
  readonly thread: number;
  /**
   * How many times this thread's worker was restarted after a crash before the current one
   * (0 on a first start). State lives in the worker, so after a restart `init` runs again for
   * each key: `ctx.restarts > 0` there means "reload what you persisted".
   */
  readonly restarts: number;
  /** The actor kind (the name in createRuntime's `actors`; 'default' for the single-kind `actor`). */
  readonly kind: string;
  /** This key's state, kept on this thread between messages. Read it and assign it. */
  state: State;
  /**
   * Sends a message to another key's actor (this kind's, or `options.kind`'s), wherever its
   * partition lives. Never blocks and never drops; messages from one sending key to one
   * receiving key arrive in the order sent. Throws TypeError/RangeError as rt.send does.
   */
  send(key: string | number, msg: unknown, options?: ContextSendOptions): void;
}

export interface ContextSendOptions {
  /** The receiving actor kind (default: the sender's own). */
  kind?: string;
}

/** What onBroadcast sees: where it runs. */
export interface BroadcastContext {
  readonly thread: number;
  readonly kind: string;
}

/**
 * How a failing `receive` of a send/trySend message is retried: up to `maxAttempts` runs in all,
 * waiting `backoffMs · 2^(n-1)` (at most `maxBackoffMs`) before run n + 1, times a random factor in
 * [0.5, 1) when `jitter` is set. The key's later messages wait behind it, so order holds. After the
 * last attempt the message is a dead letter. Asks are not retried: the caller gets the error.
 */
export interface RetryPolicy {
  /** Runs in all, the first included. Default 1 (no retry). */
  maxAttempts?: number;
  /** Delay before the first retry, ms. Default 100. */
  backoffMs?: number;
  /** Longest delay between attempts, ms. Default 10000. */
  maxBackoffMs?: number;
  /** Spread retries of many failing messages apart. Default false. */
  jitter?: boolean;
}

export interface ActorDefinition<State = unknown, Msg = unknown, Reply = unknown> {
  /** Retries of failing sends (see RetryPolicy); overrides the runtime's `retry` option. */
  retry?: RetryPolicy;
  /** Called on a key's first message, before its receive; returns the initial state. */
  init?(key: string, ctx: ActorContext<State>): State | Promise<State>;
  /**
   * Handles one message. Messages for one key arrive in send order, one at a time: a returned
   * Promise holds this key's next message until it settles (other keys go on). The value
   * answers `ask()`.
   */
  receive(msg: Msg, ctx: ActorContext<State>): Reply | Promise<Reply>;
  /**
   * Keys that got no message for this long drop their state (after `passivate`, if given); the
   * next message activates the key again through `init`. Default: never.
   */
  passivateAfterMs?: number;
  /** Called before an idle key's state is dropped (persist it here if it must survive). */
  passivate?(state: State, ctx: ActorContext<State>): void;
  /**
   * When the key's partition moves to another thread (rt.rebalance, setMapping, resize): turns the
   * state into something structured-clone-able. Default: the state itself (it must be cloneable).
   */
  exportState?(state: State, ctx: ActorContext<State>): unknown;
  /** On the new thread: rebuilds the state from what exportState returned. Default: as is. */
  importState?(data: unknown, ctx: ActorContext<State>): State;
  /** rt.broadcast(msg): called once per thread (per kind), between messages. */
  onBroadcast?(msg: unknown, ctx: BroadcastContext): void | Promise<void>;
}

/** Marks objects made by defineActor, so a worker can tell an actor module from anything else. */
export const ACTOR_BRAND: unique symbol = Symbol.for('ringmaster.actor') as never;

export type DefinedActor<State, Msg, Reply> = ActorDefinition<State, Msg, Reply> & { readonly [ACTOR_BRAND]: true };

/** Declares an actor; make it the default export of the actor module. */
export function defineActor<State = unknown, Msg = unknown, Reply = unknown>(
  definition: ActorDefinition<State, Msg, Reply>,
): DefinedActor<State, Msg, Reply> {
  if (definition === null || typeof definition !== 'object') throw new TypeError('defineActor needs an object');
  if (typeof definition.receive !== 'function') throw new TypeError('defineActor needs a receive(msg, ctx) function');
  if (definition.init !== undefined && typeof definition.init !== 'function') {
    throw new TypeError('defineActor: init must be a function when given');
  }
  if (definition.retry !== undefined) resolveRetry(definition.retry, 'defineActor: retry');
  for (const hook of ['passivate', 'exportState', 'importState', 'onBroadcast'] as const) {
    if (definition[hook] !== undefined && typeof definition[hook] !== 'function') {
      throw new TypeError(`defineActor: ${hook} must be a function when given`);
    }
  }
  const idle = definition.passivateAfterMs;
  if (idle !== undefined && (typeof idle !== 'number' || !(idle > 0) || !Number.isFinite(idle))) {
    throw new RangeError(`defineActor: passivateAfterMs must be a positive number of ms, got ${String(idle)}`);
  }
  return Object.freeze({ ...definition, [ACTOR_BRAND]: true as const });
}

export function isDefinedActor(value: unknown): value is DefinedActor<unknown, unknown, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[ACTOR_BRAND] === true &&
    typeof (value as ActorDefinition).receive === 'function'
  );
}

export const RETRY_DEFAULTS: Required<RetryPolicy> = { maxAttempts: 1, backoffMs: 100, maxBackoffMs: 10_000, jitter: false };

/** A complete, validated policy (TypeError/RangeError naming `where` for a bad one). */
export function resolveRetry(policy: RetryPolicy | undefined, where: string): Required<RetryPolicy> {
  if (policy === undefined) return { ...RETRY_DEFAULTS };
  if (policy === null || typeof policy !== 'object') throw new TypeError(`${where} must be an object`);
  for (const name of Object.keys(policy)) {
    if (!(name in RETRY_DEFAULTS)) throw new TypeError(`${where}: unknown option '${name}'`);
  }
  const int = (name: keyof RetryPolicy, min: number): number => {
    const value = policy[name] ?? RETRY_DEFAULTS[name];
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${where}.${name} must be an integer`);
    if (value < min) throw new RangeError(`${where}.${name} must be >= ${min}, got ${value}`);
    return value;
  };
  const jitter = policy.jitter ?? RETRY_DEFAULTS.jitter;
  if (typeof jitter !== 'boolean') throw new TypeError(`${where}.jitter must be a boolean`);
  return { maxAttempts: int('maxAttempts', 1), backoffMs: int('backoffMs', 0), maxBackoffMs: int('maxBackoffMs', 0), jitter };
}
