/**
 * Locating the redis-server executable and checking it is recent enough
 * (the generated config uses Redis 7 directives such as `appenddirname`).
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const MIN_REDIS_MAJOR = 7;

const INSTALL_HINT = 'install it (Debian/Ubuntu: apt-get install redis-server) or pass --redis-server /path/to/redis-server';

/** The one-line error for a missing or unusable redis-server. */
export class RedisServerNotFoundError extends Error {
  override readonly name = 'RedisServerNotFoundError';
  /** `where`: the configured path (or non-default name) that was not found. */
  constructor(where?: string) {
    super(where === undefined ? `redis-server not found: ${INSTALL_HINT}` : `redis-server not found at ${where}: ${INSTALL_HINT}`);
  }
}

export class RedisServerVersionError extends Error {
  override readonly name = 'RedisServerVersionError';
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await stat(file)).isFile()) return false;
    await access(file, constants.X_OK);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' || code === 'ELOOP') return false;
    throw err;
  }
}

/**
 * Resolve the redis-server to run: `configured` when given (a path, or a bare name looked up
 * on PATH), else `redis-server` on `searchPath`. Throws RedisServerNotFoundError (one line).
 */
export async function findRedisServer(configured?: string, searchPath: string = process.env.PATH ?? ''): Promise<string> {
  const name = configured ?? 'redis-server';
  if (name.includes('/')) {
    const file = path.resolve(name);
    if (await isExecutableFile(file)) return file;
    throw new RedisServerNotFoundError(configured);
  }
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    if (await isExecutableFile(file)) return file;
  }
  throw new RedisServerNotFoundError(name === 'redis-server' ? undefined : name);
}

/** `redis-server --version` → "7.0.15". */
export async function redisServerVersion(binary: string, timeoutMs = 5000): Promise<string> {
  const { stdout } = await execFileAsync(binary, ['--version'], { timeout: timeoutMs });
  const match = /\bv=(\d+\.\d+\.\d+)/.exec(stdout);
  if (!match) throw new RedisServerVersionError(`${binary} --version printed no version (is it redis-server?): ${stdout.trim()}`);
  return match[1];
}

/** Throws RedisServerVersionError unless `binary` is redis-server 7.0 or newer. */
export async function checkRedisServerVersion(binary: string): Promise<string> {
  const version = await redisServerVersion(binary);
  const major = Number(version.split('.')[0]);
  if (major < MIN_REDIS_MAJOR) {
    throw new RedisServerVersionError(`redis-server ${version} at ${binary} is too old: version ${MIN_REDIS_MAJOR}.0 or later is required`);
  }
  return version;
}
