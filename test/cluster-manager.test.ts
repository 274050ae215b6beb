/**
 * ClusterManager + ProcessProvider against real redis-server processes in temp data dirs.
 * Every redis-server started under the temp root is SIGKILLed and the root removed in
 * `after`, whatever happened in the tests.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ClusterManager } from '../src/cluster/cluster-manager.js';
import { DataDirLockedError, LOCK_FILE } from '../src/cluster/data-dir-lock.js';
import { evenSlotRanges, type NodeRecord } from '../src/cluster/topology.js';
import { TOPOLOGY_FILE } from '../src/cluster/topology-store.js';
import { createLogger, silentLogger } from '../src/log.js';
import { infoFields, probeNode, withControlClient, type NodeAddress } from '../src/nodes/control-client.js';
import { isPidAlive } from '../src/nodes/pid.js';
import { ProcessProvider } from '../src/nodes/process-provider.js';
import { findRedisServer } from '../src/nodes/redis-binary.js';
import { CONF_FILE } from '../src/nodes/redis-conf.js';
import { sleep } from '../src/nodes/wait.js';
import { killRedisServersUnder, redisServerPidsUnder, skipWithoutRedis } from './support/redis-binary.js';

/** IHS_TEST_LOG=debug shows the manager's and providers' log lines. */
const log = process.env.IHS_TEST_LOG ? createLogger({ level: process.env.IHS_TEST_LOG, pretty: false }) : silentLogger();
const skip = await skipWithoutRedis();
const TIMEOUT = 30_000;

let root = '';
const dataDirs: string[] = [];

async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(root, 'data-'));
  dataDirs.push(dir);
  return dir;
}

