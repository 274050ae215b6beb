/**
 * The Redis Cluster test harness on its own (no proxy): create a 3×1 cluster with a password,
 * use it with redis-cli -c, reshard, fail over, close without leaving a process behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import { redisServerPidsUnder, skipWithoutRedis } from './support/redis-binary.js';
import { CLUSTER_SLOTS, startRedisCluster, type RedisCluster } from './support/redis-cluster.js';

const skip = await skipWithoutRedis();

describe('test harness: a real Redis Cluster', { skip }, () => {
  let cluster: RedisCluster | undefined;
  after(() => cluster?.close());

  test('3×1 with a password: redis-cli -c, reshard 100 slots, CLUSTER FAILOVER, close', { timeout: 90_000 }, async () => {
    cluster = await startRedisCluster({ masters: 3, replicas: 1, password: 'harness-pw' });
    const c = cluster;
    assert.equal(c.nodes.length, 6);
    assert.equal(new Set(c.nodes.flatMap((n) => [n.port, n.busPort])).size, 12, 'client and bus ports all distinct');

    const masters = await c.masters();
    const replicas = await c.replicas();
    assert.equal(masters.length, 3);
    assert.equal(replicas.length, 3);
    assert.equal(masters.reduce((s, m) => s + m.slotCount, 0), CLUSTER_SLOTS);
    assert.deepEqual(new Set(replicas.map((r) => r.masterId)), new Set(masters.map((m) => m.id)), 'one replica per master');
    assert.equal((await c.nodeIds()).size, 6);

    // The password is required; with it, redis-cli -c follows MOVED.
    const noPassword = spawnSync('redis-cli', ['-p', String(c.nodes[0].port), 'GET', 'x'], { encoding: 'utf8' });
    assert.match(noPassword.stdout + noPassword.stderr, /NOAUTH/);
    for (let i = 0; i < 20; i++) assert.equal(await c.cli(['-c', 'SET', `h:${i}`, String(i)]), 'OK');
    for (let i = 0; i < 20; i++) assert.equal(await c.cli(['-c', 'GET', `h:${i}`], { node: c.addresses[i % 6] }), String(i));

    // Reshard 100 slots from the first master to the second, keys included.
    const [a, b] = masters;
    const slotOfA = a.slots[0][0];
    const keyInA = Array.from({ length: 100_000 }, (_, i) => `ra:${i}`).find((k) => calculateSlot(k) === slotOfA)!;
    assert.equal(await c.cli(['-c', 'SET', keyInA, 'moved']), 'OK');
    await c.reshard({ from: a.address, to: b.id, slots: 100 });
    const after = new Map((await c.masters()).map((m) => [m.id, m.slotCount]));
    assert.equal(after.get(a.id), a.slotCount - 100);
    assert.equal(after.get(b.id), b.slotCount + 100);
    assert.equal((await c.masterOfSlot(slotOfA)).id, b.id, 'the first slots of the source move');
    assert.equal(await c.cli(['GET', keyInA], { node: b.address }), 'moved', 'the key moved with its slot');
    for (let i = 0; i < 20; i++) assert.equal(await c.cli(['-c', 'GET', `h:${i}`]), String(i));

    // CLUSTER FAILOVER on a replica: it becomes master, its old master its replica.
    const replica = replicas.find((r) => r.masterId === b.id)!;
    const oldMaster = await c.failoverReplica(replica.address);
    assert.equal(oldMaster, b.address);
    const nowMasters = await c.masters();
    assert.ok(nowMasters.some((m) => m.id === replica.id && m.slotCount === b.slotCount + 100));
    assert.equal((await c.clusterNodes()).find((n) => n.id === b.id)?.masterId, replica.id);
    assert.equal(await c.cli(['-c', 'GET', keyInA]), 'moved');

    // close(): no process, no dir.
    const root = c.root;
    assert.equal((await redisServerPidsUnder(root)).length, 6);
    await c.close();
    assert.deepEqual(await redisServerPidsUnder(root), []);
    assert.equal(existsSync(root), Boolean(process.env.IHS_KEEP_CLUSTER_DIR));
    await c.close(); // idempotent
  });
});
