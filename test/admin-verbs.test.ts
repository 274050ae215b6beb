/**
 * The admin verbs over RESP (issue 6 part 6), through redis-cli and ioredis against a
 * real proxy and its real Redis Cluster:
 *   - LIST / LS: one line per node with id, address, role, master, state, slots, keys,
 *     offset and lag — checked against the nodes themselves;
 *   - --admin-password: data users get NOPERM, `AUTH admin <password>` runs them, a wrong
 *     password WRONGPASS; without it every client may run them;
 *   - FAILOVER <master>: a planned switch under a write load, no acknowledged write lost,
 *     no client error; bad requests (unknown node, a replica, wrong arity) change nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { redisCli, startTestProxy, type TestProxy } from './support/proxy.js';
import type { AdminChangeOperation } from '../src/admin/cluster-admin.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { freePort, startRedisServer } from './support/redis-server.js';
import { listNodes, type ListedNode } from './support/admin-list.js';

const skip = await skipWithoutRedis();

async function list(r: Redis): Promise<ListedNode[]> {
  return listNodes(r);
}

function slotCount(ranges: string): number {
  if (ranges === '-') return 0;
  return ranges.split(',').reduce((sum, r) => {
    const [a, b = a] = r.split('-').map(Number);
    return sum + b - a + 1;
  }, 0);
}

describe('admin verbs', { skip }, () => {
  let tp: TestProxy;
  const ADMIN_PASSWORD = 'admin-secret';

  before(async () => {
    tp = await startTestProxy(['--admin-password', ADMIN_PASSWORD]);
  });

  after(async () => {
    await tp?.close().catch(async () => killRedisServersUnder(tp.dataDir, []));
  });

  test('with --admin-password: data users get NOPERM, AUTH admin runs the verbs, a wrong password WRONGPASS', async () => {
    assert.equal(await redisCli(tp.port, ['LIST']), "NOPERM this user has no permissions to run the 'list' command");
    assert.equal(await redisCli(tp.port, ['FAILOVER', 'm0']), "NOPERM this user has no permissions to run the 'failover' command");
    const out = await redisCli(tp.port, ['LS'], ['--user', 'admin', '--pass', ADMIN_PASSWORD, '--no-auth-warning']);
    assert.equal(out.split('\n').length, 6, out);
    // redis-cli warns of the failed AUTH on stderr and runs the command anyway: still refused
    const bad = await redisCli(tp.port, ['LS'], ['--user', 'admin', '--pass', 'nope', '--no-auth-warning']);
    assert.equal(bad, "NOPERM this user has no permissions to run the 'ls' command");
    const r = new Redis({ port: tp.port, lazyConnect: true });
    try {
      await r.connect();
      assert.equal(await r.set('data', 'still works'), 'OK', 'data commands need no admin');
      await assert.rejects(r.call('LIST'), /NOPERM/);
      assert.equal(await r.call('AUTH', 'admin', ADMIN_PASSWORD), 'OK');
      assert.equal(((await r.call('LIST')) as string[]).length, 6);
      assert.equal(await r.get('data'), 'still works', 'the admin user runs data commands too');
      await assert.rejects(r.call('AUTH', 'admin', 'wrong'), /WRONGPASS/);
    } finally {
      r.disconnect();
    }
  });

  test('LIST shows every node as the nodes say: roles, masters, slots, keys, offsets, lag', async () => {
    const r = new Redis({ port: tp.port, password: ADMIN_PASSWORD, username: 'admin' });
    try {
      for (let i = 0; i < 300; i++) await r.set(`list:${i}`, 'v');
      await new Promise((res) => setTimeout(res, 300)); // replicas catch up
      const nodes = await list(r);
      assert.deepEqual(nodes.map((n) => n.id).sort(), ['m0', 'm0r0', 'm1', 'm1r0', 'm2', 'm2r0']);
      const masters = nodes.filter((n) => n.role === 'master');
      assert.equal(masters.length, 3);
      assert.equal(masters.reduce((sum, m) => sum + slotCount(m.fields.get('slots')!), 0), 16384, 'every slot once');
      for (const m of masters) assert.equal(Number(m.fields.get('slot_count')), slotCount(m.fields.get('slots')!));
      let keys = 0;
      for (const n of nodes) {
        assert.equal(n.state, 'up', n.id);
        const [, port] = n.address.split(':');
        const direct = new Redis({ port: Number(port), password: tp.proxy.cluster.nodePassword });
        try {
          assert.equal(Number(n.fields.get('keys')), await direct.dbsize(), `${n.id} keys`);
          const role = /role:(\w+)/.exec(await direct.info('replication'))![1];
          assert.equal(n.role === 'replica' ? 'slave' : n.role, role, `${n.id} role`);
        } finally {
          direct.disconnect();
        }
        if (n.role === 'master') keys += Number(n.fields.get('keys'));
        else {
          assert.equal(n.master, n.id.replace(/r\d+$/, ''), `${n.id}'s master`);
          assert.equal(n.fields.get('lag'), '0', `${n.id} caught up`);
          const master = nodes.find((m) => m.id === n.master)!;
          assert.equal(n.fields.get('offset'), master.fields.get('offset'));
        }
      }
      assert.equal(keys, await r.dbsize());
    } finally {
      r.disconnect();
    }
  });

  test('FAILOVER <master> under a write load: its replica takes over, no acknowledged write lost, no client error', { timeout: 60_000 }, async () => {
    const admin = new Redis({ port: tp.port, password: ADMIN_PASSWORD, username: 'admin' });
    const writer = new Redis({ port: tp.port, maxRetriesPerRequest: 0 });
    try {
      const before = await list(admin);
      const m1 = before.find((n) => n.id === 'm1')!;
      const m1Slots = m1.fields.get('slots')!;
      const acked = new Map<string, string>();
      const errors: string[] = [];
      let stop = false;
      const load = (async () => {
        for (let i = 0; !stop; i++) {
          const key = `fo:${i}`;
          try {
            await writer.set(key, String(i));
            acked.set(key, String(i));
          } catch (err) {
            errors.push((err as Error).message);
          }
        }
      })();
      await new Promise((res) => setTimeout(res, 300));
      const reply = (await admin.call('FAILOVER', 'm1')) as string;
      assert.match(reply, /^m1r0 \(127\.0\.0\.1:\d+\) is the master of m1's slots now; m1 is its replica$/);
      await new Promise((res) => setTimeout(res, 300));
      stop = true;
      await load;
      assert.deepEqual(errors, [], 'no write failed');
      const onM1 = [...acked.keys()].filter((k) => slotCount(m1Slots) > 0 && inRanges(calculateSlot(k), m1Slots));
      assert.ok(onM1.length > 0, 'the load wrote to the failed-over slots');
      const values = await writer.mget(...acked.keys());
      assert.deepEqual(values, [...acked.values()], 'every acknowledged write is there');

      const after = await pollList(admin, (nodes) => nodes.find((n) => n.id === 'm1')?.role === 'replica');
      const promoted = after.find((n) => n.id === 'm1r0')!;
      assert.equal(promoted.role, 'master');
      assert.equal(promoted.fields.get('slots'), m1Slots, 'the same slots');
      assert.equal(after.find((n) => n.id === 'm1')!.master, 'm1r0');
    } finally {
      admin.disconnect();
      writer.disconnect();
    }
  });

  test('ADD SLAVE <master> gives it a second replica in sync with its keys; REMOVE <replica> takes it away', { timeout: 90_000 }, async () => {
    const admin = new Redis({ port: tp.port, password: ADMIN_PASSWORD, username: 'admin' });
    try {
      const master = (await list(admin)).find((n) => n.role === 'master')!;
      const reply = (await admin.call('ADD', 'SLAVE', master.id)) as string;
      const m = /^(\S+) 127\.0\.0\.1:(\d+) is a replica of (\S+), in sync$/.exec(reply);
      assert.ok(m, reply);
      assert.equal(m[3], master.id);
      const added = (await list(admin)).find((n) => n.id === m[1])!;
      assert.equal(added.role, 'replica');
      assert.equal(added.master, master.id);
      assert.equal(added.fields.get('keys'), master.fields.get('keys'), 'a full copy of its master');
      const direct = new Redis({ port: Number(m[2]), password: tp.proxy.cluster.nodePassword });
      try {
        assert.match(await direct.info('replication'), /master_link_status:up/);
      } finally {
        direct.disconnect();
      }

      assert.equal(await admin.call('REMOVE', added.id), `${added.id} removed`);
      const after = await list(admin);
      assert.ok(!after.some((n) => n.id === added.id), 'gone from LIST');
      assert.ok(!after.some((n) => n.address === added.address));
      // ADD REPLICA is the same verb
      await assert.rejects(admin.call('ADD', 'REPLICA', 'nosuch'), /ERR no node nosuch/);
    } finally {
      admin.disconnect();
    }
  });

  test('ADD/REMOVE refusals: a replica of a replica, the last master, bad syntax', async () => {
    const admin = new Redis({ port: tp.port, password: ADMIN_PASSWORD, username: 'admin' });
    try {
      const before = (await list(admin)).map((n) => `${n.id} ${n.role} ${n.master}`);
      const replica = (await list(admin)).find((n) => n.role === 'replica')!;
      await assert.rejects(admin.call('ADD', 'SLAVE', replica.id), /ERR \S+ is a replica of \S+: a replica of a replica is not allowed; name a master/);
      await assert.rejects(admin.call('ADD'), /ERR syntax: ADD MASTER \[host:port\] \| ADD SLAVE <master> \[host:port\] \| ADD REPLICA <master> \[host:port\]/);
      await assert.rejects(admin.call('ADD', 'SLAVE'), /ERR syntax: ADD SLAVE <master id or host:port> \[host:port\]/);
      await assert.rejects(admin.call('ADD', 'MASTER', 'a', 'b'), /ERR syntax: ADD MASTER \[host:port\]/);
      await assert.rejects(admin.call('REMOVE'), /ERR syntax: REMOVE <node id or host:port>/);
      await assert.rejects(admin.call('REMOVE', 'nosuch'), /ERR no node nosuch/);
      assert.deepEqual((await list(admin)).map((n) => `${n.id} ${n.role} ${n.master}`), before);
    } finally {
      admin.disconnect();
    }
  });

  test('bad requests get one clear error and change nothing', async () => {
    const admin = new Redis({ port: tp.port, password: ADMIN_PASSWORD, username: 'admin' });
    try {
      const before = (await list(admin)).map((n) => `${n.id} ${n.role} ${n.master}`);
      await assert.rejects(admin.call('FAILOVER', 'nosuch'), /^ReplyError: ERR no node nosuch \(known: m0, m0r0, m1, m1r0, m2, m2r0\)$/);
      const replica = (await list(admin)).find((n) => n.role === 'replica')!;
      await assert.rejects(admin.call('FAILOVER', replica.id), new RegExp(`ERR ${replica.id} is not a master \\(it is replica\\)`));
      await assert.rejects(admin.call('FAILOVER'), /ERR syntax: FAILOVER <master id or host:port>/);
      await assert.rejects(admin.call('LIST', 'extra'), /ERR syntax: LIST/);
      assert.deepEqual((await list(admin)).map((n) => `${n.id} ${n.role} ${n.master}`), before);
      // a master given by address works like its id
      const master = (await list(admin)).find((n) => n.role === 'master')!;
      await assert.rejects(admin.call('FAILOVER', '127.0.0.1:1'), /ERR no node 127\.0\.0\.1:1/);
      assert.ok(master.address.startsWith('127.0.0.1:'));
    } finally {
      admin.disconnect();
    }
  });
});

describe('ADD MASTER, REBALANCE and REMOVE <master> under a write load', { skip }, () => {
  test('a 4th master gets a quarter of the slots with their keys; REMOVE gives them back; a restarted proxy lists the same cluster', { timeout: 150_000 }, async () => {
    const tp = await startTestProxy([]);
    const c = new Redis({ port: tp.port, maxRetriesPerRequest: 0 });
    try {
      const pipeline = c.pipeline();
      for (let i = 0; i < 20_000; i++) pipeline.set(`seed:${i}`, `v${i}`);
      await pipeline.exec();
      const acked = new Map<string, string>();
      const errors: string[] = [];
      let stop = false;
      const load = (async () => {
        for (let i = 0; !stop; i++) {
          try {
            await c.set(`live:${i}`, String(i));
            acked.set(`live:${i}`, String(i));
          } catch (err) {
            errors.push((err as Error).message);
          }
        }
      })();

      const added = (await c.call('ADD', 'MASTER')) as string;
      assert.match(added, /^m3 127\.0\.0\.1:\d+ is a master \(replica m3r0\); 4096 slots and \d+ keys moved in [\d.]+ s \(\d+ keys\/s\)$/);
      let nodes = await list(c);
      const m3 = nodes.find((n) => n.id === 'm3')!;
      assert.equal(m3.role, 'master');
      assert.equal(Number(m3.fields.get('slot_count')), 4096, 'a quarter of the slots');
      assert.ok(Number(m3.fields.get('keys')) > 4000, `its keys: ${m3.fields.get('keys')}`);
      assert.equal(nodes.find((n) => n.id === 'm3r0')?.master, 'm3');
      for (const m of nodes.filter((n) => n.role === 'master')) assert.equal(Number(m.fields.get('slot_count')), 4096, `${m.id} even`);
      assert.equal(await c.call('REBALANCE'), 'the slots were already even: nothing moved');

      const removed = (await c.call('REMOVE', 'm3')) as string;
      assert.match(removed, /^m3 removed with its replica m3r0; 4096 slots and \d+ keys moved in/);
      stop = true;
      await load;
      assert.deepEqual(errors, [], 'no client error while slots moved');
      nodes = await list(c);
      assert.deepEqual(nodes.map((n) => n.id).sort(), ['m0', 'm0r0', 'm1', 'm1r0', 'm2', 'm2r0']);
      const seeds = await c.mget(...Array.from({ length: 20_000 }, (_, i) => `seed:${i}`));
      assert.deepEqual(seeds, Array.from({ length: 20_000 }, (_, i) => `v${i}`), 'every seeded key with its value');
      assert.deepEqual(await c.mget(...acked.keys()), [...acked.values()], 'every acknowledged write');
      assert.equal(await c.dbsize(), 20_000 + acked.size);
      assert.match(await c.info('migration'), /migrations_in_progress:0/);

      // a restarted proxy (same data dir) lists the same cluster
      const before = nodes.map((n) => `${n.id} ${n.address} ${n.role} ${n.master} ${n.fields.get('slots')}`);
      c.disconnect();
      await tp.proxy.stop();
      const again = await startTestProxy([], tp.dataDir);
      const c2 = new Redis({ port: again.port });
      try {
        const relisted = await pollList(c2, (ns) => ns.every((n) => n.state === 'up'));
        assert.deepEqual(relisted.map((n) => `${n.id} ${n.address} ${n.role} ${n.master} ${n.fields.get('slots')}`), before);
        assert.equal(await c2.dbsize(), 20_000 + acked.size);
      } finally {
        c2.disconnect();
        await again.proxy.stop();
      }
    } finally {
      c.disconnect();
      await tp.close().catch(() => undefined);
    }
  });
});

describe('an ADD MASTER or REMOVE interrupted by a proxy stop or crash', { skip }, () => {
  test('is finished by the next proxy on the data dir: the new master gets its share, the removed one goes', { timeout: 150_000 }, async () => {
    const tp = await startTestProxy([]);
    const seed = async (port: number): Promise<void> => {
      const c = new Redis({ port, maxRetriesPerRequest: 0 });
      try {
        const p = c.pipeline();
        for (let i = 0; i < 5000; i++) p.set(`resume:${i}`, `v${i}`);
        await p.exec();
      } finally {
        c.disconnect();
      }
    };
    await seed(tp.port);
    // What a proxy killed right after ADD MASTER added its node leaves: the verb's intent, an empty master.
    await tp.proxy.cluster.beginOperation<AdminChangeOperation>({ kind: 'admin-change', verb: 'ADD MASTER' });
    const added = await tp.proxy.cluster.addNode();
    await tp.proxy.stop();

    let next = await startTestProxy([], tp.dataDir);
    let c = new Redis({ port: next.port, maxRetriesPerRequest: 0 });
    try {
      await pollUntilNoOperation(next);
      const nodes = await list(c);
      assert.equal(Number(nodes.find((n) => n.id === added.id)!.fields.get('slot_count')), 4096, 'its quarter of the slots');
      assert.equal(await c.dbsize(), 5000);

      // What a proxy killed in the middle of REMOVE leaves: the intent (the drain not done).
      await next.proxy.cluster.beginOperation<AdminChangeOperation>({ kind: 'admin-change', verb: 'REMOVE', node: added.id });
      c.disconnect();
      await next.proxy.stop();
      next = await startTestProxy([], tp.dataDir);
      c = new Redis({ port: next.port, maxRetriesPerRequest: 0 });
      await pollList(c, (ns) => !ns.some((n) => n.id === added.id));
      await pollUntilNoOperation(next);
      assert.deepEqual(await c.mget(...Array.from({ length: 5000 }, (_, i) => `resume:${i}`)), Array.from({ length: 5000 }, (_, i) => `v${i}`));
      assert.equal(await c.dbsize(), 5000);
    } finally {
      c.disconnect();
      await next.proxy.stop();
      await tp.close();
    }
  });
});

async function pollUntilNoOperation(tp: TestProxy): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (tp.proxy.cluster.operations.length > 0) {
    if (Date.now() > deadline) throw new Error(`operations left: ${JSON.stringify(tp.proxy.cluster.operations)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('ADD MASTER host:port: a node someone else runs', { skip }, () => {
  test('refusals first; then it joins with a share of the slots and keys, survives a proxy restart (not stopped by it), and REMOVE resets it', { timeout: 120_000 }, async () => {
    const external = await startRedisServer(['--cluster-enabled', 'yes']);
    const plain = await startRedisServer();
    const busy = await startRedisServer(['--cluster-enabled', 'yes']);
    const tp = await startTestProxy(['--masters', '2', '--replicas', '0']);
    const c = new Redis({ port: tp.port, maxRetriesPerRequest: 0 });
    try {
      const p = c.pipeline();
      for (let i = 0; i < 3000; i++) p.set(`ext:${i}`, `v${i}`);
      await p.exec();
      const dead = await freePort();
      await assert.rejects(c.call('ADD', 'MASTER', `127.0.0.1:${plain.port}`), /ERR 127\.0\.0\.1:\d+ is not a cluster node \(cluster-enabled no\): start it with cluster-enabled yes/);
      await assert.rejects(c.call('ADD', 'MASTER', `127.0.0.1:${dead}`), /ERR cannot reach 127\.0\.0\.1:\d+/);
      await assert.rejects(c.call('ADD', 'MASTER', 'nohost'), /ERR 'nohost' is not an address: expected host:port/);
      const filled = new Redis({ port: busy.port, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await filled.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383'); // a cluster node of its own, with a key
        for (let tries = 0; ; tries++) {
          try {
            await filled.set('x', '1');
            break;
          } catch (err) {
            if (tries > 50 || !/CLUSTERDOWN/.test((err as Error).message)) throw err;
            await new Promise((res) => setTimeout(res, 100)); // its cluster_state turns ok a moment later
          }
        }
      } finally {
        filled.disconnect();
      }
      await assert.rejects(c.call('ADD', 'MASTER', `127.0.0.1:${busy.port}`), /ERR 127\.0\.0\.1:\d+ holds 1 keys: a node added to the cluster must be empty/);
      assert.deepEqual((await list(c)).map((n) => n.id), ['m0', 'm1'], 'nothing changed');

      const reply = String(await c.call('ADD', 'MASTER', `127.0.0.1:${external.port}`));
      assert.match(reply, new RegExp(`^m2 127\\.0\\.0\\.1:${external.port} is a master; 5461 slots and \\d+ keys moved in`));
      const m2 = (await list(c)).find((n) => n.id === 'm2')!;
      assert.equal(m2.role, 'master');
      assert.equal(Number(m2.fields.get('slot_count')), 5461);
      assert.ok(Number(m2.fields.get('keys')) > 500, `its share of the keys: ${m2.fields.get('keys')}`);
      assert.match(await redisCli(external.port, ['DBSIZE']), /^NOAUTH/, 'it requires the cluster password now');

      // a proxy restart adopts nothing and stops nothing of it: it is its owner's
      c.disconnect();
      await tp.proxy.stop();
      const probe = new Redis({ port: external.port, password: tp.proxy.cluster.nodePassword });
      assert.equal(await probe.ping(), 'PONG', 'still running after the proxy stopped its own nodes');
      const again = await startTestProxy([], tp.dataDir);
      const c2 = new Redis({ port: again.port, maxRetriesPerRequest: 0 });
      try {
        const relisted = await pollList(c2, (ns) => ns.every((n) => n.state === 'up'));
        assert.deepEqual(relisted.map((n) => `${n.id} ${n.role}`), ['m0 master', 'm1 master', 'm2 master']);
        assert.deepEqual(await c2.mget(...Array.from({ length: 3000 }, (_, i) => `ext:${i}`)), Array.from({ length: 3000 }, (_, i) => `v${i}`));

        const removed = String(await c2.call('REMOVE', 'm2'));
        assert.match(removed, /^m2 removed; 5461 slots and \d+ keys moved/);
        assert.match(String(await probe.call('CLUSTER', 'INFO')), /cluster_known_nodes:1\r/, 'it left the cluster (CLUSTER RESET HARD)');
        assert.equal(await probe.dbsize(), 0);
        assert.deepEqual((await list(c2)).map((n) => n.id), ['m0', 'm1']);
        assert.equal(await c2.dbsize(), 3000, 'every key on the remaining masters');
      } finally {
        probe.disconnect();
        c2.disconnect();
        await again.close();
      }
    } finally {
      c.disconnect();
      await tp.close().catch(() => undefined);
      await Promise.all([external.stop(), plain.stop(), busy.stop()]);
    }
  });
});

describe('admin verbs without --admin-password', { skip }, () => {
  test('every client may run them', async () => {
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0']);
    try {
      const out = await redisCli(tp.port, ['LIST']);
      assert.match(out, /^m0 127\.0\.0\.1:\d+ master - up slots=0-16383 slot_count=16384 keys=0 offset=\d+ lag=-$/);
      assert.equal(await redisCli(tp.port, ['FAILOVER', 'm0']), 'ERR FAILOVER m0: m0 has no replica that is up to take over');
      assert.equal(await redisCli(tp.port, ['REMOVE', 'm0']), 'ERR m0 is the last master: a cluster needs at least one');
    } finally {
      await tp.close();
    }
  });
});

function inRanges(slot: number, ranges: string): boolean {
  return ranges.split(',').some((r) => {
    const [a, b = a] = r.split('-').map(Number);
    return slot >= a && slot <= b;
  });
}

async function pollList(r: Redis, done: (nodes: ListedNode[]) => boolean): Promise<ListedNode[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const nodes = await list(r);
    if (done(nodes)) return nodes;
    if (Date.now() > deadline) throw new Error(`LIST did not settle: ${JSON.stringify(nodes)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

describe('ADD of the proxy itself or of a node it has (issue 13 part 4)', { skip }, () => {
  test('refused at once, with the reason, whatever name the address is given by; nothing changes', async () => {
    const httpPort = await freePort();
    const tp = await startTestProxy(['--masters', '2', '--replicas', '0', '--http-port', String(httpPort)]);
    const c = new Redis({ port: tp.port, maxRetriesPerRequest: 0 });
    try {
      const m0 = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm0')!;
      const refusals: [string[], RegExp][] = [
        [['ADD', 'MASTER', `127.0.0.1:${tp.port}`], /^ERR 127\.0\.0\.1:\d+ is this proxy \(it listens on 127\.0\.0\.1:\d+\), not a redis-server/],
        [['ADD', 'MASTER', `localhost:${tp.port}`], /^ERR localhost:\d+ is this proxy/],
        [['ADD', 'MASTER', `0.0.0.0:${tp.port}`], /^ERR 0\.0\.0\.0:\d+ is this proxy/],
        [['ADD', 'MASTER', `127.0.0.1:${httpPort}`], /^ERR 127\.0\.0\.1:\d+ is this proxy \(it listens on 127\.0\.0\.1:\d+\)/],
        [['ADD', 'SLAVE', 'm0', `localhost:${tp.port}`], /^ERR localhost:\d+ is this proxy/],
        [['ADD', 'REPLICA', 'm0', `127.0.0.1:${tp.port}`], /^ERR 127\.0\.0\.1:\d+ is this proxy/],
        [['ADD', 'MASTER', `localhost:${m0.port}`], /^ERR localhost:\d+ is m0 \(127\.0\.0\.1:\d+\) already, a node of this cluster/],
        [['ADD', 'SLAVE', 'm1', `127.0.0.1:${m0.port}`], /^ERR 127\.0\.0\.1:\d+ is m0 \(127\.0\.0\.1:\d+\) already/],
      ];
      for (const [args, expected] of refusals) {
        const started = Date.now();
        const error = await c.call(args[0], ...args.slice(1)).then(
          () => assert.fail(`${args.join(' ')} was accepted`),
          (err: Error) => err.message,
        );
        assert.match(error, expected, args.join(' '));
        assert.ok(Date.now() - started < 1000, `${args.join(' ')} refused at once (${Date.now() - started} ms)`);
      }
      assert.deepEqual((await list(c)).map((n) => n.id), ['m0', 'm1'], 'nothing changed');
      assert.deepEqual(tp.proxy.cluster.operations, [], 'no operation left');
      assert.equal(await c.set('still', 'serving'), 'OK');
    } finally {
      c.disconnect();
      await tp.close();
    }
  });
});
