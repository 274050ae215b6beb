/**
 * Child processes for the benchmark: spawn with output to a log file, stop by pid
 * (SIGTERM, then SIGKILL), free ports, PING readiness through redis-cli, RSS from /proc.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

export const HOST = '127.0.0.1';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Managed {
  name: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  /** Set once the process has exited. */
  exit: ExitInfo | undefined;
  exited: Promise<ExitInfo>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Spawn a long-running child in its own process group (so a terminal Ctrl-C reaches only
 * this harness, which then stops the children in order), stdout+stderr to `logFile`.
 */
/**
 * The node flags the proxy runs with: what `make run` passes (the Makefile exports
 * PROXY_NODE_FLAGS to the recipes that start proxies: bench, test).
 */
export const PROXY_NODE_FLAGS: string[] = (process.env.PROXY_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);

export function startProcess(name: string, command: string, args: string[], logFile: string, cwd?: string): Managed {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const managed: Managed = {
    name,
    pid: -1,
    logFile,
    child,
    exit: undefined,
    exited: new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        managed.exit = { code, signal };
        resolve(managed.exit);
      });
      child.once('error', (err) => {
        managed.exit = { code: -1, signal: null };
        appendNote(logFile, `spawn error: ${err.message}`);
        resolve(managed.exit);
      });
    }),
  };
  if (child.pid === undefined) {
    // spawn failed synchronously (e.g. ENOENT); the 'error' event resolves `exited`.
    return managed;
  }
  managed.pid = child.pid;
  return managed;
}

function appendNote(file: string, text: string): void {
  try {
    const fd = openSync(file, 'a');
    try {
      writeSync(fd, `\n[bench] ${text}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves with how it ended. */
export async function stopProcess(
  p: Managed,
  graceMs: number,
): Promise<{ exit: ExitInfo; killed: boolean; ms: number }> {
  const started = Date.now();
  if (p.exit !== undefined || p.pid <= 0) return { exit: p.exit ?? (await p.exited), killed: false, ms: 0 };
  signal(p.pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const outcome = await Promise.race([p.exited, timeout]);
  clearTimeout(timer);
  if (outcome !== 'timeout') return { exit: outcome, killed: false, ms: Date.now() - started };
  signal(p.pid, 'SIGKILL');
  const exit = await p.exited;
  return { exit, killed: true, ms: Date.now() - started };
}

/** Stop a bare pid we know we (or our child) started: SIGTERM, wait, SIGKILL. */
export async function stopPid(pid: number, graceMs: number): Promise<boolean> {
  if (!isAlive(pid)) return true;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  signal(pid, 'SIGKILL');
  const hardDeadline = Date.now() + 5_000;
  while (Date.now() < hardDeadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return false;
}

/**
 * Processes whose working directory is inside `dir`: the process provider starts each
 * redis-server with cwd = its node dir under the proxy's --data-dir, so this finds the
 * proxy's nodes even when the proxy died without stopping them.
 */
export async function processesUnder(dir: string): Promise<{ pid: number; comm: string }[]> {
  const root = path.resolve(dir) + path.sep;
  const found: { pid: number; comm: string }[] = [];
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cwd = await readlink(`/proc/${pid}/cwd`);
      if (!(cwd + path.sep).startsWith(root)) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      // Zombies are already dead; their parent just has not reaped them yet.
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z') continue;
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
      found.push({ pid, comm });
    } catch {
      /* gone, or not ours to read */
    }
  }
  return found;
}

/** A free TCP port on 127.0.0.1 (never one handed out earlier in this run). */
const handedOut = new Set<number>();
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen(0, HOST, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free port');
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run a short command; never rejects. */
export function run(command: string, args: string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      const code = e === null ? 0 : typeof e.code === 'number' ? e.code : null;
      const timedOut = e?.killed === true;
      let errText = String(stderr);
      if (errText === '' && timedOut) errText = `(${command} got no answer within ${timeoutMs} ms; killed)`;
      else if (errText === '' && e !== null && typeof e.code === 'string') errText = e.message;
      resolve({ code, stdout: String(stdout), stderr: errText, timedOut });
    });
  });
}

export function redisCli(port: number, args: string[], timeoutMs = 5_000): Promise<ExecResult> {
  return run('redis-cli', ['-h', HOST, '-p', String(port), ...args], timeoutMs);
}

/** Poll `redis-cli -p <port> ping` until it answers PONG; fail early if `p` exits. */
export async function waitForPong(port: number, timeoutMs: number, p?: Managed): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (p?.exit !== undefined) {
      throw new Error(`${p.name} exited (code ${p.exit.code}, signal ${p.exit.signal}) before answering PING on port ${port}`);
    }
    const r = await redisCli(port, ['ping'], 2_000);
    if (r.stdout.trim() === 'PONG') return;
    last = (r.stdout + r.stderr).trim();
    await sleep(200);
  }
  throw new Error(`no PONG from 127.0.0.1:${port} within ${timeoutMs} ms (last answer: ${JSON.stringify(last)})`);
}

/** Poll `check` every 200 ms until it returns true; throws after `timeoutMs`. */
export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`no ${what} within ${timeoutMs} ms`);
}

/** VmRSS and VmHWM (peak RSS) of a live process, in kB, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssKb: number; hwmKb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(text);
    if (!rss) return undefined;
    return { rssKb: Number(rss[1]), hwmKb: hwm ? Number(hwm[1]) : Number(rss[1]) };
  } catch {
    return undefined;
  }
}

/** Last `lines` lines of a log file, for error reports. */
export function tail(file: string, lines = 20): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
