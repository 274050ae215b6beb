/**
 * The docker provider against a real Docker engine: a 3×1 cluster of Redis containers
 * (the image from `make docker-images`, or TEST_REDIS_IMAGE), driven through the proxy.
 *
 * Skipped, with the reason, when no engine answers or the image is missing — unless
 * TEST_REQUIRE_DOCKER=1 (CI), where that is a failure.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, appendFile } from 'node:fs/promises';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { silentLogger } from '../src/log.js';
import { dockerClusterId } from '../src/nodes/docker/docker-provider.js';
import { DockerEvents, type ContainerEvent } from '../src/nodes/docker/docker-events.js';
import { LABEL_CLUSTER, LABEL_NODE, LABEL_ROLE } from '../src/nodes/docker/docker-network.js';
import { listClusterResources } from '../src/nodes/docker/docker-cluster-removal.js';
import { routesSubnet } from '../src/nodes/docker/docker-node-access.js';
import { sleep } from '../src/nodes/wait.js';
import { eventually } from './support/cluster-manager.js';
import { startTestProxy, strictClient, waitForPong, type TestProxy } from './support/proxy.js';
import { freePort } from './support/redis-server.js';
import { WriteLedger } from './support/write-ledger.js';
import { listNodes, type ListedNode } from './support/admin-list.js';

const IMAGE = process.env.TEST_REDIS_IMAGE ?? 'ihs-redis:local';
const docker = new Docker();

async function whyNoDocker(): Promise<string | undefined> {
  try {
    await docker.ping();
  } catch (err) {
    return `no Docker engine answers (${(err as Error).message}); start dockerd to run this suite`;
  }
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    return `image ${IMAGE} is missing: build it with make docker-images`;
  }
  return undefined;
}

const skipReason = await whyNoDocker();
if (skipReason !== undefined && process.env.TEST_REQUIRE_DOCKER === '1') {
  throw new Error(`TEST_REQUIRE_DOCKER=1, but the Docker suite cannot run: ${skipReason}`);
}
if (skipReason !== undefined) process.stdout.write(`# docker suite skipped: ${skipReason}\n`);

async function list(port: number): Promise<ListedNode[]> {
  const c = await strictClient(port, 10_000);
  try {
    return await listNodes(c);
  } finally {
    c.disconnect();
  }
}

/** Wait until `heir` is a master and `victim` is back, up, as its replica. */
async function failedOver(port: number, victim: ListedNode, heir: ListedNode): Promise<void> {
  await eventually(
    `${heir.id} master and ${victim.id} its replica`,
    async () => {
      const now = await list(port);
      const h = now.find((n) => n.id === heir.id);
      const v = now.find((n) => n.id === victim.id);
      return h?.role === 'master' && v?.role === 'replica' && v.master === heir.id && v.state === 'up' ? true : `${JSON.stringify(h)} ${JSON.stringify(v)}`;
    },
    30_000,
  );
}

/** "0-5460,9557" → the set of those slots. */
function parseSlots(text: string): Set<number> {
  const slots = new Set<number>();
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a)) continue;
    for (let slot = a; slot <= (Number.isInteger(b) ? b : a); slot++) slots.add(slot);
  }
  return slots;
}

async function ourContainers(clusterId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL_CLUSTER}=${clusterId}`] } });
}

async function containerOf(clusterId: string, nodeId: string): Promise<Docker.ContainerInspectInfo> {
  return docker.getContainer(`ihs-${clusterId}-${nodeId}`).inspect();
}

/** Remove whatever the suite's cluster left in the engine (containers, volumes, network). */
async function removeCluster(clusterId: string): Promise<void> {
  for (const c of await ourContainers(clusterId)) await docker.getContainer(c.Id).remove({ force: true });
  const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABEL_CLUSTER}=${clusterId}`] } });
  for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove();
  for (const n of await docker.listNetworks({ filters: { label: [`${LABEL_CLUSTER}=${clusterId}`] } })) await docker.getNetwork(n.Id).remove();
}

