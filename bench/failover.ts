/**
 * `make bench-failover` (issue 6 part 10): how long a master's slots are unwritable after
 * kill -9 of the master, under a steady write load through the proxy — and, for
 * comparison, after a SIGSTOP of the master (a node that stops answering without exiting,
 * which only the health monitor's --node-timeout can notice; the proxy sees a kill -9 of
 * its own child process at once).
 *
 * The real executable (`make run`'s, default settings) over 3 masters with a replica each;
 * a WriteLedger load (4 connections × 4 requests in flight, SET + INCR over all slots).
 * Each run: wait until the cluster is healthy, load 1 s, SIGKILL (or SIGSTOP for 3 s) a
 * master (seeded pick), then measure fault → the first acknowledged write, sent after the
 * fault, to a key in one of that master's slots; then wait until the old master is back as
 * a replica and read every acknowledged write back (with --ack master a few written just
 * before the fault may be lost: reported). Kill and stop runs alternate. Median, min and
 * max over the runs; saved like `make bench` to bench/results/failover-latest.json and .md.
 *
 * With --coordinator (issue 16): two proxies coordinated through a real etcd on one data
 * dir; the load goes through the follower, the leader heals; saved as failover-coordinated.*.
 *
 *   npx tsx bench/failover.ts [--runs 5] [--seed 1] [--coordinator] [--out DIR] [--no-save]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ACK_MASTER, KILL_MASTER, STOP_MASTER, runScenario, violations, type Scenario, type ScenarioOutcome } from '../test/support/chaos-scenarios.js';
import { prng } from '../test/support/prng.js';
import { ProxyProcess } from '../test/support/proxy-process.js';
import { CoordinatedGroup } from '../test/support/coordinated-group.js';
import { optionsOrExitCode } from './lib/cli.js';
import { machineInfo, projectInfo } from './lib/machine.js';
import { median } from './lib/report.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Issue 6 part 3: kill -9 of a master → first successful write on its slots in under 2 s. */
const TARGET_MS = 2_000;
const LOAD = { clients: 4, lanes: 4 };

interface FaultKind {
  key: 'kill' | 'stop';
  title: string;
  scenario: Scenario;
  /** The issue's < 2 s target is for this one. */
  targeted: boolean;
}

const FAULTS: FaultKind[] = [
  { key: 'kill', title: 'kill -9 of a master → first successful write on its slots', scenario: KILL_MASTER, targeted: true },
  { key: 'stop', title: 'SIGSTOP of a master (stops answering, does not exit) → first successful write on its slots', scenario: STOP_MASTER, targeted: false },
];

interface Options {
  runs: number;
  seed: number;
  /** Two proxies coordinated through etcd: load through the follower, the leader heals. */
  coordinator: boolean;
  out: string;
  save: boolean;
}

const HELP = `usage: npx tsx bench/failover.ts [options]      (make bench-failover = all defaults)

  --runs N     runs of each fault (kill -9, SIGSTOP); median/min/max over them (default 5; env BENCH_FAILOVER_RUNS)
  --seed S     which master each run kills (default 1)
  --coordinator  two proxies coordinated through a real etcd (etcd-server): the load goes
               through the follower, the leader heals; saved as failover-coordinated.json / .md
  --out DIR    where failover-latest.json / .md go (default bench/results)
  --no-save    print only
  --help`;

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      coordinator: { type: 'boolean', default: false },
      'no-save': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const runs = Number(values.runs ?? process.env.BENCH_FAILOVER_RUNS ?? 5);
  const seed = Number(values.seed ?? 1);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got '${values.runs}'`);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got '${values.seed}'`);
  return { runs, seed, coordinator: values.coordinator, out: path.resolve(values.out ?? path.join(REPO, 'bench', 'results')), save: !values['no-save'] };
}

/** One run, as reported. */
interface FailoverRun {
  fault: FaultKind['key'];
  run: number;
  what: string;
  /** Fault → first acknowledged write (sent after the fault) on the master's slots; null: none within the run. */
  firstWriteMs: number | null;
  /** Fault → the proxy lists the old master as a replica again and every node up. */
  healedMs: number;
  writesAcked: number;
  failedRequests: number;
  lostWrites: number;
  maxLatencyMs: number;
  /** What broke the chaos rules (hangs, wrong values, unexplained losses); [] normally. */
  problems: string[];
}

function firstWriteMs(outcome: ScenarioOutcome): number | null {
  const { fault, ledger } = outcome;
  let first = Infinity;
  for (const w of ledger.writes) if (w.sentAt > fault.at && fault.slots?.[w.slot] === 1) first = Math.min(first, w.ackedAt - fault.at);
  return first === Infinity ? null : first;
}

