/**
 * Workload W1 (keyed small messages), as DESIGN.md "Measuring" defines it:
 *
 *   message i = { key: 'user-' + (i % 10000), seq: i, amount: (i % 100) / 4, tags: ['a', 'b'] }
 *   sent to key 'user-' + (i % 10000)
 *
 * `W1Workload` generalizes the key count (`--keys`) and adds an optional `pad` string of a given
 * size (`--payload-bytes`); the defaults are W1 exactly.
 *
 * and the actor logic every peer runs on it: a per-key running sum and count. This module also
 * holds the exact expected result and the check that compares a peer's result with it.
 *
 * Verification is exact and cheap. Per key we keep
 *   count    the messages seen,
 *   sum      the running sum of `amount` (multiples of 0.25 well below 2^50: exact in a double),
 *   seqSum   the sum of `seq` (a key that lost message i and saw message j twice keeps its count
 *            and its sum, since every message of a key has the same amount, but not its seqSum),
 * plus two counters of things that must never happen: a message whose `seq` is not greater than
 * the key's previous one (per-key order broken, or a duplicate) and a message whose `key` field
 * is not the key it was delivered to (misrouted). Results travel as typed arrays indexed by key
 * number, so a whole thread's result is a few tens of KB and compares in microseconds; a key
 * counted on two threads shows up as a doubled count.
 */

/** Distinct keys of W1. */
export const W1_KEYS = 10_000;
const KEY_PREFIX = 'user-';
/** Keys the benchmark uses to reach a thread with control asks (never W1 keys, never counted). */
export const CONTROL_KEY_PREFIX = 'probe-';
/** Most keys a workload may have (key states are kept per key number). */
export const MAX_KEYS = 10_000_000;

export interface W1Message {
  key: string;
  seq: number;
  amount: number;
  tags: string[];
  /** `--payload-bytes`: extra bytes carried (and ignored by the actor logic). */
  pad?: string;
  /** Never set on a W1 message; lets control messages share one union with `op` as the tag. */
  op?: undefined;
}

/** What W1 variant to run: how many keys, and how large an extra payload per message. */
export class W1Workload {
  readonly keys: number;
  readonly payloadBytes: number;
  /** Key strings, built once: every peer gets the same strings, and key building is not measured. */
  private readonly keyStrings: readonly string[];
  private readonly pad: string | undefined;

  constructor(keys: number = W1_KEYS, payloadBytes = 0) {
    if (!Number.isInteger(keys) || keys < 1 || keys > MAX_KEYS) throw new RangeError(`keys must be an integer in 1..${MAX_KEYS}`);
    if (!Number.isInteger(payloadBytes) || payloadBytes < 0) throw new RangeError('payloadBytes must be a non-negative integer');
    this.keys = keys;
    this.payloadBytes = payloadBytes;
    this.keyStrings = Array.from({ length: keys }, (_, k) => KEY_PREFIX + k);
    this.pad = payloadBytes > 0 ? 'x'.repeat(payloadBytes) : undefined;
  }

  key(i: number): string {
    return this.keyStrings[i % this.keys]!;
  }

  /** Message i (a fresh object each call, as a real producer would build). */
  message(i: number): W1Message {
    const msg: W1Message = { key: this.keyStrings[i % this.keys]!, seq: i, amount: (i % 100) / 4, tags: ['a', 'b'] };
    if (this.pad !== undefined) msg.pad = this.pad;
    return msg;
  }

  /** The exact result of n messages, in closed form. */
  expected(n: number): W1Totals {
    return expectedW1(n, this.keys);
  }

  describe(): string {
    return `${this.keys.toLocaleString('en-US')} keys${this.payloadBytes > 0 ? `, +${this.payloadBytes} payload bytes` : ''}`;
  }
}

/** The default workload: W1 as DESIGN.md defines it. */
export const W1 = new W1Workload();

/** The key number of a W1 key ('user-42' → 42), or -1 for any other key. */
export function keyIndex(key: string): number {
  if (!key.startsWith(KEY_PREFIX)) return -1;
  const n = Number(key.slice(KEY_PREFIX.length));
  return Number.isInteger(n) && n >= 0 && n < MAX_KEYS && KEY_PREFIX + n === key ? n : -1;
}

