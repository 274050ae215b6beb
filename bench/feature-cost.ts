/**
 * What a feature costs on the data path: two proxies of the real executable, each over its
 * own 3 masters (no replicas), one with the feature off and one with it on.
 *   --feature hotkeys  (default) hot/big key sampling: --hotkeys-sample-rate 0 against the
 *                      default (about 1 keyed request in 128);
 *   --feature tracking client-side caching: the "on" proxy has one client connected with
 *                      CLIENT TRACKING ON (idle), so every write waits for the barrier
 *                      (docs/client-side-caching.md); the "off" proxy has none.
 * Within
 * each round, redis-benchmark -c 50 -P 16 runs SET then GET against both, the order of the
 * two alternating from round to round; for each run, the proxy's own CPU time (utime +
 * stime from /proc/<pid>/stat) per request too, which the other jobs on a shared machine
 * disturb less than throughput. -r 100000 (random keys) is the sampler's worst case: nearly
 * every sampled key is new to its shard's counters, so each sample replaces one.
 *
 *   npx tsx bench/feature-cost.ts [--feature hotkeys|tracking] [--rounds 9] [--requests 1000000] [--keyspace 100000] [--rate 128] [--out FILE]
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { buildExecutable, ProxyProcess } from '../test/support/proxy-process.js';
import { optionsOrExitCode } from './lib/cli.js';
import { median, writeReport } from './lib/report.js';
import { runBenchmark } from './lib/redis-benchmark.js';
import { PROXY_NODE_FLAGS } from './lib/procs.js';

const HELP = `usage: npx tsx bench/feature-cost.ts [options]

  --feature F     hotkeys (default: sampling off vs on) or tracking (no client vs one client with CLIENT TRACKING ON)
  --rounds N      rounds (default 9); medians over them
  --requests N    requests per run (default 1000000)
  --keyspace N    redis-benchmark -r (default 100000; 0: one key, -r left out)
  --pipeline N    redis-benchmark -P (default 16)
  --rate N        the sampling proxy's --hotkeys-sample-rate (default 128, the proxy's default)
  --out FILE      the Markdown report (default bench/results/<feature>-cost.md)`;

type Feature = 'hotkeys' | 'tracking';

interface Options {
  feature: Feature;
  rounds: number;
  requests: number;
  pipeline: number;
  keyspace: number;
  rate: number;
  out: string;
}

function parse(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '9' },
      requests: { type: 'string', default: '1000000' },
      keyspace: { type: 'string', default: '100000' },
      rate: { type: 'string', default: '128' },
      feature: { type: 'string', default: 'hotkeys' },
      pipeline: { type: 'string', default: '16' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const feature = values.feature;
  if (feature !== 'hotkeys' && feature !== 'tracking') throw new Error(`--feature must be hotkeys or tracking, not ${feature}`);
  return {
    feature,
    rounds: Number(values.rounds),
    requests: Number(values.requests),
    pipeline: Number(values.pipeline),
    keyspace: Number(values.keyspace),
    rate: Number(values.rate),
    out: values.out ?? `bench/results/${feature}-cost.md`,
  };
}

/** A client that turns tracking on and stays connected, idle, until the bench ends. */
async function trackingClient(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let got = '';
  socket.on('data', (chunk) => (got += chunk.toString('latin1')));
  socket.write('*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n');
  const deadline = Date.now() + 5_000;
  while (!got.endsWith('+OK\r\n')) {
    if (Date.now() > deadline) throw new Error(`CLIENT TRACKING ON got no OK: ${JSON.stringify(got.slice(-200))}`);
    await sleep(20);
  }
  return socket;
}

const TARGETS = ['off', 'on'] as const;
type Target = (typeof TARGETS)[number];
const TESTS = ['SET', 'GET'];
/** /proc's clock ticks per second (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** A process's CPU time so far, seconds (utime + stime). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

interface Run {
  rps: number;
  p50Ms: number;
  cpuUsPerRequest: number;
  /** The run's CPU seconds and requests, for the totals (/proc counts in 10 ms ticks: one run's figure is coarse). */
  cpuSeconds: number;
  requests: number;
}

