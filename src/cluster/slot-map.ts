/**
 * SlotMap: the routing view of the topology. 16384 entries → shard index, plus each
 * shard's master address. Immutable: a topology change is a new SlotMap, so a
 * lookup never sees a half-applied change.
 */
import { SLOT_COUNT, type TopologyDoc } from './topology.js';

export interface ShardRoute {
  shardId: string;
  masterId: string;
  host: string;
  port: number;
}

export class SlotMap {
  /** slot → index into `shards`. */
  readonly slotToShard: Uint16Array;
  readonly shards: readonly ShardRoute[];
  readonly epoch: number;

  constructor(epoch: number, shards: readonly ShardRoute[], slotToShard: Uint16Array) {
    this.epoch = epoch;
    this.shards = shards;
    this.slotToShard = slotToShard;
  }

  static fromTopology(doc: TopologyDoc): SlotMap {
    const byId = new Map(doc.nodes.map((n) => [n.id, n]));
    const shards: ShardRoute[] = [];
    const shardIndex = new Map<string, number>();
    for (const s of doc.shards) {
      const master = byId.get(s.masterId);
      if (!master) throw new Error(`topology: shard ${s.id} names unknown master ${s.masterId}`);
      shardIndex.set(s.id, shards.length);
      shards.push({ shardId: s.id, masterId: master.id, host: master.host, port: master.port });
    }
    const slotToShard = new Uint16Array(SLOT_COUNT);
    const covered = new Uint8Array(SLOT_COUNT);
    for (const [first, last, shardId] of doc.slots) {
      const idx = shardIndex.get(shardId);
      if (idx === undefined) throw new Error(`topology: slots ${first}-${last} name unknown shard ${shardId}`);
      if (first < 0 || last >= SLOT_COUNT || first > last) throw new Error(`topology: bad slot range ${first}-${last}`);
      slotToShard.fill(idx, first, last + 1);
      covered.fill(1, first, last + 1);
    }
    const gap = covered.indexOf(0);
    if (gap !== -1) throw new Error(`topology: slot ${gap} is not assigned to any shard`);
    return new SlotMap(doc.epoch, shards, slotToShard);
  }

  shardOf(slot: number): number {
    return this.slotToShard[slot];
  }
}
