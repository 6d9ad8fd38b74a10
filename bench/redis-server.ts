/**
 * A throwaway local Redis for the cluster tests and `npm run bench:cluster`: installs Debian's
 * redis-server when it is missing (as root, or with passwordless sudo), starts it on a free
 * loopback port (persistence off unless asked), waits until it answers, and stops it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Makes sure `redis-server` can be run; installs it with apt-get when it is missing. */
export function ensureRedisServer(): void {
  if (onPath('redis-server')) return;
  const root = process.getuid?.() === 0;
  const prefix = root ? [] : onPath('sudo') ? ['sudo', '-n'] : null;
  if (prefix === null) throw new Error('redis-server is not installed and cannot be installed here (not root, no sudo): apt-get install redis-server');
  const apt = (...args: string[]): void => {
    const [command, ...rest] = [...prefix, 'apt-get', ...args];
    execFileSync(command!, rest, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
  };
  try {
    apt('install', '-y', '-q', 'redis-server');
  } catch {
    apt('update', '-q'); // a fresh machine may have no package lists yet
    apt('install', '-y', '-q', 'redis-server');
  }
  if (!onPath('redis-server')) throw new Error('apt-get install redis-server ran, but redis-server is still not on PATH');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True once a PING on the port gets +PONG. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    socket.setTimeout(500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface LocalRedis {
  url: string;
  port: number;
  /** Stops it (SIGTERM: with persistence on, it writes its data first) and waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  dispose(): Promise<void>;
}

export async function startRedisServer(options: { persistent?: boolean } = {}): Promise<LocalRedis> {
  ensureRedisServer();
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'ringmaster-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--logfile', path.join(dir, 'redis.log')];
  args.push('--appendonly', options.persistent ? 'yes' : 'no');
  if (options.persistent) args.push('--appendfsync', 'always');
  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    const started = spawn('redis-server', args, { stdio: 'ignore' });
    child = started;
    const deadline = Date.now() + 10_000;
    while (!(await pings(port))) {
      if (started.exitCode !== null) throw new Error(`redis-server exited with code ${started.exitCode} (log: ${path.join(dir, 'redis.log')})`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