function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(2000, () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('docker provider: Redis nodes as containers', { skip: skipReason, timeout: 600_000 }, () => {
  let dataDir = '';
  let clusterId = '';
  let tp: TestProxy | undefined;
  // Published ports: the path of a proxy that cannot route to the cluster network (Docker
  // Desktop, rootless Docker); on this host `auto` dials the addresses (tested below).
  const flags = ['--provider', 'docker', '--docker-node-access', 'published', '--redis-image', IMAGE, '--masters', '3', '--replicas', '1', '--ack', 'replica', '--shard-recovery-timeout', '3000'];

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'ihs-docker-test-'));
    clusterId = dockerClusterId(dataDir);
    tp = await startTestProxy(flags, dataDir);
  });

  after(async () => {
    await tp?.close().catch(() => undefined);
    await removeCluster(clusterId);
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a 3×1 cluster of labelled containers on its own network, each with its volume; only 127.0.0.1 ports; SET/GET through the proxy', async () => {
    assert.ok(tp);
    const containers = await ourContainers(clusterId);
    assert.equal(containers.length, 6, '3 masters + 3 replicas');
    const roles = containers.map((c) => c.Labels[LABEL_ROLE]).sort();
    assert.deepEqual(roles, ['master', 'master', 'master', 'replica', 'replica', 'replica']);
    const listed = await list(tp.port);
    assert.deepEqual(listed.map((n) => n.id).sort(), ['m0', 'm0r0', 'm1', 'm1r0', 'm2', 'm2r0']);
    const network = `ihs-${clusterId}`;
    const gateway = String((await docker.getNetwork(network).inspect()).IPAM?.Config?.[0]?.Gateway);
    for (const n of listed) {
      const info = await containerOf(clusterId, n.id);
      assert.equal(info.State.Running, true, `${n.id} runs`);
      assert.equal(info.Config.Labels[LABEL_NODE], n.id);
      // The cluster knows it by its address on the cluster network.
      assert.equal(n.address, `${info.NetworkSettings.Networks[network].IPAddress}:6379`, `${n.id} is known by its network address`);
      assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [network], `${n.id} is on the cluster's network only`);
      const mount = info.Mounts.find((m) => m.Destination === '/data');
      assert.equal(mount?.Type, 'volume');
      assert.equal(mount?.Name, `ihs-${clusterId}-${n.id}`, 'a named volume of its own');
      // Published: the client port only, on 127.0.0.1 only.
      const bindings = info.HostConfig.PortBindings ?? {};
      assert.deepEqual(Object.keys(bindings), ['6379/tcp']);
      const hostPort = Number(bindings['6379/tcp'][0].HostPort);
      assert.equal(bindings['6379/tcp'][0].HostIp, '127.0.0.1');
      assert.equal(await connectOutcome('127.0.0.1', hostPort), 'connected');
      assert.equal(await connectOutcome(gateway, hostPort), 'ECONNREFUSED', `${n.id}'s published port is not reachable on the host's other addresses`);
    }
    const c = await strictClient(tp.port);
    try {
      for (let i = 0; i < 300; i++) assert.equal(await c.set(`dk:${i}`, `v${i}`), 'OK');
      for (let i = 0; i < 300; i += 7) assert.equal(await c.get(`dk:${i}`), `v${i}`);
      assert.equal(await c.dbsize(), 300);
    } finally {
      c.disconnect();
    }
  });

  test('docker kill of a replica: the same container is started again and rejoins as a replica', async () => {
    assert.ok(tp);
    const replica = (await list(tp.port)).find((n) => n.role === 'replica')!;
    const before = await containerOf(clusterId, replica.id);
    await docker.getContainer(before.Id).kill();
    await eventually(
      `${replica.id} restarted and in sync again`,
      async () => {
        const info = await containerOf(clusterId, replica.id);
        if (!info.State.Running || info.State.StartedAt === before.State.StartedAt) return `container not restarted (${info.State.Status})`;
        const now = (await list(tp!.port)).find((n) => n.id === replica.id);
        return now?.role === 'replica' && now.master === replica.master && now.state === 'up' ? true : `listed as ${JSON.stringify(now)}`;
      },
      30_000,
    );
    assert.equal((await containerOf(clusterId, replica.id)).Id, before.Id, 'the same container (same volume), not a new one');
  });

  test('docker kill of a master under write load: its replica promoted, the old master back as its replica, no acknowledged write lost', async (t) => {
    assert.ok(tp);
    const listed = await list(tp.port);
    const victim = listed.find((n) => n.role === 'master')!;
    const heir = listed.find((n) => n.role === 'replica' && n.master === victim.id)!;
    const ledger = new WriteLedger({ port: tp.port, prefix: 'dkm', hangMs: 10_000, clients: 4, lanes: 4 }).start();
    await sleep(1000);
    const slots = parseSlots(victim.fields.get('slots') ?? '');
    const victimContainer = docker.getContainer(`ihs-${clusterId}-${victim.id}`);
    await victimContainer.kill();
    await victimContainer.wait({ condition: 'not-running' });
    const killedAt = performance.now(); // its redis-server is gone: what is acknowledged on its slots from here came from the promoted replica
    await failedOver(tp.port, victim, heir);
    await sleep(500);
    await ledger.stop();
    const firstAck = Math.min(...ledger.ackedBetween(killedAt, Infinity).filter((w) => w.sentAt > killedAt && slots.has(w.slot)).map((w) => w.ackedAt - killedAt));
    t.diagnostic(`docker kill of ${victim.id} → first acknowledged write on its slots: ${firstAck.toFixed(0)} ms`);
    assert.ok(Number.isFinite(firstAck), "writes to the dead master's slots were acknowledged again");
    const report = await ledger.verify();
    assert.ok(report.acked > 100, `writes were acknowledged (${report.acked})`);
    assert.deepEqual(report.lost, [], 'no acknowledged write lost');
    assert.deepEqual(report.wrongValue, []);
    assert.deepEqual(report.hangs, []);
  });

  test('docker pause of a master (it accepts connections, answers nothing): failed over after --node-timeout, back as a replica, nothing acknowledged lost', async () => {
    assert.ok(tp);
    const listed = await list(tp.port);
    const victim = listed.find((n) => n.role === 'master')!;
    const heir = listed.find((n) => n.role === 'replica' && n.master === victim.id)!;
    const ledger = new WriteLedger({ port: tp.port, prefix: 'dkp', hangMs: 15_000, clients: 2, lanes: 4 }).start();
    await sleep(500);
    await docker.getContainer(`ihs-${clusterId}-${victim.id}`).pause();
    await failedOver(tp.port, victim, heir);
    assert.equal((await containerOf(clusterId, victim.id)).State.Paused, false, 'restarted, not left paused');
    await ledger.stop();
    const report = await ledger.verify();
    assert.ok(report.acked > 50, `writes were acknowledged (${report.acked})`);
    assert.deepEqual(report.lost, []);
    assert.deepEqual(report.wrongValue, []);
    assert.deepEqual(report.hangs, []);
  });

  test('a proxy restarted (after a SIGKILL-like abandon) adopts the running containers: no new container, data served', async () => {
    assert.ok(tp);
    const idsBefore = (await ourContainers(clusterId)).map((c) => `${c.Names[0]}=${c.Id}`).sort();
    await tp.proxy.abandon();
    tp = await startTestProxy(flags, dataDir);
    const idsAfter = (await ourContainers(clusterId)).map((c) => `${c.Names[0]}=${c.Id}`).sort();
    assert.deepEqual(idsAfter, idsBefore, 'the same containers, adopted');
    for (const c of await ourContainers(clusterId)) assert.equal(c.State, 'running');
    const c = await strictClient(tp.port);
    try {
      assert.equal(await c.get('dk:42'), 'v42');
    } finally {
      c.disconnect();
    }
  });

  test('ADD MASTER makes two containers and moves slots to them; REMOVE of it moves the keys back and removes its containers and volumes', async () => {
    assert.ok(tp);
    const admin = await strictClient(tp.port, 60_000);
    try {
      const dbsize = await admin.dbsize();
      const added = String(await admin.call('ADD', 'MASTER'));
      const id = /^(m\d+) /.exec(added)?.[1];
      assert.ok(id, `ADD MASTER said: ${added}`);
      const info = await containerOf(clusterId, id);
      assert.equal(info.State.Running, true);
      assert.equal(info.Config.Labels[LABEL_ROLE], 'master');
      assert.equal((await containerOf(clusterId, `${id}r0`)).Config.Labels[LABEL_ROLE], 'replica');
      assert.ok(Number((await list(tp.port)).find((n) => n.id === id)?.fields.get('slot_count')) > 0, 'it got slots');
      assert.equal(await admin.dbsize(), dbsize);
      assert.match(String(await admin.call('REMOVE', id)), new RegExp(`^${id} removed`));
      assert.equal(await admin.dbsize(), dbsize, 'every key kept');
      for (const gone of [id, `${id}r0`]) {
        await assert.rejects(containerOf(clusterId, gone), /no such container/i, `${gone}'s container removed`);
        const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABEL_CLUSTER}=${clusterId}`] } });
        assert.equal(Volumes?.some((v) => v.Name === `ihs-${clusterId}-${gone}`), false, `${gone}'s volume removed`);
      }
    } finally {
      admin.disconnect();
    }
  });

  test('a replica whose container cannot start again (its redis.conf broken) is replaced by a new replica container', async () => {
    assert.ok(tp);
    const replica = (await list(tp.port)).find((n) => n.role === 'replica')!;
    await appendFile(path.join(dataDir, 'nodes', replica.id, 'redis.conf'), 'this-is-not-a-directive yes\n');
    await docker.getContainer(`ihs-${clusterId}-${replica.id}`).kill();
    const replacement = await eventually(
      `a new replica of ${replica.master}`,
      async () => {
        const now = await list(tp!.port);
        const fresh = now.find((n) => n.role === 'replica' && n.master === replica.master && n.id !== replica.id && n.state === 'up');
        return fresh !== undefined && !now.some((n) => n.id === replica.id) ? true : JSON.stringify(now.filter((n) => n.master === replica.master));
      },
      60_000,
    );
    assert.ok(replacement >= 0);
    const fresh = (await list(tp.port)).find((n) => n.role === 'replica' && n.master === replica.master)!;
    assert.equal((await containerOf(clusterId, fresh.id)).State.Running, true, `${fresh.id} runs in a container of its own`);
    await assert.rejects(containerOf(clusterId, replica.id), /no such container/i, 'the broken one removed');
  });

  test('a master and its replica killed, the master unable to start: its slots and keys recovered from its volume onto the others', async () => {
    assert.ok(tp);
    const c = await strictClient(tp.port, 10_000);
    const keys = Array.from({ length: 400 }, (_, i) => `rk:${i}`);
    try {
      for (const k of keys) assert.equal(await c.set(k, `val-${k}`), 'OK');
    } finally {
      c.disconnect();
    }
    const listed = await list(tp.port);
    const master = listed.find((n) => n.role === 'master')!;
    const replicas = listed.filter((n) => n.master === master.id);
    assert.ok(replicas.length >= 1);
    const before = await strictClient(tp.port, 10_000);
    const total = await before.dbsize();
    before.disconnect();
    // Its own redis.conf makes redis-server exit at start: a node that cannot come back.
    for (const n of [master, ...replicas]) await appendFile(path.join(dataDir, 'nodes', n.id, 'redis.conf'), 'this-is-not-a-directive yes\n');
    await Promise.all([master, ...replicas].map((n) => docker.getContainer(`ihs-${clusterId}-${n.id}`).kill()));
    await eventually(
      `${master.id}'s shard recovered`,
      async () => {
        const now = await list(tp!.port);
        if (now.some((n) => n.id === master.id)) return `${master.id} still listed (${now.find((n) => n.id === master.id)?.state})`;
        return now.filter((n) => n.role === 'master').length === 2 ? true : 'not 2 masters yet';
      },
      90_000,
    );
    const after = await strictClient(tp.port, 10_000);
    try {
      assert.equal(await after.dbsize(), total, 'every key is back');
      for (let i = 0; i < keys.length; i += 13) assert.equal(await after.get(keys[i]), `val-${keys[i]}`);
    } finally {
      after.disconnect();
    }
    // The dead nodes' containers and volumes are gone; their dirs were kept aside.
    for (const n of [master, ...replicas]) {
      await assert.rejects(containerOf(clusterId, n.id), /no such container/i, `${n.id}'s container removed`);
    }
    const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABEL_CLUSTER}=${clusterId}`] } });
    assert.equal(Volumes?.some((v) => v.Name === `ihs-${clusterId}-${master.id}`), false, 'its volume removed');
  });
});

/** A proxy started with Redis's official image name but no such image here fails with one clear line. */
/** What a node answers a plain-text PING with (the bytes it sends back within 1 s, or before it closes). */
function plainAnswer(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host, port });
    const done = (): void => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', done);
    s.on('close', done);
    setTimeout(done, 1_000);
  });
}

/**
 * --node-tls with node containers: each node's volume holds its copy of the cluster's TLS
 * files (0600, the proxy's uid, which the container runs as) and its redis.conf names them
 * at /data/tls; no node answers plain text, on its published port or its network address;
 * the proxy reads, writes and fails over through them (published ports), and a proxy
 * started again on the same cluster dialling the network addresses reads the keys back and
 * recovers a lost shard through a TLS recovery container.
 */
test('--node-tls with docker nodes: TLS only on every node, SET/GET through the proxy, docker kill of a master fails over; network access too; a lost shard recovered', { skip: skipReason, timeout: 180_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-docker-tls-'));
  const clusterId = dockerClusterId(dir);
  const network = `ihs-${clusterId}`;
  const common = ['--provider', 'docker', '--redis-image', IMAGE, '--masters', '3', '--replicas', '1', '--node-tls', '--shard-recovery-timeout', '3000'];
  let tp: TestProxy | undefined;
  try {
    tp = await startTestProxy([...common, '--docker-node-access', 'published'], dir);
    const c = await strictClient(tp.port, 10_000);
    try {
      for (let i = 0; i < 100; i++) assert.equal(await c.set(`dtls:${i}`, `v${i}`), 'OK');
      for (let i = 0; i < 100; i += 7) assert.equal(await c.get(`dtls:${i}`), `v${i}`);
    } finally {
      c.disconnect();
    }
    const listed = await list(tp.port);
    assert.equal(listed.length, 6);
    for (const n of listed) {
      const info = await containerOf(clusterId, n.id);
      const nodeDir = String(info.Mounts.find((m) => m.Destination === '/data')?.Source ?? '');
      const volume = await docker.getVolume(`ihs-${clusterId}-${n.id}`).inspect();
      const hostDir = String(volume.Options?.device);
      for (const f of ['ca.crt', 'node.crt', 'node.key']) {
        const st = await stat(path.join(hostDir, 'tls', f));
        assert.equal(st.mode & 0o777, 0o600, `${n.id}: tls/${f} is mode 0600`);
        assert.equal(`${st.uid}:${st.gid}`, info.Config.User, `${n.id}: tls/${f} is owned by the uid:gid the container runs as`);
      }
      const conf = await readFile(path.join(hostDir, 'redis.conf'), 'utf8');
      for (const line of ['port 0', 'tls-port 6379', 'tls-cert-file "/data/tls/node.crt"', 'tls-key-file "/data/tls/node.key"', 'tls-ca-cert-file "/data/tls/ca.crt"', 'tls-replication yes', 'tls-cluster yes', 'tls-auth-clients yes']) {
        assert.match(conf, new RegExp(`^${line.replace(/[.*"/]/g, '\\$&')}$`, 'm'), `${n.id}'s redis.conf has ${line} (${nodeDir})`);
      }
      const hostPort = Number(info.HostConfig.PortBindings?.['6379/tcp']?.[0]?.HostPort);
      const ip = info.NetworkSettings.Networks[network].IPAddress;
      for (const [host, port] of [['127.0.0.1', hostPort], [ip, 6379]] as const) {
        assert.doesNotMatch(await plainAnswer(host, port), /PONG|NOAUTH|ERR/, `${n.id}: plain text on ${host}:${port} gets no Redis reply`);
      }
    }

    const victim = listed.find((n) => n.role === 'master')!;
    const heir = listed.find((n) => n.role === 'replica' && n.master === victim.id)!;
    const victimContainer = docker.getContainer(`ihs-${clusterId}-${victim.id}`);
    await victimContainer.kill();
    await victimContainer.wait({ condition: 'not-running' });
    await failedOver(tp.port, victim, heir);
    const afterFailover = await strictClient(tp.port, 10_000);
    try {
      const values = await afterFailover.mget(...Array.from({ length: 100 }, (_, i) => `dtls:${i}`));
      assert.deepEqual(values, Array.from({ length: 100 }, (_, i) => `v${i}`), 'every key reads back after the failover (replicated over TLS)');
    } finally {
      afterFailover.disconnect();
    }
    await tp.close();
    tp = undefined;

    // The same cluster, dialled at the containers' network addresses (certificates checked by their CN there).
    tp = await startTestProxy([...common, '--docker-node-access', 'network'], dir);
    const again = await strictClient(tp.port, 10_000);
    try {
      assert.equal(await again.get('dtls:42'), 'v42');
      assert.equal(await again.set('dtls:new', 'x'), 'OK');
      assert.equal(await again.dbsize(), 101);
    } finally {
      again.disconnect();
    }

    // A shard lost for good: its keys come back from a recovery container serving TLS, MIGRATEd over TLS.
    const now = await list(tp.port);
    const lost = now.filter((n) => n.id === heir.id || n.master === heir.id);
    assert.equal(lost.length, 2, `${heir.id} and its replica`);
    for (const n of lost) await appendFile(path.join(dir, 'nodes', n.id, 'redis.conf'), 'this-is-not-a-directive yes\n');
    await Promise.all(lost.map((n) => docker.getContainer(`ihs-${clusterId}-${n.id}`).kill()));
    await eventually(`${heir.id}'s shard recovered`, async () => ((await list(tp!.port)).some((n) => n.id === heir.id) ? `${heir.id} still listed` : true), 90_000);
    const recovered = await strictClient(tp.port, 10_000);
    try {
      assert.equal(await recovered.dbsize(), 101, 'every key is back');
      assert.equal(await recovered.get('dtls:new'), 'x');
    } finally {
      recovered.disconnect();
    }
  } finally {
    await tp?.close().catch(() => undefined);
    await removeCluster(clusterId);
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing --redis-image is a clear error, not a pull', { skip: skipReason }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-docker-noimage-'));
  try {
    await assert.rejects(startTestProxy(['--provider', 'docker', '--redis-image', 'ihs-no-such-image:never'], dir), /image ihs-no-such-image:never is not on this Docker engine/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});


