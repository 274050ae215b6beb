/**
 * REBALANCE LOAD: which slots to move so the masters' ops/s even out, the proxy's own count
 * of requests per slot (ops/slot-load.ts) being the load.
 *
 * planLoadRebalance is pure (no Redis). Greedy: while the spread — (max − min) / mean of the
 * masters' ops/s — is above the tolerance, the most loaded master gives one slot to the
 * least loaded one that may take it: the slot whose rate is closest to half their gap,
 * among those of at most half the gap — so the taker never ends hotter than the giver, a
 * slot hotter than that stays where it is (moving it would only move the hot spot), and
 * every move strictly lowers the sum of squared loads: the plan cannot go round in circles.
 * A slot moves at most once per plan. Bounded by:
 *   - the slot-count rule: a move never takes a master below half or above 1.5x of an even
 *     share of the served slots (floor(even/2) .. ceil(1.5 even));
 *   - a cap on the slots one run moves (MAX_SLOTS_MOVED);
 * and it says where it stopped: balanced, a slot too hot to be split, the bound, the cap.
 *
 * rebalanceByLoad reads the ownership from the cluster and the rates from the data plane,
 * and (unless a dry run) runs the plan with the SlotMigrator, as REBALANCE does.
 */
import type { Logger } from '../../log.js';
import type { SlotLoadSource } from '../../ops/slot-load.js';
import type { LoadMove, LoadRebalanceReport, MasterLoadPlan } from '../../status/load-rebalance-report.js';
import { SLOT_COUNT, type SlotRange } from '../topology/topology.js';
import type { SlotMapSource } from '../slot-map-source.js';
import { currentHoldings, type ClusterView } from './rebalance.js';
import type { MigrationReport, SlotMigrator, SlotMove } from './slot-migration.js';

/** Stop once (max − min) / mean of the masters' ops/s is at most this: well inside the 25% aimed at. */
export const LOAD_TOLERANCE = 0.1;
/** The most slots one REBALANCE LOAD moves (run it again to go on). */
export const MAX_SLOTS_MOVED = 2048;

export interface LoadPlanInput {
  /** [first, last, masterId] ranges: who serves what now. */
  ownership: readonly SlotRange[];
  /** The masters that may take slots (every live master but those left out); owners not listed only give. */
  masterIds: readonly string[];
  /** Ops/s per slot (index: slot). */
  perSlot: ArrayLike<number>;
  tolerance?: number;
  maxSlotsMoved?: number;
}

/** The plan: the moves for the migrator, and the report without what only the caller knows. */
export interface LoadPlan {
  moves: SlotMove[];
  report: Omit<LoadRebalanceReport, 'dryRun' | 'windowSeconds' | 'processes' | 'result'>;
}

/** (max − min) / mean; 0 when there is no load. */
export function loadSpread(loads: readonly number[]): number {
  if (loads.length === 0) return 0;
  const mean = loads.reduce((a, b) => a + b, 0) / loads.length;
  return mean <= 0 ? 0 : (Math.max(...loads) - Math.min(...loads)) / mean;
}

export function planLoadRebalance(input: LoadPlanInput): LoadPlan {
  const tolerance = input.tolerance ?? LOAD_TOLERANCE;
  const cap = input.maxSlotsMoved ?? MAX_SLOTS_MOVED;
  if (input.perSlot.length !== SLOT_COUNT) throw new Error(`expected ${SLOT_COUNT} slot rates, got ${input.perSlot.length}`);
  const ids = [...input.masterIds];
  const owner = new Int32Array(SLOT_COUNT).fill(-1);
  for (const [first, last, id] of input.ownership) {
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last >= SLOT_COUNT || first > last) throw new Error(`bad slot range ${first}-${last} of ${id}`);
    let m = ids.indexOf(id);
    if (m === -1) m = ids.push(id) - 1;
    for (let slot = first; slot <= last; slot++) owner[slot] = m;
  }
  if (ids.length === 0) throw new Error('no master to rebalance onto');
  const mayTake = ids.map((id) => input.masterIds.includes(id));
  const rate = (slot: number): number => Math.max(0, Number(input.perSlot[slot]) || 0);

  const loads = new Array<number>(ids.length).fill(0);
  const counts = new Array<number>(ids.length).fill(0);
  const slotsOf: number[][] = ids.map(() => []);
  let served = 0;
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const m = owner[slot];
    if (m === -1) continue;
    served++;
    loads[m] += rate(slot);
    counts[m]++;
    slotsOf[m].push(slot);
  }
  const before = { loads: [...loads], counts: [...counts] };
  const even = served / ids.length;
  const bounds = { min: Math.floor(even / 2), max: Math.ceil(even * 1.5) };
  const movedTo = new Int32Array(SLOT_COUNT).fill(-1);
  let slotsMoved = 0;
  let stopped = '';

  while (stopped === '') {
    const spread = loadSpread(loads);
    if (loads.every((l) => l === 0)) {
      stopped = 'no load counted yet: nothing to plan from';
      break;
    }
    if (spread <= tolerance) {
      stopped = `balanced: spread ${pct(spread)} <= ${pct(tolerance)}`;
      break;
    }
    if (slotsMoved >= cap) {
      stopped = `cap: ${cap} slots moved, the most one REBALANCE LOAD moves (run it again to go on)`;
      break;
    }
    const hot = argMax(loads);
    if (counts[hot] <= bounds.min) {
      stopped = `bound: the most loaded master ${ids[hot]} holds ${counts[hot]} slots, the fewest the bound allows (${bounds.min})`;
      break;
    }
    const receivers = loads.map((_, m) => m).filter((m) => m !== hot && mayTake[m] && loads[m] < loads[hot]).sort((a, b) => loads[a] - loads[b]);
    let boundHit = false;
    let moved = false;
    for (const to of receivers) {
      if (counts[to] >= bounds.max) {
        boundHit = true;
        continue;
      }
      const gap = loads[hot] - loads[to];
      const slot = bestSlot(slotsOf[hot], movedTo, rate, gap);
      if (slot === -1) continue;
      slotsOf[hot].splice(slotsOf[hot].indexOf(slot), 1);
      slotsOf[to].push(slot);
      loads[hot] -= rate(slot);
      loads[to] += rate(slot);
      counts[hot]--;
      counts[to]++;
      movedTo[slot] = to;
      slotsMoved++;
      moved = true;
      break;
    }
    if (moved) continue;
    const hottest = hottestSlot(slotsOf[hot], rate);
    const mean = loads.reduce((a, b) => a + b, 0) / loads.length;
    if (hottest !== -1 && rate(hottest) >= mean * (1 - tolerance)) {
      stopped = `hot slot: slot ${hottest} alone gets ${num(rate(hottest))} ops/s of ${ids[hot]}'s ${num(loads[hot])} (the mean is ${num(mean)}), and a slot cannot be split: no move brings the loads closer`;
    } else if (boundHit) {
      stopped = `bound: the masters that could take load from ${ids[hot]} hold ${bounds.max} slots, the most the bound allows`;
    } else {
      stopped = `no slot of ${ids[hot]} is small enough to bring the loads closer (at most half its gap to a master that may take it)`;
    }
  }

  const masters: MasterLoadPlan[] = ids.map((id, m) => ({ id, opsBefore: before.loads[m], opsAfter: loads[m], slotsBefore: before.counts[m], slotsAfter: counts[m] }));
  const loadMoves = groupMoves(owner, movedTo, ids, rate);
  return {
    moves: loadMoves.map(({ first, last, to }) => ({ first, last, to })),
    report: {
      bounds,
      maxSlotsMoved: cap,
      tolerance,
      masters,
      spreadBefore: loadSpread(before.loads),
      spreadAfter: loadSpread(loads),
      moves: loadMoves,
      slotsMoved,
      stopped,
    },
  };
}

