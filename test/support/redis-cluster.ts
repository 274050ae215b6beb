/**
 * A real Redis Cluster for tests, made the way a user makes one: N masters × R replicas
 * redis-server processes with `cluster-enabled yes`, joined with `redis-cli --cluster create`,
 * resharded with `redis-cli --cluster reshard`, failed over with `CLUSTER FAILOVER`.
 *
 * Everything lives under one temp dir (a dir per node: redis.conf, nodes.conf, redis.log,
 * stdio.log; the output of each redis-cli --cluster command in <root>/cli-N-<command>.log). `close()` SIGKILLs every
 * node, waits for the exits and removes the dir; set IHS_KEEP_CLUSTER_DIR=1 to keep it for a
 * post-mortem. Call `close()` from an `after()` hook so a failing test leaves nothing behind
 * (a process exit hook SIGKILLs whatever is still running as a last resort).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ControlClients, infoFields, type ControlClient } from '../../src/nodes/control-client.js';
import { tailFile } from '../../src/nodes/log-tail.js';
import { PortAllocator } from '../../src/nodes/ports.js';
import { findRedisServer } from '../../src/nodes/redis-binary.js';
import { quoteConfValue } from '../../src/nodes/redis-conf.js';
import { sleep } from '../../src/nodes/wait.js';
import { killRedisServersUnder } from './redis-binary.js';

const HOST = '127.0.0.1';
const COMMAND_TIMEOUT_MS = 2_000;
const SPAWN_ATTEMPTS = 3;
export const CLUSTER_SLOTS = 16384;

/** One port allocator for every cluster this test process starts (client and bus ports alike). */
const ports = new PortAllocator(HOST);

export interface RedisClusterOptions {
  /** Default 3. */
  masters?: number;
  /** Replicas per master. Default 1. */
  replicas?: number;
  /** requirepass and masterauth of every node ('' for none). Default 'cluster-secret'. */
  password?: string;
  /** cluster-node-timeout. Default 2000 ms. */
  nodeTimeoutMs?: number;
  /** Bound on creation: processes up, `--cluster create`, stable. Default 60 s. */
  startTimeoutMs?: number;
}

/** A redis-server process of the cluster. */
export interface ClusterNodeProcess {
  host: string;
  port: number;
  /** cluster-port (the cluster bus). */
  busPort: number;
  /** "host:port", the form CLUSTER NODES, redis-cli and the proxy's --node use. */
  address: string;
  /** Its own dir: redis.conf, nodes.conf, redis.log, stdio.log. */
  dir: string;
  pid: number;
}

/** One line of CLUSTER NODES. */
export interface ClusterNodeInfo {
  id: string;
  /** "host:port" (without the @busport). */
  address: string;
  role: 'master' | 'replica';
  /** The master's node id (replicas only). */
  masterId?: string;
  flags: string[];
  /** Owned slot ranges, inclusive; migrating/importing markers are not included. */
  slots: [number, number][];
  slotCount: number;
  linkState: string;
}

export interface ReshardOptions {
  /** Source master: node id or "host:port". */
  from: string;
  /** Target master: node id or "host:port". */
  to: string;
  /** How many slots to move. */
  slots: number;
  /** --cluster-pipeline (keys per MIGRATE). redis-cli's default is 10. */
  pipeline?: number;
  /** Bound on the whole reshard. Default 120 s. */
  timeoutMs?: number;
}

