/**
 * ProcessProvider: local redis-server processes, the embedded default. Each is a Redis
 * Cluster node (cluster-enabled, its own bus port); forming the cluster is the cluster
 * layer's job, not the provider's.
 *
 * Each node runs detached (own session/process group, stdio to a file in its node dir) so
 * Ctrl-C on the proxy's terminal doesn't reach it and a proxy killed with SIGKILL leaves it
 * running, to be adopted by the next proxy on the same data dir. Configuration is the
 * redis.conf (mode 0600) in the node dir, generated at its first start and used as it is
 * afterwards (see redis-conf.ts); the password never appears on a command line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, open, realpath, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../log.js';
import { ControlClients, configGet, formatAddress, infoFields, type NodeAddress, type NodeProbe } from '../control-client.js';
import { tailFile } from '../log-tail.js';
import { readOptional, realpathOrSelf } from '../files.js';
import { hasProcFs, isPidAlive, processCommandName, processCwd, signalPid, waitForPidExit } from './pid.js';
import { PortAllocator } from '../ports.js';
import { NodeStartError, type NodeProvider, type NodeSpec, type PreviousPlacement, type ProcessProbe, type RunningNode } from '../provider.js';
import { probeRedisPid } from './process-probe.js';
import type { NodeTlsFiles } from '../node-tls.js';
import { checkRedisServerVersion, findRedisServer } from '../redis-binary.js';
import { CONF_FILE, isClusterConf, PID_FILE, portFromConf, REDIS_LOG_FILE, renderRedisConf, STDIO_LOG_FILE, withPorts } from '../redis-conf.js';
import { sleep } from '../wait.js';

const HOST = '127.0.0.1';
const POLL_MS = 50;
const SPAWN_ATTEMPTS = 3;
/** How often the pids of adopted nodes (not our children) are checked. */
const ADOPTED_POLL_MS = 100;

export interface ProcessProviderOptions {
  log: Logger;
  /** redis-server to run: a path, or a name looked up on PATH. Default: redis-server on PATH. */
  redisServerPath?: string;
  /** Bound on a node becoming ready (PING answers, not LOADING). Default 30 s. */
  startTimeoutMs?: number;
  /**
   * Bound on a graceful stop (SIGTERM) before SIGKILL. Default 3 s: a node flushes its AOF
   * and exits in milliseconds, and one that does not (busy in a script, which Redis lets
   * finish first) would otherwise hold up the proxy's stop.
   */
  stopTimeoutMs?: number;
  /** Bound on each control-plane command. Default 2 s. */
  commandTimeoutMs?: number;
  /** The proxy's control-plane routes (each node's password is its spec's). Default: nodes dialled as announced. */
  clients?: ControlClients;
  /** The nodes' cluster-node-timeout. Default 5 s. */
  clusterNodeTimeoutMs?: number;
  /** Nodes serve TLS only with these files (--node-tls); their existing configs follow. Default: plain TCP. */
  tls?: NodeTlsFiles;
}

export interface RedisServerBinary {
  /** Absolute path of the redis-server that is run. */
  path: string;
  /** Its version, e.g. "7.0.15". */
  version: string;
}

/** Defined with the provider interface (every provider's start rejects with it); re-exported for existing importers. */
export { NodeStartError };

interface OwnedNode {
  id: string;
  port: number;
  busPort: number;
  pid: number;
  nodeDir: string;
  /** Set when this provider spawned the process (absent when adopted). */
  child?: ChildProcess;
  stopping: boolean;
  /** Its death was logged already (a node stays listed until restarted or stopped). */
  exitReported?: boolean;
}

export interface SpawnedProcess {
  child: ChildProcess;
  /** How it ended, once it has. */
  exited: string | undefined;
}

type SpawnOutcome =
  | { kind: 'ready'; pid: number }
  | { kind: 'exited'; detail: string }
  | { kind: 'timeout'; lastProbe: NodeProbe | undefined };

export class ProcessProvider implements NodeProvider {
  readonly kind = 'process' as const;
  onUnexpectedExit?: (id: string) => void;
  private readonly nodes = new Map<string, OwnedNode>();
  private adoptedWatch: NodeJS.Timeout | null = null;
  private readonly ports = new PortAllocator(HOST);
  private readonly log: Logger;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly clients: ControlClients;
  private readonly clusterNodeTimeoutMs: number;
  private readonly tls: NodeTlsFiles | undefined;

