/**
 * REBALANCE: which slots to move so every master serves about as many as the others.
 *
 * planRebalance is pure (no Redis): given who serves what and the masters to spread over,
 * it returns the fewest slot moves that even the counts out —
 *   - a master given in the list ends with floor(total/N) or one more; the extra slots go to
 *     the masters that hold the most already, so no slot moves only to shift a remainder;
 *   - a master not in the list (one being removed) gives all of its slots away;
 *   - a new, empty master in the list gets its share (about 1/N).
 * Every slot moved leaves a master above its share and lands on one below it, so the
 * number of slots moved is the sum of the shortfalls: the minimum. A donor gives away the
 * top end of what it serves (it keeps its lowest slots together), and the given slots are
 * handed out in slot order, so moves are contiguous ranges wherever the donors' are.
 *
 * rebalanceCluster reads the ownership from the cluster and runs the plan with a
 * SlotMigrator; the admin verbs (ADD MASTER, REMOVE, REBALANCE) call it.
 */
import type { Logger } from '../../log.js';
import { formatAddress, type ControlClients } from '../../nodes/control-client.js';
import { isFailing, isMaster, parseClusterNodes } from '../../nodes/cluster-nodes.js';
import type { Member } from '../membership.js';
import { planSlots, type MigrationReport, type SlotMigrator, type SlotMove } from './slot-migration.js';
import type { SlotMapSource } from '../slot-map-source.js';
import { SLOT_COUNT, type SlotRange, type TopologyDoc } from '../topology/topology.js';

/**
 * The moves that even out `ownership` ([first, last, masterId] ranges) over `masterIds`.
 * Slots no master serves are left alone (they hold no data to move). Deterministic.
 */
export function planRebalance(ownership: readonly SlotRange[], masterIds: readonly string[]): SlotMove[] {
  if (masterIds.length === 0) throw new Error('no master to rebalance onto');
  if (new Set(masterIds).size !== masterIds.length) throw new Error(`a master is listed twice: ${masterIds.join(', ')}`);
  const owner: (string | undefined)[] = new Array(SLOT_COUNT);
  for (const [first, last, id] of ownership) {
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last >= SLOT_COUNT || first > last) {
      throw new Error(`bad slot range ${first}-${last} of ${id}`);
    }
    for (let slot = first; slot <= last; slot++) {
      if (owner[slot] !== undefined && owner[slot] !== id) throw new Error(`slot ${slot} is given to both ${owner[slot]} and ${id}`);
      owner[slot] = id;
    }
  }
  const slotsOf = new Map<string, number[]>();
  for (const id of masterIds) slotsOf.set(id, []);
  let total = 0;
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const id = owner[slot];
    if (id === undefined) continue;
    total++;
    let list = slotsOf.get(id);
    if (list === undefined) slotsOf.set(id, (list = []));
    list.push(slot);
  }

  // Shares: floor(total/N) each, one more for the `total % N` masters holding the most now.
  const base = Math.floor(total / masterIds.length);
  const byHolding = [...masterIds].sort((a, b) => slotsOf.get(b)!.length - slotsOf.get(a)!.length || compareIds(a, b, masterIds));
  const share = new Map<string, number>();
  byHolding.forEach((id, i) => share.set(id, base + (i < total % masterIds.length ? 1 : 0)));

  // What donors give: their highest slots beyond their share (all, for masters not listed).
  const given: number[] = [];
  for (const [id, slots] of slotsOf) {
    const keep = share.get(id) ?? 0;
    for (let i = keep; i < slots.length; i++) given.push(slots[i]);
  }
  given.sort((a, b) => a - b);

  // Receivers, in the order they were listed, take consecutive runs of the given slots.
  const moves: SlotMove[] = [];
  let next = 0;
  for (const id of masterIds) {
    const want = share.get(id)! - slotsOf.get(id)!.length;
    for (let n = 0; n < want; n++) {
      const slot = given[next++];
      const last = moves[moves.length - 1];
      if (last !== undefined && last.to === id && last.last === slot - 1) last.last = slot;
      else moves.push({ first: slot, last: slot, to: id });
    }
  }
  return moves;
}

