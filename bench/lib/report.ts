/**
 * Medians over rounds, ratios, the issue's targets checked, and the Markdown rendering
 * shared by the console and bench/results/latest.md.
 */
export const TARGETS = ['direct', 'twemproxy', 'proxy', 'ack-master', 'ack-replica'] as const;
export type TargetName = (typeof TARGETS)[number];

/**
 * The `--ack replica` pair: two proxies over the same 3 masters with 1 replica each, one
 * with the default `--ack master`, one with `--ack replica`; they run only ACK_TESTS.
 */
export const ACK_TARGETS: readonly TargetName[] = ['ack-master', 'ack-replica'];
export const ACK_TESTS: readonly string[] = ['set', 'get'];

export interface RunRow {
  test: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

export interface RunRecord {
  target: TargetName;
  pipeline: number;
  round: number;
  /** The redis-benchmark -t tests of this run (upper case). */
  tests: string[];
  requests: number;
  command: string;
  durationMs: number;
  rows: RunRow[];
  errors: string[];
  warnings: string[];
}

export interface Cell {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Clean rounds the medians are taken over. */
  rounds: number;
}

/** medians[target][pipeline][test] */
export type Medians = Partial<Record<TargetName, Record<string, Record<string, Cell>>>>;

export interface RatioCell {
  test: string;
  pipeline: number;
  proxyOverTwemproxy: number | null;
  proxyOverDirect: number | null;
  proxyP99OverTwemproxyP99: number | null;
  /**
   * proxy/twemproxy ops/s within each round (the two runs back to back, under the same
   * background load): the spread shows how much the ratio above can be trusted.
   */
  proxyOverTwemproxyPerRound: number[];
}

export type Status = 'met' | 'NOT met' | 'n/a';

export interface Verdict {
  check: string;
  measured: string;
  status: Status;
}

export interface RssReport {
  /** Max VmRSS seen by sampling every `sampleMs` while the proxy ran. */
  maxSampledMb: number | null;
  /** VmHWM (kernel-tracked peak RSS) read just before the proxy was stopped. */
  peakHwmMb: number | null;
  /** VmRSS once the proxy answered PING, before any load. */
  idleMb: number | null;
  samples: number;
  sampleMs: number;
  twemproxyMaxSampledMb: number | null;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Medians over the clean runs only; a run with any error contributes nothing. */
export function computeMedians(runs: RunRecord[], pipelines: number[], tests: string[]): Medians {
  const out: Medians = {};
  for (const target of TARGETS) {
    const mine = runs.filter((r) => r.target === target && r.errors.length === 0);
    if (!runs.some((r) => r.target === target)) continue;
    const perPipeline: Record<string, Record<string, Cell>> = {};
    for (const pipeline of pipelines) {
      const perTest: Record<string, Cell> = {};
      for (const test of tests) {
        const rows = mine
          .filter((r) => r.pipeline === pipeline)
          .map((r) => r.rows.find((row) => row.test === test))
          .filter((row): row is RunRow => row !== undefined);
        if (rows.length === 0) continue;
        perTest[test] = {
          rps: median(rows.map((r) => r.rps)),
          p50Ms: median(rows.map((r) => r.p50Ms)),
          p99Ms: median(rows.map((r) => r.p99Ms)),
          rounds: rows.length,
        };
      }
      perPipeline[String(pipeline)] = perTest;
    }
    out[target] = perPipeline;
  }
  return out;
}

function cell(m: Medians, target: TargetName, pipeline: number, test: string): Cell | undefined {
  return m[target]?.[String(pipeline)]?.[test];
}

function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || b === 0) return null;
  return Math.round((a / b) * 1000) / 1000;
}

function rpsOf(runs: RunRecord[], target: TargetName, pipeline: number, test: string, round: number): number | undefined {
  const run = runs.find((r) => r.target === target && r.pipeline === pipeline && r.round === round && r.errors.length === 0 && r.tests.includes(test));
  return run?.rows.find((row) => row.test === test)?.rps;
}

