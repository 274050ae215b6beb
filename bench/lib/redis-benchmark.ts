/**
 * One redis-benchmark invocation: run it, parse its --csv output, and turn everything
 * that is not a clean result into explicit errors (redis-benchmark 7 stops at the first
 * error reply and exits 1, printing "Error from server: ..." to stderr).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { HOST } from './procs.js';

export interface BenchRow {
  /** Short test name: SET, GET, MSET. */
  test: string;
  /** The name as redis-benchmark printed it, e.g. "MSET (10 keys)". */
  label: string;
  rps: number;
  avgMs: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface BenchParams {
  port: number;
  clients: number;
  keyspace: number;
  requests: number;
  pipeline: number;
  tests: string[];
  timeoutMs: number;
  /** More redis-benchmark arguments (e.g. --tls --cacert ... for a TLS port). */
  extraArgs?: string[];
}

export interface BenchOutcome {
  command: string;
  rows: BenchRow[];
  /** Anything that makes the numbers untrustworthy. Empty = clean run. */
  errors: string[];
  /** Harmless notices (e.g. CONFIG GET not supported by twemproxy). */
  warnings: string[];
  durationMs: number;
}

/** Lines redis-benchmark prints that do not invalidate a run. */
const HARMLESS = [/^WARNING: Could not fetch server CONFIG$/];

export function benchArgs(p: BenchParams): string[] {
  return [
    '-h', HOST,
    '-p', String(p.port),
    '-c', String(p.clients),
    '-r', String(p.keyspace),
    '-n', String(p.requests),
    '-P', String(p.pipeline),
    '-t', p.tests.join(','),
    '--csv',
    ...(p.extraArgs ?? []),
  ];
}

/** Split one CSV line of quoted fields. redis-benchmark never puts quotes inside fields. */
function csvFields(line: string): string[] | undefined {
  const m = line.match(/"([^"]*)"/g);
  return m?.map((f) => f.slice(1, -1));
}

export function parseCsv(stdout: string): { rows: BenchRow[]; stray: string[] } {
  const rows: BenchRow[] = [];
  const stray: string[] = [];
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const f = csvFields(line);
    if (f === undefined || f.length !== 8) {
      stray.push(line);
      continue;
    }
    if (f[0] === 'test') continue; // header
    const nums = f.slice(1).map(Number);
    if (nums.some((n) => !Number.isFinite(n))) {
      stray.push(line);
      continue;
    }
    const [rps, avgMs, minMs, p50Ms, p95Ms, p99Ms, maxMs] = nums as [number, number, number, number, number, number, number];
    const label = f[0] ?? '';
    rows.push({ test: (label.split(/\s+/)[0] ?? label).toUpperCase(), label, rps, avgMs, minMs, p50Ms, p95Ms, p99Ms, maxMs });
  }
  return { rows, stray };
}

let current: ChildProcess | undefined;

/** Kill the redis-benchmark that is running now, if any (Ctrl-C path). */
export function killCurrentBenchmark(): void {
  if (current?.pid !== undefined && current.exitCode === null && current.signalCode === null) {
    try {
      process.kill(current.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export function runBenchmark(p: BenchParams): Promise<BenchOutcome> {
  const args = benchArgs(p);
  const command = `redis-benchmark ${args.join(' ')}`;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: string | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, p.timeoutMs);
    child.once('error', (err) => (spawnError = err.message));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (current === child) current = undefined;
      const errors: string[] = [];
      const warnings: string[] = [];
      if (spawnError !== undefined) errors.push(`could not run redis-benchmark: ${spawnError}`);
      if (timedOut) errors.push(`timed out after ${Math.round(p.timeoutMs / 1000)} s (killed)`);
      else if (code !== 0) errors.push(`exit ${code === null ? `by signal ${signal}` : `code ${code}`}`);
      // redis-benchmark redraws its progress line with \r on a TTY only; keep the last frame.
      for (const raw of stderr.split('\n')) {
        const line = (raw.split('\r').pop() ?? '').trim();
        if (line === '') continue;
        if (HARMLESS.some((re) => re.test(line))) warnings.push(line);
        else errors.push(line);
      }
      const { rows, stray } = parseCsv(stdout);
      for (const line of stray) errors.push(`unexpected output: ${line}`);
      for (const t of p.tests) {
        if (!rows.some((r) => r.test === t.toUpperCase())) errors.push(`no result row for ${t.toUpperCase()}`);
      }
      resolve({ command, rows, errors: dedupe(errors), warnings: dedupe(warnings), durationMs: Date.now() - started });
    });
  });
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}
