/** Errors the runtime raises, each with a stable `name` callers can test. */

/** An ask() that did not get its reply within `timeoutMs`. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** An ask() whose AbortSignal fired first; the signal's reason is the `cause`. */
export class AbortError extends Error {
  override readonly name = 'AbortError';
}

/** A send/ask/drain on a runtime that is closing or closed. */
export class RuntimeClosedError extends Error {
  override readonly name = 'RuntimeClosedError';
}

/** createRuntime could not start: the actor module is missing, threw while loading, or is not an actor. */
export class ActorLoadError extends Error {
  override readonly name = 'ActorLoadError';
}

/** A worker thread ended while it still had work; pending asks to it reject with this. */
export class WorkerExitError extends Error {
  override readonly name = 'WorkerExitError';
  readonly thread: number;
  constructor(message: string, thread: number, options?: ErrorOptions) {
    super(message, options);
    this.thread = thread;
  }
}

/** An ask whose message crashed its worker `maxCrashes` times: it was set aside as a dead letter. */
export class PoisonMessageError extends Error {
  override readonly name = 'PoisonMessageError';
}

/** The serializable shape of an error crossing threads. */
export interface ErrorData {
  name: string;
  message: string;
  stack?: string | undefined;
}

export function errorToData(error: unknown): ErrorData {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

/** Rebuilds an actor's error on the main thread with its name and message preserved. */
export function errorFromData(data: ErrorData): Error {
  const Known: Record<string, new (message: string) => Error> = {
    TypeError,
    RangeError,
    SyntaxError,
    ReferenceError,
    EvalError,
    URIError,
    PoisonMessageError,
  };
  const Ctor = Known[data.name] ?? Error;
  const error = new Ctor(data.message);
  if (error.name !== data.name) Object.defineProperty(error, 'name', { value: data.name, configurable: true, writable: true });
  if (data.stack) error.stack = data.stack;
  return error;
}
