/**
 * Replica reads (issue 19, part 1): --read-from, a client's READONLY, --max-replica-lag,
 * read your writes (docs/replica-reads.md).
 *
 * Against a real cluster (2 masters, 1 replica each, --no-auto-failover so that a node
 * killed stays down) and the nodes' own INFO commandstats:
 *   - --read-from prefer-replica: GETs move the replicas' cmdstat_get, not the masters';
 *   - a proxy with the default (master) over the same nodes: a plain client's GETs go to the
 *     masters, a READONLY client's to the replicas, after READWRITE to the masters again;
 *   - one client's write then read returns the new value: 1000 SET-then-GET rounds,
 *     pipelined SET+GET, MULTI/EXEC then GET, a split MSET then GETs; and once its replica
 *     caught up, the client's reads of what it wrote go to the replica again;
 *   - --max-replica-lag 200ms: a replica stopped (SIGSTOP) while its master takes writes is
 *     skipped once it lags past the bound: no GET reaches it;
 *   - kill -9 of a replica under a read load: no client error, and the reads go to its master;
 *   - --read-from replica with no usable replica: -CLUSTERDOWN, not the master;
 *   - --read-from any: both the masters and the replicas serve, by client;
 *   - FAILOVER of a master (replica and master swap roles) under reads and one client's
 *     write-then-read rounds: no client error, every read current.
 * And the parts without a cluster: the --max-replica-lag syntax, the read-your-writes record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { parseReplicaLag } from '../src/proxy/datapath/replica-lag.js';
import { ALL_SLOTS, ClientReplication } from '../src/proxy/datapath/client-replication.js';
import { keyOnShard, startTestProxy, strictClient, waitUntil, type TestProxy } from './support/proxy.js';
import { skipWithoutRedis } from './support/redis-binary.js';

const skip = await skipWithoutRedis();

describe('--max-replica-lag and the read-your-writes record', () => {
  test('a time or a size', () => {
    assert.deepEqual(parseReplicaLag('1s'), { unit: 'ms', limit: 1000 });
    assert.deepEqual(parseReplicaLag('250ms'), { unit: 'ms', limit: 250 });
    assert.deepEqual(parseReplicaLag('64kb'), { unit: 'bytes', limit: 65536 });
    assert.deepEqual(parseReplicaLag('100b'), { unit: 'bytes', limit: 100 });
    assert.throws(() => parseReplicaLag('1000'), /--max-replica-lag must be a time/);
  });

  test('a write keeps its slot off a replica until a later poll saw the replica caught up', () => {
    const w = new ClientReplication();
    const behind = { caughtUpEpoch: 5 };
    const ahead = { caughtUpEpoch: 8 };
    w.pending++;
    assert.equal(w.replicaHas(1, ahead, [ahead], 0), false, 'a write in flight: nothing from a replica');
    w.answered(1, 7, true);
    assert.equal(w.replicaHas(2, behind, [behind], 0), true, 'another slot');
    assert.equal(w.replicaHas(1, behind, [behind, ahead], 0), false);
    assert.equal(w.replicaHas(1, { caughtUpEpoch: 7 }, [ahead], 0), false, 'a poll of the epoch of the reply may have run before it');
    assert.equal(w.replicaHas(1, ahead, [behind, ahead], 0), true);
    assert.equal(w.replicaHas(1, behind, [behind], 0), false, 'kept while a sibling lags');
    assert.equal(w.replicaHas(1, ahead, [ahead], 0), true);
    assert.equal(w.replicaHas(1, behind, [behind], 0), true, 'forgotten once every replica had it');
    w.answered(ALL_SLOTS, 9, false);
    assert.equal(w.replicaHas(3, ahead, [ahead], 0), false, 'a split write: every slot');
    assert.equal(w.replicaHas(3, { caughtUpEpoch: 10 }, [ahead], 0), true);
    assert.equal(w.replicaHas(3, behind, [behind], 10), true, 'forgotten once every replica of every master had it');
  });
});

interface Node {
  port: number;
  pid: number;
  role: 'master' | 'slave';
  /** A replica's master port; a master's own. */
  shardPort: number;
  client: Redis;
}

