/**
 * Fresh documents for a new data dir: ids m0, m1, ... for masters and m0r0, m0r1, ... for
 * their replicas, slots split evenly over the masters when the cluster is formed.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { evenSlotRanges, TOPOLOGY_FORMAT, type NodeRecord, type TopologyDoc } from './topology.js';

/** Directory (under the data dir) that holds one sub-directory per process/docker node. */
export const NODES_DIR = 'nodes';

export function masterId(index: number): string {
  return `m${index}`;
}

export function replicaId(masterIndex: number, replicaIndex: number): string {
  return `m${masterIndex}r${replicaIndex}`;
}

/**
 * A fresh random node password (requirepass/masterauth): 32 bytes, base64url. Never one
 * that starts with '-': an operator passing it on a command line (`--node-password -x…`,
 * `redis-cli -a -x…`) would have it read as options.
 */
export function generateNodePassword(): string {
  for (;;) {
    const password = randomBytes(32).toString('base64url');
    if (password[0] !== '-') return password;
  }
}

export interface ManagedLayout {
  provider: 'process' | 'docker';
  dataDir: string;
  masters: number;
  replicas: number;
  nodePassword: string;
}

/** Nodes the provider will place: ports 0 (the provider picks), a data dir per node. */
export function buildManagedTopology(layout: ManagedLayout): TopologyDoc {
  if (!Number.isInteger(layout.masters) || layout.masters < 1) throw new Error(`masters must be a positive integer, got ${layout.masters}`);
  if (!Number.isInteger(layout.replicas) || layout.replicas < 0) throw new Error(`replicas must be a non-negative integer, got ${layout.replicas}`);
  const nodesDir = path.join(path.resolve(layout.dataDir), NODES_DIR);
  const nodes: NodeRecord[] = [];
  const masters: string[] = [];
  for (let m = 0; m < layout.masters; m++) {
    const id = masterId(m);
    masters.push(id);
    nodes.push({ id, host: '127.0.0.1', port: 0, busPort: 0, dataDir: path.join(nodesDir, id) });
    for (let r = 0; r < layout.replicas; r++) {
      const rid = replicaId(m, r);
      nodes.push({ id: rid, host: '127.0.0.1', port: 0, busPort: 0, dataDir: path.join(nodesDir, rid), formedAsReplicaOf: id });
    }
  }
  return { format: TOPOLOGY_FORMAT, provider: layout.provider, nodePassword: layout.nodePassword, formed: false, nodes, initialSlots: evenSlotRanges(masters) };
}

/** Seed nodes of an existing Redis Cluster (static provider): the cluster tells the rest. */
export function buildStaticTopology(addresses: readonly { host: string; port: number }[], nodePassword: string): TopologyDoc {
  if (addresses.length === 0) throw new Error('the static provider needs at least one seed node (host:port)');
  const seen = new Set<string>();
  for (const a of addresses) {
    const key = `${a.host}:${a.port}`;
    if (seen.has(key)) throw new Error(`static node ${key} is listed twice`);
    seen.add(key);
  }
  const nodes: NodeRecord[] = addresses.map((a, i) => ({ id: `seed${i}`, host: a.host, port: a.port, busPort: 0 }));
  return { format: TOPOLOGY_FORMAT, provider: 'static', nodePassword, formed: true, nodes, initialSlots: [] };
}
