/** Partition → thread tables: the built-in strategies and validation of user-given ones. */

export type MappingFunction = (partition: number, threads: number) => number;
export type Mapping = 'modulo' | 'range' | readonly number[] | MappingFunction;

/**
 * Builds the table (index: partition, value: thread). 'modulo' puts p on p % threads; 'range'
 * gives each thread one contiguous, near-equal block: floor(p * threads / partitions).
 * Throws TypeError/RangeError for a table that is malformed or names a thread that does not exist.
 */
export function buildPartitionTable(mapping: Mapping, partitions: number, threads: number): Uint16Array {
  const table = new Uint16Array(partitions);
  if (mapping === 'modulo') {
    for (let p = 0; p < partitions; p++) table[p] = p % threads;
    return table;
  }
  if (mapping === 'range') {
    for (let p = 0; p < partitions; p++) table[p] = Math.floor((p * threads) / partitions);
    return table;
  }
  let threadOf: (p: number) => unknown;
  if (Array.isArray(mapping)) {
    if (mapping.length !== partitions) {
      throw new RangeError(`mapping array has ${mapping.length} entries, expected one per partition (${partitions})`);
    }
    threadOf = (p) => mapping[p];
  } else if (typeof mapping === 'function') {
    threadOf = (p) => (mapping as MappingFunction)(p, threads);
  } else {
    throw new TypeError(`mapping must be 'modulo', 'range', an array or a function, got ${String(mapping)}`);
  }
  for (let p = 0; p < partitions; p++) {
    const t = threadOf(p);
    if (typeof t !== 'number' || !Number.isInteger(t)) {
      throw new TypeError(`mapping gives partition ${p} the thread ${String(t)}, not an integer`);
    }
    if (t < 0 || t >= threads) {
      throw new RangeError(`mapping puts partition ${p} on thread ${t}, but threads are 0..${threads - 1}`);
    }
    table[p] = t;
  }
  return table;
}
