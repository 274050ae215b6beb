/**
 * Test helpers for suites that drive ClusterManager with real redis-server processes: temp
 * data dirs under one root (every redis-server working under it is SIGKILLed and the root
 * removed at the end, whatever happened), a provider with test bounds, polling, and what a
 * proxy killed with SIGKILL leaves behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LOCK_FILE } from '../../src/cluster/data-dir-lock.js';
import type { Logger } from '../../src/log.js';
import { isPidAlive } from '../../src/nodes/process/pid.js';
import { ProcessProvider } from '../../src/nodes/process/process-provider.js';
import { sleep } from '../../src/nodes/wait.js';
import { killRedisServersUnder } from './redis-binary.js';

/** Data dirs under one temp root: `setUp` in `before`, `cleanUp` in `after`. */
export class TempDataDirs {
  root = '';
  private readonly dirs: string[] = [];

  constructor(private readonly prefix: string) {}

  async setUp(): Promise<void> {
    this.root = await mkdtemp(path.join(os.tmpdir(), this.prefix));
  }

  async newDataDir(): Promise<string> {
    const dir = await mkdtemp(path.join(this.root, 'data-'));
    this.dirs.push(dir);
    return dir;
  }

  /** SIGKILL every redis-server left under the root; remove it (kept with TEST_KEEP_ROOT). */
  async cleanUp(): Promise<void> {
    await killRedisServersUnder(this.root, this.dirs);
    if (!process.env.TEST_KEEP_ROOT) await rm(this.root, { recursive: true, force: true });
  }
}

/** A ProcessProvider with bounds short enough for tests. */
export function testProvider(log: Logger): ProcessProvider {
  return new ProcessProvider({ log, startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
}

/** Poll `check` (which returns a complaint, or true) until it holds; fail with the last complaint. Resolves to the ms waited. */
export async function eventually(what: string, check: () => Promise<string | true>, timeoutMs = 15_000): Promise<number> {
  const start = Date.now();
  let last: string;
  for (;;) {
    try {
      const r = await check();
      if (r === true) return Date.now() - start;
      last = r;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() - start > timeoutMs) assert.fail(`${what}: still not so after ${timeoutMs} ms (${last})`);
    await sleep(100);
  }
}

/** A pid that certainly belonged to a process that has exited. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  assert.ok(child.pid !== undefined && !isPidAlive(child.pid));
  return child.pid;
}

/** What a proxy killed with SIGKILL leaves behind: running nodes and a lock naming a dead pid. */
export async function simulateProxySigkill(dataDir: string): Promise<void> {
  await writeFile(path.join(dataDir, LOCK_FILE), `${await deadPid()}\n`);
}
