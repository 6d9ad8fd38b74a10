/**
 * The actor of `ringmaster bench --failover`. Every delivery's seq is written to a file of this
 * process and thread with a synchronous write, before receive returns and so before the entry can
 * be acknowledged: what a kill -9 leaves behind is what the kernel has, and the run can check
 * across kills that nothing was lost and count what came twice. { op: 'ping' } (the fail-over
 * probe) answers with the name of the process that served it.
 */
import { openSync, writeSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { defineActor } from '../../index.js';

export type FailoverMsg = { seq: number } | { op: 'ping' };

const dir = process.env.FAILOVER_LOG_DIR;
const node = process.env.FAILOVER_NODE;
if (dir === undefined || node === undefined) throw new Error('failover-actor needs FAILOVER_LOG_DIR and FAILOVER_NODE');
const fd = openSync(`${dir}/${node}-${threadId}.log`, 'a');

export default defineActor<undefined, FailoverMsg, string | undefined>({
  receive(msg) {
    if ('op' in msg) return node;
    writeSync(fd, `${msg.seq}\n`);
    return undefined;
  },
});
