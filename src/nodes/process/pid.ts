/**
 * Process-id helpers: liveness, identity (Linux /proc), bounded wait for exit.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { sleep } from '../wait.js';

/**
 * True when a process with this pid exists and is not a zombie (EPERM: exists, owned by
 * someone else). A zombie has exited; it only waits for a parent that may never reap it.
 */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** Linux: /proc/<pid>/stat state Z. Elsewhere (or when it cannot be read): false. */
function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false; // no /proc, or the process is gone: kill(0) already answered
  }
  return parseProcStat(stat)?.state === 'Z';
}

/** The fields of /proc/<pid>/stat the health checks use. */
export interface ProcStat {
  /** R running, S sleeping, D disk wait, T/t stopped (SIGSTOP / traced), Z zombie, ... */
  state: string;
  /** utime + stime, in ms. */
  cpuMs: number;
}

/**
 * USER_HZ, the unit of utime/stime in /proc: 100 on every architecture Node supports on
 * Linux (`getconf CLK_TCK`); fixed by the kernel ABI, not by the running kernel's HZ.
 */
const CLOCK_TICKS_PER_SECOND = 100;

/** "pid (comm) S ppid ... utime stime ...": undefined when the text is not one. */
export function parseProcStat(text: string): ProcStat | undefined {
  // comm may contain spaces and parens: the fields follow the last ')'
  const close = text.lastIndexOf(')');
  if (close === -1) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (fields[0] === undefined || fields[0] === '' || !Number.isFinite(ticks)) return undefined;
  return { state: fields[0], cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_SECOND };
}

/** /proc/<pid>/stat parsed; undefined when the process is gone, 'unreadable' without /proc. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined | 'unreadable'> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return hasProcFs() ? undefined : 'unreadable';
    return 'unreadable';
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
