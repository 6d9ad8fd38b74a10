/**
 * Progress of a long benchmark on stderr: on a terminal, a live line (phase, step, elapsed time)
 * that a finished phase replaces with its result; elsewhere (CI logs, pipes) one plain line per
 * finished phase.
 */
export class Progress {
  private readonly began = process.hrtime.bigint();
  private readonly tty: boolean;
  private live = '';
  private timer: NodeJS.Timeout | undefined;
  private step = 0;

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = out.isTTY === true && process.env.CI === undefined;
  }

  private elapsed(): string {
    return `${(Number(process.hrtime.bigint() - this.began) / 1e9).toFixed(0).padStart(4)}s`;
  }

  private counter(): string {
    return `[${this.step}/${this.total}]`;
  }

  /** A phase starts (live line on a terminal; nothing elsewhere). */
  start(label: string): void {
    this.step++;
    this.live = label;
    if (!this.tty) return;
    this.draw();
    // Redraw the clock now and then; the producer loops yield to the event loop often enough.
    this.timer ??= setInterval(() => this.draw(), 500).unref();
  }

  /** A phase ended with `result`: a permanent line. */
  done(label: string, result: string): void {
    this.clear();
    this.out.write(`${this.elapsed()}  ${this.counter()} ${label}: ${result}\n`);
    this.live = '';
  }

  /** A line that is not a phase (headers, notes). */
  note(text: string): void {
    this.clear();
    this.out.write(`${this.elapsed()}  ${text}\n`);
    if (this.live !== '' && this.tty) this.draw();
  }

  stop(): void {
    this.clear();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private draw(): void {
    if (!this.tty || this.live === '') return;
    const width = Math.max(20, (this.out.columns ?? 100) - 1);
    this.out.write(`\r\x1b[K${`${this.elapsed()}  ${this.counter()} ${this.live} …`.slice(0, width)}`);
  }

  private clear(): void {
    if (this.tty) this.out.write('\r\x1b[K');
  }
}
