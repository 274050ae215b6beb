/**
 * Chaos scenarios as data: each one injects one fault into a running ProxyProcess while a
 * WriteLedger load runs; `runScenario` does the rest (wait until healthy, load, fault, wait
 * until healed again, more load, read everything back) and `violations` says what went
 * wrong. test/chaos.test.ts runs each scenario once per ack mode; test/chaos/chaos-long.test.ts
 * (`make chaos`) runs them for several seeded rounds in random order.
 *
 * Adding a case is one entry:
 *   - an ack mode: `{ name, flags, lossless }` in ACK_MODES (skipped, with the reason, while
 *     this build's config rejects its flags);
 *   - a fault: a Scenario in SCENARIOS. `inject` does the damage and says when and which
 *     slots it may cost (undefined: no acknowledged write may be lost whatever the mode).
 *     A fault that changes the cluster's shape sets `proxy.shape` to what it should heal
 *     to; the ones here put the shape back themselves (a lost shard is replaced with ADD
 *     MASTER, an added master is removed again), so any order of scenarios works.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before } from 'node:test';
import { parseConfig } from '../../src/config.js';
import { sleep } from '../../src/nodes/wait.js';
import { ProxyProcess, type InfoNode } from './proxy-process.js';
import { strictClient, WriteLedger, type LedgerReport, type WriteLedgerOptions } from './write-ledger.js';

/** The default --failover-timeout is 5 s: a request may wait that long for a switch; longer (with slack for a loaded machine) is a hang. */
export const HANG_MS = 5_000 + 3_000;
/** With --ack master, a fault may cost the writes its shard acknowledged in this window before it. */
export const LOSS_WINDOW_MS = 1_000;
/** An OK that had arrived before the fault may be handled by the test's event loop a little after it. */
const LATE_ACK_MS = 250;
/** How long a SIGSTOPped master stays stopped: well past the default --node-timeout (1 s). */
const STOP_MS = 3_000;

export interface AckMode {
  name: string;
  /** The proxy's flags for it ([] = the default). */
  flags: string[];
  /** Every acknowledged write survives every fault. */
  lossless: boolean;
}

/**
 * Redis's own asynchronous replication (the default): a master killed may take the writes
 * it acknowledged just before with it.
 */
export const ACK_MASTER: AckMode = { name: '--ack master', flags: [], lossless: false };

export const ACK_MODES: AckMode[] = [
  ACK_MASTER,
  // Acknowledged only once a replica has the write (issue 6 part 8).
  { name: '--ack replica', flags: ['--ack', 'replica'], lossless: true },
  // Every connection to a node over TLS, the nodes' bus and replication too (issue 18 part 2).
  { name: '--node-tls', flags: ['--node-tls'], lossless: false },
];

/** Why this build cannot run with `flags` (its config rejects them), or undefined when it can. */
export function unsupportedFlags(flags: string[]): string | undefined {
  try {
    parseConfig(flags);
    return undefined;
  } catch (err) {
    return `this build does not take ${flags.join(' ')}: ${(err as Error).message}`;
  }
}

/**
 * The suite's proxy (call inside a describe): started before its tests with the mode's
 * flags over 3 masters with a replica each; after them it must not have crashed and must
 * exit 0 on SIGTERM, and whatever is left is removed.
 */
export function proxyForSuite(mode: AckMode): () => ProxyProcess {
  let proxy: ProxyProcess | undefined;
  before(async () => {
    // A lost shard is recovered after 2 s instead of 10 (LOSE_SHARD), to keep the suites short.
    proxy = await ProxyProcess.start({ masters: 3, replicas: 1, flags: ['--shard-recovery-timeout', '2000', ...mode.flags] });
  });
  after(async () => {
    try {
      if (proxy !== undefined) {
        const crashes = [...proxy.crashes];
        const code = await proxy.stop();
        assert.deepEqual(crashes, [], 'the proxy never crashed');
        assert.equal(code, 0, `the proxy exits 0 on SIGTERM\n${proxy.logTail()}`);
      }
    } finally {
      await proxy?.cleanup();
    }
  });
  return () => {
    assert.ok(proxy, 'the proxy started');
    return proxy;
  };
}