// ---- the actor logic ---------------------------------------------------------------------------

/** One key's state: what the W1 actor keeps. */
export interface KeyTally {
  readonly key: string;
  count: number;
  sum: number;
  seqSum: number;
  lastSeq: number;
  outOfOrder: number;
  misrouted: number;
}

export function newKeyTally(key: string): KeyTally {
  return { key, count: 0, sum: 0, seqSum: 0, lastSeq: -1, outOfOrder: 0, misrouted: 0 };
}

/** The W1 actor's receive: add one message to its key's state. */
export function applyW1(state: KeyTally, msg: W1Message): void {
  if (msg.key !== state.key) state.misrouted++;
  if (msg.seq <= state.lastSeq) state.outOfOrder++;
  state.lastSeq = msg.seq;
  state.count++;
  state.sum += msg.amount;
  state.seqSum += msg.seq;
}

/** A slice [from, to) of per-key results, indexed by key number − from. */
export interface W1Totals {
  from: number;
  to: number;
  counts: Float64Array;
  sums: Float64Array;
  seqSums: Float64Array;
  outOfOrder: number;
  misrouted: number;
  /** States for keys that are not W1 keys (must be 0). */
  strangers: number;
}

export function emptyTotals(from: number, to: number): W1Totals {
  const n = to - from;
  return {
    from,
    to,
    counts: new Float64Array(n),
    sums: new Float64Array(n),
    seqSums: new Float64Array(n),
    outOfOrder: 0,
    misrouted: 0,
    strangers: 0,
  };
}

/**
 * All key states of one thread (or of a single-threaded peer). `stateFor` is the only way
 * states are made, so a thread's whole result can be read back by key number.
 */
export class W1Tally {
  private readonly byKey = new Map<string, KeyTally>();
  private readonly byIndex: (KeyTally | undefined)[] = [];
  private strangers = 0;

  /** The key's state, created (and registered by key number) on first use. */
  stateFor(key: string): KeyTally {
    let state = this.byKey.get(key);
    if (state === undefined) {
      state = newKeyTally(key);
      this.byKey.set(key, state);
      const index = keyIndex(key);
      if (index >= 0) this.byIndex[index] = state;
      else if (!key.startsWith(CONTROL_KEY_PREFIX)) this.strangers++;
    }
    return state;
  }

  /** A key's state leaves this thread (its partition moves): it is no longer counted here. */
  forget(key: string): void {
    if (!this.byKey.delete(key)) return;
    const index = keyIndex(key);
    if (index >= 0) this.byIndex[index] = undefined;
  }

  /** A key's state arrives from another thread: counted here from now on. */
  adopt(state: KeyTally): KeyTally {
    this.byKey.set(state.key, state);
    const index = keyIndex(state.key);
    if (index >= 0) this.byIndex[index] = state;
    return state;
  }

  /** Look the key up and apply the message: what a single-threaded peer does per message. */
  apply(msg: W1Message): void {
    applyW1(this.stateFor(msg.key), msg);
  }

  /** The per-key results of keys [from, to). */
  totals(from: number, to: number): W1Totals {
    const t = emptyTotals(from, to);
    t.strangers = from === 0 ? this.strangers : 0;
    for (let k = from; k < to; k++) {
      const s = this.byIndex[k];
      if (s === undefined) continue;
      const j = k - from;
      t.counts[j] = s.count;
      t.sums[j] = s.sum;
      t.seqSums[j] = s.seqSum;
      t.outOfOrder += s.outOfOrder;
      t.misrouted += s.misrouted;
    }
    return t;
  }
}

// ---- expected results and the check ---------------------------------------------------------------

/** The exact result of n messages over `keys` keys, computed in closed form (no simulation). */
export function expectedW1(n: number, keys: number = W1_KEYS): W1Totals {
  const t = emptyTotals(0, keys);
  for (let k = 0; k < keys; k++) {
    const c = n > k ? Math.floor((n - 1 - k) / keys) + 1 : 0;
    t.counts[k] = c;
    // Key k gets messages k, k + keys, k + 2·keys, ...: amounts ((k + j·keys) % 100) / 4.
    t.sums[k] = keys % 100 === 0 ? c * ((k % 100) / 4) : amountSum(k, keys, c);
    t.seqSums[k] = c * k + (keys * c * (c - 1)) / 2;
  }
  return t;
}

