/**
 * ControlPlane: what only the leading proxy runs — the node provider, the ClusterManager
 * (data-dir lock, document, nodes), the failover monitor, the slot migrator and the
 * ClusterAdmin. A proxy alone runs one for its whole life; among several (--workers,
 * --coordinator) the one elected opens one, and stops it (leaving the nodes running) the
 * moment it stops leading.
 *
 *   open()    provider → ClusterManager.open (adopts running nodes, or creates the cluster)
 *   attach()  once the data plane routes: nodes prepared, failover monitor, migrator and
 *             admin started, and what the last leader left unfinished resumed
 *   stop()    stop acting; 'stop-nodes' (the last proxy going) or 'detach' (others serve on)
 */
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { ClusterManager } from './cluster/cluster-manager.js';
import type { DocumentStore } from './cluster/topology/topology-store.js';
import type { TopologyDoc } from './cluster/topology/topology.js';
import { ProcessProvider } from './nodes/process/process-provider.js';
import { nodeTlsFiles } from './nodes/node-tls.js';
import type { ControlClients, NodeAddress } from './nodes/control-client.js';
import type { DialMap } from './net/dial-map.js';
import { StaticProvider } from './nodes/static-provider.js';
import type { NodeProvider } from './nodes/provider.js';
import { FailoverMonitor } from './failover/failover-monitor.js';
import { ClusterAdmin, migrationListing, parseNodeAddress, recoveryListing } from './admin/cluster-admin.js';
import { rebalanceCluster } from './cluster/operations/rebalance.js';
import { rebalanceByLoad } from './cluster/operations/load-rebalance.js';
import type { SlotLoadSource } from './ops/slot-load.js';
import type { ShardRecoveryOperation } from './failover/shard-recovery.js';
import { ProcessRecoveryInstances, type RecoveryInstanceRunner } from './nodes/recovery-instance.js';
import { dockerClusterId, DockerProvider } from './nodes/docker/docker-provider.js';
import { detectNodeAccess } from './nodes/docker/docker-node-access.js';
import { DockerRecoveryInstances } from './nodes/docker/docker-recovery-instances.js';
import { SlotMigrator } from './cluster/operations/slot-migration.js';
import type { ScriptSource } from './cluster/operations/node-preparation.js';
import type { SlotMap } from './cluster/slot-map.js';
import type { SlotMapSource } from './cluster/slot-map-source.js';
import type { RequestGate } from './cluster/request-gate.js';
import type { LocalAdmin } from './coordination/admin-switch.js';
import type { ClusterEventRecorder } from './status/cluster-events.js';

/** Hooks for tests. */
export interface ProxyHooks {
  /** Called with each persisted step of a shard recovery; a test may pause it there. */
  onRecoveryStep?: (op: ShardRecoveryOperation) => Promise<void> | void;
}

export interface ControlPlaneOptions {
  config: Config;
  log: Logger;
  dial: DialMap;
  /** The proxy's control connections (its dial routes; each part adds the password it knows). */
  routes: ControlClients;
  scripts: ScriptSource;
  store: DocumentStore;
  /** Told of every document saved (the data plane follows it). */
  onDocument: (doc: TopologyDoc) => void;
  hooks: ProxyHooks;
  /** Taking over from another leader (see ClusterManagerOptions.takeover). */
  takeover: boolean;
  /** The cluster's timeline (the process's: it outlives this control plane). */
  events: ClusterEventRecorder;
}

/** What attach() needs of the data plane. */
export interface DataPlaneLink {
  gate: RequestGate;
  slotMaps: SlotMapSource;
  /** The slot map as the router has it now. */
  firstMap: SlotMap;
  /** Where the proxy listens (RESP and HTTP): never a node to add. */
  proxyListeners: () => NodeAddress[];
  /** Requests per slot as this process routed them (REBALANCE LOAD). */
  slotLoad: SlotLoadSource;
}

interface Providers {
  provider: NodeProvider;
  /** How a lost shard's keys are read back (undefined: they cannot be). */
  recoveryInstances: RecoveryInstanceRunner | undefined;
}

