/**
 * interface-hash-server: wire the pieces together.
 *   config → logger → coordinator (who leads the control plane)
 *     → leader: ControlPlane.open (document, nodes, formation) | follower: the leader's document
 *     → SlotMapSource (the cluster's slot map) → Router → ProxyServer (+ HTTP)
 *     → leader: ControlPlane.attach (failover, migration, admin)
 * and stop them in reverse order on SIGINT/SIGTERM. With --workers N this process is the
 * Supervisor of N such processes (coordination/supervisor.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseConfig, type Config } from './config.js';
import { AclUsers } from './auth/acl-users.js';
import { createLogger, type Logger } from './log.js';
import type { ClusterManager } from './cluster/cluster-manager.js';
import { ControlClients, type NodeAddress } from './nodes/control-client.js';
import { createRuntime, type Runtime } from './net/runtime.js';
import { ensureNodeTls, NODE_COMMON_NAME } from './nodes/node-tls.js';
import { BackendPool } from './backend/pool.js';
import type { ClusterErrorHandler } from './backend/connection.js';
import { AckPolicy } from './backend/replica-ack.js';
import { Router } from './proxy/datapath/router.js';
import { ProxyServer } from './proxy/server.js';
import type { ControlPlaneView } from './proxy/control-plane.js';
import { SlotMapSource } from './cluster/slot-map-source.js';
import type { FailoverMonitor } from './failover/failover-monitor.js';
import { adminVerbTable } from './admin/admin-verbs.js';
import { KeySampler } from './ops/key-sampler.js';
import { RouteMeters } from './ops/route-meters.js';
import type { SlotMigrator } from './cluster/operations/slot-migration.js';
import { ScriptRegistry } from './proxy/datapath/script-registry.js';
import { TopologyView } from './cluster/topology/topology-view.js';
import { HttpServer } from './http/http-server.js';
import { ProxyMetrics } from './http/metrics.js';
import { ControlPlane, type ProxyHooks } from './control-plane.js';
import type { CoordinationStatus, Coordinator, ProxyRecord, Role } from './coordination/coordinator.js';
import { SoloCoordinator } from './coordination/solo-coordinator.js';
import type { EtcdCoordinatorOptions } from './coordination/etcd-coordinator.js';
import { WorkerCoordinator } from './coordination/worker-coordinator.js';
import { WORKER_ENV, type ToWorker } from './coordination/worker-messages.js';
import { Supervisor } from './coordination/supervisor.js';
import { AdminSwitch } from './coordination/admin-switch.js';
import { RemoteAdmin } from './coordination/remote-admin.js';
import type { WorkerStats } from './status/worker-stats.js';
import { ClusterEventLog } from './status/cluster-events.js';
import { MetricsHistory } from './status/metrics-history.js';
import { MetricsSampler, servingMasters } from './http/metrics-sampler.js';
import { slotRatesMessage, summedSlotLoad } from './ops/slot-load.js';

export type { ProxyHooks } from './control-plane.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

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

/** Pools of READONLY connections to replicas, for replica reads (no --ack: they carry reads only; redirects go back to the master). */
function replicaPoolFactory(password: string, config: Config, log: Logger, runtime: Runtime) {
  return (host: string, port: number): BackendPool =>
    new BackendPool(
      { id: `${host}:${port}`, host, port, password },
      {
        size: config.poolSize,
        connectTimeoutMs: config.connectTimeout,
        commandTimeoutMs: config.commandTimeout,
        maxDedicated: 0,
        log,
        runtime,
        readonly: true,
      },
    );
}

