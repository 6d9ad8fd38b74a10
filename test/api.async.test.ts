/**
 * API contract — asynchronous receive: a receive that returns a Promise holds that key's next
 * message until it settles, while other keys on the same thread go on; one at a time per key.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { fixture, keyForPartition, openGate, turns } from './helpers/api.js';

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

describe('async receive', () => {
  let rt: Runtime;
  // Two keys on the same thread (partitions 0 and 2 with 'modulo' over 2 threads → thread 0).
  let A: string;
  let B: string;
  let C: string;

  beforeAll(async () => {
    rt = await createRuntime({ actor: fixture('api-gates.mjs'), threads: 2, partitions: 16 });
    A = keyForPartition(0, 16, 'A');
    B = keyForPartition(2, 16, 'B');
    C = keyForPartition(4, 16, 'C');
    expect(rt.threadOf(rt.partitionOf(A))).toBe(rt.threadOf(rt.partitionOf(B)));
    expect(rt.threadOf(rt.partitionOf(A))).toBe(rt.threadOf(rt.partitionOf(C)));
  });
  afterAll(async () => {
    await rt?.close();
  });

  test("a pending receive holds its key's next message while another key on the same thread goes on (and opens its gate)", async () => {
    await rt.ask(A, { op: 'clearLog' });
    // A's first message waits for gate g1, which only B's message opens.
    const aWait = rt.ask(A, { op: 'wait', gate: 'g1', tag: 'first', value: 'A-first' });
    const aNext = rt.ask(A, { op: 'mark', tag: 'second' });
    const cMark = rt.ask(C, { op: 'mark', tag: 'other' });
    // Other keys on the same thread are not held up by A.
    expect(await cMark).toBe('other');
    const logBeforeOpen = await rt.ask<string[]>(C, { op: 'log' });
    expect(logBeforeOpen).toContain(`${A}:first:start`);
    expect(logBeforeOpen).not.toContain(`${A}:second`); // held behind A's pending receive
    expect(logBeforeOpen).toContain(`${C}:other`);

    expect(await rt.ask(B, { op: 'open', gate: 'g1' })).toBe(true);
    expect(await aWait).toBe('A-first');
    expect(await aNext).toBe('second');
    const log = await rt.ask<string[]>(C, { op: 'log' });
    const at = (entry: string) => log.indexOf(entry);
    expect(at(`${A}:first:start`)).toBeGreaterThanOrEqual(0);
    expect(at(`${A}:first:start`)).toBeLessThan(at(`${C}:other`));
    expect(at(`${C}:other`)).toBeLessThan(at(`${B}:open:g1`));
    expect(at(`${B}:open:g1`)).toBeLessThan(at(`${A}:first:end`));
    expect(at(`${A}:first:end`)).toBeLessThan(at(`${A}:second`));
  });

  test('the held message runs as soon as the pending one settles, also after a rejection', async () => {
    const rej = rt.ask(A, { op: 'asyncReject', tag: 'r', message: 'nope', via: 'timer' });
    const after = rt.ask(A, { op: 'mark', tag: 'after-reject' });
    await expect(rej).rejects.toMatchObject({ name: 'RangeError', message: 'nope' });
    expect(await after).toBe('after-reject');
    const log = await rt.ask<string[]>(A, { op: 'log' });
    expect(log.indexOf(`${A}:r:rejecting`)).toBeLessThan(log.indexOf(`${A}:after-reject`));
  });

  test('several keys pending at once on one thread; each resumes independently, in any gate order', async () => {
    const keys = [A, B, C];
    const first = keys.map((k, i) => rt.ask(k, { op: 'wait', gate: `multi-${i}`, tag: 'w', value: `${k}-w` }));
    const second = keys.map((k) => rt.ask(k, { op: 'mark', tag: `after-multi` }));
    const settled = [false, false, false];
    first.forEach((p, i) => void p.then(() => (settled[i] = true)));
    // Open in reverse order through the BroadcastChannel: each key resumes when its own gate opens.
    for (const i of [2, 0, 1]) {
      openGate(`multi-${i}`);
      expect(await first[i]).toBe(`${keys[i]}-w`);
      expect(await second[i]).toBe('after-multi');
    }
    expect(settled).toEqual([true, true, true]);
  });

  test('one receive at a time per key, per-key order kept, while receives of different keys interleave', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `conc-${i}`);
    const asks: Promise<unknown>[] = [];
    const vias = ['micro', 'immediate', 'timer'];
    for (let seq = 0; seq < 40; seq++) {
      for (const [i, key] of keys.entries()) {
        const msg = { op: 'conc', seq, via: vias[(seq + i) % 3], turns: 1 + ((seq * 7 + i) % 3) };
        // Mix tells and asks: both go through the same per-key mailbox.
        if ((seq + i) % 4 === 0) asks.push(rt.ask(key, msg));
        else asks.push(rt.send(key, msg));
      }
    }
    const settled = await Promise.allSettled(asks);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    await rt.drain();
    const reports = await Promise.all(
      [0, 1].map((t) => {
        const key = keys.find((k) => rt.threadOf(rt.partitionOf(k)) === t)!;
        return rt.ask<any>(key, { op: 'concReport' });
      }),
    );
    for (const key of keys) {
      const thread = rt.threadOf(rt.partitionOf(key));
      expect(reports[thread].perKeyMax[key], key).toBe(1);
    }
    // Every message of every key finished (the actor throws on an order violation, which would
    // have failed an ask or been counted in stats().failed).
    expect(rt.stats().failed).toBe(0);
    for (const key of keys) expect((await rt.ask<any>(key, { op: 'concReport' })).n, key).toBe(40);
  });

  test('ask resolves with what an async receive resolves to', async () => {
    expect(await rt.ask(C, { op: 'sleep', ms: 5, value: { ok: [1, 2] } })).toEqual({ ok: [1, 2] });
  });

  test('a receive pending across event-loop turns does not stop the thread taking new messages', async () => {
    const held = rt.ask(B, { op: 'wait', gate: 'long', tag: 'long' });
    for (let i = 0; i < 20; i++) {
      expect(await rt.ask(C, { op: 'mark', tag: `m${i}` })).toBe(`m${i}`);
      await turns(1);
    }
    openGate('long');
    expect(await held).toBe('long');
  });
});
