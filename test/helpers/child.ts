/** Runs a child `node` process and reports how it ended; kills it (by its own pid) on timeout. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
  /** The JSON after `RESULT ` on stdout, if printed. */
  result: any;
}

export const CHILD_SCRIPT = fileURLToPath(new URL('../fixtures/api-child.mjs', import.meta.url));
export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function runNode(args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ChildOutcome> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({
        code,
        signal,
        stdout,
        stderr,
        timedOut,
        ms: performance.now() - started,
        result: line ? JSON.parse(line.slice('RESULT '.length)) : undefined,
      });
    });
  });
}

/** Runs a scenario of test/fixtures/api-child.mjs. */
export function runScenario(scenario: string, arg?: string, options?: { timeoutMs?: number; env?: Record<string, string> }): Promise<ChildOutcome> {
  return runNode(arg === undefined ? [CHILD_SCRIPT, scenario] : [CHILD_SCRIPT, scenario, arg], options);
}

/** A readable summary for assertion messages. */
export function explain(o: ChildOutcome): string {
  return `exit code ${o.code}, signal ${o.signal}, timedOut ${o.timedOut}, ${Math.round(o.ms)} ms\nstdout: ${o.stdout.slice(-2000)}\nstderr: ${o.stderr.slice(-2000)}`;
}
