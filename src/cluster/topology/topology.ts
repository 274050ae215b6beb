/**
 * The proxy's own document (data-dir/topology.json): what Redis does not keep for us.
 *
 * Redis Cluster owns slot ownership and roles (nodes.conf and config epochs in each node's
 * dir); routing reads them from the nodes. This document holds only the rest: which nodes
 * the provider runs (ids, dirs, ports, handles), the password they require, and — until the
 * cluster has been formed once — the shape to form it with (who replicates whom, which
 * slots each master starts with). It is written only by the cluster/failover/admin side,
 * persisted atomically (TopologyStore) before a change takes effect.
 */

import type { NodeSpec } from '../../nodes/provider.js';

export const SLOT_COUNT = 16384;

/** The document's format. Format 1 was the pre-cluster (standalone masters) layout. */
export const TOPOLOGY_FORMAT = 2;

/** One Redis node the proxy knows (runs, or was given as a seed). */
export interface NodeRecord {
  /** Stable id, e.g. "m0" / "m0r1"; also the name of its dir. Never reused for a different node. */
  id: string;
  host: string;
  /** Client port; 0 until the provider has placed the node. */
  port: number;
  /** Cluster bus port (process/docker nodes); 0 until placed. */
  busPort: number;
  /** Directory holding this node's AOF and nodes.conf (process and docker providers). */
  dataDir?: string;
  /** Provider-specific handle: a pid for process nodes, a container id for docker. */
  handle?: string;
  /**
   * Run by someone else, added by address (ADD MASTER host:port): the provider never starts,
   * stops or restarts it, and it has no dir here.
   */
  external?: boolean;
  /**
   * For forming the cluster only: the id of the master this node starts as a replica of.
   * After formation roles are Redis's (they change with failovers); this is not updated.
   */
  formedAsReplicaOf?: string;
}

/** Slot ranges, inclusive at both ends: [first, last, node id of the master]. */
export type SlotRange = [first: number, last: number, masterId: string];

/** The persisted document. */
export interface TopologyDoc {
  format: typeof TOPOLOGY_FORMAT;
  /** Which provider owns the nodes' lifecycles. */
  provider: 'process' | 'docker' | 'static';
  /** Password the nodes require (requirepass + masterauth); empty for none. */
  nodePassword: string;
  /**
   * True once the proxy has formed the Redis Cluster (MEET, slots, replicas) — from then on
   * the nodes' own nodes.conf is the truth. Static clusters are formed by their owner: true.
   */
  formed: boolean;
  /** The process/docker nodes, or the static provider's seed nodes. */
  nodes: NodeRecord[];
  /** Slots each master is given when the cluster is formed; unused once formed. */
  initialSlots: SlotRange[];
  /**
   * Operations under way (a slot migration, a shard recovery, a node being added or
   * removed), written before each step takes effect so a proxy restarted mid-way (even
   * after SIGKILL) finishes or rolls them back. Absent in documents written before it existed.
   */
  operations?: Operation[];
  /**
   * Nodes removed from the cluster, kept so an id is never given to another node and so a
   * node that was down while they were forgotten can be told to forget them when it comes
   * back. Absent in documents written before nodes could be removed.
   */
  removedNodes?: RemovedNodeRecord[];
  /**
   * Node parameters set by clients (CONFIG SET of the allowed ones, cluster/node-config.ts),
   * in the order they are applied to a node that joins or restarts. Absent in documents
   * written before CONFIG SET was allowed.
   */
  nodeConfig?: [name: string, value: string][];
}

/** A node that was removed (or whose addition was rolled back). */
export interface RemovedNodeRecord {
  id: string;
  /** Its Redis Cluster node id, when it had one: peers that still list it are told to forget it. */
  redisId?: string;
  /** ISO time of the removal. */
  removedAt: string;
  /** Where its dir was moved (never deleted); absent when it had none. */
  movedTo?: string;
}

/**
 * One operation under way, as the document stores it. Each kind is an interface extending
 * OperationBase with a literal `kind`, defined next to the code that runs it and recognised
 * there by a type guard on `kind`: 'add-node', 'remove-node' (cluster/operations/node-changes.ts),
 * 'recover-shard' (failover/shard-recovery.ts), 'migrate-slots' (cluster/operations/slot-migration.ts).
 */
export type Operation = OperationBase;

export interface OperationBase {
  /** Unique (also in logs and LIST), e.g. "op-1732630000000-3". */
  id: string;
  kind: string;
  /** ISO time the operation started. */
  startedAt: string;
  /**
   * Nodes this operation takes out of the cluster (ids): from the moment it is recorded,
   * the proxy starts, watches and rejoins them no more — e.g. a dead shard being
   * recovered, whose master cannot start.
   */
  retiringNodes?: string[];
}

/** Ids of the nodes that operations under way take out of the cluster (see OperationBase.retiringNodes). */
export function retiringNodes(doc: TopologyDoc): Set<string> {
  return new Set((doc.operations ?? []).flatMap((op) => op.retiringNodes ?? []));
}

/** Where to ask the cluster for its view: every node with a port that is not being retired. */
export function seedAddresses(doc: TopologyDoc): { host: string; port: number }[] {
  const retiring = retiringNodes(doc);
  return doc.nodes.filter((n) => n.port > 0 && !retiring.has(n.id)).map((n) => ({ host: n.host, port: n.port }));
}

/** How many slots the inclusive [first, last] ranges cover. */
export function countSlots(ranges: Iterable<readonly [first: number, last: number, ...rest: unknown[]]>): number {
  let n = 0;
  for (const [first, last] of ranges) n += last - first + 1;
  return n;
}

/** Split 0..16383 evenly over the given masters, in order (Redis's own even split). */
export function evenSlotRanges(masterIds: readonly string[]): SlotRange[] {
  const ranges: SlotRange[] = [];
  const n = masterIds.length;
  for (let i = 0; i < n; i++) {
    const first = Math.floor((i * SLOT_COUNT) / n);
    const last = Math.floor(((i + 1) * SLOT_COUNT) / n) - 1;
    ranges.push([first, last, masterIds[i]]);
  }
  return ranges;
}

/** The nodes that are formed as masters (no formedAsReplicaOf). */
export function formationMasters(doc: TopologyDoc): NodeRecord[] {
  return doc.nodes.filter((n) => n.formedAsReplicaOf === undefined);
}

/** What the provider needs to start (or restart) the node of this record. */
export function nodeSpec(node: NodeRecord, password: string): NodeSpec {
  return {
    id: node.id,
    port: node.port,
    busPort: node.busPort,
    dataDir: node.dataDir ?? '',
    password,
    role: node.formedAsReplicaOf === undefined ? 'master' : 'replica',
  };
}
