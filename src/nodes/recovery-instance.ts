/**
 * Recovery instances: a standalone redis-server (cluster support off, loopback only, the
 * nodes' password, AOF on) run on a *copy* of a dead node's AOF, so that its keys can be
 * read back and MIGRATEd to their new owners (failover/shard-recovery.ts). The copy is
 * changed as keys leave it (MIGRATE deletes them, and the AOF records that), so a recovery
 * resumed after a crash sees only what is left.
 *
 * Behind a small interface: each provider runs them its own way — local processes here
 * (the process provider's redis-server binary), a container for the Docker provider.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { ControlClients, configGet, formatAddress, infoFields, type NodeAddress } from './control-client.js';
import { tailFile } from './log-tail.js';
import { isPidAlive, processCommandName, processCwd, signalPid, waitForPidExit } from './process/pid.js';
import { PortAllocator } from './ports.js';
import { readOptional, realpathOrSelf } from './files.js';
import { spawnRedisDetached, writePrivateFile, type RedisServerBinary } from './process/process-provider.js';
import type { NodeTlsFiles } from './node-tls.js';
import { baseConfLines, PID_FILE, portFromConf, REDIS_LOG_FILE } from './redis-conf.js';
import { sleep } from './wait.js';

export const RECOVERY_CONF_FILE = 'recovery.conf';
const HOST = '127.0.0.1';
const POLL_MS = 50;

/** A running recovery instance. */
export interface RecoveryInstance {
  host: string;
  port: number;
  /** Provider-specific handle (a pid here). */
  handle: string;
}

/** redis-server could not load the data (it exited): the message carries the tail of its log. */
export class RecoveryLoadError extends Error {
  override readonly name = 'RecoveryLoadError';
}

export interface RecoveryInstanceRunner {
  /**
   * Run a standalone redis-server on the AOF in `dir`/appendonlydir, or adopt the one that
   * already runs there (left by a proxy killed mid-recovery). Resolves once the data is
   * loaded; rejects with a RecoveryLoadError when redis-server cannot load it.
   */
  start(dir: string, password: string): Promise<RecoveryInstance>;
  /** Stop it, gracefully (its AOF then keeps exactly what was not migrated). No-op when it is gone. */
  stop(dir: string, instance: RecoveryInstance): Promise<void>;
}

export interface ProcessRecoveryInstancesOptions {
  /** The redis-server the process provider runs (ProcessProvider.checkBinary). */
  binary: () => Promise<RedisServerBinary>;
  log: Logger;
  /** Bound on loading the AOF. Default 120 s (a large AOF takes a while). */
  startTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** The proxy's control-plane routes (the password is the one start() is given). Default: instances dialled as announced. */
  clients?: ControlClients;
  /** The nodes serve TLS only (--node-tls): so does the instance. */
  tls?: NodeTlsFiles;
}

/** The process provider's recovery instances: local redis-server processes. */
export class ProcessRecoveryInstances implements RecoveryInstanceRunner {
  private readonly ports = new PortAllocator(HOST);
  private readonly startTimeoutMs: number;
  private readonly clients: ControlClients;

  constructor(private readonly o: ProcessRecoveryInstancesOptions) {
    this.startTimeoutMs = o.startTimeoutMs ?? 120_000;
    this.clients = (o.clients ?? new ControlClients()).within(o.commandTimeoutMs ?? 2_000);
  }

