/**
 * ringmaster: a worker-threads actor runtime on shared-memory rings.
 *
 * @packageDocumentation
 */
export { createRuntime, Runtime } from './runtime/runtime.js';
export type {
  AskOptions,
  SendOptions,
  RuntimeStats,
  ThreadStats,
  PartitionStats,
  ActorErrorEvent,
  WorkerExitEvent,
  WorkerRestartEvent,
  DeadLetter,
  CloseOptions,
  CloseReport,
  RuntimeEvents,
} from './runtime/runtime.js';
export type { RuntimeOptions, RestartOptions } from './runtime/options.js';
export type { Mapping, MappingFunction } from './runtime/mapping.js';
export type { Key } from './runtime/key.js';
export { fnv1a32, partitionOfKey } from './runtime/key.js';
export { closeOnSignal } from './runtime/signals.js';
export type { CloseOnSignalOptions } from './runtime/signals.js';
export { defineActor } from './actors/define.js';
export type { ActorContext, ActorDefinition, DefinedActor, RetryPolicy } from './actors/define.js';
export { TimeoutError, AbortError, RuntimeClosedError, ActorLoadError, WorkerExitError, PoisonMessageError } from './runtime/errors.js';
