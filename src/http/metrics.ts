/**
 * ProxyMetrics: the proxy's state in the Prometheus text format (GET /metrics).
 *
 * Nothing here is counted on the hot path: every metric is read on scrape (prom-client
 * `collect()`) from the state INFO reads — CommandStats (commandstats, errorstats and the
 * latency histograms behind latencystats), the server's connection counters, the router's
 * backend pools, the failover monitor's node health and promotions, shard recoveries, the
 * slot migrator and the slot map. So /metrics and INFO show the same figures, and a scrape
 * costs one pass over that state. The registry is this object's own (not prom-client's
 * global one): two proxies in one process (tests) do not mix.
 */
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProxyServer } from '../proxy/server.js';
import type { FailoverMonitor } from '../failover/failover-monitor.js';
import type { SlotMigrator } from '../cluster/operations/slot-migration.js';
import type { SlotMap } from '../cluster/slot-map.js';
import type { ConnectionState } from '../backend/connection.js';
import { staticStatuses } from '../admin/cluster-admin.js';
import type { CommandCounters } from '../ops/command-stats.js';
import { isBucketBoundary } from '../ops/latency-histogram.js';
import { NODE_HEALTH_STATES, type NodeStatus } from '../status/node-status.js';
import type { CoordinationStatus } from '../coordination/coordinator.js';
import type { KeySampler } from '../ops/key-sampler.js';

/** Hot and big keys exported per shard: the series of ihs_hotkey_* and ihs_bigkey_* stay at most this many per shard. */
export const METRIC_KEYS_PER_SHARD = 10;

export interface MetricsSources {
  /** Client connections, command counters and latency, the router and its backend pools. */
  server: ProxyServer;
  /** Node health, promotions and shard recoveries; undefined for a static cluster or a proxy that does not lead (its nodes come from the slot map). */
  failover: () => FailoverMonitor | undefined;
  /** The slot migration under way; undefined where this proxy does not lead. */
  migrator: () => SlotMigrator | undefined;
  /** The slot map routed by (slots per master). */
  slotMap: () => SlotMap;
  /** Hot and big keys (ihs_hotkey_*, ihs_bigkey_*): this process's sample; absent: none. */
  keys?: KeySampler;
  /** Who leads the control plane (ihs_coordination_*); undefined for a proxy alone. */
  coordination?: () => CoordinationStatus | undefined;
  /** --workers N: this worker's index (every series gets a `worker` label) and every worker's metrics (JSON). */
  workers?: { index: number; gather: () => Promise<unknown[]> };
}

/**
 * Histogram bounds, µs: powers of two from 32 µs to ~8.4 s. Each is a LatencyHistogram
 * bucket boundary, so the counts below each are exact, not interpolated.
 */
const BOUNDS_US: readonly number[] = Array.from({ length: 19 }, (_, i) => 2 ** (i + 5));
const CONNECTION_STATES: readonly ConnectionState[] = ['connecting', 'ready', 'backoff'];

for (const b of BOUNDS_US) if (!isBucketBoundary(b)) throw new Error(`metrics: ${b} µs is not a latency bucket boundary`);

/** prom-client's JSON of a registry (what workers hand each other). */
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

type HistogramData = Awaited<ReturnType<Histogram<'cmd' | 'le'>['get']>>;

/**
 * The command latency histogram, read from CommandStats' LatencyHistograms on scrape: a
 * prom-client Histogram in name and format, whose values come from there instead of observe().
 */
class CommandLatencyMetric extends Histogram<'cmd' | 'le'> {
  /** An unregistered twin: the metric's shape (name, help, type, aggregator) as prom-client builds it. */
  private readonly shape: Histogram<'cmd' | 'le'>;

  constructor(
    registry: Registry,
    private readonly commands: () => CommandCounters[],
  ) {
    const config = {
      name: 'ihs_command_duration_seconds',
      help: 'Time from a request to its reply, by command (INFO commandstats usec and latencystats read the same histogram)',
      labelNames: ['cmd'] as ('cmd' | 'le')[],
      buckets: BOUNDS_US.map((us) => us / 1e6),
    };
    super({ ...config, registers: [registry] });
    this.shape = new Histogram({ ...config, registers: [] });
  }

  override async get(): Promise<HistogramData> {
    const base = await this.shape.get();
    const values: HistogramData['values'] = [];
    for (const c of this.commands()) {
      const h = c.latency;
      if (h === undefined) continue;
      const below = h.cumulative(BOUNDS_US);
      BOUNDS_US.forEach((us, i) => values.push({ metricName: `${base.name}_bucket`, labels: { cmd: c.name, le: us / 1e6 }, value: below[i] }));
      values.push({ metricName: `${base.name}_bucket`, labels: { cmd: c.name, le: '+Inf' }, value: h.count });
      values.push({ metricName: `${base.name}_sum`, labels: { cmd: c.name }, value: h.sumUs / 1e6 });
      values.push({ metricName: `${base.name}_count`, labels: { cmd: c.name }, value: h.count });
    }
    return { ...base, values };
  }

