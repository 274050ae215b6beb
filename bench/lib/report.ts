import { writeFileSync } from 'node:fs';

/**
 * Medians over rounds, ratios, the issue's targets checked, and the Markdown rendering
 * shared by the console and bench/results/latest.md.
 */
/** Also the interleaving order within a round: predixy right before the proxy, back to back. */
export const TARGETS = ['direct', 'twemproxy', 'predixy', 'proxy', 'workers2', 'ack-master', 'ack-replica'] as const;
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
   * proxy/twemproxy ops/s within each round (the two runs under the same background load):
   * the spread shows how much the ratio above can be trusted.
   */
  proxyOverTwemproxyPerRound: number[];
  proxyOverPredixy: number | null;
  proxyP99OverPredixyP99: number | null;
  /** proxy/predixy ops/s within each round (the two run back to back). */
  proxyOverPredixyPerRound: number[];
}

export type Status = 'met' | 'NOT met' | 'n/a';

export interface Verdict {
  /** 'issue 15': against predixy, and the RSS limit; 'earlier': the earlier issue's, against twemproxy. */
  group: 'issue 15' | 'earlier';
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
  /** predixy's, measured the same way as the proxy's (null: predixy did not run). */
  predixyIdleMb: number | null;
  predixyMaxSampledMb: number | null;
  predixyPeakHwmMb: number | null;
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

/** a/b ops/s within each round where both ran clean. */
function perRoundRatios(runs: RunRecord[], rounds: number[], a: TargetName, b: TargetName, pipeline: number, test: string): number[] {
  return rounds.map((round) => ratio(rpsOf(runs, a, pipeline, test, round), rpsOf(runs, b, pipeline, test, round))).filter((r): r is number => r !== null);
}

export function computeRatios(m: Medians, runs: RunRecord[], pipelines: number[], tests: string[]): RatioCell[] {
  const out: RatioCell[] = [];
  const rounds = [...new Set(runs.map((r) => r.round))].filter((r) => r > 0).sort((a, b) => a - b);
  for (const pipeline of pipelines) {
    for (const test of tests) {
      const p = cell(m, 'proxy', pipeline, test);
      const t = cell(m, 'twemproxy', pipeline, test);
      const d = cell(m, 'direct', pipeline, test);
      const x = cell(m, 'predixy', pipeline, test);
      out.push({
        test,
        pipeline,
        proxyOverTwemproxy: ratio(p?.rps, t?.rps),
        proxyOverDirect: ratio(p?.rps, d?.rps),
        proxyP99OverTwemproxyP99: ratio(p?.p99Ms, t?.p99Ms),
        proxyOverTwemproxyPerRound: perRoundRatios(runs, rounds, 'proxy', 'twemproxy', pipeline, test),
        proxyOverPredixy: ratio(p?.rps, x?.rps),
        proxyP99OverPredixyP99: ratio(p?.p99Ms, x?.p99Ms),
        proxyOverPredixyPerRound: perRoundRatios(runs, rounds, 'proxy', 'predixy', pipeline, test),
      });
    }
  }
  return out;
}

export const RSS_LIMIT_MB = 150;

/** What the proxy's numbers are checked against: predixy (issue 15) and twemproxy (the earlier issue). */
export interface VerdictBasis {
  /** 'absent': not among the targets; 'skipped': asked for, but no binary (the checks show n/a). */
  predixy: 'measured' | 'skipped' | 'absent';
  twemproxy: boolean;
}

/**
 * The targets, reported and never enforced. Issue 15 ("Done when", Redis Cluster underneath
 * both): SET, GET and MSET ops/s ≥ 1.0× predixy at -P 1 and -P 16; p99 ≤ 1.2× predixy's at
 * -P 1 and -P 16 for SET and GET; proxy peak RSS < 150 MB. The earlier issue's, against
 * twemproxy: SET and GET ≥ 1.0× at -P 1 and ≥ 1.4× at -P 16, MSET ≥ 0.9× at both depths,
 * p99 at -P 1 ≤ 1.1× twemproxy's.
 */
export function computeVerdicts(m: Medians, pipelines: number[], tests: string[], rss: RssReport | null, basis: VerdictBasis): Verdict[] {
  const out: Verdict[] = [];
  const depths = pipelines.filter((p) => p === 1 || p === 16);
  if (basis.predixy !== 'absent') {
    const none = basis.predixy === 'skipped' ? 'predixy skipped' : 'no data';
    const P99_SLACK = 1.2;
    for (const pipeline of depths) {
      for (const test of tests.filter((t) => ['SET', 'GET', 'MSET'].includes(t))) {
        out.push(throughputVerdict('issue 15', m, 'predixy', pipeline, test, 1.0, none));
      }
    }
    for (const pipeline of depths) {
      for (const test of tests.filter((t) => t === 'SET' || t === 'GET')) {
        out.push(p99Verdict('issue 15', m, 'predixy', pipeline, test, P99_SLACK, none));
      }
    }
  }
  const peak = rss === null ? null : maxOf(rss.maxSampledMb, rss.peakHwmMb);
  out.push({
    group: 'issue 15',
    check: `proxy peak RSS < ${RSS_LIMIT_MB} MB`,
    measured: peak === null ? 'no data' : `${peak.toFixed(1)} MB peak${rss?.predixyPeakHwmMb != null ? ` (predixy ${rss.predixyPeakHwmMb.toFixed(1)} MB)` : ''}`,
    status: peak === null ? 'n/a' : peak < RSS_LIMIT_MB ? 'met' : 'NOT met',
  });
  if (basis.twemproxy) {
    for (const pipeline of depths) {
      for (const test of tests) {
        const need = test.startsWith('MSET') ? 0.9 : pipeline === 16 ? 1.4 : 1.0;
        out.push(throughputVerdict('earlier', m, 'twemproxy', pipeline, test, need, 'no data'));
      }
    }
    if (pipelines.includes(1)) for (const test of tests) out.push(p99Verdict('earlier', m, 'twemproxy', 1, test, 1.1, 'no data'));
  }
  return out;
}

function throughputVerdict(group: Verdict['group'], m: Medians, rival: TargetName, pipeline: number, test: string, need: number, none: string): Verdict {
  const p = cell(m, 'proxy', pipeline, test);
  const t = cell(m, rival, pipeline, test);
  const r = ratio(p?.rps, t?.rps);
  return {
    group,
    check: `-P ${pipeline} ${test} ops/s ≥ ${need.toFixed(1)}× ${rival}`,
    measured: r === null ? none : `${r.toFixed(2)}× (${fmtRps(p?.rps)} vs ${fmtRps(t?.rps)})`,
    status: r === null ? 'n/a' : r >= need ? 'met' : 'NOT met',
  };
}

function p99Verdict(group: Verdict['group'], m: Medians, rival: TargetName, pipeline: number, test: string, slack: number, none: string): Verdict {
  const p = cell(m, 'proxy', pipeline, test);
  const t = cell(m, rival, pipeline, test);
  return {
    group,
    check: `-P ${pipeline} ${test} p99 ≤ ${slack}× ${rival} p99`,
    measured: p === undefined || t === undefined ? none : `${fmtMs(p.p99Ms)} vs ${fmtMs(t.p99Ms)} ms (${(p.p99Ms / t.p99Ms).toFixed(2)}×)`,
    status: p === undefined || t === undefined ? 'n/a' : p.p99Ms <= t.p99Ms * slack ? 'met' : 'NOT met',
  };
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

function rangeOf(perRound: number[]): string {
  return perRound.length === 0 ? '—' : `${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}`;
}

export function throughputTable(m: Medians, ratios: RatioCell[], targets: TargetName[]): string {
  const header = ['test', '-P', ...targets.map((t) => `${t} ops/s`)];
  const hasProxy = targets.includes('proxy');
  const vsPredixy = hasProxy && targets.includes('predixy');
  const vsTwemproxy = hasProxy && targets.includes('twemproxy');
  const vsDirect = hasProxy && targets.includes('direct');
  if (vsPredixy) header.push('proxy/predixy', 'per round (min–max)');
  if (vsTwemproxy) header.push('proxy/twemproxy', 'per round (min–max)');
  if (vsDirect) header.push('proxy/direct');
  const rows = ratios.map((r) => {
    const row = [r.test, String(r.pipeline), ...targets.map((t) => fmtRps(cell(m, t, r.pipeline, r.test)?.rps))];
    if (vsPredixy) row.push(fmtRatio(r.proxyOverPredixy), rangeOf(r.proxyOverPredixyPerRound));
    if (vsTwemproxy) row.push(fmtRatio(r.proxyOverTwemproxy), rangeOf(r.proxyOverTwemproxyPerRound));
    if (vsDirect) row.push(fmtRatio(r.proxyOverDirect));
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

/** The proxy's p50/p99 next to predixy's, per test and -P, with the p99 ratio. */
export function predixyLatencyTable(m: Medians, ratios: RatioCell[]): string {
  const header = ['test', '-P', 'predixy p50', 'proxy p50', 'predixy p99', 'proxy p99', 'proxy/predixy p99'];
  const rows = ratios.map((r) => {
    const x = cell(m, 'predixy', r.pipeline, r.test);
    const p = cell(m, 'proxy', r.pipeline, r.test);
    return [r.test, String(r.pipeline), fmtMs(x?.p50Ms), fmtMs(p?.p50Ms), fmtMs(x?.p99Ms), fmtMs(p?.p99Ms), fmtRatio(r.proxyP99OverPredixyP99)];
  });
  return table(header, rows, header.map((_, i) => (i < 1 ? 'l' : 'r')));
}

/** Idle, max sampled and peak (VmHWM) RSS of the proxy, predixy and twemproxy side by side. */
export function memoryTable(rss: RssReport): string {
  const mb = (v: number | null): string => (v === null ? '—' : v.toFixed(1));
  const rows = [['proxy', mb(rss.idleMb), mb(rss.maxSampledMb), mb(rss.peakHwmMb)]];
  if (rss.predixyMaxSampledMb !== null || rss.predixyPeakHwmMb !== null) {
    rows.push(['predixy', mb(rss.predixyIdleMb), mb(rss.predixyMaxSampledMb), mb(rss.predixyPeakHwmMb)]);
  }
  if (rss.twemproxyMaxSampledMb !== null) rows.push(['twemproxy', '—', mb(rss.twemproxyMaxSampledMb), '—']);
  return table(['process', 'RSS once ready (MB)', `max VmRSS sampled every ${rss.sampleMs} ms (MB)`, 'VmHWM, kernel peak (MB)'], rows, ['l', 'r', 'r', 'r']);
}

/** One proxy against another on the same nodes (--ack replica vs master, --workers 2 vs 1), per test and -P. */
export interface PairCell {
  test: string;
  pipeline: number;
  base: Cell | undefined;
  other: Cell | undefined;
  otherOverBase: number | null;
  perRound: number[];
}

/** `other` against `base`, medians and per-round ratios, wherever either ran. */
export function computePair(m: Medians, runs: RunRecord[], pipelines: number[], tests: string[], base: TargetName, other: TargetName): PairCell[] {
  const out: PairCell[] = [];
  const rounds = [...new Set(runs.map((r) => r.round))].filter((r) => r > 0).sort((a, b) => a - b);
  for (const pipeline of pipelines) {
    for (const test of tests) {
      const b = cell(m, base, pipeline, test);
      const o = cell(m, other, pipeline, test);
      if (b === undefined && o === undefined) continue;
      const perRound = perRoundRatios(runs, rounds, other, base, pipeline, test);
      out.push({ test, pipeline, base: b, other: o, otherOverBase: ratio(o?.rps, b?.rps), perRound });
    }
  }
  return out;
}

/** The pair's table; `labels` name the base and the other ('ack master', 'ack replica'). */
export function pairTable(cells: PairCell[], labels: readonly [base: string, other: string], ratioName: string): string {
  const [b, o] = labels;
  const header = ['test', '-P', `${b} ops/s`, `${o} ops/s`, ratioName, 'per round (min–max)', `p50 ${b} / ${o}`, `p99 ${b} / ${o}`];
  const rows = cells.map((c) => [
    c.test,
    String(c.pipeline),
    fmtRps(c.base?.rps),
    fmtRps(c.other?.rps),
    fmtRatio(c.otherOverBase),
    rangeOf(c.perRound),
    `${fmtMs(c.base?.p50Ms)} / ${fmtMs(c.other?.p50Ms)}`,
    `${fmtMs(c.base?.p99Ms)} / ${fmtMs(c.other?.p99Ms)}`,
  ]);
  return table(header, rows, header.map((_, i) => (i < 1 ? 'l' : 'r')));
}

export function verdictTable(verdicts: Verdict[]): string {
  return table(
    ['target', 'measured (proxy vs the rival)', 'result'],
    verdicts.map((v) => [v.check, v.measured, v.status]),
    ['l', 'l', 'l'],
  );
}

/**
 * A side-by-side bench's Markdown report: its errors (if any) appended, written to `out`
 * and to stdout. Returns the exit code: 1 when a run had errors.
 */
export function writeReport(lines: string[], errors: readonly string[], out: string): number {
  if (errors.length > 0) lines.push('', '## Errors', '', ...errors.map((e) => `- ${e}`));
  const report = `${lines.join('\n')}\n`;
  writeFileSync(out, report);
  process.stdout.write(report);
  return errors.length === 0 ? 0 : 1;
}
