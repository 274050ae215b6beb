/**
 * Converting a data dir written by the pre-cluster proxy (format 1: standalone masters
 * with REPLICAOF replicas, the proxy's own slot map) into a Redis Cluster's.
 *
 * The old proxy split the slots evenly over its masters, so every key on a master lies in
 * that master's own slot ranges. A cluster-enabled redis-server that starts on such data
 * claims the slots its keys are in ("I have keys for unassigned slot ..."), and formation
 * then gives each master the rest of its old ranges: the keys stay where they are, nothing
 * is copied. Replicas must start empty to be attached with CLUSTER REPLICATE, so their copy
 * of the data is moved aside (kept, not deleted) — their master holds the same keys.
 */
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../log.js';
import type { ControlClients } from '../../nodes/control-client.js';
import { exists } from '../../nodes/files.js';
import { sleep } from '../../nodes/wait.js';
import { TOPOLOGY_FORMAT, type NodeRecord, type SlotRange, type TopologyDoc } from './topology.js';

/** The parts of a format-1 document the conversion reads. */
export interface StandaloneLayout {
  format: 1;
  provider: 'process';
  nodePassword: string;
  nodes: { id: string; host: string; port: number; role: 'master' | 'replica'; masterId?: string; dataDir: string; handle?: string }[];
  shards: { id: string; masterId: string; replicaIds: string[] }[];
  slots: [first: number, last: number, shardId: string][];
}

/** Where a replica's standalone data is moved, inside its own dir. */
export const PRE_CLUSTER_BACKUP = 'pre-cluster-backup';
const DATA_ENTRIES = ['appendonlydir', 'dump.rdb'];

/**
 * Stop any node of the old layout that is still running (a proxy killed with SIGKILL
 * leaves them up) so it flushes its AOF, then move the replicas' data aside. Returns the
 * format-2 document to form the cluster from. Safe to run again after a crash midway.
 */
export async function convertStandaloneLayout(layout: StandaloneLayout, log: Logger, routes: ControlClients, timeoutMs = 2_000): Promise<TopologyDoc> {
  const clients = routes.as(layout.nodePassword);
  await Promise.all(layout.nodes.map((n) => shutdownIfRunning(n, clients, timeoutMs, log)));
  const masterOfShard = new Map(layout.shards.map((s) => [s.id, s.masterId]));
  const nodes: NodeRecord[] = [];
  for (const n of layout.nodes) {
    if (n.role === 'replica') await moveDataAside(n.dataDir, log, n.id);
    nodes.push({
      id: n.id,
      host: n.host,
      port: n.port,
      busPort: 0,
      dataDir: n.dataDir,
      ...(n.role === 'replica' && n.masterId !== undefined ? { formedAsReplicaOf: n.masterId } : {}),
    });
  }
  const initialSlots: SlotRange[] = [];
  for (const [first, last, shardId] of layout.slots) {
    const master = masterOfShard.get(shardId);
    if (master === undefined) throw new Error(`standalone topology: slots ${first}-${last} name unknown shard ${shardId}`);
    initialSlots.push([first, last, master]);
  }
  log.warn({ nodes: nodes.length }, 'data dir holds the pre-cluster (standalone) layout: converting it to a Redis Cluster in place');
  return { format: TOPOLOGY_FORMAT, provider: 'process', nodePassword: layout.nodePassword, formed: false, nodes, initialSlots };
}

async function shutdownIfRunning(node: StandaloneLayout['nodes'][number], clients: ControlClients, timeoutMs: number, log: Logger): Promise<void> {
  if (node.port <= 0) return;
  const addr = { host: node.host, port: node.port };
  if ((await clients.probe(addr, timeoutMs)).state !== 'ready') return;
  log.info({ node: node.id, port: node.port }, 'stopping a standalone node before conversion');
  const deadline = Date.now() + 15_000;
  let refusal = '';
  for (;;) {
    // Redis may refuse a SHUTDOWN for a moment ("Writing initial AOF, can't exit" while a
    // replica writes its AOF after a full sync): ask again for as long as the node answers.
    await clients.with(addr, (c) => c.call('SHUTDOWN'), timeoutMs).catch((err: Error) => {
      refusal = err.message; // also "Connection is closed" when it does exit: the probe tells which
    });
    if ((await clients.probe(addr, timeoutMs)).state !== 'ready') return;
    if (Date.now() > deadline) throw new Error(`standalone node ${node.id} on port ${node.port} did not stop for the conversion (SHUTDOWN: ${refusal})`);
    await sleep(250);
  }
}

async function moveDataAside(dir: string, log: Logger, id: string): Promise<void> {
  const backup = path.join(dir, PRE_CLUSTER_BACKUP);
  for (const entry of DATA_ENTRIES) {
    const from = path.join(dir, entry);
    if (!(await exists(from))) continue;
    await mkdir(backup, { recursive: true, mode: 0o700 });
    await rename(from, path.join(backup, entry));
    log.info({ node: id, from, to: backup }, 'replica data moved aside: it resyncs from its master');
  }
}
