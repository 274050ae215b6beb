/**
 * CommandStats: what INFO commandstats and errorstats report about the proxy's own traffic.
 *
 * The hot path pays one typed-array increment per request: calls are counted in an array
 * indexed by CommandEntry.index. Each call's time from request to reply (as the proxy
 * sees it: the node's round trip included, and a blocking command's wait) goes into the
 * command's LatencyHistogram, the one source of `usec`, INFO latencystats and the
 * /metrics histogram (the clock is read once per socket read, see net/read-clock.ts).
 * Rejected calls and error kinds are those the proxy answers itself (unknown command,
 * NOAUTH, refusals, arity); a call answered with an error otherwise (a node's, or the
 * proxy's when the node could not be asked) is a failed call, told by the reply's first
 * byte when its time is recorded. The nodes count their error kinds themselves.
 */
import { commandByIndex, commandEntryCount, type CommandInfo } from '../commands/command-table.js';
import { LatencyHistogram } from './latency-histogram.js';

/** INFO latencystats percentiles (Redis's default latency-tracking-info-percentiles: 50 99 99.9). */
const LATENCY_PERCENTILES: readonly [string, number][] = [
  ['p50', 50],
  ['p99', 99],
  ['p99.9', 99.9],
];

/** One command's counters, for readers other than INFO (/metrics). */
export interface CommandCounters {
  name: string;
  calls: number;
  rejected: number;
  /** Absent until a call of it was answered. */
  latency: LatencyHistogram | undefined;
}

export class CommandStats {
  private readonly calls = new Float64Array(commandEntryCount());
  private readonly rejected = new Float64Array(commandEntryCount());
  private readonly failed = new Float64Array(commandEntryCount());
  /** Error prefix (ERR, NOAUTH, ...) → count, for errors the proxy answered. */
  private readonly errors = new Map<string, number>();
  /** Made on a command's first timed call: most of the ~240 commands are never called. */
  private readonly latency: (LatencyHistogram | undefined)[] = new Array<LatencyHistogram | undefined>(commandEntryCount());

  called(cmd: CommandInfo): void {
    this.calls[cmd.index]++;
  }

  /** A call of `cmd` was answered `elapsedMs` after its request arrived; `error`: with an error reply (Redis's failed_calls). */
  timed(cmd: CommandInfo, elapsedMs: number, error = false): void {
    (this.latency[cmd.index] ??= new LatencyHistogram()).record(elapsedMs * 1000);
    if (error) this.failed[cmd.index]++;
  }

  /**
   * A request the proxy answered with an error without running it; `cmd` undefined for an
   * unknown command. `wasCounted`: called() was already counted for it (taken back: Redis
   * counts a rejected call in rejected_calls only).
   */
  rejectedCall(cmd: CommandInfo | undefined, errorPrefix: string, wasCounted = false): void {
    if (cmd !== undefined) {
      this.rejected[cmd.index]++;
      if (wasCounted) this.calls[cmd.index]--;
    }
    this.errors.set(errorPrefix, (this.errors.get(errorPrefix) ?? 0) + 1);
  }

  reset(): void {
    this.calls.fill(0);
    this.rejected.fill(0);
    this.failed.fill(0);
    this.errors.clear();
    this.latency.fill(undefined);
  }

  /** `cmdstat_<name>` lines for every command called or rejected at least once, as Redis prints them. */
  commandLines(): [string, string][] {
    const lines: [string, string][] = [];
    for (let i = 0; i < this.calls.length; i++) {
      const calls = this.calls[i];
      const rejected = this.rejected[i];
      if (calls === 0 && rejected === 0) continue;
      const usec = Math.round(this.latency[i]?.sumUs ?? 0);
      const perCall = calls === 0 ? 0 : usec / calls;
      lines.push([`cmdstat_${commandByIndex(i).name}`, `calls=${calls},usec=${usec},usec_per_call=${perCall.toFixed(2)},rejected_calls=${rejected},failed_calls=${this.failed[i]}`]);
    }
    return lines;
  }

  /** `latency_percentiles_usec_<name>:p50=..,p99=..,p99.9=..` for every command timed at least once, as Redis 7.0 prints them. */
  latencyLines(): [string, string][] {
    const lines: [string, string][] = [];
    this.latency.forEach((h, i) => {
      if (h === undefined || h.count === 0) return;
      const values = LATENCY_PERCENTILES.map(([label, p]) => `${label}=${h.percentile(p).toFixed(3)}`);
      lines.push([`latency_percentiles_usec_${commandByIndex(i).name}`, values.join(',')]);
    });
    return lines;
  }

  /** Every command called, rejected or timed at least once. */
  counters(): CommandCounters[] {
    const out: CommandCounters[] = [];
    for (let i = 0; i < this.calls.length; i++) {
      const latency = this.latency[i];
      if (this.calls[i] === 0 && this.rejected[i] === 0 && latency === undefined) continue;
      out.push({ name: commandByIndex(i).name, calls: this.calls[i], rejected: this.rejected[i], latency });
    }
    return out;
  }

  /** Errors the proxy answered, by prefix (ERR, NOAUTH, ...). */
  errorCounts(): ReadonlyMap<string, number> {
    return this.errors;
  }

  /** `errorstat_<PREFIX>:count=<n>` lines. */
  errorLines(): [string, string][] {
    return [...this.errors].map(([prefix, count]): [string, string] => [`errorstat_${prefix}`, `count=${count}`]);
  }

  /** Sum of errors the proxy answered (INFO stats total_error_replies). */
  get totalErrors(): number {
    let n = 0;
    for (const c of this.errors.values()) n += c;
    return n;
  }
}

/** Samples kept for instantaneous_ops_per_sec, one every SAMPLE_MS (Redis: 16 samples, 100 ms apart). */
const OPS_SAMPLES = 16;
export const OPS_SAMPLE_MS = 100;

/** instantaneous_ops_per_sec as Redis computes it: the average rate over the last 16 samples. */
export class OpsMeter {
  private readonly rates = new Float64Array(OPS_SAMPLES);
  private index = 0;
  private lastTotal = 0;
  private lastAt = Date.now();

  sample(total: number, now = Date.now()): void {
    const ms = now - this.lastAt;
    if (ms <= 0) return;
    this.rates[this.index] = ((total - this.lastTotal) * 1000) / ms;
    this.index = (this.index + 1) % OPS_SAMPLES;
    this.lastTotal = total;
    this.lastAt = now;
  }

  get perSecond(): number {
    let sum = 0;
    for (const r of this.rates) sum += r;
    return Math.round(sum / OPS_SAMPLES);
  }
}