  /** What the registry calls to render (prom-client prefers it to get()). */
  readonly getForPromString = (): Promise<HistogramData> => this.get();
}

export class ProxyMetrics {
  readonly registry = new Registry();

  private readonly gatherWorkers: (() => Promise<unknown[]>) | undefined;

  constructor(o: MetricsSources) {
    const registers = [this.registry];
    this.gatherWorkers = o.workers?.gather;
    if (o.workers !== undefined) this.registry.setDefaultLabels({ worker: String(o.workers.index) });
    const server = o.server;
    const stats = server.stats;
    // process_* and nodejs_* (CPU, memory, event loop lag, GC): read on scrape, but for GC
    // and event-loop-delay observers Node runs anyway.
    collectDefaultMetrics({ register: this.registry, prefix: 'ihs_' });

    // --- commands (INFO stats / commandstats / errorstats)
    const total = (name: string, help: string, read: () => number): Counter =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const gauge = (name: string, help: string, read: () => number): Gauge =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    total('ihs_commands_processed_total', 'Requests read from clients (INFO total_commands_processed)', () => stats.totalCommands);
    gauge('ihs_instantaneous_ops_per_sec', 'Requests per second over the last ~1.6 s (INFO instantaneous_ops_per_sec)', () => server.opsMeter.perSecond);
    new Counter({
      name: 'ihs_command_calls_total',
      help: 'Calls by command (INFO commandstats calls)',
      labelNames: ['cmd'],
      registers,
      collect() {
        this.reset();
        for (const c of server.commandStats.counters()) if (c.calls > 0) this.inc({ cmd: c.name }, c.calls);
      },
    });
    new Counter({
      name: 'ihs_command_rejected_calls_total',
      help: 'Calls the proxy refused before running them, by command (INFO commandstats rejected_calls)',
      labelNames: ['cmd'],
      registers,
      collect() {
        this.reset();
        for (const c of server.commandStats.counters()) if (c.rejected > 0) this.inc({ cmd: c.name }, c.rejected);
      },
    });
    new Counter({
      name: 'ihs_errors_total',
      help: 'Error replies the proxy answered itself, by error prefix (INFO errorstats; errors the nodes answer pass through uncounted)',
      labelNames: ['prefix'],
      registers,
      collect() {
        this.reset();
        for (const [prefix, count] of server.commandStats.errorCounts()) this.inc({ prefix }, count);
      },
    });
    new CommandLatencyMetric(this.registry, () => server.commandStats.counters());

    // --- hot and big keys (HOTKEYS, BIGKEYS): reset on each scrape, so a key that left the
    // top leaves /metrics too and the series stay bounded (METRIC_KEYS_PER_SHARD per shard).
    const keys = o.keys;
    if (keys !== undefined && keys.every !== 0) {
      new Gauge({
        name: 'ihs_hotkey_ops_per_second',
        help: `Estimated requests per second of each shard's ${METRIC_KEYS_PER_SHARD} hottest keys, from a sample of the keyed requests (HOTKEYS)`,
        labelNames: ['shard', 'key'],
        registers,
        collect() {
          this.reset();
          for (const k of keys.hotKeys(METRIC_KEYS_PER_SHARD)) this.set({ shard: k.shard, key: k.key }, k.opsPerSec);
        },
      });
      new Gauge({
        name: 'ihs_bigkey_bytes_per_second',
        help: `Estimated bytes per second of replies (direction=read) and requests (direction=written) of each shard's ${METRIC_KEYS_PER_SHARD} biggest keys by bytes (BIGKEYS)`,
        labelNames: ['shard', 'key', 'direction'],
        registers,
        collect() {
          this.reset();
          for (const k of keys.bigKeys(METRIC_KEYS_PER_SHARD)) {
            this.set({ shard: k.shard, key: k.key, direction: 'read' }, k.readPerSec);
            this.set({ shard: k.shard, key: k.key, direction: 'written' }, k.writtenPerSec);
          }
        },
      });
    }

    // --- client connections (INFO clients / stats)
    // --- per user (--users-file; INFO Users)
    const users = server.users;
    if (users !== null) {
      new Gauge({
        name: 'ihs_user_clients',
        help: 'Connections authenticated as each --users-file user (INFO Users clients)',
        labelNames: ['user'],
        registers,
        collect() {
          for (const u of users.all()) this.set({ user: u.name }, users.usageOf(u).clients);
        },
      });
      new Counter({
        name: 'ihs_user_commands_total',
        help: 'Requests admitted for each --users-file user (INFO Users commands)',
        labelNames: ['user'],
        registers,
        collect() {
          this.reset();
          for (const u of users.all()) this.inc({ user: u.name }, users.usageOf(u).commands);
        },
      });
      new Counter({
        name: 'ihs_user_limit_rejections_total',
        help: "Connections (limit=maxclients) and requests (limit=max_ops) refused by a user's proxy-maxclients or proxy-max-ops (INFO Users rejected_*)",
        labelNames: ['user', 'limit'],
        registers,
        collect() {
          this.reset();
          for (const u of users.all()) {
            const n = users.usageOf(u);
            this.inc({ user: u.name, limit: 'maxclients' }, n.rejectedMaxClients);
            this.inc({ user: u.name, limit: 'max_ops' }, n.rejectedMaxOps);
          }
        },
      });
    }
    gauge('ihs_connected_clients', 'Client connections open now (INFO connected_clients)', () => stats.connectedClients);
    gauge('ihs_blocked_clients', 'Clients waiting on a blocking command or CLIENT PAUSE (INFO blocked_clients)', () => {
      let n = 0;
      for (const s of server.sessions()) if (s.blocked) n++;
      return n;
    });
    gauge('ihs_tracking_clients', 'Clients with CLIENT TRACKING on (INFO tracking_clients)', () => server.trackingClients);
    total('ihs_client_connections_received_total', 'Client connections accepted (INFO total_connections_received)', () => stats.totalConnections);
    total('ihs_client_connections_rejected_total', 'Client connections refused at maxclients (INFO rejected_connections)', () => stats.rejectedConnections);
    total('ihs_clients_evicted_total', 'Clients disconnected because all clients together held more than --maxmemory-clients (INFO evicted_clients)', () => server.clientMemory.evicted);
    gauge('ihs_clients_memory_bytes', 'Bytes held for all clients: replies not yet taken, requests buffered (INFO mem_clients_normal)', () => server.clientMemory.total);
    gauge('ihs_clients_memory_cap_bytes', '--maxmemory-clients in bytes (0: no cap)', () => server.clientMemory.capBytes);

    // --- backend connections, per node
    new Gauge({
      name: 'ihs_backend_connections',
      help: "Connections to a node held by the proxy, by kind and state (dedicated ones in use are in ihs_backend_dedicated_connections_in_use)",
      labelNames: ['address', 'kind', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [address, pool] of server.router.backendPools) {
          const counts = new Map<string, number>();
          for (const [kind, conn] of pool.connections()) {
            const key = `${kind} ${conn.connectionState}`;
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
          // Every state of the shared connections is present, 0 or not, so a dashboard sees it change.
          for (const state of CONNECTION_STATES) this.set({ address, kind: 'shared', state }, counts.get(`shared ${state}`) ?? 0);
          for (const [key, n] of counts) {
            const [kind, state] = key.split(' ');
            if (kind !== 'shared') this.set({ address, kind, state }, n);
          }
        }
      },
    });
    new Gauge({
      name: 'ihs_backend_dedicated_connections_in_use',
      help: 'Dedicated connections (blocking commands, transactions) in use, per node',
      labelNames: ['address'],
      registers,
      collect() {
        this.reset();
        for (const [address, pool] of server.router.backendPools) this.set({ address }, pool.dedicatedCount);
      },
    });
    new Gauge({
      name: 'ihs_backend_pending_requests',
      help: 'Requests sent to a node on the shared connections and not answered yet',
      labelNames: ['address'],
      registers,
      collect() {
        this.reset();
        for (const [address, pool] of server.router.backendPools) this.set({ address }, pool.pendingCount);
      },
    });

    // --- replica reads (--read-from, READONLY; INFO replica_reads)
    total('ihs_replica_reads_total', 'Keyed reads answered by a replica (INFO replica_reads)', () => server.router.replicaReads?.served ?? 0);
    total(
      'ihs_replica_reads_fell_back_total',
      'Reads sent to a replica that the master answered instead: the replica was lost, loading or no longer served the slot (INFO replica_reads_fell_back)',
      () => server.router.replicaReads?.fellBack ?? 0,
    );
    new Gauge({
      name: 'ihs_replica_lag_bytes',
      help: "How many bytes of its master's replication stream a replica lacked at the last poll (replica reads only; +Inf: not known)",
      labelNames: ['address'],
      registers,
      collect() {
        this.reset();
        for (const r of server.router.replicaReads?.replicas() ?? []) this.set({ address: r.address }, r.lagBytes);
      },
    });
    new Gauge({
      name: 'ihs_replica_read_usable',
      help: 'Whether a replica serves reads now (1) or is skipped (0: failing, link down, silent, or lagging past --max-replica-lag)',
      labelNames: ['address'],
      registers,
      collect() {
        this.reset();
        for (const r of server.router.replicaReads?.replicas() ?? []) this.set({ address: r.address }, r.usable ? 1 : 0);
      },
    });

    // --- nodes (INFO # Nodes; LIST)
    const nodes = (): NodeStatus[] => o.failover()?.status() ?? staticStatuses(o.slotMap());
    new Gauge({
      name: 'ihs_node_up',
      help: 'Whether a node is up (1) or not (0: any other state of ihs_node_state), with its role',
      labelNames: ['node', 'address', 'role'],
      registers,
      collect() {
        this.reset();
        for (const n of nodes()) this.set({ node: n.id, address: `${n.host}:${n.port}`, role: n.role }, n.state === 'up' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ihs_node_state',
      help: "A node's health: 1 for its current state, 0 for the others",
      labelNames: ['node', 'address', 'state'],
      registers,
      collect() {
        this.reset();
        for (const n of nodes()) {
          const address = `${n.host}:${n.port}`;
          for (const state of NODE_HEALTH_STATES) this.set({ node: n.id, address, state }, n.state === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'ihs_slots',
      help: 'Hash slots served by each master (the slot map the proxy routes by)',
      labelNames: ['node', 'address'],
      registers,
      collect() {
        this.reset();
        const map = o.slotMap();
        const counts = new Uint32Array(map.masters.length);
        for (const m of map.slotToMaster) if (m < counts.length) counts[m]++;
        const idOf = new Map(nodes().map((n) => [`${n.host}:${n.port}`, n.id]));
        map.masters.forEach((m, i) => {
          if (counts[i] > 0) this.set({ node: idOf.get(m.address) ?? m.address, address: m.address }, counts[i]);
        });
      },
    });

    // --- failovers and shard recoveries (INFO # Recovery)
    new Counter({
      name: 'ihs_failovers_total',
      help: 'Replicas promoted by this proxy process: for a failed master (automatic) or by FAILOVER (planned)',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        const counts = o.failover()?.failoverCounts() ?? { automatic: 0, planned: 0 };
        this.inc({ kind: 'automatic' }, counts.automatic);
        this.inc({ kind: 'planned' }, counts.planned);
      },
    });
    total('ihs_shard_recoveries_total', 'Shard recoveries (a master lost with every replica) run by this process, done or under way', () => o.failover()?.recoveryStatus().length ?? 0);
    gauge('ihs_shard_recoveries_in_progress', 'Shard recoveries under way (INFO recoveries_in_progress)', () => o.failover()?.recoveryStatus().filter((r) => r.phase !== 'done').length ?? 0);

    // --- slot migration (INFO # Migration)
    gauge('ihs_migration_in_progress', 'Whether a slot migration (ADD MASTER, REMOVE, REBALANCE) is under way', () => (o.migrator()?.progress() === undefined ? 0 : 1));
    gauge('ihs_migration_slots_done', 'Slots moved so far by the migration under way (0 when none)', () => o.migrator()?.progress()?.slotsDone ?? 0);
    gauge('ihs_migration_slots_total', 'Slots the migration under way moves (0 when none)', () => o.migrator()?.progress()?.slotsTotal ?? 0);
    gauge('ihs_migration_keys_moved', 'Keys moved so far by the migration under way (0 when none)', () => o.migrator()?.progress()?.keysMoved ?? 0);

    // --- coordination (INFO # Coordination)
    const coordination = o.coordination;
    if (coordination !== undefined) {
      gauge('ihs_coordination_leader', 'Whether this proxy process runs the control plane (1) or follows (0)', () => (coordination()?.role === 'leader' ? 1 : 0));
      gauge('ihs_coordination_proxies', 'Proxy processes serving this cluster that this one knows of', () => coordination()?.proxies ?? 1);
      gauge('ihs_coordination_workers', 'Worker processes serving the port on this host', () => coordination()?.workers ?? 1);
      gauge('ihs_coordination_leader_known', 'Whether a control-plane leader is known (0 during an election or while etcd is unreachable)', () => (coordination()?.leader === '' ? 0 : 1));
    }
  }

  /** This process's metrics as prom-client's JSON (what a worker hands the one rendering /metrics). */
  json(): Promise<MetricsJson> {
    return this.registry.getMetricsAsJSON();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text, every metric read now; with --workers, every worker's, each series labelled with its worker. */
  async render(): Promise<string> {
    if (this.gatherWorkers === undefined) return this.registry.metrics();
    const all = (await this.gatherWorkers()) as MetricsJson[];
    return AggregatorRegistry.aggregate(all).metrics();
  }
}
