/**
 * REBALANCE LOAD: the proxy's per-slot request counts (ops/slot-load.ts), the pure plan
 * (cluster/operations/load-rebalance.ts) on synthetic loads, and the verb on a real
 * 3-master cluster under a skewed load — DRYRUN moves nothing, the run evens the masters'
 * ops out, measured from each master's own INFO commandstats.
 *
 * "Even" here: (max − min) / mean of the masters' GET+SET calls over the same load, at most
 * 0.25 (docs/rebalance-load.md).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { SlotLoad } from '../src/ops/slot-load.js';
import { loadSpread, planLoadRebalance, LOAD_TOLERANCE } from '../src/cluster/operations/load-rebalance.js';
import type { SlotRange } from '../src/cluster/topology/topology.js';
import { loadRebalanceLines } from '../src/status/load-rebalance-report.js';
import { parsePromptWords } from '../src/cli/cli-args.js';
import { CliError } from '../src/cli/cli-error.js';
import { ProxyConnection } from '../src/cli/proxy-connection.js';
import { runCommand } from '../src/cli/commands.js';
import { ProxyProcess } from './support/proxy-process.js';
import { parseListing } from '../src/status/list-format.js';
import { sleep } from '../src/nodes/wait.js';
import { startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { freePort } from './support/redis-server.js';
import { skipWithoutRedis } from './support/redis-binary.js';

const SLOTS = 16384;
const THREE: SlotRange[] = [
  [0, 5460, 'm0'],
  [5461, 10922, 'm1'],
  [10923, 16383, 'm2'],
];

function rates(f: (slot: number) => number): Float64Array {
  const r = new Float64Array(SLOTS);
  for (let s = 0; s < SLOTS; s++) r[s] = f(s);
  return r;
}

describe('SlotLoad', () => {
  test('counts hits per slot; a rate spans the window under way and the one before', () => {
    let now = 1_000;
    const load = new SlotLoad(10_000, () => now);
    try {
      for (let i = 0; i < 50; i++) load.hit(7);
      load.hit(16383);
      now += 5_000;
      let r = load.ratesNow();
      assert.equal(r.seconds, 5);
      assert.equal(r.perSlot[7], 10);
      assert.equal(r.perSlot[16383], 0.2);
      assert.equal(r.perSlot[8], 0);
      load.rotate(); // the 5 s above become the previous window
      for (let i = 0; i < 25; i++) load.hit(7);
      now += 5_000;
      r = load.ratesNow();
      assert.equal(r.seconds, 10);
      assert.equal(r.perSlot[7], 7.5);
      load.rotate(); // the first window drops out
      now += 1_000;
      r = load.ratesNow();
      assert.equal(r.seconds, 6);
      assert.ok(Math.abs(r.perSlot[7] - 25 / 6) < 1e-9);
      assert.equal(r.perSlot[16383], 0);
    } finally {
      load.close();
    }
  });
});

describe('ihs-cli rebalance --load [--dry-run]', () => {
  test('is REBALANCE LOAD [DRYRUN]; plain rebalance stays REBALANCE', () => {
    assert.deepEqual(parsePromptWords(['rebalance', '--load']), { kind: 'rebalance-load', dryRun: false });
    assert.deepEqual(parsePromptWords(['rebalance', '--load', '--dry-run']), { kind: 'rebalance-load', dryRun: true });
    assert.deepEqual(parsePromptWords(['rebalance']), { kind: 'rebalance' });
    assert.throws(() => parsePromptWords(['rebalance', '--dry-run']), (e: Error) => e instanceof CliError);
  });
});

describe('planLoadRebalance', () => {
  test('a master with twice the load per slot gives slots until the spread is within the tolerance', () => {
    const perSlot = rates((s) => (s <= 5460 ? 2 : 1));
    const plan = planLoadRebalance({ ownership: THREE, masterIds: ['m0', 'm1', 'm2'], perSlot });
    const r = plan.report;
    assert.ok(r.spreadBefore > 0.7, `before: ${r.spreadBefore}`);
    assert.ok(r.spreadAfter <= LOAD_TOLERANCE, `after: ${r.spreadAfter}`);
    assert.match(r.stopped, /^balanced: spread/);
    assert.ok(r.moves.every((m) => m.from === 'm0' && m.to !== 'm0'), 'only the hot master gives');
    assert.equal(r.moves.reduce((n, m) => n + m.last - m.first + 1, 0), r.slotsMoved);
    assert.equal(plan.moves.reduce((n, m) => n + m.last - m.first + 1, 0), r.slotsMoved);
    // Loads after, recomputed from the moves, are what the report says.
    const after = new Map(r.masters.map((m) => [m.id, m.opsBefore]));
    for (const m of r.moves) {
      after.set(m.from, after.get(m.from)! - m.ops);
      after.set(m.to, after.get(m.to)! + m.ops);
    }
    for (const m of r.masters) assert.ok(Math.abs(after.get(m.id)! - m.opsAfter) < 1e-6, m.id);
    assert.ok(Math.abs(loadSpread(r.masters.map((m) => m.opsAfter)) - r.spreadAfter) < 1e-9);
    for (const m of r.masters) assert.ok(m.slotsAfter >= r.bounds.min && m.slotsAfter <= r.bounds.max, `${m.id} within the bound`);
    assert.deepEqual(r.bounds, { min: 2730, max: 8192 });
  });

  test('a single very hot slot cannot be split: the plan moves what helps, then says so and stops', () => {
    // Slot 100 (m0) gets 10000 ops/s; ten other slots of m0 get 10 each; nothing else.
    const perSlot = rates((s) => (s === 100 ? 10_000 : s >= 200 && s < 210 ? 10 : 0));
    const plan = planLoadRebalance({ ownership: THREE, masterIds: ['m0', 'm1', 'm2'], perSlot });
    const r = plan.report;
    assert.match(r.stopped, /^hot slot: slot 100 alone gets 10000 ops\/s of m0's 10000 .*a slot cannot be split/);
    assert.equal(r.slotsMoved, 10, 'the ten small slots leave the hot one’s master, nothing more');
    assert.ok(r.moves.every((m) => m.first >= 200 && m.last < 210));
    assert.equal(r.masters.find((m) => m.id === 'm0')!.opsAfter, 10_000);
    assert.ok(r.spreadAfter > LOAD_TOLERANCE);
  });

  test('the slot-count bound: the hot master keeps at least half an even share, and the plan says it stopped there', () => {
    const ownership: SlotRange[] = [
      [0, 2999, 'm0'],
      [3000, 9999, 'm1'],
      [10000, 16383, 'm2'],
    ];
    const perSlot = rates((s) => (s < 3000 ? 1 : 0));
    const r = planLoadRebalance({ ownership, masterIds: ['m0', 'm1', 'm2'], perSlot }).report;
    const m0 = r.masters.find((m) => m.id === 'm0')!;
    assert.equal(m0.slotsAfter, r.bounds.min);
    assert.equal(r.slotsMoved, 3000 - r.bounds.min);
    assert.match(r.stopped, /^bound: the most loaded master m0 holds 2730 slots, the fewest the bound allows \(2730\)/);
  });

  test('the cap on slots moved', () => {
    const perSlot = rates((s) => (s <= 5460 ? 5 : 1));
    const r = planLoadRebalance({ ownership: THREE, masterIds: ['m0', 'm1', 'm2'], perSlot, maxSlotsMoved: 100 }).report;
    assert.equal(r.slotsMoved, 100);
    assert.match(r.stopped, /^cap: 100 slots moved/);
  });

  test('no load counted: no moves', () => {
    const r = planLoadRebalance({ ownership: THREE, masterIds: ['m0', 'm1', 'm2'], perSlot: new Float64Array(SLOTS) }).report;
    assert.deepEqual(r.moves, []);
    assert.equal(r.stopped, 'no load counted yet: nothing to plan from');
  });

  test('the lines name the bound, each master before -> after, and the moves', () => {
    const perSlot = rates((s) => (s === 0 || s === 1 ? 300 : s === 5461 ? 100 : 0));
    const plan = planLoadRebalance({ ownership: THREE, masterIds: ['m0', 'm1', 'm2'], perSlot });
    const lines = loadRebalanceLines({ dryRun: true, windowSeconds: 12.5, processes: 1, ...plan.report });
    assert.deepEqual(lines, [
      'rebalance by load (dry run): ops/s over the last 12.5 s, 3 masters',
      'bounds: slots per master 2730..8192 (half to 1.5x of an even share), at most 2048 slots moved, stop at spread <= 10.0%',
      'master m0 ops/s 600 -> 300 slots 5461 -> 5460',
      'master m1 ops/s 100 -> 100 slots 5462 -> 5462',
      'master m2 ops/s 0.0 -> 300 slots 5461 -> 5462',
      'spread (max-min)/mean 257.1% -> 85.7%',
      'move 0 m0 -> m2 ops/s 300',
      "stopped: hot slot: slot 1 alone gets 300 ops/s of m0's 300 (the mean is 233), and a slot cannot be split: no move brings the loads closer",
    ]);
  });
});

const skip = await skipWithoutRedis();

/** GET `url` and read its body until it holds `marker` (10 s at most), then drop the connection (a stream never ends by itself). */
function readUntil(url: string, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = http.get(url, { agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes(marker)) {
          req.destroy();
          resolve(text);
        }
      });
      res.on('end', () => resolve(text));
    });
    req.on('error', (err) => (text.includes(marker) ? resolve(text) : reject(err)));
    req.setTimeout(10_000, () => req.destroy(new Error(`no ${marker} in 10 s: ${text.slice(0, 300)}`)));
  });
}

