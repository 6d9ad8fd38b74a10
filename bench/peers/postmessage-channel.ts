/**
 * The raw-postMessage channel used by the postMessage peers, both sides: a worker thread fed with
 * postMessage, and flow control so memory stays bounded. The worker acknowledges every ACK_EVERY
 * messages it has processed; the producer keeps at most MAX_UNACKED messages unacknowledged and
 * waits for an ack (without blocking the event loop) when it would exceed that. MAX_UNACKED
 * (16,384 W1 messages) is about what ringmaster's default 1 MiB ring holds (~64 bytes a frame),
 * so both have a similar amount of work queued at most.
 */
import { Worker, type MessagePort } from 'node:worker_threads';

export const ACK_EVERY = 4096;
export const MAX_UNACKED = 16_384;

/** Worker → main. */
export type PmReply = { type: 'ready' } | { type: 'ack'; processed: number } | { type: 'result'; value: unknown };

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/** Main side: one worker, posts with flow control, and one request/response at a time. */
export class PmChannel<In> {
  private readonly worker: Worker;
  private sent = 0;
  private acked = 0;
  private roomNeeded = 0;
  private roomWaiter: Waiter | null = null;
  private resultWaiter: { resolve(value: unknown): void; reject(error: Error): void } | null = null;
  private readyWaiter: Waiter | null = null;
  private failure: Error | null = null;
  private ended = false;

  constructor(url: URL, label: string) {
    this.worker = new Worker(url, { name: label });
    this.worker.on('message', (reply: PmReply) => this.onReply(reply));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => {
      if (!this.ended) this.fail(new Error(`${label}: worker exited with code ${code}`));
    });
  }

  /** Resolves once the worker has loaded and is listening. */
  ready(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.readyWaiter = { resolve, reject };
    });
  }

  /**
   * Posts `data` (which holds `count` messages). Synchronous when the window has room; otherwise
   * returns a promise that resolves once acks made room and the data was posted.
   */
  post(data: In, count: number): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    if (this.sent + count - this.acked > MAX_UNACKED) return this.postWhenRoom(data, count);
    this.worker.postMessage(data);
    this.sent += count;
    return undefined;
  }

  private async postWhenRoom(data: In, count: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.roomNeeded = count;
      this.roomWaiter = { resolve, reject };
    });
    this.worker.postMessage(data);
    this.sent += count;
  }

  /** Posts a control message and resolves with the worker's { type: 'result' } answer. */
  request<R>(msg: In): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.resultWaiter = { resolve: resolve as (value: unknown) => void, reject };
      this.worker.postMessage(msg);
    });
  }

  async terminate(): Promise<void> {
    this.ended = true;
    await this.worker.terminate();
  }

  private onReply(reply: PmReply): void {
    switch (reply.type) {
      case 'ready': {
        const w = this.readyWaiter;
        this.readyWaiter = null;
        w?.resolve();
        break;
      }
      case 'ack':
        this.acked = reply.processed;
        if (this.roomWaiter !== null && this.sent + this.roomNeeded - this.acked <= MAX_UNACKED) {
          const w = this.roomWaiter;
          this.roomWaiter = null;
          w.resolve();
        }
        break;
      case 'result': {
        const w = this.resultWaiter;
        this.resultWaiter = null;
        w?.resolve(reply.value);
        break;
      }
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const w of [this.readyWaiter, this.roomWaiter, this.resultWaiter]) w?.reject(error);
    this.readyWaiter = this.roomWaiter = this.resultWaiter = null;
  }
}

/** Worker side: counts processed messages and acknowledges every ACK_EVERY. */
export class PmAcker {
  private processed = 0;
  private lastAck = 0;

  constructor(private readonly port: MessagePort) {}

  ready(): void {
    this.port.postMessage({ type: 'ready' } satisfies PmReply);
  }

  done(count: number): void {
    this.processed += count;
    if (this.processed - this.lastAck >= ACK_EVERY) {
      this.lastAck = this.processed;
      this.port.postMessage({ type: 'ack', processed: this.processed } satisfies PmReply);
    }
  }

  result(value: unknown): void {
    this.port.postMessage({ type: 'result', value } satisfies PmReply);
  }
}
