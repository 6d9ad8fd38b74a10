// An HTTP service on node:http that routes each user's requests to that user's actor (CPU-heavy
// hashing on worker threads), exposes Prometheus /metrics, and moves partitions on demand.
//   node examples/http-service/server.mjs          (PORT=3000 by default; PORT=0 picks a free one)
//   THREADS=2 PARTITIONS=64 ASK_TIMEOUT_MS=5000     (optional)
import { createServer } from 'node:http';
import { createRuntime, closeOnSignal, TimeoutError, RuntimeClosedError } from 'ringmaster';
import { MAX_ROUNDS } from './user-actor.mjs';

const intEnv = (name) => (process.env[name] === undefined || process.env[name] === '' ? undefined : Number(process.env[name]));
const PORT = intEnv('PORT') ?? 3000;
const ASK_TIMEOUT_MS = intEnv('ASK_TIMEOUT_MS') ?? 5000;
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const INTEGER = /^-?\d+$/;

const rt = await createRuntime({
  actor: new URL('./user-actor.mjs', import.meta.url),
  threads: intEnv('THREADS'), // undefined: the runtime's default (cores - 1)
  partitions: intEnv('PARTITIONS'), // undefined: the runtime's default
});

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function send(res, status, body, contentType = 'application/json; charset=utf-8') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** An integer query parameter, or a 400. */
function intParam(query, name, min = -Infinity, max = Infinity) {
  const raw = query.get(name);
  if (raw === null || !INTEGER.test(raw)) throw new HttpError(400, `query parameter '${name}' must be an integer`);
  const value = Number(raw);
  if (value < min || value > max) throw new HttpError(400, `query parameter '${name}' must be in ${min}..${max}, got ${value}`);
  return value;
}

/** Runtime errors → HTTP status. */
function statusOf(error) {
  if (error instanceof HttpError) return error.status;
  if (error instanceof TimeoutError) return 504;
  if (error instanceof RuntimeClosedError) return 503;
  if (error instanceof RangeError || error instanceof TypeError) return 400; // rebalance/resize argument checks
  return 500;
}

async function route(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const query = url.searchParams;
  const work = /^\/users\/([^/]*)\/work$/.exec(url.pathname);

  if (req.method === 'GET' && work) {
    let id;
    try {
      id = decodeURIComponent(work[1]);
    } catch {
      throw new HttpError(400, 'bad user id');
    }
    if (!USER_ID.test(id)) throw new HttpError(400, 'user id must be 1-64 characters of A-Z a-z 0-9 _ -');
    const rounds = intParam(query, 'rounds', 1, MAX_ROUNDS);
    let reply;
    try {
      reply = await rt.ask(id, { rounds, payload: query.get('payload') ?? '' }, { timeoutMs: ASK_TIMEOUT_MS });
    } catch (error) {
      // Anything the actor threw is the actor's failure (500), not the caller's input.
      if (error instanceof TimeoutError || error instanceof RuntimeClosedError) throw error;
      throw new HttpError(500, `actor failed: ${error?.message ?? error}`);
    }
    return send(res, 200, reply);
  }
  if (req.method === 'GET' && url.pathname === '/metrics') {
    return send(res, 200, rt.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
  }
  if (req.method === 'GET' && url.pathname === '/stats') {
    return send(res, 200, { ...rt.stats(), mapping: rt.mapping() });
  }
  if (req.method === 'POST' && url.pathname === '/rebalance') {
    const partition = intParam(query, 'partition');
    const thread = intParam(query, 'thread');
    const from = rt.threadOf(partition); // RangeError (400) for a bad partition
    await rt.rebalance(partition, thread); // RangeError (400) for a bad thread
    return send(res, 200, { partition, from, thread: rt.threadOf(partition) });
  }
  if (req.method === 'POST' && url.pathname === '/resize') {
    const threads = intParam(query, 'threads');
    await rt.resize(threads); // RangeError (400) out of range
    return send(res, 200, { threads: rt.threads, mapping: rt.mapping() });
  }
  throw new HttpError(404, `no route for ${req.method} ${url.pathname}`);
}

const server = createServer((req, res) => {
  route(req, res).catch((error) => {
    const status = statusOf(error);
    if (status === 500) console.error(error);
    if (!res.headersSent) send(res, status, { error: error?.message ?? String(error), status });
    else res.destroy();
  });
});

// Graceful shutdown: on SIGTERM/SIGINT stop accepting connections first (this listener is
// registered before closeOnSignal's, so it runs first), then closeOnSignal drains the runtime
// (requests in flight still get their replies) and ends its threads. With nothing left to keep
// it alive, the process then exits with code 0 by itself.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    console.log(`${signal}: shutting down`);
    server.close();
    server.closeIdleConnections();
  });
}
closeOnSignal(rt, {
  exit: false, // do not re-raise the signal: exit normally, code 0
  timeoutMs: 10_000,
  onClosed: (report) => {
    console.log(`runtime closed ${JSON.stringify(report)}`);
    server.closeAllConnections(); // anything still open now can get no reply
    process.exitCode = 0;
  },
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
