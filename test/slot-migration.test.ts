/**
 * Online resharding (issue 6 part 7) and the REBALANCE plan.
 *
 * planRebalance, pure: an even result, the fewest slots moved, a drained master, a new
 * empty master, contiguous ranges, bad input — on fixed cases and on random ownerships.
 *
 * SlotMigrator against real redis-server processes (a proxy from startProxy, the cluster
 * its process provider runs):
 *   - slots with tens of thousands of keys (one slot with more keys than a batch) move
 *     while ioredis clients write, read and MGET through the proxy: no client error, every
 *     key with its last acknowledged value afterwards, read directly on its new owner, no
 *     slot left MIGRATING/IMPORTING, the operation gone from the document;
 *   - refusals: a second migration while one runs, a bad plan;
 *   - BUSYKEY: the target already holds keys the source still serves (a MIGRATE that timed
 *     out): the source's copies win, the one that differed is counted;
 *   - a migration stopped mid-way (the proxy stopped) is resumed from the document by the
 *     next proxy on the same data dir;
 *   - the source master killed (SIGKILL) mid-migration: its replica takes over, the
 *     migration re-establishes the slot states on it and finishes with every key.
 * Keys/s are printed (no timing asserts: the machine is shared).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { keySlot } from '../src/cluster/key-slot.js';
import { planRebalance, rebalanceCluster } from '../src/cluster/operations/rebalance.js';
import { addressKey, type SlotMap } from '../src/cluster/slot-map.js';
import { isMigrateSlots, type MigrationReport, type SlotMove } from '../src/cluster/operations/slot-migration.js';
import { SLOT_COUNT, evenSlotRanges, type SlotRange } from '../src/cluster/topology/topology.js';
import { ControlClients } from '../src/nodes/control-client.js';
import { sleep } from '../src/nodes/wait.js';
import { prng } from './support/prng.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';

const skip = await skipWithoutRedis();

// --- planRebalance ------------------------------------------------------------------------

/** Who owns each slot after applying `moves` to `ownership`. */
function apply(ownership: SlotRange[], moves: SlotMove[]): (string | undefined)[] {
  const owner: (string | undefined)[] = new Array(SLOT_COUNT);
  for (const [first, last, id] of ownership) for (let s = first; s <= last; s++) owner[s] = id;
  for (const m of moves) for (let s = m.first; s <= m.last; s++) owner[s] = m.to;
  return owner;
}

function counts(owner: (string | undefined)[]): Map<string, number> {
  const c = new Map<string, number>();
  for (const id of owner) if (id !== undefined) c.set(id, (c.get(id) ?? 0) + 1);
  return c;
}

function slotsMoved(moves: SlotMove[]): number {
  return moves.reduce((n, m) => n + m.last - m.first + 1, 0);
}

/**
 * The checks every plan must pass: listed masters within one slot of each other, unlisted
 * ones empty, no slot assigned or unassigned by the plan, every move from a master over its
 * share (or unlisted) to one under it — and so the number moved is the minimum.
 */
function checkPlan(ownership: SlotRange[], masterIds: string[], moves: SlotMove[]): void {
  const before = apply(ownership, []);
  const after = apply(ownership, moves);
  const total = before.filter((id) => id !== undefined).length;
  const c = counts(after);
  const listed = masterIds.map((id) => c.get(id) ?? 0);
  assert.ok(Math.max(...listed) - Math.min(...listed) <= 1, `even: ${listed.join(',')}`);
  assert.equal(listed.reduce((a, b) => a + b, 0), total, 'every assigned slot stays assigned to a listed master');
  for (const [id] of counts(before)) if (!masterIds.includes(id)) assert.equal(c.get(id) ?? 0, 0, `${id} (not listed) is drained`);
  for (let s = 0; s < SLOT_COUNT; s++) assert.equal(after[s] === undefined, before[s] === undefined, `slot ${s}: the plan neither assigns nor frees slots`);
  const share = Math.floor(total / masterIds.length);
  const beforeCounts = counts(before);
  let minimum = 0;
  for (const id of masterIds) minimum += Math.max(0, share - (beforeCounts.get(id) ?? 0));
  // Masters that get the remainder's extra slot may need one more each.
  assert.ok(slotsMoved(moves) >= minimum && slotsMoved(moves) <= minimum + masterIds.length, `moved ${slotsMoved(moves)}, minimum about ${minimum}`);
  for (const m of moves) {
    assert.ok(masterIds.includes(m.to), `moves only to listed masters (${m.to})`);
    for (let s = m.first; s <= m.last; s++) {
      assert.notEqual(before[s], m.to, `slot ${s} moves to a master that already has it`);
      const from = before[s]!;
      assert.ok(!masterIds.includes(from) || (beforeCounts.get(from) ?? 0) > share, `slot ${s} comes from ${from}, which is over its share`);
    }
    assert.ok((beforeCounts.get(m.to) ?? 0) < share + 1, `${m.to} receives while at or over its share`);
  }
}

