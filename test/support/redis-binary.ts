/**
 * Test helpers around real redis-server processes: is one installed (else skip), which
 * redis-server processes work under a directory (Linux /proc), and killing them all in
 * cleanup so a failed test never leaves nodes behind.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { findRedisServer } from '../../src/nodes/redis-binary.js';
import { hasProcFs, isPidAlive, waitForPidExit } from '../../src/nodes/process/pid.js';

/**
 * A reason to skip real-redis tests, or false when redis-server is available. Under CI
 * nothing is skipped: a missing redis-server must fail the run loudly, not thin it out.
 */
export async function skipWithoutRedis(): Promise<string | false> {
  if (process.env.CI) return false;
  try {
    await findRedisServer();
    return false;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Pids of redis-server processes whose working dir (= their node dir) is `root` or below it. */
export async function redisServerPidsUnder(root: string): Promise<number[]> {
  if (!hasProcFs()) return [];
  const prefix = path.resolve(root);
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
      if (!comm.startsWith('redis')) continue;
      const cwd = await readlink(`/proc/${pid}/cwd`);
      if (cwd === prefix || cwd.startsWith(prefix + path.sep)) pids.push(pid);
    } catch {
      continue; // the process exited while we looked, or is not ours to inspect
    }
  }
  return pids.sort((a, b) => a - b);
}

/** Pids named as node handles in data-dir/topology.json (fallback where /proc is missing). */
async function pidsFromTopology(dataDir: string): Promise<number[]> {
  try {
    const doc = JSON.parse(await readFile(path.join(dataDir, 'topology.json'), 'utf8')) as { nodes?: { handle?: string }[] };
    return (doc.nodes ?? []).map((n) => Number(n.handle)).filter((p) => Number.isInteger(p) && p > 0);
  } catch {
    return [];
  }
}

/** SIGKILL every redis-server working under `root` (and those named by `dataDirs`' topologies) and wait for them to exit. */
export async function killRedisServersUnder(root: string, dataDirs: string[] = []): Promise<void> {
  const pids = new Set(await redisServerPidsUnder(root));
  if (!hasProcFs()) for (const dir of dataDirs) for (const pid of await pidsFromTopology(dir)) pids.add(pid);
  for (const pid of pids) {
    if (!isPidAlive(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      continue; // already gone
    }
    await waitForPidExit(pid, 5_000);
  }
}
