/**
 * ClusterManager + StaticProvider: the proxy fronts an existing Redis Cluster given by seed
 * nodes. The "existing" cluster is formed here by a ProcessProvider-run ClusterManager in a
 * data dir of its own, playing someone else's cluster; a plain redis-server plays a node
 * that is not a cluster node. The static manager must never stop any of them.
 *
 * Manager level only: the proxy end to end over a static cluster is in
 * test/proxy-options.test.ts (and in test/static-cluster.test.ts, written on another branch).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClusterManager } from '../src/cluster/cluster-manager.js';
import { LOCK_FILE } from '../src/cluster/data-dir-lock.js';
import { SlotMapSource } from '../src/cluster/slot-map-source.js';
import { UNASSIGNED } from '../src/cluster/slot-map.js';
import { type NodeRecord, type TopologyDoc } from '../src/cluster/topology/topology.js';
import { buildManagedTopology } from '../src/cluster/topology/topology-builder.js';
import { TOPOLOGY_FILE, TopologyStore } from '../src/cluster/topology/topology-store.js';
import { silentLogger } from '../src/log.js';
import { ControlClients, infoFields, parseInfo, type NodeAddress } from '../src/nodes/control-client.js';
import { isPidAlive } from '../src/nodes/process/pid.js';
import { ProcessProvider } from '../src/nodes/process/process-provider.js';
import { StaticProvider } from '../src/nodes/static-provider.js';
import { sleep } from '../src/nodes/wait.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';

const log = silentLogger();
const skip = await skipWithoutRedis();
const TIMEOUT = 30_000;

function addr(n: NodeRecord): NodeAddress {
  return { host: n.host, port: n.port };
}

describe('ClusterManager with a static Redis Cluster', { skip }, () => {
  let root = '';
  /** Someone else's Redis Cluster: 2 masters, a replica each. */
  let owner: ClusterManager;
  let cluster: TopologyDoc;
  let password = '';
  let standalone: RedisServerHandle;
  let dirs = 0;

  const masters = () => cluster.nodes.filter((n) => n.formedAsReplicaOf === undefined);
  const replicas = () => cluster.nodes.filter((n) => n.formedAsReplicaOf !== undefined);

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ihs-static-test-'));
    owner = await ClusterManager.open({
      dataDir: path.join(root, 'someone-elses-cluster'),
      masters: 2,
      replicas: 1,
      provider: new ProcessProvider({ log, startTimeoutMs: 10_000 }),
      log,
    });
    cluster = owner.topology;
    password = owner.nodePassword;
    // an established cluster: every node knows every slot's owner
    const deadline = Date.now() + 15_000;
    for (const n of cluster.nodes) {
      for (;;) {
        const info = parseInfo(String(await new ControlClients({ password }).with(addr(n), (c) => c.call('CLUSTER', 'INFO'), 2_000)));
        if (info.get('cluster_state') === 'ok' && info.get('cluster_slots_assigned') === '16384') break;
        assert.ok(Date.now() < deadline, `${n.id} did not learn every slot`);
        await sleep(100);
      }
    }
    // a Redis that is not a cluster node, with the same password (so only the cluster check can refuse it)
    standalone = await startRedisServer(['--requirepass', password]);
  });

  after(async () => {
    await standalone?.stop();
    await owner?.shutdown();
    await killRedisServersUnder(root);
    await rm(root, { recursive: true, force: true });
  });

  function newDataDir(): string {
    return path.join(root, `static-${dirs++}`);
  }

  function open(dataDir: string, seeds: NodeAddress[], pw: string | undefined = password): Promise<ClusterManager> {
    return ClusterManager.open({
      dataDir,
      masters: 3,
      replicas: 1,
      provider: new StaticProvider({ log, readyTimeoutMs: 500 }),
      staticNodes: seeds.map((s) => ({ host: s.host, port: s.port })),
      staticPassword: pw,
      log,
      commandTimeoutMs: 1_000,
    });
  }

  /** The static manager never stops (or reconfigures) a node of the cluster it fronts. */
  async function assertClusterUntouched(): Promise<void> {
    for (const n of cluster.nodes) {
      assert.ok(isPidAlive(Number(n.handle)), `${n.id} (pid ${n.handle}) still running`);
      const info = await new ControlClients({ password }).with(addr(n), async (c) => ({
        cluster: parseInfo(String(await c.call('CLUSTER', 'INFO'))),
        role: (await infoFields(c, 'replication')).get('role'),
      }), 2_000);
      assert.equal(info.cluster.get('cluster_state'), 'ok', n.id);
      assert.equal(info.role, n.formedAsReplicaOf === undefined ? 'master' : 'slave', `${n.id} keeps its role`);
    }
  }

  async function assertUnlocked(dataDir: string): Promise<void> {
    await assert.rejects(stat(path.join(dataDir, LOCK_FILE)), { code: 'ENOENT' }, 'lock released');
  }

  test('seeds of an existing Redis Cluster: the document names them, the cluster tells the rest, shutdown stops nothing', { timeout: TIMEOUT }, async () => {
    const dataDir = newDataDir();
    const seed = masters()[0];
    const m = await open(dataDir, [addr(seed)]);
    const doc = m.topology;
    assert.equal(doc.format, 2);
    assert.equal(doc.provider, 'static');
    assert.equal(doc.formed, true, 'formed by its owner');
    assert.deepEqual(doc.initialSlots, []);
    assert.deepEqual(doc.nodes, [{ id: 'seed0', host: '127.0.0.1', port: seed.port, busPort: 0 }]);
    assert.equal(m.nodePassword, password);
    assert.deepEqual(m.seedAddresses(), [{ host: '127.0.0.1', port: seed.port }]);
    assert.deepEqual(JSON.parse(await readFile(path.join(dataDir, TOPOLOGY_FILE), 'utf8')), doc);
    assert.equal((await stat(path.join(dataDir, TOPOLOGY_FILE))).mode & 0o777, 0o600);

    // one seed is enough: its CLUSTER NODES names every master and replica
    const source = new SlotMapSource({
      seeds: () => m.seedAddresses(),
      clients: m.clients,
      log,
      onMap: () => {},
      intervalMs: 0,
      connectTimeoutMs: 2_000,
      commandTimeoutMs: 2_000,
    });
    try {
      const map = await source.refresh();
      assert.deepEqual(map.masters.map((mm) => mm.port), masters().map((n) => n.port), 'both masters, in slot order');
      assert.ok(map.slotToMaster.every((i) => i !== UNASSIGNED), 'every slot has a master');
      for (const r of replicas()) {
        const master = cluster.nodes.find((n) => n.id === r.formedAsReplicaOf)!;
        const route = map.masters.find((mm) => mm.port === master.port)!;
        assert.deepEqual(route.replicas.map((x) => x.port), [r.port], `${r.id} under ${master.id}`);
      }
    } finally {
      source.close();
    }

    await m.shutdown();
    await m.shutdown(); // idempotent
    await assertUnlocked(dataDir);
    await assertClusterUntouched();

    // opened again with other seeds (a replica and an address nobody answers on): the seeds given now win
    const again = await open(dataDir, [addr(replicas()[1]), { host: '127.0.0.1', port: 1 }]);
    assert.deepEqual(
      again.topology.nodes.map((n) => [n.id, n.port]),
      [
        ['seed0', replicas()[1].port],
        ['seed1', 1],
      ],
    );
    await again.shutdown();
    await assertClusterUntouched();
  });

  test('a standalone (non-cluster) seed is refused, naming its address; so is a mix', { timeout: TIMEOUT }, async () => {
    const lone = { host: '127.0.0.1', port: standalone.port };
    const message = new RegExp(`static node 127\\.0\\.0\\.1:${standalone.port} is not a Redis Cluster node`);
    const dataDir = newDataDir();
    await assert.rejects(open(dataDir, [lone]), message);
    await assertUnlocked(dataDir);
    const mixed = newDataDir();
    await assert.rejects(open(mixed, [addr(masters()[0]), lone]), message);
    await assertUnlocked(mixed);
    await assertClusterUntouched();
    // the standalone node was only looked at
    const role = await new ControlClients({ password }).with(lone, async (c) => (await infoFields(c, 'replication')).get('role'), 2_000);
    assert.equal(role, 'master');
  });

  test('no seed reachable: one clear error listing every seed', { timeout: TIMEOUT }, async () => {
    const dataDir = newDataDir();
    await assert.rejects(open(dataDir, [{ host: '127.0.0.1', port: 1 }, { host: '127.0.0.1', port: 2 }]), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /^no static seed node answers: 127\.0\.0\.1:1: [^;]*ECONNREFUSED[^;]*; 127\.0\.0\.1:2: [^;]*ECONNREFUSED/);
      return true;
    });
    await assertUnlocked(dataDir);
  });

  test('a wrong or missing password: an error naming the refusal and the node', { timeout: TIMEOUT }, async () => {
    const seed = masters()[1];
    const dataDir = newDataDir();
    await assert.rejects(open(dataDir, [addr(seed)], 'not-the-password'), new RegExp(`static node 127\\.0\\.0\\.1:${seed.port} refused the password: WRONGPASS`));
    await assertUnlocked(dataDir);
    await assert.rejects(open(newDataDir(), [addr(seed)], ''), new RegExp(`static node 127\\.0\\.0\\.1:${seed.port} refused the password: NOAUTH`));
    // a refusal stops the open even when another seed would answer
    await assert.rejects(open(newDataDir(), [addr(masters()[0]), addr(seed)], 'not-the-password'), /refused the password: WRONGPASS/);
    await assertClusterUntouched();
  });

  test('a data dir of another provider is refused; no seed given is refused', { timeout: TIMEOUT }, async () => {
    const processDir = newDataDir();
    await mkdir(processDir);
    await new TopologyStore(processDir).save(buildManagedTopology({ provider: 'process', dataDir: processDir, masters: 1, replicas: 0, nodePassword: 'x' }));
    await assert.rejects(
      open(processDir, [addr(masters()[0])]),
      new RegExp(`${TOPOLOGY_FILE} belongs to a cluster of the process provider, not static: use the process provider or another data dir`),
    );
    await assertUnlocked(processDir);
    await assert.rejects(open(newDataDir(), []), /the static provider needs at least one seed node/);
    await assertClusterUntouched();
  });
});
