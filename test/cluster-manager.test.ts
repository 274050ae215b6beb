/**
 * ClusterManager + ProcessProvider against real redis-server processes in temp data dirs:
 * the nodes form a real Redis Cluster, come back after restarts and crashes, and a
 * pre-cluster (format 1) data dir is converted in place. Every redis-server started under
 * the temp root is SIGKILLed and the root removed in `after`, whatever happened in the tests.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ClusterManager } from '../src/cluster/cluster-manager.js';
import { parseClusterNodes, type ClusterNodeLine } from '../src/nodes/cluster-nodes.js';
import { DataDirLockedError, LOCK_FILE } from '../src/cluster/data-dir-lock.js';
import { keySlot } from '../src/cluster/key-slot.js';
import { PRE_CLUSTER_BACKUP } from '../src/cluster/topology/standalone-layout.js';
import { evenSlotRanges, SLOT_COUNT, type NodeRecord, type SlotRange, type TopologyDoc } from '../src/cluster/topology/topology.js';
import { TOPOLOGY_FILE } from '../src/cluster/topology/topology-store.js';
import { parseConfig } from '../src/config.js';
import { createLogger, silentLogger, type Logger } from '../src/log.js';
import { startProxy } from '../src/main.js';
import { ControlClients, infoFields, parseInfo, type ControlClient, type NodeAddress } from '../src/nodes/control-client.js';
import { isPidAlive, waitForPidExit } from '../src/nodes/process/pid.js';
import { ProcessProvider } from '../src/nodes/process/process-provider.js';
import { findRedisServer } from '../src/nodes/redis-binary.js';
import { CLUSTER_CONFIG_FILE, CONF_FILE, REDIS_LOG_FILE } from '../src/nodes/redis-conf.js';
import { sleep } from '../src/nodes/wait.js';
import { eventually, simulateProxySigkill, TempDataDirs, testProvider } from './support/cluster-manager.js';
import { startTestProxy } from './support/proxy.js';
import { redisServerPidsUnder, skipWithoutRedis } from './support/redis-binary.js';
import { freePort, freePorts } from './support/redis-server.js';

/** TEST_LOG=debug shows the manager's and providers' log lines (not IHS_*: the proxy's config reads IHS_* as options). */
const log = process.env.TEST_LOG ? createLogger({ level: process.env.TEST_LOG, pretty: false }) : silentLogger();
const skip = await skipWithoutRedis();
const TIMEOUT = 60_000;
const linux = process.platform === 'linux';

const temp = new TempDataDirs('ihs-cluster-test-');
const newDataDir = (): Promise<string> => temp.newDataDir();
const provider = (): ProcessProvider => testProvider(log);

function open(dataDir: string, masters = 3, replicas = 1): Promise<ClusterManager> {
  return ClusterManager.open({ dataDir, masters, replicas, provider: provider(), log });
}

/** Log lines at warn and above, kept for assertions. */
function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }) as unknown as Logger, lines };
}

function addr(node: NodeRecord): NodeAddress {
  return { host: node.host, port: node.port };
}

function mastersOf(doc: TopologyDoc): NodeRecord[] {
  return doc.nodes.filter((n) => n.formedAsReplicaOf === undefined);
}

function replicasOf(doc: TopologyDoc): NodeRecord[] {
  return doc.nodes.filter((n) => n.formedAsReplicaOf !== undefined);
}

function pidsOf(doc: TopologyDoc): Record<string, string | undefined> {
  return Object.fromEntries(doc.nodes.map((n) => [n.id, n.handle]));
}

function call<T>(node: NodeAddress, password: string, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  return new ControlClients({ password }).with(node, fn, 2_000);
}

async function clusterInfo(node: NodeAddress, password: string): Promise<Map<string, string>> {
  return parseInfo(String(await call(node, password, (c) => c.call('CLUSTER', 'INFO'))));
}

async function clusterNodes(node: NodeAddress, password: string): Promise<ClusterNodeLine[]> {
  return parseClusterNodes(String(await call(node, password, (c) => c.call('CLUSTER', 'NODES'))));
}

async function myIds(doc: TopologyDoc): Promise<Map<string, string>> {
  const ids = await Promise.all(doc.nodes.map((n) => call(addr(n), doc.nodePassword, (c) => c.call('CLUSTER', 'MYID'))));
  return new Map(doc.nodes.map((n, i) => [n.id, String(ids[i])]));
}

/** [first, last] ranges of a line's slots, merged. */
function rangesOf(line: ClusterNodeLine | undefined): [number, number][] {
  const out: [number, number][] = [];
  const s = line?.slots ?? [];
  for (let i = 0; i < s.length; i += 2) {
    const prev = out[out.length - 1];
    if (prev !== undefined && prev[1] + 1 === s[i]) prev[1] = s[i + 1];
    else out.push([s[i], s[i + 1]]);
  }
  return out;
}

/**
 * The cluster the document describes, as every node sees it: cluster_state:ok on each node
 * (asked on its own port with the password), every node known, each master serving exactly
 * `slots` (its ranges by our id), each replica replicating its formation master, and the
 * replication links up. Waits (bounded) for gossip to settle.
 */
