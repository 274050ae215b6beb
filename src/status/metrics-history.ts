/**
 * MetricsHistory: the last minutes of the proxy's load, latency and its masters' load and
 * memory, one sample every few seconds in a bounded ring — what the status page charts
 * (GET /api/v1/history, and each new sample over GET /api/v1/events). A leaf: the sampler
 * (http/metrics-sampler.ts) writes it, the routes read it.
 */

/** One master at the time of a sample. */
export interface MasterSample {
  /** Our id (m0, m0r0 after a failover: the master of shard 0). */
  id: string;
  /** Commands it processed per second over the interval (its total_commands_processed); null when it did not answer or restarted. */
  opsPerSec: number | null;
  /** INFO memory used_memory, bytes; null when it did not answer. */
  usedMemory: number | null;
}

export interface MetricsSample {
  /** When it was taken, ms since the epoch. */
  t: number;
  /** Commands the proxy processed per second over the interval. */
  opsPerSec: number;
  /** Request → reply time of the calls answered over the interval, every command merged, µs; null when none was. */
  p50Us: number | null;
  p99Us: number | null;
  /** Calls answered over the interval (what the percentiles are of). */
  calls: number;
  masters: MasterSample[];
}

/** What the status page charts by default: 15 minutes. */
export const HISTORY_WINDOW_MS = 15 * 60_000;
/** One sample every 2 s: 450 in the window. */
export const SAMPLE_INTERVAL_MS = 2_000;

export class MetricsHistory {
  private readonly ring: MetricsSample[] = [];
  private readonly listeners = new Set<(sample: MetricsSample) => void>();
  readonly capacity: number;

  constructor(
    readonly intervalMs = SAMPLE_INTERVAL_MS,
    readonly windowMs = HISTORY_WINDOW_MS,
  ) {
    this.capacity = Math.max(1, Math.ceil(windowMs / intervalMs));
  }

  add(sample: MetricsSample): void {
    this.ring.push(sample);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const listener of this.listeners) listener(sample);
  }

  /** Every sample kept, oldest first. */
  samples(): readonly MetricsSample[] {
    return this.ring;
  }

  /** Be told of every sample from now on; returns the unsubscribe function. */
  subscribe(listener: (sample: MetricsSample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