describe('planRebalance', () => {
  test('an even cluster needs no move', () => {
    const ownership = evenSlotRanges(['m0', 'm1', 'm2']);
    assert.deepEqual(planRebalance(ownership, ['m0', 'm1', 'm2']), []);
  });

  test('a new empty master gets a quarter, in few contiguous ranges, from every other master', () => {
    const ownership = evenSlotRanges(['m0', 'm1', 'm2']);
    const moves = planRebalance(ownership, ['m0', 'm1', 'm2', 'm3']);
    checkPlan(ownership, ['m0', 'm1', 'm2', 'm3'], moves);
    assert.equal(slotsMoved(moves), 4096);
    assert.ok(moves.every((m) => m.to === 'm3'));
    assert.equal(moves.length, 3, `one range from each master: ${JSON.stringify(moves)}`);
    const sources = new Set(moves.map((m) => apply(ownership, [])[m.first]));
    assert.deepEqual([...sources].sort(), ['m0', 'm1', 'm2']);
  });

  test('a drained master gives all its slots away, and only its slots move', () => {
    const ownership = evenSlotRanges(['m0', 'm1', 'm2', 'm3']);
    const moves = planRebalance(ownership, ['m0', 'm1', 'm2']);
    checkPlan(ownership, ['m0', 'm1', 'm2'], moves);
    assert.equal(slotsMoved(moves), 4096, 'exactly m3\'s slots');
    for (const m of moves) assert.ok(m.first >= 12288, `only m3's slots (12288-16383) move: ${m.first}-${m.last}`);
  });

  test('uneven to even with the fewest slots moved', () => {
    const ownership: SlotRange[] = [
      [0, 9999, 'a'],
      [10000, 13999, 'b'],
      [14000, 16383, 'c'],
    ];
    const moves = planRebalance(ownership, ['a', 'b', 'c']);
    checkPlan(ownership, ['a', 'b', 'c'], moves);
    // a keeps 5462 (it holds the most: the remainder's extra slot), b and c need 1461 and 3077.
    assert.equal(slotsMoved(moves), 10000 - 5462);
    assert.deepEqual(moves, [
      { first: 5462, last: 6922, to: 'b' },
      { first: 6923, last: 9999, to: 'c' },
    ]);
  });

  test('slots nobody serves are left alone; an empty list and overlapping ranges are errors', () => {
    const ownership: SlotRange[] = [
      [0, 99, 'a'],
      [200, 299, 'b'],
    ];
    const moves = planRebalance(ownership, ['a', 'b', 'c']);
    checkPlan(ownership, ['a', 'b', 'c'], moves);
    assert.throws(() => planRebalance(ownership, []), /no master/);
    assert.throws(() => planRebalance([[0, 10, 'a'], [5, 20, 'b']], ['a', 'b']), /slot 5 is given to both a and b/);
    assert.throws(() => planRebalance([[0, 16384, 'a']], ['a']), /bad slot range/);
  });

  test('random ownerships: even, minimal, drained (seeded)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rand = prng(seed);
      const ids = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'].slice(0, 2 + Math.floor(rand() * 5));
      const ownership: SlotRange[] = [];
      let slot = 0;
      while (slot < SLOT_COUNT) {
        const len = 1 + Math.floor(rand() * 3000);
        const last = Math.min(SLOT_COUNT - 1, slot + len - 1);
        if (rand() > 0.05) ownership.push([slot, last, ids[Math.floor(rand() * ids.length)]]);
        slot = last + 1;
      }
      const listed = ids.filter(() => rand() > 0.25);
      if (rand() > 0.5) listed.push('new');
      if (listed.length === 0) listed.push(ids[0]);
      const moves = planRebalance(ownership, listed);
      checkPlan(ownership, listed, moves);
    }
  });
});

