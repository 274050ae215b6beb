/**
 * predixy (C++, BSD-3) as a bench target: where its binary comes from, and its config.
 *
 * The binary: PREDIXY=/path or --predixy PATH (must exist, else an error); else one built
 * earlier in the cache dir; else built there from ../shared/predixy/predixy-ca1630a.tgz
 * (next to the repo) with make and g++, once. When none of that is possible the target is
 * skipped with the reason, never a failure. The build happens in a sibling dir that is
 * renamed into place when it succeeded, so the cache dir holds a binary or nothing.
 */
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, tail } from './procs.js';

export const PREDIXY_SOURCE = 'predixy-ca1630a';
/** -include ctime: predixy's sources use time() without <ctime>, which Debian's g++ 12 no longer pulls in. */
const BUILD_FLAGS = '-g -O3 -include ctime';
const BUILD_TIMEOUT_MS = 15 * 60_000;

/** skip: why predixy is left out; buildFailed: the build was tried and failed (an error in the report, not just a note). */
export type PredixyBinary = { bin: string; how: string } | { skip: string; buildFailed?: boolean };

export function predixyTarball(repo: string): string {
  return path.join(repo, '..', 'shared', 'predixy', `${PREDIXY_SOURCE}.tgz`);
}

export function predixyCacheDir(): string {
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'interface-hash-server', PREDIXY_SOURCE);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function has(command: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${command}`], 5_000)).code === 0;
}

/**
 * Find or build predixy. `explicit` (--predixy or PREDIXY) that is not an executable file
 * throws: asking for a binary that is not there is a mistake, not a reason to skip.
 */
export async function resolvePredixy(repo: string, explicit: string | undefined, log: (line: string) => void): Promise<PredixyBinary> {
  if (explicit !== undefined) {
    const bin = path.resolve(explicit);
    if (!isExecutable(bin)) throw new Error(`predixy: ${bin} (from --predixy / PREDIXY) is not an executable file`);
    return { bin, how: `${bin} (--predixy / PREDIXY)` };
  }
  const dir = predixyCacheDir();
  const cached = path.join(dir, 'src', 'predixy');
  if (isExecutable(cached)) return { bin: cached, how: `${cached} (built earlier)` };
  const tarball = predixyTarball(repo);
  if (existsSync(dir)) {
    return { skip: `${dir} exists but holds no src/predixy (a build still running there, or one that failed: see its build.log; remove the dir to rebuild)` };
  }
  if (!existsSync(tarball)) return { skip: `no predixy binary: not built in ${dir}, no source at ${tarball}, and no PREDIXY=/path or --predixy PATH` };
  const missing = [];
  for (const tool of ['g++', 'make', 'tar']) if (!(await has(tool))) missing.push(tool);
  if (missing.length > 0) return { skip: `predixy not built: ${missing.join(', ')} not found (Debian/Ubuntu: apt-get install g++ make), needed to build ${tarball}` };
  return buildPredixy(tarball, dir, log);
}

async function buildPredixy(tarball: string, dir: string, log: (line: string) => void): Promise<PredixyBinary> {
  const work = `${dir}.build-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const buildLog = path.join(work, 'build.log');
  log(`predixy    building ${path.basename(tarball)} in ${work} (make -j2 LVL="${BUILD_FLAGS}", about a minute; log: build.log)`);
  const started = Date.now();
  const script = 'tar -xzf "$1" -C "$2" && cd "$2" && make -j2 LVL="$3" > build.log 2>&1';
  const r = await run('sh', ['-c', script, 'sh', tarball, work, BUILD_FLAGS], BUILD_TIMEOUT_MS);
  const built = path.join(work, 'src', 'predixy');
  if (r.code !== 0 || !isExecutable(built)) {
    const why = r.timedOut ? `timed out after ${BUILD_TIMEOUT_MS / 60_000} min` : `exit code ${r.code}`;
    return { skip: `predixy build failed (${why}); left in ${work}:\n${(r.stderr.trim() || tail(buildLog)).trim()}`, buildFailed: true };
  }
  try {
    renameSync(work, dir);
  } catch (err) {
    // Another bench finished the same build first: use its binary, drop ours.
    if (!isExecutable(path.join(dir, 'src', 'predixy'))) throw err;
    rmSync(work, { recursive: true, force: true });
  }
  const bin = path.join(dir, 'src', 'predixy');
  return { bin, how: `${bin} (built now from ${tarball}, ${((Date.now() - started) / 1000).toFixed(0)} s)` };
}

/**
 * predixy.conf: one worker thread in front of a Redis Cluster (ClusterServerPool seeded with
 * every master), on 127.0.0.1:port, logging to a file; no latency monitors (they cost it
 * time per command and the bench does not read them), no auth (its default allows all).
 */
export function predixyConfig(port: number, servers: string[], logFile: string): string {
  return [
    'Name bench',
    `Bind 127.0.0.1:${port}`,
    'WorkerThreads 1',
    'ClientTimeout 0',
    `Log ${logFile}`,
    'LogVerbSample 0',
    'LogDebugSample 0',
    'LogInfoSample 10000',
    'LogNoticeSample 1',
    'LogWarnSample 1',
    'LogErrorSample 1',
    'ClusterServerPool {',
    '    RefreshInterval 1',
    '    Servers {',
    ...servers.map((s) => `        + ${s}`),
    '    }',
    '}',
    '',
  ].join('\n');
}