test('the engine\'s bridges are local when its default bridge routes its subnet in /proc/net/route', { skip: os.endianness() !== 'LE' && 'the sample table is little-endian' }, () => {
  // A Linux host's table (little-endian hex): docker0 172.17.0.0/16, a cluster bridge 10.231.2.0/24.
  const table = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'br-c62b8fc4828c\t0002E70A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  assert.equal(routesSubnet(table, 'docker0', ['172.17.0.0/16']), true);
  assert.equal(routesSubnet(table, 'br-c62b8fc4828c', ['10.231.2.0/24']), true);
  assert.equal(routesSubnet(table, 'docker0', ['172.18.0.0/16']), false, 'another subnet: another engine\'s bridge of that name');
  assert.equal(routesSubnet(table, 'docker0', ['172.17.0.0/24']), false, 'another mask');
  assert.equal(routesSubnet(table, 'docker1', ['172.17.0.0/16']), false, 'no such interface here (Docker Desktop, rootless)');
  assert.equal(routesSubnet('', 'docker0', ['172.17.0.0/16']), false);
});

const run = promisify(execFile);

/** make docker-clean on a data dir (DOCKER_CLEAN_DATA=1 with removeData): its stdout. */
async function makeDockerClean(dataDir: string, removeData = false): Promise<string> {
  const { stdout } = await run('make', ['--no-print-directory', '-s', 'docker-clean', `DOCKER_DATA_DIR=${dataDir}`, ...(removeData ? ['DOCKER_CLEAN_DATA=1'] : [])]);
  return stdout;
}