/** Keys `lk:<n>` of many slots, with which master (index in slot order) serves each now. */
interface Workload {
  keys: string[];
  /** GETs per round of each key. */
  weight: number[];
}

describe('REBALANCE LOAD on a real cluster', { skip }, () => {
  let tp: TestProxy;
  let c: Redis;
  let httpBase: string;

  before(async () => {
    const http = await freePort();
    tp = await startTestProxy(['--replicas', '0', '--http-port', String(http)]);
    httpBase = `http://127.0.0.1:${http}`;
    c = await strictClient(tp.port, 20_000);
  });

  after(async () => {
    c?.disconnect();
    await tp?.close();
  });

  /** Each master's address, by the cluster's map now. */
  async function masters(): Promise<{ address: string; slots: number }[]> {
    const map = await tp.proxy.slotMaps.refresh();
    return map.servingMasters().map((i) => ({ address: `${map.masters[i].host}:${map.masters[i].port}`, slots: map.rangesOf(i).reduce((n, [a, b]) => n + b - a + 1, 0) }));
  }

  /** GET+SET calls each master has served (INFO commandstats), by address. */
  async function callsByMaster(addresses: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const address of addresses) {
      const [host, port] = address.split(':');
      const node = new Redis({ host, port: Number(port), password: tp.proxy.cluster.nodePassword, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
      node.on('error', () => {});
      await node.connect();
      try {
        const info = String(await node.info('commandstats'));
        let calls = 0;
        for (const m of info.matchAll(/^cmdstat_(get|set):calls=(\d+)/gm)) calls += Number(m[2]);
        out.set(address, calls);
      } finally {
        node.disconnect();
      }
    }
    return out;
  }

  /** `rounds` rounds of the workload through the proxy; GET+SET calls per master meanwhile. */
  async function measure(w: Workload, rounds: number): Promise<number[]> {
    const addresses = (await masters()).map((m) => m.address);
    const before = await callsByMaster(addresses);
    for (let round = 0; round < rounds; round++) {
      const p = c.pipeline();
      for (let k = 0; k < w.keys.length; k++) for (let n = 0; n < w.weight[k]; n++) p.get(w.keys[k]);
      const replies = await p.exec();
      assert.ok(replies !== null && replies.every(([err]) => err === null), 'every GET answered');
    }
    const after = await callsByMaster(addresses);
    return addresses.map((a) => after.get(a)! - before.get(a)!);
  }

  test('DRYRUN shows the plan and moves nothing; REBALANCE LOAD evens the masters’ ops within 25%; no key lost', { timeout: 90_000 }, async () => {
    // 1500 keys of many slots; those of the first master (in slot order) get 5 GETs a round, the others 1.
    const map = tp.proxy.server.router.slotMap;
    const hotMaster = map.servingMasters()[0];
    const keys = Array.from({ length: 1500 }, (_, i) => `lk:${i}`);
    const weight = keys.map((k) => (map.slotToMaster[calculateSlot(k)] === hotMaster ? 5 : 1));
    const w: Workload = { keys, weight };
    const seed = c.pipeline();
    for (const k of keys) seed.set(k, `v-${k}`);
    await seed.exec();

    // Counting: one per keyed request, one per part of a split one (MGET of two slots: one each).
    const counted = (slot: number): number => {
      const r = tp.proxy.server.router.slotLoad.ratesNow();
      return Math.round(r.perSlot[slot] * r.seconds);
    };
    const [ka, kb] = ['split:a', 'split:b'];
    const [sa, sb] = [calculateSlot(ka), calculateSlot(kb)];
    assert.notEqual(sa, sb);
    const [a0, b0] = [counted(sa), counted(sb)];
    await c.mget(ka, kb);
    assert.deepEqual([counted(sa) - a0, counted(sb) - b0], [1, 1], 'a split MGET counts once per part');
    await c.get(ka);
    await c.ping();
    assert.deepEqual([counted(sa) - a0, counted(sb) - b0], [2, 1], 'a GET counts once; PING (no key) not at all');

    const before = await measure(w, 8);
    const spreadBefore = loadSpread(before);
    assert.ok(spreadBefore > 1, `the load is skewed: ${before.join(' ')}`);

    // The busiest slots, as the proxy counted them: the hot master's, busiest first.
    const hotAddress = map.masters[hotMaster].address;
    const busiest = await fetch(`${httpBase}/api/v1/slots/load?top=5`);
    assert.equal(busiest.status, 200);
    const load = (await busiest.json()) as { windowSeconds: number; opsPerSec: number; slots: { slot: number; opsPerSec: number; master: string | null }[] };
    assert.equal(load.slots.length, 5);
    assert.ok(load.opsPerSec > 0 && load.windowSeconds > 0);
    for (let i = 1; i < 5; i++) assert.ok(load.slots[i - 1].opsPerSec >= load.slots[i].opsPerSec, 'busiest first');
    for (const s of load.slots) assert.equal(s.master, hotAddress, `slot ${s.slot} is one of the hot master's`);
    for (const bad of ['0', '16385', 'x']) assert.equal((await fetch(`${httpBase}/api/v1/slots/load?top=${bad}`)).status, 400, `top=${bad}`);

    const slotsBefore = (await masters()).map((m) => m.slots);
    const dry = (await c.call('REBALANCE', 'LOAD', 'DRYRUN')) as string[];
    assert.match(dry[0], /^rebalance by load \(dry run\): ops\/s over the last [\d.]+ s, 3 masters$/);
    assert.match(dry[1], /^bounds: slots per master 2730\.\.8192 \(half to 1\.5x of an even share\), at most 2048 slots moved, stop at spread <= 10\.0%$/);
    assert.equal(dry.filter((l) => l.startsWith('master ')).length, 3);
    assert.ok(dry.some((l) => /^move \d+(-\d+)? m\d -> m\d ops\/s [\d.]+$/.test(l)), dry.join('\n'));
    assert.match(dry.at(-1)!, /^stopped: balanced: spread/);
    assert.deepEqual((await masters()).map((m) => m.slots), slotsBefore, 'a dry run moves nothing');

    // ihs-cli rebalance --load --dry-run prints the same lines.
    const cli = new ProxyConnection({ host: '127.0.0.1', port: tp.port, username: undefined, password: undefined, tls: undefined });
    try {
      const printed = (await runCommand(cli, { kind: 'rebalance-load', dryRun: true }))!.split('\n');
      assert.equal(printed.length, dry.length);
      assert.match(printed[0], /^rebalance by load \(dry run\): /);
      assert.equal(printed.at(-1), dry.at(-1));
    } finally {
      cli.close();
    }

    // The HTTP API's dry run: the same plan, as an object.
    const res = await fetch(`${httpBase}/api/v1/cluster/rebalance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'load', dryRun: true }) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { result: string; plan: { dryRun: boolean; slotsMoved: number; masters: unknown[]; spreadAfter: number } };
    assert.equal(body.plan.dryRun, true);
    assert.equal(body.plan.masters.length, 3);
    assert.ok(body.plan.slotsMoved > 0 && body.plan.spreadAfter <= 0.1, JSON.stringify(body.plan).slice(0, 300));
    assert.match(body.result, /^dry run: \d+ slots would move; balanced/);
    assert.deepEqual((await masters()).map((m) => m.slots), slotsBefore, 'nor does the HTTP dry run');

    const slotsDry = await fetch(`${httpBase}/api/v1/cluster/rebalance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dryRun: true }) });
    assert.equal(slotsDry.status, 400, 'REBALANCE by slot counts has no dry run');
    assert.match(((await slotsDry.json()) as { error: string }).error, /dryRun is for \{"by": "load"\}/);

    await assert.rejects(c.call('REBALANCE', 'LOAD', 'NOW'), /ERR syntax: REBALANCE \[LOAD \[DRYRUN\]\]/);

    const run = (await c.call('REBALANCE', 'LOAD')) as string[];
    assert.match(run[0], /^rebalance by load: /);
    assert.match(run.at(-1)!, /^result: \d+ slots and \d+ keys moved in [\d.]+ s/, run.join('\n'));
    const slotsAfter = (await masters()).map((m) => m.slots);
    assert.notDeepEqual(slotsAfter, slotsBefore, 'slots moved');
    for (const n of slotsAfter) assert.ok(n >= 2730 && n <= 8192, `within the bound: ${slotsAfter.join(' ')}`);

    const afterOps = await measure(w, 8);
    const spreadAfter = loadSpread(afterOps);
    assert.ok(spreadAfter <= 0.25, `(max-min)/mean ${spreadAfter.toFixed(3)} of ${afterOps.join(' ')} (before: ${before.join(' ')})`);
    // What the measurement gave, for bench/results/rebalance-load.md.
    console.log(`rebalance-load: GETs per master over 8 rounds before ${before.join(' ')} spread ${spreadBefore.toFixed(3)}; after ${afterOps.join(' ')} spread ${spreadAfter.toFixed(3)}`);
    console.log(run.filter((l) => !l.startsWith('move ')).join('\n'));

    // The cluster's timeline has the change with its outcome (the backlog opens the event stream).
    const text = await readUntil(`${httpBase}/api/v1/events`, '"verb":"REBALANCE LOAD"');
    assert.match(text, /"verb":"REBALANCE LOAD","outcome":"done","result":"\d+ slots and \d+ keys moved in [^"]*; spread [\d.]+% -> [\d.]+% planned; stopped: balanced/);

    const values = await c.mget(...keys);
    assert.deepEqual(values, keys.map((k) => `v-${k}`), 'every key with its value');
  });
});

