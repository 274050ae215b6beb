/**
 * What GET /api/v1/cluster and GET /healthz say, built from the same sources as LIST and
 * INFO: ClusterAdmin's listing, the proxy's own counters, and the router's slot map.
 */
import type { ClusterListing, NodeListing } from '../status/list-format.js';
import type { CoordinationStatus } from '../status/coordination-status.js';
import { UNASSIGNED, type SlotMap } from '../cluster/slot-map.js';
import { SLOT_COUNT } from '../cluster/topology/topology.js';
import { isDown, type NodeStatus } from '../status/node-status.js';

export interface ClusterStats {
  opsPerSec: number;
  totalCommands: number;
  connectedClients: number;
  failovers: number;
}

/** The JSON of GET /api/v1/clients: the listing with undefined as null (JSON has no undefined). */
export function listingView(listing: ClusterListing) {
  return {
    nodes: listing.nodes.map((n) => ({
      ...n,
      masterId: n.masterId ?? null,
      keys: n.keys ?? null,
      offset: n.offset ?? null,
      lagBytes: n.lagBytes ?? null,
    })),
    operations: listing.operations,
  };
}

/** The JSON of GET /api/v1/cluster: the listing, its health, and the proxy's counters. */
export function clusterView(listing: ClusterListing, stats: ClusterStats, coordination: CoordinationStatus) {
  return { ...listingView(listing), health: clusterCondition(listing), stats, coordination };
}

export type Health = { status: 'ok' } | { status: 'fail'; error: string };

/**
 * Ok when every slot has a master that is not failing — Redis's cluster_state:ok, as the
 * proxy sees it: the nodes' own fail flags in the slot map, and (for a cluster the proxy
 * runs) its health monitor's verdict, which comes sooner.
 */
export function clusterHealth(map: SlotMap, statuses: NodeStatus[] | undefined): Health {
  const failedAddresses = new Set((statuses ?? []).filter((s) => isDown(s.state)).map((s) => `${s.host}:${s.port}`));
  const down = map.masters.map((m) => m.failing || failedAddresses.has(m.address));
  let unassigned = 0;
  let unreachable = 0;
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const master = map.slotToMaster[slot];
    if (master === UNASSIGNED) unassigned++;
    else if (down[master]) unreachable++;
  }
  if (unassigned === 0 && unreachable === 0) return { status: 'ok' };
  const why = [
    unreachable > 0 ? `${unreachable} slots are on a failed master` : '',
    unassigned > 0 ? `${unassigned} slots have no master` : '',
  ].filter((s) => s !== '');
  return { status: 'fail', error: why.join('; ') };
}

/** The cluster's health for a person: can it serve every key, and is it as safe as it should be. */
export interface Condition {
  status: 'ok' | 'degraded' | 'down';
  /** Why not ok, the reasons for down first; empty when ok. */
  reasons: string[];
}

/** States in which a master serves none of its slots. */
const NOT_SERVING: ReadonlySet<NodeListing['state']> = new Set(['failed', 'stopped', 'useless']);

/**
 * The listing's health (GET /api/v1/cluster, the status page's header), from the same
 * listing the page draws, so the two always agree:
 *   down      some slots have no serving master: assigned to none, or to a master that is
 *             failed, stopped or useless, or that says cluster_state:fail (it answers
 *             CLUSTERDOWN, e.g. cut off from the majority of masters)
 *   degraded  every slot is served, but a node is not up (suspect, busy, failed replica,
 *             restarting...), a master has no replica while others have, or a shard is
 *             being recovered
 *   ok        otherwise
 */
export function clusterCondition(listing: ClusterListing): Condition {
  const down: string[] = [];
  const degraded: string[] = [];
  const masters = listing.nodes.filter((n) => n.role === 'master');
  let covered = 0;
  const slotCount = (n: NodeListing) => n.slots.reduce((sum, [a, b]) => sum + b - a + 1, 0);
  const explained = new Set<string>();
  for (const m of masters) {
    const slots = slotCount(m);
    covered += slots;
    if (slots === 0) continue;
    if (NOT_SERVING.has(m.state)) {
      down.push(`${slots} slots have no serving master: ${m.id} is ${m.state}`);
      explained.add(m.id);
    } else if (m.clusterState === 'fail') {
      down.push(`${m.id} answers CLUSTERDOWN for its ${slots} slots: its cluster_state is fail`);
      explained.add(m.id);
    }
  }
  if (masters.length > 0 && covered < SLOT_COUNT) down.push(`${SLOT_COUNT - covered} slots are assigned to no master`);
  for (const n of listing.nodes) {
    if (explained.has(n.id) || n.state === 'up') continue;
    degraded.push(n.state === 'unknown' ? `${n.id} did not answer` : `${n.id} is ${n.state}`);
  }
  const hasReplicas = listing.nodes.some((n) => n.role === 'replica');
  if (hasReplicas) {
    for (const m of masters) {
      if (slotCount(m) > 0 && !listing.nodes.some((r) => r.role === 'replica' && r.masterId === m.id)) degraded.push(`${m.id} has no replica`);
    }
  }
  for (const op of listing.operations) {
    if (op.kind === 'recovery' && !/\bphase=done\b/.test(op.progress)) degraded.push(`shard recovery ${op.id} under way (${/\bmaster=(\S+)/.exec(op.progress)?.[1] ?? '?'})`);
  }
  if (down.length > 0) return { status: 'down', reasons: [...down, ...degraded] };
  if (degraded.length > 0) return { status: 'degraded', reasons: degraded };
  return { status: 'ok', reasons: [] };
}
