/**
 * `make bench`: redis-benchmark against one redis-server (direct), twemproxy over 3
 * masters, predixy over a 3-master Redis Cluster, and this proxy over its own 3 masters —
 * side by side, interleaved per round, medians over rounds — plus the proxy's RSS (and
 * predixy's) and the issues' performance targets checked;
 * and what `--ack replica` costs: two more proxies over one set of 3 masters with a replica
 * each, `--ack master` and `--ack replica`, for SET and GET.
 * Results: bench/results/latest.json and latest.md. See bench/README.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  HOST,
  freePort,
  memoryOf,
  processesUnder,
  PROXY_NODE_FLAGS,
  redisCli,
  run,
  startProcess,
  stopPid,
  stopProcess,
  tail,
  waitFor,
  waitForPong,
  type Managed,
} from './lib/procs.js';
import { optionsOrExitCode } from './lib/cli.js';
import { machineInfo, projectInfo, versionOf } from './lib/machine.js';
import { killCurrentBenchmark, runBenchmark } from './lib/redis-benchmark.js';
import { predixyConfig, resolvePredixy, type PredixyBinary } from './lib/predixy.js';
import {
  ACK_TARGETS,
  ACK_TESTS,
  TARGETS,
  pairTable,
  computePair,
  computeMedians,
  computeRatios,
  computeVerdicts,
  latencyTable,
  memoryTable,
  predixyLatencyTable,
  throughputTable,
  verdictTable,
  type RssReport,
  type RunRecord,
  type TargetName,
} from './lib/report.js';

/** How the proxies are started, for the record: node and its flags. */
const PROXY_COMMAND = ['node', ...PROXY_NODE_FLAGS].join(' ');

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- options

interface Options {
  targets: TargetName[];
  rounds: number;
  requestsP1: number;
  requestsPipelined: number;
  pipelines: number[];
  clients: number;
  keyspace: number;
  tests: string[];
  warmup: number;
  aof: boolean;
  distribution: 'ketama' | 'modula';
  proxyArgs: string[];
  /** Benchmark this git revision (extracted with git archive) instead of the working tree. */
  proxyRev: string | undefined;
  /** --predixy / PREDIXY: this predixy binary (must exist) instead of the cached build. */
  predixy: string | undefined;
  timeoutS: number;
  startTimeoutS: number;
  out: string;
  save: boolean;
  keepTmp: boolean;
}

const HELP = `usage: npx tsx bench/run.ts [options]      (make bench = all defaults)

  --targets LIST      direct,twemproxy,predixy,proxy,workers2,ack-master,ack-replica (default all; env
                      BENCH_TARGETS); workers2: a --workers 2 proxy over the proxy target's
                      masters (needs proxy); ack-master/ack-replica: proxies with --ack master /
                      --ack replica over the same 3 masters with 1 replica each, SET and GET only
  --rounds R          rounds; medians are over rounds (default 5; env BENCH_ROUNDS)
  --n1 N              requests per test at -P 1 (default 100000; env BENCH_N1)
  --n16 N             requests per test at -P 16 (or any -P > 1) (default 500000; env BENCH_N16)
  --quick             smoke run: --rounds 1 --n1 10000 --n16 50000 --warmup 5000
  --pipelines LIST    redis-benchmark -P values (default 1,16)
  --clients C         redis-benchmark -c (default 50)
  --keyspace K        redis-benchmark -r (default 100000)
  --tests LIST        redis-benchmark -t (default set,get,mset)
  --warmup N          unmeasured run per target at the highest -P first (default 50000; 0: none)
  --no-aof            run the direct/twemproxy/predixy redis-servers without AOF (default:
                      appendonly yes + everysec, the same persistence as the proxy's own nodes,
                      so all compare alike)
  --distribution D    twemproxy distribution: ketama (default) or modula
  --proxy-arg ARG     extra argument for the proxy (repeatable), e.g. --proxy-arg=--pool-size=1
  --proxy-rev REV     run the proxy from git revision REV (git archive into the temp dir,
                      node_modules linked, built with tsc) instead of the working tree
                      (env BENCH_PROXY_REV); the working tree's proxy is built with make build
  --predixy PATH      the predixy binary (env PREDIXY; an error if it is not there); default: the
                      one built in ~/.cache/interface-hash-server/predixy-ca1630a, built there
                      from ../shared/predixy/predixy-ca1630a.tgz if missing; none: predixy skipped
  --timeout S         limit per redis-benchmark run, seconds (default 300)
  --start-timeout S   limit for the proxy to answer PING, seconds (default 60)
  --out DIR           where latest.json / latest.md go (default bench/results)
  --no-save           print only, write no result files
  --keep-tmp          keep the temp dir (logs, data dirs) instead of deleting it
  --help`;