async function makeProviders(config: Config, log: Logger, dial: DialMap, clients: ControlClients): Promise<Providers> {
  if (config.provider === 'static') return { provider: new StaticProvider({ log, clients }), recoveryInstances: undefined };
  if (config.provider === 'docker') {
    // Loaded for Docker nodes only: dockerode and what it pulls in cost ~30 MB of RSS.
    const { default: Docker } = await import('dockerode');
    const docker = new Docker(); // the local socket, or DOCKER_HOST
    const clusterId = dockerClusterId(config.dataDir);
    const access = config.dockerNodeAccess === 'auto' ? await detectNodeAccess(docker) : config.dockerNodeAccess;
    const common = { docker, image: config.redisImage, clusterId, access, dial, clients, log } as const;
    const provider = await DockerProvider.create({
      ...common,
      network: config.dockerNetwork === '' ? `ihs-${clusterId}` : config.dockerNetwork,
      clusterNodeTimeoutMs: config.clusterNodeTimeout,
      commandTimeoutMs: config.connectTimeout,
      // main.ts made the files (ensureNodeTls) before anything dialled a node.
      tls: config.nodeTls ? nodeTlsFiles(config.dataDir) : undefined,
    });
    return { provider, recoveryInstances: new DockerRecoveryInstances({ ...common, provider, commandTimeoutMs: config.connectTimeout }) };
  }
  // main.ts made the files (ensureNodeTls) before anything dialled a node.
  const tls = config.nodeTls ? nodeTlsFiles(config.dataDir) : undefined;
  const provider = await ProcessProvider.create({ log, clients, redisServerPath: config.redisServer, clusterNodeTimeoutMs: config.clusterNodeTimeout, tls });
  // A lost shard's keys are read back by a redis-server of the same binary the nodes run.
  return { provider, recoveryInstances: new ProcessRecoveryInstances({ binary: () => provider.checkBinary(), log, clients, commandTimeoutMs: config.connectTimeout, tls }) };
}

