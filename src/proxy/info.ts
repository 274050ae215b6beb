/**
 * INFO as the proxy answers it: the proxy's own server/clients/stats sections, memory and
 * keyspace summed over the masters that answered, and `cluster_enabled:1` for cluster-mode
 * clients. Masters that did not answer are listed in the Cluster section
 * (`masters_down`, `master_down<n>:id=...,ip=...,port=...`), so the sums are read knowing
 * what they leave out.
 */
import type { ProxyContext } from './context.js';
import { pushFramesDropped } from '../backend/connection.js';
import type { NodeStatus } from '../failover/failover-monitor.js';
import type { RecoveryStatus } from '../failover/shard-recovery.js';
import type { MigrationProgress } from '../cluster/slot-migration.js';

/** Parse one node's INFO text into section → field → value. */
function parseInfo(text: string): Map<string, Map<string, string>> {
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
function sumKeyspace(nodes: Map<string, Map<string, string>>[]): Map<string, KeyspaceTotals> {
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

function sumField(nodes: Map<string, Map<string, string>>[], section: string, field: string): number {
  let total = 0;
  for (const n of nodes) total += Number(n.get(section)?.get(field) ?? 0) || 0;
  return total;
}

/**
 * The real replicas, so lost redundancy shows: those the health monitor sees up (or, for a
 * static cluster, those the cluster does not flag as failing), one `slaveN` line each.
 */
function replication(ctx: ProxyContext): [string, string | number][] {
  const replicas: { host: string; port: number; up: boolean }[] = [];
  if (ctx.nodeStatus !== undefined) {
    for (const n of ctx.nodeStatus()) if (n.role === 'replica') replicas.push({ host: n.host, port: n.port, up: n.state === 'up' });
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

/** One line per node the proxy runs: our id, address, role, health, master. */
function nodesSection(nodes: readonly NodeStatus[]): [string, [string, string][]] {
  return [
    'Nodes',
    nodes.map((n, i): [string, string] => [`node${i}`, `id=${n.id},addr=${n.host}:${n.port},role=${n.role},state=${n.state},master=${n.masterId ?? '-'}`]),
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

/**
 * @param nodeTexts INFO text of each serving master, in the router's order; null for a master that did not answer
 * @param wanted    requested sections, lowercase; empty = default
 */
export function renderInfo(ctx: ProxyContext, nodeTexts: readonly (string | null)[], wanted: string[]): string {
  const nodes: Map<string, Map<string, string>>[] = [];
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
  const uptime = Math.floor((Date.now() - ctx.stats.startedAt) / 1000);
  const mem = process.memoryUsage();
  const usedMemory = sumField(nodes, 'memory', 'used_memory');

  const sections: [string, [string, string | number][]][] = [
    [
      'Server',
      [
        ['redis_version', first?.get('redis_version') ?? '7.0.0'],
        ['redis_mode', 'cluster'],
        ['proxy', 'interface-hash-server'],
        ['proxy_version', ctx.version],
        ['os', `${process.platform} ${process.arch}`],
        ['arch_bits', 64],
        ['process_id', process.pid],
        ['tcp_port', ctx.port],
        ['uptime_in_seconds', uptime],
        ['uptime_in_days', Math.floor(uptime / 86400)],
        ['masters', ctx.router.servingMasters.length],
      ],
    ],
    [
      'Clients',
      [
        ['connected_clients', ctx.stats.connectedClients],
        ['maxclients', ctx.maxClients],
      ],
    ],
    [
      'Memory',
      [
        ['used_memory', usedMemory],
        ['used_memory_human', humanBytes(usedMemory)],
        ['proxy_used_memory_rss', mem.rss],
        ['proxy_used_memory_rss_human', humanBytes(mem.rss)],
      ],
    ],
    [
      'Stats',
      [
        ['total_connections_received', ctx.stats.totalConnections],
        ['total_commands_processed', ctx.stats.totalCommands],
        ['rejected_connections', ctx.stats.rejectedConnections],
        // RESP3 pushes no request of the proxy's asked for (see BackendConnection.takePush).
        ['proxy_dropped_push_frames', pushFramesDropped()],
        ['keyspace_hits', sumField(nodes, 'stats', 'keyspace_hits')],
        ['keyspace_misses', sumField(nodes, 'stats', 'keyspace_misses')],
        ['expired_keys', sumField(nodes, 'stats', 'expired_keys')],
        ['evicted_keys', sumField(nodes, 'stats', 'evicted_keys')],
      ],
    ],
    ['Replication', replication(ctx)],
    [
      'Cluster',
      [
        ['cluster_enabled', 1],
        ['masters_up', nodes.length],
        ['masters_down', down.length],
        ...down,
      ],
    ],
    ...(ctx.nodeStatus === undefined ? [] : [nodesSection(ctx.nodeStatus())]),
    ...(ctx.recoveries === undefined ? [] : [recoverySection(ctx.recoveries())]),
    ...(ctx.migration === undefined ? [] : [migrationSection(ctx.migration())]),
    [
      'Keyspace',
      [...sumKeyspace(nodes)].map(([db, t]): [string, string] => [
        db,
        `keys=${t.keys},expires=${t.expires},avg_ttl=${t.expires === 0 ? 0 : Math.round(t.ttlWeighted / t.expires)}`,
      ]),
    ],
  ];

  const all = wanted.length === 0 || wanted.some((w) => w === 'all' || w === 'everything' || w === 'default');
  const out: string[] = [];
  for (const [name, fields] of sections) {
    if (!all && !wanted.includes(name.toLowerCase())) continue;
    if (out.length > 0) out.push('');
    out.push(`# ${name}`);
    for (const [k, v] of fields) out.push(`${k}:${v}`);
  }
  return out.join('\r\n') + '\r\n';
}