const round = (ms: number): number => Math.round(ms);

function stats(values: number[]): { median: number; min: number; max: number } | null {
  if (values.length === 0) return null;
  return { median: round(median(values)), min: round(Math.min(...values)), max: round(Math.max(...values)) };
}

async function main(): Promise<number> {
  const opts = optionsOrExitCode(parseOptions, HELP);
  if (typeof opts === 'number') return opts;
  const startedAt = new Date();
  const loadStart = os.loadavg()[0] ?? 0;
  const rng = prng(opts.seed);
  const runs: FailoverRun[] = [];
  let reshards: { keysInCluster: number; runs: ReshardRun[] } = { keysInCluster: 0, runs: [] };
  // With a coordinator: the leader heals (faults and health through it), the follower serves the load.
  const group = opts.coordinator ? await CoordinatedGroup.start({ proxies: 2, masters: 3, replicas: 1, ttlSeconds: 3 }) : undefined;
  const proxy = group === undefined ? await ProxyProcess.start({ masters: 3, replicas: 1 }) : await group.leader(10_000);
  const through = group?.proxies.find((p) => p !== proxy);
  let failure: Error | undefined;
  let exitCode: number | null;
  try {
    for (let i = 1; i <= opts.runs; i++) {
      for (const fault of FAULTS) {
        const outcome = await runScenario({ proxy, through, scenario: fault.scenario, prefix: `bench-${fault.key}${i}`, rng, load: LOAD, healTimeoutMs: 30_000 });
        const r: FailoverRun = {
        fault: fault.key,
        run: i,
        what: outcome.fault.what,
        firstWriteMs: firstWriteMs(outcome),
        healedMs: round(outcome.healedAt - outcome.fault.at),
        writesAcked: outcome.report.acked,
        failedRequests: outcome.report.errors.length,
        lostWrites: outcome.report.lost.length,
        maxLatencyMs: round(outcome.report.maxLatencyMs),
        problems: violations(outcome, fault.scenario, ACK_MASTER, proxy),
        };
        runs.push(r);
        process.stdout.write(`run ${i}/${opts.runs}: ${r.what}: first write on its slots after ${r.firstWriteMs === null ? '—' : round(r.firstWriteMs)} ms; healed after ${r.healedMs} ms; ${r.failedRequests} failed requests, ${r.lostWrites} lost${r.problems.length ? `; PROBLEMS: ${r.problems.join('; ')}` : ''}\n`);
      }
    }
    if (group === undefined) reshards = await measureResharding(proxy, Math.min(opts.runs, 3));
  } catch (err) {
    failure = err as Error;
    process.stderr.write(`bench stopped early: ${failure.message}\n`);
  } finally {
    if (group !== undefined) {
      exitCode = await through!.stop(); // the follower first: the leader, last, stops the nodes
      exitCode = (await proxy.stop()) ?? exitCode;
      await group.close();
    } else {
      exitCode = await proxy.stop();
      await proxy.cleanup();
    }
  }

  const report = render(opts, runs, reshards, { startedAt, finishedAt: new Date(), loadStart, loadEnd: os.loadavg()[0] ?? 0, failure, exitCode, crashes: [...proxy.crashes, ...(through?.crashes ?? [])] });
  process.stdout.write(`\n${report.md}`);
  if (opts.save) {
    mkdirSync(opts.out, { recursive: true });
    const name = opts.coordinator ? 'failover-coordinated' : 'failover-latest';
    writeFileSync(path.join(opts.out, `${name}.json`), report.json);
    writeFileSync(path.join(opts.out, `${name}.md`), report.md);
    process.stdout.write(`saved ${path.relative(process.cwd(), path.join(opts.out, `${name}.json`))} and ${name}.md\n`);
  }
  return failure ? 1 : 0;
}

/** Keys loaded before the resharding runs (small keys: 'key:N' → 16 bytes). */
const RESHARD_KEYS = 300_000;

/** One resharding through the admin verbs, as its reply reports it (the migrator's own timing). */
interface ReshardRun {
  run: number;
  verb: 'ADD MASTER' | 'REMOVE';
  slots: number;
  keys: number;
  ms: number;
  keysPerSecond: number;
}

/** "… 4096 slots and 75123 keys moved in 0.9 s (83470 keys/s)" → numbers. */
function parseMoved(run: number, verb: ReshardRun['verb'], reply: string): ReshardRun {
  const m = /(\d+) slots and (\d+) keys moved in ([\d.]+) s \((\d+) keys\/s\)/.exec(reply);
  if (m === null) throw new Error(`${verb} answered: ${reply}`);
  return { run, verb, slots: Number(m[1]), keys: Number(m[2]), ms: Math.round(Number(m[3]) * 1000), keysPerSecond: Number(m[4]) };
}

