/**
 * CommandStats: what INFO commandstats and errorstats report about the proxy's own traffic.
 *
 * The hot path pays one typed-array increment per request: calls are counted in an array
 * indexed by CommandEntry.index. Time per call is not measured (a clock read per request
 * would cost more than the counting itself), so `usec` stays 0. Rejected calls and error
 * kinds are those the proxy answers itself (unknown command, NOAUTH, refusals, arity);
 * errors a node returns pass through unread.
 */
import { commandByIndex, commandEntryCount, type CommandInfo } from '../commands/command-table.js';

export class CommandStats {
  private readonly calls = new Float64Array(commandEntryCount());
  private readonly rejected = new Float64Array(commandEntryCount());
  /** Error prefix (ERR, NOAUTH, ...) → count, for errors the proxy answered. */
  private readonly errors = new Map<string, number>();

  called(cmd: CommandInfo): void {
    this.calls[cmd.index]++;
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
    this.errors.clear();
  }

  /** `cmdstat_<name>` lines for every command called or rejected at least once, as Redis prints them. */
  commandLines(): [string, string][] {
    const lines: [string, string][] = [];
    for (let i = 0; i < this.calls.length; i++) {
      const calls = this.calls[i];
      const rejected = this.rejected[i];
      if (calls === 0 && rejected === 0) continue;
      lines.push([`cmdstat_${commandByIndex(i).name}`, `calls=${calls},usec=0,usec_per_call=0.00,rejected_calls=${rejected},failed_calls=0`]);
    }
    return lines;
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