/** INFO's `field:value` lines as a map. */
function infoFields(text: string): Map<string, string> {
  return new Map(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

describe('REBALANCE LOAD with --workers 2', { skip }, () => {
  test("the leader plans from every worker's counts, summed", { timeout: 120_000 }, async () => {
    const p = await ProxyProcess.start({ masters: 3, replicas: 0, flags: ['--workers', '2'] });
    const clients: Redis[] = [];
    try {
      // Connections until both workers have some (the kernel spreads them, SO_REUSEPORT).
      const pidOf = new Map<Redis, string>();
      // (ProxyProcess.start returns once one worker answers: the other may still be starting.)
      const deadline = Date.now() + 30_000;
      while (new Set(pidOf.values()).size < 2 && Date.now() < deadline) {
        const c = await strictClient(p.port, 20_000);
        const pid = infoFields(String(await c.info('server'))).get('process_id')!;
        if ([...pidOf.values()].filter((x) => x === pid).length >= 4) {
          c.disconnect();
          await sleep(200);
          continue;
        }
        clients.push(c);
        pidOf.set(c, pid);
      }
      assert.equal(new Set(pidOf.values()).size, 2, 'connections on both workers');
      const leaderPid = await (async () => {
        for (const c of clients) {
          const info = infoFields(String(await c.info('coordination')));
          if (info.get('role') === 'leader') return pidOf.get(c)!;
        }
        return [...pidOf.values()].find((pid) => pid !== pidOf.get(clients[0])) ?? '';
      })();
      // The leader's clients GET keys of m0 only, the follower's keys of m2 only: m2 has load
      // in the plan only if the follower's counts are in it.
      const listing = parseListing((await clients[0].call('LIST')) as string[]);
      const masterOfSlot = new Map<number, string>();
      for (const n of listing.nodes) for (const [a, b] of n.slots) for (let slot = a; slot <= b; slot++) masterOfSlot.set(slot, n.id);
      const keysOf = (master: string): string[] => {
        const keys: string[] = [];
        for (let i = 0; keys.length < 200; i++) if (masterOfSlot.get(calculateSlot(`wk:${i}`)) === master) keys.push(`wk:${i}`);
        return keys;
      };
      const [m0Keys, m2Keys] = [keysOf('m0'), keysOf('m2')];
      await Promise.all(clients.map(async (c) => {
        const pipe = c.pipeline();
        for (const k of pidOf.get(c) === leaderPid ? m0Keys : m2Keys) pipe.get(k);
        const replies = await pipe.exec();
        assert.ok(replies !== null && replies.every(([err]) => err === null));
      }));

      const dry = (await clients[0].call('REBALANCE', 'LOAD', 'DRYRUN')) as string[];
      assert.match(dry[0], /^rebalance by load \(dry run\): ops\/s over the last [\d.]+ s, 3 masters, counted by 2 workers$/);
      const opsOf = (id: string): number => Number(new RegExp(`^master ${id} ops/s ([\\d.]+) ->`).exec(dry.find((l) => l.startsWith(`master ${id} `))!)![1]);
      assert.ok(opsOf('m0') > 0, `the leader's own load: ${dry.slice(0, 6).join(' | ')}`);
      assert.ok(opsOf('m2') > 0, `the follower's load, summed in: ${dry.slice(0, 6).join(' | ')}`);
      assert.equal(opsOf('m1'), 0, 'nobody sent m1 anything');
      console.log(`rebalance-load --workers 2: ${dry.slice(2, 5).join('; ')}`);
    } finally {
      for (const c of clients) c.disconnect();
      await p.cleanup();
    }
  });
});
