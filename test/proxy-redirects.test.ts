/**
 * The cluster's redirects, followed inside the proxy, on the embedded cluster: slots are
 * moved by hand the way redis-cli --cluster reshard does it (SETSLOT IMPORTING/MIGRATING,
 * MIGRATE, SETSLOT NODE), so every step can be caught in the middle.
 *   -ASK while a slot migrates, -TRYAGAIN for a multi-key request whose keys are split
 *   between the two nodes, -MOVED once it has moved — and a blocked BLPOP that Redis
 *   redirects when its slot moves away. No client ever sees any of them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { skipWithoutRedis } from './support/redis-binary.js';
import { RawClient, startTestProxy, type TestProxy } from './support/proxy.js';

const skip = await skipWithoutRedis();


// Once per protocol: a redirected request is sent again on a connection of its client's protocol.
for (const protocol of [2, 3] as const) describe(`MOVED, ASK and TRYAGAIN are followed, never seen (RESP${protocol})`, { skip }, () => {
  let tp: TestProxy;
  let client: Redis;
  /** Direct connections to the two masters, in slot order, and their cluster node ids. */
  let nodes: Redis[] = [];
  let ids: string[] = [];

  before(async () => {
    tp = await startTestProxy(['--masters', '2', '--replicas', '0', '--slot-map-refresh', '60000']);
    client = new Redis({ port: tp.port, maxRetriesPerRequest: 0, protocol });
    const map = tp.proxy.server.router.slotMap;
    const password = tp.proxy.cluster.nodePassword;
    nodes = map.servingMasters().map((i) => new Redis({ host: map.masters[i].host, port: map.masters[i].port, password, maxRetriesPerRequest: 0 }));
    ids = map.servingMasters().map((i) => map.masters[i].nodeId);
  });

  after(async () => {
    client?.disconnect();
    for (const n of nodes) n.disconnect();
    await tp?.close();
  });

  /** Hash-tagged keys in one slot served by master 0 (slots 0..8191 with two masters). */
  function keysInMaster0Slot(prefix: string, n: number): { tag: string; slot: number; keys: string[] } {
    for (let i = 0; ; i++) {
      const tag = `${prefix}${i}`;
      const slot = calculateSlot(tag);
      if (slot < 8192) return { tag, slot, keys: Array.from({ length: n }, (_, j) => `{${tag}}:${j}`) };
    }
  }

  async function migrateKeys(slot: number, keys: string[]): Promise<void> {
    const target = nodes[1].options;
    const before = (await nodes[1].call('CLUSTER', 'COUNTKEYSINSLOT', String(slot))) as number;
    await nodes[0].call('MIGRATE', target.host!, String(target.port), '', '0', '5000', 'AUTH', tp.proxy.cluster.nodePassword, 'KEYS', ...keys);
    assert.equal(await nodes[1].call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)), before + keys.length);
  }

  async function startMigration(slot: number): Promise<void> {
    assert.equal(await nodes[1].call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ids[0]), 'OK');
    assert.equal(await nodes[0].call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', ids[1]), 'OK');
  }

  async function finishMigration(slot: number): Promise<void> {
    assert.equal(await nodes[1].call('CLUSTER', 'SETSLOT', String(slot), 'NODE', ids[1]), 'OK');
    assert.equal(await nodes[0].call('CLUSTER', 'SETSLOT', String(slot), 'NODE', ids[1]), 'OK');
  }

  test('ASK mid-migration, TRYAGAIN for a split multi-key read, MOVED after: every answer right, no error', async () => {
    assert.match(String(await client.client('INFO')), new RegExp(` resp=${protocol} `));
    const { tag, slot, keys } = keysInMaster0Slot('mig', 4);
    for (const k of keys) await client.set(k, `v:${k}`);
    await startMigration(slot);
    await migrateKeys(slot, keys.slice(0, 2)); // half the keys on the target
    // Moved keys: the source answers ASK; the proxy sends ASKING + GET to the target.
    assert.equal(await client.get(keys[0]), `v:${keys[0]}`);
    assert.equal(await client.get(keys[3]), `v:${keys[3]}`);
    // A new key in a migrating slot is created on the target (ASK), as Redis Cluster does.
    assert.equal(await client.set(`{${tag}}:new`, 'n'), 'OK');
    assert.equal(await nodes[1].call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)), 3);
    // One slot, keys on both sides: TRYAGAIN, retried until the migration ends, then MOVED.
    const mget = client.mget(...keys);
    await sleep(60);
    await migrateKeys(slot, keys.slice(2));
    await finishMigration(slot);
    assert.deepEqual(await mget, keys.map((k) => `v:${k}`));
    // The proxy's map is stale (refresh every 60 s here): MOVED, followed.
    assert.equal(await client.get(keys[3]), `v:${keys[3]}`);
    assert.equal(tp.proxy.server.router.slotMap.masters[tp.proxy.server.router.slotMap.slotToMaster[slot]].port, nodes[1].options.port);
  });

  test(`a request sent again after MOVED is answered in its client's protocol (RESP${protocol})`, async () => {
    const { slot, keys } = keysInMaster0Slot('shape', 1);
    await client.hset(keys[0], 'f', 'v');
    await startMigration(slot);
    await migrateKeys(slot, keys);
    await finishMigration(slot);
    const raw = await RawClient.connect(tp.port);
    try {
      raw.write(`HELLO ${protocol}\r\nHGETALL ${keys[0]}\r\n`);
      const shape = protocol === 3 ? '%1\r\n$1\r\nf\r\n$1\r\nv\r\n' : '*2\r\n$1\r\nf\r\n$1\r\nv\r\n';
      await raw.waitFor((d) => d.toString('latin1').endsWith(shape));
      assert.equal(tp.proxy.server.router.slotMap.masters[tp.proxy.server.router.slotMap.slotToMaster[slot]].port, nodes[1].options.port, 'the proxy learnt the move from MOVED');
    } finally {
      raw.close();
    }
  });

  test('a BLPOP blocked on a slot that moves away is redirected by Redis and followed: it gets the element', async () => {
    const { slot, keys } = keysInMaster0Slot('blk', 1);
    const blocked = new Redis({ port: tp.port, maxRetriesPerRequest: 0, protocol });
    try {
      const popped = blocked.blpop(keys[0], 0);
      await sleep(100);
      await startMigration(slot);
      await finishMigration(slot); // the list is empty: nothing to migrate
      await sleep(100);
      assert.equal(await client.rpush(keys[0], 'x'), 1);
      assert.deepEqual(await popped, [keys[0], 'x']);
      assert.equal(await client.llen(keys[0]), 0);
    } finally {
      blocked.disconnect();
    }
  });
});
