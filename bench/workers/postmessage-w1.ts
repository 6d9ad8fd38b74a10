/**
 * Worker for the raw-postMessage W1 peers: receives single W1 messages or arrays of them, applies
 * the W1 actor logic, acknowledges for flow control, and answers { op: 'totals' }.
 */
import { parentPort } from 'node:worker_threads';
import { PmAcker } from '../peers/postmessage-channel.js';
import { W1Tally, type W1Message } from '../w1.js';

export type PmW1In = W1Message | W1Message[] | { op: 'totals'; from: number; to: number };

const port = parentPort!;
const acker = new PmAcker(port);
const tally = new W1Tally();

port.on('message', (data: PmW1In) => {
  if (Array.isArray(data)) {
    for (let i = 0; i < data.length; i++) tally.apply(data[i]!);
    acker.done(data.length);
  } else if (data.op === undefined) {
    tally.apply(data);
    acker.done(1);
  } else {
    acker.result(tally.totals(data.from, data.to));
  }
});
acker.ready();