export class ControlPlane {
  private failoverMonitor: FailoverMonitor | undefined;
  private slotMigrator: SlotMigrator | undefined;
  private clusterAdmin: ClusterAdmin | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly cluster: ClusterManager,
    private readonly recoveryInstances: RecoveryInstanceRunner | undefined,
    private readonly o: ControlPlaneOptions,
    /** The data plane's gate, once attach() has it (a node being removed waits for its requests). */
    private readonly requests: { gate?: RequestGate },
  ) {}

  static async open(o: ControlPlaneOptions): Promise<ControlPlane> {
    const { config, log } = o;
    const { provider, recoveryInstances } = await makeProviders(config, log, o.dial, o.routes);
    const requests: { gate?: RequestGate } = {};
    const cluster = await ClusterManager.open({
      // Bounded by a write's WAIT (--ack-timeout) plus a command's answer.
      drained: (host, port) => requests.gate?.drained(host, port, config.ackTimeout + config.connectTimeout) ?? Promise.resolve(),
      scripts: o.scripts,
      dataDir: config.dataDir,
      masters: config.masters,
      replicas: config.replicas,
      provider,
      staticNodes: config.provider === 'static' ? config.node.map((text) => parseNodeAddress(text, () => new Error(`--node '${text}': expected host:port`))) : undefined,
      staticPassword: config.nodePassword,
      clients: o.routes,
      store: o.store,
      onDocument: o.onDocument,
      takeover: o.takeover,
      events: o.events,
      log,
    });
    return new ControlPlane(cluster, recoveryInstances, o, requests);
  }

  /** The failover monitor; undefined for a static cluster, or before attach(). */
  get failover(): FailoverMonitor | undefined {
    return this.failoverMonitor;
  }

  get migrator(): SlotMigrator | undefined {
    return this.slotMigrator;
  }

  /** The admin's calls and the document changes a follower forwards; undefined before attach(). */
  get local(): LocalAdmin | undefined {
    const admin = this.clusterAdmin;
    if (admin === undefined) return undefined;
    return { admin, rememberConfig: (pairs) => this.cluster.rememberConfig(pairs) };
  }

  /** A new slot map from the cluster (the failover monitor compares it with its own view). */
  clusterView(map: SlotMap): void {
    this.failoverMonitor?.clusterView(map);
  }

  /** Start acting, now that the data plane routes. */
  async attach(link: DataPlaneLink): Promise<void> {
    const { config, log } = this.o;
    const cluster = this.cluster;
    this.requests.gate = link.gate;
    await prepareEveryNode(cluster, link.firstMap, log);
    // The proxy heals the clusters it runs; a static cluster's owner heals their own.
    const failover =
      config.provider === 'static'
        ? undefined
        : new FailoverMonitor({
            cluster,
            gate: link.gate,
            slotMaps: link.slotMaps,
            log,
            failoverTimeoutMs: config.failoverTimeout,
            nodeTimeoutMs: config.nodeTimeout,
            busyTimeoutMs: config.busyTimeout,
            clusterNodeTimeoutMs: config.clusterNodeTimeout,
            healthIntervalMs: Math.max(50, Math.min(200, Math.floor(config.nodeTimeout / 5))),
            connectTimeoutMs: config.connectTimeout,
            commandTimeoutMs: config.connectTimeout,
            act: config.autoFailover,
            shardRecoveryTimeoutMs: config.shardRecoveryTimeout,
            recoveryInstances: this.recoveryInstances,
            onRecoveryStep: this.o.hooks.onRecoveryStep,
            events: this.o.events,
          });
    this.failoverMonitor = failover;
    failover?.start();
    const migrator = new SlotMigrator({ cluster, slotMaps: link.slotMaps, log, batchSize: config.migrationBatch, commandTimeoutMs: config.connectTimeout, events: this.o.events });
    this.slotMigrator = migrator;
    // A migration the last run (or the last leader) left unfinished finishes while we serve.
    migrator.resume().catch((err: Error) => log.error({ err: err.message }, 'resuming the interrupted slot migration failed'));
    const admin = new ClusterAdmin({
      cluster,
      slotMap: () => link.slotMaps.refresh(),
      failover,
      rebalance: (exclude) => rebalanceCluster(migrator, cluster, link.slotMaps, { exclude, log }),
      rebalanceLoad: (dryRun, exclude) => rebalanceByLoad(migrator, cluster, link.slotMaps, link.slotLoad, { dryRun, exclude, log }),
      progress: () => [...migrationListing(migrator.progress()), ...(failover === undefined ? [] : failover.recoveryStatus().map(recoveryListing))],
      commandTimeoutMs: config.connectTimeout,
      log,
      ackReplica: config.ack === 'replica',
      proxyListeners: link.proxyListeners,
      events: this.o.events,
    });
    this.clusterAdmin = admin;
    // An ADD MASTER or REMOVE the last run was killed in the middle of finishes while we serve.
    if (failover !== undefined && config.autoFailover) {
      admin.resume().catch((err: Error) => log.error({ err: err.message }, 'finishing the interrupted admin change failed'));
    }
  }

  /**
   * Stop acting: the migrator between batches (its operation stays recorded for the next
   * run or leader), the failover monitor; then 'stop-nodes' stops every node (the last
   * proxy going), 'detach' lets go of the data dir and leaves them running.
   */
  stop(nodes: 'stop-nodes' | 'detach'): Promise<void> {
    this.stopping ??= (async () => {
      this.clusterAdmin = undefined;
      this.slotMigrator?.close();
      await this.slotMigrator?.idle(); // stops between batches; the nodes must still be up for that
      this.failoverMonitor?.close();
      if (nodes === 'stop-nodes') await this.cluster.shutdown();
      else await this.cluster.detach();
    })();
    return this.stopping;
  }

  /** SIGKILL every node the proxy runs, now (a second Ctrl-C during stop()). */
  killNodes(): Promise<void> {
    return this.cluster.killNodes();
  }
}

/**
 * Before serving: every node of the cluster gets the CONFIG SET values remembered in the
 * document (a node starts from its generated redis.conf; a static cluster's owner may have
 * restarted one). A node that cannot be prepared is logged and serves as it is.
 */
async function prepareEveryNode(cluster: ClusterManager, map: SlotMap, log: Logger): Promise<void> {
  if (cluster.nodeConfig.length === 0) return; // nothing remembered; a new process knows no scripts yet
  const idOf = new Map(cluster.topology.nodes.map((n) => [`${n.host}:${n.port}`, n.id]));
  // Nodes flagged failing are left to the failover side: they are prepared when restarted.
  const nodes = map.masters
    .flatMap((m) => [m, ...m.replicas])
    .filter((n) => !n.failing)
    .map((n) => ({ host: n.host, port: n.port, id: idOf.get(`${n.host}:${n.port}`) ?? `${n.host}:${n.port}` }));
  await Promise.all(
    nodes.map((n) => cluster.prepareStartedNode(n, 'proxy started').catch((err: Error) => log.error({ node: n.id, err: err.message }, 'node serves without the remembered CONFIG'))),
  );
}