/** Σ_{j<c} ((k + j·keys) % 100) / 4, using the period of j ↦ (k + j·keys) % 100. */
function amountSum(k: number, keys: number, c: number): number {
  let period = 1;
  while (((period * keys) % 100) !== 0) period++;
  let cycle = 0;
  for (let j = 0; j < period; j++) cycle += (k + j * keys) % 100;
  const whole = Math.floor(c / period);
  let rest = 0;
  for (let j = 0; j < c % period; j++) rest += (k + j * keys) % 100;
  return (whole * cycle + rest) / 4;
}

/** Typed arrays may arrive as plain arrays through some channels; accept both. */
function asF64(value: unknown, what: string): Float64Array {
  if (value instanceof Float64Array) return value;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return Float64Array.from(value as ArrayLike<number>);
  throw new TypeError(`W1 totals: ${what} is not an array`);
}

/** Adds a slice (e.g. one thread's reply) into full-range totals. */
export function addTotals(into: W1Totals, part: W1Totals): void {
  const counts = asF64(part.counts, 'counts');
  const sums = asF64(part.sums, 'sums');
  const seqSums = asF64(part.seqSums, 'seqSums');
  const offset = part.from - into.from;
  if (offset < 0 || part.to > into.to || counts.length !== part.to - part.from) {
    throw new RangeError(`W1 totals slice [${part.from}, ${part.to}) does not fit [${into.from}, ${into.to})`);
  }
  for (let j = 0; j < counts.length; j++) {
    into.counts[offset + j]! += counts[j]!;
    into.sums[offset + j]! += sums[j]!;
    into.seqSums[offset + j]! += seqSums[j]!;
  }
  into.outOfOrder += part.outOfOrder;
  into.misrouted += part.misrouted;
  into.strangers += part.strangers;
}

export class VerificationError extends Error {
  override name = 'VerificationError';
}

/**
 * Throws a VerificationError naming the first differences when `actual` is not exactly `expected`.
 * `order: false` is for peers that do not promise per-key order (piscina): their reordering is then
 * not an error (counts, sums and seq sums still are exact, so nothing lost or duplicated).
 */
export function verifyW1(label: string, expected: W1Totals, actual: W1Totals, { order = true }: { order?: boolean } = {}): void {
  const problems: string[] = [];
  let lost = 0;
  let extra = 0;
  let badKeys = 0;
  const keys = expected.counts.length;
  if (actual.counts.length !== keys) throw new VerificationError(`${label}: totals for ${actual.counts.length} keys, expected ${keys}`);
  for (let k = 0; k < keys; k++) {
    const c = actual.counts[k]!;
    const e = expected.counts[k]!;
    if (c < e) lost += e - c;
    if (c > e) extra += c - e;
    if (c !== e || actual.sums[k] !== expected.sums[k] || actual.seqSums[k] !== expected.seqSums[k]) {
      badKeys++;
      if (problems.length < 5) {
        problems.push(
          `key user-${k}: count ${c}/${e}, sum ${actual.sums[k]}/${expected.sums[k]}, seqSum ${actual.seqSums[k]}/${expected.seqSums[k]} (got/expected)`,
        );
      }
    }
  }
  if (order && actual.outOfOrder !== 0) problems.push(`${actual.outOfOrder} messages out of per-key order or duplicated`);
  if (actual.misrouted !== 0) problems.push(`${actual.misrouted} messages delivered to another key's actor`);
  if (actual.strangers !== 0) problems.push(`${actual.strangers} actors for keys W1 never sends to`);
  if (problems.length > 0) {
    throw new VerificationError(
      `${label}: W1 verification failed: ${badKeys} keys differ, ${lost} messages missing, ${extra} extra; ${problems.join('; ')}`,
    );
  }
}

/** Total messages in a totals object (for progress lines and sanity checks). */
export function totalCount(t: W1Totals): number {
  let n = 0;
  for (let j = 0; j < t.counts.length; j++) n += t.counts[j]!;
  return n;
}
