/**
 * What GET /api/v1/cluster and GET /healthz say, built from the same sources as LIST and
 * INFO: ClusterAdmin's listing, the proxy's own counters, and the router's slot map.
 */
import type { ClusterListing } from '../status/list-format.js';
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

/** The JSON of GET /api/v1/cluster: the listing, and the proxy's counters. */
export function clusterView(listing: ClusterListing, stats: ClusterStats, coordination: CoordinationStatus) {
  return { ...listingView(listing), stats, coordination };
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
