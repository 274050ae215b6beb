/**
 * Nodes leaving the proxy's cluster for good — removed (node-changes.ts) or retired by a
 * shard recovery (ClusterManager.dropNodes) — leave the same way: their dirs moved aside
 * (kept, never deleted), a RemovedNodeRecord each, and the document without them.
 */
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../log.js';
import { exists } from '../../nodes/files.js';
import type { RemovedNodeRecord, TopologyDoc } from '../topology/topology.js';

/** A node leaving: its Redis Cluster id when known, its dir, and where the dir goes. */
export interface LeavingNode {
  id: string;
  redisId?: string;
  dataDir?: string;
  movedTo: string;
}

/**
 * Move each node's dir to its `movedTo` and return the records they leave in removedNodes.
 * A dir moved already (a step interrupted by a crash, done again) is left where it is.
 */
export async function moveNodeDirs(nodes: readonly LeavingNode[], log: Logger): Promise<RemovedNodeRecord[]> {
  const removed: RemovedNodeRecord[] = [];
  for (const n of nodes) {
    if (n.dataDir !== undefined && n.dataDir !== '' && (await exists(n.dataDir))) {
      if (await exists(n.movedTo)) throw new Error(`cannot move ${n.dataDir} aside: ${n.movedTo} exists`);
      await mkdir(path.dirname(n.movedTo), { recursive: true, mode: 0o700 });
      await rename(n.dataDir, n.movedTo);
      log.info({ node: n.id, from: n.dataDir, to: n.movedTo }, 'node dir moved aside');
    }
    const movedTo = (await exists(n.movedTo)) ? n.movedTo : undefined;
    removed.push({ id: n.id, ...(n.redisId === undefined ? {} : { redisId: n.redisId }), removedAt: new Date().toISOString(), ...(movedTo === undefined ? {} : { movedTo }) });
  }
  return removed;
}

/** The document without `ids`: their records move to removedNodes; formation-only references to them go. */
export function dropFromDocument(doc: TopologyDoc, ids: ReadonlySet<string>, removed: readonly RemovedNodeRecord[]): void {
  doc.nodes = doc.nodes.filter((n) => !ids.has(n.id));
  // Formation-only fields (the cluster is formed): a reference to a node that is gone would make the document invalid.
  for (const n of doc.nodes) if (n.formedAsReplicaOf !== undefined && ids.has(n.formedAsReplicaOf)) delete n.formedAsReplicaOf;
  doc.initialSlots = doc.initialSlots.filter((r) => !ids.has(r[2]));
  (doc.removedNodes ??= []).push(...removed);
}
