/**
 * Adding, removing and replacing nodes (issue 6, parts 2 and 5, the node side of 6),
 * against real redis-server processes:
 *   - ClusterManager.addNode: an empty master (known by every node, survives a restart of
 *     the manager), a replica (in sync, holds its master's keys); unsafe requests refused
 *     with nothing changed;
 *   - ClusterManager.removeNode: a replica (stopped, forgotten by every node, dir moved
 *     aside, never resurrected, its id never reused), an empty master with its replica, a
 *     dead node; a master with slots, the last master and unknown ids refused; a node that
 *     was down during a removal forgets the removed node when it is restarted;
 *   - operations left by a killed proxy: an addition finished (or rolled back), a removal
 *     finished, on the next open;
 *   - through a running proxy: a replica (and a failed-over former master) whose
 *     redis.conf makes it unable to start is replaced by a new replica with its master's keys.
 * Every redis-server started under the temp root is SIGKILLed in `after`, whatever happened.
 */
import assert from 'node:assert/strict';
import { appendFile, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ClusterManager } from '../src/cluster/cluster-manager.js';
import { parseClusterNodes, type ClusterNodeLine } from '../src/nodes/cluster-nodes.js';
import { keySlot } from '../src/cluster/key-slot.js';
import { NodeChangeError, REMOVED_DIR, type AddNodeOperation, type RemoveNodeOperation } from '../src/cluster/operations/node-changes.js';
import type { NodeRecord, SlotRange, TopologyDoc } from '../src/cluster/topology/topology.js';
import { NODES_DIR } from '../src/cluster/topology/topology-builder.js';
import { START_TRIES } from '../src/failover/failover-monitor.js';
import { createLogger, silentLogger, type Logger } from '../src/log.js';
import { ControlClients, parseInfo, type ControlClient, type NodeAddress } from '../src/nodes/control-client.js';
import { exists } from '../src/nodes/files.js';
import { isPidAlive, waitForPidExit } from '../src/nodes/process/pid.js';
import { CONF_FILE } from '../src/nodes/redis-conf.js';
import { sleep } from '../src/nodes/wait.js';
import { eventually, simulateProxySigkill, TempDataDirs, testProvider } from './support/cluster-manager.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, redisServerPidsUnder, skipWithoutRedis } from './support/redis-binary.js';

const log = process.env.TEST_LOG ? createLogger({ level: process.env.TEST_LOG, pretty: false }) : silentLogger();
const skip = await skipWithoutRedis();
const TIMEOUT = 90_000;
const linux = process.platform === 'linux';

const temp = new TempDataDirs('ihs-node-changes-');

function open(dataDir: string, masters = 2, replicas = 1): Promise<ClusterManager> {
  return ClusterManager.open({ dataDir, masters, replicas, provider: testProvider(log), log });
}

function node(doc: TopologyDoc, id: string): NodeRecord {
  const n = doc.nodes.find((x) => x.id === id);
  assert.ok(n, `${id} is in the document`);
  return n;
}

function call<T>(addr: NodeAddress, password: string, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  return new ControlClients({ password }).with(addr, fn, 2_000);
}

async function clusterNodes(addr: NodeAddress, password: string): Promise<ClusterNodeLine[]> {
  return parseClusterNodes(String(await call(addr, password, (c) => c.call('CLUSTER', 'NODES'))));
}

async function myId(addr: NodeAddress, password: string): Promise<string> {
  return String(await call(addr, password, (c) => c.call('CLUSTER', 'MYID')));
}

async function info(addr: NodeAddress, password: string, section: string): Promise<Map<string, string>> {
  return parseInfo(String(await call(addr, password, (c) => (section === 'cluster' ? c.call('CLUSTER', 'INFO') : c.call('INFO', section)))));
}

/** No node of the document lists `redisId`; every node knows exactly the document's nodes. */
async function assertForgotten(doc: TopologyDoc, redisId: string): Promise<void> {
  for (const n of doc.nodes) {
    const view = await clusterNodes(n, doc.nodePassword);
    assert.ok(!view.some((l) => l.id === redisId), `${n.id} still lists the removed node ${redisId}`);
    assert.equal((await info(n, doc.nodePassword, 'cluster')).get('cluster_known_nodes'), String(doc.nodes.length), `${n.id}: cluster_known_nodes`);
  }
}

