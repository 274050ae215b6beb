/**
 * interface-hash-server: wire the pieces together.
 *   config → logger → node provider → ClusterManager (document, nodes, formation)
 *     → SlotMapSource (the cluster's slot map) → Router → ProxyServer
 * and stop them in reverse order on SIGINT/SIGTERM.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseConfig, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';
import { ClusterManager } from './cluster/cluster-manager.js';
import { ProcessProvider } from './nodes/process/process-provider.js';
import { ControlClients, type NodeAddress } from './nodes/control-client.js';
import { createRuntime, type Runtime } from './net/runtime.js';
import type { DialMap } from './net/dial-map.js';
import { StaticProvider } from './nodes/static-provider.js';
import type { NodeProvider } from './nodes/provider.js';
import { BackendPool } from './backend/pool.js';
import type { ClusterErrorHandler } from './backend/connection.js';
import { AckPolicy } from './backend/replica-ack.js';
import { Router } from './proxy/datapath/router.js';
import { ProxyServer } from './proxy/server.js';
import { SlotMapSource } from './cluster/slot-map-source.js';
import { FailoverMonitor } from './failover/failover-monitor.js';
import { ClusterAdmin, migrationListing, parseNodeAddress, recoveryListing } from './admin/cluster-admin.js';
import { adminVerbTable } from './admin/admin-verbs.js';
import { rebalanceCluster } from './cluster/operations/rebalance.js';
import type { ShardRecoveryOperation } from './failover/shard-recovery.js';
import { ProcessRecoveryInstances, type RecoveryInstanceRunner } from './nodes/recovery-instance.js';
import { detectNodeAccess, dockerClusterId, DockerProvider } from './nodes/docker/docker-provider.js';
import { DockerRecoveryInstances } from './nodes/docker/docker-recovery-instances.js';
import { SlotMigrator } from './cluster/operations/slot-migration.js';
import { ScriptRegistry } from './proxy/datapath/script-registry.js';
import type { SlotMap } from './cluster/slot-map.js';
import { HttpServer } from './http/http-server.js';
import { ProxyMetrics } from './http/metrics.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

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
    });
    return { provider, recoveryInstances: new DockerRecoveryInstances({ ...common, provider, commandTimeoutMs: config.connectTimeout }) };
  }
  const provider = await ProcessProvider.create({ log, clients, redisServerPath: config.redisServer, clusterNodeTimeoutMs: config.clusterNodeTimeout });
  // A lost shard's keys are read back by a redis-server of the same binary the nodes run.
  return { provider, recoveryInstances: new ProcessRecoveryInstances({ binary: () => provider.checkBinary(), log, clients, commandTimeoutMs: config.connectTimeout }) };
}


function poolFactory(password: string, config: Config, log: Logger, runtime: Runtime) {
  const ack = config.ack === 'replica' ? new AckPolicy(config.ackTimeout) : undefined;
  return (host: string, port: number, clusterErrors: ClusterErrorHandler): BackendPool =>
    new BackendPool(
      { id: `${host}:${port}`, host, port, password },
      {
        size: config.poolSize,
        connectTimeoutMs: config.connectTimeout,
        commandTimeoutMs: config.commandTimeout,
        maxDedicated: config.maxBlockingClients,
        log,
        clusterErrors,
        ack,
        runtime,
      },
    );
}

/** A running proxy: what tests and main() hold on to. */
export interface RunningProxy {
  server: ProxyServer;
  cluster: ClusterManager;
  slotMaps: SlotMapSource;
  /** Moves slots with their keys (resharding, REBALANCE); resumes an interrupted migration at start. */
  migrator: SlotMigrator;
  /** The HTTP API, /healthz, /metrics and the status page; undefined with --http-port 0. */
  http: HttpServer | undefined;
  /** The proxy's Prometheus metrics (GET /metrics): render() and contentType. */
  metrics: ProxyMetrics;
  /** The failover monitor; undefined for a static cluster. */
  failover: FailoverMonitor | undefined;
  stop(): Promise<void>;
  /** SIGKILL every node the proxy runs, now (a second Ctrl-C during stop()). */
  killNodes(): Promise<void>;
  /**
   * Stop serving and acting, and let go of the data dir, but leave every node (and any
   * recovery instance) running: what a proxy killed with SIGKILL leaves behind. For tests
   * of resuming on the same data dir in one process.
   */
  abandon(): Promise<void>;
}

/** Hooks for tests. */
export interface ProxyHooks {
  /** Called with each persisted step of a shard recovery; a test may pause it there. */
  onRecoveryStep?: (op: ShardRecoveryOperation) => Promise<void> | void;
}