export function computeRatios(m: Medians, runs: RunRecord[], pipelines: number[], tests: string[]): RatioCell[] {
  const out: RatioCell[] = [];
  const rounds = [...new Set(runs.map((r) => r.round))].filter((r) => r > 0).sort((a, b) => a - b);
  for (const pipeline of pipelines) {
    for (const test of tests) {
      const perRound = rounds
        .map((round) => ratio(rpsOf(runs, 'proxy', pipeline, test, round), rpsOf(runs, 'twemproxy', pipeline, test, round)))
        .filter((r): r is number => r !== null);
      const p = cell(m, 'proxy', pipeline, test);
      const t = cell(m, 'twemproxy', pipeline, test);
      const d = cell(m, 'direct', pipeline, test);
      out.push({
        test,
        pipeline,
        proxyOverTwemproxy: ratio(p?.rps, t?.rps),
        proxyOverDirect: ratio(p?.rps, d?.rps),
        proxyP99OverTwemproxyP99: ratio(p?.p99Ms, t?.p99Ms),
        proxyOverTwemproxyPerRound: perRound,
      });
    }
  }
  return out;
}

export const RSS_LIMIT_MB = 150;

/**
 * The issue's targets (Redis Cluster underneath): ops/s vs twemproxy ≥ 1.0× at -P 1 and
 * ≥ 1.4× at -P 16 for SET and GET, MSET ≥ 0.9× at both depths; p99 at -P 1 no worse than
 * 1.1× twemproxy's; RSS.
 */
