/**
 * Whole-shard recovery with data (issue 6 part 4, and part 5 for it), black box against
 * real redis-server processes the proxy runs (3 masters × 1 replica, a small
 * --shard-recovery-timeout):
 *   - a master and its replica killed with SIGKILL, both unable to start again (an invalid
 *     directive appended to their own redis.conf): the master's slots end up on the two
 *     survivors (every node agrees), every key reads back through the proxy with its value
 *     and TTL, the dead ids are gone from every node's CLUSTER NODES and from the document,
 *     INFO shows the result; writes made during the recovery (one straight to the new
 *     owner, one through the proxy) are not overwritten by the recovered values; a read
 *     during the recovery waits and gets the recovered value; the dead master started
 *     again later by hand cannot take its slots back;
 *   - the proxy abandoned mid-migration (what SIGKILL leaves: nodes and the recovery
 *     instance running) and a second one started on the same data dir: it resumes, no key
 *     lost, no slot unowned, no recovery instance left running; the master's AOF is
 *     unreadable there, so the replica's is used;
 *   - a master and its replica killed but able to start: restarted with their data, the
 *     master keeps its slots, no recovery.
 * Prints how long each recovery took and keys/s (no timing asserts).
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { TopologyStore } from '../src/cluster/topology/topology-store.js';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { parseClusterNodes, type ClusterNodeLine } from '../src/nodes/cluster-nodes.js';
import type { NodeRecord } from '../src/cluster/topology/topology.js';
import type { ShardRecoveryOperation } from '../src/failover/shard-recovery.js';
import { isPidAlive, waitForPidExit } from '../src/nodes/process/pid.js';
import { PortAllocator } from '../src/nodes/ports.js';
import { startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, redisServerPidsUnder, skipWithoutRedis } from './support/redis-binary.js';

const skip = await skipWithoutRedis();

const FLAGS = ['--masters', '3', '--replicas', '1', '--shard-recovery-timeout', '1500'];
const KEYS = 6000;
/** Every fifth key has a TTL of this many seconds. */
const TTL_S = 3600;
const BROKEN = '\nthis-directive-does-not-exist yes\n';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function pollUntil(what: string, ms: number, check: () => Promise<true | string>, everyMs = 100): Promise<number> {
  const start = performance.now();
  let last: string;
  for (;;) {
    try {
      const r = await check();
      if (r === true) return performance.now() - start;
      last = r;
    } catch (err) {
      last = `error: ${(err as Error).message}`;
    }
    if (performance.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${last}`);
    await sleep(everyMs);
  }
}

async function onNode<T>(port: number, password: string, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = await strictClient(port, 3000, password);
  try {
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

async function clusterNodes(port: number, password: string): Promise<ClusterNodeLine[]> {
  return parseClusterNodes(String(await onNode(port, password, (c) => c.call('CLUSTER', 'NODES'))));
}

function doc(tp: TestProxy, id: string): NodeRecord {
  const n = tp.proxy.cluster.topology.nodes.find((x) => x.id === id);
  assert.ok(n, `node ${id} is in the document`);
  return n;
}

/** The shard to kill: the master serving slot 8000 (the middle one) and its replica, with Redis ids and slots. */
interface Victim {
  master: NodeRecord;
  replica: NodeRecord;
  redisIds: string[];
  slots: Uint8Array;
  survivors: NodeRecord[];
}

async function victimShard(tp: TestProxy): Promise<Victim> {
  const pw = tp.proxy.cluster.nodePassword;
  const nodes = tp.proxy.cluster.topology.nodes;
  const byPort = new Map(nodes.map((n) => [n.port, n]));
  const lines = await clusterNodes(nodes[0].port, pw);
  const owner = lines.find((l) => l.flags.has('master') && rangesHave(l.slots, 8000));
  assert.ok(owner);
  const replicaLine = lines.find((l) => l.masterId === owner.id);
  assert.ok(replicaLine, 'the victim master has a replica');
  const master = byPort.get(owner.port)!;
  const replica = byPort.get(replicaLine.port)!;
  const slots = new Uint8Array(16384);
  for (let i = 0; i < owner.slots.length; i += 2) slots.fill(1, owner.slots[i], owner.slots[i + 1] + 1);
  const survivors = lines.filter((l) => l.flags.has('master') && l.id !== owner.id && l.slots.length > 0).map((l) => byPort.get(l.port)!);
  assert.equal(survivors.length, 2);
  return { master, replica, redisIds: [owner.id, replicaLine.id], slots, survivors };
}

function rangesHave(pairs: number[], slot: number): boolean {
  for (let i = 0; i < pairs.length; i += 2) if (slot >= pairs[i] && slot <= pairs[i + 1]) return true;
  return false;
}

interface Written {
  key: string;
  value: string;
  ttl: boolean;
}

/** KEYS keys over all slots through the proxy, every fifth with a TTL. */
async function writeKeys(c: Redis, prefix: string): Promise<Written[]> {
  const written: Written[] = [];
  for (let i = 0; i < KEYS; i++) written.push({ key: `${prefix}:${i}`, value: `value-${i}-${'x'.repeat(i % 50)}`, ttl: i % 5 === 0 });
  for (let i = 0; i < written.length; i += 500) {
    const p = c.pipeline();
    for (const w of written.slice(i, i + 500)) {
      if (w.ttl) p.set(w.key, w.value, 'EX', TTL_S);
      else p.set(w.key, w.value);
    }
    for (const [err, r] of (await p.exec()) ?? []) assert.equal(err ?? r, 'OK');
  }
  return written;
}

/** Keys that do not read back through the proxy with their value (and a TTL when they had one). */
async function wrongKeys(c: Redis, written: readonly Written[], except: ReadonlyMap<string, string> = new Map()): Promise<string[]> {
  const bad: string[] = [];
  for (let i = 0; i < written.length; i += 500) {
    const batch = written.slice(i, i + 500);
    const p = c.pipeline();
    for (const w of batch) p.get(w.key).ttl(w.key);
    const replies = (await p.exec()) ?? [];
    batch.forEach((w, j) => {
      const [gerr, value] = replies[2 * j];
      const [, ttl] = replies[2 * j + 1];
      const want = except.get(w.key) ?? w.value;
      if (gerr !== null || value !== want) bad.push(`${w.key}=${String(gerr?.message ?? value)} (expected ${want})`);
      else if (!except.has(w.key) && w.ttl && !(Number(ttl) > 0 && Number(ttl) <= TTL_S)) bad.push(`${w.key}: TTL ${String(ttl)} (expected 1..${TTL_S})`);
      else if (!except.has(w.key) && !w.ttl && Number(ttl) !== -1) bad.push(`${w.key}: TTL ${String(ttl)} (expected none)`);
    });
  }
  return bad;
}

/** `# Recovery` lines of the proxy's INFO, as field maps. */
async function recoveryInfo(c: Redis): Promise<Record<string, string>[]> {
  const info = String(await c.call('INFO', 'recovery'));
  return [...info.matchAll(/^recovery\d+:(.*?)\r?$/gm)].map((m) => Object.fromEntries(m[1].split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

/** Make both victim nodes unable to start, then SIGKILL them; resolves once both are gone. */
async function killShard(v: Victim): Promise<void> {
  for (const n of [v.master, v.replica]) await appendFile(path.join(n.dataDir!, 'redis.conf'), BROKEN);
  const pids = [Number(v.master.handle), Number(v.replica.handle)];
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  for (const pid of pids) assert.ok(await waitForPidExit(pid, 5000));
}

/** After the recovery: every live node serves the victim's slots from a survivor, and knows nothing of the dead. */
async function assertSlotsOnSurvivors(tp: TestProxy, v: Victim): Promise<Map<string, number>> {
  const pw = tp.proxy.cluster.nodePassword;
  const survivorPorts = new Set(v.survivors.map((s) => doc(tp, s.id).port));
  const perSurvivor = new Map<string, number>();
  for (const n of tp.proxy.cluster.topology.nodes) {
    const lines = await clusterNodes(n.port, pw);
    for (const id of v.redisIds) assert.ok(!lines.some((l) => l.id === id), `${n.id} has forgotten ${id}`);
    const ownerOf = new Array<ClusterNodeLine | undefined>(16384);
    for (const l of lines) for (let i = 0; i < l.slots.length; i += 2) ownerOf.fill(l, l.slots[i], l.slots[i + 1] + 1);
    for (let s = 0; s < 16384; s++) {
      const o = ownerOf[s];
      assert.ok(o !== undefined, `${n.id}: slot ${s} has an owner`);
      if (v.slots[s] === 1) {
        assert.ok(survivorPorts.has(o.port), `${n.id}: slot ${s} of the dead master is served by a survivor (port ${o.port})`);
        perSurvivor.set(String(o.port), (perSurvivor.get(String(o.port)) ?? 0) + 1);
      }
    }
  }
  return perSurvivor;
}

const open: TestProxy[] = [];
const dataDirs: string[] = [];
/** Data dirs of abandoned proxies, removed at the end (the proxy that resumed there does not own them). */
const abandonedDirs: string[] = [];
const clients: Redis[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const tp of open.splice(0)) await tp.close().catch(() => {});
  for (const dir of dataDirs.splice(0)) await killRedisServersUnder(dir);
  for (const dir of abandonedDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

after(async () => {
  for (const dir of dataDirs) await killRedisServersUnder(dir);
});

async function proxyClient(tp: TestProxy): Promise<Redis> {
  const c = await strictClient(tp.port, 10_000);
  clients.push(c);
  return c;
}

describe('shard recovery (a master and its replicas lost for good)', { skip }, () => {
  test('slots to the survivors, keys with their TTLs, newer writes kept, dead nodes forgotten, INFO reports, the dead master cannot take its slots back', async (t) => {
    let victim: Victim | undefined;
    const newer = new Map<string, string>();
    let readDuring: Promise<string | null> | undefined;
    let writeDuring: Promise<unknown> | undefined;
    let direct: Written | undefined;
    let throughProxy: Written | undefined;
    let readBack: Written | undefined;
    let written: Written[] = [];
    let pausedOnce = false;
    let c: Redis | undefined;
    const tp = await startTestProxy(FLAGS, undefined, { hooks: {
      // Once the survivors own the slots and before any key has moved: one write straight to
      // a new owner (as another proxy or client could), one write and one read through the proxy.
      async onRecoveryStep(op: ShardRecoveryOperation) {
        if (op.phase !== 'migrate' || op.keys.recovered > 0 || pausedOnce || victim === undefined || c === undefined) return;
        pausedOnce = true;
        const onVictim = written.filter((w) => victim!.slots[calculateSlot(w.key)] === 1 && !w.ttl);
        [direct, throughProxy, readBack] = [onVictim[0], onVictim[1], onVictim[2]];
        const slot = calculateSlot(direct.key);
        const ownerId = op.assignment.find(([a, b]) => slot >= a && slot <= b)![2];
        const owner = doc(tp, ownerId);
        await onNode(owner.port, tp.proxy.cluster.nodePassword, (n) => n.set(direct!.key, 'newer-direct'));
        newer.set(direct.key, 'newer-direct');
        writeDuring = c.set(throughProxy.key, 'newer-through-proxy');
        newer.set(throughProxy.key, 'newer-through-proxy');
        readDuring = c.get(readBack.key);
        await sleep(200); // both are held (not answered) meanwhile
      },
    } });
    open.push(tp);
    dataDirs.push(tp.dataDir);
    c = await proxyClient(tp);
    written = await writeKeys(c, 'rk');
    victim = await victimShard(tp);
    const onVictim = written.filter((w) => victim!.slots[calculateSlot(w.key)] === 1).length;
    await sleep(1200); // appendfsync everysec: what the master acknowledged is in its AOF

    const killedAt = performance.now();
    await killShard(victim);
    let tookMs = 0;
    await pollUntil('INFO # Recovery to show the recovery done', 60_000, async () => {
      const r = await recoveryInfo(c!);
      if (r.length === 0) return 'no recovery yet';
      if (r[0].phase !== 'done') return `phase ${r[0].phase}`;
      tookMs = Number(r[0].ms);
      return true;
    });
    const sinceKill = performance.now() - killedAt;
    const [report] = await recoveryInfo(c);
    t.diagnostic(`INFO: ${JSON.stringify(report)}`);
    t.diagnostic(
      `recovery took ${tookMs} ms (${((Number(report.keys_recovered) * 1000) / Math.max(1, tookMs)).toFixed(0)} keys/s); ` +
        `kill → done ${sinceKill.toFixed(0)} ms (with --shard-recovery-timeout 1500 and the 1 s node timeout)`,
    );
    assert.ok(pausedOnce, 'the recovery reached its migrate phase (the hook ran)');
    assert.equal(report.master, victim.master.id);
    assert.equal(report.source, victim.master.id, 'the master\'s own AOF was used');
    assert.equal(report.unrecoverable, '-');
    assert.equal(Number(report.keys_failed), 0);
    assert.equal(Number(report.keys_skipped), 1, 'the key written straight to its new owner kept its newer value (BUSYKEY)');
    assert.equal(Number(report.keys_recovered) + Number(report.keys_skipped), onVictim, `every key of the dead master (${onVictim}) accounted for`);

    assert.equal(await writeDuring, 'OK', 'the write through the proxy during the recovery was answered');
    assert.equal(await readDuring, readBack!.value, 'the read during the recovery waited and got the recovered value');

    const perSurvivor = await assertSlotsOnSurvivors(tp, victim);
    t.diagnostic(`dead master's slots now per survivor port (summed over all nodes' views): ${JSON.stringify(Object.fromEntries(perSurvivor))}`);
    assert.equal(perSurvivor.size, 2, 'both survivors got a share');

    assert.deepEqual(await wrongKeys(c, written, newer), [], 'every key reads back with its value and TTL');
    const docIds = tp.proxy.cluster.topology.nodes.map((n) => n.id);
    assert.ok(!docIds.includes(victim.master.id) && !docIds.includes(victim.replica.id), `the dead nodes left the document: ${docIds.join(',')}`);
    assert.deepEqual(tp.proxy.cluster.operations, [], 'no operation left under way');
    const persisted = JSON.parse(await readFile(path.join(tp.dataDir, 'topology.json'), 'utf8')) as { nodes: NodeRecord[]; operations?: unknown[] };
    assert.deepEqual(persisted.nodes.map((n) => n.id), docIds, 'the document on disk too');
    const reloaded = await new TopologyStore(tp.dataDir).load(); // valid: a restarted proxy can read it
    assert.ok(reloaded !== undefined && 'removedNodes' in reloaded, 'the document loads');
    assert.deepEqual(
      (reloaded.removedNodes ?? []).map((r) => r.id).sort(),
      [victim.master.id, victim.replica.id].sort(),
      'the dead ids are retired (never given to a new node)',
    );
    assert.ok(reloaded.removedNodes!.every((r) => /^[0-9a-f]{40}$/.test(r.redisId ?? '')), 'with their Redis ids, for nodes that still list them to forget');
    const recoveryDir = path.join(tp.dataDir, 'recovery', report.id);
    // Like every file the proxy writes in its data dir: its owner's alone (SECURITY.md).
    assert.equal((await stat(path.join(recoveryDir, 'report.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(recoveryDir)).mode & 0o777, 0o700);
    assert.deepEqual((await readdir(path.join(recoveryDir, 'nodes'))).sort(), [victim.master.id, victim.replica.id].sort(), 'the dead nodes\' dirs are kept aside');
    const pids = await redisServerPidsUnder(tp.dataDir);
    assert.equal(pids.length, 4, `only the 4 live nodes run (no recovery instance left): ${pids.join(',')}`);

    // The dead master started again by hand, on its old nodes.conf: it must not take its slots back.
    const aside = path.join(recoveryDir, 'nodes', victim.master.id);
    const oldDir = victim.master.dataDir!;
    const conf = (await readFile(path.join(aside, 'redis.conf'), 'utf8')).replace(BROKEN, '\n').split(oldDir).join(aside);
    await writeFile(path.join(aside, 'redis.conf'), conf);
    const ghost = spawn('redis-server', [path.join(aside, 'redis.conf')], { cwd: aside, detached: true, stdio: 'ignore' });
    ghost.unref();
    try {
      const ghostPort = victim.master.port;
      await pollUntil('the dead master to answer again', 10_000, async () => ((await onNode(ghostPort, tp.proxy.cluster.nodePassword, (n) => n.ping())) === 'PONG' ? true : 'no'));
      await sleep(3000); // gossip rounds
      await assertSlotsOnSurvivors(tp, victim);
      const ghostSelf = (await clusterNodes(ghostPort, tp.proxy.cluster.nodePassword)).find((l) => l.flags.has('myself'));
      t.diagnostic(`the old master, started again by hand: its own view: ${(ghostSelf?.slots.length ?? 0) > 0 ? `slots ${ghostSelf?.slots.join(',')}` : 'no slots'}`);
      assert.deepEqual(await wrongKeys(c, written, newer), [], 'still every key, with the old master back');
    } finally {
      if (ghost.pid !== undefined && isPidAlive(ghost.pid)) process.kill(ghost.pid, 'SIGKILL');
    }
  });

  test('a proxy abandoned mid-migration (nodes and recovery instance left running): the next one resumes, nothing lost; an unreadable master AOF falls back to the replica\'s', async (t) => {
    let abandonAt: ((op: ShardRecoveryOperation) => void) | undefined;
    let go: (() => void) | undefined;
    const reached = new Promise<ShardRecoveryOperation>((resolve) => (abandonAt = resolve));
    const first = await startTestProxy(FLAGS, undefined, { hooks: {
      async onRecoveryStep(op: ShardRecoveryOperation) {
        if (op.phase !== 'migrate' || op.keys.recovered === 0 || go !== undefined) return;
        await new Promise<void>((resolve) => {
          go = resolve;
          abandonAt!(op);
        });
      },
    } });
    dataDirs.push(first.dataDir);
    abandonedDirs.push(first.dataDir);
    const c = await strictClient(first.port, 10_000);
    const written = await writeKeys(c, 'rs');
    const victim = await victimShard(first);
    const onVictim = written.filter((w) => victim.slots[calculateSlot(w.key)] === 1).length;
    await sleep(1200);
    await killShard(victim);
    // The master's AOF unreadable: its base file overwritten (the copy is made seconds later).
    const aofDir = path.join(victim.master.dataDir!, 'appendonlydir');
    const base = (await readdir(aofDir)).find((f) => f.includes('.base.'));
    assert.ok(base, `a base file in ${aofDir}`);
    await writeFile(path.join(aofDir, base), 'this is not an RDB file');

    const op = await reached;
    t.diagnostic(`abandoning the first proxy in phase ${op.phase} after ${op.keys.recovered} of ${onVictim} keys (source ${op.source})`);
    assert.equal(op.source, victim.replica.id, 'the replica\'s AOF is used when the master\'s cannot be loaded');
    assert.ok(op.keys.recovered < onVictim, 'abandoned before every key moved');
    c.disconnect();
    // Abandoned while the recovery waits in the hook, right after persisting a chunk: like a
    // SIGKILL there (keys moved after the last persisted step would be moved but not counted).
    await first.proxy.abandon();
    go!();
    const instancePid = Number(op.instance?.handle);
    assert.ok(isPidAlive(instancePid), 'the recovery instance is still running, as after a SIGKILL');

    const started = performance.now();
    const second = await startTestProxy(FLAGS, first.dataDir);
    open.push(second);
    const c2 = await proxyClient(second);
    await pollUntil('the resumed recovery to finish', 60_000, async () => {
      const r = await recoveryInfo(c2);
      return r[0]?.phase === 'done' ? true : `recovery: ${JSON.stringify(r)}`;
    });
    const [report] = await recoveryInfo(c2);
    t.diagnostic(`resumed and finished ${(performance.now() - started).toFixed(0)} ms after the second start: ${JSON.stringify(report)}`);
    assert.equal(report.id, op.id);
    assert.equal(report.source, victim.replica.id);
    assert.equal(Number(report.keys_failed), 0);
    assert.equal(Number(report.keys_recovered), onVictim, 'every key counted once across both proxies');
    assert.ok(!isPidAlive(instancePid), 'the adopted recovery instance was stopped');
    assert.equal((await redisServerPidsUnder(first.dataDir)).length, 4, 'only the 4 live nodes run');
    await assertSlotsOnSurvivors(second, victim);
    assert.deepEqual(await wrongKeys(c2, written), [], 'every key reads back with its value and TTL');
    assert.deepEqual(second.proxy.cluster.operations, []);
    assert.ok(!second.proxy.cluster.topology.nodes.some((n) => n.id === victim.master.id || n.id === victim.replica.id));
  });

  test('a master and its replica killed but able to start: both restarted from their dirs, the master keeps its slots and keys, no recovery', async (t) => {
    const tp = await startTestProxy(FLAGS);
    open.push(tp);
    dataDirs.push(tp.dataDir);
    const c = await proxyClient(tp);
    const written = await writeKeys(c, 'rr');
    const victim = await victimShard(tp);
    await sleep(1200);
    const pids = [Number(victim.master.handle), Number(victim.replica.handle)];
    const killedAt = performance.now();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const pw = tp.proxy.cluster.nodePassword;
    await pollUntil('the master back, serving its slots', 30_000, async () => {
      const m = doc(tp, victim.master.id);
      if (Number(m.handle) === pids[0]) return 'not restarted yet';
      const me = (await clusterNodes(m.port, pw)).find((l) => l.flags.has('myself'))!;
      if (me.id !== victim.redisIds[0]) return `another node id ${me.id}`;
      for (let s = 0; s < 16384; s++) if (victim.slots[s] === 1 && !rangesHave(me.slots, s)) return `slot ${s} not served by it`;
      return true;
    });
    t.diagnostic(`master back with its slots ${(performance.now() - killedAt).toFixed(0)} ms after the kill`);
    await pollUntil('every key readable', 15_000, async () => {
      const bad = await wrongKeys(c, written);
      return bad.length === 0 ? true : `${bad.length} wrong, e.g. ${bad[0]}`;
    });
    await sleep(2500); // past --shard-recovery-timeout: still no recovery
    assert.deepEqual(await recoveryInfo(c), [], 'no shard recovery');
    assert.deepEqual(tp.proxy.cluster.operations, []);
    assert.equal(tp.proxy.cluster.topology.nodes.length, 6);
    const ports = new PortAllocator();
    assert.equal(await ports.isFree(doc(tp, victim.master.id).port), false, 'the master listens');
  });
});

describe('requests for a lost shard before its recovery starts (issue 13 part 4)', { skip }, () => {
  test('wait (bounded) and get CLUSTERDOWN, never the connection error with an internal address, then are served by the survivors', async (t) => {
    const failoverTimeoutMs = 800;
    const tp = await startTestProxy(['--masters', '3', '--replicas', '1', '--shard-recovery-timeout', '6000', '--failover-timeout', String(failoverTimeoutMs)]);
    open.push(tp);
    dataDirs.push(tp.dataDir);
    const c = await proxyClient(tp);
    const victim = await victimShard(tp);
    const keys: string[] = [];
    for (let i = 0; keys.length < 20; i++) if (victim.slots[calculateSlot(`lost:${i}`)] === 1) keys.push(`lost:${i}`);
    await killShard(victim);
    // The hold the failing master got expires after --failover-timeout; the recovery starts
    // after --shard-recovery-timeout: the window between the two is what this is about.
    await sleep(failoverTimeoutMs + 1500);
    const errors = new Map<string, number>();
    const waits: number[] = [];
    const until = performance.now() + 3000;
    while (performance.now() < until) {
      await Promise.all(
        keys.map(async (k, i) => {
          const started = performance.now();
          try {
            await (i % 2 === 0 ? c.get(k) : c.set(k, 'v'));
            errors.set('(answered)', (errors.get('(answered)') ?? 0) + 1);
          } catch (err) {
            const message = (err as Error).message;
            errors.set(message, (errors.get(message) ?? 0) + 1);
            waits.push(performance.now() - started);
          }
        }),
      );
    }
    t.diagnostic(`replies in the window: ${JSON.stringify(Object.fromEntries(errors))}; waited ${Math.min(...waits).toFixed(0)}..${Math.max(...waits).toFixed(0)} ms before the error`);
    assert.ok(waits.length > 0, 'the recovery had not started: requests failed');
    for (const message of errors.keys()) {
      if (message === '(answered)') continue;
      assert.match(message, /^CLUSTERDOWN The cluster is down$/, 'a retryable error in Redis Cluster\'s words');
      assert.doesNotMatch(message, /127\.0\.0\.1|:\d{2,5}\b/, 'no internal address');
    }
    assert.ok(Math.max(...waits) >= failoverTimeoutMs / 2, 'requests waited for the master before the error');
    assert.ok(Math.max(...waits) < failoverTimeoutMs + 1000, 'the wait is bounded by --failover-timeout');
    // Once the shard is recovered onto the survivors, the same requests are served.
    await pollUntil('the lost shard\'s keys to be served again', 60_000, async () => {
      await c.set(keys[0], 'after');
      return (await c.get(keys[0])) === 'after' ? true : 'not yet';
    });
  });
});
