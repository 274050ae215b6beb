/**
 * ClusterManager + StaticProvider over existing redis-server nodes (started here by a
 * ProcessProvider that plays "someone else's Redis"). The manager must never stop them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClusterManager } from '../src/cluster/cluster-manager.js';
import { silentLogger } from '../src/log.js';
import { probeNode } from '../src/nodes/control-client.js';
import { ProcessProvider } from '../src/nodes/process-provider.js';
import type { RunningNode } from '../src/nodes/provider.js';
import { StaticProvider } from '../src/nodes/static-provider.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';

const log = silentLogger();
const skip = await skipWithoutRedis();
const PASSWORD = 'static-secret';

describe('ClusterManager with static nodes', { skip }, () => {
  let root = '';
  let existing: ProcessProvider;
  let a: RunningNode;
  let b: RunningNode;
  let replicaOfA: RunningNode;

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ihs-static-test-'));
    existing = new ProcessProvider({ log, startTimeoutMs: 10_000 });
    [a, b] = await Promise.all(
      ['a', 'b'].map((id) => existing.start({ id, port: 0, dataDir: path.join(root, 'redis', id), password: PASSWORD })),
    );
    replicaOfA = await existing.start({
      id: 'a-replica',
      port: 0,
      dataDir: path.join(root, 'redis', 'a-replica'),
      password: PASSWORD,
      replicaOf: { host: a.host, port: a.port },
    });
  });

  after(async () => {
    await existing?.stopAll();
    await killRedisServersUnder(root);
    await rm(root, { recursive: true, force: true });
  });

  function open(dataDir: string, nodes: RunningNode[], password = PASSWORD): Promise<ClusterManager> {
    return ClusterManager.open({
      dataDir,
      masters: 3,
      replicas: 1,
      provider: new StaticProvider({ log, readyTimeoutMs: 500 }),
      staticNodes: nodes.map((n) => ({ host: n.host, port: n.port })),
      staticPassword: password,
      log,
    });
  }

  test('the nodes become the masters; shutdown leaves them running; the persisted list wins', { timeout: 20_000 }, async () => {
    const dataDir = path.join(root, 'data-ok');
    const m = await open(dataDir, [a, b]);
    assert.equal(m.topology.provider, 'static');
    assert.deepEqual(
      m.topology.nodes.map((n) => [n.id, n.role, n.port]),
      [
        ['m0', 'master', a.port],
        ['m1', 'master', b.port],
      ],
    );
    assert.equal(m.topology.nodePassword, PASSWORD);
    assert.deepEqual(m.slotMap.shards.map((s) => s.port), [a.port, b.port]);
    await m.shutdown();
    assert.equal((await probeNode(a, PASSWORD, 1_000)).state, 'ready', 'static nodes are not ours to stop');

    const again = await open(dataDir, [b]);
    assert.deepEqual(again.topology.nodes.map((n) => n.port), [a.port, b.port]);
    await again.shutdown();
  });

  test('a wrong password, a dead address or a replica fail open with a clear error', { timeout: 20_000 }, async () => {
    await assert.rejects(open(path.join(root, 'data-pw'), [a], 'wrong'), /static node m0 at 127\.0\.0\.1:\d+ refused the password: WRONGPASS/);
    const dead = { ...a, port: 1 };
    await assert.rejects(open(path.join(root, 'data-dead'), [dead]), /static node m0 at 127\.0\.0\.1:1 is not ready after 500 ms: connect ECONNREFUSED/);
    await assert.rejects(
      open(path.join(root, 'data-replica'), [replicaOfA]),
      new RegExp(`static node m0 at 127\\.0\\.0\\.1:${replicaOfA.port} is a replica of 127\\.0\\.0\\.1:${a.port}: static nodes must be masters`),
    );
  });
});
