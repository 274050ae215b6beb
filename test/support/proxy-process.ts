/**
 * ProxyProcess: the real executable (bin/interface-hash-server.js on dist/, as `make run`
 * starts it) over the cluster it forms in a temp data dir — for tests and benchmarks that
 * kill things: its nodes (by pid, from data-dir/topology.json), or the proxy itself (then
 * started again on the same data dir and port, adopting the nodes).
 *
 * It tells a crash from a kill: an exit of the proxy that this harness did not cause is
 * recorded in `crashes`. Its log (info level: one line per node event) goes to a file next
 * to the data dir, for the failure messages.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { parseClusterNodes } from '../../src/nodes/cluster-nodes.js';
import { SLOT_COUNT, type TopologyDoc } from '../../src/cluster/topology/topology.js';
import { TOPOLOGY_FILE } from '../../src/cluster/topology/topology-store.js';
import { ControlClients } from '../../src/nodes/control-client.js';
import { ensureNodeTls } from '../../src/nodes/node-tls.js';
import { createRuntime } from '../../src/net/runtime.js';
import { isPidAlive } from '../../src/nodes/process/pid.js';
import { sleep } from '../../src/nodes/wait.js';
import { killRedisServersUnder } from './redis-binary.js';
import { freePort } from './redis-server.js';
import { strictClient } from './write-ledger.js';

/** The node flags `make run` starts the proxy with (the Makefile exports PROXY_NODE_FLAGS to `make test`). */
export const PROXY_NODE_FLAGS: string[] = (process.env.PROXY_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** dist/ must match src/: a no-op when it does (`make test` builds first), a rebuild after an edit in src/. */
export function buildExecutable(): void {
  execFileSync('make', ['-o', 'node_modules/.package-lock.json', '--no-print-directory', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** One line of the proxy's `INFO nodes` (`# Nodes` section). */
export interface InfoNode {
  /** node0, node1, … */
  key: string;
  /** Our id (m0, m0r0, …). */
  id: string;
  addr: string;
  role: string;
  state: string;
  /** Our id of its master, '-' for a master. */
  master: string;
}

/** `# Nodes` of the proxy's INFO (asked as `INFO nodes`, else found in `INFO everything`); a string says what is wrong with it. */
export async function infoNodes(c: Redis): Promise<InfoNode[] | string> {
  let info = String(await c.call('INFO', 'nodes'));
  if (!/^# Nodes\r?$/m.test(info)) info = String(await c.call('INFO', 'everything'));
  const at = info.search(/^# Nodes\r?$/m);
  if (at === -1) return 'INFO has no "# Nodes" section';
  const body = info.slice(at).split(/\r?\n/).slice(1);
  const nodes: InfoNode[] = [];
  for (const line of body) {
    if (line.trim() === '' || line.startsWith('#')) break;
    if (/^failovers_(automatic|planned):\d+$/.test(line)) continue; // the section's counts, before the nodes
    const m = /^(node\d+):(.*)$/.exec(line);
    if (!m) return `unexpected line in # Nodes: ${line}`;
    const f = Object.fromEntries(m[2].split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    nodes.push({ key: m[1], id: f.id, addr: f.addr, role: f.role, state: f.state, master: f.master });
  }
  return nodes;
}

/** The cluster's shape the proxy should heal back to. */
export interface Shape {
  masters: number;
  /** Replicas up per master. */
  replicas: number;
}

export interface ProxyProcessOptions extends Shape {
  /** More command-line flags (e.g. an --ack mode). */
  flags?: string[];
  /** How long the first start may take (forming the cluster), ms. */
  startTimeoutMs?: number;
  /** A data dir shared with other proxies (coordinated proxies on one host); default: its own. */
  dataDir?: string;
}

export class ProxyProcess {
  /** Exits of the proxy this harness did not cause (a crash), e.g. "exit code 1 at …". */
  readonly crashes: string[] = [];
  /** What the proxy should heal back to; a scenario that changes it (ADD MASTER) updates it. */
  shape: Shape;
  private child: ChildProcess | undefined;
  private exitExpected = false;

  private constructor(
    /** Temp dir holding the data dir and the log. */
    readonly root: string,
    readonly port: number,
    private readonly o: ProxyProcessOptions,
  ) {
    this.shape = { masters: o.masters, replicas: o.replicas };
  }

  get dataDir(): string {
    return this.o.dataDir ?? path.join(this.root, 'data');
  }

  get logFile(): string {
    return path.join(this.root, 'proxy.log');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Start the executable on a fresh data dir and a free port; resolves once it answers PING. */
  static async start(o: ProxyProcessOptions): Promise<ProxyProcess> {
    buildExecutable();
    const root = await mkdtemp(path.join(os.tmpdir(), 'ihs-chaos-'));
    const p = new ProxyProcess(root, await freePort(), o);
    try {
      await p.launch(o.startTimeoutMs ?? 60_000);
    } catch (err) {
      await p.cleanup();
      throw err;
    }
    return p;
  }

  /** SIGKILL the proxy (its nodes keep running) and wait for it to be gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (child === undefined || exitedAlready(child)) throw new Error('the proxy is not running');
    this.exitExpected = true;
    child.kill('SIGKILL');
    await exitOf(child);
  }

  /** Start the executable again on the same data dir and port (it adopts the running nodes). */
  async restart(timeoutMs = 30_000): Promise<void> {
    if (this.child !== undefined && !exitedAlready(this.child)) throw new Error('the proxy is still running');
    await this.launch(timeoutMs);
  }

  /** SIGTERM: the proxy stops its nodes and exits; resolves with its exit code (null: killed by a signal). */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (child === undefined || exitedAlready(child)) return child?.exitCode ?? null;
    this.exitExpected = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return (await exitOf(child)).code;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Send the proxy a signal it is expected to exit on (SIGINT: a Ctrl-C), without waiting for the exit. */
  signal(signal: NodeJS.Signals): void {
    const child = this.child;
    if (child === undefined || exitedAlready(child)) throw new Error('the proxy is not running');
    this.exitExpected = true;
    child.kill(signal);
  }

  /** The proxy's exit code once it has exited (null: ended by a signal); rejects if it runs on past timeoutMs. */
  async exited(timeoutMs: number): Promise<number | null> {
    const child = this.child;
    if (child === undefined) throw new Error('the proxy was never started');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the proxy did not exit within ${timeoutMs} ms\n${this.logTail()}`)), timeoutMs);
    });
    try {
      return (await Promise.race([exitOf(child), late])).code;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stop whatever is left (proxy, nodes) and remove the temp dir. */
  async cleanup(): Promise<void> {
    const child = this.child;
    if (child !== undefined && !exitedAlready(child)) {
      this.exitExpected = true;
      child.kill('SIGKILL');
      await exitOf(child);
    }
    await killRedisServersUnder(this.root, [this.dataDir]);
    await rm(this.root, { recursive: true, force: true });
  }

  async topology(): Promise<TopologyDoc> {
    return JSON.parse(await readFile(path.join(this.dataDir, TOPOLOGY_FILE), 'utf8')) as TopologyDoc;
  }

  /** The live pid of a node, from the document (the proxy rewrites it when it restarts a node). */
  async pidOf(id: string): Promise<number> {
    const node = (await this.topology()).nodes.find((n) => n.id === id);
    const pid = Number(node?.handle);
    if (!Number.isInteger(pid) || pid <= 0 || !isPidAlive(pid)) throw new Error(`node ${id}: no live pid in the document (${node?.handle})`);
    return pid;
  }

  /** Slot → 1 for the slots the node serves, by its own CLUSTER NODES (asked on its port with the node password). */
  async slotsOf(id: string): Promise<Uint8Array> {
    const doc = await this.topology();
    const node = doc.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`node ${id} is not in the document`);
    // With --node-tls the nodes answer TLS only, with the proxy's certificate.
    const runtime = this.o.flags?.includes('--node-tls') === true ? createRuntime({ nodeTls: (await ensureNodeTls(this.dataDir)).client }) : undefined;
    const text = await new ControlClients({ password: doc.nodePassword, runtime }).with(node, (c) => c.call('CLUSTER', 'NODES'), 2_000);
    const me = parseClusterNodes(String(text)).find((l) => l.flags.has('myself'));
    const slots = new Uint8Array(SLOT_COUNT);
    for (let i = 0; i + 1 < (me?.slots.length ?? 0); i += 2) slots.fill(1, me!.slots[i], me!.slots[i + 1] + 1);
    return slots;
  }

  /** INFO # Nodes through the proxy. */
  async nodes(): Promise<InfoNode[]> {
    const c = await strictClient(this.port, 5_000);
    try {
      const nodes = await infoNodes(c);
      if (typeof nodes === 'string') throw new Error(nodes);
      return nodes;
    } finally {
      c.disconnect();
    }
  }

  /**
   * Wait until the proxy serves `shape`: every node it lists up, that many masters, each
   * with that many replicas up, and `also` content. Resolves with the nodes; fails with what
   * is still missing.
   */
  async waitHealthy(timeoutMs = 20_000, also?: () => Promise<string | undefined>): Promise<InfoNode[]> {
    const deadline = Date.now() + timeoutMs;
    let last: string;
    for (;;) {
      this.assertRunning();
      try {
        const nodes = await this.nodes();
        const complaint = shapeComplaint(nodes, this.shape) ?? (await also?.());
        if (complaint === undefined) return nodes;
        last = complaint;
      } catch (err) {
        last = `error: ${(err as Error).message}`;
      }
      if (Date.now() > deadline) throw new Error(`the cluster did not heal to ${JSON.stringify(this.shape)} within ${timeoutMs} ms: ${last}\nproxy log:\n${this.logTail()}`);
      await sleep(100);
    }
  }

  /** Throw when the proxy has exited on its own. */
  assertRunning(): void {
    if (this.crashes.length > 0) throw new Error(`the proxy crashed: ${this.crashes.join('; ')}\nproxy log:\n${this.logTail()}`);
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch (err) {
      return `(no log: ${(err as Error).message})`;
    }
  }

  private async launch(timeoutMs: number): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [
          ...PROXY_NODE_FLAGS,
          path.join(REPO, 'bin/interface-hash-server.js'),
          '--port', String(this.port),
          '--http-port', '0',
          '--data-dir', this.dataDir,
          '--masters', String(this.o.masters),
          '--replicas', String(this.o.replicas),
          '--log-level', 'info',
          ...(this.o.flags ?? []),
        ],
        { cwd: REPO, stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    this.child = child;
    this.exitExpected = false;
    child.once('exit', (code, signal) => {
      if (!this.exitExpected) this.crashes.push(`the proxy (pid ${child.pid}) exited by itself: code ${code}, signal ${signal}`);
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.assertRunning();
      try {
        const c = await strictClient(this.port, 2_000);
        try {
          if ((await c.ping()) === 'PONG') return;
        } finally {
          c.disconnect();
        }
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`the proxy on port ${this.port} did not answer PING within ${timeoutMs} ms\n${this.logTail()}`);
      await sleep(100);
    }
  }
}

/** What keeps `nodes` from being `shape` with every node up, or undefined when nothing does. */
function shapeComplaint(nodes: InfoNode[], shape: Shape): string | undefined {
  const notUp = nodes.filter((n) => n.state !== 'up');
  if (notUp.length > 0) return `not up: ${notUp.map((n) => `${n.id} ${n.role} ${n.state}`).join(', ')}`;
  const masters = nodes.filter((n) => n.role === 'master');
  if (masters.length !== shape.masters) return `${masters.length} masters (${masters.map((m) => m.id).join(',')}), want ${shape.masters}`;
  for (const m of masters) {
    const replicas = nodes.filter((n) => n.role === 'replica' && n.master === m.id).length;
    if (replicas < shape.replicas) return `${m.id} has ${replicas} replicas up, want ${shape.replicas}`;
  }
  return undefined;
}

function exitedAlready(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (exitedAlready(child)) return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
}
