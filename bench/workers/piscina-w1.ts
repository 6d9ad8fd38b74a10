/**
 * Piscina task module for W1: one task per message. The pool has one thread, so this module's
 * W1Tally holds every key; a final { op: 'totals' } task returns it for verification.
 */
import { W1Tally, type W1Message, type W1Totals } from '../w1.js';

export type PiscinaW1Task = W1Message | { op: 'totals'; from: number; to: number };

const tally = new W1Tally();

export default function task(msg: PiscinaW1Task): W1Totals | undefined {
  if (msg.op === undefined) {
    tally.apply(msg);
    return undefined;
  }
  return tally.totals(msg.from, msg.to);
}
