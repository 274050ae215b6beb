/**
 * Scripts, functions and CONFIG everywhere (issue 7, parts 3 and 5's CONFIG), through the
 * proxy with real redis-server processes (3 masters, 1 replica each), redis-cli and
 * ioredis; each node is also asked directly, with the nodes' password, what it has.
 *
 * The tests of one describe run in order on one cluster: the later ones (ADD MASTER, a
 * master killed, a proxy restarted) check that what the earlier ones loaded and set
 * reaches nodes that join afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { startTestProxy, redisCli, strictClient, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { keySlot } from '../src/cluster/key-slot.js';
import type { NodeRecord } from '../src/cluster/topology/topology.js';
import { startRedisCluster } from './support/redis-cluster.js';
import { ScriptRegistry } from '../src/proxy/datapath/script-registry.js';
import { configSetVerdict } from '../src/cluster/node-config.js';

const skip = await skipWithoutRedis();

const SCRIPT = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
const LIBRARY = "#!lua name=counters\nredis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(200);
  }
}

/** A key of each serving master, by the proxy's slot map. */
function keyPerMaster(tp: TestProxy, prefix: string): string[] {
  const map = tp.proxy.server.router.slotMap;
  const keys = new Map<number, string>();
  for (let i = 0; keys.size < map.servingMasters().length && i < 100_000; i++) {
    const key = `${prefix}:${i}`;
    const master = map.slotToMaster[keySlot(Buffer.from(key))];
    if (!keys.has(master)) keys.set(master, key);
  }
  return [...keys.values()];
}