// --- SlotMigrator against a real cluster ---------------------------------------------------

/** Slots some node still lists as MIGRATING/IMPORTING ("[slot->-id]" markers in its own CLUSTER NODES line). */
async function openSlots(tp: TestProxy): Promise<string[]> {
  const open: string[] = [];
  for (const n of tp.proxy.cluster.topology.nodes) {
    const text = await tp.proxy.cluster.clients.with(n, async (c) => String(await c.call('CLUSTER', 'NODES')), 2_000);
    const me = text.split('\n').find((l) => l.includes('myself'));
    const markers = me?.split(' ').filter((f) => f.startsWith('[')) ?? [];
    if (markers.length > 0) open.push(`${n.id}: ${markers.slice(0, 5).join(' ')}${markers.length > 5 ? ` (+${markers.length - 5})` : ''}`);
  }
  return open;
}

/** The slot map as the cluster says it is now (CLUSTER NODES of the nodes, merged by epoch). */
async function mapNow(tp: TestProxy): Promise<SlotMap> {
  return tp.proxy.slotMaps.refresh();
}

/** The top `count` slots of master `from` go to `to`. */
function topSlots(map: SlotMap, tp: TestProxy, from: string, to: string, count: number): SlotMove {
  const node = tp.proxy.cluster.topology.nodes.find((n) => n.id === from)!;
  const ranges = map.rangesOf(map.indexOfAddress(addressKey(node.host, node.port)));
  const [first, last] = ranges[ranges.length - 1];
  return { first: Math.max(first, last - count + 1), last, to };
}

/** Write `n` keys through the proxy (pipelined); returns key → value. */
async function loadKeys(client: Redis, names: string[], tag: string): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (let i = 0; i < names.length; i += 1000) {
    const p = client.pipeline();
    for (const k of names.slice(i, i + 1000)) {
      const v = `${tag}:${k}`;
      values.set(k, v);
      p.set(k, v);
    }
    const replies = (await p.exec()) ?? [];
    for (const [err] of replies) if (err !== null) throw err;
  }
  return values;
}

/**
 * Every key read directly on the master that serves its slot now (with the node password):
 * returns the keys whose value differs from `expected`, with what was found.
 */
async function checkOnOwners(tp: TestProxy, expected: Map<string, string>): Promise<string[]> {
  const map = await mapNow(tp);
  const byMaster = new Map<number, string[]>();
  for (const k of expected.keys()) {
    const idx = map.slotToMaster[keySlot(Buffer.from(k))];
    let list = byMaster.get(idx);
    if (list === undefined) byMaster.set(idx, (list = []));
    list.push(k);
  }
  const wrong: string[] = [];
  for (const [idx, keys] of byMaster) {
    const m = map.masters[idx];
    assert.ok(m !== undefined, `slot of ${keys[0]} is served`);
    await tp.proxy.cluster.clients.with(m, async (c) => {
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000);
        const replies = await c.batch(chunk.map((k) => ['GET', k]));
        replies.forEach(([err, v], j) => {
          if (err !== null || v !== expected.get(chunk[j])) wrong.push(`${chunk[j]}: ${err?.message ?? String(v)} (want ${expected.get(chunk[j])})`);
        });
      }
    }, 10_000);
  }
  return wrong;
}

