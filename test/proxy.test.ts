/**
 * The data path end to end: real redis-server nodes started by the proxy, real clients
 * (redis-cli, ioredis, raw sockets) talking to the proxy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis, Cluster } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RawClient, redisCli, startTestProxy, type TestProxy, keyOnShard } from './support/proxy.js';

const execFileP = promisify(execFile);

let tp: TestProxy;
let redis: Redis;

function client(extra: Record<string, unknown> = {}): Redis {
  return new Redis({ port: tp.port, host: '127.0.0.1', maxRetriesPerRequest: 1, ...extra });
}


/** The pid of the node serving master number `master`'s slots. */
function pidOfMaster(master: number): number {
  const map = tp.proxy.server.router.slotMap;
  const route = map.masters[map.servingMasters()[master]];
  const node = tp.proxy.cluster.topology.nodes.find((n) => n.port === route.port);
  assert.ok(node?.handle, 'the master has a pid');
  return Number(node.handle);
}

before(async () => {
  tp = await startTestProxy(['--masters', '3', '--replicas', '1']);
  redis = client();
});

after(async () => {
  redis?.disconnect();
  await tp?.close();
});

describe('redis-cli', () => {
  test('set, get, cluster keyslot, dbsize', async () => {
    await redis.flushall();
    assert.equal(await redisCli(tp.port, ['set', 'foo', 'bar']), 'OK');
    assert.equal(await redisCli(tp.port, ['get', 'foo']), 'bar');
    assert.equal(await redisCli(tp.port, ['cluster', 'keyslot', 'foo']), '12182');
    for (let i = 0; i < 30; i++) await redis.set(`dbsize:${i}`, i);
    assert.equal(await redisCli(tp.port, ['dbsize']), '31');
  });

  test('every node is a cluster node in state ok; CLUSTER COUNTKEYSINSLOT/GETKEYSINSLOT go to the slot\'s master', async () => {
    for (const node of tp.proxy.cluster.topology.nodes) {
      const info = await redisCli(node.port, ['cluster', 'info'], ['-a', tp.proxy.cluster.nodePassword, '--no-auth-warning']);
      assert.match(info, /^cluster_state:ok/m, `node ${node.id}`);
    }
    await redis.set('{slotted}a', 1);
    await redis.set('{slotted}b', 2);
    const slot = String(calculateSlot('{slotted}'));
    assert.equal(await redisCli(tp.port, ['cluster', 'countkeysinslot', slot]), '2');
    assert.deepEqual((await redisCli(tp.port, ['cluster', 'getkeysinslot', slot, '10'])).split('\n').sort(), ['{slotted}a', '{slotted}b']);
    assert.equal(await redisCli(tp.port, ['cluster', 'countkeysinslot', '16384']), 'ERR Invalid slot');
  });

  test('cluster mode (-c) works through the proxy', async () => {
    assert.equal(await redisCli(tp.port, ['set', 'user:{42}', 'x'], ['-c']), 'OK');
    assert.equal(await redisCli(tp.port, ['get', 'user:{42}'], ['-c']), 'x');
  });
});

