/**
 * LIST as a table for people: each master followed by its replicas, then nodes whose master
 * is not listed and nodes of unknown role; then the operations under way and a summary.
 */
import type { ClusterListing, NodeListing } from '../status/list-format.js';

/** Slot ranges shown per node; the rest are counted (`--json` has them all). */
const MAX_RANGES = 4;
const HEADER = ['NODE', 'ADDRESS', 'ROLE', 'STATE', 'SLOTS', '#SLOTS', 'KEYS', 'LAG'];
/** Columns aligned right (numbers). */
const RIGHT = new Set([5, 6, 7]);

export function formatListing(listing: ClusterListing): string {
  const rows: string[][] = [HEADER];
  const masters = listing.nodes.filter((n) => n.role === 'master');
  const masterIds = new Set(masters.map((m) => m.id));
  for (const m of masters) {
    rows.push(row(m, m.id));
    const replicas = listing.nodes.filter((n) => n.role !== 'master' && n.masterId === m.id);
    replicas.forEach((r, i) => rows.push(row(r, `${i === replicas.length - 1 ? '└─' : '├─'} ${r.id}`)));
  }
  for (const n of listing.nodes) if (n.role !== 'master' && (n.masterId === undefined || !masterIds.has(n.masterId))) rows.push(row(n, n.id));

  const lines = alignColumns(rows);
  if (listing.operations.length > 0) {
    lines.push('', 'Operations under way:');
    for (const op of listing.operations) lines.push(`  ${op.kind} ${op.id} ${op.progress}`);
  }
  lines.push('', summary(listing.nodes));
  return lines.join('\n');
}

function row(n: NodeListing, name: string): string[] {
  const slotCount = n.slots.reduce((sum, [a, b]) => sum + b - a + 1, 0);
  return [
    name,
    n.address,
    n.role,
    n.state,
    ranges(n.slots),
    n.role === 'master' ? String(slotCount) : '-',
    show(n.keys),
    n.role === 'replica' ? show(n.lagBytes) : '-',
  ];
}

function ranges(slots: [number, number][]): string {
  if (slots.length === 0) return '-';
  const shown = slots.slice(0, MAX_RANGES).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  if (slots.length > MAX_RANGES) shown.push(`+${slots.length - MAX_RANGES} more`);
  return shown.join(',');
}

function show(v: number | undefined): string {
  return v === undefined ? '?' : String(v);
}

function summary(nodes: NodeListing[]): string {
  const masters = nodes.filter((n) => n.role === 'master');
  const replicas = nodes.filter((n) => n.role === 'replica').length;
  const slots = masters.reduce((sum, m) => sum + m.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
  const keys = masters.reduce((sum, m) => sum + (m.keys ?? 0), 0);
  const notUp = nodes.filter((n) => n.state !== 'up').length;
  const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
  return `${plural(masters.length, 'master')}, ${plural(replicas, 'replica')}, ${slots} of 16384 slots served, ${plural(keys, 'key')}${notUp > 0 ? `, ${notUp} not up` : ''}`;
}

/** Pad every column to its widest cell (by code points: the tree marks are one column each). */
function alignColumns(rows: string[][]): string[] {
  const width = (s: string) => [...s].length;
  const widths = HEADER.map((_, c) => Math.max(...rows.map((r) => width(r[c]))));
  return rows.map((r) =>
    r
      .map((cell, c) => {
        const pad = ' '.repeat(widths[c] - width(cell));
        return RIGHT.has(c) ? pad + cell : c === r.length - 1 ? cell : cell + pad;
      })
      .join('  ')
      .trimEnd(),
  );
}