/** Order of two ids as listed (ties in holding go to the master listed first). */
function compareIds(a: string, b: string, listed: readonly string[]): number {
  return listed.indexOf(a) - listed.indexOf(b);
}

/** What a rebalance reads of the cluster (ClusterManager provides it). */
export interface ClusterView {
  readonly topology: TopologyDoc;
  /** Control-plane connections to its nodes, with their password. */
  readonly clients: ControlClients;
  /** Every node as the cluster sees it now, by our ids. */
  membership(): Promise<Map<string, Member>>;
}

export interface RebalanceOptions {
  /** Masters (our ids) to drain: they end with no slots (REMOVE). */
  exclude?: string[];
  /** Written on the operation and in the logs; default "rebalance". */
  reason?: string;
  log?: Logger;
}

/** A master as rebalanceCluster sees it: our id (or host:port when the document does not know it) and its slots. */
export interface MasterHolding {
  id: string;
  ranges: [number, number][];
}

/**
 * Every live master of the cluster with the slots it serves, including masters that serve
 * none yet (a new one): the serving masters from the slot map, the empty ones from the
 * CLUSTER NODES view of a serving master.
 */
export async function currentHoldings(cluster: ClusterView, slotMaps: SlotMapSource, commandTimeoutMs = 2_000): Promise<MasterHolding[]> {
  const map = await slotMaps.refresh();
  const idOf = (host: string, port: number): string => cluster.topology.nodes.find((n) => n.host === host && n.port === port)?.id ?? formatAddress({ host, port });
  const holdings: MasterHolding[] = map.servingMasters().map((i) => ({ id: idOf(map.masters[i].host, map.masters[i].port), ranges: map.rangesOf(i) }));
  if (cluster.topology.provider !== 'static') {
    // Empty masters by their own word: a node just made a replica (ADD MASTER adds one
    // for the new master) may still be a master in its peers' views for a moment.
    for (const m of (await cluster.membership()).values()) {
      if (m.role === 'master' && m.answering && !m.failing && !holdings.some((h) => h.id === m.id)) holdings.push({ id: m.id, ranges: [] });
    }
    return holdings;
  }
  const serving = map.masters.find((m) => !m.failing && m.host !== '');
  if (serving === undefined) return holdings;
  const view = await cluster.clients.with(serving, async (c) => String(await c.call('CLUSTER', 'NODES')), commandTimeoutMs);
  for (const line of parseClusterNodes(view)) {
    if (!isMaster(line) || isFailing(line) || line.host === '' || line.flags.has('noaddr')) continue;
    const id = idOf(line.host, line.port);
    if (!holdings.some((h) => h.id === id)) holdings.push({ id, ranges: [] });
  }
  return holdings;
}

/**
 * REBALANCE: even out the slots over every live master except `exclude`, moving their keys.
 * An interrupted migration left in the document is finished first. Resolves with the
 * migration's report (no slot moved: a report with zero counts).
 */
export async function rebalanceCluster(
  migrator: SlotMigrator,
  cluster: ClusterView,
  slotMaps: SlotMapSource,
  opts: RebalanceOptions = {},
): Promise<MigrationReport> {
  await migrator.resume();
  const exclude = new Set(opts.exclude ?? []);
  const holdings = await currentHoldings(cluster, slotMaps);
  for (const id of exclude) {
    if (!holdings.some((h) => h.id === id)) throw new Error(`ERR ${id} is not a live master`);
  }
  const masterIds = holdings.map((h) => h.id).filter((id) => !exclude.has(id));
  if (masterIds.length === 0) throw new Error('ERR cannot drain every master: no master would be left to serve the slots');
  const ownership: SlotRange[] = holdings.flatMap((h) => h.ranges.map(([first, last]): SlotRange => [first, last, h.id]));
  const moves = planRebalance(ownership, masterIds);
  opts.log?.info({ masters: masterIds, exclude: [...exclude], ranges: moves.length, slots: planSlots(moves) }, 'rebalance planned');
  return migrator.migrate(moves, opts.reason ?? (exclude.size > 0 ? `drain ${[...exclude].join(', ')}` : 'rebalance'));
}
