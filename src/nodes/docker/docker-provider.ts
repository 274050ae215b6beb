/**
 * DockerProvider: each Redis node is a container (dockerode, over the local socket or
 * DOCKER_HOST), the same cluster nodes as the process provider's, behind the same interface
 * — health, failover, recovery, admin verbs and resharding do not know the difference.
 *
 * A node container: image `--redis-image`, command `redis-server /data/redis.conf`, on the
 * cluster's own bridge network at a fixed address (docker-network.ts), with a named volume
 * for /data. The volume is bound to the node's dir under the proxy's data dir, so AOF,
 * nodes.conf, redis.conf and redis.log are where the cluster layer reads and moves them,
 * exactly as for a process node (and a proxy in a container needs the data dir at the same
 * path as on the host). It runs as the proxy's own uid:gid, so those files stay the
 * proxy's. Labels name the cluster, the node and the role it was created as; the proxy
 * touches no container without its cluster's label.
 *
 * Nothing is published to the world. A proxy that can route to the cluster network (in a
 * container that joins it, or on the engine's own Linux host) dials the nodes at their
 * addresses there; one that cannot (Docker Desktop, rootless Docker, a remote engine)
 * reaches each node through its client port published on 127.0.0.1 (a free port chosen
 * here, kept across restarts), and dial-map.ts routes the proxy's own sockets there. The
 * cluster itself always uses the network addresses (cluster-announce-ip), so replication,
 * the bus and MIGRATE work between containers.
 *
 * Exits are learnt from the Docker events stream (docker-events.ts): `die` is a node down for
 * certain, `oom` and `health_status: unhealthy` ask for an immediate health check.
 */
