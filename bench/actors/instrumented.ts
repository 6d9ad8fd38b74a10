/**
 * The wrapper `ringmaster bench --actor` puts around a user's actor for the latency phase: it
 * unwraps each message's envelope ({ t: intended send time, w: warm-up flag, m: the message }),
 * records send → receive-start latency and the receive's service time (until its promise settles,
 * for an async receive), and passes `m` and the context on to the user's actor unchanged. The
 * user's module comes from RINGMASTER_BENCH_ACTOR (worker threads inherit the environment).
 * Control keys (CONTROL_KEY_PREFIX) never reach the user's init or receive.
 */
import { defineActor, type ActorContext, type ActorDefinition } from '../../index.js';
import { isDefinedActor } from '../../actors/define.js';
import { initHistograms, LatencyRecorder, type RecorderSnapshot } from '../histogram.js';
import { BENCH_ACTOR_ENV, nowNs, type InstrumentedMsg } from '../latency-message.js';
import { CONTROL_KEY_PREFIX } from '../w1.js';


const url = process.env[BENCH_ACTOR_ENV];
if (url === undefined) throw new Error(`${BENCH_ACTOR_ENV} is not set`);
const inner = ((await import(url)) as { default?: unknown }).default;
if (!isDefinedActor(inner)) throw new TypeError(`actor module ${url} does not default-export defineActor({...})`);
const user = inner as ActorDefinition<unknown, unknown, unknown>;

await initHistograms();
const recorder = new LatencyRecorder();

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';

const definition: ActorDefinition<unknown, InstrumentedMsg, unknown> = {
  receive(msg: InstrumentedMsg, ctx: ActorContext<unknown>): unknown {
    if ('benchControl' in msg) return recorder.snapshot() satisfies RecorderSnapshot;
    const start = nowNs();
    recorder.record(start, msg.t, msg.w);
    const result = user.receive(msg.m, ctx);
    if (!isThenable(result)) {
      recorder.recordService(nowNs() - start, msg.w);
      return result;
    }
    return Promise.resolve(result).finally(() => recorder.recordService(nowNs() - start, msg.w));
  },
};
const userInit = user.init;
if (userInit !== undefined) {
  definition.init = (key, ctx) => (key.startsWith(CONTROL_KEY_PREFIX) ? undefined : userInit(key, ctx));
}

export default defineActor(definition);