/** A running proxy: what tests and main() hold on to. */
export interface RunningProxy {
  server: ProxyServer;
  /** The cluster this proxy's control plane runs; throws on a proxy that does not lead. */
  readonly cluster: ClusterManager;
  slotMaps: SlotMapSource;
  /** Moves slots with their keys (resharding, REBALANCE); throws on a proxy that does not lead. */
  readonly migrator: SlotMigrator;
  /** The HTTP API, /healthz, /metrics and the status page; undefined with --http-port 0. */
  http: HttpServer | undefined;
  /** The proxy's Prometheus metrics (GET /metrics): render() and contentType. */
  metrics: ProxyMetrics;
  /** The failover monitor; undefined for a static cluster or a proxy that does not lead. */
  readonly failover: FailoverMonitor | undefined;
  /** Who leads the control plane (a proxy alone: itself, mode 'single'). */
  coordination(): CoordinationStatus;
  /**
   * Stop serving, and the control plane if this proxy leads; `nodes` says what becomes of
   * the nodes then: 'stop' them, or 'keep' them running for the other proxies. Default: a
   * proxy alone stops them; a worker keeps them; an etcd proxy keeps them while others are
   * registered.
   */
  stop(nodes?: 'stop' | 'keep'): Promise<void>;
  /**
   * Read the TLS certificate files again (SIGHUP) for the TLS port and HTTPS: new
   * connections get the new certificate, open ones keep theirs. A file that cannot be read
   * keeps the current certificate; the errors are returned (and logged).
   */
  reloadTls(): Error[];
  /** SIGKILL every node the proxy runs, now (a second Ctrl-C during stop()). */
  killNodes(): Promise<void>;
  /**
   * Stop serving and acting, and let go of the data dir, but leave every node (and any
   * recovery instance) running: what a proxy killed with SIGKILL leaves behind. For tests
   * of resuming on the same data dir in one process.
   */
  abandon(): Promise<void>;
}

/** What a worker process hands startProxy (main() builds it from WORKER_ENV). */
export interface WorkerLink {
  index: number;
}

/**
 * The peer listener: a RESP port of this process alone (the client port may be shared by
 * several workers), where other proxies forward admin verbs when this one leads. Opened
 * first, so the coordinator can announce it; its connections are served once the proxy is.
 */
async function openPeerListener(host: string): Promise<{ server: net.Server; address: NodeAddress; serve: (accept: (s: net.Socket) => void) => void }> {
  let accept: (s: net.Socket) => void = (s) => s.destroy();
  const server = net.createServer({ noDelay: true, pauseOnConnect: true }, (s) => accept(s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return { server, address: { host: advertisedHost(host), port }, serve: (fn) => (accept = fn) };
}

/** The address other hosts reach a listener bound to `host` at: a wildcard means this host's first external IPv4. */
function advertisedHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const addrs of Object.values(os.networkInterfaces())) {
    const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4 !== undefined) return v4.address;
  }
  return '127.0.0.1';
}

