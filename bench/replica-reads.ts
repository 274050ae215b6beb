/**
 * Issue 19, part 1: GETs served by replicas (--read-from prefer-replica) against masters only
 * (--read-from master), over the same nodes. One cluster of 3 masters with 1 replica each
 * run by the real executable (--read-from master), and a second executable over the same
 * nodes (--provider static) with --read-from prefer-replica. redis-benchmark -c 50 GET at
 * -P 16 and -P 1 against each, the two targets one after the other within each round;
 * medians over rounds. Each run also reads the nodes' INFO commandstats (reset before it),
 * so the report says who served the GETs.
 *
 *   npx tsx bench/replica-reads.ts [--rounds 3] [--requests-p1 50000] [--requests-p16 300000] [--out bench/results/replica-reads.md]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { buildExecutable, ProxyProcess } from '../test/support/proxy-process.js';
import { exited, startExecutable, waitForPong } from '../test/support/proxy.js';
import { freePort } from '../test/support/redis-server.js';
import { optionsOrExitCode, parseRoundOptions, type RoundOptions } from './lib/cli.js';
import { median, writeReport } from './lib/report.js';
import { runBenchmark, type BenchRow } from './lib/redis-benchmark.js';
import { PROXY_NODE_FLAGS } from './lib/procs.js';

const HELP = `usage: npx tsx bench/replica-reads.ts [options]

  --rounds N         rounds (default 3); medians over them
  --requests-p1 N    GETs per run at -P 1 (default 50000)
  --requests-p16 N   GETs per run at -P 16 (default 300000)
  --out FILE         the Markdown report (default bench/results/replica-reads.md)`;

function parse(argv: string[]): RoundOptions | 'help' {
  return parseRoundOptions(argv, { requestsP16: 300000, out: 'bench/results/replica-reads.md' });
}

const TARGETS = ['master', 'prefer-replica'] as const;
type Target = (typeof TARGETS)[number];
const PIPELINES = [16, 1];
const KEYSPACE = 100_000;

interface NodeClient {
  role: 'master' | 'replica';
  client: Redis;
}

async function getCalls(n: NodeClient): Promise<number> {
  const m = /^cmdstat_get:calls=(\d+)/m.exec(String(await n.client.info('commandstats')));
  return m === null ? 0 : Number(m[1]);
}

async function main(): Promise<number> {
  const opts = optionsOrExitCode(parse, HELP);
  if (typeof opts === 'number') return opts;
  buildExecutable();
  let cluster: ProxyProcess | undefined;
  let replicaProxy: ReturnType<typeof startExecutable> | undefined;
  const staticDir = mkdtempSync(path.join(os.tmpdir(), 'ihs-bench-replica-reads-'));
  const nodes: NodeClient[] = [];
  try {
    cluster = await ProxyProcess.start({ masters: 3, replicas: 1, flags: ['--log-level', 'warn'] });
    const doc = await cluster.topology();
    for (const n of doc.nodes) {
      const client = new Redis({ host: '127.0.0.1', port: n.port, password: doc.nodePassword, maxRetriesPerRequest: 1 });
      nodes.push({ role: n.formedAsReplicaOf === undefined ? 'master' : 'replica', client });
    }
    const seeds = doc.nodes.filter((n) => n.formedAsReplicaOf === undefined).flatMap((n) => ['--node', `127.0.0.1:${n.port}`]);
    const replicaPort = await freePort();
    replicaProxy = startExecutable(staticDir, replicaPort, ['--provider', 'static', ...seeds, '--node-password', doc.nodePassword, '--read-from', 'prefer-replica']);
    await waitForPong(replicaPort);
    const at: Record<Target, number> = { master: cluster.port, 'prefer-replica': replicaPort };

    // Every key of the keyspace exists, so each GET returns a value.
    await runBenchmark({ port: cluster.port, clients: 50, keyspace: KEYSPACE, requests: 4 * KEYSPACE, pipeline: 16, tests: ['set'], timeoutMs: 300_000 });

    const rows = new Map<string, BenchRow[]>(); // `${target} ${P}` → one row per round
    const replicaShare = new Map<string, number[]>(); // `${target} ${P}` → fraction of GETs the replicas served
    const errors: string[] = [];
    const once = async (round: number | 'warmup'): Promise<void> => {
      for (const P of PIPELINES) {
        for (const t of TARGETS) {
          for (const n of nodes) await n.client.config('RESETSTAT');
          const outcome = await runBenchmark({
            port: at[t],
            clients: 50,
            keyspace: KEYSPACE,
            requests: round === 'warmup' ? 20_000 : P === 1 ? opts.requestsP1 : opts.requestsP16,
            pipeline: P,
            tests: ['get'],
            timeoutMs: 300_000,
          });
          if (outcome.errors.length > 0) errors.push(`${t} -P ${P} round ${round}: ${outcome.errors.join('; ')}`);
          const calls = await Promise.all(nodes.map(async (n) => ({ role: n.role, gets: await getCalls(n) })));
          const all = calls.reduce((s, c) => s + c.gets, 0);
          const byReplicas = calls.filter((c) => c.role === 'replica').reduce((s, c) => s + c.gets, 0);
          if (round === 'warmup') continue;
          const k = `${t} ${P}`;
          for (const r of outcome.rows) rows.set(k, [...(rows.get(k) ?? []), r]);
          replicaShare.set(k, [...(replicaShare.get(k) ?? []), all === 0 ? 0 : byReplicas / all]);
          process.stderr.write(`round ${round} -P ${P} ${t}: ${outcome.rows.map((r) => `${r.test} ${Math.round(r.rps)}/s`).join(', ')}, replicas served ${byReplicas}/${all}\n`);
        }
      }
    };
    await once('warmup');
    for (let round = 1; round <= opts.rounds; round++) await once(round);

    const lines = [
      '# Replica reads: GET from replicas vs masters only',
      '',
      `\`npx tsx bench/replica-reads.ts --rounds ${opts.rounds}\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}` +
        `${PROXY_NODE_FLAGS.length > 0 ? ` (proxy run with ${PROXY_NODE_FLAGS.join(' ')})` : ''}, redis-benchmark -c 50 -r ${KEYSPACE} -t get, ` +
        `-n ${opts.requestsP16} at -P 16 and ${opts.requestsP1} at -P 1; medians over ${opts.rounds} interleaved rounds (a warm-up run not counted).`,
      'One cluster (3 masters, 1 replica each); the proxy that made it (--read-from master) and a second proxy over the same nodes (--provider static --read-from prefer-replica).',
      '"replicas served": the share of the nodes\' cmdstat_get calls (INFO commandstats, reset before each run) counted on replicas.',
      '',
      '| -P | master ops/s | prefer-replica ops/s | ratio | p50 ms master / prefer-replica | replicas served (master / prefer-replica) |',
      '|---|---|---|---|---|---|',
    ];
    for (const P of PIPELINES) {
      const m = (t: Target, f: (r: BenchRow) => number): number => median((rows.get(`${t} ${P}`) ?? []).map(f));
      const share = (t: Target): string => `${Math.round(100 * median(replicaShare.get(`${t} ${P}`) ?? []))}%`;
      const base = m('master', (r) => r.rps);
      const other = m('prefer-replica', (r) => r.rps);
      lines.push(
        `| ${P} | ${Math.round(base)} | ${Math.round(other)} | ${(other / base).toFixed(2)}× | ${m('master', (r) => r.p50Ms).toFixed(3)} / ${m('prefer-replica', (r) => r.p50Ms).toFixed(3)} | ${share('master')} / ${share('prefer-replica')} |`,
      );
    }
    return writeReport(lines, errors, opts.out);
  } finally {
    for (const n of nodes) n.client.disconnect();
    if (replicaProxy !== undefined && replicaProxy.exitCode === null) {
      replicaProxy.kill('SIGTERM');
      await exited(replicaProxy);
    }
    await cluster?.cleanup();
    rmSync(staticDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
