/**
 * INFO as the proxy answers it, with every section and field of Redis 7.0, in its format:
 * - Server, Clients, Stats (connections, commands, ops/s, net bytes), CPU, Commandstats
 *   and Errorstats describe the proxy itself (its process, its clients, its traffic);
 * - Memory, Persistence, the nodes' share of Stats (keyspace hits, expired keys, ...) and
 *   Keyspace are merged over the masters that answered: counts and bytes summed, flags
 *   and durations the largest, times the oldest, statuses the worst (mergeField);
 * - Replication and Cluster describe the cluster (the proxy as its one master), plus the
 *   proxy's own sections Nodes, Recovery and Migration, and with several proxies
 *   Coordination (who leads the control plane) and Workers (--workers N: each worker's
 *   counters; Stats and connected_clients are then summed over the workers).
 * redis_version is the nodes' (clients check it for features; the nodes serve them), and
 * redis_mode is `cluster`: the proxy answers CLUSTER SLOTS/NODES as a one-node cluster and
 * cluster-mode clients (ioredis Cluster, redis-py RedisCluster) work against it.
 * Masters that did not answer are listed in the Cluster section (`masters_down`,
 * `master_down<n>:id=...,ip=...,port=...`), so the sums are read knowing what they leave out.
 */
import type { AclUsers } from '../../auth/acl-users.js';
import { randomBytes } from 'node:crypto';
import type { ProxyContext } from '../context.js';
import type { ClientSession } from '../session.js';
import { CHANNEL, SHARD } from '../modes/pubsub.js';
import type { MigrationProgress } from '../../cluster/operations/slot-migration.js';
import type { NodeStatus } from '../../status/node-status.js';
import type { RecoveryStatus } from '../../status/recovery-status.js';
import type { CoordinationStatus } from '../../status/coordination-status.js';
import type { WorkerStats } from '../../status/worker-stats.js';

/** One node's INFO: section (lowercase) → field → value, fields in the node's order. */
type NodeInfo = Map<string, Map<string, string>>;

/** Parse one node's INFO text into section → field → value. */
function parseInfo(text: string): NodeInfo {
  const sections = new Map<string, Map<string, string>>();
  let current = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    if (line.startsWith('# ')) {
      current = new Map();
      sections.set(line.slice(2).toLowerCase(), current);
    } else if (line.includes(':')) {
      const at = line.indexOf(':');
      current.set(line.slice(0, at), line.slice(at + 1));
    }
  }
  return sections;
}

function humanBytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(2)}${units[i]}`;
}

interface KeyspaceTotals {
  keys: number;
  expires: number;
  ttlWeighted: number;
}

/** Sum `db0:keys=..,expires=..,avg_ttl=..` lines over nodes. */
function sumKeyspace(nodes: NodeInfo[]): Map<string, KeyspaceTotals> {
  const dbs = new Map<string, KeyspaceTotals>();
  for (const node of nodes) {
    for (const [db, value] of node.get('keyspace') ?? []) {
      const fields = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]));
      const t = dbs.get(db) ?? { keys: 0, expires: 0, ttlWeighted: 0 };
      const expires = Number(fields.expires ?? 0);
      t.keys += Number(fields.keys ?? 0);
      t.expires += expires;
      t.ttlWeighted += Number(fields.avg_ttl ?? 0) * expires;
      dbs.set(db, t);
    }
  }
  return dbs;
}

function sumField(nodes: NodeInfo[], section: string, field: string): number {
  let total = 0;
  for (const n of nodes) total += Number(n.get(section)?.get(field) ?? 0) || 0;
  return total;
}

function maxField(nodes: NodeInfo[], section: string, field: string): number {
  let max = 0;
  for (const n of nodes) max = Math.max(max, Number(n.get(section)?.get(field) ?? 0) || 0);
  return max;
}

/**
 * The real replicas, so lost redundancy shows: those the health monitor sees up (or, for a
 * static cluster, those the cluster does not flag as failing), one `slaveN` line each.
 */
function replication(ctx: ProxyContext): [string, string | number][] {
  const replicas: { host: string; port: number; up: boolean }[] = [];
  if (ctx.control.nodeStatus !== undefined) {
    for (const n of ctx.control.nodeStatus()) if (n.role === 'replica') replicas.push({ host: n.host, port: n.port, up: n.state === 'up' });
  } else {
    const map = ctx.router.slotMap;
    for (const i of ctx.router.servingMasters) for (const r of map.masters[i].replicas) replicas.push({ host: r.host, port: r.port, up: !r.failing });
  }
  const up = replicas.filter((r) => r.up);
  return [
    ['role', 'master'],
    ['connected_slaves', up.length],
    ...up.map((r, i): [string, string] => [`slave${i}`, `ip=${r.host},port=${r.port},state=online`]),
  ];
}

/** Replication fields after the replicas: the masters' offsets and backlogs, merged. */
function replicationTail(nodes: NodeInfo[], replId: string): [string, string | number][] {
  return [
    ['master_failover_state', 'no-failover'],
    ['master_replid', replId],
    ['master_replid2', '0'.repeat(40)],
    ['master_repl_offset', sumField(nodes, 'replication', 'master_repl_offset')],
    ['second_repl_offset', -1],
    ['repl_backlog_active', maxField(nodes, 'replication', 'repl_backlog_active')],
    ['repl_backlog_size', maxField(nodes, 'replication', 'repl_backlog_size')],
    ['repl_backlog_first_byte_offset', 0],
    ['repl_backlog_histlen', sumField(nodes, 'replication', 'repl_backlog_histlen')],
  ];
}

/** One line per node the proxy runs: our id, address, role, health, master. */
function nodesSection(nodes: readonly NodeStatus[], failovers: Readonly<{ automatic: number; planned: number }> | undefined): [string, [string, string | number][]] {
  return [
    'Nodes',
    [
      // The promotions this proxy made: the same counts as /metrics ihs_failovers_total.
      ...(failovers === undefined ? [] : ([['failovers_automatic', failovers.automatic], ['failovers_planned', failovers.planned]] as [string, number][])),
      ...nodes.map((n, i): [string, string] => [`node${i}`, `id=${n.id},addr=${n.host}:${n.port},role=${n.role},state=${n.state},master=${n.masterId ?? '-'}`]),
    ],
  ];
}

/** The slot migration under way (resharding: ADD MASTER, REMOVE, REBALANCE), if any. */
function migrationSection(m: MigrationProgress | undefined): [string, [string, string | number][]] {
  const fields: [string, string | number][] = [['migrations_in_progress', m === undefined ? 0 : 1]];
  if (m !== undefined) {
    fields.push([
      'migration0',
      [
        `id=${m.id}`,
        `reason=${m.reason.replace(/[,\r\n ]+/g, '_')}`,
        `slots_done=${m.slotsDone}`,
        `slots_total=${m.slotsTotal}`,
        `keys_moved=${m.keysMoved}`,
        `current=${m.current === undefined ? '-' : `${m.current.slot}:${m.current.from}->${m.current.to}`}`,
        `started=${m.startedAt}`,
      ].join(','),
    ]);
  }
  return ['Migration', fields];
}

/**
 * Shard recoveries: how many are under way, and one line each (under way or done in this
 * process) with its phase and what became of the keys. `unrecoverable` is the reason no
 * key could be restored ('-' when they could); commas in it become ';'.
 */
/** Who runs the control plane (several proxies: --workers, --coordinator). */
function coordinationSection(c: CoordinationStatus): [string, [string, string | number][]] {
  return [
    'Coordination',
    [
      ['coordination_mode', c.mode],
      ['role', c.role],
      ['leader', c.leader === '' ? '-' : c.leader],
      ['proxies', c.proxies],
      ['workers', c.workers],
      ['admin_changes', c.unavailable === '' ? 'ok' : `unavailable (${c.unavailable})`],
    ],
  ];
}

/** One line per worker of this host: its own counters (Stats and connected_clients sum them). */
function workersSection(workers: readonly WorkerStats[]): [string, [string, string | number][]] {
  return [
    'Workers',
    workers.map((w): [string, string] => [
      `worker${w.index}`,
      `pid=${w.pid},role=${w.role},connected_clients=${w.connectedClients},total_commands_processed=${w.totalCommands},instantaneous_ops_per_sec=${w.opsPerSec}`,
    ]),
  ];
}

/** --users-file: each user's connections and requests, and what its limits refused (proxy-maxclients, proxy-max-ops). */
function usersSection(users: AclUsers): [string, [string, string | number][]] {
  return [
    'Users',
    users.all().map((u): [string, string] => {
      const n = users.usageOf(u);
      const { maxClients, maxOpsPerSecond } = u.def.limits;
      return [
        `user_${u.name}`,
        `clients=${n.clients},commands=${n.commands},maxclients=${maxClients},max_ops=${maxOpsPerSecond},rejected_maxclients=${n.rejectedMaxClients},rejected_max_ops=${n.rejectedMaxOps}`,
      ];
    }),
  ];
}

function recoverySection(recoveries: readonly RecoveryStatus[]): [string, [string, string | number][]] {
  return [
    'Recovery',
    [
      ['recoveries_in_progress', recoveries.filter((r) => r.phase !== 'done').length],
      ...recoveries.map((r, i): [string, string] => [
        `recovery${i}`,
        [
          `id=${r.id}`,
          `master=${r.master}`,
          `phase=${r.phase}`,
          `slots=${r.slots}`,
          `source=${r.source ?? '-'}`,
          `keys_recovered=${r.keys.recovered}`,
          `keys_skipped=${r.keys.skipped}`,
          `keys_failed=${r.keys.failed}`,
          `keys_foreign=${r.keys.foreign}`,
          `ms=${r.ms ?? '-'}`,
          `unrecoverable=${r.unrecoverable === undefined ? '-' : r.unrecoverable.replace(/[,\r\n]+/g, ';')}`,
        ].join(','),
      ]),
    ],
  ];
}

/** A field whose merged value is the largest of the masters' (flags, durations, sizes that are alike). */
const TAKE_MAX =
  /^(loading|async_loading|.*_in_progress|.*_scheduled|aof_enabled|current_.*|module_fork_.*|number_of_.*|.*_time_sec|active_defrag_running|maxmemory|repl_backlog_size|aof_rewrites_consecutive_failures|.*_perc)$/;
/** Times of the last event: the oldest (LASTSAVE's choice: everything is saved as of then). */
const TAKE_MIN = /^(rdb_last_save_time)$/;
/** The same on every node (the machine, the settings): the first master's. */
const TAKE_FIRST = /^(total_system_memory|maxmemory_policy|mem_allocator|.*_ratio|.*_human|lazyfree_.*|rdb_last_cow_size|aof_last_cow_size|rdb_last_load_keys_.*)$/;

/** One field of Memory, Persistence or Stats merged over the masters' values (see the module comment). */
function mergeField(name: string, values: string[]): string {
  if (values.length === 1) return values[0];
  if (/_status$/.test(name)) return values.find((v) => v !== 'ok') ?? 'ok';
  if (TAKE_FIRST.test(name)) return values[0];
  const numbers = values.map(Number);
  if (numbers.some((n) => Number.isNaN(n))) return values[0];
  if (TAKE_MAX.test(name)) return String(Math.max(...numbers));
  if (TAKE_MIN.test(name)) return String(Math.min(...numbers));
  const sum = numbers.reduce((a, b) => a + b, 0);
  return values[0].includes('.') ? sum.toFixed(2) : String(sum);
}

/** A section of the masters' INFO merged field by field, in the first master's order; `own` fields replace theirs. */
function mergedSection(nodes: NodeInfo[], section: string, own: ReadonlyMap<string, string | number> = new Map()): [string, string | number][] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const n of nodes) {
    for (const name of n.get(section)?.keys() ?? []) {
      if (!seen.has(name)) names.push(name);
      seen.add(name);
    }
  }
  const out: [string, string | number][] = [];
  for (const name of names) {
    const mine = own.get(name);
    if (mine !== undefined) out.push([name, mine]);
    else {
      const values = nodes.map((n) => n.get(section)?.get(name)).filter((v): v is string => v !== undefined);
      out.push([name, mergeField(name, values)]);
    }
  }
  for (const [name, value] of own) if (!seen.has(name)) out.push([name, value]);
  return out;
}

/**
 * Memory: the masters' summed, *_human and the ratios recomputed from the sums; the proxy's
 * own RSS added. mem_clients_normal is the proxy's: what it holds for its clients (the
 * nodes' clients are the proxy's own connections), the total --maxmemory-clients caps.
 */
function memorySection(ctx: ProxyContext, nodes: NodeInfo[]): [string, string | number][] {
  const fields = mergedSection(nodes, 'memory', new Map([['mem_clients_normal', ctx.clients.memory.total]]));
  const values = new Map(fields.map(([k, v]) => [k, Number(v)]));
  const mem = process.memoryUsage();
  const out = fields.map(([k, v]): [string, string | number] => {
    if (k.endsWith('_human')) {
      const base = values.get(k.slice(0, -'_human'.length));
      return [k, base === undefined || Number.isNaN(base) ? v : humanBytes(base)];
    }
    return [k, v];
  });
  // The proxy's own: RSS, and how much of it the JS heap and Buffers (off the heap) hold.
  out.push(
    ['proxy_used_memory_rss', mem.rss],
    ['proxy_used_memory_rss_human', humanBytes(mem.rss)],
    ['proxy_heap_used', mem.heapUsed],
    ['proxy_heap_total', mem.heapTotal],
    ['proxy_buffers', mem.arrayBuffers],
  );
  return out;
}

/** Errorstats: the errors the proxy answered itself, and those the masters answered, summed by kind. */
function errorSection(ctx: ProxyContext, nodes: NodeInfo[]): [string, string | number][] {
  const counts = new Map<string, number>();
  const add = (name: string, count: number): void => void counts.set(name, (counts.get(name) ?? 0) + count);
  for (const [name, value] of ctx.commandStats.errorLines()) add(name, Number(value.slice('count='.length)));
  for (const n of nodes) for (const [name, value] of n.get('errorstats') ?? []) add(name, Number(value.replace(/^count=/, '')) || 0);
  return [...counts].map(([name, count]): [string, string] => [name, `count=${count}`]);
}

/** Run id of this proxy process: new on every start, as Redis's is. */
const RUN_ID = randomBytes(20).toString('hex');

function cpuSeconds(micros: number): string {
  return (micros / 1e6).toFixed(6);
}

/** Sections `INFO` / `INFO default` print; `all` adds Commandstats and Latencystats, `everything` as well. */
const DEFAULT_SECTIONS = new Set(['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules', 'errorstats', 'cluster', 'keyspace', 'nodes', 'recovery', 'migration', 'coordination', 'workers', 'users']);
const ALL_ONLY = new Set(['commandstats', 'latencystats']);

function wantedSections(wanted: readonly string[]): (name: string) => boolean {
  if (wanted.length === 0) return (name) => DEFAULT_SECTIONS.has(name);
  const set = new Set(wanted);
  const all = set.has('all') || set.has('everything');
  const defaults = all || set.has('default');
  return (name) => set.has(name) || (defaults && DEFAULT_SECTIONS.has(name)) || (all && ALL_ONLY.has(name));
}

/**
 * @param nodeTexts INFO text of each serving master, in the router's order; null for a master that did not answer
 * @param wanted    requested sections, lowercase; empty = default
 */
export function renderInfo(ctx: ProxyContext, nodeTexts: readonly (string | null)[], wanted: string[]): string {
  const nodes: NodeInfo[] = [];
  const down: [string, string][] = [];
  const map = ctx.router.slotMap;
  const serving = ctx.router.servingMasters;
  nodeTexts.forEach((text, i) => {
    if (text !== null) {
      nodes.push(parseInfo(text));
      return;
    }
    const master = map.masters[serving[i]];
    const where = master === undefined ? `master=${i}` : `id=${master.nodeId},ip=${master.host},port=${master.port}`;
    down.push([`master_down${down.length}`, where]);
  });
  const first = nodes[0]?.get('server');
  const now = Date.now();
  const uptime = Math.floor((now - ctx.clients.stats.startedAt) / 1000);
  const cpu = process.cpuUsage();
  const sessions = [...ctx.clients.sessions()];
  const { input: netIn, output: netOut } = ctx.clients.netBytes();
  const serverFromNode = (field: string, fallback: string): string => first?.get(field) ?? fallback;
  // --workers N: the other workers' counters (a second old at most) added to this one's live ones.
  const others = (ctx.control.workers?.() ?? []).filter((w) => w.pid !== process.pid);
  const plus = (own: number, field: (w: WorkerStats) => number): number => others.reduce((sum, w) => sum + field(w), own);

  const sections: [string, [string, string | number][]][] = [
    [
      'Server',
      [
        ['redis_version', serverFromNode('redis_version', '7.0.0')],
        ['redis_git_sha1', serverFromNode('redis_git_sha1', '00000000')],
        ['redis_git_dirty', serverFromNode('redis_git_dirty', '0')],
        ['redis_build_id', serverFromNode('redis_build_id', '0')],
        ['redis_mode', 'cluster'],
        ['os', serverFromNode('os', `${process.platform} ${process.arch}`)],
        ['arch_bits', serverFromNode('arch_bits', '64')],
        ['monotonic_clock', serverFromNode('monotonic_clock', 'POSIX clock_gettime')],
        ['multiplexing_api', 'epoll'],
        ['atomicvar_api', serverFromNode('atomicvar_api', 'c11-builtin')],
        ['gcc_version', serverFromNode('gcc_version', '0.0.0')],
        ['process_id', process.pid],
        ['process_supervised', 'no'],
        ['run_id', RUN_ID],
        ['tcp_port', ctx.settings.port],
        ['server_time_usec', Math.floor((performance.timeOrigin + performance.now()) * 1000)],
        ['uptime_in_seconds', uptime],
        ['uptime_in_days', Math.floor(uptime / 86400)],
        ['hz', serverFromNode('hz', '10')],
        ['configured_hz', serverFromNode('configured_hz', '10')],
        ['lru_clock', serverFromNode('lru_clock', '0')],
        ['executable', process.argv[1] ?? process.execPath],
        ['config_file', ''],
        ['io_threads_active', 0],
        ['proxy', 'interface-hash-server'],
        ['proxy_version', ctx.settings.version],
        ['masters', serving.length],
      ],
    ],
    [
      'Clients',
      [
        ['connected_clients', plus(ctx.clients.stats.connectedClients, (w) => w.connectedClients)],
        ['cluster_connections', 0],
        ['maxclients', ctx.settings.maxClients],
        ['client_recent_max_input_buffer', 0],
        ['client_recent_max_output_buffer', 0],
        ['blocked_clients', sessions.filter((c: ClientSession) => c.blocked).length],
        ['tracking_clients', ctx.tracking.trackingClients],
        ['clients_in_timeout_table', 0],
      ],
    ],
    ['Memory', memorySection(ctx, nodes)],
    ['Persistence', mergedSection(nodes, 'persistence')],
    [
      'Stats',
      mergedSection(
        nodes,
        'stats',
        new Map<string, string | number>([
          ['total_connections_received', plus(ctx.clients.stats.totalConnections, (w) => w.totalConnections)],
          ['total_commands_processed', plus(ctx.clients.stats.totalCommands, (w) => w.totalCommands)],
          ['instantaneous_ops_per_sec', plus(ctx.opsMeter.perSecond, (w) => w.opsPerSec)],
          ['total_net_input_bytes', plus(netIn, (w) => w.netInputBytes)],
          ['total_net_output_bytes', plus(netOut, (w) => w.netOutputBytes)],
          ['rejected_connections', plus(ctx.clients.stats.rejectedConnections, (w) => w.rejectedConnections)],
          ['evicted_clients', ctx.clients.memory.evicted],
          ['total_error_replies', ctx.commandStats.totalErrors + sumField(nodes, 'stats', 'total_error_replies')],
          // The proxy's clients' subscriptions (the nodes see only the proxy's own connections).
          ['pubsub_channels', ctx.pubsub.activeNames(CHANNEL, null).length],
          ['pubsub_patterns', ctx.pubsub.patternCount],
          ['pubsubshard_channels', ctx.pubsub.activeNames(SHARD, null).length],
          // The proxy's tracking table (the nodes track only its BCAST connections).
          ['tracking_total_keys', ctx.tracking.trackedKeys],
          ['tracking_total_items', ctx.tracking.trackedItems],
          ['tracking_total_prefixes', ctx.tracking.trackedPrefixes],
          // RESP3 pushes no request of the proxy's asked for (see BackendConnection.takePush).
          ['proxy_dropped_push_frames', ctx.runtime.pushes.dropped],
          // Reads replicas answered, and those a replica could not serve that the master answered (docs/replica-reads.md).
          ['replica_reads', ctx.router.replicaReads?.served ?? 0],
          ['replica_reads_fell_back', ctx.router.replicaReads?.fellBack ?? 0],
        ]),
      ),
    ],
    ['Replication', [...replication(ctx), ...replicationTail(nodes, ctx.settings.clusterNodeId)]],
    [
      'CPU',
      [
        ['used_cpu_sys', cpuSeconds(cpu.system)],
        ['used_cpu_user', cpuSeconds(cpu.user)],
        ['used_cpu_sys_children', '0.000000'],
        ['used_cpu_user_children', '0.000000'],
        ['used_cpu_sys_main_thread', cpuSeconds(cpu.system)],
        ['used_cpu_user_main_thread', cpuSeconds(cpu.user)],
      ],
    ],
    ['Modules', []],
    ['Commandstats', ctx.commandStats.commandLines()],
    ['Errorstats', errorSection(ctx, nodes)],
    ['Latencystats', ctx.commandStats.latencyLines()],
    [
      'Cluster',
      [
        ['cluster_enabled', 1],
        ['masters_up', nodes.length],
        ['masters_down', down.length],
        ...down,
      ],
    ],
    ...(ctx.control.nodeStatus === undefined ? [] : [nodesSection(ctx.control.nodeStatus(), ctx.control.failoverCounts?.())]),
    ...(ctx.control.recoveries === undefined ? [] : [recoverySection(ctx.control.recoveries())]),
    ...(ctx.control.migration === undefined ? [] : [migrationSection(ctx.control.migration())]),
    ...(ctx.control.coordination === undefined ? [] : [coordinationSection(ctx.control.coordination())]),
    ...(ctx.control.workers === undefined ? [] : [workersSection(ctx.control.workers())]),
    ...(ctx.settings.users === null ? [] : [usersSection(ctx.settings.users)]),
    [
      'Keyspace',
      [...sumKeyspace(nodes)].map(([db, t]): [string, string] => [
        db,
        `keys=${t.keys},expires=${t.expires},avg_ttl=${t.expires === 0 ? 0 : Math.round(t.ttlWeighted / t.expires)}`,
      ]),
    ],
  ];

  const shown = wantedSections(wanted);
  const out: string[] = [];
  for (const [name, fields] of sections) {
    if (!shown(name.toLowerCase())) continue;
    if (out.length > 0) out.push('');
    out.push(`# ${name}`);
    for (const [k, v] of fields) out.push(`${k}:${v}`);
  }
  return out.length === 0 ? '' : out.join('\r\n') + '\r\n';
}
