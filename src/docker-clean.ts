/**
 * `ihs-docker-clean --data-dir DIR [--remove-data-dir]` (make docker-clean): removes the
 * Docker resources of the cluster of one data dir — its containers, volumes and network,
 * found by the cluster's label (docker-cluster-removal.ts) — and keeps the data dir (its
 * topology, AOFs and logs) unless asked to remove it too.
 *
 * Never under a running proxy: the clean-up takes the data dir's lock (data-dir-lock.ts),
 * the one every proxy holds while it runs on it, so it is refused while a proxy runs that
 * cluster — on the host or in a container — and no proxy can start on it meanwhile. The
 * proxy is not stopped for you: stopping it stops its nodes, a decision for whoever runs it.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import yargs from 'yargs';
import { DataDirLock, DataDirLockedError, LOCK_FILE } from './cluster/data-dir-lock.js';
import { TOPOLOGY_FILE } from './cluster/topology/topology-store.js';
import { createLogger, type Logger } from './log.js';
import { dockerClusterId } from './nodes/docker/docker-provider.js';
import { removeClusterResources, type DockerClusterResources } from './nodes/docker/docker-cluster-removal.js';

export interface DockerCleanOptions {
  docker: Docker;
  /** The data dir as the proxy was given it (its cluster id is made from its absolute path). */
  dataDir: string;
  removeDataDir: boolean;
  log: Logger;
}

/** What became of the data dir; notRemoved: asked to remove it, and why it was not. */
export type DataDirFate = 'kept' | 'removed' | 'absent' | { notRemoved: string };

export type DockerCleanOutcome =
  | { kind: 'refused'; reason: string }
  | {
      kind: 'cleaned';
      clusterId: string;
      removed: DockerClusterResources;
      /** What the engine would not remove, in its words. */
      problems: string[];
      dataDir: DataDirFate;
    };

export async function cleanDockerCluster(o: DockerCleanOptions): Promise<DockerCleanOutcome> {
  const dataDir = path.resolve(o.dataDir);
  const clusterId = dockerClusterId(dataDir);
  const exists = await isDirectory(dataDir);
  let lock: DataDirLock | undefined;
  if (exists) {
    try {
      lock = await DataDirLock.acquire(dataDir, o.log);
    } catch (err) {
      if (!(err instanceof DataDirLockedError)) throw err;
      return {
        kind: 'refused',
        reason:
          `a proxy runs the cluster of ${dataDir} (interface-hash-server pid ${err.ownerPid} holds its lock); nothing removed. ` +
          'Stop it first (make docker-stop for the proxy of make docker-run, SIGTERM for one on the host): it stops its node containers; then clean up again',
      };
    }
  }
  try {
    const { removed, problems } = await removeClusterResources(o.docker, clusterId);
    let fate: DataDirFate = exists ? 'kept' : 'absent';
    if (exists && o.removeDataDir) {
      // Only what a proxy made: a typo in the path must not wipe some other directory.
      if (problems.length > 0) fate = { notRemoved: 'some Docker resources of the cluster are still there (above)' };
      else if (!(await isProxyDataDir(dataDir))) fate = { notRemoved: `it holds no ${TOPOLOGY_FILE}: not a data dir of interface-hash-server` };
      else {
        await rm(dataDir, { recursive: true, force: true });
        fate = 'removed';
      }
    }
    return { kind: 'cleaned', clusterId, removed, problems, dataDir: fate };
  } finally {
    await lock?.release();
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** A proxy's data dir: its topology, or nothing but the lock this clean-up holds (a cluster never formed). */
async function isProxyDataDir(dir: string): Promise<boolean> {
  const entries = await readdir(dir);
  return entries.includes(TOPOLOGY_FILE) || entries.every((e) => e === LOCK_FILE);
}

/** One line per kind of resource, then the data dir's fate. */
export function describeOutcome(dataDir: string, outcome: Extract<DockerCleanOutcome, { kind: 'cleaned' }>): string[] {
  const { removed } = outcome;
  const list = (names: string[]): string => (names.length === 0 ? 'none' : names.join(' '));
  const lines = [
    `cluster ${outcome.clusterId} (data dir ${path.resolve(dataDir)}):`,
    `  containers removed: ${list(removed.containers)}`,
    `  volumes removed: ${list(removed.volumes)}`,
    `  networks removed: ${list(removed.networks)}`,
    ...outcome.problems.map((p) => `  not removed: ${p}`),
  ];
  const d = outcome.dataDir;
  if (d === 'kept') lines.push('  data dir kept (remove it too: make docker-clean DOCKER_CLEAN_DATA=1, or --remove-data-dir)');
  else if (d === 'removed') lines.push('  data dir removed');
  else if (d === 'absent') lines.push('  data dir absent');
  else lines.push(`  data dir not removed: ${d.notRemoved}`);
  return lines;
}

/** The command line; the exit code: 0 done, 1 refused or something left, 2 usage. */
export async function dockerCleanMain(argv: string[]): Promise<number> {
  let args: { dataDir: string; removeDataDir: boolean };
  try {
    const parsed = await yargs(argv)
      .scriptName('ihs-docker-clean')
      .usage('$0 --data-dir DIR [--remove-data-dir]\n\nRemove the Docker containers, volumes and network of the cluster of DIR (found by its label); keep DIR unless --remove-data-dir.')
      .option('data-dir', { type: 'string', demandOption: true, describe: "the proxy's --data-dir (the same path: it names the cluster)" })
      .option('remove-data-dir', { type: 'boolean', default: false, describe: 'remove the data dir too (its topology, AOFs and logs)' })
      .version(false)
      .strict()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      })
      .parseAsync();
    if (parsed.help === true) return 0; // yargs printed it
    args = { dataDir: parsed['data-dir'], removeDataDir: parsed['remove-data-dir'] };
  } catch (err) {
    process.stderr.write(`ihs-docker-clean: ${(err as Error).message}\n`);
    return 2;
  }
  const log = createLogger({ level: 'warn', pretty: false });
  const docker = new Docker(); // the local socket, or DOCKER_HOST, as the proxy's
  try {
    await docker.ping();
  } catch (err) {
    process.stderr.write(`ihs-docker-clean: no Docker engine answers (${(err as Error).message}); start dockerd, or set DOCKER_HOST\n`);
    return 1;
  }
  let outcome: DockerCleanOutcome;
  try {
    outcome = await cleanDockerCluster({ docker, dataDir: args.dataDir, removeDataDir: args.removeDataDir, log });
  } catch (err) {
    process.stderr.write(`ihs-docker-clean: ${(err as Error).message}\n`);
    return 1;
  }
  if (outcome.kind === 'refused') {
    process.stderr.write(`ihs-docker-clean: ${outcome.reason}\n`);
    return 1;
  }
  process.stdout.write(`${describeOutcome(args.dataDir, outcome).join('\n')}\n`);
  return outcome.problems.length === 0 && typeof outcome.dataDir === 'string' ? 0 : 1;
}