export function computeVerdicts(m: Medians, pipelines: number[], tests: string[], rss: RssReport | null): Verdict[] {
  const out: Verdict[] = [];
  const minRatio = (pipeline: number, test: string): number | undefined => {
    if (test.startsWith('MSET')) return pipeline === 1 || pipeline === 16 ? 0.9 : undefined;
    return pipeline === 16 ? 1.4 : pipeline === 1 ? 1.0 : undefined;
  };
  for (const pipeline of pipelines) {
    for (const test of tests) {
      const need = minRatio(pipeline, test);
      if (need === undefined) continue;
      const p = cell(m, 'proxy', pipeline, test);
      const t = cell(m, 'twemproxy', pipeline, test);
      const r = ratio(p?.rps, t?.rps);
      out.push({
        check: `-P ${pipeline} ${test} ops/s ≥ ${need.toFixed(1)}× twemproxy`,
        measured: r === null ? 'no data' : `${r.toFixed(2)}× (${fmtRps(p?.rps)} vs ${fmtRps(t?.rps)})`,
        status: r === null ? 'n/a' : r >= need ? 'met' : 'NOT met',
      });
    }
  }
  const P99_SLACK = 1.1;
  for (const test of tests) {
    const p = cell(m, 'proxy', 1, test);
    const t = cell(m, 'twemproxy', 1, test);
    if (!pipelines.includes(1)) continue;
    out.push({
      check: `-P 1 ${test} p99 ≤ ${P99_SLACK}× twemproxy p99`,
      measured: p === undefined || t === undefined ? 'no data' : `${fmtMs(p.p99Ms)} vs ${fmtMs(t.p99Ms)} ms`,
      status: p === undefined || t === undefined ? 'n/a' : p.p99Ms <= t.p99Ms * P99_SLACK ? 'met' : 'NOT met',
    });
  }
  const peak = rss === null ? null : maxOf(rss.maxSampledMb, rss.peakHwmMb);
  out.push({
    check: `proxy RSS < ${RSS_LIMIT_MB} MB`,
    measured: peak === null ? 'no data' : `${peak.toFixed(1)} MB peak`,
    status: peak === null ? 'n/a' : peak < RSS_LIMIT_MB ? 'met' : 'NOT met',
  });
  return out;
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

export function fmtRps(v: number | undefined): string {
  if (v === undefined) return '—';
  return Math.round(v).toLocaleString('en-US');
}

export function fmtMs(v: number | undefined): string {
  return v === undefined ? '—' : v.toFixed(3);
}

function fmtRatio(v: number | null): string {
  return v === null ? '—' : `${v.toFixed(2)}×`;
}

/** A Markdown table with padded columns, readable as plain text too. */
export function table(header: string[], rows: string[][], align: ('l' | 'r')[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (s: string, i: number): string => (align[i] === 'r' ? s.padStart(widths[i] ?? 0) : s.padEnd(widths[i] ?? 0));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => pad(c, i)).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}

export function throughputTable(m: Medians, ratios: RatioCell[], targets: TargetName[]): string {
  const header = ['test', '-P', ...targets.map((t) => `${t} ops/s`)];
  const hasProxy = targets.includes('proxy');
  if (hasProxy && targets.includes('twemproxy')) header.push('proxy/twemproxy', 'per round (min–max)');
  if (hasProxy && targets.includes('direct')) header.push('proxy/direct');
  const rows = ratios.map((r) => {
    const row = [r.test, String(r.pipeline), ...targets.map((t) => fmtRps(cell(m, t, r.pipeline, r.test)?.rps))];
    if (hasProxy && targets.includes('twemproxy')) {
      const pr = r.proxyOverTwemproxyPerRound;
      row.push(fmtRatio(r.proxyOverTwemproxy), pr.length === 0 ? '—' : `${Math.min(...pr).toFixed(2)}–${Math.max(...pr).toFixed(2)}`);
    }
    if (hasProxy && targets.includes('direct')) row.push(fmtRatio(r.proxyOverDirect));
    return row;
  });
  return table(header, rows, header.map((_, i) => (i < 1 ? 'l' : 'r')));
}

export function latencyTable(m: Medians, ratios: RatioCell[], targets: TargetName[]): string {
  const header = ['test', '-P', ...targets.map((t) => `${t} p50`), ...targets.map((t) => `${t} p99`)];
  const rows = ratios.map((r) => [
    r.test,
    String(r.pipeline),
    ...targets.map((t) => fmtMs(cell(m, t, r.pipeline, r.test)?.p50Ms)),
    ...targets.map((t) => fmtMs(cell(m, t, r.pipeline, r.test)?.p99Ms)),
  ]);
  return table(header, rows, header.map((_, i) => (i < 1 ? 'l' : 'r')));
}

export interface AckCostCell {
  test: string;
  pipeline: number;
  master: Cell | undefined;
  replica: Cell | undefined;
  /** ack-replica / ack-master ops/s (medians), and within each round (back to back). */
  replicaOverMaster: number | null;
  perRound: number[];
}

/** What `--ack replica` costs against `--ack master` on the same nodes, per test and -P. */
export function computeAckCost(m: Medians, runs: RunRecord[], pipelines: number[], tests: string[]): AckCostCell[] {
  const out: AckCostCell[] = [];
  const rounds = [...new Set(runs.map((r) => r.round))].filter((r) => r > 0).sort((a, b) => a - b);
  for (const pipeline of pipelines) {
    for (const test of tests) {
      const master = cell(m, 'ack-master', pipeline, test);
      const replica = cell(m, 'ack-replica', pipeline, test);
      if (master === undefined && replica === undefined) continue;
      const perRound = rounds
        .map((round) => ratio(rpsOf(runs, 'ack-replica', pipeline, test, round), rpsOf(runs, 'ack-master', pipeline, test, round)))
        .filter((r): r is number => r !== null);
      out.push({ test, pipeline, master, replica, replicaOverMaster: ratio(replica?.rps, master?.rps), perRound });
    }
  }
  return out;
}

export function ackCostTable(cells: AckCostCell[]): string {
  const header = ['test', '-P', 'ack master ops/s', 'ack replica ops/s', 'replica/master', 'per round (min–max)', 'p50 master / replica', 'p99 master / replica'];
  const rows = cells.map((c) => [
    c.test,
    String(c.pipeline),
    fmtRps(c.master?.rps),
    fmtRps(c.replica?.rps),
    fmtRatio(c.replicaOverMaster),
    c.perRound.length === 0 ? '—' : `${Math.min(...c.perRound).toFixed(2)}–${Math.max(...c.perRound).toFixed(2)}`,
    `${fmtMs(c.master?.p50Ms)} / ${fmtMs(c.replica?.p50Ms)}`,
    `${fmtMs(c.master?.p99Ms)} / ${fmtMs(c.replica?.p99Ms)}`,
  ]);
  return table(header, rows, header.map((_, i) => (i < 1 ? 'l' : 'r')));
}

export function verdictTable(verdicts: Verdict[]): string {
  return table(
    ['target (from the issue)', 'measured (proxy vs twemproxy)', 'result'],
    verdicts.map((v) => [v.check, v.measured, v.status]),
    ['l', 'l', 'l'],
  );
}
