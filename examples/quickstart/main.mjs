// The README's quick start: node examples/quickstart/main.mjs (after npm ci).
import { createRuntime } from 'ringmaster';

const rt = await createRuntime({ actor: new URL('./counter.mjs', import.meta.url), threads: 2 });

rt.trySend('user-1', { amount: 5 }); // false if the ring is full (nothing enqueued)
await rt.send('user-1', { amount: 7 }); // waits for ring space, never drops
console.log(await rt.ask('user-1', { amount: 0 }, { timeoutMs: 1000 })); // 12

await rt.drain(); // everything sent so far has been processed
console.log(rt.stats().processed); // 3
await rt.close(); // drain, then end the threads; the process can exit
