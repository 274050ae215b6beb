/**
 * Issue 18: what TLS costs on each side of the proxy, side by side in one run. Two proxies
 * of the real executable, each over its own 3 masters (no replicas), both with --tls-port:
 * one with plain nodes, one with --node-tls. Four targets, so every combination is measured
 * against the same processes:
 *   plain       client plain  → proxy (plain nodes)
 *   client-tls  client TLS    → proxy (plain nodes)        redis-benchmark --tls against --tls-port
 *   node-tls    client plain  → proxy (--node-tls)
 *   both        client TLS    → proxy (--node-tls)
 * redis-benchmark -c 50 (with a client certificate: --tls-auth-clients yes), SET and GET at
 * -P 1 and -P 16, the four targets one after another within each round; medians over rounds.
 *
 *   npx tsx bench/tls.ts [--rounds 3] [--requests-p1 50000] [--requests-p16 200000] [--out bench/results/tls.md]
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import { buildExecutable, ProxyProcess } from '../test/support/proxy-process.js';
import { freePorts } from '../test/support/redis-server.js';
import { makeTestCerts } from '../test/support/tls-certs.js';
import { optionsOrExitCode, parseRoundOptions, type RoundOptions } from './lib/cli.js';
import { median, writeReport } from './lib/report.js';
import { runBenchmark, type BenchRow } from './lib/redis-benchmark.js';
import { PROXY_NODE_FLAGS } from './lib/procs.js';

const HELP = `usage: npx tsx bench/tls.ts [options]

  --rounds N         rounds (default 3); medians over them
  --requests-p1 N    requests per run at -P 1 (default 50000)
  --requests-p16 N   requests per run at -P 16 (default 200000)
  --out FILE         the Markdown report (default bench/results/tls.md)`;

function parse(argv: string[]): RoundOptions | 'help' {
  return parseRoundOptions(argv, { requestsP16: 200000, out: 'bench/results/tls.md' });
}

const TARGETS = ['plain', 'client-tls', 'node-tls', 'both'] as const;
type Target = (typeof TARGETS)[number];
const PIPELINES = [1, 16];
const TESTS = ['SET', 'GET'];

async function main(): Promise<number> {
  const opts = optionsOrExitCode(parse, HELP);
  if (typeof opts === 'number') return opts;
  buildExecutable();
  const certs = await makeTestCerts();
  const [tlsPlainNodes, tlsTlsNodes] = await freePorts(2);
  const tlsFlags = (port: number) => ['--tls-port', String(port), '--tls-cert-file', certs.server.cert, '--tls-key-file', certs.server.key, '--tls-ca-cert-file', certs.ca];
  const clientTls = ['--tls', '--cacert', certs.ca, '--cert', certs.client.cert, '--key', certs.client.key];
  let plainNodes: ProxyProcess | undefined;
  let tlsNodes: ProxyProcess | undefined;
  try {
    plainNodes = await ProxyProcess.start({ masters: 3, replicas: 0, flags: ['--log-level', 'warn', ...tlsFlags(tlsPlainNodes)] });
    tlsNodes = await ProxyProcess.start({ masters: 3, replicas: 0, flags: ['--log-level', 'warn', '--node-tls', ...tlsFlags(tlsTlsNodes)] });
    const at: Record<Target, { port: number; extraArgs: string[] }> = {
      plain: { port: plainNodes.port, extraArgs: [] },
      'client-tls': { port: tlsPlainNodes, extraArgs: clientTls },
      'node-tls': { port: tlsNodes.port, extraArgs: [] },
      both: { port: tlsTlsNodes, extraArgs: clientTls },
    };
    const rows = new Map<string, BenchRow[]>(); // `${target} ${test} ${P}` → one row per round
    const errors: string[] = [];
    const once = async (round: number | 'warmup'): Promise<void> => {
      for (const P of PIPELINES) {
        for (const t of TARGETS) {
          const outcome = await runBenchmark({
            ...at[t],
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
      '# TLS: what it costs on each side of the proxy',
      '',
      `\`npx tsx bench/tls.ts --rounds ${opts.rounds}\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}` +
        `${PROXY_NODE_FLAGS.length > 0 ? ` (proxy run with ${PROXY_NODE_FLAGS.join(' ')})` : ''}, redis-benchmark -c 50 -r 100000, ` +
        `-n ${opts.requestsP1} at -P 1 and ${opts.requestsP16} at -P 16; medians over ${opts.rounds} interleaved rounds (a warm-up run not counted).`,
      'Two proxies (3 masters, no replicas, both with --tls-port and a client certificate required): plain nodes and --node-tls; client TLS is redis-benchmark --tls against --tls-port.',
      '',
      '| test | -P | plain ops/s | client-tls | node-tls | both | p50 ms plain / client-tls / node-tls / both |',
      '|---|---|---|---|---|---|---|',
    ];
    for (const test of TESTS) {
      for (const P of PIPELINES) {
        const m = (t: Target, f: (r: BenchRow) => number): number => median((rows.get(`${t} ${test} ${P}`) ?? []).map(f));
        const plain = m('plain', (r) => r.rps);
        const cell = (t: Target): string => `${Math.round(m(t, (r) => r.rps))} (${(m(t, (r) => r.rps) / plain).toFixed(2)}×)`;
        lines.push(
          `| ${test} | ${P} | ${Math.round(plain)} | ${cell('client-tls')} | ${cell('node-tls')} | ${cell('both')} | ${TARGETS.map((t) => m(t, (r) => r.p50Ms).toFixed(3)).join(' / ')} |`,
        );
      }
    }
    return writeReport(lines, errors, opts.out);
  } finally {
    await plainNodes?.cleanup();
    await tlsNodes?.cleanup();
    rmSync(certs.dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