  private readonly redisServerPath: string | undefined;
  private binaryCheck: Promise<RedisServerBinary> | undefined;

  /** Construct and check the redis-server binary now (one-line error when missing or too old). */
  static async create(opts: ProcessProviderOptions): Promise<ProcessProvider> {
    const provider = new ProcessProvider(opts);
    await provider.checkBinary();
    return provider;
  }

  constructor(opts: ProcessProviderOptions) {
    this.log = opts.log;
    this.redisServerPath = opts.redisServerPath;
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 3_000;
    this.clients = (opts.clients ?? new ControlClients()).within(opts.commandTimeoutMs ?? 2_000);
    this.clusterNodeTimeoutMs = opts.clusterNodeTimeoutMs ?? 5_000;
    this.tls = opts.tls;
  }

  /**
   * Resolve the redis-server binary and check its version (once; start() does it too).
   * Rejects with a one-line error when it is missing or too old.
   */
  checkBinary(): Promise<RedisServerBinary> {
    this.binaryCheck ??= (async () => {
      const path = await findRedisServer(this.redisServerPath);
      const version = await checkRedisServerVersion(path);
      this.log.debug({ redisServer: path, version }, 'redis-server found');
      return { path, version };
    })();
    return this.binaryCheck;
  }

  async start(spec: NodeSpec, previous?: PreviousPlacement): Promise<RunningNode> {
    const binary = await this.checkBinary();
    const owned = this.nodes.get(spec.id);
    if (owned) {
      if (isPidAlive(owned.pid)) throw new NodeStartError(`node ${spec.id} is already running (pid ${owned.pid}, port ${owned.port})`);
      this.forget(owned); // it died; start it again
    }
    const nodeDir = path.resolve(spec.dataDir);
    await mkdir(nodeDir, { recursive: true, mode: 0o700 });
    const nodeDirReal = await realpath(nodeDir);

    const conf = await readOptional(path.join(nodeDir, CONF_FILE));
    const known = (...ports: (number | undefined)[]): number[] =>
      [...new Set(ports)].filter((p): p is number => p !== undefined && p > 0 && p < 65536);
    const knownPorts = known(previous?.port, spec.port, conf === undefined ? undefined : portFromConf(conf));
    const knownBusPorts = known(previous?.busPort, spec.busPort, conf === undefined ? undefined : portFromConf(conf, 'cluster-port'));
    for (const port of knownPorts) {
      const adopted = await this.tryAdopt(spec, nodeDir, nodeDirReal, port);
      if (adopted) return adopted;
    }
    await this.refuseIfAlreadyRunning(spec.id, nodeDir, nodeDirReal, knownPorts);
    return this.spawnNode(binary.path, spec, nodeDir, knownPorts, knownBusPorts);
  }

  async stop(id: string, graceful: boolean): Promise<void> {
    const node = this.nodes.get(id);
    if (!node) return;
    node.stopping = true;
    if (!(await this.isStillOurRedis(node))) {
      // After an exit already logged ('node exited unexpectedly'), this is no news.
      this.log[node.exitReported === true ? 'debug' : 'warn']({ node: id, nodePid: node.pid }, 'node process already gone (or pid reused); nothing to stop');
      this.forget(node);
      return;
    }
    let how = 'SIGKILL';
    if (graceful && signalPid(node.pid, 'SIGTERM')) {
      how = 'SIGTERM';
      if (!(await waitForPidExit(node.pid, this.stopTimeoutMs))) {
        this.log.warn({ node: id, nodePid: node.pid, timeoutMs: this.stopTimeoutMs }, 'node did not stop on SIGTERM in time; sending SIGKILL');
        how = 'SIGKILL after SIGTERM timeout';
        signalPid(node.pid, 'SIGKILL');
      }
    } else {
      signalPid(node.pid, 'SIGKILL');
    }
    if (!(await waitForPidExit(node.pid, 5_000))) {
      throw new Error(`node ${id} (pid ${node.pid}) did not exit after SIGKILL`);
    }
    this.forget(node);
    this.log.info({ node: id, nodePid: node.pid, port: node.port, how }, 'node stopped');
  }

