/**
 * Coordination chaos, long version (`make chaos`; not part of `make test`): the faults of
 * test/coordination.test.ts, seeded and repeated. Three proxies on one cluster (3 masters ×
 * 1 replica, `--ack replica`) coordinated through a real etcd (test/support/coordinated-group.ts),
 * a ledgered write load through each proxy for the whole run, and CHAOS_ROUNDS rounds
 * (default 3) of each fault below, in an order shuffled with CHAOS_SEED (default: the time;
 * printed, so a failing order can be replayed):
 *
 *   - kill -9 of the leader proxy: another leads within TTL + 1 s; the old one is started
 *     again and follows;
 *   - kill -9 of a follower proxy, started again: the leader stays;
 *   - kill -9 of a master node / of a replica node: the leader heals it (a new process, a
 *     replica), the leadership does not move;
 *   - etcd killed for 2 × TTL, then started again: the leader stops acting before its lease
 *     could expire, nobody leads while etcd is down (data flows on), one leads again after;
 *   - the same for 1 × TTL: the proxies' leases outlive the outage, so the old leader's key
 *     is still there when etcd is back, held by a proxy that no longer leads;
 *   - SIGSTOP of the leader for 2 × TTL, then SIGCONT: a stalled leader wakes with an
 *     expired lease and must stop acting at once; nobody may lead twice meanwhile;
 *   - kill -9 of the leader in the middle of ADD MASTER's migration: the next leader
 *     finishes it; the new master is removed again (REMOVE), so any order of rounds works.
 *
 * After each round: exactly one leader, the cluster healed to its shape (the leader's own
 * view), every proxy answers PING and acknowledges writes again; one diagnostic line says
 * what was done and how long the election and the healing took. At the end: every ledger
 * reads back with 0 acknowledged writes lost and 0 wrong values, no request hung, no proxy
 * exited by itself, never two proxies leading at once, and every slot owned by exactly one
 * master in the nodes' own CLUSTER NODES.
 *
 *   CHAOS_ROUNDS=2 CHAOS_SEED=1234 make chaos
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { CoordinatedGroup, command, infoFields, waitFor } from '../support/coordinated-group.js';
import type { ProxyProcess, Shape } from '../support/proxy-process.js';
import { prng } from '../support/prng.js';
import { skipWithoutRedis } from '../support/redis-binary.js';
import { strictClient, WriteLedger } from '../support/write-ledger.js';
import { parseListing } from '../../src/status/list-format.js';
import { isPidAlive } from '../../src/nodes/process/pid.js';
import { sleep } from '../../src/nodes/wait.js';

const noRedis = await skipWithoutRedis();
const ROUNDS = Number(process.env.CHAOS_ROUNDS ?? 3);
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`CHAOS_ROUNDS must be a positive integer, got ${process.env.CHAOS_ROUNDS}`);
if (!Number.isInteger(SEED)) throw new Error(`CHAOS_SEED must be an integer, got ${process.env.CHAOS_SEED}`);

const TTL_S = 3;
const TTL_MS = TTL_S * 1000;
const NODE_TIMEOUT_MS = 1000;
const SHAPE: Shape = { masters: 3, replicas: 1 };
/** A dead leader's lease lapses within a TTL of its last renewal; the next poll (≤ 500 ms) elects another. */
const ELECTION_MS = TTL_MS + 1000;
/** How long etcd stays down, and the leader stays stopped. */
const OUTAGE_MS = 2 * TTL_MS;
const HEAL_TIMEOUT_MS = 60_000;

/** Log lines a proxy may write on waking from a stall before it stops leading: none of them acts on the cluster. */
const WAKING = new Set(['etcd lease not renewed in time: stopping the control plane', 'etcd lease lost', 'etcd cannot be reached', 'etcd reachable again', 'slot map updated']);

/** The `msg` of each line the proxy logged from byte `offset` of its log on. */
function logSince(p: ProxyProcess, offset: number): string[] {
  return readFileSync(p.logFile)
    .subarray(offset)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return String((JSON.parse(line) as { msg?: unknown }).msg);
      } catch {
        return line;
      }
    });
}

/** What a round did, for its diagnostic line. */
interface Outcome {
  what: string;
  /** Date.now() when the damage was done. */
  at: number;
  /** Date.now() when exactly one proxy led again (undefined: the leadership was not in question). */
  electedAt?: number;
  /** What the election is timed from, if not from `at` (Date.now() of it, and what it was). */
  electedFrom?: { at: number; what: string };
  /** Beyond the shape: what says the fault has been dealt with (a complaint, or undefined). */
  repaired?: () => Promise<string | undefined>;
}