  async start(dir: string, password: string): Promise<RecoveryInstance> {
    const binary = (await this.o.binary()).path;
    const dirReal = await realpath(dir);
    const confPath = path.join(dir, RECOVERY_CONF_FILE);
    const conf = await readOptional(confPath);
    const known = conf === undefined ? undefined : portFromConf(conf);
    if (known !== undefined) {
      const adopted = await this.tryAdopt({ host: HOST, port: known }, dirReal, password);
      if (adopted !== undefined) return adopted;
    }
    await this.killUnreachable(dir, dirReal);
    const port = await this.ports.pick();
    await writePrivateFile(confPath, renderRecoveryConf(dirReal, port, password, undefined, this.o.tls));
    const spawned = await spawnRedisDetached(binary, confPath, dir);
    const addr = { host: HOST, port };
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (spawned.exited !== undefined) {
        this.ports.release(port);
        throw new RecoveryLoadError(`recovery redis-server in ${dir} ${spawned.exited} before answering: ${await tailFile(path.join(dir, REDIS_LOG_FILE))}`);
      }
      const probe = await this.clients.as(password).probe(addr);
      if (probe.state === 'ready' && spawned.exited === undefined && spawned.child.pid !== undefined) {
        this.o.log.info({ dir, port, nodePid: spawned.child.pid }, 'recovery instance started');
        return { host: HOST, port, handle: String(spawned.child.pid) };
      }
      if (Date.now() > deadline) {
        if (spawned.child.pid !== undefined) {
          signalPid(spawned.child.pid, 'SIGKILL');
          await waitForPidExit(spawned.child.pid, 5_000);
        }
        this.ports.release(port);
        throw new Error(`recovery redis-server in ${dir} did not finish loading within ${this.startTimeoutMs} ms; killed it`);
      }
      await sleep(POLL_MS);
    }
  }

  async stop(dir: string, instance: RecoveryInstance): Promise<void> {
    const pid = Number(instance.handle);
    this.ports.release(instance.port);
    if (!(await isRedisIn(pid, await realpathOrSelf(dir)))) return;
    signalPid(pid, 'SIGTERM'); // SIGTERM: the AOF is flushed
    if (!(await waitForPidExit(pid, 15_000))) {
      signalPid(pid, 'SIGKILL');
      await waitForPidExit(pid, 5_000);
    }
    this.o.log.info({ dir, nodePid: pid }, 'recovery instance stopped');
  }

  /** The instance already serving this dir on `addr`, answering with our password. */
  private async tryAdopt(addr: NodeAddress, dirReal: string, password: string): Promise<RecoveryInstance | undefined> {
    const clients = this.clients.as(password);
    const probe = await clients.probe(addr);
    if (probe.state !== 'ready' && probe.state !== 'loading') return undefined;
    const { dir, pid } = await clients.with(addr, async (c) => ({
      dir: await configGet(c, 'dir'),
      pid: Number((await infoFields(c, 'server')).get('process_id')),
    }));
    if (dir === undefined || (await realpathOrSelf(dir)) !== dirReal || !Number.isInteger(pid) || pid <= 0) return undefined;
    const deadline = Date.now() + this.startTimeoutMs;
    while ((await clients.probe(addr)).state !== 'ready') {
      if (Date.now() > deadline) throw new Error(`recovery instance on ${formatAddress(addr)} still loading after ${this.startTimeoutMs} ms`);
      await sleep(POLL_MS);
    }
    this.ports.claim(addr.port);
    this.o.log.info({ dir, port: addr.port, nodePid: pid }, 'recovery instance adopted');
    return { host: addr.host, port: addr.port, handle: String(pid) };
  }

  /** A redis-server still working in this dir that we could not adopt: never two on one AOF. */
  private async killUnreachable(dir: string, dirReal: string): Promise<void> {
    const pid = Number((await readOptional(path.join(dir, PID_FILE)))?.trim());
    if (!(await isRedisIn(pid, dirReal))) return;
    this.o.log.warn({ dir, nodePid: pid }, 'a recovery redis-server we cannot reach runs in the dir; killing it');
    signalPid(pid, 'SIGKILL');
    await waitForPidExit(pid, 5_000);
  }
}

/** The pid is a live redis-server working in `dirReal` (guards against pid reuse). */
async function isRedisIn(pid: number, dirReal: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0 || !isPidAlive(pid)) return false;
  const name = await processCommandName(pid);
  const cwd = await processCwd(pid);
  return name?.startsWith('redis') === true && cwd !== undefined && (await realpathOrSelf(cwd)) === dirReal;
}

/** With `tls`, the instance serves TLS only and MIGRATEs over TLS (tls-cluster) to the TLS nodes. */
export function renderRecoveryConf(dir: string, port: number, password: string, bind?: string, tls?: NodeTlsFiles): string {
  const lines = ["# Generated by interface-hash-server: a recovery instance on a copy of a dead node's AOF.", ...baseConfLines(port, dir, password, bind, tls), 'cluster-enabled no'];
  return `${lines.join('\n')}\n`;
}
