/**
 * Flow control for the piscina peers: at most `max` tasks unfinished. The producer waits (without
 * blocking the event loop) until the window is down to `resumeAt`, so memory stays bounded the
 * way ringmaster's ring and the postMessage ack window bound theirs.
 */
import { withTimeout } from '../peer.js';

const HANG_MS = 120_000;

export class TaskWindow {
  private inFlight = 0;
  private failure: unknown = null;
  private roomWaiter: (() => void) | null = null;
  private drainWaiter: (() => void) | null = null;

  constructor(
    private readonly max: number,
    private readonly resumeAt: number,
    private readonly label: string,
  ) {}

  get full(): boolean {
    return this.inFlight >= this.max;
  }

  /** Counts a submitted task until it settles; its failure is rethrown by room() / drained(). */
  track(task: Promise<unknown>): void {
    this.inFlight++;
    task.then(this.settled, this.failed);
  }

  /** Resolves once there is room again (at once when there is). */
  async room(): Promise<void> {
    if (this.full) await withTimeout(new Promise<void>((resolve) => (this.roomWaiter = resolve)), HANG_MS, `${this.label} task`);
    this.check();
  }

  /** Resolves once every tracked task has settled. */
  async drained(): Promise<void> {
    if (this.inFlight > 0) await withTimeout(new Promise<void>((resolve) => (this.drainWaiter = resolve)), HANG_MS, `${this.label} drain`);
    this.check();
  }

  private check(): void {
    if (this.failure !== null) throw this.failure;
  }

  private readonly settled = (): void => {
    this.inFlight--;
    if (this.inFlight === 0 && this.drainWaiter !== null) {
      const wake = this.drainWaiter;
      this.drainWaiter = null;
      wake();
    }
    if (this.roomWaiter !== null && this.inFlight <= this.resumeAt) {
      const wake = this.roomWaiter;
      this.roomWaiter = null;
      wake();
    }
  };

  private readonly failed = (error: unknown): void => {
    this.failure ??= error;
    this.settled();
  };
}
