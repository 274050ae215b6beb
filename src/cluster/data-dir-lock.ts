/**
 * DataDirLock: one proxy per data dir. The lock is data-dir/proxy.lock holding the owner's
 * pid and that process's start time, created atomically (hard link of a fully written temp
 * file, so nobody ever reads a half-written lock). A lock whose owner is gone (the proxy
 * was SIGKILLed) is taken over.
 *
 * "Gone" is judged by pid *and* start time: in a container every start gets a fresh pid
 * namespace, so the pid of a killed proxy (1, 7, 8, ...) is usually alive again as some
 * other process — often the new proxy itself.
 *
 * A holder in *another* pid namespace (another container on the same volume) cannot be
 * looked up at all, so the holder also touches the lock file every few seconds: a lock from
 * another namespace is taken over only once that heartbeat has stopped, and refused while
 * it beats — two proxies on one data dir would run two clusters on the same AOF files.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { link, open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { isPidAlive } from '../nodes/process/pid.js';

export const LOCK_FILE = 'proxy.lock';

const ACQUIRE_ATTEMPTS = 5;
/** The holder touches the lock this often... */
const HEARTBEAT_MS = 2_000;
/** ...so a lock from another pid namespace untouched this long has no live holder. */
const HEARTBEAT_STALE_MS = 3 * HEARTBEAT_MS;
const POLL_MS = 250;

/** This process's pid namespace ("pid:[4026531836]"), or '' where /proc is not. */
function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

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
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(
    /** Absolute path of the lock file. */
    readonly path: string,
    readonly pid: number,
    /** What we wrote into it: pid, start time, pid namespace. */
    private readonly identity: string,
  ) {
    this.heartbeat = setInterval(() => {
      const now = new Date();
      utimes(this.path, now, now).catch(() => {
        /* the lock was removed or taken over: release() sorts that out */
      });
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Take the lock on `dataDir` (which must exist) for this process. */
  static async acquire(dataDir: string, log: Logger): Promise<DataDirLock> {
    const lockPath = path.join(path.resolve(dataDir), LOCK_FILE);
    const pid = process.pid;
    const identity = `${pid} ${processStartTime(pid) ?? '-'} ${pidNamespace() || '-'}`;
    for (let attempt = 1; attempt <= ACQUIRE_ATTEMPTS; attempt++) {
      if (await createExclusive(lockPath, `${identity}\n`)) return new DataDirLock(lockPath, pid, identity);
      const owner = await readLockOwner(lockPath);
      if (owner === 'missing') continue; // released meanwhile: try again
      if (owner !== 'unreadable') {
        const alive =
          owner.namespace !== undefined && owner.namespace !== pidNamespace()
            ? await heartbeatBeats(lockPath)
            : ownerIsAlive(owner);
        if (alive) throw new DataDirLockedError(path.dirname(lockPath), owner.pid, lockPath);
      }
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
    clearInterval(this.heartbeat);
    // Only a lock that is still exactly ours: after a takeover (we were paused past the
    // heartbeat) another proxy of the same pid in another container may hold it now.
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (text.trim() === this.identity) await unlinkIfExists(this.path);
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
  /** The owner's pid namespace; absent where /proc is not. */
  namespace?: string;
}

/**
 * Whether the holder (in a pid namespace we cannot see into) still touches the lock: waits
 * until the file is older than HEARTBEAT_STALE_MS (stale) or it is touched again (alive).
 */
async function heartbeatBeats(file: string): Promise<boolean> {
  const deadline = Date.now() + HEARTBEAT_STALE_MS + HEARTBEAT_MS;
  let first: number | undefined;
  while (Date.now() < deadline) {
    let mtime: number;
    try {
      mtime = (await stat(file)).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    if (Date.now() - mtime > HEARTBEAT_STALE_MS) return false;
    if (first === undefined) first = mtime;
    else if (mtime !== first) return true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return true;
}

async function readLockOwner(file: string): Promise<LockOwner | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  const [pidText, startTime, namespace] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return 'unreadable';
  const owner: LockOwner = { pid };
  if (startTime && startTime !== '-') owner.startTime = startTime;
  if (namespace && namespace !== '-') owner.namespace = namespace;
  return owner;
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
