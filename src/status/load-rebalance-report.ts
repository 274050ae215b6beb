/**
 * REBALANCE LOAD's plan and outcome, as the verb answers it (one line per bulk string, as
 * LIST does), the HTTP API (the object itself) and ihs-cli (the lines). A leaf, so the
 * surfaces and the control plane share it without importing each other.
 *
 *   header   `rebalance by load[ (dry run)]: ops/s over the last S s, N masters[, counted by W workers]`
 *   rules    `bounds: slots per master A..B (half to 1.5x of an even share), at most M slots moved, stop at spread <= T%`
 *   master   `master <id> ops/s <before> -> <after> slots <before> -> <after>`
 *   spread   `spread (max-min)/mean <before>% -> <after>%`
 *   move     `move <first>[-<last>] <from> -> <to> ops/s <rate>`
 *   stopped  `stopped: <why the plan ends>`
 *   result   `result: <what the migration did>` (not in a dry run)
 */

/** One master in the plan: its load and slot count now and after the moves. */
export interface MasterLoadPlan {
  id: string;
  opsBefore: number;
  opsAfter: number;
  slotsBefore: number;
  slotsAfter: number;
}

/** Consecutive slots moved from one master to another. */
export interface LoadMove {
  first: number;
  last: number;
  from: string;
  to: string;
  /** The slots' ops/s together. */
  ops: number;
}

export interface LoadRebalanceReport {
  dryRun: boolean;
  /** The time the rates cover, in seconds. */
  windowSeconds: number;
  /** How many proxy processes counted the load (--workers: every worker that answered; else 1). */
  processes: number;
  /** The slot-count rule as a bound: a move never takes a master below `min` or above `max` slots. */
  bounds: { min: number; max: number };
  /** The most slots one REBALANCE LOAD moves. */
  maxSlotsMoved: number;
  /** The plan stops once the spread is at most this ((max-min)/mean of the masters' ops/s). */
  tolerance: number;
  masters: MasterLoadPlan[];
  /** (max-min)/mean of the masters' ops/s, now and after the moves (0 without load). */
  spreadBefore: number;
  spreadAfter: number;
  moves: LoadMove[];
  slotsMoved: number;
  /** Why the plan ends where it does. */
  stopped: string;
  /** What the migration did (absent in a dry run). */
  result?: string;
}

const ops = (n: number): string => (n >= 100 ? String(Math.round(n)) : n.toFixed(1));
const percent = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The verb's lines. */
export function loadRebalanceLines(r: LoadRebalanceReport): string[] {
  const lines = [
    `rebalance by load${r.dryRun ? ' (dry run)' : ''}: ops/s over the last ${r.windowSeconds.toFixed(1)} s, ${r.masters.length} masters${r.processes > 1 ? `, counted by ${r.processes} workers` : ''}`,
    `bounds: slots per master ${r.bounds.min}..${r.bounds.max} (half to 1.5x of an even share), at most ${r.maxSlotsMoved} slots moved, stop at spread <= ${percent(r.tolerance)}`,
    ...r.masters.map((m) => `master ${m.id} ops/s ${ops(m.opsBefore)} -> ${ops(m.opsAfter)} slots ${m.slotsBefore} -> ${m.slotsAfter}`),
    `spread (max-min)/mean ${percent(r.spreadBefore)} -> ${percent(r.spreadAfter)}`,
    ...r.moves.map((m) => `move ${m.first === m.last ? m.first : `${m.first}-${m.last}`} ${m.from} -> ${m.to} ops/s ${ops(m.ops)}`),
    `stopped: ${r.stopped}`,
  ];
  if (r.result !== undefined) lines.push(`result: ${r.result}`);
  return lines;
}