/** make docker-clean is refused while a proxy runs the cluster: its message. */
async function refusedDockerClean(dataDir: string): Promise<string> {
  try {
    await makeDockerClean(dataDir);
  } catch (err) {
    return String((err as { stderr?: string }).stderr);
  }
  assert.fail('make docker-clean ran while a proxy runs the cluster');
}

async function subnetOf(network: string): Promise<string> {
  return String((await docker.getNetwork(network).inspect()).IPAM?.Config?.[0]?.Subnet);
}

/** "10.231.4.0/24" contains "10.231.4.7" (the tests' networks are /24s). */
function inSubnet(subnet: string, ip: string): boolean {
  return ip.split('.').slice(0, 3).join('.') === subnet.split('.').slice(0, 3).join('.');
}

/**
 * A proxy on the engine's own host with the default --docker-node-access auto dials the nodes
 * at their network addresses (no docker-proxy in the way: bench/results/docker-set-gap.md), and
 * the life of a cluster's Docker resources: make docker-clean refused while the proxy runs,
 * then removing every container, volume and network of the cluster but keeping its data dir;
 * a proxy started again on that dir, its network now made on another subnet (the old one
 * taken meanwhile), serves the same keys from nodes at new addresses; DOCKER_CLEAN_DATA=1
 * removes the data dir too.
 */