import { createHash } from 'node:crypto';
import { mkdir, realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from '../../log.js';
import { redisIdFromDir } from '../cluster-nodes.js';
import { formatAddress, type ControlClients, type NodeProbe } from '../control-client.js';
import type { DialMap } from '../../net/dial-map.js';
import { dockerMessage, isDockerConflict, isDockerNotFound, isDockerNotModified } from './docker-errors.js';
import { DockerEvents } from './docker-events.js';
import { ensureNetwork, isStaticAddress, LABEL_CLUSTER, LABEL_NODE, LABEL_ROLE, pickStaticAddress, type NetworkInfo } from './docker-network.js';
import { readOptional } from '../files.js';
import { tailFile } from '../log-tail.js';
import { PortAllocator } from '../ports.js';
import { writePrivateFile } from '../process/process-provider.js';
import { NodeStartError, type NodeProvider, type NodeSpec, type PreviousPlacement, type ProcessProbe, type RunningNode } from '../provider.js';
import type { NodeTlsFiles } from '../node-tls.js';
import { CONF_FILE, isClusterConf, REDIS_LOG_FILE, renderRedisConf, withAnnounceIp, withPorts } from '../redis-conf.js';
import { placeNodeTlsFiles } from './docker-node-tls.js';
import { sleep, withTimeout } from '../wait.js';

/** Inside every node container: the client and bus ports, and where the volume is mounted. */
export const CONTAINER_PORT = 6379;
export const CONTAINER_BUS_PORT = 16379;
export const CONTAINER_DATA_DIR = '/data';
const PORT_KEY = `${CONTAINER_PORT}/tcp`;
const POLL_MS = 100;

/**
 * How the proxy reaches the nodes: `published` (each node's client port is published on
 * 127.0.0.1, for a proxy that cannot route to the cluster network) or `network` (nodes are
 * dialled at their network address: a proxy in a container attached to the cluster
 * network, or on the engine's host).
 */
export type NodeAccess = 'published' | 'network';

export interface DockerProviderOptions {
  docker: Docker;
  log: Logger;
  /** Image of the nodes, e.g. "redis:7" or a locally built "ihs-redis:local". */
  image: string;
  /** Names containers, volumes and the default network; labels everything. */
  clusterId: string;
  /** The cluster's bridge network (created when missing). */
  network: string;
  access: NodeAccess;
  /** Where the proxy's sockets learn the route to each node's published port (access `published`). */
  dial: DialMap;
  /** The proxy's control-plane connections, dialling through `dial` (each node's password is its spec's). */
  clients: ControlClients;
  /** Bound on a node becoming ready. Default 30 s. */
  startTimeoutMs?: number;
  /** Bound on a graceful stop (SIGTERM) before Docker sends SIGKILL. Default 3 s. */
  stopTimeoutMs?: number;
  commandTimeoutMs?: number;
  clusterNodeTimeoutMs?: number;
  /** Nodes serve TLS only with these files (--node-tls; host paths, copied into each node's volume); their existing configs follow. Default: plain TCP. */
  tls?: NodeTlsFiles;
}

/** Bound on one probe of a container (inspect + one stats sample). */
const PROBE_TIMEOUT_MS = 1_000;

interface OwnedNode {
  id: string;
  containerId: string;
  ip: string;
  stopping: boolean;
}

/**
 * The container's address on `network`; for a host-run proxy (access `published`), also the
 * route to its client port published on 127.0.0.1, recorded in `dial` and claimed in
 * `ports`. A problem instead when it has no address, or publishes no port where it must.
 */
export function routeTo(info: Docker.ContainerInspectInfo, network: string, access: NodeAccess, dial: DialMap, ports: PortAllocator): string | { problem: string } {
  const endpoint = info.NetworkSettings.Networks[network];
  const ip = endpoint?.IPAMConfig?.IPv4Address || endpoint?.IPAddress;
  if (!ip) return { problem: `container ${info.Name} has no address on network ${network}` };
  if (access === 'published') {
    const port = publishedPort(info);
    if (port === undefined) return { problem: `container ${info.Name} publishes no port on 127.0.0.1 (created for a proxy in a container? use --docker-node-access network)` };
    ports.claim(port);
    dial.set(ip, CONTAINER_PORT, { host: '127.0.0.1', port });
  }
  return ip;
}

export class DockerProvider implements NodeProvider {
  readonly kind = 'docker' as const;
  onUnexpectedExit?: (id: string) => void;
  onSuspect?: (id: string) => void;
  private readonly nodes = new Map<string, OwnedNode>();
  private readonly docker: Docker;
  private readonly log: Logger;
  private readonly timeouts: { startMs: number; stopMs: number; commandMs: number; clusterNodeMs: number };
  private readonly ports = new PortAllocator('127.0.0.1');
  /** Addresses handed out but maybe not on a container yet (parallel starts). */
  private readonly claimedIps = new Set<string>();
  private network: Promise<NetworkInfo> | undefined;
  private picking: Promise<unknown> = Promise.resolve();
  private readonly events: DockerEvents;

  /** Check the engine and the image now (one clear error when either is missing), open the network, watch events. */
  static async create(o: DockerProviderOptions): Promise<DockerProvider> {
    try {
      await o.docker.ping();
    } catch (err) {
      throw new Error(`--provider docker: no Docker engine answers (${dockerMessage(err)}); start dockerd, or set DOCKER_HOST`, { cause: err });
    }
    try {
      await o.docker.getImage(o.image).inspect();
    } catch (err) {
      if (!isDockerNotFound(err)) throw err;
      throw new Error(
        `--provider docker: image ${o.image} is not on this Docker engine; pull it (docker pull ${o.image}) or build the local one (make docker-images) and pass --redis-image ihs-redis:local`,
        { cause: err },
      );
    }
    const provider = new DockerProvider(o);
    await provider.ensureNetwork();
    provider.events.open();
    return provider;
  }

  constructor(private readonly o: DockerProviderOptions) {
    this.docker = o.docker;
    this.log = o.log;
    this.timeouts = {
      startMs: o.startTimeoutMs ?? 30_000,
      stopMs: o.stopTimeoutMs ?? 3_000, // as the process provider's: a busy node would hold up the stop
      commandMs: o.commandTimeoutMs ?? 2_000,
      clusterNodeMs: o.clusterNodeTimeoutMs ?? 5_000,
    };
    this.events = new DockerEvents({
      docker: o.docker,
      log: o.log,
      label: `${LABEL_CLUSTER}=${o.clusterId}`,
      onEvent: (e) => this.onEngineEvent(e.action, e.node),
      onReopened: () => void this.reconcile(),
    });
  }

  containerName(id: string): string {
    return `ihs-${this.o.clusterId}-${id}`;
  }

  /** The network, created once; a proxy in a container joins it to reach the nodes. */
  ensureNetwork(): Promise<NetworkInfo> {
    this.network ??= (async () => {
      const net = await ensureNetwork(this.docker, this.o.network, this.o.clusterId);
      if (this.o.access === 'network') await this.joinNetwork(net);
      this.log.info({ network: net.name, subnet: net.subnet, access: this.o.access }, 'docker network ready');
      return net;
    })();
    // A failure (the engine restarting, say) is not remembered: the next start asks again.
    this.network.catch(() => (this.network = undefined));
    return this.network;
  }

  private async joinNetwork(net: NetworkInfo): Promise<void> {
    const self = os.hostname(); // Docker's default hostname is the container's short id
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(self).inspect();
    } catch (err) {
      if (!isDockerNotFound(err)) throw err;
      // Not a container of this engine (or not under Docker's default hostname): the engine's
      // host routes to its bridges itself; anywhere else, whoever runs it must route it there.
      this.log.info({ network: net.name, lookedUpAs: self }, 'docker-node-access network: this proxy is not a container of this engine; it dials the nodes through this host\'s route to the network');
      return;
    }
    if (info.NetworkSettings.Networks[net.name] !== undefined) return;
    await this.docker.getNetwork(net.name).connect({ Container: info.Id });
    this.log.info({ network: net.name, container: info.Name }, 'proxy container joined the cluster network');
  }

  async start(spec: NodeSpec, previous?: PreviousPlacement): Promise<RunningNode> {
    const net = await this.ensureNetwork();
    const name = this.containerName(spec.id);
    const owned = this.nodes.get(spec.id);
    if (owned !== undefined && !owned.stopping && (await this.isRunning(owned.containerId))) {
      throw new NodeStartError(`node ${spec.id} is already running (container ${name})`);
    }
    const nodeDir = path.resolve(spec.dataDir);
    await mkdir(nodeDir, { recursive: true, mode: 0o700 });
    const tls = await this.prepareTls(nodeDir);

    let info = await this.inspect(name);
    if (info !== undefined) {
      if (info.Config.Labels?.[LABEL_CLUSTER] !== this.o.clusterId) {
        throw new NodeStartError(`node ${spec.id}: container ${name} exists but is not one of this cluster's (label ${LABEL_CLUSTER}); not touching it`);
      }
      const adopted = await this.tryAdopt(spec, nodeDir, info, net);
      if (adopted !== undefined) return adopted;
      info = await this.inspect(info.Id);
      if (info !== undefined) info = await this.startExisting(spec, info);
    }
    if (info === undefined) info = await this.create(spec, nodeDir, net, tls, previous);
    return this.waitReady(spec, info, net);
  }

  /**
   * A running container of this node (left by a proxy killed with SIGKILL) that answers with
   * the password, and is the node of this dir: adopted as it is. One that runs but does not
   * answer is killed, to be started again. One whose Redis id is not the dir's runs on a dir
   * that was deleted under it (a new data dir at the old path): starting this node beside
   * it would make a second cluster, so that is refused.
   */
  private async tryAdopt(spec: NodeSpec, nodeDir: string, info: Docker.ContainerInspectInfo, net: NetworkInfo): Promise<RunningNode | undefined> {
    if (!info.State.Running) return undefined;
    if (info.State.Paused) await this.docker.getContainer(info.Id).unpause();
    const ip = this.routeTo(info, net);
    const addr = { host: ip, port: CONTAINER_PORT };
    const clients = this.o.clients.as(spec.password);
    const probe = await clients.probe(addr, this.timeouts.commandMs);
    if (probe.state !== 'ready' && probe.state !== 'loading') {
      this.log.warn({ node: spec.id, container: info.Name, probe: probe.state }, 'node container runs but does not answer; restarting it');
      await this.kill(info.Id);
      return undefined;
    }
    const theirs = probe.state === 'ready' ? String(await clients.with(addr, (c) => c.call('CLUSTER', 'MYID'), this.timeouts.commandMs)) : undefined;
    const ours = await redisIdFromDir(nodeDir);
    if (theirs !== undefined && theirs !== ours) {
      throw new NodeStartError(
        `node ${spec.id}: container ${info.Name} runs a node (${theirs}) that is not the one of ${nodeDir} (${ours ?? 'a new node'}); ` +
          `it belongs to an earlier cluster on this data dir. Starting beside it would make a second cluster: remove it (docker rm -f ${info.Name.replace(/^\//, '')}) first`,
      );
    }
    const running = await this.waitReady(spec, info, net);
    this.log.info({ node: spec.id, container: info.Name, ip }, 'node container adopted');
    return running;
  }

  /** Start a stopped container of this node (same volume, same address); recreated when its published port is taken. */
  private async startExisting(spec: NodeSpec, info: Docker.ContainerInspectInfo): Promise<Docker.ContainerInspectInfo | undefined> {
    const container = this.docker.getContainer(info.Id);
    if (info.State.Running) return info; // killed above, or running without answering yet
    const published = publishedPort(info);
    if (published !== undefined) this.ports.claim(published);
    try {
      await container.start();
    } catch (err) {
      if (isDockerNotModified(err)) return container.inspect();
      if (published !== undefined) this.ports.release(published);
      if (!/port is already allocated|address already in use/i.test(dockerMessage(err))) {
        throw new NodeStartError(`node ${spec.id}: docker start ${info.Name}: ${dockerMessage(err)}`);
      }
      // Its published port went to someone else while it was down: a new container, same volume and address.
      this.log.warn({ node: spec.id, port: published }, 'published port of the node is taken; recreating its container');
      await container.remove({ force: true });
      return undefined;
    }
    return container.inspect();
  }

  private async create(spec: NodeSpec, nodeDir: string, net: NetworkInfo, tls: NodeTlsFiles | undefined, previous?: PreviousPlacement): Promise<Docker.ContainerInspectInfo> {
    const ip = previous !== undefined && isStaticAddress(net.subnet, previous.host) ? previous.host : await this.pickAddress(net);
    this.claimedIps.add(ip);
    try {
      const confPath = path.join(nodeDir, CONF_FILE);
      const existing = await readOptional(confPath);
      // A node's own config is kept as it is (an operator's edits, or one that cannot start),
      // but for the address it announces: a container created again on a network made again
      // (make docker-clean) may have another one; the cluster meets it there (rejoinCluster).
      if (existing !== undefined && isClusterConf(existing)) {
        const updated = withAnnounceIp(existing, ip);
        if (updated !== existing) await writePrivateFile(confPath, updated);
      } else {
        await writePrivateFile(
          confPath,
          renderRedisConf({
            nodeId: spec.id,
            port: CONTAINER_PORT,
            busPort: CONTAINER_BUS_PORT,
            nodeDir: CONTAINER_DATA_DIR,
            password: spec.password,
            clusterNodeTimeoutMs: this.timeouts.clusterNodeMs,
            bind: '0.0.0.0',
            announceIp: ip,
            tls,
          }),
        );
      }
      const volume = await this.ensureVolume(spec, await realpath(nodeDir));
      const hostPort = this.o.access === 'published' ? await this.ports.pick() : undefined;
      const labels = { [LABEL_CLUSTER]: this.o.clusterId, [LABEL_NODE]: spec.id, [LABEL_ROLE]: spec.role ?? 'master' };
      let container: Docker.Container | undefined;
      try {
        container = await this.docker.createContainer({
          name: this.containerName(spec.id),
          Image: this.o.image,
          Cmd: ['redis-server', `${CONTAINER_DATA_DIR}/${CONF_FILE}`],
          User: ownerIds(),
          Labels: labels,
          ExposedPorts: { [PORT_KEY]: {} },
          StopTimeout: Math.ceil(this.timeouts.stopMs / 1000),
          HostConfig: {
            Binds: [`${volume}:${CONTAINER_DATA_DIR}`],
            NetworkMode: net.name,
            RestartPolicy: { Name: 'no' }, // restarts are the proxy's decision
            PortBindings: hostPort === undefined ? {} : { [PORT_KEY]: [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] },
          },
          NetworkingConfig: { EndpointsConfig: { [net.name]: { IPAMConfig: { IPv4Address: ip } } } },
        });
        await container.start();
      } catch (err) {
        if (hostPort !== undefined) this.ports.release(hostPort);
        // A container that never ran holds nothing: removed, so the next attempt starts clean.
        await container?.remove({ force: true }).catch((e: Error) => this.log.warn({ node: spec.id, err: e.message }, 'cannot remove a container that did not start'));
        throw new NodeStartError(`node ${spec.id}: cannot run a container of ${this.o.image}: ${dockerMessage(err)}`);
      }
      this.log.info({ node: spec.id, container: this.containerName(spec.id), ip, hostPort }, 'node container created');
      return container.inspect();
    } finally {
      this.claimedIps.delete(ip);
    }
  }

  /**
   * With --node-tls, the node's copy of the TLS files in its dir (their paths in its
   * container); an existing config's port lines follow --node-tls as it is now, as the
   * process provider's do (a stopped container starts on its config as it is).
   */
  private async prepareTls(nodeDir: string): Promise<NodeTlsFiles | undefined> {
    const tls = this.o.tls === undefined ? undefined : await placeNodeTlsFiles(this.o.tls, nodeDir, CONTAINER_DATA_DIR);
    const confPath = path.join(nodeDir, CONF_FILE);
    const existing = await readOptional(confPath);
    if (existing !== undefined && isClusterConf(existing)) {
      const updated = withPorts(existing, CONTAINER_PORT, CONTAINER_BUS_PORT, tls);
      if (updated !== existing) await writePrivateFile(confPath, updated);
    }
    return tls;
  }

  /** With --node-tls, a recovery instance's copy of the TLS files in `dir` (their paths in its container). */
  placeTls(dir: string): Promise<NodeTlsFiles | undefined> {
    return this.o.tls === undefined ? Promise.resolve(undefined) : placeNodeTlsFiles(this.o.tls, dir, CONTAINER_DATA_DIR);
  }

  /** A free node address; one pick at a time, so parallel starts never get the same one. */
  private pickAddress(net: NetworkInfo): Promise<string> {
    const pick = this.picking.then(async () => {
      const ip = await pickStaticAddress(this.docker, net, this.o.clusterId, this.claimedIps);
      this.claimedIps.add(ip);
      return ip;
    });
    this.picking = pick.catch(() => undefined);
    return pick;
  }

  /** The node's named volume, bound to its dir (created once; kept across container replacements). */
  private async ensureVolume(spec: NodeSpec, nodeDirReal: string): Promise<string> {
    const name = this.containerName(spec.id);
    try {
      const info = await this.docker.getVolume(name).inspect();
      if (info.Options?.device === nodeDirReal) return name;
      // Bound elsewhere (a dir moved aside by a removal, then the id reused): bind it here.
      await this.docker.getVolume(name).remove();
    } catch (err) {
      if (!isDockerNotFound(err)) throw err;
    }
    await this.docker.createVolume({
      Name: name,
      Driver: 'local',
      DriverOpts: { type: 'none', o: 'bind', device: nodeDirReal },
      Labels: { [LABEL_CLUSTER]: this.o.clusterId, [LABEL_NODE]: spec.id },
    });
    return name;
  }

  /** Wait until the node answers PING (not LOADING), its container exits, or the start timeout passes. */
  private async waitReady(spec: NodeSpec, info: Docker.ContainerInspectInfo, net: NetworkInfo): Promise<RunningNode> {
    const ip = this.routeTo(info, net);
    const addr = { host: ip, port: CONTAINER_PORT };
    const deadline = Date.now() + this.timeouts.startMs;
    let probe: NodeProbe | undefined;
    for (;;) {
      probe = await this.o.clients.as(spec.password).probe(addr, this.timeouts.commandMs);
      if (probe.state === 'ready') break;
      const state = (await this.inspect(info.Id))?.State;
      if (state === undefined || !state.Running) {
        throw new NodeStartError(
          `node ${spec.id}: container ${info.Name} exited with code ${state?.ExitCode ?? '?'} before answering PING: ${await tailFile(path.join(spec.dataDir, REDIS_LOG_FILE))}`,
        );
      }
      if (Date.now() >= deadline) {
        await this.kill(info.Id);
        throw new NodeStartError(`node ${spec.id}: container ${info.Name} did not answer PING on ${formatAddress(addr)} within ${this.timeouts.startMs} ms (last probe: ${probe.state}); killed it`);
      }
      await sleep(POLL_MS);
    }
    this.nodes.set(spec.id, { id: spec.id, containerId: info.Id, ip, stopping: false });
    this.log.info({ node: spec.id, container: info.Name, ip }, 'node started');
    return { id: spec.id, host: ip, port: CONTAINER_PORT, busPort: CONTAINER_BUS_PORT, handle: info.Id };
  }

  private routeTo(info: Docker.ContainerInspectInfo, net: NetworkInfo): string {
    const route = routeTo(info, net.name, this.o.access, this.o.dial, this.ports);
    if (typeof route !== 'string') throw new NodeStartError(route.problem);
    return route;
  }

  async stop(id: string, graceful: boolean): Promise<void> {
    const owned = this.nodes.get(id);
    if (owned !== undefined) owned.stopping = true;
    // Also a container this process did not start (left by a proxy killed with SIGKILL).
    const info = await this.inspect(this.containerName(id));
    if (info === undefined || info.Config.Labels?.[LABEL_CLUSTER] !== this.o.clusterId) {
      this.nodes.delete(id);
      return;
    }
    const container = this.docker.getContainer(info.Id);
    let how = 'already stopped';
    if (info.State.Running) {
      // A paused container takes SIGKILL as it is; SIGTERM needs it running to flush its AOF.
      if (info.State.Paused && graceful) await container.unpause();
      how = graceful ? 'SIGTERM' : 'SIGKILL';
      try {
        if (graceful) await container.stop({ t: Math.ceil(this.timeouts.stopMs / 1000) });
        else await container.kill();
        await container.wait({ condition: 'not-running' });
      } catch (err) {
        if (!isDockerNotModified(err) && !isDockerConflict(err)) throw err;
      }
    }
    this.nodes.delete(id);
    this.log.info({ node: id, container: info.Name, how }, 'node stopped');
  }

  /**
   * The container's state (Paused: stopped; not running: exited) and, running, its
   * cumulative CPU time from one stats sample (one-shot: no second sample to wait for).
   * Bounded: an engine that does not answer in time gives unknown.
   */
  async probe(id: string): Promise<ProcessProbe> {
    const owned = this.nodes.get(id);
    if (owned === undefined) return { kind: 'unknown', reason: `node ${id} is not run by this provider now` };
    try {
      return await withTimeout(this.probeContainer(owned.containerId), PROBE_TIMEOUT_MS, `the Docker engine did not answer within ${PROBE_TIMEOUT_MS} ms`);
    } catch (err) {
      return { kind: 'unknown', reason: dockerMessage(err) };
    }
  }

  private async probeContainer(containerId: string): Promise<ProcessProbe> {
    const state = (await this.inspect(containerId))?.State;
    if (state === undefined || !state.Running) return { kind: 'exited' };
    if (state.Paused) return { kind: 'stopped' };
    const stats = await this.docker.getContainer(containerId).stats({ stream: false, 'one-shot': true });
    const ns = Number(stats.cpu_stats?.cpu_usage?.total_usage);
    return Number.isFinite(ns) ? { kind: 'running', cpuMs: ns / 1e6 } : { kind: 'unknown', reason: 'no CPU usage in the container stats' };
  }

  async stopAll(): Promise<void> {
    const results = await Promise.allSettled([...this.nodes.keys()].map((id) => this.stop(id, true)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
    if (failures.length > 0) throw new AggregateError(failures, failures.map((e) => e.message).join('; '));
  }

  async killAll(): Promise<void> {
    await Promise.all(
      [...this.nodes.keys()].map(async (id) => {
        const owned = this.nodes.get(id);
        if (owned !== undefined) owned.stopping = true;
        try {
          await this.docker.getContainer(this.containerName(id)).kill();
          this.log.warn({ node: id }, 'node container killed (SIGKILL)');
        } catch (err) {
          if (!isDockerNotModified(err) && !isDockerConflict(err)) this.log.error({ node: id, err: (err as Error).message }, 'could not kill the node container');
        }
      }),
    );
  }

  async discard(id: string): Promise<void> {
    const name = this.containerName(id);
    const info = await this.inspect(name);
    if (info !== undefined && info.Config.Labels?.[LABEL_CLUSTER] === this.o.clusterId) {
      const endpoint = info.NetworkSettings.Networks[this.o.network];
      const ip = endpoint?.IPAMConfig?.IPv4Address || endpoint?.IPAddress;
      if (ip) this.o.dial.delete(ip, CONTAINER_PORT);
      const port = publishedPort(info);
      if (port !== undefined) this.ports.release(port);
      await this.docker.getContainer(info.Id).remove({ force: true });
    }
    try {
      await this.docker.getVolume(name).remove(); // a bind volume: the dir itself stays (moved aside by the caller)
    } catch (err) {
      if (!isDockerNotFound(err)) throw err;
    }
    this.nodes.delete(id);
    this.log.info({ node: id, container: name }, 'node container and volume removed');
  }

  close(): void {
    this.events.close();
  }

  private onEngineEvent(action: string, nodeId: string | undefined): void {
    if (nodeId === undefined) return;
    const node = this.nodes.get(nodeId);
    if (node === undefined || node.stopping) return;
    if (action === 'die') {
      this.log.warn({ node: nodeId }, 'node container died');
      this.onUnexpectedExit?.(nodeId);
    } else if (action === 'oom' || action === 'health_status: unhealthy') {
      this.log.warn({ node: nodeId, event: action }, 'node container reported trouble; checking it now');
      this.onSuspect?.(nodeId);
    }
  }

  /** After the events stream was down: a node container that died meanwhile is reported now. */
  private async reconcile(): Promise<void> {
    for (const node of [...this.nodes.values()]) {
      if (node.stopping) continue;
      try {
        if (!(await this.isRunning(node.containerId))) this.onEngineEvent('die', node.id);
      } catch (err) {
        this.log.warn({ node: node.id, err: (err as Error).message }, 'cannot inspect node container');
      }
    }
  }

  private inspect(nameOrId: string): Promise<Docker.ContainerInspectInfo | undefined> {
    return inspectContainer(this.docker, nameOrId);
  }

  private async isRunning(containerId: string): Promise<boolean> {
    return (await this.inspect(containerId))?.State.Running === true;
  }

  private async kill(containerId: string): Promise<void> {
    try {
      await this.docker.getContainer(containerId).kill();
      await this.docker.getContainer(containerId).wait({ condition: 'not-running' });
    } catch (err) {
      if (!isDockerConflict(err) && !isDockerNotFound(err)) throw err;
    }
  }
}

/** A container's state; undefined when there is no such container. */
export async function inspectContainer(docker: Docker, nameOrId: string): Promise<Docker.ContainerInspectInfo | undefined> {
  try {
    return await docker.getContainer(nameOrId).inspect();
  } catch (err) {
    if (isDockerNotFound(err)) return undefined;
    throw err;
  }
}

/** Names a data dir's cluster: its containers, volumes and default network carry it. */
export function dockerClusterId(dataDir: string): string {
  return createHash('sha1').update(`interface-hash-server:${path.resolve(dataDir)}`).digest('hex').slice(0, 12);
}

/** The host port a container publishes its client port on (127.0.0.1), if any. */
export function publishedPort(info: Docker.ContainerInspectInfo): number | undefined {
  const bound = info.HostConfig.PortBindings?.[PORT_KEY]?.[0]?.HostPort;
  const port = Number(bound);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/** Containers run as the proxy's own user, so the files they write in its data dir stay its own. */
export function ownerIds(): string {
  return `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
}
