/**
 * `make redis-suite`: Redis 7.0.15's own test suite (its tests/ and runtest, from the archive
 * in ../shared/redis-tests or REDIS_TESTS) run straight through one freshly started proxy
 * (3 masters, 1 replica each, default options: what `run-suite.sh` through `make run`'s
 * proxy measures), its results compared with test/redis-suite/expected-failures.txt.
 *
 * Fails (exit 1) on a failure that is not listed, on an exception, a TIMEOUT or a unit that
 * did not run to its end; a listed test that passed now is reported, to be taken off the
 * list. The proxy and its nodes are stopped at the end, whatever happened (ProxyProcess).
 *
 * The units, tags and runtest options are those of run-suite.sh, the reference run that a
 * direct redis-server 7.0.15 passes 1471 / 0: cluster-compatible single-db mode, tests that
 * need what no external server offers (DEBUG, replication, restarts, ...) left out.
 *
 * env: REDIS_TESTS     dir holding redis-7.0.15-tests.tgz (default ../shared/redis-tests)
 *      REDIS_SUITE_UNITS  units to run, space-separated (default: all of them)
 *      REDIS_SUITE_FRESH_PROXY=1  a fresh proxy for each unit, so a unit that leaves a node
 *                               busy or a setting changed fails alone, not the ones after it
 *                               (default: one proxy for every unit, as `run-suite.sh` against
 *                               `make run`)
 *      REDIS_SUITE_LOGS  where to keep the per-unit logs (default: a temp dir, printed)
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProxyProcess } from '../support/proxy-process.js';
import { freePort } from '../support/redis-server.js';
import { compare, parseExpectedFailures, parseUnitLog, type UnitResult } from './results.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ARCHIVE = 'redis-7.0.15-tests.tgz';
const EXPECTED_FILE = path.join(REPO, 'test/redis-suite/expected-failures.txt');
const ALL_UNITS = [
  'type/string', 'type/incr', 'type/hash', 'type/list', 'type/set', 'type/zset', 'type/stream',
  'type/stream-cgroups', 'expire', 'keyspace', 'multi', 'scan', 'pubsub', 'pubsubshard', 'bitops', 'bitfield', 'geo',
  'hyperloglog', 'sort', 'dump', 'scripting', 'functions', 'info-command', 'protocol', 'quit', 'auth',
];
const TAGS = '-needs:debug -needs:repl -needs:save -needs:config-maxmemory -needs:latency -needs:reset -needs:pfdebug -needs:other-server -slow';
/** Per unit, as run-suite.sh: a unit still running after this is a failure (a hang). */
const UNIT_TIMEOUT_MS = 600_000;

/** Where the suite's archive is: REDIS_TESTS, else ../shared/redis-tests next to the repo. */
function suiteArchive(): string {
  const dir = process.env.REDIS_TESTS ?? path.resolve(REPO, '../shared/redis-tests');
  const archive = path.join(dir, ARCHIVE);
  if (!existsSync(archive)) {
    throw new Error(`Redis's test suite not found: no ${archive} (set REDIS_TESTS to the dir holding ${ARCHIVE})`);
  }
  return archive;
}

/** Process groups of the runs under way (runtest and its Tcl clients), ended with the runner. */
const running = new Set<number>();