async function getCalls(node: Node): Promise<number> {
  const m = /^cmdstat_get:calls=(\d+)/m.exec(String(await node.client.info('commandstats')));
  return m === null ? 0 : Number(m[1]);
}

describe('replica reads through the proxy', { skip }, () => {
  let tp: TestProxy;
  /** --provider static over the same nodes, --read-from master (the default). */
  let byDefault: TestProxy;
  /** --provider static over the same nodes, prefer-replica with --max-replica-lag 200ms. */
  let tight: TestProxy;
  /** --provider static, --read-from replica. */
  let strict: TestProxy;
  const nodes: Node[] = [];
  const clients: Redis[] = [];
  /** Pids stopped with SIGSTOP (continued at the end whatever happens). */
  const stopped: number[] = [];
  /** Ports of replicas killed for good: not waited for. */
  const gone: number[] = [];

  const masters = (): Node[] => nodes.filter((n) => n.role === 'master');
  const replicas = (): Node[] => nodes.filter((n) => n.role === 'slave');
  const replicaOf = (master: Node): Node => replicas().find((r) => r.shardPort === master.port)!;
  const masterOfKey = (t: TestProxy, key: string): Node => {
    const map = t.proxy.server.router.slotMap;
    const port = map.masters[map.slotToMaster[calculateSlot(key)]].port;
    return masters().find((m) => m.port === port)!;
  };
  async function resetStats(): Promise<void> {
    for (const n of nodes) await n.client.config('RESETSTAT');
  }
  async function client(t: TestProxy): Promise<Redis> {
    const c = await strictClient(t.port, 10_000);
    clients.push(c);
    return c;
  }
  /** Every replica serves reads for this proxy (its lag monitor polled them). */
  async function replicasUsable(t: TestProxy, ms = 10_000): Promise<void> {
    await waitUntil(() => {
      const states = [...(t.proxy.server.router.replicaReads?.replicas() ?? [])].filter((r) => !gone.includes(r.pool.endpoint.port));
      return states.length === replicas().length - gone.length && states.every((r) => r.usable);
    }, ms, 'every replica usable');
  }
  const replicaReadsOf = (t: TestProxy): number => t.proxy.server.router.replicaReads?.served ?? 0;

  before(async () => {
    tp = await startTestProxy(['--masters', '2', '--replicas', '1', '--read-from', 'prefer-replica', '--no-auto-failover']);
    const password = tp.proxy.cluster.nodePassword;
    for (const n of tp.proxy.cluster.topology.nodes) {
      const c = new Redis({ host: '127.0.0.1', port: n.port, password, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      const info = String(await c.info('replication'));
      const role = /^role:(\w+)/m.exec(info)![1] as Node['role'];
      const shardPort = role === 'master' ? n.port : Number(/^master_port:(\d+)/m.exec(info)![1]);
      nodes.push({ port: n.port, pid: Number(n.handle), role, shardPort, client: c });
    }
    assert.equal(masters().length, 2);
    assert.equal(replicas().length, 2);
    const seeds = masters().flatMap((m) => ['--node', `127.0.0.1:${m.port}`]);
    byDefault = await startTestProxy(['--provider', 'static', ...seeds, '--node-password', password]);
    tight = await startTestProxy(['--provider', 'static', ...seeds, '--node-password', password, '--read-from', 'prefer-replica', '--max-replica-lag', '200ms']);
    strict = await startTestProxy(['--provider', 'static', ...seeds, '--node-password', password, '--read-from', 'replica']);
    const w = await client(tp);
    for (let i = 0; i < 100; i++) await w.set(`rr:${i}`, `v${i}`);
  });

  after(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    for (const c of clients) c.disconnect();
    for (const n of nodes) n.client.disconnect();
    await strict?.close();
    await tight?.close();
    await byDefault?.close();
    await tp?.close();
  });

  test('--read-from prefer-replica: GETs are served by the replicas, not the masters', async () => {
    await replicasUsable(tp);
    const reader = await client(tp);
    await resetStats();
    const before = replicaReadsOf(tp);
    const values = await Promise.all(Array.from({ length: 200 }, (_, i) => reader.get(`rr:${i % 100}`)));
    assert.deepEqual(values, Array.from({ length: 200 }, (_, i) => `v${i % 100}`));
    const replicaGets = await Promise.all(replicas().map(getCalls));
    assert.deepEqual(await Promise.all(masters().map(getCalls)), [0, 0], 'no GET reached a master');
    assert.equal(replicaGets[0] + replicaGets[1], 200);
    assert.ok(replicaGets.every((n) => n > 0), 'both shards read from their replica');
    assert.equal(replicaReadsOf(tp) - before, 200);
    const stats = String(await reader.info('stats'));
    assert.equal(Number(/^replica_reads:(\d+)\r?$/m.exec(stats)?.[1]), replicaReadsOf(tp));
    const metrics = await tp.proxy.metrics.render();
    assert.equal(Number(/^ihs_replica_reads_total (\d+)$/m.exec(metrics)?.[1]), replicaReadsOf(tp));
    assert.match(metrics, /^ihs_replica_read_usable\{address="127\.0\.0\.1:\d+"\} 1$/m);
    // Not the replicas' business: writes, a split MGET, a transaction's reads.
    await resetStats();
    assert.deepEqual(await reader.mget('rr:1', 'rr:2', 'rr:3'), ['v1', 'v2', 'v3']);
    const tx = await reader.multi().get('rr:1').exec();
    assert.deepEqual(tx, [[null, 'v1']]);
    assert.deepEqual(await Promise.all(replicas().map(getCalls)), [0, 0]);
  });

  test('a client with CLIENT TRACKING on reads from the masters, whose invalidations it gets', async () => {
    // A lagging replica could hand it a value older than an invalidation it already had.
    await replicasUsable(tp);
    const tracker = await client(tp);
    assert.equal(await tracker.call('CLIENT', 'TRACKING', 'ON', 'BCAST'), 'OK');
    await resetStats();
    for (let i = 0; i < 40; i++) assert.equal(await tracker.get(`rr:${i}`), `v${i}`);
    assert.deepEqual(await Promise.all(replicas().map(getCalls)), [0, 0], 'no GET of the tracking client reached a replica');
    const masterGets = await Promise.all(masters().map(getCalls));
    assert.equal(masterGets[0] + masterGets[1], 40);
    assert.equal(await tracker.call('CLIENT', 'TRACKING', 'OFF'), 'OK');
    await resetStats();
    for (let i = 0; i < 40; i++) assert.equal(await tracker.get(`rr:${i}`), `v${i}`);
    const replicaGets = await Promise.all(replicas().map(getCalls));
    assert.equal(replicaGets[0] + replicaGets[1], 40, 'tracking off: the replicas again');
  });

  test('--read-from master: a READONLY client reads from the replicas, after READWRITE from the masters', async () => {
    const plain = await client(byDefault);
    const ro = await client(byDefault);
    await resetStats();
    for (let i = 0; i < 50; i++) assert.equal(await plain.get(`rr:${i}`), `v${i}`);
    assert.deepEqual(await Promise.all(replicas().map(getCalls)), [0, 0], 'the default: masters only');
    assert.equal(byDefault.proxy.server.router.replicaReads, null, 'no replica reads until a client asks');

    assert.equal(await ro.call('READONLY'), 'OK');
    assert.match(String(await ro.call('CLIENT', 'INFO')), / flags=r /, 'CLIENT LIST shows READONLY as Redis does');
    await replicasUsable(byDefault);
    await resetStats();
    for (let i = 0; i < 50; i++) assert.equal(await ro.get(`rr:${i}`), `v${i}`);
    for (let i = 0; i < 20; i++) assert.equal(await plain.get(`rr:${i}`), `v${i}`);
    const masterGets = await Promise.all(masters().map(getCalls));
    const replicaGets = await Promise.all(replicas().map(getCalls));
    assert.equal(replicaGets[0] + replicaGets[1], 50, "the READONLY client's GETs");
    assert.equal(masterGets[0] + masterGets[1], 20, "the plain client's GETs");

    assert.equal(await ro.call('READWRITE'), 'OK');
    assert.match(String(await ro.call('CLIENT', 'INFO')), / flags=N /);
    await resetStats();
    for (let i = 0; i < 30; i++) assert.equal(await ro.get(`rr:${i}`), `v${i}`);
    assert.deepEqual(await Promise.all(replicas().map(getCalls)), [0, 0], 'READWRITE: masters again');
  });

  test('a client reads its own writes: SET then GET, pipelined, after EXEC, after a split MSET', async () => {
    await replicasUsable(tp);
    const c = await client(tp);
    for (let i = 0; i < 1000; i++) {
      const key = `ryw:${i % 37}`;
      assert.equal(await c.set(key, `n${i}`), 'OK');
      assert.equal(await c.get(key), `n${i}`, `round ${i}`);
    }
    for (let i = 0; i < 300; i++) {
      const key = `ryw:p:${i % 11}`;
      const replies = await c.pipeline().set(key, `p${i}`).get(key).incr(`${key}:n`).get(`${key}:n`).exec();
      assert.equal(replies![1][1], `p${i}`, `pipelined round ${i}`);
      assert.equal(replies![3][1], String(replies![2][1]));
    }
    for (let i = 0; i < 100; i++) {
      const key = `ryw:tx:${i % 7}`;
      await c.multi().set(key, `t${i}`).exec();
      assert.equal(await c.get(key), `t${i}`, `after EXEC, round ${i}`);
    }
    assert.notEqual(calculateSlot('ryw:m:a'), calculateSlot('ryw:m:b'));
    for (let i = 0; i < 100; i++) {
      await c.mset('ryw:m:a', `a${i}`, 'ryw:m:b', `b${i}`);
      assert.deepEqual([await c.get('ryw:m:a'), await c.get('ryw:m:b')], [`a${i}`, `b${i}`], `after MSET, round ${i}`);
    }
    // Once the replicas have caught up, the same client's reads of those keys go to them again.
    const served = replicaReadsOf(tp);
    await waitUntil(async () => {
      assert.equal(await c.get('ryw:0'), 'n999');
      return replicaReadsOf(tp) > served;
    }, 10_000, 'a read of a written key served by a replica');
  });

  test('--max-replica-lag: a replica that falls behind its master is skipped', async () => {
    await replicasUsable(tight);
    const key = keyOnShard(tight, 0, 'lag');
    const master = masterOfKey(tight, key);
    const replica = replicaOf(master);
    const w = await client(tight);
    const reader = await client(tight);
    await w.set(key, 'before');
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await w.set(`{${key}}:tick`, String(++written));
        await sleep(5);
      }
    })();
    const getsBefore = await getCalls(replica);
    const state = [...tight.proxy.server.router.replicaReads!.replicas()].find((r) => r.pool.endpoint.port === replica.port)!;
    process.kill(replica.pid, 'SIGSTOP');
    stopped.push(replica.pid);
    try {
      await waitUntil(() => !state.usable, 10_000, 'the stopped replica skipped');
      assert.ok(state.lagMs > 200, `lags ${state.lagMs} ms`);
      for (let i = 0; i < 50; i++) assert.equal(await reader.get(key), 'before');
    } finally {
      writing = false;
      await writer;
      process.kill(replica.pid, 'SIGCONT');
      stopped.pop();
    }
    await replicasUsable(tight);
    assert.equal(await getCalls(replica), getsBefore, 'no GET reached the replica while it lagged');
  });

  test('--read-from replica: no usable replica is -CLUSTERDOWN, not a read from the master', async () => {
    await replicasUsable(strict);
    const key = keyOnShard(strict, 1, 'strict');
    const replica = replicaOf(masterOfKey(strict, key));
    const c = await client(strict);
    assert.equal(await c.get(key), null);
    const state = [...strict.proxy.server.router.replicaReads!.replicas()].find((r) => r.pool.endpoint.port === replica.port)!;
    process.kill(replica.pid, 'SIGSTOP');
    stopped.push(replica.pid);
    try {
      await waitUntil(() => !state.usable, 10_000, 'the stopped replica skipped');
      await assert.rejects(c.get(key), /^ReplyError: CLUSTERDOWN No replica of the slot's master can serve reads now/);
    } finally {
      process.kill(replica.pid, 'SIGCONT');
      stopped.pop();
    }
  });

  test('--read-from any: reads spread over the masters and the replicas, by client', async () => {
    const any = await startTestProxy(['--provider', 'static', ...masters().flatMap((m) => ['--node', `127.0.0.1:${m.port}`]), '--node-password', tp.proxy.cluster.nodePassword, '--read-from', 'any']);
    try {
      await replicasUsable(any);
      const readers = await Promise.all(Array.from({ length: 6 }, () => client(any)));
      await resetStats();
      for (const r of readers) for (let i = 0; i < 20; i++) assert.equal(await r.get(`rr:${i}`), `v${i}`);
      const masterGets = await Promise.all(masters().map(getCalls));
      const replicaGets = await Promise.all(replicas().map(getCalls));
      assert.equal([...masterGets, ...replicaGets].reduce((a, b) => a + b, 0), 120);
      assert.ok(masterGets[0] + masterGets[1] > 0, `masters served some: ${masterGets}`);
      assert.ok(replicaGets[0] + replicaGets[1] > 0, `replicas served some: ${replicaGets}`);
    } finally {
      await any.close();
    }
  });

  test('kill -9 of a replica under a read load: no client error, its reads go to the master', async () => {
    await replicasUsable(tp);
    const key = keyOnShard(tp, 1, 'kill');
    const master = masterOfKey(tp, key);
    const replica = replicaOf(master);
    const keys = Array.from({ length: 16 }, (_, i) => `{${key}}:${i}`);
    const w = await client(tp);
    for (const k of keys) await w.set(k, k);
    await replicasUsable(tp);
    const readers = await Promise.all(Array.from({ length: 4 }, () => client(tp)));
    let reading = true;
    let rounds = 0;
    const errors: string[] = [];
    const load = readers.map(async (r) => {
      while (reading) {
        try {
          const values = await Promise.all(keys.map((k) => r.get(k)));
          assert.deepEqual(values, keys);
          rounds++;
        } catch (err) {
          errors.push(String(err));
        }
      }
    });
    await waitUntil(() => rounds > 20, 10_000, 'reads under way');
    const before = rounds;
    process.kill(replica.pid, 'SIGKILL');
    gone.push(replica.port);
    await waitUntil(() => rounds > before + 50, 20_000, 'reads after the kill');
    reading = false;
    await Promise.all(load);
    assert.deepEqual(errors, []);
    await master.client.config('RESETSTAT');
    const c = await client(tp);
    for (const k of keys) assert.equal(await c.get(k), k);
    assert.equal(await getCalls(master), keys.length, "the dead replica's reads went to its master");
  });

  test('FAILOVER of a master under reads and read-your-writes rounds: no client error, every read current', async () => {
    await replicasUsable(tp);
    const key = keyOnShard(tp, 0, 'fo');
    const master = masterOfKey(tp, key);
    const id = tp.proxy.cluster.topology.nodes.find((n) => n.port === master.port)!.id;
    const keys = Array.from({ length: 8 }, (_, i) => `{${key}}:${i}`);
    const w = await client(tp);
    for (const k of keys) await w.set(k, k);
    const readers = await Promise.all(Array.from({ length: 3 }, () => client(tp)));
    const admin = await client(tp);
    let running = true;
    let rounds = 0;
    const errors: string[] = [];
    const load = [
      ...readers.map(async (r) => {
        while (running) {
          try {
            assert.deepEqual(await Promise.all(keys.map((k) => r.get(k))), keys);
            rounds++;
          } catch (err) {
            errors.push(String(err));
          }
        }
      }),
      (async () => {
        for (let i = 0; running; i++) {
          try {
            await w.set(`{${key}}:rw`, String(i));
            assert.equal(await w.get(`{${key}}:rw`), String(i));
          } catch (err) {
            errors.push(String(err));
          }
        }
      })(),
    ];
    await waitUntil(() => rounds > 20, 10_000, 'reads under way');
    assert.match(String(await admin.call('FAILOVER', id)), new RegExp(`is the master of ${id}'s slots now; ${id} is its replica$`));
    const after = rounds;
    await waitUntil(() => rounds > after + 100, 20_000, 'reads after the failover');
    running = false;
    await Promise.all(load);
    assert.deepEqual(errors, []);
  });
});