/**
 * REBALANCE keys/s (issue 6 part 10): RESHARD_KEYS small keys through the proxy, then per
 * run ADD MASTER (a quarter of the slots move onto the new master: three sources, one
 * target) and REMOVE of it (they move back: one source, three targets), timed by the
 * migrator and read from the verbs' replies.
 */
async function measureResharding(proxy: ProxyProcess, runs: number): Promise<{ keysInCluster: number; runs: ReshardRun[] }> {
  const c = new Redis({ port: proxy.port, maxRetriesPerRequest: 0, lazyConnect: true });
  await c.connect();
  try {
    const value = 'v'.repeat(16);
    for (let i = 0; i < RESHARD_KEYS; i += 2_000) {
      const p = c.pipeline();
      for (let j = i; j < Math.min(RESHARD_KEYS, i + 2_000); j++) p.set(`reshard:${j}`, value);
      const failed = ((await p.exec()) ?? []).find(([err]) => err !== null);
      if (failed !== undefined) throw failed[0] as Error;
    }
    const out: ReshardRun[] = [];
    for (let run = 1; run <= runs; run++) {
      const added = String(await c.call('ADD', 'MASTER'));
      out.push(parseMoved(run, 'ADD MASTER', added));
      const id = added.split(' ')[0];
      out.push(parseMoved(run, 'REMOVE', String(await c.call('REMOVE', id))));
      process.stdout.write(`reshard run ${run}/${runs}: ${out.slice(-2).map((r) => `${r.verb} ${r.keys} keys in ${r.ms} ms (${r.keysPerSecond} keys/s)`).join('; ')}\n`);
    }
    const keysInCluster = await c.dbsize();
    if (keysInCluster < RESHARD_KEYS) throw new Error('keys went missing while resharding');
    return { keysInCluster, runs: out };
  } finally {
    c.disconnect();
  }
}

interface RunInfo {
  startedAt: Date;
  finishedAt: Date;
  loadStart: number;
  loadEnd: number;
  failure: Error | undefined;
  exitCode: number | null;
  crashes: readonly string[];
}

/** The measurements of one kind of fault: stats, the issue's verdict, its Markdown section. */
function summarize(fault: FaultKind, runs: FailoverRun[]): { json: Record<string, unknown>; md: string } {
  const mine = runs.filter((r) => r.fault === fault.key);
  const measured = mine.flatMap((r) => (r.firstWriteMs === null ? [] : [r.firstWriteMs]));
  const firstWrite = stats(measured);
  const healed = stats(mine.map((r) => r.healedMs));
  const verdict = !fault.targeted ? undefined : firstWrite === null ? 'n/a' : firstWrite.median < TARGET_MS ? 'met' : 'NOT met';
  const md =
    `## ${fault.title}\n\n` +
    `| run | fault | first write ms | healed ms | writes acked | failed requests | lost (--ack master) | max latency ms |\n` +
    `|----:|:------|---------------:|----------:|-------------:|----------------:|--------------------:|---------------:|\n` +
    mine.map((r) => `| ${r.run} | ${r.what} | ${r.firstWriteMs === null ? '—' : round(r.firstWriteMs)} | ${r.healedMs} | ${r.writesAcked} | ${r.failedRequests} | ${r.lostWrites} | ${r.maxLatencyMs} |`).join('\n') +
    `\n\n` +
    (firstWrite === null
      ? 'No run measured a first write.\n'
      : `first write: **median ${firstWrite.median} ms** (min ${firstWrite.min}, max ${firstWrite.max}) over ${measured.length} runs` +
        (verdict === undefined ? '\n' : `; target < ${TARGET_MS} ms: **${verdict}**\n`)) +
    (healed === null ? '' : `healed (old master back as a replica, every node up): median ${healed.median} ms (min ${healed.min}, max ${healed.max})\n`);
  return { json: { firstWriteMs: firstWrite, ...(verdict === undefined ? {} : { targetMs: TARGET_MS, verdict }), healedMs: healed }, md };
}