async function assertClusterFormed(doc: TopologyDoc, slots: readonly SlotRange[] = doc.initialSlots): Promise<Map<string, string>> {
  const pw = doc.nodePassword;
  const ids = await myIds(doc);
  assert.equal(new Set(ids.values()).size, doc.nodes.length, 'distinct Redis node ids');
  const expectedRanges = new Map(mastersOf(doc).map((m) => [m.id, slots.filter((r) => r[2] === m.id).map((r): [number, number] => [r[0], r[1]])]));
  const byRedisId = new Map([...ids].map(([ours, theirs]) => [theirs, ours]));
  await eventually('every node says cluster_state:ok and agrees on slots and replicas', async () => {
    for (const n of doc.nodes) {
      const info = await clusterInfo(addr(n), pw);
      if (info.get('cluster_state') !== 'ok') return `${n.id}: cluster_state:${info.get('cluster_state')}`;
      if (info.get('cluster_known_nodes') !== String(doc.nodes.length)) return `${n.id}: cluster_known_nodes:${info.get('cluster_known_nodes')}`;
      if (info.get('cluster_slots_assigned') !== String(SLOT_COUNT)) return `${n.id}: cluster_slots_assigned:${info.get('cluster_slots_assigned')}`;
      if (info.get('cluster_size') !== String(mastersOf(doc).length)) return `${n.id}: cluster_size:${info.get('cluster_size')}`;
      const view = await clusterNodes(addr(n), pw);
      for (const other of doc.nodes) {
        const line = view.find((l) => l.id === ids.get(other.id));
        if (line === undefined) return `${n.id} does not know ${other.id}`;
        if (line.host !== other.host || line.port !== other.port) return `${n.id} sees ${other.id} at ${line.host}:${line.port}, not ${other.port}`;
        if (line.flags.has('fail') || line.flags.has('fail?')) return `${n.id} sees ${other.id} failing`;
        if (other.id === n.id !== line.flags.has('myself')) return `${n.id}: myself flag on ${line.id}`;
        if (other.formedAsReplicaOf === undefined) {
          if (!line.flags.has('master')) return `${n.id} sees ${other.id} as ${[...line.flags].join(',')}`;
          const got = JSON.stringify(rangesOf(line));
          if (got !== JSON.stringify(expectedRanges.get(other.id))) return `${n.id} sees ${other.id} serving ${got}`;
        } else {
          if (!line.flags.has('slave')) return `${n.id} sees ${other.id} as ${[...line.flags].join(',')}`;
          if (line.masterId !== ids.get(other.formedAsReplicaOf)) {
            return `${n.id} sees ${other.id} replicating ${byRedisId.get(line.masterId ?? '') ?? line.masterId}, not ${other.formedAsReplicaOf}`;
          }
        }
      }
    }
    return true;
  });
  await waitForReplicaLinks(doc);
  return ids;
}

/** Every replica reports master_link_status:up towards its formation master's current port. */
async function waitForReplicaLinks(doc: TopologyDoc): Promise<void> {
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  for (const replica of replicasOf(doc)) {
    const master = byId.get(replica.formedAsReplicaOf ?? '');
    assert.ok(master, `master of ${replica.id}`);
    await eventually(`${replica.id} linked to ${master.id}`, async () => {
      const info = await call(addr(replica), doc.nodePassword, (c) => infoFields(c, 'replication'));
      if (info.get('role') !== 'slave') return `role ${info.get('role')}`;
      if (info.get('master_port') !== String(master.port)) return `master_port ${info.get('master_port')}`;
      return info.get('master_link_status') === 'up' ? true : `master_link_status ${info.get('master_link_status')}`;
    });
  }
}

/** The master id whose ranges hold the key's slot. */
function ownerOf(key: string, slots: readonly SlotRange[]): string {
  const slot = keySlot(Buffer.from(key));
  const range = slots.find(([first, last]) => slot >= first && slot <= last);
  assert.ok(range, `slot ${slot} of ${key} is given to nobody`);
  return range[2];
}

/** `count` keys `tag:<n>` per master, each in one of that master's ranges. */
function keysPerMaster(tag: string, slots: readonly SlotRange[], count: number): Map<string, string[]> {
  const out = new Map<string, string[]>([...new Set(slots.map((r) => r[2]))].map((id) => [id, []]));
  for (let i = 0; [...out.values()].some((keys) => keys.length < count); i++) {
    const key = `${tag}:${i}`;
    const keys = out.get(ownerOf(key, slots))!;
    if (keys.length < count) keys.push(key);
  }
  return out;
}

/** Write keys straight to the master that serves their slots (a wrong master would answer MOVED); wait for the replicas to have them. */
async function writeKeys(doc: TopologyDoc, tag: string, count = 20): Promise<Map<string, string[]>> {
  const written = keysPerMaster(tag, doc.initialSlots, count);
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  for (const [masterId, keys] of written) {
    await call(addr(byId.get(masterId)!), doc.nodePassword, async (c) => {
      for (const k of keys) assert.equal(await c.call('SET', k, `value-of-${k}`), 'OK');
      const replicas = doc.nodes.filter((n) => n.formedAsReplicaOf === masterId).length;
      if (replicas > 0) assert.equal(await c.call('WAIT', String(replicas), '5000'), replicas, `${masterId}: replicas acknowledged`);
    });
  }
  return written;
}

/** Every written key is on its master (GET there, no MOVED) and on that master's replicas (READONLY). */
async function assertKeys(doc: TopologyDoc, written: Map<string, string[]>): Promise<void> {
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  for (const [masterId, keys] of written) {
    const master = byId.get(masterId);
    assert.ok(master);
    const values = await call(addr(master), doc.nodePassword, (c) => Promise.all(keys.map((k) => c.call('GET', k))));
    assert.deepEqual(values, keys.map((k) => `value-of-${k}`), `keys of ${masterId}`);
    for (const replica of doc.nodes.filter((n) => n.formedAsReplicaOf === masterId)) {
      await eventually(`${replica.id} has the keys of ${masterId}`, () =>
        call(addr(replica), doc.nodePassword, async (c) => {
          await c.call('READONLY');
          const got = await Promise.all(keys.map((k) => c.call('GET', k)));
          return got.every((v, i) => v === `value-of-${keys[i]}`) ? true : `${got.filter((v) => v === null).length} keys missing`;
        }),
      );
    }
  }
}

