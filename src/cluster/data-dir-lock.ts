/**
 * DataDirLock: one proxy per data dir. The lock is data-dir/proxy.lock holding the owner's
 * pid, created atomically (hard link of a fully written temp file, so nobody ever reads a
 * half-written lock). A lock whose pid is dead (the proxy was SIGKILLed) is taken over.
 */
import { randomBytes } from 'node:crypto';
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
    for (let attempt = 1; attempt <= ACQUIRE_ATTEMPTS; attempt++) {
      if (await createExclusive(lockPath, `${pid}\n`)) return new DataDirLock(lockPath, pid);
      const owner = await readLockPid(lockPath);
      if (owner === 'missing') continue; // released meanwhile: try again
      if (owner !== 'unreadable' && isPidAlive(owner)) throw new DataDirLockedError(path.dirname(lockPath), owner, lockPath);
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
    const owner = await readLockPid(this.path);
    if (owner === this.pid) await unlinkIfExists(this.path);
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

async function readLockPid(file: string): Promise<number | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : 'unreadable';
}

async function unlinkIfExists(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
