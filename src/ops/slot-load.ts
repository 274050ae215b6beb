/**
 * Requests per hash slot, as the router sends them: what `REBALANCE LOAD` plans from
 * (Redis 7.0 has no CLUSTER SLOT-STATS, so the proxy counts).
 *
 * The count of a request is one Uint32Array increment on the hot path (no allocation, no
 * clock read). Two windows make the rate recent: the counts of the window under way and
 * of the one before it, swapped every `windowMs` by a timer; a rate is both windows'
 * counts over the time they cover, so it always spans between one and two windows.
 *
 * The data plane counts into a SlotLoad; the control plane reads it as a SlotLoadSource
 * (main.ts hands the one to the other), so neither imports the other. With --workers the
 * source sums every worker's rates, gathered over the supervisor when a plan is made.
 */

const SLOTS = 16384;

/** The window each of the two counting buffers covers, by default. */
export const SLOT_LOAD_WINDOW_MS = 10_000;

/** Ops/s per slot over the recent past. */
export interface SlotRates {
  /** Requests per second of each slot (index: slot). */
  readonly perSlot: Float64Array;
  /** The time the rates cover, in seconds (this process's window). */
  readonly seconds: number;
  /** How many proxy processes' counts are summed here (1: this one's alone). */
  readonly processes: number;
}

/**
 * What the control plane may read of the data plane's slot counts: this process's, or
 * with --workers every worker's summed (asked of them over IPC, hence a promise).
 */
export interface SlotLoadSource {
  rates(): Promise<SlotRates>;
}

/** A process's rates as they travel between workers: only the slots with load. */
export interface SlotRatesMessage {
  seconds: number;
  slots: number[];
  rates: number[];
}

export function slotRatesMessage(r: SlotRates): SlotRatesMessage {
  const slots: number[] = [];
  const rates: number[] = [];
  for (let slot = 0; slot < r.perSlot.length; slot++) {
    if (r.perSlot[slot] > 0) {
      slots.push(slot);
      rates.push(r.perSlot[slot]);
    }
  }
  return { seconds: r.seconds, slots, rates };
}

/**
 * Every worker's rates summed: `gather` asks each worker (this one included) for its own.
 * A worker that does not answer is left out; when none does, this process's rates serve.
 */
export function summedSlotLoad(own: SlotLoad, gather: () => Promise<SlotRatesMessage[]>): SlotLoadSource {
  return {
    async rates() {
      let replies: SlotRatesMessage[];
      try {
        replies = (await gather()).filter((m) => Array.isArray(m?.slots) && Array.isArray(m.rates));
      } catch {
        replies = [];
      }
      if (replies.length === 0) return own.ratesNow();
      const perSlot = new Float64Array(SLOTS);
      for (const m of replies) {
        for (let i = 0; i < m.slots.length; i++) {
          const slot = m.slots[i];
          if (Number.isInteger(slot) && slot >= 0 && slot < SLOTS) perSlot[slot] += Number(m.rates[i]) || 0;
        }
      }
      return { perSlot, seconds: Math.max(...replies.map((m) => m.seconds)), processes: replies.length };
    },
  };
}

export class SlotLoad implements SlotLoadSource {
  private current = new Uint32Array(SLOTS);
  private previous = new Uint32Array(SLOTS);
  /** When the window under way began. */
  private currentSince: number;
  /** How long the previous window lasted (0 before the first swap). */
  private previousMs = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly windowMs = SLOT_LOAD_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.currentSince = now();
    this.timer = setInterval(() => this.rotate(), windowMs);
    this.timer.unref();
  }

  /** One request (or one part of a split one) routed to `slot`. */
  hit(slot: number): void {
    this.current[slot]++;
  }

  /** Start a new window: the one under way becomes the previous one. */
  rotate(): void {
    const at = this.now();
    const old = this.previous;
    this.previous = this.current;
    this.previousMs = at - this.currentSince;
    old.fill(0);
    this.current = old;
    this.currentSince = at;
  }

  rates(): Promise<SlotRates> {
    return Promise.resolve(this.ratesNow());
  }

  /** This process's rates, now. */
  ratesNow(): SlotRates {
    const ms = Math.max(1, this.previousMs + (this.now() - this.currentSince));
    const perSlot = new Float64Array(SLOTS);
    const scale = 1000 / ms;
    for (let slot = 0; slot < SLOTS; slot++) perSlot[slot] = (this.current[slot] + this.previous[slot]) * scale;
    return { perSlot, seconds: ms / 1000, processes: 1 };
  }

  close(): void {
    clearInterval(this.timer);
  }
}