interface Scenario {
  name: string;
  run(): Promise<Outcome>;
}

describe(`coordination chaos, ${ROUNDS} rounds, seed ${SEED} (CHAOS_SEED), 3 proxies on etcd, --ack replica`, { skip: noRedis }, () => {
  let group: CoordinatedGroup;
  const ledgers: WriteLedger[] = [];
  const rng = prng(SEED);
  /** What a failed round may have left behind, put right before the next one. */
  const killed = new Set<ProxyProcess>();
  const stoppedPids = new Set<number>();
  let etcdIsDown = false;

  const logs = (): string => group.logs();
  const pick = <T>(items: T[]): T => items[Math.floor(rng() * items.length)];
  const running = (): ProxyProcess[] => group.proxies.filter((p) => !killed.has(p));

  async function roleOf(p: ProxyProcess): Promise<string | undefined> {
    return infoFields(String(await command(p.port, 'INFO', 'coordination'))).get('role');
  }

  /**
   * The one leader, once every proxy names it (a follower learns of a new leader at its next
   * poll; until then it refuses admin verbs), with the shape to heal to.
   */
  async function settled(): Promise<ProxyProcess> {
    const l = await group.leader(30_000);
    await waitFor('every proxy naming the leader', 10_000, async () => {
      const roles = await group.roles();
      const id = roles.find((x) => x.p === l && x.role === 'leader')?.leader;
      return roles.length === group.proxies.length && id !== undefined && roles.every((x) => x.leader === id) ? true : undefined;
    }, () => `${group.proxies.length} proxies\n${logs()}`);
    l.shape = { ...SHAPE };
    return l;
  }

  /** Restart what a failed round left down (a killed proxy, a stopped one, etcd). */
  async function restore(): Promise<void> {
    for (const pid of stoppedPids) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    stoppedPids.clear();
    if (etcdIsDown) {
      await group.etcd.restart();
      etcdIsDown = false;
    }
    for (const p of killed) {
      await p.restart(60_000);
      killed.delete(p);
    }
  }

  /** SIGKILL a node (pid from the document the leader writes); healed when it runs again as a new process, a replica. */
  async function killNode(role: 'master' | 'replica'): Promise<Outcome> {
    const l = await group.leader(10_000);
    const victim = pick((await l.nodes()).filter((n) => n.role === role));
    const pid = await l.pidOf(victim.id);
    process.kill(pid, 'SIGKILL');
    const at = Date.now();
    return {
      what: `kill -9 ${role} ${victim.id} (pid ${pid}); leader port ${l.port}`,
      at,
      repaired: async () => {
        const now = await l.pidOf(victim.id).catch((err: Error) => err.message);
        if (now === pid) return `${victim.id} still has pid ${pid}`;
        if (typeof now === 'string') return now;
        const node = (await l.nodes()).find((n) => n.id === victim.id);
        if (node?.role !== 'replica') return `${victim.id} is ${node?.role ?? 'not listed'}, want replica`;
        const leader = (await group.roles()).find((x) => x.role === 'leader');
        return leader?.p === l ? undefined : `the leadership moved from port ${l.port} to ${leader === undefined ? 'nobody' : `port ${leader.p.port}`} over a node fault`;
      },
    };
  }

  const KILL_LEADER: Scenario = {
    name: 'kill -9 the leader proxy, start it again once another leads',
    async run() {
      const old = await group.leader(10_000);
      const pid = old.pid;
      killed.add(old);
      await old.kill9();
      const at = Date.now();
      const next = await group.leader(ELECTION_MS + 5_000);
      const electedAt = Date.now();
      assert.notEqual(next, old);
      assert.ok(electedAt - at <= ELECTION_MS, `a new leader ${electedAt - at} ms after kill -9 of the old one (TTL ${TTL_S} s + 1 s)`);
      await old.restart(60_000);
      killed.delete(old);
      assert.equal(await roleOf(old), 'follower', 'the old leader, started again, follows');
      return { what: `kill -9 leader port ${old.port} (pid ${pid}); port ${next.port} leads; old one restarted as pid ${old.pid}`, at, electedAt };
    },
  };

  const KILL_FOLLOWER: Scenario = {
    name: 'kill -9 a follower proxy, start it again',
    async run() {
      const l = await group.leader(10_000);
      const victim = pick(running().filter((p) => p !== l));
      const pid = victim.pid;
      killed.add(victim);
      await victim.kill9();
      const at = Date.now();
      await sleep(TTL_MS); // its lease lapses meanwhile
      await victim.restart(60_000);
      killed.delete(victim);
      return {
        what: `kill -9 follower port ${victim.port} (pid ${pid}), restarted as pid ${victim.pid}; leader port ${l.port}`,
        at,
        repaired: async () => {
          const roles = await group.roles();
          const leader = roles.find((x) => x.role === 'leader');
          if (leader?.p !== l) return `the leadership moved from port ${l.port} to ${leader === undefined ? 'nobody' : `port ${leader.p.port}`} over a follower's death`;
          const back = roles.find((x) => x.p === victim);
          return back?.role === 'follower' ? undefined : `the restarted follower is ${back?.role ?? 'not answering'}`;
        },
      };
    },
  };

  const KILL_MASTER: Scenario = { name: 'kill -9 a master node', run: () => killNode('master') };
  const KILL_REPLICA: Scenario = { name: 'kill -9 a replica node', run: () => killNode('replica') };

  /** etcd killed for `outageMs` (then as long as it takes to start again). */
  const etcdDown = (outageMs: number, note = ''): Scenario => ({
    name: `etcd killed for ${outageMs} ms, then started again${note}`,
    async run() {
      const l = await group.leader(10_000);
      etcdIsDown = true;
      await group.etcd.kill();
      const at = Date.now();
      // The leader stops acting before its lease could expire in etcd: nobody leads.
      await waitFor('no proxy leading with etcd down', TTL_MS + 1000, async () => ((await group.roles()).every((x) => x.role === 'follower') ? true : undefined), logs);
      const stoppedMs = Date.now() - at;
      // Data flows through every proxy meanwhile (besides the ledgers).
      for (const p of running()) assert.equal(String(await command(p.port, 'PING')), 'PONG', `port ${p.port} answers PING with etcd down`);
      await sleep(Math.max(0, at + outageMs - Date.now()));
      assert.deepEqual((await group.roles()).filter((x) => x.role === 'leader').map((x) => x.p.port), [], 'nobody leads while etcd is down');
      await group.etcd.restart();
      etcdIsDown = false;
      const back = Date.now();
      const next = await group.leader(30_000);
      return { what: `etcd down for ${back - at} ms; leader port ${l.port} stopped leading after ${stoppedMs} ms; port ${next.port} leads after etcd came back`, at, electedAt: Date.now(), electedFrom: { at: back, what: 'etcd was back' } };
    },
  });
  // Down past two TTLs, the proxies' etcd client gives their leases up; down for one TTL,
  // the demoted leader's lease lives on once etcd is back (its leader key must not).
  const ETCD_DOWN = etcdDown(OUTAGE_MS);
  const ETCD_BLIP = etcdDown(TTL_MS, " (the leader's lease outlives the outage)");

  const STOP_LEADER: Scenario = {
    name: `SIGSTOP the leader proxy for ${OUTAGE_MS} ms, then SIGCONT`,
    async run() {
      const l = await group.leader(10_000);
      const pid = l.pid!;
      const logFrom = new Map(group.proxies.map((p) => [p, statSync(p.logFile).size]));
      stoppedPids.add(pid);
      process.kill(pid, 'SIGSTOP');
      const at = Date.now();
      try {
        await sleep(OUTAGE_MS);
      } finally {
        process.kill(pid, 'SIGCONT');
        stoppedPids.delete(pid);
      }
      const woke = Date.now();
      const next = await group.leader(30_000);
      const electedAt = Date.now();
      // It woke with a lease older than its TTL (etcd has let it expire): before anything
      // else its control plane might do, it stops leading (whoever leads next: itself again,
      // elected anew, or another).
      const woken = logSince(l, logFrom.get(l)!);
      const stoppedAt = woken.findIndex((m) => m === 'no longer the control-plane leader');
      assert.ok(stoppedAt >= 0, `the stalled leader (port ${l.port}) stopped leading when it woke; its log since:\n${woken.join('\n')}`);
      const first = woken.slice(0, stoppedAt).filter((m) => !WAKING.has(m));
      assert.deepEqual(first, [], `the stalled leader (port ${l.port}) did nothing before it stopped leading`);
      // What the others did meanwhile: an election won, and a control plane started or not.
      const meanwhile: string[] = [];
      for (const p of group.proxies.filter((x) => x !== l)) {
        const seen = logSince(p, logFrom.get(p)!);
        const elected = seen.filter((m) => m === 'elected control-plane leader').length;
        const started = seen.filter((m) => m === 'control plane started: this proxy leads').length;
        const refused = seen.filter((m) => m === 'could not start the control plane; giving the leadership up').length;
        if (elected > 0) meanwhile.push(`port ${p.port} elected ${elected}×, control plane started ${started}×, could not start ${refused}×`);
      }
      return {
        what: `SIGSTOP leader port ${l.port} (pid ${pid}) for ${woke - at} ms; meanwhile: ${meanwhile.join('; ') || 'nobody elected'}; after SIGCONT it stopped leading first thing; port ${next.port} leads`,
        at,
        electedAt,
        electedFrom: { at: woke, what: 'SIGCONT' },
      };
    },
  };

  /** An admin verb through a proxy, with time for the slots it moves; its reply, or `error: ...`. */
  async function adminVerb(p: ProxyProcess, ...args: string[]): Promise<string> {
    const c = await strictClient(p.port, 300_000);
    try {
      return String(await c.call(args[0], ...args.slice(1)));
    } catch (err) {
      return `error: ${(err as Error).message}`;
    } finally {
      c.disconnect();
    }
  }

  /** INFO migration of the leader: slots moved so far by the migration under way (undefined: none). */
  async function slotsMoved(l: ProxyProcess): Promise<number | undefined> {
    const f = infoFields(String(await command(l.port, 'INFO', 'migration')));
    const m = /slots_done=(\d+)/.exec(f.get('migration0') ?? '');
    return m === null ? undefined : Number(m[1]);
  }

  const KILL_LEADER_MID_ADD: Scenario = {
    name: 'kill -9 the leader in the middle of ADD MASTER (sent to a follower); the next leader finishes it; REMOVE it again',
    async run() {
      const l = await group.leader(10_000);
      const follower = pick(running().filter((p) => p !== l));
      const c = await strictClient(follower.port, 300_000);
      let reply: string;
      let at: number;
      let moved: number;
      try {
        let answered: string | undefined;
        const adding = c.call('ADD', 'MASTER').then(String, (err: Error) => `error: ${err.message}`);
        void adding.then((r) => (answered = r));
        moved = await waitFor('the migration under way on the leader', 120_000, async () => {
          if (answered !== undefined) return -1;
          const n = await slotsMoved(l);
          return n !== undefined && n > 0 ? n : undefined;
        }, () => `ADD MASTER: ${answered ?? 'no answer yet'}\n${logs()}`);
        assert.notEqual(moved, -1, `ADD MASTER answered before any slot was seen moving on the leader: ${answered}\n${logs()}`);
        killed.add(l);
        await l.kill9();
        at = Date.now();
        reply = await adding;
      } finally {
        c.disconnect();
      }
      assert.match(reply, /^(error: .*|\S+ .* is a master.*)$/, `the client heard back: ${reply}`);
      const next = await group.leader(ELECTION_MS + 5_000);
      const electedAt = Date.now();
      const done = await waitFor(`${SHAPE.masters + 1} masters serving, no operation left`, 180_000, async () => {
        const listing = parseListing((await command(next.port, 'LIST')) as string[]);
        const masters = listing.nodes.filter((n) => n.role === 'master' && n.slots.length > 0);
        return masters.length === SHAPE.masters + 1 && listing.operations.length === 0 ? masters : undefined;
      }, logs);
      const finishedMs = Date.now() - at;
      await l.restart(60_000);
      killed.delete(l);
      // The newest shard is ADD MASTER's (ids m<N>, a new N each time): remove it again.
      const shard = (id: string): number => Number(/^m(\d+)$/.exec(id)?.[1] ?? -1);
      const added = done.map((n) => n.id).reduce((a, b) => (shard(b) > shard(a) ? b : a));
      const removed = await adminVerb(pick(running()), 'REMOVE', added);
      assert.doesNotMatch(removed, /^error: /, `REMOVE ${added}: ${removed}`);
      return {
        what: `ADD MASTER via port ${follower.port}, leader port ${l.port} kill -9ed after ${moved} slots moved (client: ${reply.slice(0, 80)}); port ${next.port} finished it after ${finishedMs} ms; REMOVE ${added}: ${removed.slice(0, 80)}`,
        at,
        electedAt,
      };
    },
  };

  const SCENARIOS: Scenario[] = [KILL_LEADER, KILL_FOLLOWER, KILL_MASTER, KILL_REPLICA, ETCD_DOWN, ETCD_BLIP, STOP_LEADER, KILL_LEADER_MID_ADD];

  /** Every scenario ROUNDS times, in an order drawn from `rng` (Fisher–Yates). */
  function schedule(): Scenario[] {
    const runs = Array.from({ length: ROUNDS }, () => SCENARIOS).flat();
    for (let i = runs.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [runs[i], runs[j]] = [runs[j], runs[i]];
    }
    return runs;
  }

  before(async () => {
    group = await CoordinatedGroup.start({
      proxies: 3,
      masters: SHAPE.masters,
      replicas: SHAPE.replicas,
      ttlSeconds: TTL_S,
      flags: ['--node-timeout', String(NODE_TIMEOUT_MS), '--ack', 'replica'],
    });
    // Keys for ADD MASTER to move from the start, then a write load through every proxy.
    await group.preload(20);
    ledgers.push(...group.startLedgers('cchaos'));
  });

  after(async () => {
    await restore().catch(() => undefined);
    for (const l of ledgers) await l.stop();
    await group?.close();
  });

  schedule().forEach((scenario, i) => {
    test(`${i + 1}. ${scenario.name}`, async (t) => {
      try {
        await restore();
        const before = await settled();
        await before.waitHealthy(HEAL_TIMEOUT_MS);
        const errorsBefore = ledgers.map((l) => l.errors.length);

        const outcome = await scenario.run();

        const l = await settled();
        await l.waitHealthy(HEAL_TIMEOUT_MS, outcome.repaired);
        const healedAt = Date.now();
        for (const p of group.proxies) {
          assert.equal(String(await command(p.port, 'PING')), 'PONG', `port ${p.port} answers PING`);
          p.assertRunning();
        }
        // Writes are acknowledged again through every proxy.
        const acked = ledgers.map((x) => x.writes.length);
        await waitFor('writes acknowledged through every proxy after healing', 20_000, async () => (ledgers.every((x, j) => x.writes.length > acked[j]) ? true : undefined), logs);
        const from = outcome.electedFrom ?? { at: outcome.at, what: 'the fault' };
        const elected = outcome.electedAt === undefined ? '' : `; one leader ${outcome.electedAt - from.at} ms after ${from.what}`;
        const errors = ledgers.map((x, j) => x.errors.length - errorsBefore[j]);
        t.diagnostic(`${outcome.what}${elected}; healed ${healedAt - outcome.at} ms after the fault (leader port ${l.port}); client errors per proxy ${errors.join('/')}; ${ledgers.reduce((n, x) => n + x.writes.length, 0)} writes acknowledged so far`);
      } catch (err) {
        // Which round of which seed, and the proxies' logs (once: a waitFor's message has them already).
        const e = err as Error;
        const round = `seed ${SEED}, round ${i + 1} (${scenario.name}): `;
        const more = e.message.includes('--- proxy on port') ? '' : `\n${logs()}`;
        const stack = e.stack; // formatted now, with the message as it was
        e.message = `${round}${e.message}${more}`;
        e.stack = `${round}${stack}${more}`; // what the reporter prints
        throw e;
      }
    });
  });

  test('the load: 0 acknowledged writes lost, no request hung, never two leaders, one owner per slot', async (t) => {
    await restore();
    for (const l of ledgers) await l.stop();
    let acked = 0;
    for (const [i, l] of ledgers.entries()) {
      const report = await l.verify();
      acked += report.acked;
      assert.ok(report.acked > 100, `proxy ${i}: writes were acknowledged: ${report.acked}`);
      assert.deepEqual(report.lost.slice(0, 5), [], `proxy ${i}: lost ${report.lost.length} of ${report.acked}`);
      assert.deepEqual(report.wrongValue.slice(0, 5), [], `proxy ${i}: ${report.wrongValue.length} read back with another value`);
      assert.deepEqual(report.hangs.slice(0, 5), [], `proxy ${i}: ${report.hangs.length} requests waited over 15 s`);
    }
    for (const p of group.proxies) assert.deepEqual(p.crashes, [], `port ${p.port} never exited by itself`);
    assert.deepEqual(group.doubleLeaders, [], 'never two proxies leading at the same time');
    // The nodes' own view: every slot served by exactly one master.
    const l = await group.leader(10_000);
    const doc = await l.topology();
    const owners = new Map<number, string>();
    for (const n of doc.nodes) {
      if (!isPidAlive(Number(n.handle))) continue;
      const slots = await l.slotsOf(n.id);
      for (let s = 0; s < slots.length; s++) {
        if (slots[s] === 0) continue;
        const prior = owners.get(s);
        assert.equal(prior, undefined, `slot ${s} claimed by ${prior} and ${n.id}`);
        owners.set(s, n.id);
      }
    }
    assert.equal(owners.size, 16384, 'every slot has an owner');
    t.diagnostic(`${acked} acknowledged writes read back through ${ledgers.length} proxies; ${new Set(owners.values()).size} masters own the 16384 slots`);
  });
});