function provider(): ProcessProvider {
  return new ProcessProvider({ log, startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
}

function open(dataDir: string, masters = 3, replicas = 1): Promise<ClusterManager> {
  return ClusterManager.open({ dataDir, masters, replicas, provider: provider(), log });
}

function addr(node: NodeRecord): NodeAddress {
  return { host: node.host, port: node.port };
}

function nodesOf(m: ClusterManager, role: 'master' | 'replica'): NodeRecord[] {
  return m.topology.nodes.filter((n) => n.role === role);
}

function pidsOf(m: ClusterManager): Record<string, string | undefined> {
  return Object.fromEntries(m.topology.nodes.map((n) => [n.id, n.handle]));
}

/** Poll until every replica reports master_link_status:up towards its master's current port. */
async function waitForReplicaLinks(m: ClusterManager, timeoutMs = 10_000): Promise<void> {
  const byId = new Map(m.topology.nodes.map((n) => [n.id, n]));
  for (const replica of nodesOf(m, 'replica')) {
    const master = byId.get(replica.masterId ?? '');
    assert.ok(master, `master of ${replica.id}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await withControlClient(addr(replica), m.topology.nodePassword, 2_000, (c) => infoFields(c, 'replication'));
      if (info.get('master_link_status') === 'up') {
        assert.equal(info.get('role'), 'slave');
        assert.equal(info.get('master_port'), String(master.port), `${replica.id} replicates ${master.id}`);
        break;
      }
      assert.ok(Date.now() < deadline, `${replica.id}: master_link_status still ${info.get('master_link_status')}`);
      await sleep(100);
    }
  }
}

/** Write `count` keys to each master directly; returns master id → keys. */
async function writeKeys(m: ClusterManager, tag: string, count = 20): Promise<Map<string, string[]>> {
  const written = new Map<string, string[]>();
  for (const master of nodesOf(m, 'master')) {
    const keys = Array.from({ length: count }, (_, i) => `${tag}:${master.id}:${i}`);
    await withControlClient(addr(master), m.topology.nodePassword, 2_000, async (c) => {
      for (const k of keys) assert.equal(await c.set(k, `value-of-${k}`), 'OK');
    });
    written.set(master.id, keys);
  }
  return written;
}

async function assertKeys(m: ClusterManager, written: Map<string, string[]>): Promise<void> {
  const byId = new Map(m.topology.nodes.map((n) => [n.id, n]));
  for (const [masterId, keys] of written) {
    const master = byId.get(masterId);
    assert.ok(master);
    const values = await withControlClient(addr(master), m.topology.nodePassword, 2_000, (c) => c.mget(keys));
    assert.deepEqual(values, keys.map((k) => `value-of-${k}`), `keys of ${masterId}`);
  }
}

/** A pid that certainly belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  assert.ok(child.pid !== undefined && !isPidAlive(child.pid));
  return child.pid;
}

/** What a proxy killed with SIGKILL leaves behind: running nodes and a lock naming a dead pid. */
async function simulateProxySigkill(dataDir: string): Promise<void> {
  await writeFile(path.join(dataDir, LOCK_FILE), `${await deadPid()}\n`);
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** A separate proxy process: opens a cluster on $IHS_TEST_DATA_DIR, ignores SIGINT, prints READY <pids>. */
const PROXY_CHILD_SCRIPT = `
const url = (p) => ${JSON.stringify(pathToFileURL(repoRoot).href)} + p;
const { ClusterManager } = await import(url('src/cluster/cluster-manager.ts'));
const { ProcessProvider } = await import(url('src/nodes/process-provider.ts'));
const { silentLogger } = await import(url('src/log.ts'));
process.on('SIGINT', () => process.stdout.write('SIGINT ignored\\n'));
const log = silentLogger();
const m = await ClusterManager.open({ dataDir: process.env.IHS_TEST_DATA_DIR, masters: 2, replicas: 1, provider: new ProcessProvider({ log }), log });
process.stdout.write('READY ' + JSON.stringify(Object.fromEntries(m.topology.nodes.map((n) => [n.id, n.handle]))) + '\\n');
setInterval(() => {}, 60_000);
`;

/** Resolve with the first stdout line starting with `prefix`; reject when the child exits first or on timeout. */
function waitForLine(child: ReturnType<typeof spawn>, prefix: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => done(new Error(`no ${prefix} line after ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
    const onOut = (chunk: Buffer): void => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) done(undefined, line.slice(prefix.length));
    };
    const onErr = (chunk: Buffer): void => {
      err += chunk.toString();
    };
    const onExit = (code: number | null, signal: string | null): void => done(new Error(`proxy child exited (${code ?? signal}): ${err}`));
    function done(error: Error | undefined, line?: string): void {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(line ?? '');
    }
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}

describe('ClusterManager with local redis-server processes', { skip }, () => {
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ihs-cluster-test-'));
  });

  after(async () => {
    await killRedisServersUnder(root, dataDirs);
    await rm(root, { recursive: true, force: true });
  });

  test('3 masters × 1 replica come up: replicas linked, slots even, password required', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const m = await open(dataDir);
    t.after(() => m.shutdown());

    const doc = m.topology;
    assert.equal(doc.provider, 'process');
    assert.deepEqual(doc.nodes.map((n) => n.id).sort(), ['m0', 'm0r0', 'm1', 'm1r0', 'm2', 'm2r0']);
    assert.deepEqual(doc.shards.map((s) => [s.id, s.masterId, s.replicaIds]), [
      ['s0', 'm0', ['m0r0']],
      ['s1', 'm1', ['m1r0']],
      ['s2', 'm2', ['m2r0']],
    ]);
    assert.ok(doc.nodePassword.length >= 32);
    assert.ok(doc.epoch >= 1);
    for (const n of doc.nodes) {
      assert.equal(n.host, '127.0.0.1');
      assert.ok(n.port > 0);
      assert.ok(isPidAlive(Number(n.handle)), `${n.id} pid ${n.handle} alive`);
    }
    assert.equal(new Set(doc.nodes.map((n) => n.port)).size, 6, 'distinct ports');

    // slots: 0..16383 evenly, and the slot map routes to the masters
    assert.deepEqual(doc.slots, evenSlotRanges(['s0', 's1', 's2']));
    const perShard = [0, 0, 0];
    for (let slot = 0; slot < 16384; slot++) perShard[m.slotMap.shardOf(slot)]++;
    assert.deepEqual(perShard, [5461, 5461, 5462]);
    assert.deepEqual(
      m.slotMap.shards.map((s) => [s.masterId, s.port]),
      nodesOf(m, 'master').map((n) => [n.id, n.port]),
    );

    await waitForReplicaLinks(m);

    // the nodes refuse clients without (or with a wrong) password
    const m0 = nodesOf(m, 'master')[0];
    const anonymous = await probeNode(addr(m0), '', 2_000);
    assert.equal(anonymous.state, 'auth-refused');
    assert.match('reason' in anonymous ? anonymous.reason : '', /^NOAUTH/);
    const wrong = await probeNode(addr(m0), 'not-the-password', 2_000);
    assert.equal(wrong.state, 'auth-refused');

    // secrets: topology.json and redis.conf are 0600; the password is not on a command line
    assert.equal((await stat(path.join(dataDir, TOPOLOGY_FILE))).mode & 0o777, 0o600);
    assert.equal((await stat(path.join(m0.dataDir ?? '', CONF_FILE))).mode & 0o777, 0o600);
    if (process.platform === 'linux') {
      const cmdline = await readFile(`/proc/${m0.handle}/cmdline`, 'utf8');
      assert.ok(!cmdline.includes(doc.nodePassword), 'password not in argv');
    }
    // the persisted document is what the manager serves
    const persisted = JSON.parse(await readFile(path.join(dataDir, TOPOLOGY_FILE), 'utf8')) as unknown;
    assert.deepEqual(persisted, doc);
  });

  test('keys survive shutdown + open again: same slot map and ports', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const first = await open(dataDir);
    const written = await writeKeys(first, 'persist');
    const before = first.topology;
    const firstPids = Object.values(pidsOf(first)).map(Number);
    await first.shutdown();
    for (const pid of firstPids) assert.ok(!isPidAlive(pid), `pid ${pid} stopped`);
    assert.deepEqual(await redisServerPidsUnder(dataDir), []);
    await assert.rejects(stat(path.join(dataDir, LOCK_FILE)), { code: 'ENOENT' }, 'lock released');

    // the flags disagree: the persisted topology wins, with a warning
    const warnings: string[] = [];
    const captured = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const second = await ClusterManager.open({ dataDir, masters: 2, replicas: 0, provider: provider(), log: captured });
    assert.ok(warnings.some((l) => l.includes('the persisted topology wins over --masters/--replicas')), warnings.join(''));
    t.after(() => second.shutdown());
    const after = second.topology;
    assert.deepEqual(after.slots, before.slots);
    assert.deepEqual(second.slotMap.shards, first.slotMap.shards);
    assert.deepEqual(
      after.nodes.map((n) => [n.id, n.port, n.role]),
      before.nodes.map((n) => [n.id, n.port, n.role]),
    );
    assert.equal(after.nodePassword, before.nodePassword);
    assert.equal(after.epoch, before.epoch + 1, 'new pids: epoch+1');
    await assertKeys(second, written);
    await waitForReplicaLinks(second);
  });

  test('a SIGKILLed proxy: open again adopts the running nodes (no second redis-server)', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const crashed = await open(dataDir);
    const written = await writeKeys(crashed, 'adopt');
    const pids = pidsOf(crashed);
    const running = await redisServerPidsUnder(dataDir);
    if (process.platform === 'linux') assert.equal(running.length, 6);

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

    assert.deepEqual(pidsOf(adopted), pids, 'same pids: adopted, not restarted');
    assert.deepEqual(await redisServerPidsUnder(dataDir), running, 'no second redis-server');
    assert.equal(adopted.topology.epoch, crashed.topology.epoch, 'nothing changed: same epoch');
    assert.match(await readFile(path.join(dataDir, LOCK_FILE), 'utf8'), new RegExp(`^${process.pid} `), 'the lock is ours now');
    await assertKeys(adopted, written);
    await waitForReplicaLinks(adopted);
  });

  test('a real proxy process: Ctrl-C to its process group and SIGKILL leave the nodes running; they are adopted', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROXY_CHILD_SCRIPT], {
      cwd: repoRoot,
      detached: true, // its own process group, like a shell job
      env: { ...process.env, IHS_TEST_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const childPid = child.pid;
    assert.ok(childPid !== undefined);
    const exited = once(child, 'exit');
    t.after(() => {
      if (isPidAlive(childPid)) process.kill(childPid, 'SIGKILL');
    });
    const pids = JSON.parse(await waitForLine(child, 'READY ', 20_000)) as Record<string, string>;
    const nodePids = Object.values(pids).map(Number);
    assert.equal(nodePids.length, 4);

    // Ctrl-C on the proxy's terminal signals its whole process group: the nodes are not in it
    const sigintSeen = waitForLine(child, 'SIGINT ignored', 5_000);
    process.kill(-childPid, 'SIGINT');
    await sigintSeen;
    for (const pid of nodePids) assert.ok(isPidAlive(pid), `node pid ${pid} survived SIGINT to the proxy's group`);

    process.kill(childPid, 'SIGKILL');
    await exited;
    await sleep(200);
    for (const pid of nodePids) assert.ok(isPidAlive(pid), `node pid ${pid} survived the proxy's SIGKILL`);

    const adopted = await open(dataDir, 2, 1);
    t.after(() => adopted.shutdown());
    assert.deepEqual(pidsOf(adopted), pids, 'same processes, adopted');
    if (process.platform === 'linux') assert.deepEqual(await redisServerPidsUnder(dataDir), [...nodePids].sort((a, b) => a - b));
    await waitForReplicaLinks(adopted);
  });

  test('a node killed with SIGKILL is restarted from its data dir, keys back', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const crashed = await open(dataDir);
    const written = await writeKeys(crashed, 'restart');
    const victim = nodesOf(crashed, 'master')[0];
    const victimPid = Number(victim.handle);
    await sleep(1_100); // appendfsync everysec: let one fsync pass (a SIGKILL keeps written pages anyway)
    process.kill(victimPid, 'SIGKILL');
    await simulateProxySigkill(dataDir);
    for (let i = 0; i < 100 && isPidAlive(victimPid); i++) await sleep(20);
    assert.ok(!isPidAlive(victimPid));

    const reopened = await open(dataDir);
    t.after(() => reopened.shutdown());
    const restarted = reopened.topology.nodes.find((n) => n.id === victim.id);
    assert.ok(restarted);
    assert.notEqual(restarted.handle, victim.handle, 'a new process');
    assert.equal(restarted.port, victim.port, 'its persisted port');
    assert.equal(restarted.dataDir, victim.dataDir);
    for (const n of reopened.topology.nodes) {
      if (n.id !== victim.id) assert.equal(n.handle, pidsOf(crashed)[n.id], `${n.id} adopted`);
    }
    assert.equal(reopened.topology.epoch, crashed.topology.epoch + 1);
    await assertKeys(reopened, written);
    await waitForReplicaLinks(reopened);
    if (process.platform === 'linux') assert.equal((await redisServerPidsUnder(dataDir)).length, 6);
  });

  test('a master restarted on another port (its own taken): the adopted replica follows it', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const crashed = await open(dataDir, 1, 1);
    const written = await writeKeys(crashed, 'moved');
    const master = nodesOf(crashed, 'master')[0];
    const replica = nodesOf(crashed, 'replica')[0];
    await waitForReplicaLinks(crashed);
    process.kill(Number(master.handle), 'SIGKILL');
    await simulateProxySigkill(dataDir);
    for (let i = 0; i < 100 && isPidAlive(Number(master.handle)); i++) await sleep(20);
    // something else now listens on the master's port (and never answers)
    const squatter = net.createServer((socket) => socket.on('error', () => socket.destroy()));
    await new Promise<void>((resolve, reject) => {
      squatter.once('error', reject);
      squatter.listen(master.port, '127.0.0.1', resolve);
    });
    t.after(() => {
      squatter.close();
    });

    const warnings: string[] = [];
    const captured = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const reopened = await ClusterManager.open({
      dataDir,
      masters: 1,
      replicas: 1,
      provider: new ProcessProvider({ log: captured, startTimeoutMs: 10_000, commandTimeoutMs: 500 }),
      log: captured,
    });
    t.after(() => reopened.shutdown());
    const moved = nodesOf(reopened, 'master')[0];
    assert.notEqual(moved.port, master.port, 'a new port');
    assert.equal(reopened.slotMap.shards[0].port, moved.port, 'the slot map routes to it');
    assert.equal(pidsOf(reopened)[replica.id], replica.handle, 'replica adopted, not restarted');
    assert.ok(warnings.some((l) => l.includes('persisted port is in use')), warnings.join(''));
    assert.ok(warnings.some((l) => l.includes('node role corrected')), warnings.join(''));
    await waitForReplicaLinks(reopened);
    await assertKeys(reopened, written);
    const persisted = JSON.parse(await readFile(path.join(dataDir, TOPOLOGY_FILE), 'utf8')) as { nodes: NodeRecord[] };
    assert.equal(persisted.nodes.find((n) => n.id === moved.id)?.port, moved.port, 'the new port is persisted');
  });

  test('a restarted replica that came back as a master is made a replica again', { timeout: TIMEOUT }, async (t) => {
    const dataDir = await newDataDir();
    const m = await open(dataDir, 1, 1);
    const replica = nodesOf(m, 'replica')[0];
    await withControlClient(addr(replica), m.topology.nodePassword, 2_000, (c) => c.call('REPLICAOF', 'NO', 'ONE'));
    await simulateProxySigkill(dataDir);
    const reopened = await open(dataDir, 1, 1);
    t.after(() => reopened.shutdown());
    assert.equal(pidsOf(reopened)[replica.id], replica.handle, 'adopted');
    await waitForReplicaLinks(reopened);
  });

  test('a node that cannot start fails open within its bound, with its log, and leaves nothing running', { timeout: TIMEOUT }, async () => {
    const fake = async (name: string, body: string): Promise<string> => {
      const file = path.join(root, name);
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
        for (const id of ['m0', 'm1']) {
          assert.match(err.message, new RegExp(`node ${id}: redis-server exited with code 3 before answering PING[^\\n]*\\nlast lines of [^\\n]*stdio\\.log:\\nfake redis: cannot start`));
        }
        return true;
      },
    );
    assert.ok(Date.now() - crashStarted < 5_000, 'an exit is noticed at once');
    await assert.rejects(stat(path.join(crashDir, LOCK_FILE)), { code: 'ENOENT' });

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
  });

  test('missing redis-server: one clear line, nothing left behind', { timeout: TIMEOUT }, async () => {
    const dataDir = await newDataDir();
    const missing = new ProcessProvider({ log, redisServerPath: path.join(root, 'no-such-dir', 'redis-server') });
    await assert.rejects(ClusterManager.open({ dataDir, masters: 1, replicas: 1, provider: missing, log }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal(
        err.message,
        `redis-server not found at ${path.join(root, 'no-such-dir', 'redis-server')}: install it (Debian/Ubuntu: apt-get install redis-server) or pass --redis-server /path/to/redis-server`,
      );
      return true;
    });
    await assert.rejects(stat(path.join(dataDir, LOCK_FILE)), { code: 'ENOENT' }, 'lock released after a failed open');

    await assert.rejects(findRedisServer(undefined, path.join(root, 'empty-path')), {
      message: 'redis-server not found: install it (Debian/Ubuntu: apt-get install redis-server) or pass --redis-server /path/to/redis-server',
    });
    await assert.rejects(ProcessProvider.create({ log, redisServerPath: path.join(root, 'nope') }), /^RedisServerNotFoundError/);
  });
});