function positiveInt(name: string, text: string | undefined, fallback: number, allowZero = false): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got '${text}'`);
  return n;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      targets: { type: 'string' },
      rounds: { type: 'string' },
      n1: { type: 'string' },
      n16: { type: 'string' },
      quick: { type: 'boolean', default: false },
      pipelines: { type: 'string' },
      clients: { type: 'string' },
      keyspace: { type: 'string' },
      tests: { type: 'string' },
      warmup: { type: 'string' },
      'no-aof': { type: 'boolean', default: false },
      distribution: { type: 'string' },
      'proxy-arg': { type: 'string', multiple: true },
      'proxy-rev': { type: 'string' },
      predixy: { type: 'string' },
      timeout: { type: 'string' },
      'start-timeout': { type: 'string' },
      out: { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      'keep-tmp': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const env = process.env;
  const quick = values.quick;
  const targetList = (values.targets ?? env.BENCH_TARGETS ?? TARGETS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of targetList) {
    if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`--targets: unknown target '${t}' (use ${TARGETS.join(',')})`);
  }
  // Keep the canonical order: that is the interleaving order within a round.
  const targets = TARGETS.filter((t) => targetList.includes(t));
  if (targets.length === 0) throw new Error('--targets: none selected');
  const pipelines = (values.pipelines ?? '1,16').split(',').map((s) => positiveInt('--pipelines', s.trim(), 1));
  const tests = (values.tests ?? 'set,get,mset').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const distribution = values.distribution ?? 'ketama';
  if (distribution !== 'ketama' && distribution !== 'modula') throw new Error('--distribution must be ketama or modula');
  return {
    targets,
    rounds: positiveInt('--rounds', values.rounds ?? env.BENCH_ROUNDS, quick ? 1 : 5),
    requestsP1: positiveInt('--n1', values.n1 ?? env.BENCH_N1, quick ? 10_000 : 100_000),
    requestsPipelined: positiveInt('--n16', values.n16 ?? env.BENCH_N16, quick ? 50_000 : 500_000),
    pipelines,
    clients: positiveInt('--clients', values.clients, 50),
    keyspace: positiveInt('--keyspace', values.keyspace, 100_000),
    tests,
    warmup: positiveInt('--warmup', values.warmup, quick ? 5_000 : 50_000, true),
    aof: !values['no-aof'],
    distribution,
    proxyArgs: values['proxy-arg'] ?? [],
    proxyRev: values['proxy-rev'] ?? (env.BENCH_PROXY_REV || undefined),
    predixy: values.predixy ?? (env.PREDIXY || undefined),
    timeoutS: positiveInt('--timeout', values.timeout, 300),
    startTimeoutS: positiveInt('--start-timeout', values['start-timeout'], 60),
    out: path.resolve(values.out ?? path.join(REPO, 'bench', 'results')),
    save: !values['no-save'],
    keepTmp: values['keep-tmp'],
  };
}

// ---------------------------------------------------------------- state

interface Target {
  name: TargetName;
  port: number;
  /** The process redis-benchmark talks to. */
  proc: Managed;
  /** Set when the target could not start or died; its runs are then recorded as failed. */
  down?: string;
}

interface ProxyStop {
  how: string;
  leftovers: string[];
}

/** Whether a target runs a redis-benchmark test (the --ack pair runs only ACK_TESTS). */
function runsTest(target: TargetName, test: string): boolean {
  return !ACK_TARGETS.includes(target) || ACK_TESTS.includes(test);
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

class Bench {
  readonly tmp: string;
  readonly processes: Managed[] = [];
  readonly targets = new Map<TargetName, Target>();
  readonly runs: RunRecord[] = [];
  /** Problems outside individual runs: start failures, preflight, warmup, shutdown. */
  readonly problems: string[] = [];
  readonly notes: string[] = [];
  proxyDataDir = '';
  proxy: Managed | undefined;
  twemproxy: Managed | undefined;
  /** Where predixy's binary came from, or why it is skipped; set before main() when predixy is asked for. */
  predixyBinary: PredixyBinary | undefined;
  predixy: Managed | undefined;
  proxyStop: ProxyStop | undefined;
  /** The --ack pair: the ack-master proxy owns the nodes (process provider), ack-replica uses them (static). */
  ackMaster: Managed | undefined;
  ackMasterDataDir = '';
  ackReplica: Managed | undefined;
  /** 1-minute load average before and after: other work on the machine skews the numbers. */
  loadStart = 0;
  loadEnd = 0;
  aborted = false;
  private cleaning: Promise<void> | undefined;
  private sampler: NodeJS.Timeout | undefined;
  readonly rss = { proxyMaxKb: 0, proxyHwmKb: 0, proxyIdleKb: 0, samples: 0, twemMaxKb: 0, predixyMaxKb: 0, predixyHwmKb: 0, predixyIdleKb: 0 };
  static readonly SAMPLE_MS = 250;

  constructor(readonly opts: Options) {
    this.tmp = mkdtempSync(path.join(os.tmpdir(), 'ihs-bench-'));
  }

  private logFile(name: string): string {
    return path.join(this.tmp, `${name}.log`);
  }

  private check(): void {
    if (this.aborted) throw new Error('aborted');
  }

  private redisArgs(port: number, dir: string): string[] {
    mkdirSync(dir, { recursive: true });
    const persistence = this.opts.aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
    return ['--port', String(port), '--bind', HOST, '--save', '', ...persistence, '--dir', dir];
  }

  private async startRedis(name: string, extraArgs: string[] = []): Promise<{ proc: Managed; port: number }> {
    const port = await freePort();
    const proc = startProcess(name, 'redis-server', [...this.redisArgs(port, path.join(this.tmp, name)), ...extraArgs], this.logFile(name));
    this.processes.push(proc);
    await waitForPong(port, 10_000, proc);
    return { proc, port };
  }

  async startDirect(): Promise<void> {
    const { proc, port } = await this.startRedis('direct');
    this.targets.set('direct', { name: 'direct', port, proc });
    log(`direct     redis-server on ${port} (pid ${proc.pid})`);
  }

  async startTwemproxy(): Promise<void> {
    const masters: number[] = [];
    for (let i = 0; i < 3; i++) masters.push((await this.startRedis(`twem-master-${i}`)).port);
    const port = await freePort();
    const statsPort = await freePort();
    const conf = path.join(this.tmp, 'nutcracker.yml');
    writeFileSync(
      conf,
      [
        'bench:',
        `  listen: ${HOST}:${port}`,
        '  hash: fnv1a_64',
        `  distribution: ${this.opts.distribution}`,
        '  redis: true',
        '  auto_eject_hosts: false',
        '  server_connections: 1',
        '  preconnect: true',
        '  servers:',
        // Named servers: ketama hashes the name, so the key split does not depend on the random ports.
        ...masters.map((p, i) => `    - ${HOST}:${p}:1 m${i}`),
        '',
      ].join('\n'),
    );
    const proc = startProcess(
      'twemproxy',
      'nutcracker',
      ['-c', conf, '-a', HOST, '-s', String(statsPort), '-o', this.logFile('twemproxy'), '-p', path.join(this.tmp, 'nutcracker.pid')],
      this.logFile('twemproxy-stdio'),
    );
    this.processes.push(proc);
    this.twemproxy = proc;
    await waitForPong(port, 10_000, proc);
    this.targets.set('twemproxy', { name: 'twemproxy', port, proc });
    log(`twemproxy  nutcracker on ${port} (pid ${proc.pid}) over masters ${masters.join(', ')}; fnv1a_64/${this.opts.distribution}`);
  }

  /**
   * predixy over a Redis Cluster of its own: 3 cluster-enabled masters (persistence as for
   * direct/twemproxy), formed with redis-cli --cluster create, then predixy with one worker
   * thread; ready once it answers PING and a SET/GET round-trip. A failure after the nodes
   * started marks the target down (its runs are listed as failed), as for the proxy.
   */
  async startPredixy(bin: string): Promise<void> {
    const nodes: { proc: Managed; port: number }[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await this.startRedis(`predixy-node-${i}`, ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']));
    const servers = nodes.map((n) => `${HOST}:${n.port}`);
    const port = await freePort();
    try {
      const created = await run('redis-cli', ['--cluster', 'create', ...servers, '--cluster-replicas', '0', '--cluster-yes'], 60_000);
      if (created.code !== 0) throw new Error(`redis-cli --cluster create failed: ${(created.stderr || created.stdout).trim().split('\n').slice(-5).join(' / ')}`);
      for (const n of nodes) await waitFor(`cluster_state:ok on ${n.port}`, 30_000, async () => /cluster_state:ok/.test((await redisCli(n.port, ['cluster', 'info'])).stdout));
      const conf = path.join(this.tmp, 'predixy.conf');
      writeFileSync(conf, predixyConfig(port, servers, this.logFile('predixy')));
      this.predixy = startProcess('predixy', bin, [conf], this.logFile('predixy-stdio'));
      this.processes.push(this.predixy);
      await waitForPong(port, 10_000, this.predixy);
      // PONG comes from predixy itself; a round-trip shows it has the cluster's slot map.
      await waitFor('a SET/GET round-trip through predixy', 15_000, async () => {
        const set = await redisCli(port, ['SET', 'bench:predixy-check', 'ok']);
        const get = await redisCli(port, ['GET', 'bench:predixy-check']);
        return set.stdout.trim() === 'OK' && get.stdout.trim() === 'ok';
      });
      await redisCli(port, ['DEL', 'bench:predixy-check']);
    } catch (err) {
      const logs = this.predixy ? `\n--- predixy log (tail) ---\n${tail(this.logFile('predixy'))}\n${tail(this.predixy.logFile)}` : '';
      const msg = `predixy did not start: ${(err as Error).message}${logs}`;
      this.problems.push(msg);
      log(msg);
      this.targets.set('predixy', { name: 'predixy', port, proc: this.predixy ?? nodes[0]!.proc, down: 'did not start' });
      return;
    }
    this.targets.set('predixy', { name: 'predixy', port, proc: this.predixy });
    const mem = memoryOf(this.predixy.pid);
    if (mem) this.rss.predixyIdleKb = mem.rssKb;
    log(`predixy    on ${port} (pid ${this.predixy.pid}), 1 worker thread, over Redis Cluster ${nodes.map((n) => n.port).join(', ')}; RSS ${(this.rss.predixyIdleKb / 1024).toFixed(1)} MB once ready`);
  }

  /** Where the proxy runs from: the working tree, or a `git archive` of --proxy-rev. */
  proxyRoot = REPO;
  proxyCommit = '';

  private extractRevision(rev: string): void {
    const root = path.join(this.tmp, 'proxy-src');
    mkdirSync(root);
    this.proxyCommit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
    execFileSync('sh', ['-c', 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', 'sh', REPO, this.proxyCommit, root]);
    symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
    this.proxyRoot = root;
    log(`proxy      from git revision ${rev} (${this.proxyCommit}), extracted to ${root}`);
  }

  /**
   * The proxy runs compiled JavaScript (bin/ loads dist/), as in production: build it before
   * any target starts. The working tree: `make build` (a no-op when dist/ is up to date). A
   * --proxy-rev revision: tsc with its own tsconfig.build.json, using this tree's
   * node_modules; a revision from before dist/ existed has none, and its bin/ runs src/
   * through tsx.
   */
  prepareProxy(): void {
    if (this.opts.proxyRev !== undefined) this.extractRevision(this.opts.proxyRev);
    const started = Date.now();
    if (this.proxyRoot === REPO) {
      execFileSync('make', ['--no-print-directory', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
      log(`proxy      dist/ up to date (make build, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } else if (existsSync(path.join(this.proxyRoot, 'tsconfig.build.json'))) {
      const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: this.proxyRoot, stdio: ['ignore', 'inherit', 'inherit'] });
      log(`proxy      built ${this.proxyCommit} with tsc -p tsconfig.build.json (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } else {
      log(`proxy      ${this.proxyCommit} has no tsconfig.build.json: its bin/ runs src/ through tsx`);
    }
  }

  /**
   * Start one proxy target (`args` after the port) and wait for its PING. Returns its
   * process, or undefined when it did not start (the target is then marked down).
   */
  private async launchProxy(name: TargetName, args: string[], secret = ''): Promise<Managed | undefined> {
    const port = await freePort();
    const argv = [path.join(this.proxyRoot, 'bin', 'interface-hash-server.js'), '--port', String(port), '--http-port', '0', ...args, '--log-level', 'warn', ...this.opts.proxyArgs];
    const shown = this.proxyRoot === REPO ? path.relative(REPO, argv[0] ?? '') : (argv[0] ?? '');
    const printed = argv.slice(1).join(' ');
    log(`${name.padEnd(10)} starting: node ${shown} ${secret === '' ? printed : printed.replaceAll(secret, '***')}`);
    const started = Date.now();
    const proc = startProcess(name, process.execPath, [...PROXY_NODE_FLAGS, ...argv], this.logFile(name), this.proxyRoot);
    this.processes.push(proc);
    try {
      await waitForPong(port, this.opts.startTimeoutS * 1000, proc);
    } catch (err) {
      const msg = `${name} did not start: ${(err as Error).message}\n--- ${name} log (tail) ---\n${tail(proc.logFile)}`;
      this.problems.push(msg);
      log(msg);
      this.targets.set(name, { name, port, proc, down: 'did not start' });
      return undefined;
    }
    this.targets.set(name, { name, port, proc });
    log(`${name.padEnd(10)} ready on ${port} (pid ${proc.pid}) after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return proc;
  }

  async startProxy(): Promise<void> {
    this.proxyDataDir = path.join(this.tmp, 'proxy-data');
    const proc = await this.launchProxy('proxy', ['--data-dir', this.proxyDataDir, '--masters', '3', '--replicas', '0']);
    this.proxy = this.targets.get('proxy')?.proc;
    if (proc === undefined) return;
    const mem = memoryOf(proc.pid);
    if (mem) this.rss.proxyIdleKb = mem.rssKb;
    log(`proxy      RSS ${(this.rss.proxyIdleKb / 1024).toFixed(1)} MB once ready`);
  }

  /**
   * --workers 2 over the proxy target's own masters (static provider, the password from its
   * topology document): the two differ only in how many processes serve the port.
   */
  async startWorkers2(): Promise<void> {
    const proxy = this.targets.get('proxy');
    if (proxy === undefined || proxy.down !== undefined) {
      if (proxy !== undefined) this.targets.set('workers2', { name: 'workers2', port: 0, proc: proxy.proc, down: 'the proxy target (which runs its nodes) did not start' });
      else this.problems.push('--targets workers2 needs the proxy target (it fronts its masters)');
      return;
    }
    const doc = JSON.parse(readFileSync(path.join(this.proxyDataDir, 'topology.json'), 'utf8')) as { nodePassword: string; nodes: { host: string; port: number }[] };
    const masters = doc.nodes.flatMap((n) => ['--node', `${n.host}:${n.port}`]);
    await this.launchProxy(
      'workers2',
      ['--data-dir', path.join(this.tmp, 'workers2-data'), '--provider', 'static', ...masters, `--node-password=${doc.nodePassword}`, '--workers', '2'],
      doc.nodePassword,
    );
  }

  /**
   * The --ack pair over one set of nodes, so the two differ only in --ack: ack-master runs
   * them (process provider, 3 masters, 1 replica each), ack-replica fronts the same masters
   * (static provider, the password from ack-master's topology document).
   */
  async startAckPair(): Promise<void> {
    const want = this.opts.targets;
    this.ackMasterDataDir = path.join(this.tmp, 'ack-master-data');
    const started = await this.launchProxy('ack-master', ['--data-dir', this.ackMasterDataDir, '--masters', '3', '--replicas', '1']);
    this.ackMaster = this.targets.get('ack-master')?.proc; // stopped at the end even if it did not start
    if (!want.includes('ack-replica')) return;
    if (started === undefined) {
      this.targets.set('ack-replica', { name: 'ack-replica', port: 0, proc: this.targets.get('ack-master')!.proc, down: 'ack-master (which runs its nodes) did not start' });
      return;
    }
    const doc = JSON.parse(readFileSync(path.join(this.ackMasterDataDir, 'topology.json'), 'utf8')) as {
      nodePassword: string;
      nodes: { host: string; port: number; formedAsReplicaOf?: string }[];
    };
    const masters = doc.nodes.filter((n) => n.formedAsReplicaOf === undefined).flatMap((n) => ['--node', `${n.host}:${n.port}`]);
    await this.launchProxy(
      'ack-replica',
      ['--data-dir', path.join(this.tmp, 'ack-replica-data'), '--provider', 'static', ...masters, `--node-password=${doc.nodePassword}`, '--ack', 'replica'],
      doc.nodePassword,
    );
    this.ackReplica = this.targets.get('ack-replica')?.proc;
  }

  startSampler(): void {
    this.sampler = setInterval(() => {
      if (this.proxy && this.proxy.exit === undefined) {
        const m = memoryOf(this.proxy.pid);
        if (m) {
          this.rss.samples++;
          this.rss.proxyMaxKb = Math.max(this.rss.proxyMaxKb, m.rssKb);
          this.rss.proxyHwmKb = Math.max(this.rss.proxyHwmKb, m.hwmKb);
        }
      }
      if (this.twemproxy && this.twemproxy.exit === undefined) {
        const m = memoryOf(this.twemproxy.pid);
        if (m) this.rss.twemMaxKb = Math.max(this.rss.twemMaxKb, m.rssKb);
      }
      if (this.predixy && this.predixy.exit === undefined) {
        const m = memoryOf(this.predixy.pid);
        if (m) {
          this.rss.predixyMaxKb = Math.max(this.rss.predixyMaxKb, m.rssKb);
          this.rss.predixyHwmKb = Math.max(this.rss.predixyHwmKb, m.hwmKb);
        }
      }
    }, Bench.SAMPLE_MS);
    this.sampler.unref();
  }

  /** A few commands through redis-cli before any load: errors here explain odd numbers later. */
  async preflight(t: Target): Promise<void> {
    const expect: [string[], string][] = [
      [['SET', 'bench:preflight', 'v1'], 'OK'],
      [['GET', 'bench:preflight'], 'v1'],
      [['MSET', 'bench:pf:a', '1', 'bench:pf:b', '2', 'bench:pf:c', '3'], 'OK'],
      [['MGET', 'bench:pf:a', 'bench:pf:b', 'bench:pf:c'], '1\n2\n3'],
      [['DEL', 'bench:preflight', 'bench:pf:a', 'bench:pf:b', 'bench:pf:c'], '4'],
    ];
    for (const [args, want] of expect) {
      const r = await redisCli(t.port, args, 10_000);
      const got = (r.stdout + r.stderr).trim();
      if (got !== want) this.problems.push(`${t.name}: preflight \`redis-cli ${args.join(' ')}\` answered ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
    // redis-benchmark asks CONFIG GET save/appendonly first; only a warning if unanswered.
    const cfg = await redisCli(t.port, ['CONFIG', 'GET', 'appendonly'], 10_000);
    const answer = (cfg.stdout + cfg.stderr).trim().replace(/\n/g, ' ');
    this.notes.push(`${t.name}: CONFIG GET appendonly → ${JSON.stringify(answer)}`);
  }

  private requestsFor(pipeline: number): number {
    return pipeline === 1 ? this.opts.requestsP1 : this.opts.requestsPipelined;
  }

  private async benchOnce(t: Target, pipeline: number, requests: number, round: number, tests: string[]): Promise<RunRecord> {
    const o = this.opts;
    const exit = t.proc.exit;
    if (t.down === undefined && exit !== undefined) t.down = `exited (code ${exit.code}, signal ${exit.signal})`;
    if (t.down !== undefined) {
      return {
        target: t.name,
        pipeline,
        round,
        tests: tests.map((x) => x.toUpperCase()),
        requests,
        command: '',
        durationMs: 0,
        rows: [],
        errors: [`${t.name} not running: ${t.down}`],
        warnings: [],
      };
    }
    const outcome = await runBenchmark({
      port: t.port,
      clients: o.clients,
      keyspace: o.keyspace,
      requests,
      pipeline,
      tests,
      timeoutMs: o.timeoutS * 1000,
    });
    const errors = [...outcome.errors];
    // A target that died makes redis-benchmark fail first; give its exit event a moment to land.
    if (errors.length > 0) await Promise.race([t.proc.exited, new Promise((r) => setTimeout(r, 300))]);
    if (t.proc.exit !== undefined) {
      t.down = `exited during the run (code ${t.proc.exit.code}, signal ${t.proc.exit.signal})`;
      errors.push(`${t.name} ${t.down}\n--- ${t.name} log (tail) ---\n${tail(t.proc.logFile)}`);
    }
    return {
      target: t.name,
      pipeline,
      round,
      tests: tests.map((x) => x.toUpperCase()),
      requests,
      command: outcome.command,
      durationMs: outcome.durationMs,
      rows: outcome.rows.map((r) => ({ test: r.test, rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms })),
      errors,
      warnings: outcome.warnings,
    };
  }

  async main(): Promise<void> {
    const o = this.opts;
    log(`temp dir ${this.tmp}`);
    if (o.targets.some((t) => t === 'proxy' || ACK_TARGETS.includes(t))) this.prepareProxy();
    if (o.targets.includes('direct')) await this.startDirect();
    this.check();
    if (o.targets.includes('twemproxy')) await this.startTwemproxy();
    this.check();
    const predixy = this.predixyBinary;
    if (o.targets.includes('predixy') && predixy !== undefined && 'bin' in predixy) await this.startPredixy(predixy.bin);
    this.check();
    if (o.targets.includes('proxy')) await this.startProxy();
    this.check();
    if (o.targets.includes('workers2')) await this.startWorkers2();
    this.check();
    if (o.targets.some((t) => ACK_TARGETS.includes(t))) await this.startAckPair();
    this.check();
    this.startSampler();
    const active = o.targets.map((n) => this.targets.get(n)).filter((t): t is Target => t !== undefined);
    for (const t of active) if (t.down === undefined) await this.preflight(t);
    if (o.warmup > 0) {
      const p = Math.max(...o.pipelines);
      for (const t of active) {
        this.check();
        const r = await this.benchOnce(t, p, o.warmup, 0, o.tests.filter((x) => runsTest(t.name, x)));
        if (r.errors.length > 0) this.problems.push(`${t.name}: warm-up (${r.command || 'not run'}) failed: ${r.errors.join('; ')}`);
        log(`warm-up    ${t.name.padEnd(9)} -P ${p} n=${o.warmup}: ${r.errors.length === 0 ? 'ok' : `ERRORS: ${r.errors.join('; ')}`}`);
      }
    }
    for (let round = 1; round <= o.rounds; round++) {
      for (const pipeline of o.pipelines) {
        // One redis-benchmark per test and target: an error is pinned to its test, and the
        // targets take turns at the finest grain, so background load hits them alike.
        for (const test of o.tests) {
          for (const t of active) {
            if (!runsTest(t.name, test)) continue;
            this.check();
            const r = await this.benchOnce(t, pipeline, this.requestsFor(pipeline), round, [test]);
            this.runs.push(r);
            const row = r.rows[0];
            const summary = row ? `${Math.round(row.rps).toString().padStart(7)} ops/s  p50 ${row.p50Ms.toFixed(3)}  p99 ${row.p99Ms.toFixed(3)} ms` : '';
            log(
              `round ${round}/${o.rounds}  -P ${String(pipeline).padEnd(2)}  ${test.toUpperCase().padEnd(4)}  ${t.name.padEnd(9)} ${(r.durationMs / 1000).toFixed(1).padStart(5)} s  ${summary}` +
                (r.errors.length > 0 ? `  ERRORS: ${r.errors.join('; ')}` : ''),
            );
          }
        }
      }
    }
    this.loadEnd = os.loadavg()[0] ?? 0;
    // VmHWM is the kernel's peak over the process's whole life: read once more after the last run.
    if (this.proxy && this.proxy.exit === undefined) {
      const m = memoryOf(this.proxy.pid);
      if (m) this.rss.proxyHwmKb = Math.max(this.rss.proxyHwmKb, m.hwmKb);
    }
    if (this.predixy && this.predixy.exit === undefined) {
      const m = memoryOf(this.predixy.pid);
      if (m) this.rss.predixyHwmKb = Math.max(this.rss.predixyHwmKb, m.hwmKb);
    }
  }

  /** Stop everything we started: the proxy first (it stops its own nodes), then the rest. Idempotent. */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      this.aborted = true;
      killCurrentBenchmark();
      if (this.sampler) clearInterval(this.sampler);
      if (this.proxy) {
        const before = this.proxy.exit;
        const stopped = await stopProcess(this.proxy, 30_000);
        const exitText = `${stopped.exit.code === null ? `by signal ${stopped.exit.signal}` : `with code ${stopped.exit.code}`}`;
        const how =
          this.proxy.pid <= 0
            ? 'never started'
            : before !== undefined
              ? `had already exited ${exitText} before the bench stopped it`
              : stopped.killed
                ? `did not exit within 30 s of SIGTERM; SIGKILLed`
                : `exited ${exitText} ${stopped.ms} ms after SIGTERM`;
        const leftovers: string[] = [];
        if (this.proxyDataDir !== '') {
          // Its redis-servers run detached; anything still running from its data dir was left behind.
          await new Promise((r) => setTimeout(r, 200));
          for (const p of await processesUnder(this.proxyDataDir)) {
            const gone = await stopPid(p.pid, 5_000);
            leftovers.push(`${p.comm} pid ${p.pid}${gone ? ' (stopped by the bench)' : ' (could NOT be stopped)'}`);
          }
        }
        this.proxyStop = { how, leftovers };
        if (this.proxy.pid > 0 && before === undefined && (stopped.killed || stopped.exit.code !== 0)) {
          this.problems.push(`proxy stop: ${how}\n--- proxy log (tail) ---\n${tail(this.proxy.logFile)}`);
        }
        if (leftovers.length > 0) this.problems.push(`proxy left processes behind after it exited: ${leftovers.join(', ')}`);
      }
      // The --ack pair: the proxy using the nodes first, then the one that stops them.
      if (this.ackReplica) await stopProcess(this.ackReplica, 30_000);
      if (this.ackMaster) {
        const stopped = await stopProcess(this.ackMaster, 30_000);
        if (stopped.killed) this.problems.push(`ack-master stop: did not exit within 30 s of SIGTERM; SIGKILLed`);
        await new Promise((r) => setTimeout(r, 200));
        const left: string[] = [];
        for (const p of await processesUnder(this.ackMasterDataDir)) {
          const gone = await stopPid(p.pid, 5_000);
          left.push(`${p.comm} pid ${p.pid}${gone ? ' (stopped by the bench)' : ' (could NOT be stopped)'}`);
        }
        if (left.length > 0) this.problems.push(`ack-master left processes behind after it exited: ${left.join(', ')}`);
      }
      for (const p of [...this.processes].reverse()) {
        if (p !== this.proxy && p !== this.ackMaster && p !== this.ackReplica) await stopProcess(p, 5_000);
      }
      if (!this.opts.keepTmp) rmSync(this.tmp, { recursive: true, force: true });
    })();
    return this.cleaning;
  }
}

// ---------------------------------------------------------------- report

function benchMachineInfo(predixyBin: string | undefined): Record<string, string | number> {
  let nutcracker: string;
  try {
    // nutcracker -V prints to stderr and exits 0.
    const r = execFileSync('sh', ['-c', 'nutcracker -V 2>&1'], { encoding: 'utf8', timeout: 5_000 });
    nutcracker = r.trim().split('\n')[0] ?? '';
  } catch {
    nutcracker = 'unknown';
  }
  // predixy -v prints "<its path> predixy-1.0.5" to stderr.
  const predixy = predixyBin === undefined ? 'not used' : (spawnSync(predixyBin, ['-v'], { encoding: 'utf8', timeout: 5_000 }).stderr ?? '').trim().split(' ').pop() || 'unknown';
  return { ...machineInfo(), redisBenchmark: versionOf('redis-benchmark', ['--version']), nutcracker, predixy };
}

function buildReport(b: Bench, startedAt: Date, finishedAt: Date): { json: string; md: string; console: string } {
  const o = b.opts;
  const tests = o.tests.map((t) => t.toUpperCase());
  const medians = computeMedians(b.runs, o.pipelines, tests);
  const ratios = computeRatios(medians, b.runs, o.pipelines, tests);
  const mb = (kb: number): number | null => (kb > 0 ? Math.round((kb / 1024) * 10) / 10 : null);
  const rss: RssReport | null = o.targets.includes('proxy')
    ? {
        maxSampledMb: mb(b.rss.proxyMaxKb),
        peakHwmMb: mb(b.rss.proxyHwmKb),
        idleMb: mb(b.rss.proxyIdleKb),
        samples: b.rss.samples,
        sampleMs: Bench.SAMPLE_MS,
        twemproxyMaxSampledMb: mb(b.rss.twemMaxKb),
        predixyIdleMb: mb(b.rss.predixyIdleKb),
        predixyMaxSampledMb: mb(b.rss.predixyMaxKb),
        predixyPeakHwmMb: mb(b.rss.predixyHwmKb),
      }
    : null;
  const predixyBin = b.predixyBinary !== undefined && 'bin' in b.predixyBinary ? b.predixyBinary.bin : undefined;
  const predixySkip = b.predixyBinary !== undefined && 'skip' in b.predixyBinary ? b.predixyBinary.skip : undefined;
  const verdicts = o.targets.includes('proxy')
    ? computeVerdicts(medians, o.pipelines, tests, rss, {
        predixy: o.targets.includes('predixy') ? 'measured' : predixySkip !== undefined ? 'skipped' : 'absent',
        twemproxy: o.targets.includes('twemproxy'),
      })
    : [];
  const ackCost = computePair(medians, b.runs, o.pipelines, tests, 'ack-master', 'ack-replica');
  const workers = computePair(medians, b.runs, o.pipelines, tests, 'proxy', 'workers2');
  const failedRuns = b.runs.filter((r) => r.errors.length > 0);
  const warnings = [...new Set(b.runs.flatMap((r) => r.warnings.map((w) => `${r.target}: ${w}`)))];
  const machine = benchMachineInfo(predixyBin);
  const project = projectInfo(REPO);
  const proxySource = b.proxyCommit
    ? `commit ${b.proxyCommit} (--proxy-rev ${o.proxyRev ?? ''}, git archive)`
    : `working tree at commit ${project.commit}${project.srcDirty ? ' with uncommitted changes in src/, bin/ or tsconfig*.json' : ''}`;
  const durationS = Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000);
  const parameters = {
    targets: o.targets,
    rounds: o.rounds,
    requests: Object.fromEntries(o.pipelines.map((p) => [String(p), p === 1 ? o.requestsP1 : o.requestsPipelined])),
    pipelines: o.pipelines,
    clients: o.clients,
    keyspace: o.keyspace,
    tests: o.tests,
    warmupRequests: o.warmup,
    order: `per round, per -P, per test: one redis-benchmark per target, in the order ${TARGETS.join(', ')}`,
    direct: `a separate standalone redis-server (--save '' --appendonly ${o.aof ? 'yes --appendfsync everysec' : 'no'})`,
    twemproxy: {
      masters: 3,
      hash: 'fnv1a_64',
      distribution: o.distribution,
      redis: true,
      auto_eject_hosts: false,
      server_connections: 1,
      preconnect: true,
      mastersPersistence: o.aof ? 'appendonly yes, everysec' : 'appendonly no, save ""',
    },
    predixy: predixyBin === undefined
      ? { skipped: predixySkip ?? 'not among the targets' }
      : {
          binary: b.predixyBinary !== undefined && 'how' in b.predixyBinary ? b.predixyBinary.how : predixyBin,
          config: 'WorkerThreads 1, ClusterServerPool (RefreshInterval 1) seeded with the 3 masters, no latency monitors, no auth, log to a file',
          cluster: '3 cluster-enabled redis-servers, no replicas, formed with redis-cli --cluster create',
          mastersPersistence: o.aof ? 'appendonly yes, everysec' : 'appendonly no, save ""',
        },
    proxy: {
      command: `${PROXY_COMMAND} bin/interface-hash-server.js --port <free> --data-dir <tmp> --masters 3 --replicas 0 --log-level warn${o.proxyArgs.length ? ` ${o.proxyArgs.join(' ')}` : ''}`,
      runs: 'dist/ (tsc output of src/, as in production); a --proxy-rev from before dist/ existed runs src/ through tsx',
      mastersPersistence: 'as the process provider configures them (appendonly yes, appendfsync everysec, requirepass)',
    },
    ackPair: {
      'ack-master': `${PROXY_COMMAND} bin/interface-hash-server.js --port <free> --data-dir <tmp> --masters 3 --replicas 1 --log-level warn${o.proxyArgs.length ? ` ${o.proxyArgs.join(' ')}` : ''}`,
      'ack-replica': `${PROXY_COMMAND} bin/interface-hash-server.js --port <free> --data-dir <tmp> --provider static --node <each ack-master master> --node-password <theirs> --ack replica --log-level warn${o.proxyArgs.length ? ` ${o.proxyArgs.join(' ')}` : ''}`,
      tests: ACK_TESTS,
    },
  };

  const tgt = o.targets;
  const persistence = parameters.twemproxy.mastersPersistence;
  const described: Partial<Record<TargetName, string>> = {
    direct: 'direct: one standalone redis-server',
    twemproxy: `twemproxy: nutcracker fnv1a_64/${o.distribution} over 3 redis-server masters (${persistence})`,
    predixy: `predixy: 1 worker thread over a 3-master Redis Cluster (${persistence})`,
    proxy: 'proxy: 3 masters, 0 replicas, started by its process provider (AOF everysec)',
  };
  const targetDescriptions = tgt.map((t) => described[t]).filter((d): d is string => d !== undefined);
  if (predixySkip !== undefined) targetDescriptions.push(`predixy: SKIPPED, ${predixySkip.split('\n')[0]}`);
  const sections: string[] = [];
  sections.push(`# interface-hash-server benchmark\n`);
  sections.push(
    `- date: ${finishedAt.toISOString()} (took ${durationS} s)\n` +
      `- machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memTotalMb} MB, ${machine.os}; node ${machine.node}; ${machine.redisServer}; ${machine.nutcracker}; predixy ${machine.predixy}\n` +
      `- 1-min load average: ${b.loadStart.toFixed(2)} before, ${b.loadEnd.toFixed(2)} at the end of the last round (the bench itself keeps ~2 busy; more means other work competed)\n` +
      `- proxy code: ${proxySource}\n` +
      `- redis-benchmark -c ${o.clients} -r ${o.keyspace} -t ${o.tests.join(',')} --csv; -n ${o.requestsP1} at -P 1, -n ${o.requestsPipelined} at -P > 1; ` +
      `${o.rounds} round(s); within a round, per -P and test, one redis-benchmark per target in turn (${tgt.join(', ')}); medians over rounds; ` +
      `warm-up ${o.warmup} requests of each test per target first (not counted)\n` +
      `- ${targetDescriptions.join('; ')}\n`,
  );
  sections.push(`## Throughput (median ops/s)\n\n${throughputTable(medians, ratios, tgt)}\n`);
  sections.push(`## Latency (median over rounds of redis-benchmark's p50 / p99, ms)\n\n${latencyTable(medians, ratios, tgt)}\n`);
  if (tgt.includes('proxy') && tgt.includes('predixy')) {
    sections.push(`## Latency, proxy vs predixy (ms, medians over rounds)\n\n${predixyLatencyTable(medians, ratios)}\n`);
  }
  if (rss) {
    sections.push(
      `## Memory\n\n` +
        `RSS of each process: once ready (before any load), the largest VmRSS of ${rss.samples} samples, and VmHWM (the kernel's peak over the whole bench, read after the last run).\n\n` +
        `${memoryTable(rss)}\n`,
    );
  }
  if (ackCost.length > 0) {
    sections.push(
      `## --ack replica vs --ack master (same nodes: 3 masters, 1 replica each)\n\n` +
        `Two proxies over one set of nodes, differing only in --ack: with --ack replica a write is answered once a replica has it ` +
        `(one WAIT per batch of writes per backend connection). Medians over rounds; the two run back to back in each round.\n\n` +
        `${pairTable(ackCost, ['ack master', 'ack replica'], 'replica/master')}\n`,
    );
  }
  if (workers.some((c) => c.other !== undefined)) {
    sections.push(
      `## --workers 2 vs --workers 1 (same 3 masters)\n\n` +
        `The proxy (one process) and a second proxy with --workers 2 (two processes on one port, reusePort) fronting the same masters ` +
        `(--provider static). This VM has 2 cores, shared by redis-benchmark, the nodes and the proxies: reported, no target. ` +
        `Medians over rounds; the two run back to back in each round.\n\n` +
        `${pairTable(workers, ['1 worker', '2 workers'], '2/1')}\n`,
    );
  }
  const titles = { 'issue 15': 'Targets of issue 15, against predixy', earlier: "The earlier issue's targets, against twemproxy" } as const;
  for (const group of ['issue 15', 'earlier'] as const) {
    const mine = verdicts.filter((v) => v.group === group);
    if (mine.length === 0) continue;
    const met = mine.filter((v) => v.status === 'met').length;
    sections.push(`## ${titles[group]} (reported, not enforced): ${met} of ${mine.length} met\n\n${verdictTable(mine)}\n`);
  }
  const problemLines = [
    ...b.problems,
    ...failedRuns.map((r) => `round ${r.round} -P ${r.pipeline} ${r.tests.join(',')} ${r.target}: ${r.errors.join('; ')}${r.command ? `\n  command: ${r.command}` : ''}`),
  ];
  sections.push(
    `## Errors\n\n` +
      (problemLines.length === 0
        ? 'None: every redis-benchmark run exited 0 with a result row for every test, and every preflight command answered as expected.\n'
        : `${failedRuns.length} of ${b.runs.length} runs failed (excluded from the medians); other problems listed too.\n\n${problemLines.map((l) => `- ${l.replace(/\n/g, '\n  ')}`).join('\n')}\n`),
  );
  const notes = [...b.notes, ...warnings.map((w) => `redis-benchmark warning: ${w}`)];
  if (b.proxyStop) notes.push(`proxy stop: ${b.proxyStop.how}; leftover processes: ${b.proxyStop.leftovers.length === 0 ? 'none' : b.proxyStop.leftovers.join(', ')}`);
  if (notes.length > 0) sections.push(`## Notes\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  const md = sections.join('\n');

  const runs = b.runs.map((r) => ({
    target: r.target,
    pipeline: r.pipeline,
    round: r.round,
    tests: r.tests,
    requests: r.requests,
    durationMs: r.durationMs,
    rows: r.rows,
    errors: r.errors,
  }));
  const head = JSON.stringify(
    {
      date: finishedAt.toISOString(),
      durationS,
      machine: { ...machine, loadAvg1mStart: b.loadStart, loadAvg1mEnd: b.loadEnd },
      project: { ...project, proxySource },
      parameters,
      medians,
      ratios,
      rss,
      verdicts,
      ackCost,
      workers,
      errors: problemLines,
      warnings,
      notes: b.notes,
      proxyStop: b.proxyStop ?? null,
    },
    null,
    2,
  );
  // One line per raw run keeps the file small and still diffable.
  const json = `${head.slice(0, -2)},\n  "runs": [\n${runs.map((r) => `    ${JSON.stringify(r)}`).join(',\n')}\n  ]\n}`;
  return { json: `${json}\n`, md, console: md };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = optionsOrExitCode(parseOptions, HELP);
  if (typeof opts === 'number') return opts;
  for (const [bin, args] of [['redis-server', ['--version']], ['redis-cli', ['--version']], ['redis-benchmark', ['--version']]] as const) {
    const r = await run(bin, [...args], 5_000);
    if (r.code !== 0) {
      process.stderr.write(`${bin} not usable: ${(r.stderr || r.stdout).trim()}\n`);
      return 2;
    }
  }
  if (opts.targets.includes('twemproxy') && (await run('sh', ['-c', 'command -v nutcracker'], 5_000)).code !== 0) {
    process.stderr.write('nutcracker (twemproxy) not found: apt-get install nutcracker, or --targets direct,proxy\n');
    return 2;
  }
  let predixy: PredixyBinary | undefined;
  if (opts.targets.includes('predixy')) {
    try {
      predixy = await resolvePredixy(REPO, opts.predixy, log);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 2;
    }
    if ('skip' in predixy) {
      // Not a failure: the other targets run, and the report says why predixy is missing.
      log(`predixy    SKIPPED: ${predixy.skip}`);
      opts.targets = opts.targets.filter((t) => t !== 'predixy');
      if (opts.targets.length === 0) {
        process.stderr.write('no target left to run\n');
        return 2;
      }
    } else {
      log(`predixy    ${predixy.how}`);
    }
  }
  const bench = new Bench(opts);
  bench.predixyBinary = predixy;
  if (predixy !== undefined && 'skip' in predixy) (predixy.buildFailed ? bench.problems : bench.notes).push(`predixy skipped: ${predixy.skip}`);
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++signals > 1) process.exit(130);
    process.stderr.write(`\n${sig}: stopping everything the bench started...\n`);
    void bench.cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench crashed: ${err.stack ?? err.message}\n`);
    void bench.cleanup().finally(() => process.exit(1));
  });

  const startedAt = new Date();
  bench.loadStart = os.loadavg()[0] ?? 0;
  let failure: Error | undefined;
  try {
    await bench.main();
  } catch (err) {
    failure = err as Error;
  }
  if (bench.aborted && failure?.message === 'aborted') return 130; // the signal handler exits
  if (failure) bench.problems.push(`bench stopped early: ${failure.message}`);
  log('stopping targets...');
  await bench.cleanup();
  const report = buildReport(bench, startedAt, new Date());
  log(`\n${report.console}`);
  if (opts.save) {
    mkdirSync(opts.out, { recursive: true });
    writeFileSync(path.join(opts.out, 'latest.json'), report.json);
    writeFileSync(path.join(opts.out, 'latest.md'), report.md);
    log(`saved ${path.relative(process.cwd(), path.join(opts.out, 'latest.json'))} and latest.md`);
  }
  if (opts.keepTmp) log(`temp dir kept: ${bench.tmp}`);
  return failure ? 1 : 0;
}

process.exitCode = await main();