describe('ioredis', () => {
  test('default options (HELLO 3 falls back to RESP2, CLIENT SETINFO accepted)', async () => {
    const r = new Redis({ port: tp.port, host: '127.0.0.1' });
    try {
      assert.equal(await r.set('io:a', '1'), 'OK');
      assert.equal(await r.get('io:a'), '1');
      assert.equal(await r.incr('io:a'), 2);
      assert.deepEqual(await r.hgetall('io:none'), {});
    } finally {
      r.disconnect();
    }
  });

  test('ioredis Cluster discovers the proxy as the whole cluster', async () => {
    const c = new Cluster([{ host: '127.0.0.1', port: tp.port }]);
    try {
      for (let i = 0; i < 50; i++) await c.set(`cl:${i}`, String(i));
      for (let i = 0; i < 50; i++) assert.equal(await c.get(`cl:${i}`), String(i));
      const slots = (await c.cluster('SLOTS')) as unknown[];
      assert.equal(slots.length, 1);
    } finally {
      c.disconnect();
    }
  });

  test('a 10 000-command pipeline mixing slots replies in order', async () => {
    const p = redis.pipeline();
    for (let i = 0; i < 5000; i++) {
      p.set(`pipe:${i}`, `v${i}`);
      p.get(`pipe:${i}`);
    }
    const results = await p.exec();
    assert.ok(results);
    assert.equal(results.length, 10000);
    for (let i = 0; i < 5000; i++) {
      assert.deepEqual(results[2 * i], [null, 'OK']);
      assert.deepEqual(results[2 * i + 1], [null, `v${i}`]);
    }
  });

  test('MGET/MSET/DEL/EXISTS/TOUCH/UNLINK across all masters merge in key order', async () => {
    const keys = [0, 1, 2, 0, 2, 1].map((s, i) => keyOnShard(tp, s, `multi${i}`));
    const kv: string[] = [];
    keys.forEach((k, i) => kv.push(k, `val${i}`));
    assert.equal(await redis.mset(...kv), 'OK');
    assert.deepEqual(await redis.mget(...keys, 'multi:missing'), [...keys.map((_, i) => `val${i}`), null]);
    assert.equal(await redis.exists(...keys, keys[0]), 7);
    assert.equal(await redis.touch(...keys), 6);
    assert.equal(await redis.del(keys[0], keys[1]), 2);
    assert.equal(await redis.unlink(...keys), 4);
    assert.equal(await redis.exists(...keys), 0);
  });

  test('other multi-key commands across slots get CROSSSLOT', async () => {
    await assert.rejects(redis.rename('{a}x', '{b}y'), /CROSSSLOT Keys in request don't hash to the same slot/);
    await assert.rejects(redis.sunion('{a}1', '{b}2'), /CROSSSLOT/);
    await redis.sadd('{t}1', 'a', 'b');
    await redis.sadd('{t}2', 'b', 'c');
    assert.deepEqual((await redis.sunion('{t}1', '{t}2')).sort(), ['a', 'b', 'c']);
  });

  test('a 50 MB value round-trips', async () => {
    const big = Buffer.alloc(50 * 1024 * 1024, 'x');
    big.write('start', 0);
    big.write('end', big.length - 3);
    assert.equal(await redis.set('big', big), 'OK');
    const back = await redis.getBuffer('big');
    assert.ok(back);
    assert.equal(back.length, big.length);
    assert.ok(back.equals(big));
    await redis.del('big');
  });

  test('EVAL with keys routes by key; numkeys errors come from Redis', async () => {
    assert.equal(await redis.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, 'ev:1', 'x'), 'OK');
    assert.equal(await redis.get('ev:1'), 'x');
    await assert.rejects(redis.eval('return 1', 5, 'a'), /Number of keys can't be greater than number of args/);
  });

  test('SCAN visits every key once over all masters', async () => {
    await redis.flushall();
    const want = new Set<string>();
    for (let i = 0; i < 500; i++) want.add(`scan:${i}`);
    await redis.mset(...[...want].flatMap((k) => [k, '1']));
    const seen = new Set<string>();
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 50);
      for (const k of keys) seen.add(k);
      cursor = next;
      assert.ok(++rounds < 1000);
    } while (cursor !== '0');
    assert.deepEqual([...seen].sort(), [...want].sort());
    assert.equal((await redis.keys('scan:*')).length, 500);
    assert.equal(await redis.dbsize(), 500);
  });

  test('BLPOP waits on its own connection and does not stall other clients', async () => {
    const blocker = client();
    try {
      const popped = blocker.blpop('bl:q', 5);
      await new Promise((r) => setTimeout(r, 100));
      // Other clients keep being served while the BLPOP waits.
      assert.equal(await redis.set('bl:other', '1'), 'OK');
      assert.equal(await redis.rpush('bl:q', 'item'), 1);
      assert.deepEqual(await popped, ['bl:q', 'item']);
    } finally {
      blocker.disconnect();
    }
  });

  test('XREAD without BLOCK stays on the pipeline; XREAD BLOCK waits on its own connection', async () => {
    await redis.xadd('xs:1', '*', 'f', 'v1');
    const plain = (await redis.xread('COUNT', 10, 'STREAMS', 'xs:1', '0')) as [string, [string, string[]][]][];
    assert.equal(plain[0][1][0][1][1], 'v1');
    const reader = client();
    try {
      const blocked = reader.xread('BLOCK', 5000, 'STREAMS', 'xs:1', '$');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await redis.get('bl:other'), '1', 'other clients are served meanwhile');
      await redis.xadd('xs:1', '*', 'f', 'v2');
      const got = (await blocked) as [string, [string, string[]][]][];
      assert.equal(got[0][1][0][1][1], 'v2');
    } finally {
      reader.disconnect();
    }
  });

  test('INFO sums the keyspace over masters; SELECT 0 only', async () => {
    await redis.flushall();
    await redis.mset('i:1', 1, 'i:2', 2, 'i:3', 3);
    const info = await redis.info();
    assert.match(info, /# Keyspace\r\ndb0:keys=3,/);
    assert.match(info, /cluster_enabled:1/);
    assert.equal(await redis.select(0), 'OK');
    await assert.rejects(redis.select(1), /SELECT is not allowed in cluster mode/);
  });
});