/**
 * Clients writing and reading through the proxy until stopped, each over its own keys:
 * SET with a growing value (the last acknowledged one is remembered), GET of another key
 * that must return its last value, and an MGET of three keys of one slot (hash tag) now
 * and then. Any error or wrong value is recorded.
 */
class Load {
  readonly errors: string[] = [];
  readonly last = new Map<string, string>();
  /** Keys the MSETs created (besides the loaded ones). */
  readonly extraKeys = new Set<string>();
  ops = 0;
  private stopped = false;
  private readonly runs: Promise<void>[] = [];
  private readonly clients: Redis[] = [];

  constructor(port: number, keys: string[], initial: Map<string, string>, loops: number) {
    for (const k of keys) this.last.set(k, initial.get(k)!);
    for (let l = 0; l < loops; l++) {
      const mine = keys.filter((_, i) => i % loops === l);
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, commandTimeout: 10_000 });
      client.on('error', () => undefined); // failures show up on the commands
      this.clients.push(client);
      this.runs.push(this.loop(client, mine, l));
    }
  }

  private async loop(client: Redis, keys: string[], id: number): Promise<void> {
    await client.connect();
    let seq = 0;
    while (!this.stopped) {
      const k = keys[seq % keys.length];
      const other = keys[(seq * 7 + 3) % keys.length];
      const v = `w${id}-${seq}`;
      try {
        await client.set(k, v);
        this.last.set(k, v);
        const got = await client.get(other);
        if (got !== this.last.get(other)) this.errors.push(`GET ${other}: ${got} (want ${this.last.get(other)})`);
        if (seq % 10 === 0) {
          const tag = `{mget${id}-${(seq / 10) % 50}}`;
          await client.mset(`${tag}a`, v, `${tag}b`, v, `${tag}c`, v);
          for (const x of 'abc') this.extraKeys.add(`${tag}${x}`);
          const got3 = await client.mget(`${tag}a`, `${tag}b`, `${tag}c`);
          if (got3.some((x) => x !== v)) this.errors.push(`MGET ${tag}: ${got3.join(',')} (want ${v})`);
        }
      } catch (err) {
        this.errors.push(`${(err as Error).message}`);
      }
      this.ops++;
      seq++;
    }
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.runs);
    for (const c of this.clients) c.disconnect();
  }
}

/** Wait until the running migration has done `slots` slots; fails if it ends first. */
async function waitForProgress(tp: TestProxy, slots: number, migration: Promise<MigrationReport>): Promise<void> {
  let settled = false;
  void migration.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    const p = tp.proxy.migrator.progress();
    if (p !== undefined && p.slotsDone >= slots) return;
    assert.ok(!settled, `the migration ended before ${slots} slots were done`);
    await sleep(5);
  }
}

function printRate(what: string, r: MigrationReport): void {
  console.log(`# ${what}: ${r.slotsDone} slots, ${r.keysMoved} keys in ${r.elapsedMs} ms = ${r.keysPerSecond} keys/s (replaced ${r.keysReplaced})`);
}