test('on the engine\'s host, auto dials the nodes at their addresses; make docker-clean removes the cluster\'s containers, volumes and network and keeps the data dir', { skip: skipReason, timeout: 180_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-docker-clean-'));
  const clusterId = dockerClusterId(dir);
  const network = `ihs-${clusterId}`;
  const blocker = `ihs-test-blocker-${process.pid}`;
  const clusterFlags = ['--provider', 'docker', '--redis-image', IMAGE, '--masters', '2', '--replicas', '0'];
  let tp: TestProxy | undefined;
  try {
    tp = await startTestProxy(clusterFlags, dir);
    const oldSubnet = await subnetOf(network);
    for (const n of await list(tp.port)) {
      const info = await containerOf(clusterId, n.id);
      assert.deepEqual(info.HostConfig.PortBindings ?? {}, {}, `${n.id} publishes nothing`);
      assert.equal(n.address, `${info.NetworkSettings.Networks[network].IPAddress}:6379`);
    }
    const c = await strictClient(tp.port);
    try {
      for (let i = 0; i < 50; i++) assert.equal(await c.set(`kept:${i}`, `v${i}`), 'OK');
    } finally {
      c.disconnect();
    }

    assert.match(await refusedDockerClean(dir), /a proxy runs the cluster of .*; nothing removed/);
    assert.equal((await ourContainers(clusterId)).filter((x) => x.State === 'running').length, 2, 'the nodes still run');

    await tp.close();
    tp = undefined;
    const report = await makeDockerClean(dir);
    assert.match(report, /containers removed: .*-m0/);
    assert.deepEqual(await listClusterResources(docker, clusterId), { containers: [], volumes: [], networks: [] }, 'nothing of the cluster is left');
    assert.match(report, /data dir kept/);
    assert.ok((await readdir(dir)).includes('topology.json'), 'the data dir is kept');

    // The old subnet is someone else's now: the network comes back on another one.
    await docker.createNetwork({ Name: blocker, Driver: 'bridge', Labels: { 'io.interface-hash-server.test': blocker }, IPAM: { Driver: 'default', Config: [{ Subnet: oldSubnet }] } });
    tp = await startTestProxy(clusterFlags, dir);
    const newSubnet = await subnetOf(network);
    assert.notEqual(newSubnet, oldSubnet);
    const listed = await list(tp.port);
    assert.equal(listed.length, 2);
    for (const n of listed) assert.ok(inSubnet(newSubnet, n.address.split(':')[0]), `${n.id} is at ${n.address}, in ${newSubnet}`);
    const again = await strictClient(tp.port);
    try {
      assert.equal(await again.dbsize(), 50);
      assert.equal(await again.get('kept:7'), 'v7');
    } finally {
      again.disconnect();
    }
    await tp.close();
    tp = undefined;

    assert.match(await makeDockerClean(dir, true), /data dir removed/);
    assert.deepEqual(await listClusterResources(docker, clusterId), { containers: [], volumes: [], networks: [] });
    await assert.rejects(readdir(dir), { code: 'ENOENT' }, 'the data dir is removed');
  } finally {
    await tp?.close().catch(() => undefined);
    await removeCluster(clusterId);
    await docker.getNetwork(blocker).remove().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});


test('a broken Docker events stream is reopened, and later events still arrive', { skip: skipReason, timeout: 60_000 }, async () => {
  const label = `io.interface-hash-server.test=${process.pid}-${Date.now()}`;
  const seen: ContainerEvent[] = [];
  let reopened = 0;
  const events = new DockerEvents({ docker, log: silentLogger(), label, onEvent: (e) => seen.push(e), onReopened: () => reopened++ });
  events.open();
  try {
    await eventually('events stream open', async () => ((events as unknown as { stream?: unknown }).stream !== undefined ? true : 'not yet'));
    // Break it as a dropped socket would.
    (events as unknown as { stream: NodeJS.ReadableStream & { destroy(): void } }).stream.destroy();
    await eventually('reopened', async () => (reopened === 1 ? true : `reopened ${reopened} times`));
    // A container with the label that exits at once ("redis-server --version"): its die event arrives on the new stream.
    const [key, value] = label.split('=');
    const c = await docker.createContainer({ Image: IMAGE, Cmd: ['redis-server', '--version'], Labels: { [key]: value, [LABEL_NODE]: 'probe' } });
    try {
      await c.start();
      await eventually('die event', async () => (seen.some((e) => e.action === 'die' && e.node === 'probe') ? true : `seen ${JSON.stringify(seen)}`));
    } finally {
      await c.remove({ force: true });
    }
  } finally {
    events.close();
  }
});

/**
 * The proxy itself in a container (the image from make docker-images), started the way
 * users start it (make docker-run): Docker socket mounted, data dir at its host path, only
 * the proxy port published on 127.0.0.1. It joins the cluster network and dials the nodes
 * there; the nodes publish nothing.
 */
const proxyImage = process.env.TEST_PROXY_IMAGE ?? 'interface-hash-server:local';
const noProxyImage = skipReason ?? (await docker.getImage(proxyImage).inspect().then(() => undefined, () => `image ${proxyImage} is missing: build it with make docker-images`));
if (noProxyImage !== undefined && skipReason === undefined && process.env.TEST_REQUIRE_DOCKER === '1') throw new Error(`TEST_REQUIRE_DOCKER=1, but ${noProxyImage}`);

test('make docker-run: the proxy in a container with the host socket serves a cluster of containers it reaches on their network; HTTP published on 127.0.0.1; make docker-clean after make docker-stop', { skip: noProxyImage, timeout: 180_000 }, async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ihs-docker-run-'));
  const clusterId = dockerClusterId(dataDir);
  const port = await freePort();
  const httpPort = await freePort();
  const name = `ihs-proxy-test-${process.pid}`;
  const vars = [`DOCKER_DATA_DIR=${dataDir}`, `DOCKER_PORT=${port}`, `DOCKER_HTTP_PORT=${httpPort}`, `PROXY_CONTAINER=${name}`, `PROXY_IMAGE=${proxyImage}`, `REDIS_IMAGE=${IMAGE}`, 'ARGS=--masters 2 --replicas 1'];
  let stopped = false;
  try {
    const { stdout } = await run('make', ['--no-print-directory', 'docker-run', ...vars]);
    // The hints name what this make was given: the next make needs it to find the same container and data dir.
    assert.match(stdout, new RegExp(`make docker-stop PROXY_CONTAINER=${name}\\b`));
    assert.match(stdout, new RegExp(`make docker-clean DOCKER_DATA_DIR=${dataDir}\\b`));
    assert.match(stdout, new RegExp(`status page: http://127\\.0\\.0\\.1:${httpPort}/ `));
    await waitForPong(port, 60_000);
    const c = await strictClient(port, 10_000);
    try {
      assert.equal(await c.set('in-container', 'yes'), 'OK');
      assert.equal(await c.get('in-container'), 'yes');
    } finally {
      c.disconnect();
    }
    const proxy = await docker.getContainer(name).inspect();
    assert.ok(proxy.NetworkSettings.Networks[`ihs-${clusterId}`] !== undefined, 'the proxy container joined the cluster network');
    assert.deepEqual(Object.keys(proxy.HostConfig.PortBindings ?? {}).sort(), ['6380/tcp', '8888/tcp']);
    assert.equal(proxy.HostConfig.PortBindings?.['6380/tcp']?.[0]?.HostIp, '127.0.0.1');
    assert.deepEqual(proxy.HostConfig.PortBindings?.['8888/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(httpPort) }]);
    assert.ok(proxy.HostConfig.Binds?.includes('/var/run/docker.sock:/var/run/docker.sock'), 'the host socket, not a TCP port');
    assert.notEqual(proxy.Config.User, '', 'not root');
    const nodes = await ourContainers(clusterId);
    assert.equal(nodes.length, 4, '2 masters + 2 replicas');
    for (const n of nodes) assert.deepEqual(n.Ports.filter((p) => p.PublicPort !== undefined), [], `${n.Names[0]} publishes nothing`);
    // The status page, the API and /metrics on the host's 127.0.0.1.
    const page = await fetch(`http://127.0.0.1:${httpPort}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const clients = (await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/clients`)).json()) as { nodes: { id: string }[] };
    assert.deepEqual(clients.nodes.map((n) => n.id).sort(), ['m0', 'm0r0', 'm1', 'm1r0'], 'the API lists the nodes');
    assert.match(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(), /^# HELP /m);

    // The proxy runs in its container (another pid namespace): its lock's heartbeat tells.
    assert.match(await refusedDockerClean(dataDir), /a proxy runs the cluster of .*; nothing removed/);
    assert.equal((await ourContainers(clusterId)).length, 4, 'nothing removed');

    await run('make', ['--no-print-directory', 'docker-stop', ...vars]);
    stopped = true;
    assert.match(await makeDockerClean(dataDir, true), /data dir removed/);
    assert.deepEqual(await listClusterResources(docker, clusterId), { containers: [], volumes: [], networks: [] }, 'nothing of the cluster is left');
    await assert.rejects(readdir(dataDir), { code: 'ENOENT' });
  } finally {
    if (!stopped) await run('make', ['--no-print-directory', 'docker-stop', ...vars]).catch(() => undefined);
    await removeCluster(clusterId);
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a container with a node\'s name but not the cluster\'s label is never touched: the start is refused', { skip: skipReason, timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-docker-foreign-'));
  const name = `ihs-${dockerClusterId(dir)}-m0`;
  const foreign = await docker.createContainer({ name, Image: IMAGE, Cmd: ['redis-server', '--port', '7001'], Labels: { owner: 'someone-else' } });
  try {
    await foreign.start();
    const startedAt = (await foreign.inspect()).State.StartedAt;
    await assert.rejects(startTestProxy(['--provider', 'docker', '--redis-image', IMAGE, '--masters', '1', '--replicas', '0'], dir), /container ihs-\S+-m0 exists but is not one of this cluster's/);
    const after = await foreign.inspect();
    assert.equal(after.State.Running, true, 'still running, untouched');
    assert.equal(after.State.StartedAt, startedAt, 'not restarted');
  } finally {
    await foreign.remove({ force: true });
    await removeCluster(dockerClusterId(dir));
    await rm(dir, { recursive: true, force: true });
  }
});
