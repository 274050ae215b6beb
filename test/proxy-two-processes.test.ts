/**
 * Several proxies serve one cluster: routing state comes from the nodes, so a second proxy
 * (`--provider static` on one node of the first proxy's cluster) routes exactly like the
 * first, and writes through either are seen by both — no key lands where the other would
 * not look for it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { skipWithoutRedis } from './support/redis-binary.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';

const skip = await skipWithoutRedis();

describe('two proxy processes on one cluster', { skip }, () => {
  let owner: TestProxy;
  let second: TestProxy;
  let a: Redis;
  let b: Redis;

  before(async () => {
    owner = await startTestProxy(['--masters', '3', '--replicas', '0']);
    const seed = owner.proxy.cluster.topology.nodes[1];
    second = await startTestProxy(['--provider', 'static', '--node', `${seed.host}:${seed.port}`, `--node-password=${owner.proxy.cluster.nodePassword}`]);
    a = new Redis({ port: owner.port, maxRetriesPerRequest: 0 });
    b = new Redis({ port: second.port, maxRetriesPerRequest: 0 });
  });

  after(async () => {
    a?.disconnect();
    b?.disconnect();
    await second?.close();
    await owner?.close();
  });

  test('the second proxy finds every master of the first', () => {
    const mastersOf = (p: TestProxy) => p.proxy.server.router.servingMasters.map((i) => p.proxy.server.router.slotMap.masters[i].address).sort();
    assert.deepEqual(mastersOf(second), mastersOf(owner));
    assert.equal(mastersOf(owner).length, 3);
  });

  test('INCRs through both proxies on the same keys add up; MSET through one, MGET through the other', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `shared:${i}`);
    await Promise.all(
      Array.from({ length: 20 }, (_, round) => {
        const via = round % 2 === 0 ? a : b;
        const p = via.pipeline();
        for (const k of keys) p.incr(k);
        return p.exec();
      }),
    );
    const viaA = await a.mget(...keys);
    const viaB = await b.mget(...keys);
    assert.deepEqual(viaA, keys.map(() => '20'));
    assert.deepEqual(viaB, viaA);
    await b.mset(...keys.flatMap((k, i) => [`m:${k}`, `v${i}`]));
    assert.deepEqual(await a.mget(...keys.map((k) => `m:${k}`)), keys.map((_, i) => `v${i}`));
    assert.equal(await a.dbsize(), await b.dbsize());
    assert.equal(await a.dbsize(), 100);
  });
});