/** What a scenario did. */
export interface Fault {
  /** performance.now() when the damage was done. */
  at: number;
  /** e.g. "SIGKILL master m1 (pid 1234)". */
  what: string;
  /** The slots whose recent writes it may cost with a lossy ack mode; undefined: none. */
  slots: Uint8Array | undefined;
  /**
   * What says the proxy has dealt with this fault, beyond the cluster looking healthy
   * (which it may still do before the fault is even noticed): a complaint, or undefined.
   */
  repaired?: () => Promise<string | undefined>;
}

export interface ChaosContext {
  proxy: ProxyProcess;
  /** Seeded: which node is hit. */
  rng: () => number;
}

export interface Scenario {
  name: string;
  /** No request may fail at all (the fault is invisible to clients). */
  errorFree: boolean;
  /** Do the damage (the cluster is healthy and under load); resolves once it is done. */
  inject(ctx: ChaosContext): Promise<Fault>;
}

function now(): number {
  return performance.now();
}

function pick(nodes: InfoNode[], role: 'master' | 'replica', rng: () => number): InfoNode {
  const candidates = nodes.filter((n) => n.role === role);
  if (candidates.length === 0) throw new Error(`no ${role} to pick among ${nodes.map((n) => n.id).join(',')}`);
  return candidates[Math.floor(rng() * candidates.length)];
}

/** The node runs as a new process (the proxy started it again), in `role`. */
function restartedAs(proxy: ProxyProcess, id: string, oldPid: number, role: 'master' | 'replica'): () => Promise<string | undefined> {
  return async () => {
    const pid = await proxy.pidOf(id).catch((err: Error) => err.message);
    if (pid === oldPid) return `${id} still has pid ${oldPid}`;
    if (typeof pid === 'string') return pid;
    const now = (await proxy.nodes()).find((n) => n.id === id);
    return now?.role === role ? undefined : `${id} is ${now?.role ?? 'not listed'}, want ${role}`;
  };
}

/** SIGKILL a node the proxy runs (as its process provider's child, its exit is seen at once); it comes back as a replica (a master's replica has taken over meanwhile). */
async function killNode(ctx: ChaosContext, role: 'master' | 'replica'): Promise<Fault> {
  const victim = pick(await ctx.proxy.nodes(), role, ctx.rng);
  const pid = await ctx.proxy.pidOf(victim.id);
  const slots = role === 'master' ? await ctx.proxy.slotsOf(victim.id) : undefined;
  process.kill(pid, 'SIGKILL');
  return { at: now(), what: `SIGKILL ${role} ${victim.id} (pid ${pid})`, slots, repaired: restartedAs(ctx.proxy, victim.id, pid, 'replica') };
}

/** A master that stops answering without exiting: only the health monitor's --node-timeout notices it. */
export const STOP_MASTER: Scenario = {
  name: `SIGSTOP a master for ${STOP_MS} ms, then SIGCONT`,
  errorFree: false,
  async inject({ proxy, rng }) {
    const victim = pick(await proxy.nodes(), 'master', rng);
    const pid = await proxy.pidOf(victim.id);
    const slots = await proxy.slotsOf(victim.id);
    process.kill(pid, 'SIGSTOP');
    const at = now();
    try {
      await sleep(STOP_MS);
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* the proxy killed it already, to start it again as a replica */
      }
    }
    const demoted = async (): Promise<string | undefined> => {
      const node = (await proxy.nodes()).find((n) => n.id === victim.id);
      return node?.role === 'replica' ? undefined : `${victim.id} is ${node?.role ?? 'not listed'}, want replica`;
    };
    return { at, what: `SIGSTOP master ${victim.id} (pid ${pid}) for ${STOP_MS} ms`, slots, repaired: demoted };
  },
};

export const KILL_MASTER: Scenario = {
  name: 'kill -9 a master',
  errorFree: false,
  inject: (ctx) => killNode(ctx, 'master'),
};

