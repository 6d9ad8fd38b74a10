/**
 * ringmaster: a worker-threads actor runtime on shared-memory rings.
 *
 * @packageDocumentation
 */
export { createRuntime, Runtime, ActorKind } from './runtime/runtime.js';
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
  AutoBalanceOptions,
  RebalancedEvent,
} from './runtime/runtime.js';
export type { WorkerSnapshot } from './runtime/control.js';
export { renderPrometheus } from './runtime/prometheus.js';
export type { MetricFamily, Sample, MetricType } from './runtime/prometheus.js';
export type { RuntimeOptions, RestartOptions } from './runtime/options.js';
export type { Mapping, MappingFunction } from './runtime/mapping.js';
export type { Key } from './runtime/key.js';
export { fnv1a32, partitionOfKey } from './runtime/key.js';
export { closeOnSignal } from './runtime/signals.js';
export type { CloseOnSignalOptions } from './runtime/signals.js';
export { defineActor } from './actors/define.js';
export type { ActorContext, ActorDefinition, DefinedActor, RetryPolicy, ContextSendOptions, BroadcastContext } from './actors/define.js';
export { TimeoutError, AbortError, RuntimeClosedError, ActorLoadError, WorkerExitError, PoisonMessageError } from './runtime/errors.js';
export { connectCluster, ClusterNode, ClusterUnavailableError } from './cluster/cluster.js';
export type { ClusterOptions, ClusterStats, ClusterEvents } from './cluster/cluster.js';
export type { EncryptionKey } from './cluster/encryption.js';
export type { ClusterEngine, LogEntry, Reply } from './cluster/engine.js';
