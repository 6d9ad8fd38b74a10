/**
 * Overload: a producer calling trySend far faster than the actor can go keeps memory bounded
 * (fixed rings, no hidden queue): trySend refuses, RSS stays flat, and everything accepted is
 * processed. Measured in a child process so nothing else in the process counts.
 * OVERLOAD_SECONDS=n makes the run longer (default 3).
 */
import { spawn } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { fixturePath } from './helpers/api.js';

/** Growth of RSS allowed after the first second (JIT, heap warm-up are over by then). */
const RSS_GROWTH_BOUND = 48 * 2 ** 20;

describe('overload', () => {
  test('trySend 10× faster than the actor: refused, bounded RSS, nothing lost', async () => {
    const child = spawn(process.execPath, [fixturePath('overload-child.mjs')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, err).toBe(0);
    const r = JSON.parse(out.split('RESULT ')[1]!) as { accepted: number; refused: number; processed: number; samples: number[] };
    expect(r.refused).toBeGreaterThan(r.accepted); // the producer outran the actor
    expect(r.processed).toBe(r.accepted); // nothing accepted was lost
    const after = r.samples.slice(10); // past the first second
    const growth = Math.max(...after) - Math.min(...after);
    console.log(`overload: ${r.accepted} accepted, ${r.refused} refused; RSS ${(Math.min(...after) / 2 ** 20).toFixed(0)}–${(Math.max(...after) / 2 ** 20).toFixed(0)} MB after the first second`);
    expect(growth).toBeLessThan(RSS_GROWTH_BOUND);
  }, 60_000);
});
