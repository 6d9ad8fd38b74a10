/** The actor API: what an actor module default-exports, and what each key's actor sees. */

/** What `receive` and `init` see of their key's actor. */
export interface ActorContext<State> {
  /** The key, always in string form (`42` arrives as `'42'`). */
  readonly key: string;
  /** The key's partition: fnv1a32(utf8(key)) % partitions. */
  readonly partition: number;
  /** 0-based index of the worker thread hosting this key. */
  readonly thread: number;
  /** This key's state, kept on this thread between messages. Read it and assign it. */
  state: State;
}

export interface ActorDefinition<State = unknown, Msg = unknown, Reply = unknown> {
  /** Called on a key's first message, before its receive; returns the initial state. */
  init?(key: string, ctx: ActorContext<State>): State | Promise<State>;
  /**
   * Handles one message. Messages for one key arrive in send order, one at a time: a returned
   * Promise holds this key's next message until it settles (other keys go on). The value
   * answers `ask()`.
   */
  receive(msg: Msg, ctx: ActorContext<State>): Reply | Promise<Reply>;
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