/** An admin verb through the proxy (no --admin-password in these suites); resolves to its reply. */
async function adminVerb(proxy: ProxyProcess, ...args: string[]): Promise<string> {
  const c = await strictClient(proxy.port, 120_000);
  try {
    return String(await c.call(args[0], ...args.slice(1)));
  } finally {
    c.disconnect();
  }
}

/** Wait until INFO # Nodes lists none of `ids` (a recovery or a removal is done). */
async function waitGone(proxy: ProxyProcess, ids: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = await proxy.nodes().catch(() => undefined);
    if (nodes !== undefined && !nodes.some((n) => ids.includes(n.id))) return;
    if (Date.now() > deadline) throw new Error(`${ids.join(', ')} still listed after ${timeoutMs} ms:\n${proxy.logTail()}`);
    await sleep(200);
  }
}

/**
 * A whole shard lost for good: the master's and the replica's redis.conf made unusable (an
 * invalid directive, so neither can be started again; their AOFs are intact), both killed.
 * The proxy recovers the shard onto the survivors from the master's AOF (after
 * --shard-recovery-timeout); then ADD MASTER puts the shape back. Nothing acknowledged may
 * be lost whatever the ack mode: a master's AOF has every write it acknowledged.
 */
export const LOSE_SHARD: Scenario = {
  name: 'kill -9 a master and its replica, both unable to restart; then ADD MASTER',
  errorFree: false,
  async inject({ proxy, rng }) {
    const nodes = await proxy.nodes();
    const master = pick(nodes, 'master', rng);
    const replicas = nodes.filter((n) => n.role === 'replica' && n.master === master.id);
    const victims = [master, ...replicas].map((n) => n.id);
    const doc = await proxy.topology();
    const pids: number[] = [];
    for (const id of victims) {
      const dir = doc.nodes.find((n) => n.id === id)?.dataDir;
      if (dir === undefined) throw new Error(`node ${id} has no dir in the document`);
      await appendFile(path.join(dir, 'redis.conf'), 'this-directive-does-not-exist yes\n');
      pids.push(await proxy.pidOf(id));
    }
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const at = now();
    await waitGone(proxy, victims, 60_000);
    const recoveredAfter = now() - at;
    const added = await adminVerb(proxy, 'ADD', 'MASTER');
    const newIds = /^(\S+) .*\(replica (\S+)\)/.exec(added)?.slice(1) ?? [];
    if (newIds.some((id) => victims.includes(id))) throw new Error(`ADD MASTER gave a lost node's id to a new node: ${added}`);
    return { at, what: `SIGKILL ${victims.join(' + ')} (unable to restart); recovered after ${recoveredAfter.toFixed(0)} ms; ADD MASTER: ${added}`, slots: undefined };
  },
};

/** Resharding under load: ADD MASTER (a quarter of the slots move onto it), then REMOVE it (they move back). No client may see an error. */
export const ADD_AND_REMOVE_MASTER: Scenario = {
  name: 'ADD MASTER, then REMOVE it, under load',
  errorFree: true,
  async inject({ proxy }) {
    const at = now();
    const added = await adminVerb(proxy, 'ADD', 'MASTER');
    const id = /^(\S+) /.exec(added)?.[1];
    if (id === undefined) throw new Error(`ADD MASTER answered ${added}`);
    const removed = await adminVerb(proxy, 'REMOVE', id);
    return { at, what: `ADD MASTER: ${added}; REMOVE ${id}: ${removed}`, slots: undefined };
  },
};

/** INFO migration through the proxy: is a slot migration under way? */
async function migrating(proxy: ProxyProcess): Promise<boolean> {
  const c = await strictClient(proxy.port, 5_000);
  try {
    return /^migrations_in_progress:1\r?$/m.test(String(await c.info('migration')));
  } finally {
    c.disconnect();
  }
}

/**
 * The proxy killed with SIGKILL in the middle of a resharding (ADD MASTER's REBALANCE under
 * way), started again: it resumes the persisted migration (no key lost, none left behind on
 * a half-moved slot); then the new master is removed again to put the shape back.
 */