/** Among `slots` not moved yet, with load, of at most gap / 2: the one whose rate is closest to gap / 2; -1 for none. */
function bestSlot(slots: readonly number[], movedTo: Int32Array, rate: (slot: number) => number, gap: number): number {
  let best = -1;
  let bestDistance = Infinity;
  for (const slot of slots) {
    const r = rate(slot);
    if (r <= 0 || r > gap / 2 || movedTo[slot] !== -1) continue;
    const distance = Math.abs(r - gap / 2);
    if (distance < bestDistance || (distance === bestDistance && slot < best)) {
      best = slot;
      bestDistance = distance;
    }
  }
  return best;
}

function hottestSlot(slots: readonly number[], rate: (slot: number) => number): number {
  let best = -1;
  for (const slot of slots) if (best === -1 || rate(slot) > rate(best)) best = slot;
  return best;
}

function argMax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** The moved slots as ranges of consecutive slots with the same source and target, in slot order. */
function groupMoves(owner: Int32Array, movedTo: Int32Array, ids: readonly string[], rate: (slot: number) => number): LoadMove[] {
  const moves: LoadMove[] = [];
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const to = movedTo[slot];
    if (to === -1) continue;
    const from = ids[owner[slot]];
    const last = moves[moves.length - 1];
    if (last !== undefined && last.last === slot - 1 && last.from === from && last.to === ids[to]) {
      last.last = slot;
      last.ops += rate(slot);
    } else {
      moves.push({ first: slot, last: slot, from, to: ids[to], ops: rate(slot) });
    }
  }
  return moves;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const num = (x: number): string => (x >= 100 ? String(Math.round(x)) : x.toFixed(1));

export interface LoadRebalanceOptions {
  dryRun: boolean;
  /** Masters (our ids) that take no slots (under --ack replica: empty ones without a replica). */
  exclude?: string[];
  log?: Logger;
}

/**
 * REBALANCE LOAD [DRYRUN]: the plan from the slot rates now and the cluster's ownership;
 * unless a dry run, its moves made (an interrupted migration is finished first).
 */
export async function rebalanceByLoad(
  migrator: SlotMigrator,
  cluster: ClusterView,
  slotMaps: SlotMapSource,
  load: SlotLoadSource,
  opts: LoadRebalanceOptions,
): Promise<{ report: LoadRebalanceReport; migration: MigrationReport | undefined }> {
  if (!opts.dryRun) await migrator.resume();
  const exclude = new Set(opts.exclude ?? []);
  const holdings = await currentHoldings(cluster, slotMaps);
  const rates = await load.rates();
  const plan = planLoadRebalance({
    ownership: holdings.flatMap((h) => h.ranges.map(([first, last]): SlotRange => [first, last, h.id])),
    masterIds: holdings.map((h) => h.id).filter((id) => !exclude.has(id)),
    perSlot: rates.perSlot,
  });
  const report: LoadRebalanceReport = { dryRun: opts.dryRun, windowSeconds: rates.seconds, processes: rates.processes, ...plan.report };
  opts.log?.info({ dryRun: opts.dryRun, slots: plan.report.slotsMoved, ranges: plan.moves.length, spreadBefore: report.spreadBefore, spreadAfter: report.spreadAfter, stopped: report.stopped }, 'rebalance by load planned');
  if (opts.dryRun || plan.moves.length === 0) return { report, migration: undefined };
  return { report, migration: await migrator.migrate(plan.moves, 'rebalance by load') };
}