export async function startProxy(config: Config, log: Logger, hooks: ProxyHooks = {}, worker?: WorkerLink): Promise<RunningProxy> {
  // Read first: a mistake in the users file stops the start before any node does.
  const users = config.usersFile === '' ? undefined : AclUsers.fromFile(config.usersFile);
  // This proxy's own: one flush per turn, faults to its log, and the routes every socket to a node dials through.
  // --node-tls: the cluster's certificates exist before anything dials a node.
  const nodeTls = config.nodeTls
    ? {
        ...(await ensureNodeTls(config.dataDir, config.nodeTlsCaCertFile === '' ? undefined : { certFile: config.nodeTlsCaCertFile, keyFile: config.nodeTlsCaKeyFile })).client,
        // Node containers are at the Docker network's addresses, which the certificate cannot name.
        ...(config.provider === 'docker' ? { commonName: NODE_COMMON_NAME } : {}),
      }
    : undefined;
  const runtime = createRuntime({ log, nodeTls });
  // Its control-plane connections dial through those routes too; each component adds the password it knows.
  const controlRoutes = new ControlClients({ runtime });
  const scripts = new ScriptRegistry();
  const view = new TopologyView();
  // The outage log names a node by the cluster's id of it, from the document as it is then.
  runtime.outages.nameNodesWith((host, port) => view.nodeIdAt(host, port));
  // The cluster's timeline: this process's, kept across the control plane's starts and stops.
  const events = new ClusterEventLog(undefined, (err) => log.error({ err: err.message }, 'cluster event listener failed'));
  const startedAt = new Date().toISOString();
  const peer = config.workers > 1 || config.coordinator.length > 0 ? await openPeerListener(config.bind) : undefined;
  // Filled in once serving: the stats a worker shares, and its metrics.
  let server: ProxyServer | undefined;
  let metrics: ProxyMetrics | undefined;
  const workers =
    worker !== undefined && config.coordinator.length === 0
      ? new WorkerCoordinator({
          index: worker.index,
          workers: config.workers,
          dataDir: config.dataDir,
          log,
          stats: () => workerStats(worker.index, server, coordinator.status().role),
          metrics: async () => (metrics === undefined ? [] : metrics.json()),
          slotLoad: () => (router === undefined ? { seconds: 0, slots: [], rates: [] } : slotRatesMessage(router.slotLoad.ratesNow())),
        })
      : undefined;
  const coordinator: Coordinator =
    config.coordinator.length > 0
      ? await etcdCoordinator({
          endpoints: config.coordinator,
          clusterName: config.clusterName,
          ttlSeconds: config.leaderTtl,
          worker: worker?.index,
          workers: config.workers,
          dataDir: config.dataDir,
          log,
        })
      : (workers ?? new SoloCoordinator(config.dataDir));
  const alone = coordinator.mode === 'single';
  const store = coordinator.store;
  // Where clients reach this proxy: the plain port, or the TLS one without it.
  const clientPort = (): number => (config.plainPort ? (server?.port ?? config.port) : (server?.tlsPort ?? config.tlsPort ?? 0));
  const self = (): ProxyRecord => ({
    id: coordinator.proxyId,
    address: `${advertisedHost(config.bind)}:${clientPort()}`,
    peer: peer?.address ?? { host: config.bind, port: 0 },
    version: VERSION,
    startedAt,
    pid: process.pid,
  });
  const firstRole = await coordinator.initialRole(self());

  // A proxy among several (alone: never) takes over from another leader, whose nodes run on.
  const planeOptions = { config, log, dial: runtime.dial, routes: controlRoutes, scripts, store, onDocument: (doc: Parameters<TopologyView['set']>[0]) => view.set(doc), hooks, takeover: !alone, events };
  let control: ControlPlane | undefined;
  const closeCoordinator = async (): Promise<void> => {
    await coordinator.close();
    peer?.server.close();
  };
  try {
    if (firstRole === 'leader') {
      control = await ControlPlane.open(planeOptions);
    } else {
      log.info({ store: store.location }, 'following the control-plane leader: waiting for the cluster document');
      view.follow(store, 1000, log);
      await view.formed();
    }
  } catch (err) {
    view.unfollow();
    await closeCoordinator();
    throw err;
  }
  let router: Router | undefined;
  const slotMaps = new SlotMapSource({
    seeds: () => view.seedAddresses(),
    clients: controlRoutes.as(() => view.nodePassword),
    log,
    onMap: (map) => {
      router?.setSlotMap(map);
      server?.followSlotMap(map); // client-side caching: each master's invalidation link
      control?.clusterView(map);
    },
    intervalMs: config.slotMapRefresh,
    connectTimeoutMs: config.connectTimeout,
    commandTimeoutMs: config.connectTimeout,
  });
  const giveUp = async (err: unknown): Promise<never> => {
    slotMaps.close();
    view.unfollow();
    await control?.stop(coordinator.status().proxies > 1 ? 'detach' : 'stop-nodes');
    await closeCoordinator();
    throw err;
  };
  const firstMap = await slotMaps.refresh().catch(giveUp);
  // Every write would wait out --ack-timeout and fail on a master without a replica: say so now.
  const unreplicated = config.ack === 'replica' ? firstMap.servingMasters().map((i) => firstMap.masters[i]).find((m) => m.replicas.length === 0) : undefined;
  if (unreplicated !== undefined) await giveUp(new Error(`--ack replica needs at least one replica per master; master ${unreplicated.address} has none`));
  // Hot and big keys: this process's sample of its clients' keyed requests, shards named by their master's node id.
  const keySampler = new KeySampler({ every: config.hotkeysSampleRate, nameShard: (host, port) => view.nodeIdAt(host, port) });
  router = new Router(firstMap, poolFactory(view.nodePassword, config, log, runtime), slotMaps, config.failoverTimeout, {
    readFrom: config.readFrom,
    maxLag: config.maxReplicaLag,
    makePool: replicaPoolFactory(view.nodePassword, config, log, runtime),
  }, new RouteMeters(undefined, keySampler));
  const routing = router;
  slotMaps.start();
  let http: HttpServer | undefined;
  // Read when a verb runs: the ports are known once listening (both may be 0 in the config).
  const proxyListeners = (): NodeAddress[] => [
    ...(server === undefined || !config.plainPort ? [] : [{ host: config.bind, port: server.port }]),
    ...(server?.tlsPort === undefined ? [] : [{ host: config.bind, port: server.tlsPort }]),
    ...(http === undefined ? [] : [{ host: config.httpBind, port: http.port }]),
    ...(peer === undefined ? [] : [peer.address]),
  ];
  // REBALANCE LOAD plans from every worker's counts (each counts what it routes).
  const slotLoad = workers === undefined ? routing.slotLoad : summedSlotLoad(routing.slotLoad, () => workers.collectSlotLoad(3000));
  const link = () => ({ gate: routing, slotMaps, firstMap: routing.slotMap, proxyListeners, slotLoad });
  if (control !== undefined) await control.attach(link());

  const remote = new RemoteAdmin({
    leader: () => {
      const at = coordinator.leaderPeer();
      return at === undefined ? undefined : { id: coordinator.status().leader, peer: at };
    },
    noLeaderReason: () => coordinator.status().unavailable || 'an election is under way',
    auth: config.adminPassword !== '' ? ['admin', config.adminPassword] : config.requirepass !== '' ? [config.requirepass] : [],
    connectTimeoutMs: config.connectTimeout,
    runtime,
  });
  const admin = new AdminSwitch({
    local: () => control?.local,
    remote,
    topology: () => view.topology,
    coordination: () => (alone ? undefined : coordinator.status()),
    slotMap: () => slotMaps.refresh(),
    clients: controlRoutes.as(() => view.nodePassword),
    commandTimeoutMs: config.connectTimeout,
  });
  // What INFO shows of the control plane: this process's, while it leads.
  const controlView: ControlPlaneView = {
    get nodeStatus() {
      const failover = control?.failover;
      return failover === undefined ? undefined : () => failover.status();
    },
    get failoverCounts() {
      const failover = control?.failover;
      return failover === undefined ? undefined : () => failover.failoverCounts();
    },
    get recoveries() {
      const failover = control?.failover;
      return failover === undefined ? undefined : () => failover.recoveryStatus();
    },
    get migration() {
      const migrator = control?.migrator;
      return migrator === undefined ? undefined : () => migrator.progress();
    },
    coordination: alone ? undefined : () => coordinator.status(),
    workers: workers === undefined ? undefined : () => workers.workers(),
  };
  server = new ProxyServer(routing, {
    host: config.bind,
    port: config.port,
    plain: config.plainPort,
    reusePort: config.workers > 1,
    maxClients: config.maxclients,
    requirePass: config.requirepass,
    users,
    runtime,
    adminPassword: config.adminPassword,
    adminVerbs: adminVerbTable(admin, alone ? undefined : admin, keySampler),
    maxBulkLen: config.protoMaxBulkLen,
    maxmemoryClients: config.maxmemoryClients,
    clusterNodeId: createHash('sha1').update(`interface-hash-server:${path.resolve(config.dataDir)}`).digest('hex'),
    version: VERSION,
    log,
    control: controlView,
    pubsub: { nodePassword: view.nodePassword, connectTimeoutMs: config.connectTimeout, commandTimeoutMs: config.commandTimeout, outputLimit: config.clientOutputBufferLimitPubsub },
    tls: config.tlsPort === undefined ? undefined : { port: config.tlsPort, files: config.tls },
    nodes: {
      scripts,
      rememberConfig: (pairs) => admin.rememberConfig(pairs),
      clients: controlRoutes.as(() => view.nodePassword),
      commandTimeoutMs: config.connectTimeout,
    },
  });
  const proxy = server;
  peer?.serve((socket) => proxy.accept(socket));
  metrics = new ProxyMetrics({
    server: proxy,
    failover: () => control?.failover,
    migrator: () => control?.migrator,
    slotMap: () => routing.slotMap,
    keys: keySampler,
    coordination: alone ? undefined : () => coordinator.status(),
    workers: worker === undefined || workers === undefined ? undefined : { index: worker.index, gather: () => workers.collectMetrics(3000) },
  });
  // The status page's charts: sampled only where there is a page to show them.
  const history = new MetricsHistory();
  const sampler =
    config.httpPort === 0
      ? undefined
      : new MetricsSampler({
          history,
          totalCommands: () => proxy.stats.totalCommands,
          latencies: () => proxy.commandStats.counters().flatMap((c) => (c.latency === undefined ? [] : [c.latency])),
          masters: () => servingMasters(routing.slotMap, view.topology),
          clients: controlRoutes.as(() => view.nodePassword),
          timeoutMs: config.connectTimeout,
        });
  try {
    await proxy.listen();
    // After the RESP port: the HTTP data routes are clients of it.
    if (config.httpPort !== 0) {
      http = await HttpServer.start({
        host: config.httpBind,
        port: config.httpPort,
        reusePort: config.workers > 1,
        proxyHost: config.bind,
        proxyTls: config.plainPort ? undefined : { ...config.tlsClient, caCertFile: config.tls.caCertFile },
        proxy,
        admin,
        adminPassword: config.adminPassword,
        dataTimeoutMs: config.commandTimeout + config.failoverTimeout,
        version: VERSION,
        log,
        metrics,
        failovers: () => control?.failover?.failoverCount() ?? 0,
        coordination: () => coordinator.status(),
        events,
        history,
        keys: keySampler,
        tls: config.httpTls ? config.tls : undefined,
      });
      sampler?.start();
    }
  } catch (err) {
    sampler?.close();
    await proxy.close();
    routing.close();
    await giveUp(err);
  }

  /** Set by stop()/abandon(): no role change starts a control plane any more. */
  let closing = false;
  // From here on the role may change: a follower elected opens a control plane, a leader
  // that loses the election (etcd unreachable, the supervisor's word) stops its own at once.
  if (!alone) {
    await coordinator.start(self(), {
      becomeLeader: async () => {
        if (closing) throw new Error('this proxy is stopping');
        view.unfollow();
        const plane = await ControlPlane.open(planeOptions);
        control = plane;
        await plane.attach(link());
        log.info('control plane started: this proxy leads');
      },
      becomeFollower: async (reason) => {
        if (closing) return; // stop() deals with the control plane
        const plane = control;
        control = undefined;
        await plane?.stop('detach');
        view.follow(store, 1000, log);
        log.warn({ reason }, 'control plane stopped: following the leader');
      },
    });
  }

  let stopping: Promise<void> | null = null;
  const quiesce = async (): Promise<void> => {
    // Before the RESP port: HTTP requests under way (data, admin changes) finish through it.
    sampler?.close();
    await http?.close();
    await proxy.close();
    slotMaps.close();
    view.unfollow();
    routing.close();
  };
  const leading = (): ControlPlane => {
    if (control === undefined) throw new Error(`this proxy does not run the control plane (the leader is ${coordinator.status().leader || 'not known'})`);
    return control;
  };
  return {
    server: proxy,
    get cluster() {
      return leading().cluster;
    },
    slotMaps,
    get migrator() {
      const migrator = leading().migrator;
      if (migrator === undefined) throw new Error('the control plane is not attached yet');
      return migrator;
    },
    http,
    metrics,
    get failover() {
      return control?.failover;
    },
    coordination: () => coordinator.status(),
    stop(nodes) {
      closing = true;
      stopping ??= (async () => {
        // Other proxies serving on keep the nodes; the last one stops them.
        const keep = nodes === undefined ? worker !== undefined || coordinator.status().proxies > 1 : nodes === 'keep';
        // `control` stays set: a stopped plane acts no more, and tests read its cluster after.
        await control?.stop(keep ? 'detach' : 'stop-nodes');
        await quiesce();
        await closeCoordinator();
      })();
      return stopping;
    },
    reloadTls() {
      const errors = [proxy.reloadTls(), http?.reloadTls() ?? null].filter((e) => e !== null);
      for (const err of errors) log.error({ err: err.message }, 'TLS certificate not reloaded: keeping the current one');
      if (errors.length === 0 && (config.tlsPort !== undefined || config.httpTls)) log.info({ cert: config.tls.certFile }, 'TLS certificate reloaded');
      return errors;
    },
    killNodes() {
      return control?.killNodes() ?? Promise.resolve();
    },
    abandon() {
      closing = true;
      stopping ??= (async () => {
        await control?.stop('detach');
        await quiesce();
        await closeCoordinator();
      })();
      return stopping;
    },
  };
}

