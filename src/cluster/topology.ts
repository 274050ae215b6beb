/**
 * The cluster topology: the one document that routing, failover and admin read.
 * Only the cluster/failover/admin side writes it; every change bumps `epoch` and is
 * persisted (see TopologyStore) before it takes effect.
 */

export const SLOT_COUNT = 16384;

export type NodeRole = 'master' | 'replica';

/** One Redis node as the proxy knows it. */
export interface NodeRecord {
  /** Stable id, e.g. "m0" / "m0r1"; never reused for a different node. */
  id: string;
  host: string;
  port: number;
  role: NodeRole;
  /** For a replica: the id of the master it replicates. */
  masterId?: string;
  /** Directory holding this node's AOF/RDB (process and docker providers). */
  dataDir?: string;
  /** Provider-specific handle: a pid for process nodes, a container id for docker. */
  handle?: string;
}

/** A master and its replicas; slots are assigned to shards. */
export interface ShardRecord {
  id: string;
  masterId: string;
  replicaIds: string[];
}

/** Slot ranges, inclusive at both ends, as persisted: [first, last, shardId]. */
export type SlotRange = [first: number, last: number, shardId: string];

/** The persisted document (data-dir/topology.json). */
export interface TopologyDoc {
  format: 1;
  /** Bumped on every change. */
  epoch: number;
  /** Which provider owns the nodes' lifecycles. */
  provider: 'process' | 'docker' | 'static';
  /** Password the nodes require (requirepass + masterauth); empty for none. */
  nodePassword: string;
  nodes: NodeRecord[];
  shards: ShardRecord[];
  slots: SlotRange[];
}

/** Split 0..16383 evenly over the given shards, in order (Redis's own even split). */
export function evenSlotRanges(shardIds: readonly string[]): SlotRange[] {
  const ranges: SlotRange[] = [];
  const n = shardIds.length;
  for (let i = 0; i < n; i++) {
    const first = Math.floor((i * SLOT_COUNT) / n);
    const last = Math.floor(((i + 1) * SLOT_COUNT) / n) - 1;
    ranges.push([first, last, shardIds[i]]);
  }
  return ranges;
}
