/**
 * DataDirLock: one proxy per data dir. The lock is data-dir/proxy.lock holding the owner's
 * pid and that process's start time, created atomically (hard link of a fully written temp
 * file, so nobody ever reads a half-written lock). A lock whose owner is gone (the proxy
 * was SIGKILLed) is taken over.
 *
 * "Gone" is judged by pid *and* start time: in a container every start gets a fresh pid
 * namespace, so the pid of a killed proxy (1, 7, 8, ...) is usually alive again as some
 * other process — often the new proxy itself.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { isPidAlive } from '../nodes/pid.js';

export const LOCK_FILE = 'proxy.lock';

const ACQUIRE_ATTEMPTS = 5;

/** Another live process holds the data dir. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
    lockPath: string,
  ) {
    super(
      `data dir ${dataDir} is in use by another interface-hash-server (pid ${ownerPid}); ` +
        `stop it first, or remove ${lockPath} if pid ${ownerPid} is not an interface-hash-server`,
    );
  }
}

export class DataDirLock {
  private released = false;

  private constructor(
    /** Absolute path of the lock file. */
    readonly path: string,
    readonly pid: number,
  ) {}

  /** Take the lock on `dataDir` (which must exist) for this process. */
  static async acquire(dataDir: string, log: Logger): Promise<DataDirLock> {
    const lockPath = path.join(path.resolve(dataDir), LOCK_FILE);
    const pid = process.pid;
    const identity = `${pid} ${processStartTime(pid) ?? ''}`.trim();
    for (let attempt = 1; attempt <= ACQUIRE_ATTEMPTS; attempt++) {
      if (await createExclusive(lockPath, `${identity}\n`)) return new DataDirLock(lockPath, pid);
      const owner = await readLockOwner(lockPath);
      if (owner === 'missing') continue; // released meanwhile: try again
      if (owner !== 'unreadable' && ownerIsAlive(owner)) throw new DataDirLockedError(path.dirname(lockPath), owner.pid, lockPath);
      // Stale: its owner died without releasing it (or it is garbage). Remove and retry.
      // (Two proxies taking over the same stale lock in the same instant could both win;
      // that needs a crash *and* two simultaneous starts.)
      log.warn({ lock: lockPath, stalePid: owner }, 'taking over a stale data-dir lock (its proxy is gone)');
      await unlinkIfExists(lockPath);
    }
    throw new Error(`could not take the lock ${lockPath} after ${ACQUIRE_ATTEMPTS} attempts (another proxy is starting?)`);
  }

  /** Remove the lock if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const owner = await readLockOwner(this.path);
    if (typeof owner === 'object' && owner.pid === this.pid) await unlinkIfExists(this.path);
  }
}

/** Create `file` with `text` unless it exists; false when it already exists. */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp);
  }
}

interface LockOwner {
  pid: number;
  /** Start time of the owner process (clock ticks after boot, /proc/<pid>/stat); absent where /proc is not. */
  startTime?: string;
}

async function readLockOwner(file: string): Promise<LockOwner | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  const [pidText, startTime] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return 'unreadable';
  return startTime ? { pid, startTime } : { pid };
}

/** The owner still runs: same pid, not us, and (where we can tell) the same process, not a reuse of its pid. */
function ownerIsAlive(owner: LockOwner): boolean {
  if (!isPidAlive(owner.pid)) return false;
  // Without a start time, our own pid in the lock can only be an earlier process's.
  if (owner.startTime === undefined) return owner.pid !== process.pid;
  const now = processStartTime(owner.pid);
  return now === undefined || now === owner.startTime;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined; // no /proc (not Linux) or the process is gone
  }
}

async function unlinkIfExists(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