export async function startProxy(config: Config, log: Logger, hooks: ProxyHooks = {}): Promise<RunningProxy> {
  // This proxy's own: one flush per turn, faults to its log, and the routes every socket to a node dials through.
  const runtime = createRuntime({ log });
  // Its control-plane connections dial through those routes too; each component adds the password it knows.
  const controlRoutes = new ControlClients({ runtime });
  const { provider, recoveryInstances } = await makeProviders(config, log, runtime.dial, controlRoutes);
  const scripts = new ScriptRegistry();
  const cluster = await ClusterManager.open({
    scripts,
    dataDir: config.dataDir,
    masters: config.masters,
    replicas: config.replicas,
    provider,
    staticNodes: config.provider === 'static' ? config.node.map((text) => parseNodeAddress(text, () => new Error(`--node '${text}': expected host:port`))) : undefined,
    staticPassword: config.nodePassword,
    clients: controlRoutes,
    log,
  });
  let router: Router | undefined;
  // Set once the router exists (the first map is read before); static clusters have none.
  let failoverMonitor: FailoverMonitor | undefined;
  const slotMaps = new SlotMapSource({
    seeds: () => cluster.seedAddresses(),
    clients: cluster.clients,
    log,
    onMap: (map) => {
      router?.setSlotMap(map);
      failoverMonitor?.clusterView(map);
    },
    intervalMs: config.slotMapRefresh,
    connectTimeoutMs: config.connectTimeout,
    commandTimeoutMs: config.connectTimeout,
  });
  let firstMap;
  try {
    firstMap = await slotMaps.refresh();
  } catch (err) {
    slotMaps.close();
    await cluster.shutdown();
    throw err;
  }
  // Every write would wait out --ack-timeout and fail on a master without a replica: say so now.
  const map = firstMap;
  const unreplicated = config.ack === 'replica' ? map.servingMasters().map((i) => map.masters[i]).find((m) => m.replicas.length === 0) : undefined;
  if (unreplicated !== undefined) {
    slotMaps.close();
    await cluster.shutdown();
    throw new Error(`--ack replica needs at least one replica per master; master ${unreplicated.address} has none`);
  }
  await prepareEveryNode(cluster, firstMap, log);
  router = new Router(firstMap, poolFactory(cluster.nodePassword, config, log, runtime), slotMaps, config.failoverTimeout);
  slotMaps.start();
  // The proxy heals the clusters it runs; a static cluster's owner heals their own.
  const failover =
    config.provider === 'static'
      ? undefined
      : new FailoverMonitor({
          cluster,
          gate: router,
          slotMaps,
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
          recoveryInstances,
          onRecoveryStep: hooks.onRecoveryStep,
        });
  failoverMonitor = failover;
  failover?.start();
  const migrator = new SlotMigrator({ cluster, slotMaps, log, batchSize: config.migrationBatch, commandTimeoutMs: config.connectTimeout });
  // A migration the last run left unfinished (stopped, or killed mid-way) finishes while we serve.
  migrator.resume().catch((err: Error) => log.error({ err: err.message }, 'resuming the interrupted slot migration failed'));
  const admin = new ClusterAdmin({
    cluster,
    slotMap: () => slotMaps.refresh(),
    failover,
    rebalance: (exclude) => rebalanceCluster(migrator, cluster, slotMaps, { exclude, log }),
    progress: () => [
      ...migrationListing(migrator.progress()),
      ...(failover === undefined ? [] : failover.recoveryStatus().map(recoveryListing)),
    ],
    commandTimeoutMs: config.connectTimeout,
    log,
    ackReplica: config.ack === 'replica',
    // Read when a verb runs: the ports are known once listening (both may be 0 in the config).
    proxyListeners: (): NodeAddress[] => [{ host: config.bind, port: server.port }, ...(http === undefined ? [] : [{ host: config.httpBind, port: http.port }])],
  });
  // An ADD MASTER or REMOVE the last run was killed in the middle of finishes while we serve.
  if (failover !== undefined && config.autoFailover) {
    admin.resume().catch((err: Error) => log.error({ err: err.message }, 'finishing the interrupted admin change failed'));
  }
  const server = new ProxyServer(router, {
    host: config.bind,
    port: config.port,
    maxClients: config.maxclients,
    requirePass: config.requirepass,
    runtime,
    adminPassword: config.adminPassword,
    adminVerbs: adminVerbTable(admin),
    maxBulkLen: config.protoMaxBulkLen,
    maxmemoryClients: config.maxmemoryClients,
    clusterNodeId: createHash('sha1').update(`interface-hash-server:${path.resolve(config.dataDir)}`).digest('hex'),
    version: VERSION,
    log,
    control: {
      nodeStatus: failover === undefined ? undefined : () => failover.status(),
      failoverCounts: failover === undefined ? undefined : () => failover.failoverCounts(),
      recoveries: failover === undefined ? undefined : () => failover.recoveryStatus(),
      migration: () => migrator.progress(),
    },
    pubsub: { nodePassword: cluster.nodePassword, connectTimeoutMs: config.connectTimeout, commandTimeoutMs: config.commandTimeout, outputLimit: config.clientOutputBufferLimitPubsub },
    nodes: {
      scripts,
      rememberConfig: (pairs) => cluster.rememberConfig(pairs),
      clients: cluster.clients,
      commandTimeoutMs: config.connectTimeout,
    },
  });
  const metrics = new ProxyMetrics({ server, failover, migrator, slotMap: () => server.router.slotMap });
  let http: HttpServer | undefined;
  try {
    await server.listen();
    // After the RESP port: the HTTP data routes are clients of it.
    if (config.httpPort !== 0) {
      http = await HttpServer.start({
        host: config.httpBind,
        port: config.httpPort,
        proxyHost: config.bind,
        proxy: server,
        admin,
        adminPassword: config.adminPassword,
        dataTimeoutMs: config.commandTimeout + config.failoverTimeout,
        version: VERSION,
        log,
        metrics,
        failovers: () => failover?.failoverCount() ?? 0,
      });
    }
  } catch (err) {
    await server.close();
    migrator.close();
    await migrator.idle();
    failover?.close();
    slotMaps.close();
    router.close();
    await cluster.shutdown();
    throw err;
  }
  let stopping: Promise<void> | null = null;
  const quiesce = async (): Promise<void> => {
    migrator.close();
    await migrator.idle(); // stops between batches; the nodes must still be up for that
    // Before the RESP port: HTTP requests under way (data, admin changes) finish through it.
    await http?.close();
    await server.close();
    failover?.close();
    slotMaps.close();
    router.close();
  };
  return {
    server,
    cluster,
    slotMaps,
    migrator,
    http,
    metrics,
    failover,
    stop() {
      stopping ??= (async () => {
        await quiesce();
        await cluster.shutdown();
      })();
      return stopping;
    },
    killNodes() {
      return cluster.killNodes();
    },
    abandon() {
      stopping ??= (async () => {
        await quiesce();
        await cluster.detach();
      })();
      return stopping;
    },
  };
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

export async function main(): Promise<void> {
  let config: Config;
  try {
    config = parseConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger({ level: config.logLevel, pretty: config.logPretty });
  let proxy: RunningProxy;
  try {
    proxy = await startProxy(config, log);
  } catch (err) {
    // One plain line a person can act on (e.g. how to install redis-server).
    process.stderr.write(`interface-hash-server: ${(err as Error).message}\n`);
    process.exit(1);
  }
  log.info({ port: proxy.server.port, masters: proxy.server.router.servingMasters.length, epoch: proxy.server.router.slotMap.epoch }, 'ready');
  let firstSignalAt = 0;
  /** A second signal took over: the first one's clean stop no longer decides how we exit. */
  let killing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt !== 0) {
      // The same Ctrl-C often arrives twice (to the process and to its group, e.g. via
      // `timeout` or make); only a deliberate second one skips the clean stop. It must not
      // leave nodes running behind a proxy that is gone: they are SIGKILLed (their AOFs
      // hold every acknowledged write; the next start runs them again from their dirs).
      // Only a proxy killed with SIGKILL leaves its nodes running, for the next start to adopt.
      if (Date.now() - firstSignalAt < 1000 || killing) return;
      killing = true;
      log.warn({ signal }, 'second signal: killing the nodes and exiting without a clean stop');
      const exit = (): never => process.exit(130);
      setTimeout(exit, 5_000).unref(); // a provider that does not answer (Docker) does not keep us
      proxy.killNodes().then(exit, (err: Error) => {
        log.error({ err: err.message }, 'killing the nodes failed');
        exit();
      });
      return;
    }
    firstSignalAt = Date.now();
    log.info({ signal }, 'stopping');
    proxy.stop().then(
      () => {
        if (killing) return;
        log.info('stopped');
        process.exit(0);
      },
      (err: Error) => {
        if (killing) return;
        log.error({ err: err.message }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// Run when executed directly (`node dist/main.js`, `tsx src/main.ts`); bin/ imports main() instead.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
