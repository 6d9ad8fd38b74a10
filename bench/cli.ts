#!/usr/bin/env node
/**
 * The `ringmaster` command line. Subcommands:
 *   ringmaster bench [options]   the W1 benchmark report (see `ringmaster bench --help`)
 *   ringmaster bench --cluster <redis-url|local> [--messages N] [--runs R]   W1 through cluster mode
 *   ringmaster bench --failover <redis-url|local> [--kills N] [--lease-ms L] [--rate R]   cluster fail-over time
 *
 * Exit codes: 0 done, 1 a benchmark phase failed (verification or hang), 2 a bad command line.
 */
import { BENCH_USAGE, UsageError } from './args.js';
import { benchCommand } from './command.js';

const USAGE = `usage: ringmaster <command> [options]
commands:
  bench    run the W1 benchmark: ringmaster against its peers, throughput, HDR latency, idle CPU
           (bench --cluster <redis-url|local> [--messages N] [--runs R]: W1 through cluster mode
           with 1, 2 and 3 processes, next to in-process and a Redis-list queue)
           (bench --failover <redis-url|local> [--kills N] [--lease-ms L] [--rate R]: kill -9
           a cluster process N times; how long until its partitions are served again)

${BENCH_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'bench') throw new UsageError(`unknown command '${command}' (try: ringmaster bench --help)`);
  // --cluster: W1 through cluster mode on a Redis (bench/cluster.ts), its own set of flags.
  // --failover: kill -9 cluster processes, time until their partitions are served (bench/failover.ts).
  // Imported only then: they load ioredis, which slows every string operation of the process until
  // it is undone (see cluster/load-redis.ts); the W1 benchmark must not pay for that.
  if (rest.includes('--cluster')) return (await import('./cluster.js')).clusterBench(rest);
  if (rest.includes('--failover')) return (await import('./failover.js')).failoverBench(rest);
  return benchCommand(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Every runtime and worker has been closed: the process should now exit on its own. If a hung
    // phase left threads behind, say so and exit anyway.
    setTimeout(() => {
      process.stderr.write('ringmaster: process did not exit within 10 s of finishing (threads left running?); exiting\n');
      process.exit(code === 0 ? 3 : code);
    }, 10_000).unref();
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`ringmaster: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`ringmaster: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