/**
 * The etcd coordinator, loaded only for --coordinator: etcd3 and the gRPC stack it pulls in
 * cost ~16 MB of RSS that a proxy without one should not carry.
 */
async function etcdCoordinator(o: Omit<EtcdCoordinatorOptions, 'proxyId'> & { worker: number | undefined }): Promise<Coordinator> {
  const { EtcdCoordinator, newProxyId } = await import('./coordination/etcd-coordinator.js');
  return new EtcdCoordinator({ ...o, proxyId: o.worker === undefined ? newProxyId() : `${newProxyId()}-w${o.worker}` });
}

/** A worker's counters for the others (INFO sums them). */
function workerStats(index: number, server: ProxyServer | undefined, role: Role): WorkerStats {
  const stats = server?.stats;
  const net = server?.netBytes() ?? { input: 0, output: 0 };
  return {
    index,
    pid: process.pid,
    role,
    connectedClients: stats?.connectedClients ?? 0,
    totalConnections: stats?.totalConnections ?? 0,
    totalCommands: stats?.totalCommands ?? 0,
    opsPerSec: server?.opsMeter.perSecond ?? 0,
    netInputBytes: net.input,
    netOutputBytes: net.output,
    rejectedConnections: stats?.rejectedConnections ?? 0,
    at: Date.now(),
  };
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
  const workerIndex = process.env[WORKER_ENV];
  if (config.workers > 1 && workerIndex === undefined) return superviseWorkers(config, log);
  const worker = workerIndex === undefined ? undefined : { index: Number(workerIndex) };
  let proxy: RunningProxy;
  try {
    proxy = await startProxy(config, log, {}, worker);
  } catch (err) {
    // One plain line a person can act on (e.g. how to install redis-server).
    process.stderr.write(`interface-hash-server: ${(err as Error).message}\n`);
    process.exit(1);
  }
  log.info({ port: proxy.server.port, tlsPort: proxy.server.tlsPort, masters: proxy.server.router.servingMasters.length, epoch: proxy.server.router.slotMap.epoch }, 'ready');
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
  // SIGHUP: a renewed certificate is taken up without a restart (workers: each takes it, the supervisor passes it on).
  process.on('SIGHUP', () => void proxy.reloadTls());
  if (worker !== undefined) {
    superviseMe(proxy, log);
    return;
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * A worker is stopped by its supervisor ('stop' over IPC), which orders the workers: the
 * terminal's Ctrl-C reaches the whole process group, so a worker ignores SIGINT. SIGTERM
 * sent to this worker alone stops it (leaving the nodes; the supervisor starts it again);
 * a supervisor that is gone (its IPC channel closed) ends it the same way.
 */
function superviseMe(proxy: RunningProxy, log: Logger): void {
  const exit = (code: number) => () => process.exit(code);
  const stop = (nodes: 'stop' | 'keep', why: string): void => {
    log.info({ nodes, why }, 'worker stopping');
    proxy.stop(nodes).then(exit(0), (err: Error) => {
      log.error({ err: err.message }, 'stop failed');
      process.exit(1);
    });
  };
  process.on('message', (m: ToWorker) => {
    if (m.t === 'stop') stop(m.nodes, 'the supervisor stops the workers');
    if (m.t === 'kill-nodes') {
      setTimeout(exit(130), 5_000).unref();
      proxy.killNodes().then(exit(130), exit(130));
    }
  });
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => stop('keep', 'SIGTERM'));
  process.on('disconnect', () => stop('keep', 'the supervisor is gone'));
}

/** --workers N: this process runs the workers (coordination/supervisor.ts) and serves nothing itself. */
async function superviseWorkers(config: Config, log: Logger): Promise<void> {
  if (process.platform !== 'linux') {
    process.stderr.write('interface-hash-server: --workers needs Linux (SO_REUSEPORT spreads one port over the workers)\n');
    process.exit(2);
  }
  const supervisor = new Supervisor({ workers: config.workers, log, script: process.argv[1], args: process.argv.slice(2), execArgv: process.execArgv });
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt !== 0) {
      if (Date.now() - firstSignalAt < 1000) return; // the same Ctrl-C, twice (see main)
      log.warn({ signal }, 'second signal: killing the nodes and exiting without a clean stop');
      supervisor.killNodes();
      setTimeout(() => process.exit(130), 5_000).unref();
      return;
    }
    firstSignalAt = Date.now();
    log.info({ signal, workers: config.workers }, 'stopping the workers');
    void supervisor.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', () => supervisor.signalWorkers('SIGHUP'));
  log.info({ workers: config.workers, port: config.port }, 'starting workers');
  await supervisor.run();
  log.info('stopped');
  process.exit(0);
}

// Run when executed directly (`node dist/main.js`, `tsx src/main.ts`); bin/ imports main() instead.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