/** Every node of the document knows `id` (its Redis id) at its address, not failing, with these flags; each knows `total` nodes. */
async function knownByAll(doc: TopologyDoc, id: string, role: 'master' | 'slave', total = doc.nodes.length): Promise<string | true> {
  const target = node(doc, id);
  const redisId = await myId(target, doc.nodePassword);
  for (const n of doc.nodes) {
    const line = (await clusterNodes(n, doc.nodePassword)).find((l) => l.id === redisId);
    if (line === undefined) return `${n.id} does not know ${id}`;
    if (line.host !== target.host || line.port !== target.port) return `${n.id} sees ${id} at ${line.host}:${line.port}`;
    if (!line.flags.has(role) || line.flags.has('fail') || line.flags.has('fail?') || line.flags.has('handshake')) return `${n.id} sees ${id} as ${[...line.flags].join(',')}`;
    if (role === 'master' && line.slots.length > 0) return `${n.id} sees ${id} serving slots`;
    const known = (await info(n, doc.nodePassword, 'cluster')).get('cluster_known_nodes');
    if (known !== String(total)) return `${n.id}: cluster_known_nodes:${known}, not ${total}`;
  }
  return true;
}

/** `count` keys whose slots the formation gave to `masterId`, written straight to it. */
async function writeKeysTo(doc: TopologyDoc, masterId: string, tag: string, count = 50): Promise<string[]> {
  const ranges = doc.initialSlots.filter((r: SlotRange) => r[2] === masterId);
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${tag}:${i}`;
    const slot = keySlot(Buffer.from(key));
    if (ranges.some(([first, last]) => slot >= first && slot <= last)) keys.push(key);
  }
  await call(node(doc, masterId), doc.nodePassword, async (c) => {
    for (const k of keys) assert.equal(await c.call('SET', k, `value-of-${k}`), 'OK');
  });
  return keys;
}

/** The replica `id` holds every key (READONLY reads on it). */
async function replicaHas(doc: TopologyDoc, id: string, keys: readonly string[]): Promise<string | true> {
  const got = await call(node(doc, id), doc.nodePassword, async (c) => {
    await c.call('READONLY');
    return Promise.all(keys.map((k) => c.call('GET', k)));
  });
  const missing = got.filter((v, i) => v !== `value-of-${keys[i]}`).length;
  return missing === 0 ? true : `${id} lacks ${missing} of ${keys.length} keys`;
}

function assertRefused(what: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof NodeChangeError, `a NodeChangeError, got ${String(err)}`);
    assert.match(err.message, what);
    return true;
  };
}

describe('adding and removing nodes (ClusterManager, local redis-server processes)', { skip }, () => {
  before(() => temp.setUp());
  after(() => temp.cleanUp());

  test('add a master: empty, a new id, known by every node (cluster_known_nodes); after a restart it is there and a node that was down meanwhile knows it', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await temp.newDataDir();
    let cluster = await open(dataDir);
    const keys = await writeKeysTo(cluster.topology, 'm0', 'addm');
    const down = node(cluster.topology, 'm1r0');

    // A node that is down does not hold the addition up (it hears of the new node when it is back).
    process.kill(Number(down.handle), 'SIGKILL');
    assert.ok(await waitForPidExit(Number(down.handle), 5_000));
    const addStarted = Date.now();
    const added = await cluster.addNode();
    t.diagnostic(`addNode (empty master): ${Date.now() - addStarted} ms`);
    assert.equal(added.id, 'm2', 'the next shard number');
    assert.equal(added.dataDir, path.join(dataDir, NODES_DIR, 'm2'));
    assert.ok(isPidAlive(Number(added.handle)));
    assert.equal(cluster.topology.nodes.length, 5);
    assert.deepEqual(cluster.operations, [], 'the operation is over');
    const up = { ...cluster.topology, nodes: cluster.topology.nodes.filter((n) => n.id !== 'm1r0') };
    await eventually('every node that is up knows m2 as an empty master', () => knownByAll(up, 'm2', 'master', 5));
    assert.equal((await info(added, cluster.nodePassword, 'cluster')).get('cluster_state'), 'ok');
    const redisId = await myId(added, cluster.nodePassword);

    await cluster.shutdown();
    cluster = await open(dataDir);
    t.after(() => cluster.shutdown());
    const again = node(cluster.topology, 'm2');
    assert.equal(await myId(again, cluster.nodePassword), redisId, 'the same node, from its own dir');
    await eventually('every node (m1r0 too) knows m2 after the restart', () => knownByAll(cluster.topology, 'm2', 'master'));
    assert.deepEqual(
      await call(node(cluster.topology, 'm0'), cluster.nodePassword, (c) => Promise.all(keys.map((k) => c.call('GET', k)))),
      keys.map((k) => `value-of-${k}`),
      'the keys are where they were',
    );
    if (linux) assert.equal((await redisServerPidsUnder(dataDir)).length, 5, 'one redis-server per node, no more');
  });

  test('add a replica: in sync with its master, holds its keys; unknown master and a replica of a replica refused, nothing changed', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await temp.newDataDir();
    const cluster = await open(dataDir);
    t.after(() => cluster.shutdown());
    const keys = await writeKeysTo(cluster.topology, 'm0', 'addr', 200);

    const addStarted = Date.now();
    const added = await cluster.addNode({ replicaOf: 'm0' });
    t.diagnostic(`addNode (replica of a master with ${keys.length} keys, in sync): ${Date.now() - addStarted} ms`);
    assert.equal(added.id, 'm0r1', 'the next replica id of the shard');
    const pw = cluster.nodePassword;
    const repl = await info(added, pw, 'replication');
    assert.equal(repl.get('role'), 'slave');
    assert.equal(repl.get('master_link_status'), 'up', 'in sync when addNode returns');
    assert.equal(repl.get('master_port'), String(node(cluster.topology, 'm0').port));
    assert.equal(await replicaHas(cluster.topology, 'm0r1', keys), true);
    await eventually('every node knows m0r1 as a replica', () => knownByAll(cluster.topology, 'm0r1', 'slave'));
    const m0 = (await clusterNodes(added, pw)).find((l) => l.flags.has('myself'));
    assert.equal(m0?.masterId, await myId(node(cluster.topology, 'm0'), pw));

    const before = structuredClone(cluster.topology);
    const dirs = await readdir(path.join(dataDir, NODES_DIR));
    await assert.rejects(cluster.addNode({ replicaOf: 'm7' }), assertRefused(/^ERR unknown node m7$/));
    await assert.rejects(cluster.addNode({ replicaOf: 'm0r0' }), assertRefused(/^ERR m0r0 is a replica of m0: a replica of a replica is not allowed/));
    assert.deepEqual(cluster.topology, before, 'the document is unchanged');
    assert.deepEqual(await readdir(path.join(dataDir, NODES_DIR)), dirs, 'no dir created');
    if (linux) assert.equal((await redisServerPidsUnder(dataDir)).length, 5, 'no process started');
  });

  test('remove a replica: stopped, forgotten by every node (also a few gossip rounds later), dir aside, not resurrected by a restart, id never reused', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await temp.newDataDir();
    let cluster = await open(dataDir);
    const victim = node(cluster.topology, 'm0r0');
    const redisId = await myId(victim, cluster.nodePassword);
    const pid = Number(victim.handle);

    const removeStarted = Date.now();
    await cluster.removeNode('m0r0');
    t.diagnostic(`removeNode (a running replica): ${Date.now() - removeStarted} ms`);
    assert.ok(await waitForPidExit(pid, 5_000), 'its process is gone');
    assert.ok(!cluster.topology.nodes.some((n) => n.id === 'm0r0'), 'not in the document');
    assert.deepEqual(cluster.operations, []);
    const [removed] = cluster.topology.removedNodes ?? [];
    assert.equal(removed?.id, 'm0r0');
    assert.equal(removed.redisId, redisId);
    assert.ok(removed.movedTo?.startsWith(path.join(dataDir, REMOVED_DIR, 'm0r0-')), `moved aside: ${removed.movedTo}`);
    assert.ok(await exists(path.join(removed.movedTo!, 'appendonlydir')), 'its data kept');
    assert.ok(!(await exists(victim.dataDir!)), 'its dir is no longer under nodes/');
    await assertForgotten(cluster.topology, redisId);
    await sleep(3_000); // gossip rounds: nobody brings it back
    await assertForgotten(cluster.topology, redisId);

    const next = await cluster.addNode({ replicaOf: 'm0' });
    assert.equal(next.id, 'm0r1', 'a removed id is never given again');

    await cluster.shutdown();
    await simulateProxySigkill(dataDir); // not needed after shutdown, but the next open must not care either way
    cluster = await open(dataDir);
    t.after(() => cluster.shutdown());
    assert.ok(!cluster.topology.nodes.some((n) => n.id === 'm0r0'), 'still not in the document');
    if (linux) assert.deepEqual(await redisServerPidsUnder(removed.movedTo!), [], 'no redis-server in the removed dir');
    assert.ok(!(await exists(victim.dataDir!)), 'no new dir for it either');
    await assertForgotten(cluster.topology, redisId);
  });

  test('removal refused, nothing changed: a master that serves slots, the last master, an unknown node', { timeout: TIMEOUT }, async (t) => {
    const two = await open(await temp.newDataDir(), 2, 0);
    t.after(() => two.shutdown());
    const before = structuredClone(two.topology);
    await assert.rejects(two.removeNode('m0'), assertRefused(/^ERR m0 still serves 8192 hash slots: move them to the other masters first/));
    await assert.rejects(two.removeNode('m0r0'), assertRefused(/^ERR unknown node m0r0$/));
    assert.deepEqual(two.topology, before);
    assert.ok(isPidAlive(Number(node(two.topology, 'm0').handle)));

    const one = await open(await temp.newDataDir(), 1, 1);
    t.after(() => one.shutdown());
    await assert.rejects(one.removeNode('m0'), assertRefused(/^ERR m0 is the last master/));
    assert.deepEqual(one.operations, []);
  });

  test('an empty master goes with its replica; a dead replica is removed the same way (forgotten, dir aside)', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await temp.newDataDir();
    const cluster = await open(dataDir);
    t.after(() => cluster.shutdown());
    const pw = cluster.nodePassword;
    const master = await cluster.addNode();
    const replica = await cluster.addNode({ replicaOf: master.id });
    const ids = [await myId(master, pw), await myId(replica, pw)];

    await cluster.removeNode(master.id);
    assert.deepEqual(
      cluster.topology.nodes.map((n) => n.id),
      ['m0', 'm0r0', 'm1', 'm1r0'],
      'the empty master and its replica are gone',
    );
    assert.deepEqual(
      (cluster.topology.removedNodes ?? []).map((r) => r.id),
      [replica.id, master.id],
      'replica first',
    );
    for (const id of ids) await assertForgotten(cluster.topology, id);

    const dead = node(cluster.topology, 'm1r0');
    const deadId = await myId(dead, pw);
    process.kill(Number(dead.handle), 'SIGKILL');
    assert.ok(await waitForPidExit(Number(dead.handle), 5_000));
    await cluster.removeNode('m1r0');
    assert.ok(!cluster.topology.nodes.some((n) => n.id === 'm1r0'));
    await assertForgotten(cluster.topology, deadId);
    assert.ok(await exists(cluster.topology.removedNodes!.at(-1)!.movedTo!), 'the dead node\'s dir is kept aside');
  });

  test('a node that was down during a removal forgets the removed node when it is restarted', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await temp.newDataDir();
    const cluster = await open(dataDir);
    t.after(() => cluster.shutdown());
    const pw = cluster.nodePassword;
    const removedId = await myId(node(cluster.topology, 'm0r0'), pw);
    const down = node(cluster.topology, 'm1r0');
    process.kill(Number(down.handle), 'SIGKILL');
    assert.ok(await waitForPidExit(Number(down.handle), 5_000));

    await cluster.removeNode('m0r0');
    const back = await cluster.restartNode('m1r0');
    // Its nodes.conf still listed m0r0: without being told, it would gossip it back to the others once their 60 s ban ends.
    assert.ok(!(await clusterNodes(back, pw)).some((l) => l.id === removedId), 'the restarted node forgot it');
    await eventually('every node knows exactly the document\'s nodes', async () => {
      await assertForgotten(cluster.topology, removedId);
      return true;
    });
  });

  describe('operations left by a killed proxy', () => {
    test('an addition recorded and started but not met yet is finished on open (the node adopted, not started twice)', { timeout: TIMEOUT }, async (t) => {
      const dataDir = await temp.newDataDir();
      const crashed = await open(dataDir);
      // What addNode leaves when the proxy dies between the node's start and CLUSTER MEET:
      // the record and the operation, and the node running on its own.
      const dir = path.join(dataDir, NODES_DIR, 'm2');
      const running = await testProvider(log).start({ id: 'm2', port: 0, busPort: 0, dataDir: dir, password: crashed.nodePassword });
      await crashed.beginOperation<AddNodeOperation>({ kind: 'add-node', nodeId: 'm2', step: 'meet' }, (doc) =>
        void doc.nodes.push({ id: 'm2', host: running.host, port: running.port, busPort: running.busPort, dataDir: dir, handle: running.handle }),
      );
      assert.equal((await info(running, crashed.nodePassword, 'cluster')).get('cluster_known_nodes'), '1', 'not met yet');
      await simulateProxySigkill(dataDir);

      const cluster = await open(dataDir);
      t.after(() => cluster.shutdown());
      assert.deepEqual(cluster.operations, [], 'the addition is over');
      assert.equal(node(cluster.topology, 'm2').handle, running.handle, 'the running node was adopted');
      await eventually('every node knows m2', () => knownByAll(cluster.topology, 'm2', 'master'));
      if (linux) assert.equal((await redisServerPidsUnder(dataDir)).length, 5, 'no second redis-server');
    });

    test('a replica addition recorded before its node started is finished on open: started, met, in sync', { timeout: TIMEOUT }, async (t) => {
      const dataDir = await temp.newDataDir();
      const crashed = await open(dataDir);
      const keys = await writeKeysTo(crashed.topology, 'm1', 'resume');
      await crashed.beginOperation<AddNodeOperation>({ kind: 'add-node', nodeId: 'm1r1', replicaOf: 'm1', step: 'start' }, (doc) =>
        void doc.nodes.push({ id: 'm1r1', host: '127.0.0.1', port: 0, busPort: 0, dataDir: path.join(dataDir, NODES_DIR, 'm1r1') }),
      );
      await simulateProxySigkill(dataDir);

      const cluster = await open(dataDir);
      t.after(() => cluster.shutdown());
      assert.deepEqual(cluster.operations, []);
      assert.equal((await info(node(cluster.topology, 'm1r1'), cluster.nodePassword, 'replication')).get('master_link_status'), 'up');
      assert.equal(await replicaHas(cluster.topology, 'm1r1', keys), true);
      await eventually('every node knows m1r1', () => knownByAll(cluster.topology, 'm1r1', 'slave'));
    });

    test('an addition that cannot be finished (its master is a replica now) is rolled back on open: stopped, forgotten, dir aside, id retired', { timeout: TIMEOUT }, async (t) => {
      const dataDir = await temp.newDataDir();
      const crashed = await open(dataDir);
      const dir = path.join(dataDir, NODES_DIR, 'm0r1');
      const running = await testProvider(log).start({ id: 'm0r1', port: 0, busPort: 0, dataDir: dir, password: crashed.nodePassword });
      await crashed.beginOperation<AddNodeOperation>({ kind: 'add-node', nodeId: 'm0r1', replicaOf: 'm0r0', step: 'meet' }, (doc) =>
        void doc.nodes.push({ id: 'm0r1', host: running.host, port: running.port, busPort: running.busPort, dataDir: dir, handle: running.handle }),
      );
      const redisId = await myId(running, crashed.nodePassword);
      await simulateProxySigkill(dataDir);

      const cluster = await open(dataDir);
      t.after(() => cluster.shutdown());
      assert.deepEqual(cluster.operations, [], 'nothing left under way');
      assert.ok(!cluster.topology.nodes.some((n) => n.id === 'm0r1'), 'not a member');
      const retired = (cluster.topology.removedNodes ?? []).find((r) => r.id === 'm0r1');
      assert.equal(retired?.redisId, redisId);
      assert.ok(await waitForPidExit(Number(running.handle), 5_000), 'its process is stopped');
      assert.ok(!(await exists(dir)) && (await exists(retired.movedTo!)), 'its dir is moved aside');
      await assertForgotten(cluster.topology, redisId);
      assert.equal((await cluster.addNode({ replicaOf: 'm0' })).id, 'm0r2', 'its id is not given again');
    });

    test('a removal recorded while the node still ran is finished on open: the node is not resurrected', { timeout: TIMEOUT }, async (t) => {
      const dataDir = await temp.newDataDir();
      const crashed = await open(dataDir);
      const victim = node(crashed.topology, 'm1r0');
      const redisId = await myId(victim, crashed.nodePassword);
      const movedTo = path.join(dataDir, REMOVED_DIR, 'm1r0-crashed');
      await crashed.beginOperation<RemoveNodeOperation>({ kind: 'remove-node', nodes: [{ id: 'm1r0', redisId, movedTo }], step: 'stop' });
      await simulateProxySigkill(dataDir);

      const cluster = await open(dataDir);
      t.after(() => cluster.shutdown());
      assert.deepEqual(cluster.operations, []);
      assert.ok(!cluster.topology.nodes.some((n) => n.id === 'm1r0'));
      assert.ok(await waitForPidExit(Number(victim.handle), 5_000), 'the node left running was stopped');
      assert.ok(await exists(movedTo));
      await assertForgotten(cluster.topology, redisId);
      if (linux) assert.equal((await redisServerPidsUnder(dataDir)).length, 3);
    });
  });
});

describe('a node that cannot start is replaced (running proxy, FailoverMonitor)', { skip }, () => {
  let tp: TestProxy | undefined;
  let dataDir = '';

  after(async () => {
    await tp?.close().catch(() => {});
    if (dataDir !== '') await killRedisServersUnder(dataDir).catch(() => {});
  });

  /** The proxy's log lines, for what the failover side decided. */
  let lines: string[] = [];

  async function proxyWithKeys(count: number): Promise<{ tp: TestProxy; keys: string[] }> {
    await tp?.close();
    lines = [];
    const captured = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }) as unknown as Logger;
    tp = await startTestProxy(['--masters', '2', '--replicas', '1'], undefined, { log: captured });
    dataDir = tp.dataDir;
    const c = new Redis({ port: tp.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await c.connect();
    const keys = Array.from({ length: count }, (_, i) => `repl:${i}`);
    try {
      for (let i = 0; i < keys.length; i += 100) assert.equal(await c.mset(...keys.slice(i, i + 100).flatMap((k) => [k, `value-of-${k}`])), 'OK');
    } finally {
      c.disconnect();
    }
    return { tp, keys };
  }

  async function proxyInfoNodes(port: number): Promise<string> {
    const c = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await c.connect();
    try {
      return String(await c.call('INFO', 'everything'));
    } finally {
      c.disconnect();
    }
  }

  /** The log says the node was replaced once, after START_TRIES starts that failed (not on the first). */
  function assertReplacedAfterTries(id: string): void {
    const records = lines.map((l) => JSON.parse(l) as { msg: string; node?: string; tries?: number; replacedBy?: string });
    const decided = records.filter((r) => r.msg === 'node cannot start: replacing it' && r.node === id);
    assert.equal(decided.length, 1, `one replacement decision for ${id}`);
    assert.equal(decided[0].tries, START_TRIES, `replaced after ${START_TRIES} failed starts`);
    assert.equal(records.filter((r) => r.msg === 'node that could not start replaced by a new replica' && r.node === id).length, 1);
  }

  /** The keys of `masterId`'s slots (as the cluster says now) are all on replica `id`. */
  async function replicaHoldsShard(t: TestProxy, masterId: string, id: string, keys: readonly string[]): Promise<string | true> {
    const doc = t.proxy.cluster.topology;
    if (!doc.nodes.some((n) => n.id === id)) return `${id} is not in the document yet`;
    const mine = await call(node(doc, masterId), doc.nodePassword, async (c) => {
      const out: string[] = [];
      // a key of another master's slots answers MOVED here
      for (const k of keys) if ((await c.call('EXISTS', k).catch(() => 0)) === 1) out.push(k);
      return out;
    });
    if (mine.length === 0) return `${masterId} holds none of the keys`;
    const repl = await info(node(doc, id), doc.nodePassword, 'replication');
    if (repl.get('master_link_status') !== 'up') return `${id}: master_link_status:${repl.get('master_link_status')}`;
    if (repl.get('master_port') !== String(node(doc, masterId).port)) return `${id} replicates port ${repl.get('master_port')}`;
    return replicaHas(doc, id, mine);
  }

  /** Make the node unable to start (an invalid directive in its own redis.conf), then kill -9 it; returns when. */
  async function breakAndKill(p: TestProxy, id: string): Promise<number> {
    const broken = node(p.proxy.cluster.topology, id);
    await appendFile(path.join(broken.dataDir!, CONF_FILE), 'this-is-not-a-directive yes\n');
    const killedAt = Date.now();
    process.kill(Number(broken.handle), 'SIGKILL');
    return killedAt;
  }

  test('a replica whose redis.conf is broken, killed: replaced by a new replica of its master with its keys; the broken one removed, its dir kept', { timeout: 120_000 }, async (t) => {
    const { tp: p, keys } = await proxyWithKeys(500);
    const killedAt = await breakAndKill(p, 'm0r0');

    const ms = await eventually(
      'm0r0 replaced by m0r1',
      async () => {
        if (p.proxy.cluster.topology.nodes.some((n) => n.id === 'm0r0')) return 'm0r0 is still in the document';
        return replicaHoldsShard(p, 'm0', 'm0r1', keys);
      },
      60_000,
    );
    t.diagnostic(`kill -9 of a replica that cannot start → a new replica in sync and the broken one removed: ${Date.now() - killedAt} ms (${ms} ms polled)`);
    assertReplacedAfterTries('m0r0');
    const retired = p.proxy.cluster.topology.removedNodes?.find((r) => r.id === 'm0r0');
    assert.ok(retired?.movedTo !== undefined && (await exists(retired.movedTo)), 'the broken node\'s dir is kept aside');
    assert.match(await readFile(path.join(retired.movedTo, CONF_FILE), 'utf8'), /this-is-not-a-directive/);
    assert.deepEqual(p.proxy.cluster.operations, []);
    await eventually('INFO through the proxy lists m0r1 up as a replica, and no m0r0', async () => {
      const text = await proxyInfoNodes(p.port);
      if (/id=m0r0[,\r\n]/.test(text)) return `m0r0 still listed: ${text}`;
      return /id=m0r1,.*role=replica.*state=up/.test(text) ? true : `not yet: ${text}`;
    });
  });

  test('a master whose redis.conf is broken, killed: its replica takes over, and it is replaced by a new replica of the new master', { timeout: 120_000 }, async (t) => {
    const { tp: p, keys } = await proxyWithKeys(500);
    const killedAt = await breakAndKill(p, 'm1');

    await eventually(
      'm1 replaced by m1r1, a replica of m1r0 (the promoted one)',
      async () => {
        if (p.proxy.cluster.topology.nodes.some((n) => n.id === 'm1')) return 'm1 is still in the document';
        return replicaHoldsShard(p, 'm1r0', 'm1r1', keys);
      },
      60_000,
    );
    t.diagnostic(`kill -9 of a master that cannot start → failover, then a new replica of the new master: ${Date.now() - killedAt} ms`);
    assertReplacedAfterTries('m1');
    const c = new Redis({ port: p.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await c.connect();
    try {
      const values = await c.mget(...keys);
      assert.equal(values.filter((v, i) => v === `value-of-${keys[i]}`).length, keys.length, 'every key readable through the proxy');
    } finally {
      c.disconnect();
    }
  });
});
