/**
 * Graceful shutdown on SIGTERM / SIGINT: close the runtime (drain, with a time limit), then let
 * the signal do what it would have done (end the process), or just resolve with `exit: false`.
 */
import type { CloseReport, Runtime } from './runtime.js';

export interface CloseOnSignalOptions {
  /** Default ['SIGTERM', 'SIGINT']. */
  signals?: NodeJS.Signals[];
  /** Passed to close(); past it, what was not processed is reported as dead letters. Default 10000. */
  timeoutMs?: number;
  /** Re-raise the signal once closed, so the process ends as it would have. Default true. */
  exit?: boolean;
  /** Called with close()'s report before the process ends. */
  onClosed?: (report: CloseReport) => void;
}

/** Wires the signals to a graceful close(); returns a function that unwires them. */
export function closeOnSignal(rt: Runtime, options: CloseOnSignalOptions = {}): () => void {
  const { signals = ['SIGTERM', 'SIGINT'], timeoutMs = 10_000, exit = true, onClosed } = options;
  const unwire = (): void => {
    for (const signal of signals) process.removeListener(signal, handler);
  };
  const handler = (signal: NodeJS.Signals): void => {
    unwire();
    void rt.close({ timeoutMs }).then(() => {
      onClosed?.(rt.closeReport()!);
      if (exit) process.kill(process.pid, signal); // our listener is gone: the default action ends the process
    });
  };
  for (const signal of signals) process.once(signal, handler);
  return unwire;
}