export interface RedisCluster {
  readonly root: string;
  readonly password: string;
  /** Every node process in start order (the first `masters` were given to `--cluster create` as masters). */
  readonly nodes: readonly ClusterNodeProcess[];
  /** Every node's "host:port". */
  readonly addresses: readonly string[];
  /** The node redis-cli helpers talk to (the first one). */
  readonly seed: string;
  /**
   * Run redis-cli against a node (default: the seed) with the password; resolves with its
   * stdout, trimmed. Options such as -c go first in `args`: cli(['-c', 'SET', 'k', 'v']).
   */
  cli(args: readonly string[], opts?: { node?: string; timeoutMs?: number }): Promise<string>;
  /** CLUSTER NODES as seen by `from` (default: the first node that answers). */
  clusterNodes(from?: string): Promise<ClusterNodeInfo[]>;
  /** address → node id. */
  nodeIds(): Promise<Map<string, string>>;
  /** The masters now, in the order of their first slot. */
  masters(): Promise<ClusterNodeInfo[]>;
  /** The replicas now. */
  replicas(): Promise<ClusterNodeInfo[]>;
  /** The master that owns `slot` now. */
  masterOfSlot(slot: number): Promise<ClusterNodeInfo>;
  /**
   * `redis-cli --cluster reshard <seed> --cluster-from <id> --cluster-to <id> --cluster-slots N
   * --cluster-yes -a PASS`; resolves once redis-cli exited 0 and the cluster is stable again.
   * Safe to run while clients use the cluster.
   */
  reshard(opts: ReshardOptions): Promise<void>;
  /**
   * `CLUSTER FAILOVER` (no FORCE) on the replica at `replicaAddress`; resolves once every node
   * sees it as a master and the cluster is stable. Resolves with the old master's address.
   */
  failoverReplica(replicaAddress: string, timeoutMs?: number): Promise<string>;
  /**
   * Wait until every node reports cluster_state:ok, knows every other node, all agree on
   * roles and slot owners, no slot is migrating, and every replica's link to its master is up.
   */
  waitStable(timeoutMs?: number): Promise<void>;
  /** The last lines of every node's redis.log, for failure messages. */
  logTails(lines?: number): Promise<string>;
  /** SIGKILL every node, wait for the exits, remove the dir (unless IHS_KEEP_CLUSTER_DIR). Idempotent. */
  close(): Promise<void>;
}

interface Node extends ClusterNodeProcess {
  child: ChildProcess;
  exited: string | undefined;
}

/**
 * "127.0.0.1:port" where nothing listens: a port claimed from the allocator (so no node of
 * this process gets it) and never bound. Stands for a node that is down.
 */
export async function unusedAddress(): Promise<string> {
  return `${HOST}:${await ports.pick()}`;
}

/** Clusters not closed yet (root → nodes): SIGKILLed and removed on process exit as a last resort. */
const live = new Map<string, Node[]>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [root, nodes] of live) {
      for (const n of nodes) if (n.exited === undefined) n.child.kill('SIGKILL');
      if (process.env.IHS_KEEP_CLUSTER_DIR) continue;
      try {
        rmSync(root, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // a node still writing; nothing more can be done synchronously
      }
    }
  });
}

