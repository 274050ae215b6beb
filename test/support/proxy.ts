/**
 * Test harness: a real proxy (in this process) over real redis-server processes it starts
 * in a temp data dir, plus small clients to talk to it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { parseConfig, type Config } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { startProxy, type ProxyHooks, type RunningProxy } from '../../src/main.js';
import { sleep } from '../../src/nodes/wait.js';
import { PROXY_NODE_FLAGS } from './proxy-process.js';

const execFileP = promisify(execFile);

export interface TestProxy {
  proxy: RunningProxy;
  port: number;
  dataDir: string;
  config: Config;
  /** Stop the proxy and its nodes, remove the data dir. */
  close(): Promise<void>;
}

/**
 * Start a proxy with `--port 0` and a fresh temp data dir; extra flags as on the command line; silent unless given a logger.
 * No HTTP API (`--http-port 0`: many proxies run at once) unless the flags give an --http-port.
 */
export async function startTestProxy(flags: string[] = [], dataDir?: string, o: { hooks?: ProxyHooks; log?: Logger } = {}): Promise<TestProxy> {
  const dir = dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'ihs-test-')));
  let config: Config;
  let proxy: RunningProxy;
  try {
    config = parseConfig(['--port', '0', '--http-port', '0', '--data-dir', dir, '--log-level', 'silent', ...flags]);
    proxy = await startProxy(config, o.log ?? silentLogger(), o.hooks ?? {});
  } catch (err) {
    if (dataDir === undefined) await rm(dir, { recursive: true, force: true }); // a failed start leaves no temp dir
    throw err;
  }
  return {
    proxy,
    port: proxy.server.port,
    dataDir: dir,
    config,
    async close() {
      await proxy.stop();
      if (dataDir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An ioredis client (of the proxy, or of a node when given its password) on which every
 * error is visible: no retries, no offline queue.
 */
export async function strictClient(port: number, commandTimeout = 3000, password?: string): Promise<Redis> {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    commandTimeout,
    retryStrategy: () => null,
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** A key `prefix:<n>` served by master number `master` (by the proxy's slot map, masters in slot order). */
export function keyOnShard(tp: TestProxy, master: number, prefix = 'k'): string {
  const map = tp.proxy.server.router.slotMap;
  const index = map.servingMasters()[master];
  for (let i = 0; ; i++) {
    const key = `${prefix}:${i}`;
    if (map.slotToMaster[calculateSlot(key)] === index) return key;
  }
}

/** Run redis-cli against the proxy; resolves with its stdout (trimmed). */
export async function redisCli(port: number, args: string[], extra: string[] = []): Promise<string> {
  const { stdout } = await execFileP('redis-cli', ['-p', String(port), ...extra, ...args], { timeout: 20_000 });
  return stdout.trim();
}

/**
 * A raw RESP connection: write bytes, read until `count` replies (by a simple reply
 * counter on complete frames, via the proxy's own ReplyScanner) or the socket closes.
 */
export class RawClient {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => this.chunks.push(c));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Everything received so far. */
  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Wait until `predicate(received)` holds, or fail after `ms`. */
  async waitFor(predicate: (data: Buffer, closed: boolean) => boolean, ms = 5000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const data = this.received();
      if (predicate(data, this.closed)) return data;
      if (Date.now() > deadline) throw new Error(`timed out; received so far: ${JSON.stringify(data.toString('latin1').slice(0, 300))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The real executable, as `make run` starts it (its own process: RSS can be measured alone). */
export function startExecutable(dataDir: string, port: number, flags: string[] = []): ChildProcess {
  return spawn(
    process.execPath,
    [...PROXY_NODE_FLAGS, 'bin/interface-hash-server.js', '--port', String(port), '--http-port', '0', '--data-dir', dataDir, '--log-level', 'warn', ...flags],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** Poll `check` every 20 ms until it holds; fail after `ms`, saying what was awaited. */
export async function waitUntil(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await sleep(20);
  }
}

export async function waitForPong(port: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if ((await redisCli(port, ['ping'])) === 'PONG') return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`proxy on ${port} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** Resident set size of a process in bytes (Linux /proc). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
