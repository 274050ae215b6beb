/**
 * Issue 18 part 2: what --node-tls costs. Two proxies of the real executable, each over its
 * own 3 masters (no replicas): one with plain nodes, one with --node-tls (every connection
 * of the proxy to a node TLS, read with 'data' events and written through the Writable
 * instead of slab reads and direct writes). redis-benchmark -c 50 against each, SET and GET
 * at -P 1 and -P 16, the two proxies one after another within each round; medians over
 * rounds of ops/s, p50 and p99. The client side is plain TCP in both.
 *
 *   npx tsx bench/node-tls.ts [--rounds 3] [--requests-p1 50000] [--requests-p16 200000] [--out bench/results/node-tls.md]
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { buildExecutable, ProxyProcess } from '../test/support/proxy-process.js';
import { optionsOrExitCode } from './lib/cli.js';
import { runBenchmark, type BenchRow } from './lib/redis-benchmark.js';
import { PROXY_NODE_FLAGS } from './lib/procs.js';

const HELP = `usage: npx tsx bench/node-tls.ts [options]

  --rounds N         rounds (default 3); medians over them
  --requests-p1 N    requests per run at -P 1 (default 50000)
  --requests-p16 N   requests per run at -P 16 (default 200000)
  --out FILE         the Markdown report (default bench/results/node-tls.md)`;

interface Options {
  rounds: number;
  requestsP1: number;
  requestsP16: number;
  out: string;
}

function parse(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      'requests-p1': { type: 'string', default: '50000' },
      'requests-p16': { type: 'string', default: '200000' },
      out: { type: 'string', default: 'bench/results/node-tls.md' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  return { rounds: Number(values.rounds), requestsP1: Number(values['requests-p1']), requestsP16: Number(values['requests-p16']), out: values.out };
}

const TARGETS = ['plain', 'node-tls'] as const;
type Target = (typeof TARGETS)[number];
const PIPELINES = [1, 16];
const TESTS = ['SET', 'GET'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<number> {
  const opts = optionsOrExitCode(parse, HELP);
  if (typeof opts === 'number') return opts;
  buildExecutable();
  const proxies = new Map<Target, ProxyProcess>();
  try {
    for (const t of TARGETS) {
      proxies.set(t, await ProxyProcess.start({ masters: 3, replicas: 0, flags: ['--log-level', 'warn', ...(t === 'node-tls' ? ['--node-tls'] : [])] }));
    }
    const rows = new Map<string, BenchRow[]>(); // `${target} ${test} ${P}` → one row per round
    const errors: string[] = [];
    const once = async (round: number | 'warmup'): Promise<void> => {
      for (const P of PIPELINES) {
        for (const t of TARGETS) {
          const outcome = await runBenchmark({
            port: proxies.get(t)!.port,
            clients: 50,
            keyspace: 100_000,
            requests: round === 'warmup' ? 20_000 : P === 1 ? opts.requestsP1 : opts.requestsP16,
            pipeline: P,
            tests: TESTS.map((x) => x.toLowerCase()),
            timeoutMs: 300_000,
          });
          if (outcome.errors.length > 0) errors.push(`${t} -P ${P} round ${round}: ${outcome.errors.join('; ')}`);
          if (round === 'warmup') continue;
          for (const r of outcome.rows) {
            const k = `${t} ${r.test} ${P}`;
            rows.set(k, [...(rows.get(k) ?? []), r]);
          }
          process.stderr.write(`round ${round} -P ${P} ${t}: ${outcome.rows.map((r) => `${r.test} ${Math.round(r.rps)}/s`).join(', ')}\n`);
        }
      }
    };
    await once('warmup');
    for (let round = 1; round <= opts.rounds; round++) await once(round);

    const lines = [
      '# --node-tls: what TLS between the proxy and its nodes costs',
      '',
      `\`npx tsx bench/node-tls.ts --rounds ${opts.rounds}\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}` +
        `${PROXY_NODE_FLAGS.length > 0 ? ` (proxy run with ${PROXY_NODE_FLAGS.join(' ')})` : ''}, redis-benchmark -c 50 -r 100000, ` +
        `-n ${opts.requestsP1} at -P 1 and ${opts.requestsP16} at -P 16; medians over ${opts.rounds} rounds (a warm-up run not counted).`,
      'Two proxies of the real executable, each with its own 3 masters and no replicas; the client side is plain TCP for both.',
      '',
      '| test | -P | plain ops/s | node-tls ops/s | node-tls / plain | plain p50 / p99 ms | node-tls p50 / p99 ms |',
      '|---|---|---|---|---|---|---|',
    ];
    for (const test of TESTS) {
      for (const P of PIPELINES) {
        const m = (t: Target, f: (r: BenchRow) => number): number => median((rows.get(`${t} ${test} ${P}`) ?? []).map(f));
        const plain = m('plain', (r) => r.rps);
        const withTls = m('node-tls', (r) => r.rps);
        lines.push(
          `| ${test} | ${P} | ${Math.round(plain)} | ${Math.round(withTls)} | ${(withTls / plain).toFixed(2)} | ` +
            `${m('plain', (r) => r.p50Ms).toFixed(3)} / ${m('plain', (r) => r.p99Ms).toFixed(3)} | ${m('node-tls', (r) => r.p50Ms).toFixed(3)} / ${m('node-tls', (r) => r.p99Ms).toFixed(3)} |`,
        );
      }
    }
    if (errors.length > 0) lines.push('', '## Errors', '', ...errors.map((e) => `- ${e}`));
    const report = `${lines.join('\n')}\n`;
    writeFileSync(opts.out, report);
    process.stdout.write(report);
    return errors.length === 0 ? 0 : 1;
  } finally {
    for (const p of proxies.values()) await p.cleanup();
  }
}

process.exitCode = await main();
