/**
 * A node's process seen from the host (Linux /proc): the evidence the health monitor asks
 * for when a node stops answering. Used by the providers that can see the process.
 */
import { processCommandName, readProcStat } from './pid.js';
import type { ProcessProbe } from '../provider.js';

/** What the redis-server with this pid is doing; a pid now held by another program counts as exited. */
export async function probeRedisPid(pid: number): Promise<ProcessProbe> {
  const stat = await readProcStat(pid);
  if (stat === 'unreadable') return { kind: 'unknown', reason: `/proc/${pid}/stat cannot be read` };
  if (stat === undefined || stat.state === 'Z' || stat.state === 'X') return { kind: 'exited' };
  if ((await processCommandName(pid))?.startsWith('redis') !== true) return { kind: 'exited' };
  if (stat.state === 'T' || stat.state === 't') return { kind: 'stopped' };
  return { kind: 'running', cpuMs: stat.cpuMs };
}
