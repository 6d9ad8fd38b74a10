/** rt.stats() per partition and thread, and rt.metrics() in Prometheus text format. */
import { describe, expect, test } from 'vitest';
import { createRuntime } from 'ringmaster';
import { fixture, until } from './helpers/api.js';

/** name{labels} value lines → map of "name{labels}" → value; every line must parse. */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    expect(m, `bad exposition line: ${line}`).not.toBeNull();
    out.set(m![1]! + (m![2] ?? ''), Number(m![3]));
  }
  return out;
}

describe('stats and metrics', () => {
  test('depth, lag and busy time; metrics() carries the counters, gauges and summaries', async () => {
    const rt = await createRuntime({ actor: fixture('counter.mjs'), threads: 2, partitions: 4 });
    try {
      // Holds its key's later messages for 2 s: the checks below wait for the lag to build up
      // (no fixed sleep that a slow machine could outlast).
      const sleeper = rt.ask('sleepy', { op: 'sleep', ms: 2000 });
      for (let i = 0; i < 10; i++) rt.trySend('sleepy', { amount: 1 });
      for (let i = 0; i < 1000; i++) rt.trySend(`k${i % 50}`, { amount: 1 });
      const p = rt.partitionOf('sleepy');
      await until('the sleepy partition to lag 100 ms', () => rt.stats().partitions[p]!.lagMs >= 100, 1500);
      const during = rt.stats();
      expect(during.partitions[p]!.depth).toBeGreaterThanOrEqual(11);
      await sleeper;
      await rt.drain();
      for (let i = 0; i < 20; i++) await rt.ask(`k${i}`, { op: 'get' });
      await rt.rebalance(p, 1 - rt.threadOf(p));
      const s = rt.stats();
      expect(s.partitions.every((x) => x.depth === 0 && x.lagMs === 0)).toBe(true);
      expect(s.threads.reduce((n, t) => n + t.busyMs, 0)).toBeGreaterThan(0);
      expect(s.handoffs.count).toBe(1);
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);
      const text = rt.metrics();
      const m = parseExposition(text);
      const sum = (name: string) => [...m].filter(([k]) => k.startsWith(name + '{')).reduce((n, [, v]) => n + v, 0);
      expect(sum('ringmaster_messages_processed_total')).toBe(s.processed);
      expect(sum('ringmaster_messages_written_total')).toBe(s.sent);
      expect(m.get('ringmaster_threads')).toBe(2);
      expect(m.get('ringmaster_handoffs_total')).toBe(1);
      expect(m.get('ringmaster_ask_latency_seconds_count')).toBe(21);
      expect(m.get('ringmaster_ask_latency_seconds{quantile="0.5"}')).toBeGreaterThan(0);
      expect(m.get('ringmaster_handoff_pause_seconds_count')).toBe(1);
      expect(text).toContain('# TYPE ringmaster_partition_depth gauge');
      expect(text).toContain(`ringmaster_partition_depth{partition="${p}",thread="${rt.threadOf(p)}"} 0`);
    } finally {
      await rt.close();
    }
  }, 30_000);
});
