/**
 * ClientReplication: what one client's requests mean for the replicas — the master it last
 * wrote to (WAIT asks that master's replicas), whether it sent READONLY, and its writes a
 * replica may not have yet, so that its reads of what it wrote go to the master until the
 * replica has caught up (read your writes, replica-reads.ts).
 *
 * While any write of the client is unanswered, none of its reads goes to a replica (a
 * pipelined SET then GET). Once answered, the write is remembered by slot with the lag
 * monitor's epoch of the moment; a replica may serve that slot again once a later poll
 * saw it at its master's offset (ReplicaState.caughtUpEpoch > that epoch). A slot is
 * forgotten when every replica of its master has caught up. Writes that touch several
 * slots (a split MSET, DEL, a keyless transaction) are remembered for every slot at once
 * (`allAfter`), as are the slots of a client that wrote to more than MAX_SLOTS not caught
 * up yet: the record stays small whatever the client does. Without replica reads nothing
 * but lastWritePool is ever set.
 */
import type { BackendPool } from '../../backend/pool.js';

/** The slot of a write that touched several (or unknown) slots. */
export const ALL_SLOTS = -1;
const MAX_SLOTS = 64;

/** What the record needs of a replica: the last poll epoch it was caught up in. */
export interface CatchUp {
  readonly caughtUpEpoch: number;
}

export class ClientReplication {
  /** The master the client last wrote to (WAIT counts that master's replicas). */
  lastWritePool: BackendPool | undefined = undefined;
  /** READONLY: its reads may go to replicas even with --read-from master (READWRITE, RESET: not). */
  readonlyMode = false;
  /** CLIENT TRACKING is on: its reads stay on the masters, whose invalidations it gets. */
  tracking = false;
  /** Writes sent and not answered yet (counted only with replica reads on). */
  pending = 0;
  /** slot → the epoch its last write was answered in; made on the first one. */
  private bySlot: Map<number, number> | null = null;
  /** Every slot's writes up to this epoch (-1: none). */
  private allAfter = -1;

  /** A write to `slot` (or ALL_SLOTS) was answered during `epoch`; `counted`: it was counted in `pending`. */
  answered(slot: number, epoch: number, counted: boolean): void {
    if (counted) this.pending--;
    const bySlot = (this.bySlot ??= new Map());
    if (slot === ALL_SLOTS || (bySlot.size >= MAX_SLOTS && !bySlot.has(slot))) {
      for (const e of bySlot.values()) if (e > this.allAfter) this.allAfter = e;
      bySlot.clear();
      if (epoch > this.allAfter) this.allAfter = epoch;
      return;
    }
    bySlot.set(slot, epoch);
  }

  /**
   * Whether `replica` has every write of this client to `slot` (its master's replicas are
   * `siblings`); `everyReplica` is the lowest caughtUpEpoch of all replicas of all masters.
   */
  replicaHas(slot: number, replica: CatchUp, siblings: readonly CatchUp[], everyReplica: number): boolean {
    if (this.pending > 0) return false;
    if (this.allAfter >= 0) {
      if (everyReplica > this.allAfter) this.allAfter = -1;
      else if (replica.caughtUpEpoch <= this.allAfter) return false;
    }
    const epoch = this.bySlot?.get(slot);
    if (epoch === undefined) return true;
    if (replica.caughtUpEpoch <= epoch) return false;
    if (siblings.every((s) => s.caughtUpEpoch > epoch)) this.bySlot!.delete(slot);
    return true;
  }
}
