/**
 * Topology persistence without Redis: the store (atomic, 0600, validated), the validator,
 * the builder's ids and layout, and the data-dir lock.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { DataDirLock, DataDirLockedError, LOCK_FILE } from '../src/cluster/data-dir-lock.js';
import { SlotMap } from '../src/cluster/slot-map.js';
import { evenSlotRanges, type TopologyDoc } from '../src/cluster/topology.js';
import { buildManagedTopology, buildStaticTopology, generateNodePassword } from '../src/cluster/topology-builder.js';
import { TOPOLOGY_FILE, TopologyLoadError, TopologyStore } from '../src/cluster/topology-store.js';
import { validateTopology } from '../src/cluster/topology-validate.js';
import { silentLogger } from '../src/log.js';
import { isPidAlive } from '../src/nodes/pid.js';

const log = silentLogger();
let dir = '';

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-topology-test-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sample(): TopologyDoc {
  return buildManagedTopology({ provider: 'process', dataDir: '/data', masters: 3, replicas: 1, nodePassword: 'pw' });
}

function problemsOf(doc: unknown): string[] {
  const check = validateTopology(doc);
  return check.ok ? [] : check.problems;
}

describe('topology builder', () => {
  test('masters m0.., replicas m0r0.., one shard per master, even slots, a node dir each', () => {
    const doc = buildManagedTopology({ provider: 'process', dataDir: '/data', masters: 2, replicas: 2, nodePassword: 'pw' });
    assert.deepEqual(
      doc.nodes.map((n) => [n.id, n.role, n.masterId, n.port, n.dataDir]),
      [
        ['m0', 'master', undefined, 0, '/data/nodes/m0'],
        ['m0r0', 'replica', 'm0', 0, '/data/nodes/m0r0'],
        ['m0r1', 'replica', 'm0', 0, '/data/nodes/m0r1'],
        ['m1', 'master', undefined, 0, '/data/nodes/m1'],
        ['m1r0', 'replica', 'm1', 0, '/data/nodes/m1r0'],
        ['m1r1', 'replica', 'm1', 0, '/data/nodes/m1r1'],
      ],
    );
    assert.deepEqual(doc.shards, [
      { id: 's0', masterId: 'm0', replicaIds: ['m0r0', 'm0r1'] },
      { id: 's1', masterId: 'm1', replicaIds: ['m1r0', 'm1r1'] },
    ]);
    assert.deepEqual(doc.slots, [
      [0, 8191, 's0'],
      [8192, 16383, 's1'],
    ]);
    assert.equal(doc.epoch, 0);
    assert.deepEqual(problemsOf(doc), []);
  });

  test('static nodes are all masters; bad layouts are refused', () => {
    const doc = buildStaticTopology([{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6379 }], '');
    assert.deepEqual(doc.nodes.map((n) => [n.id, n.role, `${n.host}:${n.port}`]), [
      ['m0', 'master', '10.0.0.1:6379'],
      ['m1', 'master', '10.0.0.2:6379'],
    ]);
    assert.deepEqual(problemsOf(doc), []);
    assert.throws(() => buildStaticTopology([], ''), /at least one node/);
    assert.throws(() => buildStaticTopology([{ host: 'a', port: 1 }, { host: 'a', port: 1 }], ''), /listed twice/);
    assert.throws(() => buildManagedTopology({ provider: 'process', dataDir: '/d', masters: 0, replicas: 0, nodePassword: '' }), /masters/);
  });

  test('node passwords are fresh and long', () => {
    const a = generateNodePassword();
    assert.notEqual(a, generateNodePassword());
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  });
});

describe('topology validation', () => {
  test('lists every problem, with where it is', () => {
    const doc = sample() as unknown as Record<string, unknown>;
    const nodes = doc.nodes as Record<string, unknown>[];
    nodes[0].port = 70000;
    nodes[1].masterId = 'nope';
    doc.slots = [
      [0, 9000, 's0'],
      [9000, 16383, 's1'],
    ];
    const problems = problemsOf(doc);
    assert.ok(problems.includes('nodes[0].port: expected an integer 0..65535'), problems.join('\n'));
    assert.ok(problems.includes('node m0r0: masterId nope is not a master node'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('slots[1]: slot 9000 is already assigned to shard s0')), problems.join('\n'));
  });

  test('gaps, unknown shards, orphan replicas, wrong format', () => {
    const gap = sample();
    gap.slots = [[0, 100, 's0']];
    assert.deepEqual(problemsOf(gap), ['slots: slot 101 is not assigned to any shard']);

    const unknownShard = sample();
    unknownShard.slots = [[0, 16383, 's9']];
    assert.deepEqual(problemsOf(unknownShard), ['slots[0]: unknown shard "s9"']);

    const orphan = sample();
    orphan.shards[0].replicaIds = [];
    assert.deepEqual(problemsOf(orphan), ['node m0r0: replica is not listed in its shard']);

    assert.deepEqual(problemsOf({ ...sample(), format: 2 }), ['format: expected 1, got 2']);
    assert.deepEqual(problemsOf([]), ['expected a JSON object']);
    const noDir = sample();
    delete noDir.nodes[0].dataDir;
    assert.deepEqual(problemsOf(noDir), ['nodes[0].dataDir: required for process nodes']);
  });

  test('a valid topology builds the same SlotMap routing', () => {
    const doc = sample();
    doc.nodes.forEach((n, i) => (n.port = 7000 + i));
    const map = SlotMap.fromTopology(doc);
    assert.equal(map.shards.length, 3);
    assert.deepEqual(doc.slots, evenSlotRanges(['s0', 's1', 's2']));
  });
});

describe('TopologyStore', () => {
  test('absent → undefined; save/load round trip; file 0600; no temp files left', async () => {
    const store = new TopologyStore(dir);
    assert.equal(await store.load(), undefined);
    const doc = sample();
    await store.save(doc);
    assert.deepEqual(await store.load(), doc);
    assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    doc.epoch = 7;
    await store.save(doc);
    assert.equal((await store.load())?.epoch, 7);
    assert.deepEqual(await readdir(dir), [TOPOLOGY_FILE]);
  });

  test('broken files give one clear error naming the file', async () => {
    const store = new TopologyStore(dir);
    await writeFile(store.path, '{"format":1,');
    await assert.rejects(store.load(), (err: unknown) => {
      assert.ok(err instanceof TopologyLoadError);
      assert.match(err.message, new RegExp(`^${store.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON`));
      return true;
    });
    await writeFile(store.path, JSON.stringify({ ...sample(), epoch: -1 }));
    await assert.rejects(store.load(), /topology\.json is invalid: epoch: expected a non-negative integer/);
  });
});

describe('DataDirLock', () => {
  test('acquire writes our pid; a second acquire names the holder; release removes it', async () => {
    const lock = await DataDirLock.acquire(dir, log);
    assert.match(await readFile(path.join(dir, LOCK_FILE), 'utf8'), new RegExp(`^${process.pid} \\d+ pid:\\[\\d+\\]\n$`));
    await assert.rejects(DataDirLock.acquire(dir, log), (err: unknown) => {
      assert.ok(err instanceof DataDirLockedError);
      assert.equal(err.ownerPid, process.pid);
      assert.match(err.message, /in use by another interface-hash-server \(pid \d+\)/);
      return true;
    });
    await lock.release();
    await lock.release();
    assert.deepEqual(await readdir(dir), []);
  });

  test('a stale lock (dead pid, or garbage) is taken over', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await once(child, 'exit');
    assert.ok(child.pid !== undefined && !isPidAlive(child.pid));
    await writeFile(path.join(dir, LOCK_FILE), `${child.pid}\n`);
    const lock = await DataDirLock.acquire(dir, log);
    assert.match(await readFile(path.join(dir, LOCK_FILE), 'utf8'), new RegExp(`^${process.pid} \\d+ pid:\\[\\d+\\]\n$`));
    await lock.release();

    await writeFile(path.join(dir, LOCK_FILE), '');
    const again = await DataDirLock.acquire(dir, log);
    await again.release();
    assert.deepEqual(await readdir(dir), []);
  });

  test('a live pid that is not the process that took the lock is stale (pid reuse, e.g. a new container)', async () => {
    // Our own pid with another start time: the lock of an earlier process that had our pid.
    await writeFile(path.join(dir, LOCK_FILE), `${process.pid} 1\n`);
    const lock = await DataDirLock.acquire(dir, log);
    await lock.release();
    // Pid 1 is alive, but did not start at that tick.
    await writeFile(path.join(dir, LOCK_FILE), '1 999999999999\n');
    const again = await DataDirLock.acquire(dir, log);
    await again.release();
    assert.deepEqual(await readdir(dir), []);
  });

  test('a holder in another pid namespace (another container) is judged by its heartbeat', async () => {
    const file = path.join(dir, LOCK_FILE);
    // Not touched for a minute: its proxy is gone.
    await writeFile(file, '1 5 pid:[1]\n');
    const old = new Date(Date.now() - 60_000);
    await utimes(file, old, old);
    const lock = await DataDirLock.acquire(dir, log);
    await lock.release();
    // Touched as a live holder does: refused.
    await writeFile(file, '1 5 pid:[1]\n');
    const beat = setInterval(() => {
      const now = new Date();
      void utimes(file, now, now);
    }, 500);
    try {
      await assert.rejects(DataDirLock.acquire(dir, log), DataDirLockedError);
    } finally {
      clearInterval(beat);
      await rm(file, { force: true });
    }
  });

  test('release leaves alone a lock taken over by a proxy with our pid in another namespace', async () => {
    const lock = await DataDirLock.acquire(dir, log);
    const file = path.join(dir, LOCK_FILE);
    await writeFile(file, `${process.pid} 5 pid:[1]\n`);
    await lock.release();
    assert.equal(await readFile(file, 'utf8'), `${process.pid} 5 pid:[1]\n`);
    await rm(file);
  });

  test('release leaves a lock that another process took over alone', async () => {
    const lock = await DataDirLock.acquire(dir, log);
    await writeFile(path.join(dir, LOCK_FILE), '1\n'); // pid 1: someone else now
    await lock.release();
    assert.equal(await readFile(path.join(dir, LOCK_FILE), 'utf8'), '1\n');
  });
});