describe('SlotMigrator', { skip, timeout: 300_000 }, () => {
  const roots: string[] = [];
  after(async () => {
    for (const root of roots) {
      await killRedisServersUnder(root).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    }
  });

  async function newDataDir(): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-reshard-'));
    roots.push(dir);
    return dir;
  }

  test('moves slots with their keys under a read/write load: no client error, every key with its last value on its new owner', async () => {
    // A small batch so the hot slot (3000 keys) takes many MIGRATEs while the load runs.
    const tp = await startTestProxy(['--masters', '3', '--replicas', '0', '--migration-batch', '200'], await newDataDir());
    const client = new Redis({ port: tp.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    let load: Load | undefined;
    try {
      await client.connect();
      const names = [...Array.from({ length: 40_000 }, (_, i) => `key:${i}`), ...Array.from({ length: 3_000 }, (_, i) => `{hot}:${i}`)];
      const values = await loadKeys(client, names, 'v0');
      const map = await mapNow(tp);
      const hotSlot = keySlot(Buffer.from('{hot}'));
      // A quarter of the slots: the top of m0 and of m1 to m2, and the hot slot wherever it is.
      const moves = [topSlots(map, tp, 'm0', 'm2', 2048), topSlots(map, tp, 'm1', 'm2', 2048)];
      const hotOwner = tp.proxy.cluster.topology.nodes.find((n) => addressKey(n.host, n.port) === map.masters[map.slotToMaster[hotSlot]].address)!.id;
      if (!moves.some((m) => m.first <= hotSlot && hotSlot <= m.last)) moves.push({ first: hotSlot, last: hotSlot, to: hotOwner === 'm2' ? 'm0' : 'm2' });

      load = new Load(tp.port, names.filter((_, i) => i % 20 === 0), values, 3);
      await sleep(200);
      const migration = tp.proxy.migrator.migrate(moves, 'test: quarter to m2');
      // One migration at a time.
      await assert.rejects(tp.proxy.migrator.migrate([{ first: 0, last: 0, to: 'm1' }], 'second'), /already in progress/);
      await waitForProgress(tp, 0, migration);
      const progress = tp.proxy.migrator.progress();
      assert.ok(progress !== undefined && progress.slotsTotal === slotsMoved(moves) && progress.reason === 'test: quarter to m2', JSON.stringify(progress));
      const report = await migration;
      await sleep(200);
      await load.stop();
      printRate(`under load (${load.ops} client operations meanwhile)`, report);

      assert.equal(report.interrupted, false);
      assert.equal(report.slotsDone, slotsMoved(moves));
      assert.ok(report.keysMoved >= 10_000, `keys moved: ${report.keysMoved}`);
      assert.deepEqual(load.errors.slice(0, 10), [], `${load.errors.length} client errors in ${load.ops} operations`);
      assert.ok(load.ops > 100, `the load ran (${load.ops} operations)`);
      for (const [k, v] of load.last) values.set(k, v);

      const after = await mapNow(tp);
      const m2 = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm2')!;
      for (const m of moves) {
        for (const slot of [m.first, m.last]) {
          const target = tp.proxy.cluster.topology.nodes.find((n) => n.id === m.to)!;
          assert.equal(after.masters[after.slotToMaster[slot]].address, addressKey(target.host, target.port), `slot ${slot} is ${m.to}'s`);
        }
      }
      const m2Slots = after.rangesOf(after.indexOfAddress(addressKey(m2.host, m2.port))).reduce((n, [a, b]) => n + b - a + 1, 0);
      assert.ok(m2Slots >= 5461 + 4096, `m2 serves ${m2Slots} slots`);
      assert.deepEqual(await checkOnOwners(tp, values), []);
      assert.deepEqual(await openSlots(tp), [], 'no slot left MIGRATING/IMPORTING');
      assert.deepEqual(tp.proxy.cluster.operations, [], 'the operation is gone from the document');
      assert.equal(Number(await client.dbsize()), names.length + load.extraKeys.size, 'no key lost or duplicated');

      // A bad plan is refused before anything moves.
      await assert.rejects(tp.proxy.migrator.migrate([{ first: 0, last: 20_000, to: 'm1' }], 'bad'), /invalid slot range/);
      await assert.rejects(tp.proxy.migrator.migrate([{ first: 0, last: 0, to: 'nobody' }], 'bad'), /unknown node 'nobody'/);
      assert.deepEqual(tp.proxy.cluster.operations, []);

      // REBALANCE evens it out again, under load too.
      load = new Load(tp.port, names.filter((_, i) => i % 20 === 10), values, 3);
      await sleep(200);
      const even = await rebalanceCluster(tp.proxy.migrator, tp.proxy.cluster, tp.proxy.slotMaps, { reason: 'test: rebalance' });
      await sleep(200);
      await load.stop();
      printRate(`rebalance (${load.ops} client operations meanwhile)`, even);
      assert.deepEqual(load.errors.slice(0, 10), [], `${load.errors.length} client errors in ${load.ops} operations`);
      for (const [k, v] of load.last) values.set(k, v);
      const final = await mapNow(tp);
      const sizes = final.servingMasters().map((i) => final.rangesOf(i).reduce((n, [a, b]) => n + b - a + 1, 0));
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `even after REBALANCE: ${sizes.join(',')}`);
      assert.deepEqual(await checkOnOwners(tp, values), []);
    } finally {
      await load?.stop(); // the proxy waits for its clients to leave
      client.disconnect();
      await tp.proxy.stop();
    }
  });

  test('BUSYKEY: keys the target already has are replaced by the source\'s copies (the ones clients read), differing ones counted', async () => {
    const tp = await startTestProxy(['--masters', '3', '--replicas', '0'], await newDataDir());
    const client = new Redis({ port: tp.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      const keys = ['{busy}differs', '{busy}same', '{busy}only-source'];
      for (const k of keys) await client.set(k, `source:${k}`);
      const slot = keySlot(Buffer.from('{busy}'));
      const map = await mapNow(tp);
      const sourceAddr = map.masters[map.slotToMaster[slot]].address;
      const nodes = tp.proxy.cluster.topology.nodes;
      const source = nodes.find((n) => addressKey(n.host, n.port) === sourceAddr)!;
      const target = nodes.find((n) => n.id !== source.id)!;
      const password = tp.proxy.cluster.nodePassword;
      const sourceId = String(await new ControlClients({ password }).with(source, (c) => c.call('CLUSTER', 'MYID'), 2_000));
      // What a MIGRATE that timed out after the target stored its keys leaves behind: the
      // target importing the slot and holding copies (one stale, one equal) of keys the
      // source still serves.
      await new ControlClients({ password }).with(target, async (c) => {
        await c.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId);
        const replies = await c.batch([['ASKING'], ['SET', '{busy}differs', 'stale copy'], ['ASKING'], ['SET', '{busy}same', 'source:{busy}same']]);
        for (const [err] of replies) if (err !== null) throw err;
      }, 2_000);
      const report = await tp.proxy.migrator.migrate([{ first: slot, last: slot, to: target.id }], 'test: busykey');
      assert.equal(report.keysReplaced, 1, 'one key differed');
      for (const k of keys) {
        assert.equal(await client.get(k), `source:${k}`, `${k} through the proxy`);
        const onTarget = await new ControlClients({ password }).with(target, (c) => c.call('GET', k), 2_000);
        assert.equal(onTarget, `source:${k}`, `${k} on the new owner`);
      }
      assert.equal(await new ControlClients({ password }).with(source, (c) => c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)), 2_000), 0, 'nothing left on the source');
      assert.deepEqual(await openSlots(tp), []);
    } finally {
      client.disconnect();
      await tp.proxy.stop();
    }
  });

  test('a migration stopped mid-way is resumed from the document by the next proxy on the same data dir', async () => {
    const dataDir = await newDataDir();
    const flags = ['--masters', '3', '--replicas', '0', '--migration-batch', '20'];
    let tp = await startTestProxy(flags, dataDir);
    let values: Map<string, string>;
    let moves: SlotMove[];
    const client = new Redis({ port: tp.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      // Hot slots (2000 keys: 100 batches) in the plan, so a slot is likely half-moved when it stops.
      values = await loadKeys(client, [...Array.from({ length: 30_000 }, (_, i) => `r:${i}`), ...Array.from({ length: 8_000 }, (_, i) => `{hot${i % 4}}:${i}`)], 'v');
      client.disconnect();
      const map = await mapNow(tp);
      moves = [topSlots(map, tp, 'm0', 'm1', 3000), topSlots(map, tp, 'm2', 'm1', 3000)];
      const planned = new Set(moves.flatMap((m) => Array.from({ length: m.last - m.first + 1 }, (_, k) => m.first + k)));
      for (let h = 0; h < 4; h++) {
        const slot = keySlot(Buffer.from(`{hot${h}}`));
        const owner = map.masters[map.slotToMaster[slot]].address;
        const m1 = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm1')!;
        if (!planned.has(slot) && owner !== addressKey(m1.host, m1.port)) moves.push({ first: slot, last: slot, to: 'm1' });
      }
      const migration = tp.proxy.migrator.migrate(moves, 'test: interrupted');
      await waitForProgress(tp, 300, migration);
      tp.proxy.migrator.close();
      const report = await migration;
      const open = await openSlots(tp);
      console.log(`# stopped after ${report.slotsDone} slots; nodes with half-moved slots: ${open.length} (${open.map((o) => o.slice(0, 40)).join('; ')})`);
      assert.equal(report.interrupted, true, 'stopped before the end');
      assert.ok(report.slotsDone < report.slotsTotal, `stopped mid-way (${report.slotsDone} slots done)`);
      const recorded = tp.proxy.cluster.operations.filter(isMigrateSlots);
      assert.equal(recorded.length, 1, 'the operation stays in the document');
      assert.equal(recorded[0].slotsDone, report.slotsDone);
      assert.ok(recorded[0].remaining.length > 0);
      // Another migration is refused until it is finished.
      await assert.rejects(tp.proxy.migrator.migrate([{ first: 0, last: 0, to: 'm1' }], 'second'), /interrupted slot migration .* must be resumed first|shutting down/);
    } finally {
      client.disconnect();
      await tp.proxy.stop();
    }

    tp = await startTestProxy(flags, dataDir); // startProxy resumes it
    try {
      const started = Date.now();
      while (tp.proxy.cluster.operations.length > 0) {
        assert.ok(Date.now() - started < 60_000, 'the resumed migration finishes');
        await sleep(50);
      }
      const map = await mapNow(tp);
      const m1 = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm1')!;
      for (const m of moves) for (let slot = m.first; slot <= m.last; slot += 97) assert.equal(map.masters[map.slotToMaster[slot]].address, addressKey(m1.host, m1.port), `slot ${slot} moved`);
      assert.deepEqual(await checkOnOwners(tp, values), []);
      assert.deepEqual(await openSlots(tp), []);
    } finally {
      await tp.proxy.stop();
    }
  });

  test('the source master killed mid-migration: its replica takes over and the migration finishes with every key', async () => {
    const tp = await startTestProxy(['--masters', '3', '--replicas', '1', '--migration-batch', '20'], await newDataDir());
    const client = new Redis({ port: tp.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      const values = await loadKeys(client, Array.from({ length: 30_000 }, (_, i) => `f:${i}`), 'v');
      client.disconnect();
      const m0 = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm0')!;
      // Every write has reached m0's replica before the kill (a failover loses what has not).
      await tp.proxy.cluster.clients.with(m0, (c) => c.call('WAIT', '1', '4000'), 5_000);
      const map = await mapNow(tp);
      const moves = [topSlots(map, tp, 'm0', 'm2', 4000)];
      const migration = tp.proxy.migrator.migrate(moves, 'test: failover mid-way');
      await waitForProgress(tp, 200, migration);
      process.kill(Number(m0.handle), 'SIGKILL');
      const atKill = tp.proxy.migrator.progress();
      assert.ok(atKill !== undefined && atKill.slotsDone < 4000, `killed mid-way (${atKill?.slotsDone} slots done)`);
      const report = await migration;
      printRate('through a failover', report);
      assert.equal(report.slotsDone, 4000);
      const after = await mapNow(tp);
      const m0r0 = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm0r0')!;
      assert.ok(after.indexOfAddress(addressKey(m0r0.host, m0r0.port)) !== -1, 'm0r0 took over from m0 (it serves slots)');
      const m2 = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm2')!;
      for (let slot = moves[0].first; slot <= moves[0].last; slot += 37) assert.equal(after.masters[after.slotToMaster[slot]].address, addressKey(m2.host, m2.port), `slot ${slot} moved`);
      assert.deepEqual(await checkOnOwners(tp, values), []);
      assert.deepEqual(tp.proxy.cluster.operations, []);
    } finally {
      client.disconnect();
      await tp.proxy.stop();
    }
  });
});
