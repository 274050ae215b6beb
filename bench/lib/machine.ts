/**
 * What a benchmark report says about where it ran: the machine, tool versions, and which
 * commit of the project (and whether src/ had uncommitted changes).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** First line of `command args` (stdout, else stderr, else the error), for version strings. */
export function versionOf(command: string, args: string[]): string {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000 });
    return out.trim().split('\n')[0] ?? '';
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    return (e.stderr || e.stdout || e.message).trim().split('\n')[0] ?? '';
  }
}

export function machineInfo(): Record<string, string | number> {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memTotalMb: Math.round(os.totalmem() / 1024 / 1024),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redisServer: versionOf('redis-server', ['--version']),
  };
}

export function projectInfo(repo: string): { commit: string; srcDirty: boolean } {
  const commit = versionOf('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']);
  let srcDirty = false;
  try {
    srcDirty = execFileSync('git', ['-C', repo, 'status', '--porcelain', '--', 'src', 'bin', 'tsconfig.json', 'tsconfig.build.json'], { encoding: 'utf8' }).trim() !== '';
  } catch {
    /* not a git checkout */
  }
  return { commit, srcDirty };
}