async function readDoc(dataDir: string): Promise<TopologyDoc> {
  return JSON.parse(await readFile(path.join(dataDir, TOPOLOGY_FILE), 'utf8')) as TopologyDoc;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** A listener that accepts connections and never answers: a port someone else has taken. */
async function squat(port: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.on('error', () => socket.destroy()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

/** Process group and session of a pid (Linux). */
async function groupOf(pid: number): Promise<{ pgid: number; sid: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgid: Number(fields[2]), sid: Number(fields[3]) };
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

describe('ClusterManager with local redis-server processes', { skip }, () => {
  before(() => temp.setUp());
  after(() => temp.cleanUp());

  test('3 masters × 1 replica form a Redis Cluster: each node ok on its own port, slots even, replicas attached, password required', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const m = await open(dataDir);
    t.after(() => m.shutdown());

    const doc = m.topology;
    assert.equal(doc.format, 2);
    assert.equal(doc.provider, 'process');
    assert.equal(doc.formed, true);
    assert.deepEqual(
      doc.nodes.map((n) => [n.id, n.formedAsReplicaOf]),
      [
        ['m0', undefined],
        ['m0r0', 'm0'],
        ['m1', undefined],
        ['m1r0', 'm1'],
        ['m2', undefined],
        ['m2r0', 'm2'],
      ],
    );
    assert.deepEqual(doc.initialSlots, evenSlotRanges(['m0', 'm1', 'm2']));
    assert.ok(doc.nodePassword.length >= 32);
    for (const n of doc.nodes) {
      assert.equal(n.host, '127.0.0.1');
      assert.ok(n.port > 0 && n.busPort > 0, `${n.id} placed`);
      assert.equal(n.dataDir, path.join(dataDir, 'nodes', n.id));
      assert.ok(isPidAlive(Number(n.handle)), `${n.id} pid ${n.handle} alive`);
    }
    assert.equal(new Set(doc.nodes.flatMap((n) => [n.port, n.busPort])).size, 12, 'distinct client and bus ports');
    assert.deepEqual(m.seedAddresses(), doc.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));

    // as soon as open() resolves, each node, asked on its own port with the password (redis-cli,
    // not our client), says cluster_state:ok
    const cliClusterInfo = (n: NodeRecord) =>
      execFileSync('redis-cli', ['-p', String(n.port), '-a', doc.nodePassword, '--no-auth-warning', 'CLUSTER', 'INFO'], { encoding: 'utf8' });
    for (const n of doc.nodes) assert.match(cliClusterInfo(n), /^cluster_state:ok\r?$/m, n.id);
    // and without the password it is refused
    const anonymousCli = execFileSync('redis-cli', ['-p', String(doc.nodes[0].port), 'CLUSTER', 'INFO'], { encoding: 'utf8' });
    assert.match(anonymousCli, /NOAUTH/);

    // CLUSTER NODES: 3 masters owning 16384 slots evenly, each replica replicating its formation master
    // (gossip spreads the slot claims over a second or so after formation)
    const ids = await assertClusterFormed(doc);
    for (const n of doc.nodes) {
      const out = cliClusterInfo(n);
      assert.match(out, /^cluster_slots_assigned:16384\r?$/m, `${n.id}: ${out}`);
      assert.match(out, /^cluster_slots_ok:16384\r?$/m, `${n.id}: ${out}`);
      assert.match(out, /^cluster_known_nodes:6\r?$/m, `${n.id}: ${out}`);
      assert.match(out, /^cluster_size:3\r?$/m, `${n.id}: ${out}`);
    }
    const view = await clusterNodes(addr(doc.nodes[0]), doc.nodePassword);
    const masterLines = view.filter((l) => l.flags.has('master'));
    assert.equal(masterLines.length, 3);
    const slotCount = (l: ClusterNodeLine) => rangesOf(l).reduce((sum, [a, b]) => sum + b - a + 1, 0);
    assert.deepEqual(
      mastersOf(doc).map((mm) => slotCount(masterLines.find((l) => l.id === ids.get(mm.id))!)),
      [5461, 5461, 5462],
    );

    // nodes.conf in each node dir, naming the node itself; redis.conf 0600, a cluster node, no replicaof
    for (const n of doc.nodes) {
      const nodesConf = await readFile(path.join(n.dataDir!, CLUSTER_CONFIG_FILE), 'utf8');
      assert.match(nodesConf, new RegExp(`^${ids.get(n.id)} 127\\.0\\.0\\.1:${n.port}@${n.busPort}\\S* myself,`, 'm'), `${n.id} nodes.conf`);
      const confPath = path.join(n.dataDir!, CONF_FILE);
      assert.equal((await stat(confPath)).mode & 0o777, 0o600);
      const conf = await readFile(confPath, 'utf8');
      assert.match(conf, /^cluster-enabled yes$/m);
      assert.match(conf, new RegExp(`^port ${n.port}$`, 'm'));
      assert.match(conf, new RegExp(`^cluster-port ${n.busPort}$`, 'm'));
      assert.match(conf, /^cluster-config-file nodes\.conf$/m);
      assert.doesNotMatch(conf, /^(replicaof|slaveof) /m, 'roles are Redis\'s, not the config\'s');
    }

    // the nodes refuse clients without (or with a wrong) password
    const m0 = doc.nodes[0];
    const anonymous = await new ControlClients({ password: '' }).probe(addr(m0), 2_000);
    assert.equal(anonymous.state, 'auth-refused');
    assert.match('reason' in anonymous ? anonymous.reason : '', /^NOAUTH/);
    const wrong = await new ControlClients({ password: 'not-the-password' }).probe(addr(m0), 2_000);
    assert.equal(wrong.state, 'auth-refused');
    assert.match('reason' in wrong ? wrong.reason : '', /^WRONGPASS/);

    // secrets: topology.json is 0600; the password is not on a command line
    assert.equal((await stat(path.join(dataDir, TOPOLOGY_FILE))).mode & 0o777, 0o600);
    if (linux) {
      for (const n of doc.nodes) {
        const cmdline = await readFile(`/proc/${n.handle}/cmdline`, 'utf8');
        assert.ok(!cmdline.includes(doc.nodePassword), `${n.id}: password not in argv`);
      }
    }
    // the persisted document is what the manager serves
    assert.deepEqual(await readDoc(dataDir), doc);

    // keys go to their slot's master and reach its replica
    await assertKeys(doc, await writeKeys(doc, 'fresh'));
  });

  test('keys survive shutdown + open again: the same cluster (node ids, slots), the same ports; formed: true', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const first = await open(dataDir);
    const written = await writeKeys(first.topology, 'persist');
    const before = first.topology;
    const beforeIds = await myIds(before);
    const firstPids = Object.values(pidsOf(before)).map(Number);
    await first.shutdown();
    for (const pid of firstPids) assert.ok(!isPidAlive(pid), `pid ${pid} stopped`);
    assert.deepEqual(await redisServerPidsUnder(dataDir), []);
    await assert.rejects(stat(path.join(dataDir, LOCK_FILE)), { code: 'ENOENT' }, 'lock released');
    assert.equal((await readDoc(dataDir)).formed, true, 'the document says the cluster is formed');

    // the flags disagree: the persisted cluster wins, with a warning
    const captured = capturingLogger();
    const second = await ClusterManager.open({ dataDir, masters: 2, replicas: 0, provider: provider(), log: captured.log });
    t.after(() => second.shutdown());
    assert.ok(captured.lines.some((l) => l.includes('the persisted cluster wins over --masters/--replicas')), captured.lines.join(''));
    const after = second.topology;
    assert.equal(after.formed, true);
    assert.deepEqual(after.initialSlots, before.initialSlots);
    assert.deepEqual(
      after.nodes.map((n) => [n.id, n.port, n.busPort, n.formedAsReplicaOf, n.dataDir]),
      before.nodes.map((n) => [n.id, n.port, n.busPort, n.formedAsReplicaOf, n.dataDir]),
    );
    for (const n of after.nodes) assert.notEqual(n.handle, pidsOf(before)[n.id], `${n.id}: a new process`);
    assert.equal(after.nodePassword, before.nodePassword);
    assert.deepEqual(await myIds(after), beforeIds, 'the same Redis Cluster node ids: nodes.conf kept, not formed again');
    await assertClusterFormed(after, before.initialSlots);
    await assertKeys(after, written);
    assert.deepEqual(await readDoc(dataDir), after);
  });

  test('a SIGKILLed proxy: open again adopts the running nodes (no second redis-server)', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const crashed = await open(dataDir);
    const written = await writeKeys(crashed.topology, 'adopt');
    const running = await redisServerPidsUnder(dataDir);
    if (linux) {
      assert.equal(running.length, 6);
      assert.deepEqual(running, Object.values(pidsOf(crashed.topology)).map(Number).sort((a, b) => a - b));
    }

    // while the first manager holds the lock, a second open is refused, naming its pid
    await assert.rejects(open(dataDir), (err: unknown) => {
      assert.ok(err instanceof DataDirLockedError);
      assert.match(err.message, new RegExp(`in use by another interface-hash-server \\(pid ${process.pid}\\)`));
      return true;
    });

    // the "proxy" dies without shutdown: nodes keep running, the lock names a dead pid
    await simulateProxySigkill(dataDir);
    const adopted = await open(dataDir);
    t.after(() => adopted.shutdown());

    assert.deepEqual(adopted.topology, crashed.topology, 'same pids, ports and bus ports: adopted, not restarted');
    assert.deepEqual(await redisServerPidsUnder(dataDir), running, 'no second redis-server');
    assert.match(await readFile(path.join(dataDir, LOCK_FILE), 'utf8'), new RegExp(`^${process.pid} `), 'the lock is ours now');
    await assertClusterFormed(adopted.topology);
    await assertKeys(adopted.topology, written);

    // an adopted node is not our child, yet its death is reported about as fast as a child's
    const exits: string[] = [];
    adopted.onUnexpectedExit = (id) => exits.push(id);
    const victim = adopted.topology.nodes.find((n) => n.formedAsReplicaOf !== undefined)!;
    const killedAt = Date.now();
    process.kill(Number(victim.handle), 'SIGKILL');
    await eventually('the adopted node\'s exit reported', async () => (exits.length > 0 ? true : 'not yet'), 2_000);
    assert.deepEqual(exits, [victim.id]);
    t.diagnostic(`adopted node's exit reported ${Date.now() - killedAt} ms after SIGKILL`);
  });

  describe('the real proxy process', () => {
    // bin/ runs the compiled dist/: make it match src/ (a no-op when it does).
    before(() => {
      execFileSync('make', ['-o', 'node_modules/.package-lock.json', '--no-print-directory', 'build'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
    });

    function startExecutable(dataDir: string, port: number): { child: ChildProcess; stderr: () => string } {
      const child = spawn(
        process.execPath,
        [path.join(repoRoot, 'bin/interface-hash-server.js'), '--port', String(port), '--http-port', '0', '--data-dir', dataDir, '--masters', '2', '--replicas', '1', '--log-level', 'warn'],
        { cwd: repoRoot, detached: true /* its own process group, like a shell job */, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
      return { child, stderr: () => err };
    }

    async function waitForProxy(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
      await eventually(
        `proxy on ${port} answering`,
        async () => {
          if (child.exitCode !== null || child.signalCode !== null) assert.fail(`proxy exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
          const r = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
          r.on('error', () => {});
          try {
            await r.connect();
            return (await r.ping()) === 'PONG' ? true : 'no PONG';
          } finally {
            r.disconnect();
          }
        },
        40_000,
      );
    }

    function exited(child: ChildProcess): Promise<number | null> {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      return once(child, 'exit').then(([code]) => code as number | null);
    }

    test('Ctrl-C to its process group reaches the proxy only; SIGKILL leaves the nodes running; they are adopted', { timeout: 120_000 }, async (t) => {
      const dataDir = await newDataDir();
      const port = await freePort();
      let proxy = startExecutable(dataDir, port);
      t.after(async () => {
        const c = proxy.child;
        if (c.exitCode === null && c.signalCode === null) {
          c.kill('SIGKILL');
          await exited(c);
        }
      });
      await waitForProxy(port, proxy.child, proxy.stderr);
      const client = () => new Redis({ port, maxRetriesPerRequest: 1 });
      let r = client();
      const kv = Array.from({ length: 50 }, (_, i) => [`exe:${i}`, `v${i}`]).flat();
      assert.equal(await r.mset(...kv), 'OK');
      r.disconnect();

      const firstDoc = await readDoc(dataDir);
      assert.equal(firstDoc.formed, true);
      const firstPids = Object.values(pidsOf(firstDoc)).map(Number);
      assert.equal(firstPids.length, 4);
      const proxyPid = proxy.child.pid!;
      if (linux) {
        const proxyGroup = await groupOf(proxyPid);
        assert.equal(proxyGroup.pgid, proxyPid, 'the proxy leads its own group');
        for (const pid of firstPids) {
          const g = await groupOf(pid);
          assert.notEqual(g.pgid, proxyGroup.pgid, `node ${pid} is not in the proxy's process group`);
          assert.notEqual(g.sid, proxyGroup.sid, `node ${pid} is not in the proxy's session`);
        }
      }

      // Ctrl-C: the whole group gets SIGINT; the proxy stops the nodes itself (SIGTERM), the nodes never see the SIGINT
      process.kill(-proxyPid, 'SIGINT');
      assert.equal(await exited(proxy.child), 0, proxy.stderr());
      for (const pid of firstPids) assert.ok(await waitForPidExit(pid, 5_000), `node ${pid} stopped by the proxy`);
      for (const n of firstDoc.nodes) {
        const redisLog = await readFile(path.join(n.dataDir!, REDIS_LOG_FILE), 'utf8');
        assert.match(redisLog, /Received SIGTERM scheduling shutdown/, `${n.id} stopped by the proxy`);
        assert.doesNotMatch(redisLog, /Received SIGINT/, `${n.id} did not get the terminal's SIGINT`);
      }
      assert.deepEqual(await redisServerPidsUnder(dataDir), []);

      // start again: same data; then SIGKILL: the nodes keep running
      proxy = startExecutable(dataDir, port);
      await waitForProxy(port, proxy.child, proxy.stderr);
      r = client();
      assert.deepEqual(await r.mget(...kv.filter((_, i) => i % 2 === 0)), kv.filter((_, i) => i % 2 === 1));
      r.disconnect();
      const secondDoc = await readDoc(dataDir);
      const secondPids = Object.values(pidsOf(secondDoc)).map(Number);
      proxy.child.kill('SIGKILL');
      await exited(proxy.child);
      await sleep(200);
      for (const pid of secondPids) assert.ok(isPidAlive(pid), `node pid ${pid} survived the proxy's SIGKILL`);

      // a new manager adopts them: the same processes, no second redis-server
      const adopted = await open(dataDir, 2, 1);
      t.after(() => adopted.shutdown());
      assert.deepEqual(pidsOf(adopted.topology), pidsOf(secondDoc), 'same processes, adopted');
      if (linux) assert.deepEqual(await redisServerPidsUnder(dataDir), [...secondPids].sort((a, b) => a - b));
      await assertClusterFormed(adopted.topology);
    });
  });

  test('a node killed with SIGKILL is restarted from its data dir on the next open, keys back', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const crashed = await open(dataDir);
    const written = await writeKeys(crashed.topology, 'restart');
    const ids = await myIds(crashed.topology);
    const victim = mastersOf(crashed.topology)[1];
    const victimPid = Number(victim.handle);
    await sleep(1_100); // appendfsync everysec: let one fsync pass (a SIGKILL keeps written pages anyway)
    process.kill(victimPid, 'SIGKILL');
    await simulateProxySigkill(dataDir);
    assert.ok(await waitForPidExit(victimPid, 2_000));

    const reopened = await open(dataDir);
    t.after(() => reopened.shutdown());
    const restarted = reopened.topology.nodes.find((n) => n.id === victim.id);
    assert.ok(restarted);
    assert.notEqual(restarted.handle, victim.handle, 'a new process');
    assert.equal(restarted.port, victim.port, 'its persisted port');
    assert.equal(restarted.busPort, victim.busPort, 'its persisted bus port');
    assert.equal(restarted.dataDir, victim.dataDir);
    for (const n of reopened.topology.nodes) {
      if (n.id !== victim.id) assert.equal(n.handle, pidsOf(crashed.topology)[n.id], `${n.id} adopted`);
    }
    assert.deepEqual(await myIds(reopened.topology), ids, 'it came back as the same cluster node (its nodes.conf)');
    await assertClusterFormed(reopened.topology);
    await assertKeys(reopened.topology, written);
    if (linux) assert.equal((await redisServerPidsUnder(dataDir)).length, 6);
  });

  test("a node is restarted from its own redis.conf: an operator's line is kept; an invalid directive makes it unable to come back", { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const cluster = await open(dataDir, 1, 1);
    t.after(() => cluster.shutdown());
    const replica = cluster.topology.nodes.find((n) => n.formedAsReplicaOf !== undefined)!;
    const confPath = path.join(replica.dataDir!, CONF_FILE);
    await writeFile(confPath, `${await readFile(confPath, 'utf8')}hz 17\n`);
    const restarted = await cluster.restartNode(replica.id);
    assert.notEqual(restarted.handle, replica.handle, 'a new process');
    const hz = await new ControlClients({ password: cluster.nodePassword }).with(addr(restarted), (c) => c.call('CONFIG', 'GET', 'hz'), 2_000);
    assert.deepEqual(hz, ['hz', '17'], 'the line the operator added is in effect');
    assert.equal((await stat(confPath)).mode & 0o777, 0o600);

    await writeFile(confPath, `${await readFile(confPath, 'utf8')}this-is-not-a-directive yes\n`);
    await assert.rejects(cluster.restartNode(replica.id), (err: Error) => {
      assert.match(err.message, /node m0r0: redis-server exited/);
      assert.match(err.message, /this-is-not-a-directive/, 'the reason from its log');
      return true;
    });
    assert.match(await readFile(confPath, 'utf8'), /^this-is-not-a-directive yes$/m, 'the file is not rewritten');

    // a formed cluster opens without a node that cannot start (the failover side deals with it)
    await cluster.shutdown();
    const captured = capturingLogger();
    const reopened = await ClusterManager.open({ dataDir, masters: 1, replicas: 1, provider: new ProcessProvider({ log: captured.log }), log: captured.log });
    t.after(() => reopened.shutdown());
    assert.ok(captured.lines.some((l) => l.includes('node could not be started; serving without it') && l.includes('m0r0')), captured.lines.join(''));
    const master = reopened.topology.nodes.find((n) => n.id === 'm0')!;
    const state = await new ControlClients({ password: reopened.nodePassword }).with(addr(master), (c) => c.call('CLUSTER', 'INFO'), 2_000);
    assert.match(String(state), /cluster_state:ok/);
  });

  test('a master restarted on another port (its own taken) rejoins the cluster; the router reads its keys', { timeout: 90_000 }, async (t) => {
    const dataDir = await newDataDir();
    const crashed = await open(dataDir, 2, 1);
    const written = await writeKeys(crashed.topology, 'moved');
    const ids = await myIds(crashed.topology);
    // m1, not m0: the formation asks the first node (m0) who is where, so m1's move needs a MEET
    const victim = crashed.topology.nodes.find((n) => n.id === 'm1')!;
    await sleep(1_100); // appendfsync everysec: let one write+fsync pass before the SIGKILL
    process.kill(Number(victim.handle), 'SIGKILL');
    await simulateProxySigkill(dataDir);
    assert.ok(await waitForPidExit(Number(victim.handle), 2_000));
    // something else now listens on its port and its bus port (and never answers)
    const squatters = [await squat(victim.port), await squat(victim.busPort)];
    t.after(() => {
      for (const s of squatters) s.close();
    });

    const captured = capturingLogger();
    const config = parseConfig(['--port', '0', '--http-port', '0', '--data-dir', dataDir, '--masters', '2', '--replicas', '1']);
    const proxy = await startProxy(config, captured.log);
    t.after(() => proxy.stop());
    const doc = proxy.cluster.topology;
    const moved = doc.nodes.find((n) => n.id === victim.id)!;
    assert.notEqual(moved.port, victim.port, 'a new port');
    assert.notEqual(moved.busPort, victim.busPort, 'a new bus port');
    assert.ok(captured.lines.some((l) => l.includes('persisted port is in use')), captured.lines.join(''));
    assert.ok(captured.lines.some((l) => l.includes('persisted cluster-port is in use')), captured.lines.join(''));
    for (const n of doc.nodes) if (n.id !== victim.id) assert.equal(n.handle, pidsOf(crashed.topology)[n.id], `${n.id} adopted`);
    assert.equal((await readDoc(dataDir)).nodes.find((n) => n.id === victim.id)?.port, moved.port, 'the new port is persisted');

    // every node sees it at its new address, the cluster is ok, it still serves its slots
    assert.deepEqual(await myIds(doc), ids);
    await assertClusterFormed(doc);
    await assertKeys(doc, written);

    // the router: its map names the new address, and clients read the moved master's keys through it
    await eventually('the router maps m1 at its new port', async () =>
      proxy.server.router.slotMap.masters.some((mm) => mm.port === moved.port) ? true : JSON.stringify(proxy.server.router.slotMap.masters.map((mm) => mm.address)),
    );
    assert.ok(!proxy.server.router.slotMap.masters.some((mm) => mm.port === victim.port), 'the old address is gone from the map');
    const r = new Redis({ port: proxy.server.port, maxRetriesPerRequest: 1 });
    try {
      for (const keys of written.values()) assert.deepEqual(await r.mget(...keys), keys.map((k) => `value-of-${k}`));
      assert.equal(await r.set('moved:new', 'x'), 'OK');
      assert.equal(await r.get('moved:new'), 'x');
    } finally {
      r.disconnect();
    }
  });

  test('a node that cannot start fails open within its bound, with its log, and leaves nothing running', { timeout: TIMEOUT }, async () => {
    const fake = async (name: string, body: string): Promise<string> => {
      const file = path.join(temp.root, name);
      await writeFile(file, `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Redis server v=7.0.15 sha=0"; exit 0; fi\n${body}\n`);
      await chmod(file, 0o755);
      return file;
    };
    const crashing = await fake('crashing-redis-server', 'echo "fake redis: cannot start" >&2; exit 3');
    const hanging = await fake('hanging-redis-server', 'echo $$ > "$(dirname "$1")/hang.pid"; exec sleep 60');

    const crashDir = await newDataDir();
    const crashStarted = Date.now();
    await assert.rejects(
      ClusterManager.open({ dataDir: crashDir, masters: 2, replicas: 1, provider: new ProcessProvider({ log, redisServerPath: crashing }), log }),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        for (const id of ['m0', 'm0r0', 'm1', 'm1r0']) {
          assert.match(err.message, new RegExp(`node ${id}: redis-server exited with code 3 before answering PING[^\\n]*\\nlast lines of [^\\n]*stdio\\.log:\\nfake redis: cannot start`));
        }
        return true;
      },
    );
    assert.ok(Date.now() - crashStarted < 5_000, 'an exit is noticed at once');
    await assert.rejects(stat(path.join(crashDir, LOCK_FILE)), { code: 'ENOENT' });
    assert.equal((await readDoc(crashDir)).formed, false, 'never formed');

    const hangDir = await newDataDir();
    const started = Date.now();
    await assert.rejects(
      ClusterManager.open({
        dataDir: hangDir,
        masters: 1,
        replicas: 0,
        provider: new ProcessProvider({ log, redisServerPath: hanging, startTimeoutMs: 1_000 }),
        log,
      }),
      /node m0: redis-server did not become ready on 127\.0\.0\.1:\d+ within 1000 ms \(last probe: unreachable: [^)]*\); killed it/,
    );
    assert.ok(Date.now() - started < 5_000, 'bounded');
    const hangPid = Number(await readFile(path.join(hangDir, 'nodes', 'm0', 'hang.pid'), 'utf8'));
    assert.ok(!isPidAlive(hangPid), 'the hung process was killed');

    // one real node of three cannot start (a corrupt nodes.conf): the two that did are stopped
    const partDir = await newDataDir();
    await mkdir(path.join(partDir, 'nodes', 'm1'), { recursive: true });
    await writeFile(path.join(partDir, 'nodes', 'm1', CLUSTER_CONFIG_FILE), 'this is not a cluster config\n');
    await assert.rejects(open(partDir, 3, 0), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /^node m1: redis-server exited with code 1 before answering PING/);
      assert.match(err.message, /last lines of [^\n]*redis\.log:\n[\s\S]*(Unrecoverable error|corrupt)/i);
      assert.doesNotMatch(err.message, /node m[02]:/);
      return true;
    });
    assert.deepEqual(await redisServerPidsUnder(partDir), [], 'the nodes that started were stopped');
    await assert.rejects(stat(path.join(partDir, LOCK_FILE)), { code: 'ENOENT' });
  });

  test('missing redis-server: one clear line, nothing left behind', { timeout: TIMEOUT }, async () => {
    const dataDir = await newDataDir();
    const missing = new ProcessProvider({ log, redisServerPath: path.join(temp.root, 'no-such-dir', 'redis-server') });
    await assert.rejects(ClusterManager.open({ dataDir, masters: 1, replicas: 1, provider: missing, log }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal(
        err.message,
        `redis-server not found at ${path.join(temp.root, 'no-such-dir', 'redis-server')}: install it (Debian/Ubuntu: apt-get install redis-server) or pass --redis-server /path/to/redis-server`,
      );
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    });
    await assert.rejects(stat(path.join(dataDir, LOCK_FILE)), { code: 'ENOENT' }, 'lock released after a failed open');
    assert.deepEqual(await redisServerPidsUnder(dataDir), []);
    assert.ok(!(await exists(path.join(dataDir, 'nodes', 'm0', CLUSTER_CONFIG_FILE))));

    await assert.rejects(findRedisServer(undefined, path.join(temp.root, 'empty-path')), {
      message: 'redis-server not found: install it (Debian/Ubuntu: apt-get install redis-server) or pass --redis-server /path/to/redis-server',
    });
    await assert.rejects(ProcessProvider.create({ log, redisServerPath: path.join(temp.root, 'nope') }), /^RedisServerNotFoundError/);
  });

  describe('converting a pre-cluster (format 1) data dir', () => {
    /** The pre-cluster proxy's redis.conf (git show e1d29e9:src/nodes/redis-conf.ts): standalone, AOF, replicaof for replicas. */
    function oldRedisConf(port: number, dir: string, password: string, replicaOf?: number): string {
      const lines = [
        `port ${port}`,
        'bind 127.0.0.1',
        'protected-mode yes',
        'daemonize no',
        `dir "${dir}"`,
        `pidfile "${dir}/redis.pid"`,
        `logfile "${dir}/redis.log"`,
        'appendonly yes',
        'appendfsync everysec',
        'appenddirname "appendonlydir"',
        'appendfilename "appendonly.aof"',
        'save ""',
        `requirepass "${password}"`,
        `masterauth "${password}"`,
        'repl-diskless-sync-delay 0',
      ];
      if (replicaOf !== undefined) lines.push(`replicaof 127.0.0.1 ${replicaOf}`);
      return `${lines.join('\n')}\n`;
    }

    interface OldLayout {
      password: string;
      nodes: { id: string; port: number; dir: string; pid: number; role: 'master' | 'replica'; masterId?: string }[];
      /** Old slots by master id (the old proxy's even split over its shards). */
      slots: SlotRange[];
      written: Map<string, string[]>;
    }

    /**
     * What the pre-cluster proxy left: 2 standalone masters and a REPLICAOF replica each,
     * keys on each master in its own even slot range, and a format-1 topology.json. The
     * nodes are left running (a SIGKILLed old proxy) unless `stop`.
     */
    async function buildPreClusterDir(dataDir: string, stop: boolean): Promise<OldLayout> {
      const password = 'old-proxy-secret';
      const specs = [
        { id: 'm0', role: 'master' as const },
        { id: 'm0r0', role: 'replica' as const, masterId: 'm0' },
        { id: 'm1', role: 'master' as const },
        { id: 'm1r0', role: 'replica' as const, masterId: 'm1' },
      ];
      const picked = await freePorts(specs.length);
      const ports = new Map(specs.map((s, i) => [s.id, picked[i]]));
      const nodes: OldLayout['nodes'] = [];
      for (const s of specs) {
        const dir = path.join(dataDir, 'nodes', s.id);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const port = ports.get(s.id)!;
        await writeFile(path.join(dir, 'redis.conf'), oldRedisConf(port, dir, password, s.masterId === undefined ? undefined : ports.get(s.masterId)), { mode: 0o600 });
        const child = spawn('redis-server', [path.join(dir, 'redis.conf')], { cwd: dir, detached: true, stdio: 'ignore' });
        child.unref();
        nodes.push({ ...s, port, dir, pid: child.pid! });
      }
      for (const n of nodes) {
        await eventually(`old node ${n.id} up`, async () => {
          const p = await new ControlClients({ password }).probe({ host: '127.0.0.1', port: n.port }, 1_000);
          if (p.state !== 'ready') return p.state;
          // the spawned process itself answers (not some other redis on a port it could not bind)
          const pid = await call({ host: '127.0.0.1', port: n.port }, password, async (c) => Number((await infoFields(c, 'server')).get('process_id')));
          return pid === n.pid ? true : `port ${n.port} is served by pid ${pid}, not ${n.pid}`;
        });
      }
      for (const n of nodes.filter((x) => x.role === 'replica')) {
        await eventually(`old replica ${n.id} linked`, () =>
          call({ host: '127.0.0.1', port: n.port }, password, async (c) => {
            const status = (await infoFields(c, 'replication')).get('master_link_status');
            return status === 'up' ? true : `master_link_status ${status}`;
          }),
        );
      }
      // the old proxy's slot map: shards s0 (m0), s1 (m1), slots split evenly
      const slots = evenSlotRanges(['m0', 'm1']);
      const written = keysPerMaster('pre', slots, 25);
      for (const [masterId, keys] of written) {
        const master = nodes.find((n) => n.id === masterId)!;
        await call({ host: '127.0.0.1', port: master.port }, password, async (c) => {
          assert.equal((await infoFields(c, 'cluster')).get('cluster_enabled'), '0', 'a standalone node');
          for (const k of keys) assert.equal(await c.call('SET', k, `value-of-${k}`), 'OK');
        });
      }
      for (const n of nodes.filter((x) => x.role === 'replica')) {
        await eventually(`old replica ${n.id} has its master's keys`, () =>
          call({ host: '127.0.0.1', port: n.port }, password, async (c) => {
            const size = Number(await c.call('DBSIZE'));
            return size === 25 ? true : `dbsize ${size}`;
          }),
        );
      }
      await sleep(1_100); // appendfsync everysec, for the SIGKILL-free but unflushed case
      const doc = {
        format: 1,
        epoch: 1,
        provider: 'process',
        nodePassword: password,
        nodes: nodes.map((n) => ({
          id: n.id,
          host: '127.0.0.1',
          port: n.port,
          role: n.role,
          ...(n.masterId !== undefined ? { masterId: n.masterId } : {}),
          dataDir: n.dir,
          handle: String(n.pid),
        })),
        shards: [
          { id: 's0', masterId: 'm0', replicaIds: ['m0r0'] },
          { id: 's1', masterId: 'm1', replicaIds: ['m1r0'] },
        ],
        slots: evenSlotRanges(['s0', 's1']),
      };
      await writeFile(path.join(dataDir, TOPOLOGY_FILE), `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
      await simulateProxySigkill(dataDir); // the old proxy is gone; its lock names a dead pid
      if (stop) {
        for (const n of nodes) {
          await call({ host: '127.0.0.1', port: n.port }, password, (c) => c.call('SHUTDOWN')).catch(() => {
            /* the connection closes as it exits */
          });
          assert.ok(await waitForPidExit(n.pid, 10_000), `old node ${n.id} stopped`);
        }
      }
      return { password, nodes, slots, written };
    }

    async function assertConverted(dataDir: string, old: OldLayout, proxyPort: number): Promise<void> {
      // every key is readable through the proxy
      const r = new Redis({ port: proxyPort, maxRetriesPerRequest: 1 });
      try {
        for (const keys of old.written.values()) assert.deepEqual(await r.mget(...keys), keys.map((k) => `value-of-${k}`));
        assert.equal(await r.dbsize(), 50, 'nothing lost, nothing doubled (a replica\'s copy is not served)');
      } finally {
        r.disconnect();
      }

      // the document is format 2: same nodes, same ports, formation from the old layout
      const doc = await readDoc(dataDir);
      assert.equal(doc.format, 2);
      assert.equal(doc.formed, true);
      assert.equal(doc.provider, 'process');
      assert.equal(doc.nodePassword, old.password);
      assert.deepEqual(
        doc.nodes.map((n) => [n.id, n.port, n.dataDir, n.formedAsReplicaOf]),
        old.nodes.map((n) => [n.id, n.port, n.dir, n.masterId]),
      );
      assert.deepEqual(doc.initialSlots, old.slots);

      // a real cluster now; each master kept its own keys (nothing copied), replicas resynced from them
      await assertClusterFormed(doc, old.slots);
      for (const [masterId, keys] of old.written) {
        const master = doc.nodes.find((n) => n.id === masterId)!;
        assert.equal(await call(addr(master), doc.nodePassword, async (c) => Number(await c.call('DBSIZE'))), keys.length, `${masterId} holds exactly its keys`);
      }
      await assertKeys(doc, old.written);

      // the replicas' standalone data is kept aside in their own dirs, the masters' is in use
      for (const n of old.nodes) {
        const backup = path.join(n.dir, PRE_CLUSTER_BACKUP);
        if (n.role === 'replica') {
          assert.ok(await exists(path.join(backup, 'appendonlydir')), `${n.id}: old AOF under ${PRE_CLUSTER_BACKUP}/`);
          assert.ok((await readdir(path.join(backup, 'appendonlydir'))).some((f) => f.endsWith('.manifest')));
        } else {
          assert.ok(!(await exists(backup)), `${n.id}: a master's data stays where it is`);
        }
        assert.match(await readFile(path.join(n.dir, CONF_FILE), 'utf8'), /^cluster-enabled yes$/m);
      }
    }

    test('a stopped old layout: every key readable through the proxy, replica data moved aside, format 2', { timeout: 90_000 }, async (t) => {
      const dataDir = await newDataDir();
      const old = await buildPreClusterDir(dataDir, true);
      if (linux) assert.deepEqual(await redisServerPidsUnder(dataDir), []);
      const tp = await startTestProxy(['--masters', '2', '--replicas', '1'], dataDir);
      t.after(() => tp.close());
      await assertConverted(dataDir, old, tp.port);
      if (linux) assert.equal((await redisServerPidsUnder(dataDir)).length, 4);
    });

    test('old nodes still running (a SIGKILLed old proxy): the conversion stops them first', { timeout: 90_000 }, async (t) => {
      const dataDir = await newDataDir();
      const old = await buildPreClusterDir(dataDir, false);
      for (const n of old.nodes) assert.ok(isPidAlive(n.pid), `old node ${n.id} running`);
      // m0r0 is writing its initial AOF (as right after a full resync), slowly: Redis refuses
      // SHUTDOWN meanwhile ("Writing initial AOF, can't exit"); the conversion must wait it out.
      const busy = old.nodes.find((n) => n.id === 'm0r0')!;
      await call({ host: '127.0.0.1', port: busy.port }, old.password, async (c) => {
        await c.call('CONFIG', 'SET', 'rdb-key-save-delay', '100000'); // 0.1 s per key: 25 keys, 2.5 s
        await c.call('CONFIG', 'SET', 'appendonly', 'no');
        await c.call('CONFIG', 'SET', 'appendonly', 'yes');
        assert.equal((await infoFields(c, 'persistence')).get('aof_rewrite_in_progress'), '1');
        assert.match(String(await c.call('SHUTDOWN').catch((err: Error) => err.message)), /Errors trying to SHUTDOWN/, 'refused for now');
      });
      const tp = await startTestProxy(['--masters', '2', '--replicas', '1'], dataDir);
      t.after(() => tp.close());
      for (const n of old.nodes) assert.ok(!isPidAlive(n.pid), `old node ${n.id} (pid ${n.pid}) was stopped`);
      const doc = tp.proxy.cluster.topology;
      for (const n of old.nodes) assert.notEqual(doc.nodes.find((x) => x.id === n.id)?.handle, String(n.pid), `${n.id}: a new, cluster-enabled process`);
      await assertConverted(dataDir, old, tp.port);
      if (linux) assert.equal((await redisServerPidsUnder(dataDir)).length, 4, 'no old node left beside the new ones');
    });
  });
});