export const KILL_PROXY_MID_RESHARD: Scenario = {
  name: 'kill -9 the proxy in the middle of ADD MASTER, start it again (the migration resumes)',
  errorFree: false,
  async inject({ proxy }) {
    const client = await strictClient(proxy.port, 120_000);
    const adding = client.call('ADD', 'MASTER').then(
      (reply) => `answered ${String(reply)}`,
      (err: Error) => `failed: ${err.message}`,
    );
    const deadline = Date.now() + 60_000;
    while (!(await migrating(proxy))) {
      if (Date.now() > deadline) throw new Error(`ADD MASTER never started moving slots (${await Promise.race([adding, sleep(1).then(() => 'still running')])})`);
      await sleep(20);
    }
    const pid = proxy.pid;
    const at = now();
    await proxy.kill9();
    client.disconnect();
    const addOutcome = await adding;
    await proxy.restart();
    const deadline2 = Date.now() + 60_000;
    while (await migrating(proxy)) {
      if (Date.now() > deadline2) throw new Error('the resumed migration did not finish within 60 s');
      await sleep(100);
    }
    // ADD MASTER's node is the master of the newest shard (ids m<N>, a new N each time).
    const shard = (id: string): number => Number(/^m(\d+)/.exec(id)?.[1] ?? -1);
    const masters = (await proxy.nodes()).filter((n) => n.role === 'master').map((n) => n.id);
    const added = masters.reduce((a, b) => (shard(b) > shard(a) ? b : a));
    if (masters.length !== proxy.shape.masters + 1) throw new Error(`after the resumed ADD MASTER: masters ${masters.join(',')}, want ${proxy.shape.masters + 1}`);
    const removed = await adminVerb(proxy, 'REMOVE', added);
    return { at, what: `SIGKILL the proxy (pid ${pid}) mid-ADD MASTER (ADD MASTER ${addOutcome}); migration resumed by pid ${proxy.pid}; REMOVE: ${removed}`, slots: undefined };
  },
};

export const SCENARIOS: Scenario[] = [
  {
    name: 'kill -9 a replica',
    errorFree: true,
    inject: (ctx) => killNode(ctx, 'replica'),
  },
  KILL_MASTER,
  STOP_MASTER,
  {
    name: 'kill -9 the proxy, start it again on the same data dir',
    errorFree: false,
    async inject({ proxy }) {
      const pid = proxy.pid;
      const at = now();
      await proxy.kill9();
      await proxy.restart();
      return { at, what: `SIGKILL the proxy (pid ${pid}), started again as pid ${proxy.pid} after ${(now() - at).toFixed(0)} ms`, slots: undefined };
    },
  },
  ADD_AND_REMOVE_MASTER,
  KILL_PROXY_MID_RESHARD,
  LOSE_SHARD,
];

export interface RunOptions {
  /** The proxy that heals (faults are injected through it, health read from it). */
  proxy: ProxyProcess;
  /** The proxy the load goes through; default `proxy` (coordinated proxies: a follower). */
  through?: ProxyProcess;
  scenario: Scenario;
  /** Keys of this run start with it (one per run: the runs of one cluster never share keys). */
  prefix: string;
  rng: () => number;
  load?: Pick<WriteLedgerOptions, 'clients' | 'lanes' | 'counterEvery' | 'pauseMs'>;
  /** Load before the fault, and after the cluster healed, ms. */
  beforeMs?: number;
  afterMs?: number;
  healTimeoutMs?: number;
}

export interface ScenarioOutcome {
  fault: Fault;
  /** performance.now() when the proxy again served the expected shape with every node up. */
  healedAt: number;
  report: LedgerReport;
  ledger: WriteLedger;
}

/** Healthy cluster → load → fault → healed again → more load → every acknowledged write read back. */
export async function runScenario(o: RunOptions): Promise<ScenarioOutcome> {
  await o.proxy.waitHealthy(o.healTimeoutMs);
  const ledger = new WriteLedger({ port: (o.through ?? o.proxy).port, prefix: o.prefix, hangMs: HANG_MS, ...o.load }).start();
  let fault: Fault;
  let healedAt: number;
  try {
    await sleep(o.beforeMs ?? 1_000);
    fault = await o.scenario.inject({ proxy: o.proxy, rng: o.rng });
    await o.proxy.waitHealthy(o.healTimeoutMs, fault.repaired);
    healedAt = now();
    await sleep(o.afterMs ?? 1_000);
  } finally {
    await ledger.stop();
  }
  o.proxy.assertRunning();
  return { fault, healedAt, report: await ledger.verify(), ledger };
}