describe('redis-py', () => {
  test("redis-py's RedisCluster (Debian python3-redis) works through the proxy", async () => {
    const script = [
      'import sys',
      'from redis.cluster import RedisCluster',
      'rc = RedisCluster(host="127.0.0.1", port=int(sys.argv[1]))',
      'for i in range(20): rc.set(f"py:{i}", i)',
      'print(",".join(v.decode() for v in rc.mget_nonatomic([f"py:{i}" for i in range(20)])))',
      'print(rc.keyslot("foo"))',
    ].join('\n');
    const { stdout } = await execFileP('/usr/bin/python3', ['-c', script, String(tp.port)], { timeout: 30_000 });
    const [values, slot] = stdout.trim().split('\n');
    assert.equal(values, Array.from({ length: 20 }, (_, i) => String(i)).join(','));
    assert.equal(slot, '12182');
  });
});

describe('errors', () => {
  test('unknown and unsupported commands get a clear error, not a hang', async () => {
    await assert.rejects(redis.call('nosuchcmd', 'a'), /ERR unknown command 'nosuchcmd', with args beginning with: 'a'/);
    await assert.rejects(redis.call('monitor'), /MONITOR.*not supported/);
  });

  test('a malformed frame closes only its own client', async () => {
    const bad = await RawClient.connect(tp.port);
    const good = await RawClient.connect(tp.port);
    bad.write('*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$x\r\n');
    const data = await bad.waitFor((_d, closed) => closed);
    assert.equal(data.toString(), '+PONG\r\n-ERR Protocol error: invalid bulk length\r\n');
    good.write('*1\r\n$4\r\nPING\r\n');
    await good.waitFor((d) => d.toString() === '+PONG\r\n');
    assert.equal(good.closed, false);
    good.close();
  });

  test('inline commands work like redis-server', async () => {
    const c = await RawClient.connect(tp.port);
    c.write('SET inline:k "hello world"\r\nGET inline:k\r\n');
    await c.waitFor((d) => d.toString() === '+OK\r\n$11\r\nhello world\r\n');
    c.close();
  });

  test('a master killed mid-pipeline: its requests fail, the proxy keeps serving', async () => {
    const victim = keyOnShard(tp, 1, 'victim');
    const survivor = keyOnShard(tp, 0, 'survivor');
    const r = client({ maxRetriesPerRequest: 0 });
    try {
      await r.set(survivor, 'alive');
      // A slow script keeps the pipeline in flight on shard 1 while we kill its master.
      const p = r.pipeline();
      p.eval("local t = tonumber(redis.call('time')[1]) + 2 while tonumber(redis.call('time')[1]) < t do end return 1", 1, victim);
      for (let i = 0; i < 100; i++) p.get(victim);
      const pending = p.exec();
      await new Promise((res) => setTimeout(res, 300));
      process.kill(pidOfMaster(1), 'SIGKILL');
      const results = await pending;
      assert.ok(results);
      const errors = results.filter(([err]) => err !== null);
      assert.ok(errors.length >= 1, 'in-flight requests to the dead master fail');
      assert.match(String(errors[0][0]), /ERR .*(lost|unavailable)/);
      // Everyone else is still served.
      assert.equal(await r.get(survivor), 'alive');
      assert.equal(await redis.get(survivor), 'alive');
    } finally {
      r.disconnect();
    }
  });
});
