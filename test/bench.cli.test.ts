/**
 * The `ringmaster bench` command line, run as a user runs it (a child process of the built CLI):
 * argument errors are one clear line and exit code 2; --json prints the documented summary; --html
 * and --hgrm write their files with every peer's data; a short smoke run of every peer verifies.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PACKAGE_ROOT } from './helpers/child.js';

const CLI = path.join(PACKAGE_ROOT, 'dist/bench/cli.js');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], timeoutMs = 120_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: PACKAGE_ROOT, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ringmaster ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ringmaster-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('argument errors: one line on stderr, exit code 2, nothing run', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown flag', ['bench', '--bogus'], /Unknown option '--bogus'/],
    ['bad number', ['bench', '--messages', 'lots'], /--messages must be an integer/],
    ['zero threads', ['bench', '--threads', '0'], /--threads must be an integer in 1\.\.1024/],
    ['fractional partitions', ['bench', '--partitions', '2.5'], /--partitions must be an integer/],
    ['fractional warm-up', ['bench', '--warmup-messages', '1.5'], /--warmup-messages must be an integer in 0\.\./],
    ['unknown peer', ['bench', '--compare', 'inline,zeromq'], /unknown peer 'zeromq'/],
    ['missing actor module', ['bench', '--actor', 'no/such/actor.mjs', '--factory', 'test/fixtures/bench-factory.mjs'], /--actor: module not found/],
    ['actor without factory', ['bench', '--actor', 'test/fixtures/counter.mjs'], /--actor and --factory go together/],
    ['mapping file missing', ['bench', '--mapping', 'no-such-map.json'], /--mapping must be modulo, range or a JSON file/],
    ['unknown command', ['benchmark'], /unknown command 'benchmark'/],
  ];
  test.each(cases)('%s', async (_label, args, message) => {
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ringmaster: /);
    expect(lines[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });

  test('a mapping that names a thread that does not exist', async () => {
    const file = path.join(dir, 'map.json');
    writeFileSync(file, JSON.stringify([0, 1, 2, 3]));
    const r = await cli(['bench', '--partitions', '4', '--threads', '2', '--mapping', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/names thread 3, but --threads 2 has 0\.\.1/);
  });

  test('--help lists every flag with its default, exit code 0', async () => {
    const r = await cli(['bench', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--threads', '--partitions', '--mapping', '--messages', '--warmup-messages', '--duration', '--rate', '--payload-bytes', '--keys', '--actor', '--factory', '--compare', '--json', '--hgrm', '--html', '--sweep', '--slo-us', '--profile']) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toMatch(/default 64/);
  });
});

describe('runs', () => {
  test('every peer, a short run: --json summary with the documented fields, --html and --hgrm files', async () => {
    const html = path.join(dir, 'report.html');
    const hgrm = path.join(dir, 'latency.hgrm');
    const r = await cli([
      'bench', '--threads', '1', '--messages', '20000', '--warmup-messages', '8000', '--piscina-messages', '5000', '--compare', 'all',
      '--rate', '2000', '--latency-seconds', '0.5', '--latency-warmup', '0.1', '--idle-ms', '200',
      '--keys', '500', '--payload-bytes', '16', '--json', '--html', html, '--hgrm', hgrm,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.verified).toBe(true);
    expect(summary.failures).toEqual([]);
    expect(summary.machine.cores).toBeGreaterThan(0);
    expect(summary.settings).toMatchObject({ threads: [1], partitions: 64, keys: 500, payloadBytes: 16, messages: 20000, warmupMessages: 8000 });
    const peers = summary.throughput.map((t: { peer: string }) => t.peer);
    expect(peers).toEqual(['ringmaster-1t', 'floor', 'inline', 'postmessage-single', 'postmessage-batched', 'piscina']);
    for (const t of summary.throughput) {
      expect(t.spread.median, t.peer).toBeGreaterThan(0);
      expect(t.runs).toHaveLength(1);
      // Each run verified warm-up + timed messages together (an exact per-key check of all of them);
      // the warm-up is at most the run's own count (piscina's 5,000).
      expect(t.messages, t.peer).toBe(t.peer === 'piscina' ? 5000 : 20000);
      expect(t.warmupMessages, t.peer).toBe(t.peer === 'piscina' ? 5000 : 8000);
    }
    expect(r.stderr).toMatch(/each after 8,000 untimed on its fresh threads/);
    expect(Object.keys(summary.ratios)).toContain('ringmaster-1t / piscina');
    const latencyPeers = summary.latency.map((l: { peer: string }) => l.peer);
    expect(latencyPeers).toEqual(['ringmaster-1t', 'postmessage-batched', 'piscina']);
    for (const l of summary.latency) {
      expect(l.rate).toBe(2000);
      expect(l.samples).toBe(1000); // 0.5 s × 2000/s recorded, verified by the peer
      for (const key of ['p50Us', 'p90Us', 'p99Us', 'p999Us', 'p9999Us', 'maxUs']) {
        expect(l.latencyUs[key], `${l.peer} ${key}`).toBeGreaterThan(0);
        expect(l.serviceUs[key], `${l.peer} service ${key}`).toBeGreaterThanOrEqual(0);
      }
      expect(l.latencyUs.p50Us).toBeLessThanOrEqual(l.latencyUs.p99Us);
    }
    expect(summary.idleCpuPercent['ringmaster-1t']).toBeGreaterThanOrEqual(0);
    expect(summary.wakeUp).toHaveLength(1);
    expect(summary.wakeUp[0].latencyUs.count).toBe(190); // 200 sent, the first 10 are warm-up
    expect(summary.wakeUp[0].latencyUs.p50Us).toBeGreaterThan(0);
    expect(summary.peakRssMB).toBeGreaterThan(0);
    // The human report went to stderr.
    expect(r.stderr).toMatch(/Verification: all \d+ phases verified/);

    const page = readFileSync(html, 'utf8');
    const data = JSON.parse(page.match(/<script type="application\/json" id="ringmaster-data">([\s\S]*?)<\/script>/)![1]!);
    expect(data.throughput.map((t: { peer: string }) => t.peer)).toEqual(peers);
    expect(data.latency.map((c: { label: string }) => c.label)).toEqual(latencyPeers.map((p: string) => `${p} @ 2,000 msg/s`));
    for (const c of data.latency) expect(c.points.length).toBeGreaterThan(5);

    const first = readFileSync(hgrm, 'utf8');
    expect(first).toMatch(/Value\s+Percentile\s+TotalCount/);
    expect(first).toMatch(/#\[Mean/);
    const others = ['postmessage-batched@2000', 'piscina@2000'].map((s) => hgrm.replace(/\.hgrm$/, `.${s}.hgrm`));
    for (const f of others) expect(readFileSync(f, 'utf8')).toMatch(/Percentile/);
  }, 180_000);

  test('--actor with --factory: your own actor, throughput and latency, verified by counts', async () => {
    const r = await cli([
      'bench', '--threads', '2', '--actor', 'test/fixtures/counter.mjs', '--factory', 'test/fixtures/bench-factory.mjs',
      '--messages', '20000', '--rate', '2000', '--latency-seconds', '0.5', '--latency-warmup', '0.1', '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.verified).toBe(true);
    expect(summary.throughput[0].peer).toBe('ringmaster-2t');
    expect(summary.throughput[0].describe).toMatch(/your actor/);
    expect(summary.latency[0].samples).toBe(1000);
  }, 120_000);

  test('--duration sizes the throughput runs by time; --mapping range and a mapping file are used', async () => {
    const file = path.join(dir, 'two-threads.json');
    writeFileSync(file, JSON.stringify(Array.from({ length: 8 }, (_, p) => (p < 6 ? 0 : 1))));
    for (const mapping of ['range', file]) {
      const r = await cli(['bench', '--threads', '2', '--partitions', '8', '--mapping', mapping, '--duration', '0.3', '--rate', '0', '--idle-ms', '0', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout);
      expect(summary.verified).toBe(true);
      expect(summary.settings).toMatchObject({ durationSeconds: 0.3, partitions: 8, mapping: mapping === 'range' ? 'range' : 'two-threads.json' });
      // The count came from the warm-up's rate × 0.3 s, not from --messages.
      expect(summary.throughput[0].messages).not.toBe(500_000);
      expect(summary.throughput[0].messages).toBeGreaterThanOrEqual(1000);
    }
  }, 120_000);

  test('--profile writes a .cpuprofile for the main thread and every worker thread', async () => {
    const profiles = path.join(dir, 'prof');
    const r = await cli(['bench', '--threads', '2', '--messages', '5000', '--rate', '0', '--idle-ms', '0', '--profile', profiles]);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(profiles).filter((f) => f.endsWith('.cpuprofile'));
    // main + 2 workers for the warm-up runtime + 2 for the measured run
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) expect(JSON.parse(readFileSync(path.join(profiles, f), 'utf8')).nodes.length).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/CPU profiles in .*: \d+ files/);
  }, 120_000);

  test('--sweep reports the highest rate within the SLO', async () => {
    const r = await cli([
      'bench', '--threads', '1', '--messages', '10000', '--rate', '0', '--sweep', '--slo-us', '1000000',
      '--latency-seconds', '1', '--latency-warmup', '0.3', '--idle-ms', '0', '--json',
    ], 300_000);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.sweep).toHaveLength(1);
    const s = summary.sweep[0];
    expect(s.peer).toBe('ringmaster-1t');
    expect(s.points.length).toBeGreaterThan(1);
    // A 1 s SLO is met by every rate the runtime kept up with.
    expect(s.highestRateWithinSlo).toBe(s.points.filter((p: { keptUp: boolean }) => p.keptUp).at(-1).rate);
  }, 300_000);
  test('npm run bench:send-path: the pieces, the warm-up, the preemption and the worker-cost figures are printed, every run verified; a bad flag exits 2', async () => {
    const script = path.join(PACKAGE_ROOT, 'dist/bench/send-path.js');
    const run = (args: string[]) =>
      new Promise<Outcome>((resolve) => {
        const child = spawn(process.execPath, [script, ...args], { cwd: PACKAGE_ROOT });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d));
        child.stderr.on('data', (d: Buffer) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    const r = await run(['--runs', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/build \d+ ns · \+ FNV-1a -?\d+ ns\n   · the general path: \+ scan -?\d+ ns · \+ msgpackr pack \(records\) -?\d+ ns\n   · what the runtime runs for W1, the shape encoder \(scan and pack in one walk\): \+ -?\d+ ns · \+ frame write -?\d+ ns = \d+ ns per message/);
    expect(r.stdout).toMatch(/plain maps → records \(the runtime.s\): encode \d+ → \d+ ns, decode \d+ → \d+ ns, [\d.]+ → [\d.]+ bytes/);
    expect(r.stdout).toMatch(/run 1\/1: (\d+ ){7}\d+ ms — verified/);
    expect(r.stdout.match(/msgs\/s.* — verified/g)).toHaveLength(4); // 1 worker; 2 workers at niceness 0, 5, default
    expect(r.stdout).toMatch(/4\. the worker's own cost .*\n   \d+ \(\d+–\d+\) ns per W1 message — verified/);
    expect(r.stdout).toMatch(/alone on its core: \d+ \(\d+–\d+\) ns per trySend/);
    const bad = await run(['--runs', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--runs must be a positive integer/);
  }, 180_000);
});
