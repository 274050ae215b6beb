/**
 * Membership: who is in the Redis Cluster as what, in the proxy's own node ids. Read from
 * the nodes themselves (CLUSTER NODES of every node that answers), merged the way the
 * router merges them: slot ownership by config epoch (SlotMap.fromViews), a node's own
 * line over a peer's. A node that does not answer is still known — by its peers' lines,
 * found through its Redis id, which its own nodes.conf names even while it is down.
 *
 * Used to decide node changes (is this a master, does it still serve slots, whose replica
 * is it) — decisions the router's map cannot make: it lists only masters that serve slots.
 */
import type { ControlClients, NodeAddress } from '../nodes/control-client.js';
import { parseClusterNodes, redisIdFromDir, type ClusterNodeLine } from '../nodes/cluster-nodes.js';
import { SlotMap } from './slot-map.js';
import type { NodeRecord } from './topology/topology.js';

export interface Member {
  /** Our id (m0, m0r1, ...). */
  id: string;
  /** Its Redis Cluster node id; undefined when no one knows it (never started or never met). */
  redisId: string | undefined;
  /** It answered CLUSTER NODES just now. */
  answering: boolean;
  /** 'unknown': no view lists it (never met, or forgotten). */
  role: 'master' | 'replica' | 'unknown';
  /** Our id of its master (replicas), when that master is one of ours. */
  masterId: string | undefined;
  /** Slots it serves (masters), by the epoch-merged views. */
  slots: number;
  /** Flagged fail/fail? by the line used. */
  failing: boolean;
}

/** Every node of `nodes` as the cluster sees it now, by our id. */
export async function readMembership(nodes: readonly NodeRecord[], clients: ControlClients, timeoutMs: number): Promise<Map<string, Member>> {
  const views = await Promise.all(
    nodes.map(async (n) => {
      if (n.port <= 0) return undefined;
      try {
        const text = await clients.with(n as NodeAddress, (c) => c.call('CLUSTER', 'NODES'), timeoutMs);
        return parseClusterNodes(String(text));
      } catch {
        return undefined; // down (or hung): its peers say what it is
      }
    }),
  );
  const answered = views.filter((v): v is ClusterNodeLine[] => v !== undefined);
  const lineOf = new Map<string, ClusterNodeLine>();
  for (const view of answered) {
    for (const line of view) if (!lineOf.has(line.id) || line.flags.has('myself')) lineOf.set(line.id, line);
  }
  const redisIds = await Promise.all(
    nodes.map(async (n, i) => views[i]?.find((l) => l.flags.has('myself'))?.id ?? (await redisIdFromDir(n.dataDir)) ?? (n.port > 0 ? byAddress(lineOf, n) : undefined)),
  );
  const ourIdOf = new Map<string, string>();
  nodes.forEach((n, i) => {
    const redisId = redisIds[i];
    if (redisId !== undefined) ourIdOf.set(redisId, n.id);
  });
  const slotCount = new Map<string, number>();
  if (answered.length > 0) {
    const map = SlotMap.fromViews(answered);
    for (let slot = 0; slot < map.slotToMaster.length; slot++) {
      const master = map.masters[map.slotToMaster[slot]];
      if (master !== undefined) slotCount.set(master.nodeId, (slotCount.get(master.nodeId) ?? 0) + 1);
    }
  }
  const members = new Map<string, Member>();
  nodes.forEach((n, i) => {
    const redisId = redisIds[i];
    const line = redisId === undefined ? undefined : lineOf.get(redisId);
    const role = line === undefined ? 'unknown' : line.flags.has('master') ? 'master' : line.flags.has('slave') ? 'replica' : 'unknown';
    members.set(n.id, {
      id: n.id,
      redisId,
      answering: views[i] !== undefined,
      role,
      masterId: line?.masterId === undefined ? undefined : ourIdOf.get(line.masterId),
      slots: redisId === undefined ? 0 : (slotCount.get(redisId) ?? 0),
      failing: line !== undefined && (line.flags.has('fail') || line.flags.has('fail?')),
    });
  });
  return members;
}

function byAddress(lineOf: ReadonlyMap<string, ClusterNodeLine>, node: NodeRecord): string | undefined {
  for (const line of lineOf.values()) if (line.host === node.host && line.port === node.port) return line.id;
  return undefined;
}
