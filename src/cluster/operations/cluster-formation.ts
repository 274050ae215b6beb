/**
 * Forming the Redis Cluster the proxy owns, and bringing it back together after a restart.
 * The nodes do the work (CLUSTER MEET, ADDSLOTSRANGE, REPLICATE); this module only says
 * what to do and waits, bounded, until the nodes agree. Every step is idempotent, so a
 * formation interrupted by a crash is simply run again on the next start.
 */
import type { Logger } from '../../log.js';
import { formatAddress, parseInfo, type ControlClient, type ControlClients, type NodeAddress } from '../../nodes/control-client.js';
import { sleep } from '../../nodes/wait.js';
import { parseClusterNodes, type ClusterNodeLine } from '../../nodes/cluster-nodes.js';
import { SLOT_COUNT, type SlotRange } from '../topology/topology.js';

/** A node the provider has running. */
export interface PlacedNode {
  id: string;
  host: string;
  port: number;
  busPort: number;
  /** Form it as a replica of this node id (formation only). */
  replicaOf?: string;
}

export interface FormationOptions {
  /** Connections to the nodes, with their password. */
  clients: ControlClients;
  log: Logger;
  /** Bound on each command. */
  commandTimeoutMs: number;
  /** Bound on each wait for the nodes to agree. */
  settleTimeoutMs: number;
}

const POLL_MS = 100;

function call<T>(addr: NodeAddress, o: FormationOptions, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  return o.clients.with(addr, fn, o.commandTimeoutMs);
}

async function clusterNodes(addr: NodeAddress, o: FormationOptions): Promise<ClusterNodeLine[]> {
  return parseClusterNodes(String(await call(addr, o, (c) => c.call('CLUSTER', 'NODES'))));
}

async function until(what: string, o: FormationOptions, check: () => Promise<string | true>): Promise<void> {
  const deadline = Date.now() + o.settleTimeoutMs;
  let last: string;
  for (;;) {
    try {
      const result = await check();
      if (result === true) return;
      last = result;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`cluster formation: ${what} did not happen within ${o.settleTimeoutMs} ms (${last})`);
    await sleep(POLL_MS);
  }
}

/** Redis Cluster node id of each node, by our id. */
async function nodeIds(nodes: readonly PlacedNode[], o: FormationOptions): Promise<Map<string, string>> {
  const ids = await Promise.all(nodes.map((n) => call(n, o, (c) => c.call('CLUSTER', 'MYID'))));
  return new Map(nodes.map((n, i) => [n.id, String(ids[i])]));
}

/**
 * MEET every node whose current address the first node does not know; wait until all know
 * all (a node that still does not know one meets it itself).
 */
async function meetAll(nodes: readonly PlacedNode[], redisIds: Map<string, string>, o: FormationOptions): Promise<void> {
  const [first, ...rest] = nodes;
  const known = new Map((await clusterNodes(first, o)).map((l) => [l.id, l]));
  for (const n of rest) {
    const line = known.get(redisIds.get(n.id)!);
    if (line !== undefined && line.host === n.host && line.port === n.port && !line.flags.has('noaddr')) continue;
    await call(first, o, (c) => c.call('CLUSTER', 'MEET', n.host, String(n.port), String(n.busPort)));
    o.log.info({ node: n.id, address: formatAddress(n), via: first.id }, 'cluster meet');
  }
  const byRedisId = new Map(nodes.map((n) => [redisIds.get(n.id)!, n]));
  await until('every node knowing every other', o, async () => {
    for (const n of nodes) {
      const lines = await clusterNodes(n, o);
      for (const [id, other] of byRedisId) {
        const line = lines.find((l) => l.id === id);
        if (line === undefined) {
          // Gossip from the others usually tells it; a node that was down (or cut off) while
          // another joined may never hear: it meets that node itself.
          await call(n, o, (c) => c.call('CLUSTER', 'MEET', other.host, String(other.port), String(other.busPort)));
          return `${n.id} does not know ${other.id} yet (sent CLUSTER MEET)`;
        }
        if (line.flags.has('handshake') || line.flags.has('noaddr') || line.host === '') return `${n.id} does not know ${other.id} yet`;
      }
    }
    return true;
  });
}

/**
 * Bring these running nodes together: each is met at its current address and the call
 * returns once every one of them knows every other. Every node given must answer.
 */
export async function meetNodes(nodes: readonly PlacedNode[], o: FormationOptions): Promise<void> {
  if (nodes.length > 1) await meetAll(nodes, await nodeIds(nodes, o), o);
}

/** Make `replica` a replica of the master with Redis id `masterRedisId`; returns once its own view says so. */
export async function attachReplica(replica: PlacedNode, masterRedisId: string, o: FormationOptions, masterName = masterRedisId): Promise<void> {
  await until(`${replica.id} replicating ${masterName}`, o, async () => {
    const mine = (await clusterNodes(replica, o)).find((l) => l.flags.has('myself'));
    if (mine?.masterId === masterRedisId) return true;
    await call(replica, o, (c) => c.call('CLUSTER', 'REPLICATE', masterRedisId));
    return 'sent CLUSTER REPLICATE';
  });
}

/**
 * Wait until a replica's link to its master is up (the first full sync is done), bounded
 * by `timeoutMs`.
 */