function render(opts: Options, runs: FailoverRun[], resharding: { keysInCluster: number; runs: ReshardRun[] }, info: RunInfo): { json: string; md: string } {
  const machine = machineInfo();
  const project = projectInfo(REPO);
  const summaries = FAULTS.map((f) => [f.key, summarize(f, runs)] as const);
  const problems = [
    ...(info.failure ? [`stopped early: ${info.failure.message}`] : []),
    ...info.crashes,
    ...(info.exitCode === 0 ? [] : [`the proxy exited ${info.exitCode} on SIGTERM`]),
    ...runs.flatMap((r) => r.problems.map((p) => `${r.fault} run ${r.run}: ${p}`)),
    ...runs.filter((r) => r.firstWriteMs === null).map((r) => `${r.fault} run ${r.run}: no write on the master's slots was acknowledged`),
  ];
  const reshards = resharding.runs;
  const rebalance = {
    keysInCluster: resharding.keysInCluster,
    addMaster: stats(reshards.filter((r) => r.verb === 'ADD MASTER').map((r) => r.keysPerSecond)),
    remove: stats(reshards.filter((r) => r.verb === 'REMOVE').map((r) => r.keysPerSecond)),
    targetKeysPerSecond: 100_000,
  };
  const rebalanceMd =
    reshards.length === 0
      ? 'Not measured (the bench stopped before it).\n'
      : `${resharding.keysInCluster} small keys in the cluster (${RESHARD_KEYS} of 16 bytes loaded for this, the rest left by the failover runs) over 3 masters with a replica each; per run ADD MASTER (a quarter of the slots onto the new master, keys with them) then REMOVE of it (back); keys/s as the migrator timed them (first SETSLOT to last SETSLOT NODE), read from the verbs' replies.\n\n` +
        `| run | verb | slots | keys | ms | keys/s |\n|----:|:-----|------:|-----:|---:|-------:|\n` +
        reshards.map((r) => `| ${r.run} | ${r.verb} | ${r.slots} | ${r.keys} | ${r.ms} | ${r.keysPerSecond} |`).join('\n') +
        `\n\nADD MASTER: median ${rebalance.addMaster?.median ?? '—'} keys/s; REMOVE: median ${rebalance.remove?.median ?? '—'} keys/s (target ≥ 100 000)\n`;

  const md =
    `# interface-hash-server failover benchmark\n\n` +
    `- date: ${info.finishedAt.toISOString()} (took ${Math.round((info.finishedAt.getTime() - info.startedAt.getTime()) / 1000)} s)\n` +
    `- machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memTotalMb} MB, ${machine.os}; node ${machine.node}; ${machine.redisServer}\n` +
    `- 1-min load average: ${info.loadStart.toFixed(2)} before, ${info.loadEnd.toFixed(2)} after (other work on the machine skews the numbers)\n` +
    `- proxy code: working tree at commit ${project.commit}${project.srcDirty ? ' with uncommitted changes in src/, bin/ or tsconfig*.json' : ''}\n` +
    (opts.coordinator
      ? `- cluster: two \`node bin/interface-hash-server.js --masters 3 --replicas 1 --coordinator etcd://… --leader-ttl 3\` on one data dir and a real etcd (Debian etcd-server); the load goes through the follower, the leader heals; otherwise default settings (--node-timeout 1000, --failover-timeout 5000, --ack master)\n`
      : `- cluster: \`node bin/interface-hash-server.js --masters 3 --replicas 1\`, default settings (--node-timeout 1000, --failover-timeout 5000, --ack master)\n`) +
    `- load: ${LOAD.clients} connections × ${LOAD.lanes} requests in flight, SET of new keys over all slots + INCR counters, no client retries\n` +
    `- each run: healthy cluster, 1 s of load, then the fault on a master (seeded pick, seed ${opts.seed}); kill and stop runs alternate; ` +
    `first write = the first OK of a write sent after the fault to one of that master's slots; ` +
    `healed = the old master listed as a replica again and every node up\n\n` +
    summaries.map(([, s]) => s.md).join('\n') +
    (opts.coordinator ? '' : `\n## REBALANCE keys/s\n\n${rebalanceMd}`) +
    `\n## Problems\n\n${problems.length === 0 ? 'None: no hang, no wrong value, no loss outside the last second before a fault, the proxy never crashed and exited 0.\n' : `${problems.map((p) => `- ${p}`).join('\n')}\n`}`;
  const json = JSON.stringify(
    {
      date: info.finishedAt.toISOString(),
      machine: { ...machine, loadAvg1mStart: info.loadStart, loadAvg1mEnd: info.loadEnd },
      project,
      parameters: { runs: opts.runs, seed: opts.seed, load: LOAD, masters: 3, replicas: 1, settings: 'defaults' },
      ...Object.fromEntries(summaries.map(([key, s]) => [key, s.json])),
      rebalance,
      reshards,
      runs,
      problems,
    },
    null,
    2,
  );
  return { json: `${json}\n`, md };
}

process.exitCode = await main();