/** Run `fn` on a client of the node itself. */
async function onNode<T>(tp: TestProxy, node: { port: number }, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = await strictClient(node.port, 5000, tp.proxy.cluster.nodePassword);
  try {
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

function runningNodes(tp: TestProxy): readonly NodeRecord[] {
  return tp.proxy.cluster.topology.nodes;
}

async function roleOf(tp: TestProxy, node: NodeRecord): Promise<string> {
  return onNode(tp, node, async (c) => /role:(\w+)/.exec(await c.info('replication'))?.[1] ?? 'unknown');
}

describe('the script registry and the CONFIG SET lists (no Redis)', () => {
  test("remembers scripts by Redis's SHA1, bounded by bytes, oldest out first; a script used again is youngest", () => {
    const r = new ScriptRegistry(20);
    assert.equal(r.remember(Buffer.from('return 1')), 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', 'the sha Redis gives');
    r.remember(Buffer.from('return 22')); // 8 + 9 bytes
    r.remember(Buffer.from('return 1')); // used again: now the youngest
    r.remember(Buffer.from('return 333')); // 27 bytes > 20: the oldest ('return 22') goes
    assert.deepEqual(r.bodies().map(String), ['return 1', 'return 333']);
    assert.equal(r.body('E0E1F9FABFC9D4800C877A703B823AC0578FF8DB')?.toString(), 'return 1', 'any case');
    const view = Buffer.from('xxreturn 4444');
    r.remember(view.subarray(2));
    view.fill(0);
    assert.ok(r.bodies().some((b) => b.toString() === 'return 4444'), 'a copy, not a view of the read buffer');
    r.clear();
    assert.equal(r.size, 0);
  });

  test('CONFIG SET names: allowed with aliases resolved, refused with a reason, others left to Redis', () => {
    assert.deepEqual(configSetVerdict('HASH-MAX-ZIPLIST-ENTRIES', '1'), { kind: 'allowed', name: 'hash-max-listpack-entries' });
    assert.deepEqual(configSetVerdict('lua-time-limit', '1'), { kind: 'allowed', name: 'busy-reply-threshold' });
    for (const name of ['requirepass', 'masterauth', 'dir', 'dbfilename', 'port', 'bind', 'replicaof', 'cluster-enabled', 'unixsocket', 'logfile', 'timeout', 'tls-port', 'rdb-key-save-delay', 'no-appendfsync-on-rewrite']) {
      assert.equal(configSetVerdict(name, '1').kind, 'refused', name);
    }
    assert.equal(configSetVerdict('nosuch', '1').kind, 'other');
  });

  test('CONFIG SET persistence: what cannot lose an acknowledged write is allowed, by value where the value decides', () => {
    assert.deepEqual(configSetVerdict('SAVE', ''), { kind: 'allowed', name: 'save' });
    assert.deepEqual(configSetVerdict('stop-writes-on-bgsave-error', 'no'), { kind: 'allowed', name: 'stop-writes-on-bgsave-error' });
    assert.deepEqual(configSetVerdict('appendonly', 'YES'), { kind: 'allowed', name: 'appendonly' });
    assert.deepEqual(configSetVerdict('appendfsync', 'always'), { kind: 'allowed', name: 'appendfsync' });
    assert.equal(configSetVerdict('appendonly', 'no').kind, 'refused');
    assert.equal(configSetVerdict('appendfsync', 'no').kind, 'refused');
  });
});

describe('scripts, functions and CONFIG on every node (3 masters, 1 replica each)', { skip }, () => {
  let tp: TestProxy;
  let c: Redis;
  let other: Redis;
  let dataDir = '';
  let sha = '';

  before(async () => {
    tp = await startTestProxy(['--masters', '3', '--replicas', '1']);
    dataDir = tp.dataDir;
    c = await strictClient(tp.port, 10_000);
    other = await strictClient(tp.port, 10_000);
  });

  after(async () => {
    c?.disconnect();
    other?.disconnect();
    try {
      await tp?.close();
    } finally {
      await killRedisServersUnder(dataDir).catch(() => {});
      // The second proxy was started on the first one's dir, which its close() leaves.
      if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('SCRIPT LOAD (redis-cli) reaches every master and replica; EVALSHA from another connection works on every master', async () => {
    sha = await redisCli(tp.port, ['SCRIPT', 'LOAD', SCRIPT]);
    assert.match(sha, /^[0-9a-f]{40}$/);
    for (const n of runningNodes(tp)) {
      assert.deepEqual(await onNode(tp, n, (nc) => nc.call('SCRIPT', 'EXISTS', sha)), [1], `${n.id} has the script`);
    }
    const keys = keyPerMaster(tp, 'evalsha');
    assert.equal(keys.length, 3);
    for (const key of keys) {
      assert.equal(await other.evalsha(sha, 1, key, 5), 5, `EVALSHA on ${key}`);
      assert.equal(await other.evalsha(sha, 1, key, 2), 7);
    }
    assert.deepEqual(await other.call('SCRIPT', 'EXISTS', sha, 'ffffffffffffffffffffffffffffffffffffffff'), [1, 0], 'merged: known, unknown');
  });

  test('EVALSHA of a script only EVAL\'d on another master: NOSCRIPT on that node is retried with the body', async () => {
    const body = "return 'via ' .. KEYS[1]";
    const [a, b] = keyPerMaster(tp, 'evalonly');
    assert.equal(await c.eval(body, 1, a), `via ${a}`);
    const bodySha = (await redisCli(tp.port, ['EVAL', "return redis.sha1hex(ARGV[1])", '0', body])).trim();
    const ownerOfB = tp.proxy.server.router.slotMap.masters[tp.proxy.server.router.slotMap.slotToMaster[keySlot(Buffer.from(b))]];
    assert.deepEqual(await onNode(tp, ownerOfB, (nc) => nc.call('SCRIPT', 'EXISTS', bodySha)), [0], 'the other master never saw it');
    assert.equal(await other.evalsha(bodySha, 1, b), `via ${b}`);
    assert.deepEqual(await onNode(tp, ownerOfB, (nc) => nc.call('SCRIPT', 'EXISTS', bodySha)), [1], 'cached there by the retry');
    // A sha nobody knows is Redis's NOSCRIPT, as it is.
    await assert.rejects(other.evalsha('ffffffffffffffffffffffffffffffffffffffff', 0), /^ReplyError: NOSCRIPT No matching script/);
  });

  test('SCRIPT FLUSH empties every node and the proxy\'s memory; SCRIPT subcommands keep Redis\'s errors', async () => {
    const doomed = (await c.call('SCRIPT', 'LOAD', 'return 42')) as string;
    assert.equal(await c.call('SCRIPT', 'FLUSH'), 'OK');
    for (const n of runningNodes(tp)) {
      assert.deepEqual(await onNode(tp, n, (nc) => nc.call('SCRIPT', 'EXISTS', doomed, sha)), [0, 0], `${n.id} flushed`);
    }
    assert.deepEqual(await c.call('SCRIPT', 'EXISTS', doomed), [0]);
    await assert.rejects(c.evalsha(doomed, 0), /NOSCRIPT/);
    await assert.rejects(c.call('SCRIPT', 'LOAD', 'return +'), /ERR Error compiling script/);
    await assert.rejects(c.call('SCRIPT', 'EXISTS'), /ERR wrong number of arguments for 'script\|exists' command/);
    await assert.rejects(c.call('SCRIPT', 'NOPE'), /ERR unknown subcommand 'NOPE'. Try SCRIPT HELP./);
    // Loaded again for the later tests (joining nodes get it).
    sha = (await c.call('SCRIPT', 'LOAD', SCRIPT)) as string;
  });

  test('FUNCTION LOAD then FCALL on every master; LIST, DUMP, DELETE, RESTORE; replicas get the libraries', async () => {
    assert.equal(await c.call('FUNCTION', 'LOAD', LIBRARY), 'counters');
    for (const key of keyPerMaster(tp, 'fcall')) assert.equal(await other.call('FCALL', 'bump', '1', key, '3'), 3, `FCALL on ${key}`);
    const listed = JSON.stringify(await c.call('FUNCTION', 'LIST'));
    assert.match(listed, /counters/);
    await assert.rejects(c.call('FUNCTION', 'LOAD', LIBRARY), /ERR Library 'counters' already exists/);
    const dump = (await c.callBuffer('FUNCTION', 'DUMP')) as Buffer;
    assert.equal(await c.call('FUNCTION', 'DELETE', 'counters'), 'OK');
    for (const n of runningNodes(tp)) {
      await eventually(`${n.id} without the library`, async () => ((await onNode(tp, n, (nc) => nc.call('FUNCTION', 'LIST'))) as unknown[]).length === 0 || undefined);
    }
    await assert.rejects(c.call('FCALL', 'bump', '1', 'x', '1'), /ERR Function not found/);
    assert.equal(await c.call('FUNCTION', 'RESTORE', dump), 'OK');
    for (const n of runningNodes(tp)) {
      await eventually(`${n.id} with the restored library`, async () => (JSON.stringify(await onNode(tp, n, (nc) => nc.call('FUNCTION', 'LIST'))).includes('counters') ? true : undefined));
    }
    for (const key of keyPerMaster(tp, 'fcall')) assert.equal(await other.call('FCALL', 'bump', '1', key, '1'), 4);
  });

  test('CONFIG SET hash-max-listpack-entries 0 on every node: a new hash is a hashtable on every master; remembered', async () => {
    assert.equal(await redisCli(tp.port, ['CONFIG', 'SET', 'hash-max-listpack-entries', '0']), 'OK');
    for (const key of keyPerMaster(tp, 'enc')) {
      await c.hset(key, 'f', 'v');
      assert.equal(await c.object('ENCODING', key), 'hashtable', `${key}`);
    }
    for (const n of runningNodes(tp)) {
      assert.deepEqual(await onNode(tp, n, (nc) => nc.config('GET', 'hash-max-listpack-entries')), ['hash-max-listpack-entries', '0'], n.id);
    }
    // Several pairs at once, an old alias among them.
    assert.equal(await c.call('CONFIG', 'SET', 'zset-max-ziplist-entries', '7', 'slowlog-max-len', '77', 'notify-keyspace-events', 'KEA'), 'OK');
    assert.deepEqual(await c.config('GET', 'zset-max-listpack-entries'), ['zset-max-listpack-entries', '7']);
    assert.deepEqual(tp.proxy.cluster.nodeConfig, [
      ['hash-max-listpack-entries', '0'],
      ['zset-max-listpack-entries', '7'],
      ['slowlog-max-len', '77'],
      ['notify-keyspace-events', 'KEA'],
    ]);
  });

  test('CONFIG SET refusals: security and placement parameters with why, unknown names and bad values in Redis\'s words, all or nothing', async () => {
    await assert.rejects(c.call('CONFIG', 'SET', 'requirepass', 'x'), /ERR CONFIG SET 'requirepass' is not allowed through interface-hash-server: the nodes' password is the proxy's own/);
    await assert.rejects(c.call('CONFIG', 'SET', 'dir', '/tmp'), /not allowed through interface-hash-server: the proxy places each node's files/);
    await assert.rejects(c.call('CONFIG', 'SET', 'cluster-node-timeout', '1'), /replication and cluster membership are run by the proxy/);
    await assert.rejects(c.call('CONFIG', 'SET', 'appendonly', 'no'), /persistence is set by the proxy/);
    await assert.rejects(c.call('CONFIG', 'SET', 'port', '1'), /the proxy chooses where nodes listen/);
    await assert.rejects(c.call('CONFIG', 'SET', 'timeout', '1'), /the proxy's own option/);
    await assert.rejects(c.call('CONFIG', 'SET', 'nosuch', '1'), /^ReplyError: ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'$/);
    await assert.rejects(c.call('CONFIG', 'SET', 'hash-max-listpack-value'), /ERR wrong number of arguments for 'config\|set' command/);
    await assert.rejects(c.call('CONFIG', 'SET', 'slowlog-max-len', '1', 'SLOWLOG-MAX-LEN', '2'), /ERR CONFIG SET failed \(possibly related to argument 'SLOWLOG-MAX-LEN'\) - duplicate parameter/);
    // A bad value after a good one: nothing changes anywhere (Redis's own check, on one master first).
    await assert.rejects(c.call('CONFIG', 'SET', 'slowlog-max-len', '5', 'zset-max-listpack-value', 'abc'), /ERR CONFIG SET failed \(possibly related to argument 'zset-max-listpack-value'\)/);
    // A refused name after an allowed one refuses the whole.
    await assert.rejects(c.call('CONFIG', 'SET', 'slowlog-max-len', '5', 'appendfsync', 'no'), /'appendfsync' is not allowed/);
    for (const n of runningNodes(tp)) {
      assert.deepEqual(await onNode(tp, n, (nc) => nc.config('GET', 'slowlog-max-len')), ['slowlog-max-len', '77'], `${n.id} unchanged`);
    }
    assert.equal(tp.proxy.cluster.nodeConfig.find(([name]) => name === 'slowlog-max-len')?.[1], '77');
  });

  test('CONFIG SET save "" on every node (the AOF stays on, fsync every second); appendonly no and appendfsync no refused', async () => {
    assert.equal(await c.call('CONFIG', 'SET', 'save', ''), 'OK');
    await assert.rejects(c.call('CONFIG', 'SET', 'appendonly', 'no'), /ERR CONFIG SET 'appendonly' is not allowed through interface-hash-server: persistence is set by the proxy/);
    await assert.rejects(c.call('CONFIG', 'SET', 'appendfsync', 'no'), /ERR CONFIG SET 'appendfsync' is not allowed/);
    for (const n of runningNodes(tp)) {
      const got = (await onNode(tp, n, (nc) => nc.config('GET', 'save'))) as string[];
      assert.deepEqual(got, ['save', ''], n.id);
      assert.deepEqual(await onNode(tp, n, (nc) => nc.config('GET', 'appendonly')), ['appendonly', 'yes'], n.id);
      assert.deepEqual(await onNode(tp, n, (nc) => nc.config('GET', 'appendfsync')), ['appendfsync', 'everysec'], n.id);
    }
    assert.equal(tp.proxy.cluster.nodeConfig.find(([name]) => name === 'save')?.[1], '');
  });

  test('CONFIG GET hides secrets, paths and addresses and shows the proxy\'s port; RESETSTAT everywhere; REWRITE accepted', async () => {
    const all = (await c.config('GET', '*')) as string[];
    const names = new Set(all.filter((_, i) => i % 2 === 0));
    assert.ok(names.has('maxmemory-policy') && names.has('hash-max-listpack-entries'), 'ordinary parameters are there');
    for (const hidden of ['requirepass', 'masterauth', 'dir', 'dbfilename', 'logfile', 'pidfile', 'cluster-config-file', 'unixsocket', 'bind']) {
      assert.ok(!names.has(hidden), `${hidden} hidden`);
    }
    assert.ok(!all.includes(tp.proxy.cluster.nodePassword), "the nodes' password appears nowhere");
    assert.deepEqual(await c.config('GET', 'port'), ['port', String(tp.port)]);
    assert.deepEqual(await c.config('GET', 'requirepass'), []);
    const cli = await redisCli(tp.port, ['CONFIG', 'GET', 'dir']);
    assert.equal(cli, '');
    await c.get('some-key');
    assert.equal(await c.call('CONFIG', 'RESETSTAT'), 'OK');
    for (const n of runningNodes(tp)) {
      const stats = await onNode(tp, n, (nc) => nc.info('stats'));
      assert.match(stats, /keyspace_misses:0\r\n/, `${n.id} stats reset`);
    }
    assert.equal(await c.call('CONFIG', 'REWRITE'), 'OK');
  });

  test('ADD MASTER: the new master and its replica get the scripts, the functions and the CONFIG before serving', { timeout: 120_000 }, async () => {
    const admin = await strictClient(tp.port, 90_000);
    try {
      const added = (await admin.call('ADD', 'MASTER')) as string;
      assert.match(added, /^m3 /);
    } finally {
      admin.disconnect();
    }
    for (const id of ['m3', 'm3r0']) {
      const n = runningNodes(tp).find((x) => x.id === id);
      assert.ok(n, `${id} in the document`);
      assert.deepEqual(await onNode(tp, n, (nc) => nc.call('SCRIPT', 'EXISTS', sha)), [1], `${id} has the script`);
      assert.match(JSON.stringify(await onNode(tp, n, (nc) => nc.call('FUNCTION', 'LIST'))), /counters/, `${id} has the library`);
      assert.deepEqual(await onNode(tp, n, (nc) => nc.config('GET', 'hash-max-listpack-entries')), ['hash-max-listpack-entries', '0'], `${id} config`);
    }
    await eventually('the slot map to have 4 serving masters', async () => (tp.proxy.server.router.slotMap.servingMasters().length === 4 ? true : undefined));
    for (const key of keyPerMaster(tp, 'four')) {
      assert.equal(await other.evalsha(sha, 1, key, 1), 1, `EVALSHA on ${key}`);
      assert.equal(await other.call('FCALL', 'bump', '1', key, '1'), 2, `FCALL on ${key}`);
      await c.hset(`{${key}}h`, 'f', 'v');
      assert.equal(await c.object('ENCODING', `{${key}}h`), 'hashtable');
    }
  });

  test('a master killed with SIGKILL: after its replica takes over, EVALSHA and FCALL work on its keys', { timeout: 60_000 }, async () => {
    const map = tp.proxy.server.router.slotMap;
    const index = map.servingMasters()[0];
    const route = map.masters[index];
    const victim = runningNodes(tp).find((n) => n.port === route.port)!;
    const replica = route.replicas[0];
    let key = '';
    for (let i = 0; ; i++) {
      key = `failover:${i}`;
      if (map.slotToMaster[keySlot(Buffer.from(key))] === index) break;
    }
    process.kill(Number(victim.handle), 'SIGKILL');
    await eventually(`${victim.id}'s replica to serve its slots`, async () => {
      const m = tp.proxy.server.router.slotMap;
      const owner = m.masters[m.slotToMaster[keySlot(Buffer.from(key))]];
      return owner?.port === replica.port ? true : undefined;
    }, 30_000);
    assert.equal(await eventually('EVALSHA on the promoted replica', () => other.evalsha(sha, 1, key, 10).then((v) => v as number), 20_000), 10);
    assert.equal(await other.call('FCALL', 'bump', '1', key, '1'), 11);
    await eventually(`${victim.id} back as a replica`, async () => ((await roleOf(tp, victim).catch(() => 'down')) === 'slave' ? true : undefined), 40_000);
    assert.notEqual(runningNodes(tp).find((n) => n.id === victim.id)?.handle, victim.handle, 'a new process (its script cache started empty)');
    assert.deepEqual(await onNode(tp, victim, (nc) => nc.call('SCRIPT', 'EXISTS', sha)), [1], 'the restarted node has the script');
    assert.deepEqual(await onNode(tp, victim, (nc) => nc.config('GET', 'hash-max-listpack-entries')), ['hash-max-listpack-entries', '0'], 'and the config');
  });

  test('a restarted proxy applies the remembered CONFIG to every node, and to a node added afterwards', { timeout: 150_000 }, async () => {
    c.disconnect();
    other.disconnect();
    await tp.proxy.stop(); // the nodes stop too: they start again from their redis.conf
    tp = await startTestProxy(['--masters', '3', '--replicas', '1'], dataDir);
    c = await strictClient(tp.port, 90_000);
    other = await strictClient(tp.port, 10_000);
    for (const n of runningNodes(tp)) {
      assert.deepEqual(await onNode(tp, n, (nc) => nc.config('GET', 'slowlog-max-len')), ['slowlog-max-len', '77'], `${n.id} after the restart`);
    }
    const added = (await c.call('ADD', 'REPLICA', 'm1')) as string;
    const id = /^(\S+)/.exec(added)![1];
    const n = runningNodes(tp).find((x) => x.id === id)!;
    assert.deepEqual(await onNode(tp, n, (nc) => nc.config('GET', 'hash-max-listpack-entries')), ['hash-max-listpack-entries', '0']);
    assert.deepEqual(await onNode(tp, n, (nc) => nc.config('GET', 'notify-keyspace-events')), ['notify-keyspace-events', 'AKE']);
    // Functions persisted by the nodes themselves.
    assert.match(JSON.stringify(await onNode(tp, n, (nc) => nc.call('FUNCTION', 'LIST'))), /counters/);
  });
});

describe('the static provider: an existing cluster gets scripts and CONFIG on every node it has, after a proxy restart too', { skip }, () => {
  test('SCRIPT LOAD and CONFIG SET reach every master and replica; a restarted proxy applies the remembered CONFIG to a node its owner restarted', { timeout: 120_000 }, async () => {
    const password = 'static-scripts-secret';
    const cluster = await startRedisCluster({ masters: 3, replicas: 1, password });
    let tp: TestProxy | undefined;
    let c: Redis | undefined;
    let dataDir = '';
    try {
      const flags = ['--provider', 'static', '--node', cluster.seed, '--node-password', password];
      tp = await startTestProxy(flags);
      c = await strictClient(tp.port, 10_000);
      const loaded = (await c.call('SCRIPT', 'LOAD', SCRIPT)) as string;
      assert.equal(await c.call('CONFIG', 'SET', 'set-max-intset-entries', '3'), 'OK');
      await assert.rejects(c.call('CONFIG', 'SET', 'masterauth', 'x'), /not allowed through interface-hash-server/);
      for (const address of cluster.addresses) {
        assert.equal(await cluster.cli(['SCRIPT', 'EXISTS', loaded], { node: address }), '1', `${address} has the script`);
        assert.equal(await cluster.cli(['CONFIG', 'GET', 'set-max-intset-entries'], { node: address }), 'set-max-intset-entries\n3', `${address} config`);
      }
      // The owner resets a node's parameter (as a restart from its redis.conf would); a new proxy on the same data dir puts it back.
      await cluster.cli(['CONFIG', 'SET', 'set-max-intset-entries', '512'], { node: cluster.addresses[1] });
      c.disconnect();
      dataDir = tp.dataDir;
      await tp.proxy.stop();
      tp = await startTestProxy(flags, dataDir);
      for (const address of cluster.addresses) {
        assert.equal(await cluster.cli(['CONFIG', 'GET', 'set-max-intset-entries'], { node: address }), 'set-max-intset-entries\n3', `${address} after the proxy restart`);
      }
    } finally {
      c?.disconnect();
      await tp?.proxy.stop();
      if (dataDir !== '') await rm(dataDir, { recursive: true, force: true }); // the first proxy's temp dir, reused by the second
      else await tp?.close();
      await cluster.close();
    }
  });
});
