/**
 * SlotMap: the routing view of a Redis Cluster — 16384 entries → master index, plus each
 * master's address and replicas. Built from the nodes' own views (CLUSTER NODES); the
 * router keeps the current one and patches single slots on MOVED until the next refresh
 * replaces it.
 *
 * Several views are merged the way Redis itself settles ownership: for each slot, the
 * claim with the highest config epoch wins (a node's own claim breaks a tie). So a view
 * from a node that has not heard of a failover or a finished migration yet cannot undo
 * what a better-informed node reported.
 */
import { isFailing, isMaster, type ClusterNodeLine } from '../nodes/cluster-nodes.js';
import { SLOT_COUNT } from './topology/topology.js';

/** A slot no master serves. */
export const UNASSIGNED = 0xffff;

export interface ReplicaRoute {
  nodeId: string;
  host: string;
  port: number;
  failing: boolean;
}

export interface MasterRoute {
  /** Redis Cluster node id (40 hex chars); '' for a master known only from a MOVED. */
  nodeId: string;
  host: string;
  port: number;
  /** host:port, the key pools are kept under. */
  address: string;
  failing: boolean;
  replicas: ReplicaRoute[];
}

export function addressKey(host: string, port: number): string {
  return `${host}:${port}`;
}

export class SlotMap {
  /** slot → index into `masters`, or UNASSIGNED. */
  readonly slotToMaster: Uint16Array;
  readonly masters: MasterRoute[];
  /** The highest config epoch seen (CLUSTER INFO's current epoch, as far as the views tell). */
  readonly epoch: number;

  constructor(masters: MasterRoute[], slotToMaster: Uint16Array, epoch: number) {
    this.masters = masters;
    this.slotToMaster = slotToMaster;
    this.epoch = epoch;
  }

  /** Merge the CLUSTER NODES views of one or more nodes (see the module comment). */
  static fromViews(views: readonly ClusterNodeLine[][]): SlotMap {
    const lineOf = new Map<string, ClusterNodeLine>();
    const bestEpoch = new Float64Array(SLOT_COUNT).fill(-1);
    const bestOwn = new Uint8Array(SLOT_COUNT);
    const owner: (string | undefined)[] = new Array(SLOT_COUNT);
    let epoch = 0;
    for (const view of views) {
      for (const line of view) {
        const known = lineOf.get(line.id);
        // Prefer a line with an address, and the node's own line over a peer's: a node that
        // came back on another port knows its new address before its peers do.
        if (known === undefined || (known.host === '' && line.host !== '') || (line.flags.has('myself') && line.host !== '')) {
          lineOf.set(line.id, line);
        }
        if (line.configEpoch > epoch) epoch = line.configEpoch;
        if (!isMaster(line)) continue;
        const own = line.flags.has('myself') ? 1 : 0;
        for (let i = 0; i < line.slots.length; i += 2) {
          for (let slot = line.slots[i]; slot <= line.slots[i + 1]; slot++) {
            if (line.configEpoch > bestEpoch[slot] || (line.configEpoch === bestEpoch[slot] && own > bestOwn[slot])) {
              bestEpoch[slot] = line.configEpoch;
              bestOwn[slot] = own;
              owner[slot] = line.id;
            }
          }
        }
      }
    }
    const masters: MasterRoute[] = [];
    const indexOf = new Map<string, number>();
    const slotToMaster = new Uint16Array(SLOT_COUNT).fill(UNASSIGNED);
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const id = owner[slot];
      if (id === undefined) continue;
      let idx = indexOf.get(id);
      if (idx === undefined) {
        const line = lineOf.get(id)!;
        idx = masters.length;
        indexOf.set(id, idx);
        masters.push({ nodeId: id, host: line.host, port: line.port, address: addressKey(line.host, line.port), failing: isFailing(line), replicas: [] });
      }
      slotToMaster[slot] = idx;
    }
    for (const line of lineOf.values()) {
      if (line.masterId === undefined || isMaster(line)) continue;
      const idx = indexOf.get(line.masterId);
      if (idx !== undefined) masters[idx].replicas.push({ nodeId: line.id, host: line.host, port: line.port, failing: isFailing(line) });
    }
    return new SlotMap(masters, slotToMaster, epoch);
  }

  /** Index of the master at this address, or -1. */
  indexOfAddress(address: string): number {
    for (let i = 0; i < this.masters.length; i++) if (this.masters[i].address === address) return i;
    return -1;
  }

  /** The slot moved to the master at host:port (a MOVED reply); a master not known yet is added. Returns its index. */
  moveSlot(slot: number, host: string, port: number): number {
    const address = addressKey(host, port);
    let idx = this.indexOfAddress(address);
    if (idx === -1) {
      idx = this.masters.length;
      this.masters.push({ nodeId: '', host, port, address, failing: false, replicas: [] });
    }
    this.slotToMaster[slot] = idx;
    return idx;
  }

  /** Masters that serve at least one slot, by index, in the order of their lowest slot. */
  servingMasters(): number[] {
    const seen = new Set<number>();
    const order: number[] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const idx = this.slotToMaster[slot];
      if (idx !== UNASSIGNED && !seen.has(idx)) {
        seen.add(idx);
        order.push(idx);
      }
    }
    return order;
  }

  /** The lowest slot a master serves, or -1. */
  firstSlotOf(masterIndex: number): number {
    return this.slotToMaster.indexOf(masterIndex);
  }

  /** [first, last] ranges a master serves. */
  rangesOf(masterIndex: number): [number, number][] {
    const ranges: [number, number][] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (this.slotToMaster[slot] !== masterIndex) continue;
      const first = slot;
      while (slot + 1 < SLOT_COUNT && this.slotToMaster[slot + 1] === masterIndex) slot++;
      ranges.push([first, slot]);
    }
    return ranges;
  }
}