function killGroups(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
}

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; logFile?: string } = {}): Promise<{ exit: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // A process group of its own: runtest starts Tcl test clients, which must go with it on a
    // timeout (they would keep talking to the proxy, and hold the pipes open).
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) running.add(child.pid);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      killGroups();
    }, opts.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      resolve({ exit: timedOut ? null : code, output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

/** One unit through the proxy on `port`, as run-suite.sh runs it; its log is kept in `logs`. */
async function runUnit(suiteDir: string, port: number, basePort: number, unit: string, logs: string): Promise<UnitResult> {
  const args = [
    '--host', '127.0.0.1', '--port', String(port), '--singledb', '--cluster-mode', '--ignore-encoding', '--ignore-digest',
    '--single', `unit/${unit}`, '--tags', TAGS, '--clients', '1', '--durable', '--timeout', '60',
    // Away from runtest's default ports, which run-suite.sh runs elsewhere on the machine may hold.
    '--baseport', String(basePort),
  ];
  const { exit, output } = await run('./runtest', args, { cwd: suiteDir, timeoutMs: UNIT_TIMEOUT_MS });
  await writeFile(path.join(logs, `${unit.replace('/', '_')}.log`), output);
  return parseUnitLog(unit, output, exit, UNIT_TIMEOUT_MS);
}

async function main(): Promise<number> {
  const archive = suiteArchive();
  const expected = parseExpectedFailures(readFileSync(EXPECTED_FILE, 'utf8'), EXPECTED_FILE);
  const units = process.env.REDIS_SUITE_UNITS?.split(/\s+/).filter((u) => u !== '') ?? ALL_UNITS;
  const perUnit = process.env.REDIS_SUITE_FRESH_PROXY === '1';
  const tclsh = await run('sh', ['-c', 'command -v tclsh']);
  if (tclsh.exit !== 0) throw new Error('tclsh not found: apt-get install -y tcl');

  const suiteDir = await mkdtemp(path.join(os.tmpdir(), 'ihs-redis-suite-'));
  const logs = process.env.REDIS_SUITE_LOGS ?? (await mkdtemp(path.join(os.tmpdir(), 'ihs-redis-suite-logs-')));
  await mkdir(logs, { recursive: true });
  const basePort = (await freePort()) % 20_000 + 30_000;
  let proxy: ProxyProcess | undefined;
  const stopProxy = async (): Promise<void> => {
    const p = proxy;
    proxy = undefined;
    if (p === undefined) return;
    await p.stop(20_000).catch(() => undefined);
    await p.cleanup();
  };
  // Ctrl-C or a CI timeout: the proxy and its nodes go too.
  const onSignal = (sig: NodeJS.Signals): void => {
    console.error(`redis-suite: ${sig}, stopping the proxy and its nodes`);
    killGroups();
    void stopProxy().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const started = Date.now();
  const results: UnitResult[] = [];
  try {
    const untar = await run('tar', ['-xzf', archive, '-C', suiteDir]);
    if (untar.exit !== 0) throw new Error(`tar -xzf ${archive}: ${untar.output}`);
    for (const unit of units) {
      if (proxy === undefined) proxy = await ProxyProcess.start({ masters: 3, replicas: 1 });
      const r = await runUnit(suiteDir, proxy.port, basePort, unit, logs);
      results.push(r);
      console.log(`${unit.padEnd(22)} ok=${String(r.passed.length).padEnd(4)} err=${r.failed.length + r.broken.length}`);
      for (const b of r.broken) console.log(`    ${b.slice(0, 200)}`);
      if (perUnit) await stopProxy();
    }
  } finally {
    await stopProxy();
    await rm(suiteDir, { recursive: true, force: true });
  }

  const v = compare(results, expected);
  const ok = results.reduce((n, r) => n + r.passed.length, 0);
  const failed = results.reduce((n, r) => n + r.failed.length, 0);
  console.log(`TOTAL ok=${ok} err=${failed + v.broken.length} (expected failures listed: ${expected.length}) in ${Math.round((Date.now() - started) / 1000)} s; logs in ${logs}`);
  for (const e of v.nowPassing) console.log(`PASSES NOW (take it off ${path.relative(REPO, EXPECTED_FILE)}): ${e.unit} | ${e.test}`);
  for (const u of v.unexpected) console.log(`UNEXPECTED FAILURE: ${u.unit} | ${u.test}`);
  for (const b of v.broken) console.log(`BROKEN: ${b}`);
  return v.unexpected.length > 0 || v.broken.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`redis-suite: ${err.message}`);
    process.exit(2);
  },
);
