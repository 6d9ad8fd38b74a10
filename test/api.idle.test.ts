/**
 * API contract / design invariant — an idle runtime burns ~0 CPU: after traffic stops, the whole
 * process (main thread + worker threads; process.cpuUsage covers all threads) uses < 15% of one
 * core over 2 s. Measured in a child process so nothing else in the process counts.
 */
import { describe, expect, test } from 'vitest';
import { explain, runScenario } from './helpers/child.js';

describe('idle CPU', () => {
  test.each([
    ['after a burst of sends and asks (2 threads)', 'plain'],
    ['with an async receive and its ask still pending (2 threads)', 'pending'],
  ])('%s: < 15% of one core over 2 s', async (_label, variant) => {
    const outcome = await runScenario('idle', variant, { timeoutMs: 40_000 });
    expect(outcome.timedOut, explain(outcome)).toBe(false);
    expect(outcome.code, explain(outcome)).toBe(0);
    const { cpuMs, wallMs } = outcome.result;
    expect(wallMs).toBeGreaterThanOrEqual(1990);
    expect(cpuMs / wallMs, `cpu ${cpuMs.toFixed(1)} ms over ${wallMs.toFixed(0)} ms`).toBeLessThan(0.15);
  });
});
