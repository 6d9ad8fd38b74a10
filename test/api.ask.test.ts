/**
 * API contract — ask(): resolves with what receive returned / resolved to; rejects with the
 * actor's error (name and message preserved); TimeoutError on timeoutMs; AbortError on abort
 * (an already-aborted signal enqueues nothing); many concurrent asks each get their own answer.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { fixture, openGate } from './helpers/api.js';

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

describe('ask', () => {
  let rt: Runtime;
  let gates: Runtime;
  beforeAll(async () => {
    [rt, gates] = await Promise.all([
      createRuntime({ actor: fixture('api-errors.mjs'), threads: 2 }),
      createRuntime({ actor: fixture('api-gates.mjs'), threads: 2 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([rt?.close(), gates?.close()]);
  });

  test('resolves with the returned value and with the resolved value of an async receive', async () => {
    expect(await rt.ask('k', { op: 'ok', value: { a: [1, 'two'] } })).toEqual({ a: [1, 'two'] });
    expect(await rt.ask('k', { op: 'okAsync', value: 'later' })).toBe('later');
    expect(await rt.ask('k', { op: 'ok', value: undefined })).toBeUndefined();
    expect(await rt.ask('k', { op: 'ok', value: null })).toBeNull();
    expect(await rt.ask('k', { op: 'ok', value: 0 })).toBe(0);
  });

  test.each([
    ['TypeError', 'throw'],
    ['RangeError', 'throw'],
    ['Error', 'throw'],
    ['ValidationError', 'throw'], // subclass setting this.name in its constructor
    ['QuotaError', 'throw'], // subclass of RangeError with name on the prototype
    ['TypeError', 'reject'],
    ['RangeError', 'reject'],
    ['ValidationError', 'reject'],
  ])("rejects with the actor's %s (%s), name and message preserved", async (kind, op) => {
    const message = `bad thing: ${kind}/${op} — ünïcødé ✓`;
    const error = await rt.ask('err', { op, kind, message }).then(
      () => {
        throw new Error('ask resolved but should have rejected');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe(kind);
    expect((error as Error).message).toBe(message);
  });

  test('an actor that threw keeps answering later asks', async () => {
    await expect(rt.ask('err2', { op: 'throw', kind: 'TypeError', message: 'x' })).rejects.toMatchObject({ name: 'TypeError', message: 'x' });
    expect(await rt.ask('err2', { op: 'ok', value: 'still here' })).toBe('still here');
  });

  test("timeoutMs: rejects with name 'TimeoutError'; later asks to the key get their own replies", async () => {
    const started = Date.now();
    const held = gates.ask('to-key', { op: 'wait', gate: 'timeout-gate', tag: 'held', value: 'late reply' }, { timeoutMs: 100 });
    const error = await held.then(
      () => null,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.name).toBe('TimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    // The key is still held; queue another ask behind it, then open the gate.
    const next = gates.ask('to-key', { op: 'mark', tag: 'next' }, { timeoutMs: 30_000 });
    openGate('timeout-gate');
    expect(await next).toBe('next'); // not the late reply of the timed-out ask
    expect(await gates.ask('to-key', { op: 'mark', tag: 'again' })).toBe('again');
  });

  test('an ask that answers in time is not affected by its timeout', async () => {
    expect(await gates.ask('quick', { op: 'mark', tag: 'q' }, { timeoutMs: 10_000 })).toBe('q');
  });

  test("AbortSignal: aborting a pending ask rejects it with name 'AbortError'", async () => {
    const controller = new AbortController();
    const held = gates.ask('ab-key', { op: 'wait', gate: 'abort-gate', tag: 'held' }, { signal: controller.signal });
    let settled = false;
    void held.catch(() => {}).finally(() => (settled = true));
    expect(await gates.ask('ab-other', { op: 'mark', tag: 'x' })).toBe('x');
    expect(settled).toBe(false);
    controller.abort();
    const error = await held.then(
      () => null,
      (e: Error) => e,
    );
    expect(error!.name).toBe('AbortError');
    openGate('abort-gate');
    await gates.drain();
    expect(await gates.ask('ab-key', { op: 'mark', tag: 'y' })).toBe('y');
  });

  test('AbortSignal.timeout() also ends a pending ask', async () => {
    const held = gates.ask('ab-timeout', { op: 'wait', gate: 'abort-timeout-gate', tag: 'held' }, { signal: AbortSignal.timeout(50) });
    await expect(held).rejects.toSatisfy((e: any) => e?.name === 'AbortError' || e?.name === 'TimeoutError');
    openGate('abort-timeout-gate');
    await gates.drain();
  });

  test('an already-aborted signal rejects with AbortError and enqueues nothing', async () => {
    const key = 'pre-aborted';
    expect(await gates.ask(key, { op: 'mark', tag: 'a' })).toBe('a');
    await gates.drain();
    const before = gates.stats();
    const controller = new AbortController();
    controller.abort(new Error('no thanks'));
    const error = await gates.ask(key, { op: 'mark', tag: 'must-not-run' }, { signal: controller.signal }).then(
      () => null,
      (e: Error) => e,
    );
    expect(error!.name).toBe('AbortError');
    expect(gates.stats().sent).toBe(before.sent);
    await gates.drain();
    expect(gates.stats().processed).toBe(before.processed);
    const log = await gates.ask<string[]>(key, { op: 'log' });
    expect(log).not.toContain(`${key}:must-not-run`);
  });

  test('many concurrent asks to many keys each resolve with their own answer', async () => {
    const asks: Array<Promise<unknown>> = [];
    const expected: unknown[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = i % 3 === 0 ? i % 400 : `ck-${i % 400}`;
      const value = { i, key: String(key), s: `v${i}` };
      expected.push(value);
      asks.push(i % 2 ? rt.ask(key, { op: 'ok', value }) : rt.ask(key, { op: 'okAsync', value }));
    }
    expect(await Promise.all(asks)).toEqual(expected);
  });

  test('concurrent asks mixing successes and failures each settle their own way', async () => {
    const asks = Array.from({ length: 400 }, (_, i) =>
      i % 3 === 0
        ? rt.ask(`mix-${i % 17}`, { op: 'throw', kind: 'RangeError', message: `e${i}` }).then(
            () => 'resolved?!',
            (e: Error) => `${e.name}:${e.message}`,
          )
        : rt.ask(`mix-${i % 17}`, { op: 'ok', value: `ok${i}` }),
    );
    const results = await Promise.all(asks);
    results.forEach((r, i) => expect(r).toBe(i % 3 === 0 ? `RangeError:e${i}` : `ok${i}`));
  });
});
