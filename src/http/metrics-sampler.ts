/**
 * MetricsSampler: every few seconds, one MetricsSample into the MetricsHistory — the
 * proxy's commands per second (its command counter's difference), the p50/p99 of the
 * calls answered in the interval (the difference of CommandStats' latency histograms,
 * every command merged: the same buckets INFO latencystats and /metrics read), and each
 * master's commands per second and used memory (INFO stats and memory, asked of it).
 *
 * Differences, not Redis's instantaneous_ops_per_sec: a chart point then covers its whole
 * interval, and a burst between two samples is not missed. A master whose counter went
 * back (restarted) has no point for that interval; histograms reset by CONFIG RESETSTAT
 * count from zero.
 */
import type { LatencyHistogram } from '../ops/latency-histogram.js';
import { BUCKET_COUNT, percentileOfCounts } from '../ops/latency-histogram.js';
import { parseInfo, type ControlClients } from '../nodes/control-client.js';
import type { MasterSample, MetricsHistory } from '../status/metrics-history.js';
import type { SlotMap } from '../cluster/slot-map.js';
import type { TopologyDoc } from '../cluster/topology/topology.js';

/** A master to ask, by our id. */
export interface SampledMaster {
  id: string;
  host: string;
  port: number;
}

export interface MetricsSamplerOptions {
  history: MetricsHistory;
  /** Commands the proxy processed since it started. */
  totalCommands: () => number;
  /** The latency histograms of every command timed so far (CommandStats). */
  latencies: () => Iterable<LatencyHistogram>;
  /** The masters serving slots now. */
  masters: () => SampledMaster[];
  /** Connections to the nodes, with their password. */
  clients: ControlClients;
  /** Bound on a master's INFO: one that does not answer in time has no figures in the sample. */
  timeoutMs: number;
}

/** A master's counter at the last sample, to take the difference from. */
interface MasterMark {
  at: number;
  commands: number;
}

export class MetricsSampler {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastAt = Date.now();
  private lastTotal: number;
  private lastCounts: Float64Array;
  private readonly masterMarks = new Map<string, MasterMark>();

  constructor(private readonly o: MetricsSamplerOptions) {
    this.lastTotal = o.totalCommands();
    this.lastCounts = mergedCounts(o.latencies());
  }

  /** Sample every history interval, the first one interval from now. */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    const next = (): void => {
      this.timer = setTimeout(() => {
        // A sample that cannot be taken is missing from the charts; the status page must never take the proxy down.
        void this.sample()
          .catch(() => undefined)
          .finally(() => {
            if (!this.closed) next();
          });
      }, this.o.history.intervalMs);
      this.timer.unref();
    };
    next();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** Take one sample now (the timer's; tests call it too). */
  async sample(): Promise<void> {
    const now = Date.now();
    const seconds = Math.max(1, now - this.lastAt) / 1000;
    const total = this.o.totalCommands();
    const commands = total >= this.lastTotal ? total - this.lastTotal : total;
    const counts = mergedCounts(this.o.latencies());
    const interval = difference(counts, this.lastCounts);
    this.lastAt = now;
    this.lastTotal = total;
    this.lastCounts = counts;
    const calls = interval.reduce((sum, c) => sum + c, 0);
    const masters = await this.sampleMasters();
    if (this.closed) return;
    this.o.history.add({
      t: now,
      opsPerSec: Math.round(commands / seconds),
      p50Us: calls === 0 ? null : percentileOfCounts(interval, calls, 50),
      p99Us: calls === 0 ? null : percentileOfCounts(interval, calls, 99),
      calls,
      masters,
    });
  }

  private async sampleMasters(): Promise<MasterSample[]> {
    let masters: SampledMaster[];
    try {
      masters = this.o.masters();
    } catch {
      return []; // no document yet to name them by: a sample of the proxy's own figures
    }
    const seen = new Set(masters.map((m) => m.id));
    for (const id of this.masterMarks.keys()) if (!seen.has(id)) this.masterMarks.delete(id);
    return Promise.all(masters.map((m) => this.sampleMaster(m)));
  }

  private async sampleMaster(m: SampledMaster): Promise<MasterSample> {
    let info: Map<string, string>;
    try {
      info = await this.o.clients.with(m, async (c) => parseInfo(String(await c.call('INFO', 'stats', 'memory'))), this.o.timeoutMs);
    } catch {
      this.masterMarks.delete(m.id);
      return { id: m.id, opsPerSec: null, usedMemory: null };
    }
    const at = Date.now();
    const commands = Number(info.get('total_commands_processed'));
    const usedMemory = Number(info.get('used_memory'));
    const last = this.masterMarks.get(m.id);
    this.masterMarks.set(m.id, { at, commands });
    const opsPerSec = last === undefined || !(commands >= last.commands) ? null : Math.round(((commands - last.commands) * 1000) / Math.max(1, at - last.at));
    return { id: m.id, opsPerSec, usedMemory: Number.isFinite(usedMemory) ? usedMemory : null };
  }
}

/** Every histogram's bucket counts added up. */
function mergedCounts(histograms: Iterable<LatencyHistogram>): Float64Array {
  const merged = new Float64Array(BUCKET_COUNT);
  for (const h of histograms) for (let i = 0; i < BUCKET_COUNT; i++) merged[i] += h.counts[i];
  return merged;
}

/** now − before, bucket by bucket; `now` itself when a bucket went back (the histograms were reset). */
function difference(now: Float64Array, before: Float64Array): Float64Array {
  const out = new Float64Array(BUCKET_COUNT);
  for (let i = 0; i < BUCKET_COUNT; i++) {
    if (now[i] < before[i]) return now;
    out[i] = now[i] - before[i];
  }
  return out;
}

/**
 * The masters serving slots in `map`, by the ids the listing gives them: the document's
 * (m0, m0r0 after a failover), or for a static cluster the start of the Redis node id.
 */
export function servingMasters(map: SlotMap, doc: TopologyDoc): SampledMaster[] {
  return map.servingMasters().map((i) => {
    const m = map.masters[i];
    const id = doc.provider === 'static' ? m.nodeId.slice(0, 8) || m.address : (doc.nodes.find((n) => n.host === m.host && n.port === m.port)?.id ?? m.address);
    return { id, host: m.host, port: m.port };
  });
}