export async function waitReplicaInSync(replica: PlacedNode, o: FormationOptions, timeoutMs: number): Promise<void> {
  await until(`${replica.id} in sync with its master (master_link_status:up)`, { ...o, settleTimeoutMs: timeoutMs }, async () => {
    const info = parseInfo(String(await call(replica, o, (c) => c.call('INFO', 'replication'))));
    if (info.get('role') !== 'slave') return `${replica.id} is ${info.get('role')}`;
    const link = info.get('master_link_status');
    return link === 'up' ? true : `master_link_status:${link}${info.get('master_sync_in_progress') === '1' ? ' (sync in progress)' : ''}`;
  });
}

/**
 * Wait until each node says cluster_state:ok and, when `slots` is given, knows that many
 * slots assigned (with cluster-require-full-coverage no, "ok" alone does not mean a node
 * has heard of every master's slots yet).
 */
export async function waitClusterOk(nodes: readonly NodeAddress[], o: FormationOptions, slots?: number): Promise<void> {
  await until(slots === undefined ? 'cluster_state:ok on every node' : `cluster_state:ok and ${slots} slots assigned on every node`, o, async () => {
    for (const n of nodes) {
      const info = await call(n, o, (c) => infoFieldsOfClusterInfo(c));
      const state = info.get('cluster_state');
      if (state !== 'ok') return `${formatAddress(n)} says cluster_state:${state}`;
      const assigned = Number(info.get('cluster_slots_assigned'));
      if (slots !== undefined && assigned < slots) return `${formatAddress(n)} knows ${assigned} of ${slots} slots assigned`;
    }
    return true;
  });
}

/** CLUSTER INFO, field by field (the same "name:value" lines as INFO). */
async function infoFieldsOfClusterInfo(c: ControlClient): Promise<Map<string, string>> {
  return parseInfo(String(await c.call('CLUSTER', 'INFO')));
}

/**
 * Form the cluster: config epochs for fresh masters, MEET, each master's initial slots
 * (only those nobody serves yet: a master started on old data has already claimed its
 * keys' slots), replicas attached, cluster_state:ok everywhere.
 */
export async function formCluster(nodes: readonly PlacedNode[], initialSlots: readonly SlotRange[], o: FormationOptions): Promise<void> {
  if (nodes.length === 0) throw new Error('cluster formation: no nodes');
  const redisIds = await nodeIds(nodes, o);
  const masters = nodes.filter((n) => n.replicaOf === undefined);
  // Distinct config epochs up front, as redis-cli --cluster create does, so the masters'
  // slot claims never collide. Only a node that has met nobody accepts it.
  await Promise.all(
    masters.map((m, i) =>
      call(m, o, async (c) => {
        const info = await infoFieldsOfClusterInfo(c);
        if (info.get('cluster_known_nodes') === '1' && info.get('cluster_current_epoch') === '0') await c.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
      }),
    ),
  );
  if (nodes.length > 1) await meetAll(nodes, redisIds, o);

  const view = await clusterNodes(nodes[0], o);
  const servedBy = new Array<string | undefined>(SLOT_COUNT);
  for (const line of view) {
    for (let i = 0; i < line.slots.length; i += 2) servedBy.fill(line.id, line.slots[i], line.slots[i + 1] + 1);
  }
  for (const m of masters) {
    const args: string[] = [];
    for (const [first, last, owner] of initialSlots) {
      if (owner !== m.id) continue;
      for (let slot = first; slot <= last; slot++) {
        if (servedBy[slot] !== undefined) {
          if (servedBy[slot] !== redisIds.get(m.id)) o.log.warn({ slot, master: m.id, servedBy: servedBy[slot] }, 'slot already served by another master (its keys were there); left as it is');
          continue;
        }
        const start = slot;
        while (slot + 1 <= last && servedBy[slot + 1] === undefined) slot++;
        args.push(String(start), String(slot));
      }
    }
    if (args.length > 0) await call(m, o, (c) => c.call('CLUSTER', 'ADDSLOTSRANGE', ...args));
  }

  for (const r of nodes.filter((n) => n.replicaOf !== undefined)) {
    const masterRedisId = redisIds.get(r.replicaOf!);
    if (masterRedisId === undefined) throw new Error(`cluster formation: ${r.id} is to replicate unknown node ${r.replicaOf}`);
    await attachReplica(r, masterRedisId, o, r.replicaOf);
  }
  let planned = 0;
  for (const [first, last] of initialSlots) planned += last - first + 1;
  await waitClusterOk(nodes, o, planned);
  o.log.info({ masters: masters.length, nodes: nodes.length }, 'cluster formed');
}

/**
 * After a restart: nodes come back from their nodes.conf and find each other, unless one
 * came back on another port (its own was taken), which a MEET at its new address fixes.
 * Then wait for cluster_state:ok; a cluster that does not get there is reported, not fatal
 * (the shards that are up keep serving).
 */
export async function rejoinCluster(nodes: readonly PlacedNode[], o: FormationOptions): Promise<void> {
  await meetNodes(nodes, o);
  try {
    await waitClusterOk(nodes, o);
  } catch (err) {
    o.log.warn({ err: (err as Error).message }, 'cluster not ok after restart; serving what is up');
  }
}
