/**
 * TopK: the heaviest keys of a weighted stream in bounded memory — Metwally, Agrawal and
 * El Abbadi's Space-Saving: `capacity` counters; a key not counted yet takes the lightest
 * counter's place and starts from its weight (so a count is an overestimate by at most
 * `error`, and any key heavier than total/capacity is sure to be kept).
 *
 * Weights are whatever the caller adds; the key sampler adds forward-decayed ones
 * (ForwardDecay below), so old traffic fades without a pass over the counters, and scales
 * every counter down now and then with `scale()` to keep the numbers finite.
 */

/** One counter as the reports read it. */
export interface Counter<T> {
  readonly key: string;
  /** The summed weight (an overestimate by at most `error`). */
  readonly weight: number;
  /** The weight inherited from the counter it replaced. */
  readonly error: number;
  /** The caller's per-key figures, reset when the counter is given to another key. */
  readonly data: T;
}

/**
 * The counters live in flat arrays (weights in a Float64Array) so that finding the
 * lightest one — done for nearly every sample when keys are many — is a scan of
 * `capacity` doubles, and a counter given to another key reuses its `data` object.
 */
export class TopK<T> {
  private readonly slotOf = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly data: T[] = [];
  private readonly weights: Float64Array;
  private readonly errors: Float64Array;

  constructor(
    private readonly capacity: number,
    /** A fresh `data` for a new counter. */
    private readonly fresh: () => T,
    /** Make a counter's `data` fresh again, for the key that takes it over. */
    private readonly reset: (data: T) => void,
  ) {
    this.weights = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
  }

  /** Add `weight` to `key`'s counter, taking the lightest one when all are in use; its data. */
  add(key: string, weight: number): T {
    const at = this.slotOf.get(key);
    if (at !== undefined) {
      this.weights[at] += weight;
      return this.data[at];
    }
    let slot = this.keys.length;
    let floor = 0;
    if (slot < this.capacity) {
      this.keys.push(key);
      this.data.push(this.fresh());
    } else {
      slot = this.lightest();
      floor = this.weights[slot];
      this.slotOf.delete(this.keys[slot]);
      this.keys[slot] = key;
      this.reset(this.data[slot]);
    }
    this.slotOf.set(key, slot);
    this.weights[slot] = floor + weight;
    this.errors[slot] = floor;
    return this.data[slot];
  }

  private lightest(): number {
    const w = this.weights;
    let min = 0;
    for (let i = 1; i < w.length; i++) if (w[i] < w[min]) min = i;
    return min;
  }

  /** The `n` heaviest counters, heaviest first. */
  top(n: number): Counter<T>[] {
    const all: Counter<T>[] = this.keys.map((key, i) => ({ key, weight: this.weights[i], error: this.errors[i], data: this.data[i] }));
    return all.sort((a, b) => b.weight - a.weight).slice(0, n);
  }

  /** Multiply every weight by `f` (0 < f ≤ 1); `scaleData` does the same to a counter's data. */
  scale(f: number, scaleData: (data: T, f: number) => void): void {
    for (let i = 0; i < this.keys.length; i++) {
      this.weights[i] *= f;
      this.errors[i] *= f;
      scaleData(this.data[i], f);
    }
  }
}

/**
 * Exponential decay with time constant `tauMs`, done forward (Cormode et al.): an event at
 * time t weighs exp((t − origin)/τ) when added, and a sum read at `now` is divided by
 * exp((now − origin)/τ) — so each past event counts exp(−age/τ), without touching the sums
 * as time passes. When the weights grow large, the origin moves and the owner scales its
 * sums down by the returned factor.
 */
export class ForwardDecay {
  private origin: number;

  constructor(
    readonly tauMs: number,
    now: number,
    private readonly rescale: (f: number) => void,
  ) {
    this.origin = now;
  }

  /** The weight of an event now. */
  weightAt(now: number): number {
    let w = Math.exp((now - this.origin) / this.tauMs);
    if (w > 1e12) {
      this.rescale(1 / w);
      this.origin = now;
      w = 1;
    }
    return w;
  }

  /** What a stored sum is worth now: stored / this. */
  divisorAt(now: number): number {
    return Math.exp((now - this.origin) / this.tauMs);
  }
}
