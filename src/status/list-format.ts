/**
 * LIST's lines: one per node, then one per operation under way — readable in redis-cli,
 * split-able by scripts. The one place the format is written (the admin LIST verb) and read
 * back (ihs-cli, the tests); a leaf, so the surfaces need not import the control plane.
 *   node       `id address role master state slots=a-b,c slot_count=N keys=N offset=N lag=N`
 *              ('-' none, '?' unknown)
 *   operation  `kind id progress…`
 *   footer     `coordination leader|follower leader=<proxy id> proxies=N workers=N` (several proxies only)
 */
import type { NodeStatus } from './node-status.js';

/** One node in LIST. */
export interface NodeListing {
  id: string;
  address: string;
  role: NodeStatus['role'];
  /** Our id of its master (replicas). */
  masterId: string | undefined;
  state: NodeStatus['state'] | 'unknown';
  /** Slot ranges it serves (masters). */
  slots: [number, number][];
  /** DBSIZE; undefined when it did not answer. */
  keys: number | undefined;
  /** Its replication offset (master_repl_offset, or slave_repl_offset for a replica). */
  offset: number | undefined;
  /** Replicas: bytes of the master's stream it has not got yet. */
  lagBytes: number | undefined;
  /** Its own cluster_state as the health monitor last read it (not in LIST's lines; absent when not known). */
  clusterState?: NodeStatus['clusterState'];
}

/** An operation under way, for LIST: kind, id and a one-line progress. */
export interface OperationListing {
  kind: string;
  id: string;
  progress: string;
}

/** Who runs the control plane, when several proxies serve the cluster (the footer line). */
export interface CoordinationListing {
  role: 'leader' | 'follower';
  /** The leader's proxy id ('-' while there is none). */
  leader: string;
  proxies: number;
  workers: number;
}

export interface ClusterListing {
  nodes: NodeListing[];
  operations: OperationListing[];
  /** Absent for a proxy alone (no --workers, no --coordinator). */
  coordination?: CoordinationListing;
}

/** A node line's words as written: the five leading ones, and the key=value fields by key. */
export interface NodeLine {
  id: string;
  address: string;
  role: string;
  /** The master's id for a replica, '-' for a master. */
  master: string;
  state: string;
  fields: Map<string, string>;
}

const COORDINATION = 'coordination';
const COORDINATION_LINE = /^coordination (leader|follower) leader=(\S+) proxies=(\d+) workers=(\d+)$/;

const NODE_LINE = /^(\S+) (\S+) (master|replica|unknown) (\S+) (\S+) slots=(\S+) slot_count=(\d+) keys=(\S+) offset=(\S+) lag=(\S+)$/;

export function listLines(listing: ClusterListing): string[] {
  const lines = listing.nodes.map(nodeLine);
  for (const op of listing.operations) lines.push(`${op.kind} ${op.id} ${op.progress}`);
  const c = listing.coordination;
  if (c !== undefined) lines.push(`${COORDINATION} ${c.role} leader=${c.leader === '' ? '-' : c.leader} proxies=${c.proxies} workers=${c.workers}`);
  return lines;
}

function nodeLine(n: NodeListing): string {
  const slots = n.slots.length === 0 ? '-' : n.slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
  const count = n.slots.reduce((sum, [a, b]) => sum + b - a + 1, 0);
  const show = (v: number | undefined) => (v === undefined ? '?' : String(v));
  return [
    n.id,
    n.address,
    n.role,
    n.masterId ?? '-',
    n.state,
    `slots=${slots}`,
    `slot_count=${count}`,
    `keys=${show(n.keys)}`,
    `offset=${show(n.offset)}`,
    `lag=${n.role === 'replica' ? show(n.lagBytes) : '-'}`,
  ].join(' ');
}

/** A node line split into its words; undefined for any other line (an operation's). */
export function splitNodeLine(line: string): NodeLine | undefined {
  const m = NODE_LINE.exec(line);
  if (m === null) return undefined;
  const [, id, address, role, master, state, slots, slotCount, keys, offset, lag] = m;
  const fields = new Map([
    ['slots', slots],
    ['slot_count', slotCount],
    ['keys', keys],
    ['offset', offset],
    ['lag', lag],
  ]);
  return { id, address, role, master, state, fields };
}

/** LIST's lines back into the listing they were written from. */
export function parseListing(lines: string[]): ClusterListing {
  const nodes: NodeListing[] = [];
  const operations: OperationListing[] = [];
  let coordination: CoordinationListing | undefined;
  for (const line of lines) {
    const c = COORDINATION_LINE.exec(line);
    if (c !== null) {
      coordination = { role: c[1] as CoordinationListing['role'], leader: c[2] === '-' ? '' : c[2], proxies: Number(c[3]), workers: Number(c[4]) };
      continue;
    }
    const n = splitNodeLine(line);
    if (n !== undefined) {
      const field = (key: string): string => n.fields.get(key) ?? '';
      const slots = field('slots');
      nodes.push({
        id: n.id,
        address: n.address,
        role: n.role as NodeListing['role'],
        masterId: n.master === '-' ? undefined : n.master,
        state: n.state as NodeListing['state'],
        slots: slots === '-' ? [] : slots.split(',').map(parseRange),
        keys: count(field('keys')),
        offset: count(field('offset')),
        lagBytes: count(field('lag')),
      });
      continue;
    }
    const [kind, id, ...progress] = line.split(' ');
    operations.push({ kind, id: id ?? '', progress: progress.join(' ') });
  }
  return coordination === undefined ? { nodes, operations } : { nodes, operations, coordination };
}

function parseRange(text: string): [number, number] {
  const [a, b] = text.split('-').map(Number);
  return [a, b ?? a];
}

function count(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : undefined;
}
