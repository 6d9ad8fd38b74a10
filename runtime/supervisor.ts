/**
 * Restart policy for crashed worker threads, in the OTP manner: restart with exponential backoff,
 * and give up when one thread crashed more than `maxRestarts` times within `withinMs` (a crash
 * loop is then a bug to surface, not to hide).
 */
import type { RestartOptions } from './options.js';

export interface RestartDecision {
  /** 1 for the first restart within the window, 2 for the second, ... */
  attempt: number;
  delayMs: number;
}

export class RestartPolicy {
  /** Crash times (ms) per thread within the current window. */
  private readonly crashes: number[][] = [];
  /** Restarts per thread, all time. */
  private readonly total: number[] = [];

  constructor(private readonly options: Required<RestartOptions>) {}

  /** A thread removed by resize: a later thread at its index starts with a clean record. */
  forget(thread: number): void {
    this.crashes[thread] = [];
    this.total[thread] = 0;
  }

  /** A thread crashed at `now` (ms): when to restart it, or null to give up. */
  onCrash(thread: number, now: number): RestartDecision | null {
    const { backoffMs, maxBackoffMs, maxRestarts, withinMs } = this.options;
    const recent = (this.crashes[thread] ?? []).filter((t) => now - t < withinMs);
    recent.push(now);
    this.crashes[thread] = recent;
    if (recent.length > maxRestarts) return null;
    const attempt = recent.length;
    return { attempt, delayMs: Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1)) };
  }

  /** Restarts of `thread` so far (all time). */
  restarts(thread: number): number {
    return this.total[thread] ?? 0;
  }

  /** Counts a restart that happened. */
  restarted(thread: number): void {
    this.total[thread] = (this.total[thread] ?? 0) + 1;
  }
}
