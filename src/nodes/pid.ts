/**
 * Process-id helpers: liveness, identity (Linux /proc), bounded wait for exit.
 */
import { existsSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { sleep } from './wait.js';

/** True when a process with this pid exists (EPERM: exists, owned by someone else). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The process's command name from /proc (Linux), e.g. "redis-server";
 * undefined when the process is gone or /proc is not available.
 */
export async function processCommandName(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw err;
  }
}

/** Poll until the pid is gone; resolves true if it exited within `timeoutMs`. */
export async function waitForPidExit(pid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isPidAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

/** Send a signal; false when the process no longer exists. Other errors propagate. */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** The process's working directory from /proc (Linux); undefined when gone or unavailable. */
export async function processCwd(pid: number): Promise<string | undefined> {
  try {
    return await readlink(`/proc/${pid}/cwd`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES') return undefined;
    throw err;
  }
}

/** True when /proc describes processes (Linux). */
export function hasProcFs(): boolean {
  return existsSync('/proc/self/comm');
}