/** Everything about an outcome that breaks the rules of the scenario and mode; [] when it is all right. */
export function violations(outcome: ScenarioOutcome, scenario: Scenario, mode: AckMode, proxy: ProxyProcess): string[] {
  const { fault, report, ledger } = outcome;
  const out: string[] = [];
  if (proxy.crashes.length > 0) out.push(`the proxy crashed: ${proxy.crashes.join('; ')}`);
  if (report.hangs.length > 0) out.push(`${report.hangs.length} requests hung (> ${HANG_MS} ms): ${report.hangs.slice(0, 3).map((h) => `${h.what} ${h.waitedMs.toFixed(0)} ms → ${h.outcome}`).join('; ')}`);
  if (report.wrongValue.length > 0) out.push(`${report.wrongValue.length} keys read back with another value: ${report.wrongValue.slice(0, 3).map((l) => `${l.write.key}=${l.found} (acked ${l.write.value})`).join('; ')}`);
  const early = report.errors.filter((e) => e.at < fault.at);
  if (early.length > 0) out.push(`${early.length} errors before the fault: ${summarizeErrors(early)}`);
  if (scenario.errorFree && report.errors.length > 0) out.push(`${report.errors.length} requests failed, none may: ${summarizeErrors(report.errors)}`);
  if (!ledger.writes.some((w) => w.sentAt > outcome.healedAt)) out.push('no write was acknowledged after the cluster healed');

  const lossAllowed = fault.slots !== undefined && !mode.lossless;
  const from = fault.at - LOSS_WINDOW_MS;
  const to = fault.at + LATE_ACK_MS;
  const unexplained = report.lost.filter((l) => !lossAllowed || fault.slots?.[l.write.slot] !== 1 || l.write.ackedAt < from || l.write.ackedAt > to);
  if (unexplained.length > 0) {
    const why = lossAllowed ? `outside the ${LOSS_WINDOW_MS} ms before the fault on the faulted shard` : `(${mode.name}, ${fault.what}: none may be lost)`;
    out.push(
      `${unexplained.length} of ${report.acked} acknowledged writes lost ${why}: ` +
        unexplained.slice(0, 3).map((l) => `${l.write.kind} ${l.write.key}=${l.write.value} acked ${(l.write.ackedAt - fault.at).toFixed(0)} ms from the fault, read ${l.found}`).join('; '),
    );
  }
  return out;
}

/** One line for the test log: what was done, what it cost. */
export function describeOutcome(outcome: ScenarioOutcome): string {
  const { fault, report, healedAt } = outcome;
  const window = fault.slots === undefined ? 0 : outcome.ledger.ackedBetween(fault.at - LOSS_WINDOW_MS, fault.at).filter((w) => fault.slots?.[w.slot] === 1).length;
  return (
    `${fault.what}; healed after ${(healedAt - fault.at).toFixed(0)} ms; ${report.requests} requests, ${report.acked} writes acknowledged, ` +
    `${report.lost.length} lost` + (fault.slots === undefined ? '' : ` (of ${window} acknowledged on its shard in the ${LOSS_WINDOW_MS} ms before)`) +
    `, ${report.wrongValue.length} wrong; ${report.errors.length} errors${report.errors.length > 0 ? ` (${summarizeErrors(report.errors)})` : ''}; ` +
    `max latency ${report.maxLatencyMs.toFixed(0)} ms`
  );
}

function summarizeErrors(errors: LedgerReport['errors'], max = 3): string {
  const counts = new Map<string, number>();
  for (const e of errors) counts.set(e.message, (counts.get(e.message) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, max).map(([m, n]) => `${n}× ${m}`).join('; ');
}
