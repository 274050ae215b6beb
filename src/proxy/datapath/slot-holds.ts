/**
 * Slots whose requests wait, whichever master serves them (Router.holdSlots): a shard is
 * being recovered and its keys are not all on their new owners yet. Each waiting request
 * has a bound; past it, it gets CLUSTERDOWN (retryable) while the slot stays held.
 */
import { SLOT_COUNT } from '../../cluster/topology/topology.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import type { ClientLink } from './client-link.js';

/** A request parked while its slot is held. */
export interface ParkedForSlot {
  session: ClientLink;
  raw: Buffer;
  sink: ReplySink;
  /** Past this (Date.now()), it stops waiting and gets CLUSTERDOWN. */
  until: number;
}

/** How often parked requests for held slots are checked against their deadline. */
const SLOT_HOLD_SWEEP_MS = 100;

export class SlotHolds {
  /** slot → 1 while requests for it wait: read for every request (the router keeps this array at hand). */
  readonly held = new Uint8Array(SLOT_COUNT);
  /** Those waiting, by slot. */
  private readonly parked = new Map<number, ParkedForSlot[]>();
  private maxWaitMs = 0;
  private sweep: NodeJS.Timeout | null = null;

  /** @param expired the reply a request gets when its wait is over (CLUSTERDOWN) */
  constructor(private readonly expired: Buffer) {}

  hold(slots: Iterable<number>, maxWaitMs: number): void {
    this.maxWaitMs = maxWaitMs;
    for (const slot of slots) this.held[slot] = 1;
    if (this.sweep === null) {
      this.sweep = setInterval(() => this.expire(Date.now()), SLOT_HOLD_SWEEP_MS);
      this.sweep.unref();
    }
  }

  /** Stop holding these slots; their waiting requests go to `send`. */
  release(slots: Iterable<number>, send: (p: ParkedForSlot, slot: number) => void): void {
    for (const slot of slots) {
      this.held[slot] = 0;
      const waiting = this.parked.get(slot);
      if (waiting === undefined) continue;
      this.parked.delete(slot);
      for (const p of waiting) send(p, slot);
    }
    if (this.held.indexOf(1) === -1) this.stopSweep();
  }

  /** Wait for the slot, from `since` on (a request parked before keeps the bound it had). */
  park(session: ClientLink, slot: number, raw: Buffer, sink: ReplySink, since = Date.now()): void {
    let waiting = this.parked.get(slot);
    if (waiting === undefined) this.parked.set(slot, (waiting = []));
    waiting.push({ session, raw, sink, until: since + this.maxWaitMs });
  }

  /** Requests that waited their bound (all of them: Infinity) get the expired reply; the slots stay held. */
  expire(now: number): void {
    for (const [slot, waiting] of this.parked) {
      let kept = 0;
      for (const p of waiting) {
        if (p.until <= now) p.sink.deliver(this.expired);
        else waiting[kept++] = p;
      }
      waiting.length = kept;
      if (kept === 0) this.parked.delete(slot);
    }
  }

  /** The router closes: every waiting request gets the expired reply, and no sweep runs any more. */
  close(): void {
    this.expire(Infinity);
    this.stopSweep();
  }

  private stopSweep(): void {
    if (this.sweep !== null) clearInterval(this.sweep);
    this.sweep = null;
  }
}