  async stopAll(): Promise<void> {
    const results = await Promise.allSettled([...this.nodes.keys()].map((id) => this.stop(id, true)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
    if (failures.length > 0) throw new AggregateError(failures, failures.map((e) => e.message).join('; '));
  }

  async killAll(): Promise<void> {
    const nodes = [...this.nodes.values()];
    await Promise.all(
      nodes.map(async (node) => {
        node.stopping = true;
        if (!(await this.isStillOurRedis(node))) return;
        signalPid(node.pid, 'SIGKILL');
        if (await waitForPidExit(node.pid, 2_000)) this.forget(node);
        this.log.warn({ node: node.id, nodePid: node.pid, port: node.port }, 'node killed (SIGKILL)');
      }),
    );
  }

  /** /proc/<pid>/stat of the node's redis-server: stopped (SIGSTOP), exited, or running with its CPU time. */
  async probe(id: string): Promise<ProcessProbe> {
    const node = this.nodes.get(id);
    if (node === undefined) return { kind: 'unknown', reason: `node ${id} is not run by this provider now` };
    return probeRedisPid(node.pid);
  }

  /** Pid of a node this provider owns (started or adopted), if any. */
  pidOf(id: string): number | undefined {
    return this.nodes.get(id)?.pid;
  }

  // --- adoption -------------------------------------------------------------------------

  private async tryAdopt(spec: NodeSpec, nodeDir: string, nodeDirReal: string, port: number): Promise<RunningNode | undefined> {
    const addr = { host: HOST, port };
    const probe = await this.clients.as(spec.password).probe(addr);
    if (probe.state !== 'ready' && probe.state !== 'loading') {
      this.log.debug({ node: spec.id, port, probe }, 'no adoptable node on port');
      return undefined;
    }
    const { dir, pid, busPort, clusterEnabled } = await this.clients.as(spec.password).with(addr, async (c) => ({
      dir: await configGet(c, 'dir'),
      pid: Number((await infoFields(c, 'server')).get('process_id')),
      busPort: Number(await configGet(c, 'cluster-port')),
      clusterEnabled: (await infoFields(c, 'cluster')).get('cluster_enabled') === '1',
    }));
    if (dir === undefined || (await realpathOrSelf(dir)) !== nodeDirReal) {
      this.log.warn({ node: spec.id, port, theirDir: dir, nodeDir }, 'port is served by another redis (different dir); not adopting it');
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 0) throw new NodeStartError(`node ${spec.id}: redis on ${formatAddress(addr)} reported no process_id`);
    if (!clusterEnabled) {
      throw new NodeStartError(
        `node ${spec.id}: the redis-server running in ${nodeDir} (pid ${pid}, port ${port}) is not a cluster node; stop it (kill ${pid}) and start the proxy again`,
      );
    }
    // cluster-port 0 means "port + 10000"
    const bus = busPort > 0 ? busPort : port + 10000;
    const ready = await this.waitReady(addr, spec.password, Date.now() + this.startTimeoutMs);
    if (!ready) throw await this.startError(spec.id, nodeDir, `adopted redis on ${formatAddress(addr)} (pid ${pid}) still loading after ${this.startTimeoutMs} ms`);
    this.ports.claim(port);
    this.ports.claim(bus);
    this.nodes.set(spec.id, { id: spec.id, port, busPort: bus, pid, nodeDir, stopping: false });
    this.watchAdopted();
    this.log.info({ node: spec.id, nodePid: pid, port, busPort: bus, nodeDir }, 'node adopted');
    return { id: spec.id, host: HOST, port, busPort: bus, handle: String(pid) };
  }

  /**
   * Never start a second redis-server on a node dir: if the dir's pid file names a live
   * redis-server working in this dir that we could not adopt (no answer with our password on
   * a known port), stop with a clear error instead.
   */
  private async refuseIfAlreadyRunning(id: string, nodeDir: string, nodeDirReal: string, ports: number[]): Promise<void> {
    const pid = await this.readPidFile(nodeDir);
    if (pid === undefined || !isPidAlive(pid)) return;
    if (hasProcFs()) {
      const name = await processCommandName(pid);
      const cwd = await processCwd(pid);
      if (!name?.startsWith('redis') || cwd === undefined || (await realpathOrSelf(cwd)) !== nodeDirReal) return;
    }
    throw new NodeStartError(
      `node ${id}: a redis-server (pid ${pid}) is already running in ${nodeDir} but does not answer with the cluster password on ` +
        `${ports.length > 0 ? `port ${ports.join('/')}` : 'a known port'}; stop it (kill ${pid}) or, if it is not redis, remove ${path.join(nodeDir, PID_FILE)}`,
    );
  }

  // --- spawning -------------------------------------------------------------------------

  private async spawnNode(binary: string, spec: NodeSpec, nodeDir: string, knownPorts: number[], knownBusPorts: number[]): Promise<RunningNode> {
    for (let attempt = 1; ; attempt++) {
      const main = await this.choosePort(spec.id, 'port', attempt === 1 ? knownPorts : []);
      const bus = await this.choosePort(spec.id, 'cluster-port', attempt === 1 ? knownBusPorts : []);
      const port = main.port;
      const busPort = bus.port;
      const picked = main.picked || bus.picked;
      const confPath = path.join(nodeDir, CONF_FILE);
      const existing = await readOptional(confPath);
      await writePrivateFile(
        confPath,
        existing !== undefined && isClusterConf(existing)
          ? withPorts(existing, port, busPort, this.tls)
          : renderRedisConf({ nodeId: spec.id, port, busPort, nodeDir, password: spec.password, clusterNodeTimeoutMs: this.clusterNodeTimeoutMs, tls: this.tls }),
      );
      const spawned = await spawnRedisDetached(binary, confPath, nodeDir);
      const { child } = spawned;
      const outcome = await this.waitSpawned(spawned, { host: HOST, port }, spec.password);
      if (outcome.kind === 'ready') {
        this.nodes.set(spec.id, { id: spec.id, port, busPort, pid: outcome.pid, nodeDir, child, stopping: false });
        this.watchExit(spec.id, child);
        this.log.info({ node: spec.id, nodePid: outcome.pid, port, busPort, nodeDir }, 'node started');
        return { id: spec.id, host: HOST, port, busPort, handle: String(outcome.pid) };
      }
      this.ports.release(port);
      this.ports.release(busPort);
      const logTail = await tailFile(path.join(nodeDir, REDIS_LOG_FILE));
      if (outcome.kind === 'exited' && picked && attempt < SPAWN_ATTEMPTS && /Address already in use/i.test(logTail)) {
        this.log.warn({ node: spec.id, port }, 'picked port was taken before redis-server bound it; retrying with another');
        continue;
      }
      const why =
        outcome.kind === 'exited'
          ? `redis-server ${outcome.detail} before answering PING on ${HOST}:${port}`
          : `redis-server did not become ready on ${HOST}:${port} within ${this.startTimeoutMs} ms` +
            (outcome.lastProbe ? ` (last probe: ${describeProbe(outcome.lastProbe)}); killed it` : '; killed it');
      throw await this.startError(spec.id, nodeDir, why);
    }
  }

  private async choosePort(id: string, what: 'port' | 'cluster-port', knownPorts: number[]): Promise<{ port: number; picked: boolean }> {
    for (const port of knownPorts) {
      if (await this.ports.isFree(port)) {
        this.ports.claim(port);
        return { port, picked: false };
      }
    }
    const port = await this.ports.pick();
    if (knownPorts.length > 0) this.log.warn({ node: id, [what]: port, persisted: knownPorts[0] }, `persisted ${what} is in use; using another`);
    return { port, picked: true };
  }

  /** Wait until the spawned process answers PING (not LOADING), exits, or the start timeout passes. */
  private async waitSpawned(spawned: SpawnedProcess, addr: NodeAddress, password: string): Promise<SpawnOutcome> {
    const { child } = spawned;
    const deadline = Date.now() + this.startTimeoutMs;
    let lastProbe: NodeProbe | undefined;
    for (;;) {
      if (spawned.exited !== undefined) return { kind: 'exited', detail: spawned.exited };
      lastProbe = await this.clients.as(password).probe(addr);
      if (lastProbe.state === 'ready' && spawned.exited === undefined && child.pid !== undefined) return { kind: 'ready', pid: child.pid };
      if (Date.now() >= deadline) {
        if (child.pid !== undefined) {
          signalPid(child.pid, 'SIGKILL');
          await waitForPidExit(child.pid, 5_000);
        }
        return { kind: 'timeout', lastProbe };
      }
      await sleep(POLL_MS);
    }
  }

  private watchExit(id: string, child: ChildProcess): void {
    child.once('exit', (code, signal) => {
      const node = this.nodes.get(id);
      if (!node || node.child !== child || node.stopping) return;
      node.exitReported = true;
      this.log.warn({ node: id, nodePid: node.pid, code, signal }, 'node exited unexpectedly');
      this.onUnexpectedExit?.(id);
    });
  }

  private async waitReady(addr: NodeAddress, password: string, deadline: number): Promise<boolean> {
    for (;;) {
      const probe = await this.clients.as(password).probe(addr);
      if (probe.state === 'ready') return true;
      if (Date.now() >= deadline) return false;
      await sleep(POLL_MS);
    }
  }

  // --- bookkeeping ----------------------------------------------------------------------

  /**
   * An adopted node is not our child: no 'exit' event tells us it died. Its pid is checked
   * every ADOPTED_POLL_MS instead, so its death is seen about as soon as a child's (the
   * health monitor alone would take --node-timeout).
   */
  private watchAdopted(): void {
    if (this.adoptedWatch !== null) return;
    this.adoptedWatch = setInterval(() => {
      let adopted = 0;
      for (const node of this.nodes.values()) {
        if (node.child !== undefined) continue;
        adopted++;
        if (node.stopping || node.exitReported || isPidAlive(node.pid)) continue;
        node.exitReported = true;
        this.log.warn({ node: node.id, nodePid: node.pid }, 'adopted node exited unexpectedly');
        this.onUnexpectedExit?.(node.id);
      }
      if (adopted === 0 && this.adoptedWatch !== null) {
        clearInterval(this.adoptedWatch);
        this.adoptedWatch = null;
      }
    }, ADOPTED_POLL_MS);
    this.adoptedWatch.unref();
  }

  private forget(node: OwnedNode): void {
    this.nodes.delete(node.id);
    this.ports.release(node.port);
    this.ports.release(node.busPort);
  }

  /** Guard against pid reuse before signalling: on Linux the pid must still be a redis-server. */
  private async isStillOurRedis(node: OwnedNode): Promise<boolean> {
    if (!isPidAlive(node.pid)) return false;
    if (!hasProcFs()) return true;
    return (await processCommandName(node.pid))?.startsWith('redis') === true;
  }

  private async readPidFile(nodeDir: string): Promise<number | undefined> {
    const text = await readOptional(path.join(nodeDir, PID_FILE));
    const pid = Number(text?.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  private async startError(id: string, nodeDir: string, why: string): Promise<NodeStartError> {
    const redisLog = await tailFile(path.join(nodeDir, REDIS_LOG_FILE));
    const stdioLog = await tailFile(path.join(nodeDir, STDIO_LOG_FILE));
    const parts = [`node ${id}: ${why}`];
    if (redisLog !== '') parts.push(`last lines of ${path.join(nodeDir, REDIS_LOG_FILE)}:\n${redisLog}`);
    if (stdioLog !== '') parts.push(`last lines of ${path.join(nodeDir, STDIO_LOG_FILE)}:\n${stdioLog}`);
    return new NodeStartError(parts.join('\n'));
  }
}

/**
 * Spawn redis-server on `confPath`, detached (its own session: a signal to the proxy's
 * terminal does not reach it, and it outlives a killed proxy), stdout/stderr appended to
 * dir/stdio.log. Its exit is recorded from the first instant (it may die before we look).
 */
export async function spawnRedisDetached(binary: string, confPath: string, dir: string): Promise<SpawnedProcess> {
  const out = await open(path.join(dir, STDIO_LOG_FILE), 'a', 0o600);
  try {
    const child = spawn(binary, [confPath], { cwd: dir, detached: true, stdio: ['ignore', out.fd, out.fd] });
    const spawned: SpawnedProcess = { child, exited: undefined };
    child.once('exit', (code, signal) => {
      spawned.exited ??= signal ? `was killed by ${signal}` : `exited with code ${code}`;
    });
    child.once('error', (err) => {
      spawned.exited ??= `could not be run (${err.message})`;
    });
    child.unref();
    return spawned;
  } finally {
    await out.close();
  }
}

function describeProbe(probe: NodeProbe): string {
  return 'reason' in probe ? `${probe.state}: ${probe.reason}` : probe.state;
}

/** Write a file readable by the owner only (it may hold a password); replaces atomically. */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(tmp, 0o600); // in case a stale tmp file existed with another mode
  await rename(tmp, file);
}
