/**
 * LIST's reply (admin-verbs.ts: one line per node, then one per operation under way) back
 * into ClusterAdmin's listing, and that listing as JSON in the shape GET /api/v1/cluster
 * gives (`nodes`, `operations`; unknown numbers are null).
 */
import type { ClusterListing, NodeListing, OperationListing } from '../admin/cluster-admin.js';

/** `id address role master state slots=a-b,c slot_count=N keys=N offset=N lag=N` ('-' none, '?' unknown). */
const NODE_LINE = /^(\S+) (\S+) (master|replica|unknown) (\S+) (\S+) slots=(\S+) slot_count=\d+ keys=(\S+) offset=(\S+) lag=(\S+)$/;

export function parseListing(lines: string[]): ClusterListing {
  const nodes: NodeListing[] = [];
  const operations: OperationListing[] = [];
  for (const line of lines) {
    const m = NODE_LINE.exec(line);
    if (m !== null) {
      const [, id, address, role, master, state, slots, keys, offset, lag] = m;
      nodes.push({
        id,
        address,
        role: role as NodeListing['role'],
        masterId: master === '-' ? undefined : master,
        state: state as NodeListing['state'],
        slots: slots === '-' ? [] : slots.split(',').map(parseRange),
        keys: count(keys),
        offset: count(offset),
        lagBytes: count(lag),
      });
      continue;
    }
    const [kind, id, ...progress] = line.split(' ');
    operations.push({ kind, id: id ?? '', progress: progress.join(' ') });
  }
  return { nodes, operations };
}

/** The listing for scripts: undefined → null, as the HTTP API's cluster document has it. */
export function listingJson(listing: ClusterListing): string {
  return JSON.stringify(listing, (_key, value: unknown) => (value === undefined ? null : value), 2);
}

function parseRange(text: string): [number, number] {
  const [a, b] = text.split('-').map(Number);
  return [a, b ?? a];
}

function count(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : undefined;
}
