/**
 * Shutdown: close({ timeoutMs }) that runs out of time ends the threads anyway and reports what
 * was not processed (count, dead letters with the messages, rejected asks and sends) instead of
 * losing it silently; closeOnSignal wires SIGTERM to a graceful close.
 */
import { spawn } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { createRuntime, RuntimeClosedError, type DeadLetter } from 'ringmaster';
import { fixture, fixturePath } from './helpers/api.js';

describe('close({ timeoutMs })', () => {
  test('past the timeout: threads end, every unprocessed message is reported, asks reject', async () => {
    // One thread, a small ring, a key whose receive never settles: everything behind it in the
    // ring stays unfinished (the gate is never opened).
    const rt = await createRuntime({ actor: fixture('api-gates.mjs'), threads: 1, ringBytes: 8192 });
    const letters: DeadLetter[] = [];
    rt.on('deadLetter', (d) => letters.push(d));
    const held = rt.ask('stuck', { op: 'wait', gate: `never-${process.pid}`, tag: 'held' }).catch((e: Error) => e);
    let sent = 0;
    while (rt.trySend(`m${sent % 5}`, { op: 'mark', tag: `t${sent}` })) sent++;
    const waiting = rt.send('m0', { op: 'mark', tag: 'waiting' }).catch((e: Error) => e); // ring full: waits
    const started = performance.now();
    let event: unknown;
    rt.on('closed', (r) => (event = r));
    await rt.close({ timeoutMs: 300 });
    const report = rt.closeReport()!;
    expect(event).toEqual(report);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(report.timedOut).toBe(true);
    // The held ask, and (at least) every send it blocked the release of, plus the waiting send.
    expect(report.unprocessed).toBeGreaterThanOrEqual(sent + 2);
    expect(letters.every((d) => d.reason === 'unprocessed')).toBe(true);
    expect(letters.length).toBe(report.unprocessed - 1); // the waiting send was never written
    const tags = new Set(letters.map((d) => (d.message as { tag: string }).tag));
    for (let i = 0; i < sent; i++) expect(tags.has(`t${i}`), `t${i}`).toBe(true);
    expect(letters.find((d) => d.key === 'stuck')?.ask).toBe(true);
    expect(await held).toBeInstanceOf(RuntimeClosedError);
    expect(await waiting).toBeInstanceOf(RuntimeClosedError);
    expect(rt.stats().closed).toBe(true);
    await rt.close(); // idempotent
    expect(rt.closeReport()).toEqual(report);
  }, 30_000);

  test('within the timeout it is an ordinary close: nothing unprocessed', async () => {
    const rt = await createRuntime({ actor: fixture('counter.mjs'), threads: 2 });
    for (let i = 0; i < 20_000; i++) if (!rt.trySend(`k${i % 50}`, { amount: 1 })) await rt.send(`k${i % 50}`, { amount: 1 });
    await rt.close({ timeoutMs: 30_000 });
    expect(rt.closeReport()).toEqual({ timedOut: false, unprocessed: 0 });
    expect(rt.stats().processed).toBe(20_000);
  });

  test('closeOnSignal: SIGTERM drains, closes, reports, and the process ends by the signal', async () => {
    const child = spawn(process.execPath, [fixturePath('signal-child.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('READY')) resolve();
      });
      child.on('exit', () => reject(new Error(`child ended early: ${out}${err}`)));
    });
    child.kill('SIGTERM');
    const { signal } = await ended;
    expect(signal, err).toBe('SIGTERM');
    const closed = JSON.parse(out.split('CLOSED ')[1]!.split('\n')[0]!);
    expect(closed).toEqual({ timedOut: false, unprocessed: 0, processed: 5000 });
  }, 30_000);
});
