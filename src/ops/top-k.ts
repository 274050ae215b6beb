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

export interface Counter<T> {
  readonly key: string;
  /** The summed weight (an overestimate by at most `error`). */
  weight: number;
  /** The weight inherited from the counter it replaced. */
  error: number;
  /** The caller's per-key figures, reset when the counter is given to another key. */
  data: T;
}

export class TopK<T> {
  private readonly counters = new Map<string, Counter<T>>();

  constructor(
    private readonly capacity: number,
    /** A fresh `data` for a key that takes a counter. */
    private readonly fresh: () => T,
  ) {}

  /** Add `weight` to `key`'s counter, taking the lightest one when all are in use; its counter. */
  add(key: string, weight: number): Counter<T> {
    let c = this.counters.get(key);
    if (c !== undefined) {
      c.weight += weight;
      return c;
    }
    let floor = 0;
    if (this.counters.size >= this.capacity) {
      // Linear: capacity is small and only sampled requests come here.
      let lightest: Counter<T> | undefined;
      for (const x of this.counters.values()) if (lightest === undefined || x.weight < lightest.weight) lightest = x;
      if (lightest !== undefined) {
        floor = lightest.weight;
        this.counters.delete(lightest.key);
      }
    }
    c = { key, weight: floor + weight, error: floor, data: this.fresh() };
    this.counters.set(key, c);
    return c;
  }

  /** The `n` heaviest counters, heaviest first. */
  top(n: number): Counter<T>[] {
    return [...this.counters.values()].sort((a, b) => b.weight - a.weight).slice(0, n);
  }

  /** Multiply every weight by `f` (0 < f ≤ 1); `scaleData` does the same to a counter's data. */
  scale(f: number, scaleData: (data: T, f: number) => void): void {
    for (const c of this.counters.values()) {
      c.weight *= f;
      c.error *= f;
      scaleData(c.data, f);
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