async function main(): Promise<number> {
  const opts = optionsOrExitCode(parse, HELP);
  if (typeof opts === 'number') return opts;
  buildExecutable();
  const proxies: Partial<Record<Target, ProxyProcess>> = {};
  let tracker: Socket | undefined;
  try {
    const sampling = (t: Target): string[] => (opts.feature === 'hotkeys' ? ['--hotkeys-sample-rate', t === 'on' ? String(opts.rate) : '0'] : []);
    proxies.off = await ProxyProcess.start({ masters: 3, replicas: 0, flags: ['--log-level', 'warn', ...sampling('off')] });
    proxies.on = await ProxyProcess.start({ masters: 3, replicas: 0, flags: ['--log-level', 'warn', ...sampling('on')] });
    if (opts.feature === 'tracking') tracker = await trackingClient(proxies.on.port);
    const runs = new Map<string, Run[]>(); // `${target} ${test}` → one per round
    const ratios = new Map<string, number[]>(); // test → on/off rps per round
    const errors: string[] = [];
    const bench = async (t: Target, test: string, requests: number): Promise<Run | undefined> => {
      const p = proxies[t]!;
      const before = cpuSeconds(p.pid!);
      const outcome = await runBenchmark({
        port: p.port,
        clients: 50,
        keyspace: opts.keyspace,
        requests,
        pipeline: opts.pipeline,
        tests: [test.toLowerCase()],
        timeoutMs: 300_000,
        extraArgs: [],
      });
      const cpu = cpuSeconds(p.pid!) - before;
      if (outcome.errors.length > 0) errors.push(`${t} ${test}: ${outcome.errors.join('; ')}`);
      const row = outcome.rows[0];
      return row === undefined ? undefined : { rps: row.rps, p50Ms: row.p50Ms, cpuUsPerRequest: (cpu * 1e6) / requests, cpuSeconds: cpu, requests };
    };
    for (const t of TARGETS) for (const test of TESTS) await bench(t, test, 50_000); // warm-up
    for (let round = 1; round <= opts.rounds; round++) {
      const order: Target[] = round % 2 === 1 ? ['off', 'on'] : ['on', 'off'];
      for (const test of TESTS) {
        const got: Partial<Record<Target, Run>> = {};
        for (const t of order) {
          const r = await bench(t, test, opts.requests);
          if (r === undefined) continue;
          got[t] = r;
          runs.set(`${t} ${test}`, [...(runs.get(`${t} ${test}`) ?? []), r]);
        }
        if (got.on !== undefined && got.off !== undefined) ratios.set(test, [...(ratios.get(test) ?? []), got.on.rps / got.off.rps]);
        process.stderr.write(`round ${round} ${test}: ${order.map((t) => `${t} ${Math.round(got[t]?.rps ?? 0)}/s ${got[t]?.cpuUsPerRequest.toFixed(3)} µs CPU/req`).join(', ')}\n`);
      }
    }

    const m = (t: Target, test: string, f: (r: Run) => number): number => median((runs.get(`${t} ${test}`) ?? []).map(f));
    const keys = opts.keyspace === 0 ? 'one key (no -r)' : `-r ${opts.keyspace}`;
    const lines = [
      opts.feature === 'hotkeys' ? '# Hot and big key sampling: what it costs' : '# Client-side caching: what the write barrier costs',
      '',
      `\`npx tsx bench/feature-cost.ts --feature ${opts.feature} --rounds ${opts.rounds} --requests ${opts.requests} --keyspace ${opts.keyspace} --pipeline ${opts.pipeline}${opts.feature === 'hotkeys' ? ` --rate ${opts.rate}` : ''}\` on ${new Date().toISOString().slice(0, 10)}: ` +
        `${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end, Node ${process.version}` +
        `${PROXY_NODE_FLAGS.length > 0 ? ` (proxy run with ${PROXY_NODE_FLAGS.join(' ')})` : ''}.`,
      (opts.feature === 'hotkeys'
        ? `Two proxies of the executable, 3 masters each, no replicas: sampling off (\`--hotkeys-sample-rate 0\`) and on (\`--hotkeys-sample-rate ${opts.rate}\`: about 1 keyed request in ${opts.rate}${opts.rate === 128 ? ', the default' : ''}). `
        : 'Two proxies of the executable, 3 masters each, no replicas: "off" with no tracking client, "on" with one idle client connected that sent CLIENT TRACKING ON (every write then waits for the barrier). ') +
        `redis-benchmark -c 50 -P ${opts.pipeline} ${keys} -n ${opts.requests}, SET then GET, the two proxies back to back in each round (order alternating); ` +
        `medians over ${opts.rounds} rounds after a warm-up run. CPU: the proxy process's utime + stime over all rounds' runs, per request.`,
      '',
      '| test | off ops/s | on ops/s | on/off (medians) | on/off (median of per-round ratios) | CPU µs/req off → on (all rounds) | CPU on/off | p50 ms off / on |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const test of TESTS) {
      const off = m('off', test, (r) => r.rps);
      const on = m('on', test, (r) => r.rps);
      const total = (t: Target): number => {
        const rs = runs.get(`${t} ${test}`) ?? [];
        return (rs.reduce((sum, r) => sum + r.cpuSeconds, 0) * 1e6) / rs.reduce((sum, r) => sum + r.requests, 0);
      };
      const cpuOff = total('off');
      const cpuOn = total('on');
      lines.push(
        `| ${test} | ${Math.round(off)} | ${Math.round(on)} | ${(on / off).toFixed(3)} | ${median(ratios.get(test) ?? []).toFixed(3)} | ${cpuOff.toFixed(3)} → ${cpuOn.toFixed(3)} | ${(cpuOn / cpuOff).toFixed(3)} | ${m('off', test, (r) => r.p50Ms).toFixed(3)} / ${m('on', test, (r) => r.p50Ms).toFixed(3)} |`,
      );
    }
    lines.push('', 'Per-round on/off throughput ratios: ' + TESTS.map((t) => `${t} ${(ratios.get(t) ?? []).map((x) => x.toFixed(3)).join(' ')}`).join('; '));
    return writeReport(lines, errors, opts.out);
  } finally {
    tracker?.destroy();
    await proxies.off?.cleanup();
    await proxies.on?.cleanup();
  }
}

process.exitCode = await main();