export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masterCount = opts.masters ?? 3;
  const replicasPer = opts.replicas ?? 1;
  const password = opts.password ?? 'cluster-secret';
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? 2_000;
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  if (masterCount < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  const binary = await findRedisServer();
  const root = await mkdtemp(path.join(os.tmpdir(), 'ihs-redis-cluster-'));
  const nodes: Node[] = [];
  live.set(root, nodes);
  installExitHook();
  let closing: Promise<void> | undefined;
  let clusterCliRuns = 0;

  const close = (): Promise<void> =>
    (closing ??= (async () => {
      for (const n of nodes) if (n.exited === undefined) n.child.kill('SIGKILL');
      await Promise.all(nodes.map((n) => waitExit(n)));
      await killRedisServersUnder(root); // anything started under root that we lost track of
      for (const n of nodes) {
        ports.release(n.port);
        ports.release(n.busPort);
      }
      live.delete(root);
      if (!process.env.IHS_KEEP_CLUSTER_DIR) await rm(root, { recursive: true, force: true });
    })());

  const byAddress = (address: string): Node => {
    const n = nodes.find((x) => x.address === address);
    if (!n) throw new Error(`no node ${address} in this cluster (${nodes.map((x) => x.address).join(', ')})`);
    return n;
  };

  const control = <T>(address: string, fn: (c: ControlClient) => Promise<T>): Promise<T> => {
    const n = byAddress(address);
    return new ControlClients({ password }).with({ host: n.host, port: n.port }, fn, COMMAND_TIMEOUT_MS);
  };

  const logTails = async (lines = 20): Promise<string> => {
    const parts = await Promise.all(
      nodes.map(async (n) => `--- ${n.address} (${n.dir}/redis.log)${n.exited ? ` ${n.exited}` : ''}\n${await tailFile(path.join(n.dir, 'redis.log'), lines)}`),
    );
    return parts.join('\n');
  };

  /** Run redis-cli with the password; the output of `--cluster` commands is also kept in <root>/cli-N-<command>.log. */
  const runCli = async (args: readonly string[], timeoutMs: number): Promise<string> => {
    const fullArgs = ['--no-auth-warning', ...(password === '' ? [] : ['-a', password]), ...args];
    const { code, signal, stdout, stderr } = await runProcess('redis-cli', fullArgs, timeoutMs);
    let logFile: string | undefined;
    if (args[0] === '--cluster') {
      logFile = path.join(root, `cli-${++clusterCliRuns}-${args[1]}.log`);
      await writeFile(logFile, `$ redis-cli ${args.join(' ')}\n${stdout}\n--- stderr\n${stderr}\n--- exit ${code ?? signal}\n`);
    }
    if (code !== 0) {
      throw new Error(
        `redis-cli ${args.join(' ')} ${signal ? `was killed by ${signal} (timeout ${timeoutMs} ms)` : `exited with ${code}`}` +
          `\n${tailText(stdout, 15)}\n${tailText(stderr, 5)}${logFile ? `\n(full output: ${logFile})` : ''}`,
      );
    }
    return stdout;
  };

  const cli = async (args: readonly string[], o: { node?: string; timeoutMs?: number } = {}): Promise<string> => {
    const n = byAddress(o.node ?? nodes[0].address);
    return (await runCli(['-h', n.host, '-p', String(n.port), ...args], o.timeoutMs ?? 20_000)).trim();
  };

  const clusterNodes = async (from?: string): Promise<ClusterNodeInfo[]> => {
    const candidates = from !== undefined ? [from] : nodes.filter((n) => n.exited === undefined).map((n) => n.address);
    let lastError: Error | undefined;
    for (const address of candidates) {
      try {
        return parseClusterNodes(await control(address, (c) => c.call('CLUSTER', 'NODES') as Promise<string>));
      } catch (err) {
        lastError = err as Error;
      }
    }
    throw lastError ?? new Error('no node left to ask');
  };

  const masters = async (): Promise<ClusterNodeInfo[]> =>
    (await clusterNodes()).filter((n) => n.role === 'master' && n.slotCount > 0).sort((a, b) => a.slots[0][0] - b.slots[0][0]);

  const resolveId = async (idOrAddress: string): Promise<string> => {
    if (!idOrAddress.includes(':')) return idOrAddress;
    const info = (await clusterNodes()).find((n) => n.address === idOrAddress);
    if (!info) throw new Error(`no cluster node at ${idOrAddress}`);
    return info.id;
  };

  /** Why the cluster is not stable yet, or undefined when it is. */
  const unstableReason = async (): Promise<string | undefined> => {
    const views: string[] = [];
    for (const n of nodes) {
      if (n.exited !== undefined) return `node ${n.address} ${n.exited}`;
      const r = await control(n.address, async (c) => ({
        info: parseFields((await c.call('CLUSTER', 'INFO')) as string),
        nodes: (await c.call('CLUSTER', 'NODES')) as string,
        repl: await infoFields(c, 'replication'),
      })).catch((err: Error) => err);
      if (r instanceof Error) return `${n.address}: ${r.message}`;
      if (r.info.get('cluster_state') !== 'ok') return `${n.address}: cluster_state:${r.info.get('cluster_state')}`;
      if (r.info.get('cluster_known_nodes') !== String(nodes.length)) return `${n.address} knows ${r.info.get('cluster_known_nodes')} of ${nodes.length} nodes`;
      if (r.info.get('cluster_slots_ok') !== String(CLUSTER_SLOTS)) return `${n.address}: cluster_slots_ok:${r.info.get('cluster_slots_ok')}`;
      if (/\[\d+-[<>]-/.test(r.nodes)) return `${n.address}: a slot is still migrating/importing`;
      const parsed = parseClusterNodes(r.nodes);
      const bad = parsed.find((x) => x.linkState !== 'connected' || x.flags.some((f) => ['fail', 'fail?', 'handshake', 'noaddr'].includes(f)));
      if (bad) return `${n.address} sees ${bad.address} as ${bad.flags.join(',')} ${bad.linkState}`;
      const me = parsed.find((x) => x.flags.includes('myself'));
      if (me?.role === 'replica' && r.repl.get('master_link_status') !== 'up') return `replica ${n.address}: master_link_status:${r.repl.get('master_link_status')}`;
      views.push(describeView(parsed));
    }
    const differing = views.findIndex((v) => v !== views[0]);
    if (differing > 0) return `${nodes[0].address} and ${nodes[differing].address} disagree:\n${views[0]}\n---\n${views[differing]}`;
    return undefined;
  };

  const waitStable = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const why = await unstableReason();
      if (why === undefined) return;
      if (Date.now() >= deadline) throw new Error(`cluster not stable after ${timeoutMs} ms: ${why}\n${await logTails()}`);
      await sleep(100);
    }
  };

  const reshard = async (o: ReshardOptions): Promise<void> => {
    const from = await resolveId(o.from);
    const to = await resolveId(o.to);
    const args = ['--cluster', 'reshard', nodes[0].address, '--cluster-from', from, '--cluster-to', to, '--cluster-slots', String(o.slots), '--cluster-yes'];
    if (o.pipeline !== undefined) args.push('--cluster-pipeline', String(o.pipeline));
    const out = await runCli(args, o.timeoutMs ?? 120_000);
    // redis-cli reports some failures on stdout with exit code 0.
    const error = /^\[ERR\].*$/m.exec(out);
    if (error) throw new Error(`redis-cli --cluster reshard: ${error[0]}\n${tailText(out, 15)}`);
    await waitStable();
  };

  const failoverReplica = async (replicaAddress: string, timeoutMs = 30_000): Promise<string> => {
    const all = await clusterNodes(replicaAddress);
    const me = all.find((x) => x.flags.includes('myself'));
    if (me?.role !== 'replica') throw new Error(`${replicaAddress} is not a replica (${me?.flags.join(',')})`);
    const oldMaster = all.find((x) => x.id === me.masterId);
    if (!oldMaster) throw new Error(`${replicaAddress}: its master ${me.masterId} is not in CLUSTER NODES`);
    const reply = await control(replicaAddress, (c) => c.call('CLUSTER', 'FAILOVER') as Promise<string>);
    if (reply !== 'OK') throw new Error(`CLUSTER FAILOVER on ${replicaAddress}: ${reply}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const views = await Promise.all(nodes.map((n) => clusterNodes(n.address).catch(() => undefined)));
      const promoted = views.every((v) => {
        const promotedNode = v?.find((x) => x.id === me.id);
        const demoted = v?.find((x) => x.id === oldMaster.id);
        return promotedNode?.role === 'master' && demoted?.role === 'replica' && demoted.masterId === me.id;
      });
      if (promoted) break;
      if (Date.now() >= deadline) throw new Error(`${replicaAddress} did not become master within ${timeoutMs} ms\n${await logTails()}`);
      await sleep(50);
    }
    await waitStable(Math.max(1_000, deadline - Date.now()));
    return oldMaster.address;
  };

  try {
    const total = masterCount * (1 + replicasPer);
    const started = await Promise.allSettled(
      Array.from({ length: total }, (_, i) => startNode(binary, path.join(root, `node-${i}`), password, nodeTimeoutMs, startTimeoutMs)),
    );
    for (const r of started) if (r.status === 'fulfilled') nodes.push(r.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    await runCli(
      ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', String(replicasPer), '--cluster-yes'],
      startTimeoutMs,
    );
    await waitStable(startTimeoutMs);
  } catch (err) {
    await close();
    throw err;
  }

  return {
    root,
    password,
    nodes,
    addresses: nodes.map((n) => n.address),
    seed: nodes[0].address,
    cli,
    clusterNodes,
    async nodeIds() {
      return new Map((await clusterNodes()).map((n) => [n.address, n.id]));
    },
    masters,
    async replicas() {
      return (await clusterNodes()).filter((n) => n.role === 'replica');
    },
    async masterOfSlot(slot: number) {
      const owner = (await masters()).find((m) => m.slots.some(([lo, hi]) => slot >= lo && slot <= hi));
      if (!owner) throw new Error(`no master owns slot ${slot}`);
      return owner;
    },
    reshard,
    failoverReplica,
    waitStable,
    logTails,
    close,
  };
}

/** Start one cluster-enabled redis-server in `dir`; retries with new ports when a picked one was taken meanwhile. */
async function startNode(binary: string, dir: string, password: string, nodeTimeoutMs: number, startTimeoutMs: number): Promise<Node> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let attempt = 1; ; attempt++) {
    const port = await ports.pick();
    const busPort = await ports.pick();
    const conf = [
      `port ${port}`,
      `cluster-port ${busPort}`,
      `bind ${HOST}`,
      'daemonize no',
      `dir ${quoteConfValue(dir)}`,
      `logfile ${quoteConfValue(path.join(dir, 'redis.log'))}`,
      'cluster-enabled yes',
      'cluster-config-file nodes.conf',
      `cluster-node-timeout ${nodeTimeoutMs}`,
      'appendonly no',
      'save ""',
      'repl-diskless-sync-delay 0',
      ...(password === '' ? [] : [`requirepass ${quoteConfValue(password)}`, `masterauth ${quoteConfValue(password)}`]),
    ];
    const confPath = path.join(dir, 'redis.conf');
    await writeFile(confPath, `${conf.join('\n')}\n`, { mode: 0o600 });
    const out = await open(path.join(dir, 'stdio.log'), 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(binary, [confPath], { cwd: dir, stdio: ['ignore', out.fd, out.fd] });
    } finally {
      await out.close();
    }
    const node: Node = { host: HOST, port, busPort, address: `${HOST}:${port}`, dir, pid: child.pid ?? -1, child, exited: undefined };
    child.once('exit', (code, signal) => (node.exited ??= signal ? `was killed by ${signal}` : `exited with code ${code}`));
    child.once('error', (err) => (node.exited ??= `could not be run (${err.message})`));
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (node.exited !== undefined) break;
      const ready = await new ControlClients({ password }).with({ host: HOST, port }, (c) => c.call('PING'), COMMAND_TIMEOUT_MS).then(
        () => true,
        () => false,
      );
      if (ready && node.exited === undefined) return node;
      if (Date.now() >= deadline) {
        child.kill('SIGKILL');
        await waitExit(node);
        break;
      }
      await sleep(50);
    }
    ports.release(port);
    ports.release(busPort);
    const log = await tailFile(path.join(dir, 'redis.log'));
    if (attempt < SPAWN_ATTEMPTS && /Address already in use/i.test(log)) continue;
    throw new Error(`redis-server in ${dir} (port ${port}, bus ${busPort}) ${node.exited ?? 'did not answer PING in time'}:\n${log}`);
  }
}

function waitExit(n: Node): Promise<void> {
  if (n.exited !== undefined || n.child.exitCode !== null || n.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => n.child.once('exit', () => resolve()));
}

function runProcess(
  cmd: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}

function tailText(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** "field:value" lines (CLUSTER INFO). */
function parseFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** CLUSTER NODES text → one entry per line. */
export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  const out: ClusterNodeInfo[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const [id, addr, flagText, master, , , , linkState, ...slotFields] = line.trim().split(' ');
    const flags = flagText.split(',');
    const slots: [number, number][] = [];
    for (const s of slotFields) {
      if (s.startsWith('[')) continue; // [slot->-id] / [slot-<-id]: migrating / importing
      const [lo, hi] = s.split('-').map(Number);
      slots.push([lo, hi ?? lo]);
    }
    out.push({
      id,
      address: addr.split('@')[0],
      role: flags.includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? undefined : master,
      flags,
      slots,
      slotCount: slots.reduce((sum, [lo, hi]) => sum + hi - lo + 1, 0),
      linkState,
    });
  }
  return out;
}

/** Roles and slot owners, independent of who looks (for the agreement check). */
function describeView(nodes: ClusterNodeInfo[]): string {
  return nodes
    .map((n) => `${n.id} ${n.address} ${n.role} ${n.masterId ?? '-'} ${n.slots.map(([lo, hi]) => `${lo}-${hi}`).join(',')}`)
    .sort()
    .join('\n');
}
