/**
 * Topology persistence and cluster views without Redis: the builder's ids and layout, the
 * validator (format 2, and format 1 accepted for conversion), the store (atomic, 0600,
 * validated), CLUSTER NODES parsing, merging views into a SlotMap, and the data-dir lock.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { parseClusterNodes, isFailing, isMaster, type ClusterNodeLine } from '../src/nodes/cluster-nodes.js';
import { DataDirLock, DataDirLockedError, LOCK_FILE } from '../src/cluster/data-dir-lock.js';
import { SlotMap, UNASSIGNED } from '../src/cluster/slot-map.js';
import { evenSlotRanges, formationMasters, SLOT_COUNT, TOPOLOGY_FORMAT, type TopologyDoc } from '../src/cluster/topology/topology.js';
import { buildManagedTopology, buildStaticTopology, generateNodePassword } from '../src/cluster/topology/topology-builder.js';
import { TOPOLOGY_FILE, TopologyLoadError, TopologyStore } from '../src/cluster/topology/topology-store.js';
import { validateTopology } from '../src/cluster/topology/topology-validate.js';
import { silentLogger } from '../src/log.js';
import { isPidAlive } from '../src/nodes/process/pid.js';

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

/** Which master each slot is given to by these ranges; throws when a slot is given twice. */
function slotOwners(ranges: readonly [number, number, string][]): (string | undefined)[] {
  const owners = new Array<string | undefined>(SLOT_COUNT);
  for (const [first, last, id] of ranges) {
    for (let s = first; s <= last; s++) {
      assert.equal(owners[s], undefined, `slot ${s} given twice`);
      owners[s] = id;
    }
  }
  return owners;
}

/** A format-1 (pre-cluster) document as the old proxy wrote it. */
function standaloneSample(): Record<string, unknown> {
  return {
    format: 1,
    epoch: 3,
    provider: 'process',
    nodePassword: 'pw',
    nodes: [
      { id: 'm0', host: '127.0.0.1', port: 7000, role: 'master', dataDir: '/data/nodes/m0', handle: '100' },
      { id: 'm0r0', host: '127.0.0.1', port: 7001, role: 'replica', masterId: 'm0', dataDir: '/data/nodes/m0r0', handle: '101' },
      { id: 'm1', host: '127.0.0.1', port: 7002, role: 'master', dataDir: '/data/nodes/m1', handle: '102' },
    ],
    shards: [
      { id: 's0', masterId: 'm0', replicaIds: ['m0r0'] },
      { id: 's1', masterId: 'm1', replicaIds: [] },
    ],
    slots: [
      [0, 8191, 's0'],
      [8192, 16383, 's1'],
    ],
  };
}

describe('topology builder', () => {
  test('masters m0.., replicas m0r0.. formed as their replicas, ports and bus ports 0, a node dir each, even slots', () => {
    const doc = buildManagedTopology({ provider: 'process', dataDir: '/data', masters: 2, replicas: 2, nodePassword: 'pw' });
    assert.equal(doc.format, TOPOLOGY_FORMAT);
    assert.equal(doc.format, 2);
    assert.equal(doc.provider, 'process');
    assert.equal(doc.nodePassword, 'pw');
    assert.equal(doc.formed, false, 'a new document is formed later, by the manager');
    assert.deepEqual(
      doc.nodes.map((n) => [n.id, n.formedAsReplicaOf, n.host, n.port, n.busPort, n.dataDir, n.handle]),
      [
        ['m0', undefined, '127.0.0.1', 0, 0, '/data/nodes/m0', undefined],
        ['m0r0', 'm0', '127.0.0.1', 0, 0, '/data/nodes/m0r0', undefined],
        ['m0r1', 'm0', '127.0.0.1', 0, 0, '/data/nodes/m0r1', undefined],
        ['m1', undefined, '127.0.0.1', 0, 0, '/data/nodes/m1', undefined],
        ['m1r0', 'm1', '127.0.0.1', 0, 0, '/data/nodes/m1r0', undefined],
        ['m1r1', 'm1', '127.0.0.1', 0, 0, '/data/nodes/m1r1', undefined],
      ],
    );
    // masters carry no formedAsReplicaOf key at all (not even undefined): the JSON stays clean
    assert.ok(!('formedAsReplicaOf' in doc.nodes[0]));
    assert.deepEqual(formationMasters(doc).map((n) => n.id), ['m0', 'm1']);
    assert.deepEqual(doc.initialSlots, [
      [0, 8191, 'm0'],
      [8192, 16383, 'm1'],
    ]);
    assert.deepEqual(problemsOf(doc), []);
  });

  test('a relative data dir is made absolute', () => {
    const doc = buildManagedTopology({ provider: 'docker', dataDir: 'rel', masters: 1, replicas: 0, nodePassword: '' });
    assert.equal(doc.nodes[0].dataDir, path.join(path.resolve('rel'), 'nodes', 'm0'));
    assert.equal(doc.provider, 'docker');
  });

  test('initial slots are even and cover 0..16383 exactly once, for any number of masters', () => {
    for (const masters of [1, 2, 3, 5, 7, 16]) {
      const doc = buildManagedTopology({ provider: 'process', dataDir: '/d', masters, replicas: 1, nodePassword: '' });
      assert.equal(doc.initialSlots.length, masters);
      const owners = slotOwners(doc.initialSlots);
      assert.ok(owners.every((o) => o !== undefined), `${masters} masters: every slot given`);
      const sizes = doc.initialSlots.map(([first, last]) => last - first + 1);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${masters} masters: even (${sizes.join(',')})`);
      assert.deepEqual(doc.initialSlots.map((r) => r[2]), formationMasters(doc).map((n) => n.id), 'in master order, masters only');
      // ranges are contiguous and ascending
      doc.initialSlots.forEach(([first], i) => assert.equal(first, i === 0 ? 0 : doc.initialSlots[i - 1][1] + 1));
      assert.deepEqual(problemsOf(doc), []);
    }
    const three = evenSlotRanges(['a', 'b', 'c']);
    assert.deepEqual(three, [
      [0, 5460, 'a'],
      [5461, 10921, 'b'],
      [10922, 16383, 'c'],
    ]);
  });

  test('static seeds: seed0.., busPort 0, formed by their owner, no initial slots; bad layouts are refused', () => {
    const doc = buildStaticTopology([{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6380 }], 'secret');
    assert.equal(doc.provider, 'static');
    assert.equal(doc.formed, true);
    assert.equal(doc.nodePassword, 'secret');
    assert.deepEqual(doc.initialSlots, []);
    assert.deepEqual(doc.nodes, [
      { id: 'seed0', host: '10.0.0.1', port: 6379, busPort: 0 },
      { id: 'seed1', host: '10.0.0.2', port: 6380, busPort: 0 },
    ]);
    assert.deepEqual(problemsOf(doc), []);
    assert.throws(() => buildStaticTopology([], ''), /at least one seed node/);
    assert.throws(() => buildStaticTopology([{ host: 'a', port: 1 }, { host: 'a', port: 1 }], ''), /static node a:1 is listed twice/);
    assert.throws(() => buildManagedTopology({ provider: 'process', dataDir: '/d', masters: 0, replicas: 0, nodePassword: '' }), /masters must be a positive integer, got 0/);
    assert.throws(() => buildManagedTopology({ provider: 'process', dataDir: '/d', masters: 1.5, replicas: 0, nodePassword: '' }), /masters/);
    assert.throws(() => buildManagedTopology({ provider: 'process', dataDir: '/d', masters: 1, replicas: -1, nodePassword: '' }), /replicas must be a non-negative integer, got -1/);
  });

  test('node passwords are fresh and long', () => {
    const a = generateNodePassword();
    assert.notEqual(a, generateNodePassword());
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    // Never one a command line would read as options (a base64url string starts with '-' 1 time in 64).
    for (let i = 0; i < 2000; i++) assert.notEqual(generateNodePassword()[0], '-');
  });
});

describe('topology validation', () => {
  test('lists every problem, with where it is', () => {
    const doc = sample() as unknown as Record<string, unknown>;
    const nodes = doc.nodes as Record<string, unknown>[];
    nodes[0].port = 70000;
    nodes[2].busPort = -1;
    nodes[1].formedAsReplicaOf = 'nope';
    nodes[3].host = '';
    nodes[4].id = 'm0'; // duplicate
    doc.initialSlots = [
      [0, 9000, 'm0'],
      [9000, 16383, 'm1'],
    ];
    const problems = problemsOf(doc);
    const all = problems.join('\n');
    assert.ok(problems.includes('nodes[0].port: expected an integer 0..65535'), all);
    assert.ok(problems.includes('nodes[2].busPort: expected an integer 0..65535'), all);
    assert.ok(problems.includes('nodes[3].host: expected a non-empty string'), all);
    assert.ok(problems.includes('nodes[4].id: duplicate node id m0'), all);
    assert.ok(problems.includes('node m0r0: formedAsReplicaOf nope is not a master node'), all);
    assert.ok(problems.includes('initialSlots[1]: slot 9000 is already given to m0'), all);
    assert.ok(problems.length >= 6, all);
  });

  test('bad initial slots: overlap, a bad range, a replica or an unknown node as owner', () => {
    const overlap = sample();
    overlap.initialSlots = [
      [0, 100, 'm0'],
      [50, 16383, 'm1'],
    ];
    assert.deepEqual(problemsOf(overlap), ['initialSlots[1]: slot 50 is already given to m0']);

    const badRange = sample();
    badRange.initialSlots = [[10, 5, 'm0'], [0, 16384, 'm1'], [0, 1] as unknown as [number, number, string]];
    assert.deepEqual(problemsOf(badRange), [
      'initialSlots[0]: bad range 10-5',
      'initialSlots[1]: bad range 0-16384',
      'initialSlots[2]: expected [first, last, masterId]',
    ]);

    const toReplica = sample();
    toReplica.initialSlots = [[0, 16383, 'm0r0']];
    assert.deepEqual(problemsOf(toReplica), ['initialSlots[0]: "m0r0" is not a master node']);

    const unknown = sample();
    unknown.initialSlots = [[0, 16383, 'm9']];
    assert.deepEqual(problemsOf(unknown), ['initialSlots[0]: "m9" is not a master node']);
  });

  test('formedAsReplicaOf must name a master: unknown ids and replicas of replicas are refused', () => {
    const unknown = sample();
    unknown.nodes[1].formedAsReplicaOf = 'm7';
    assert.deepEqual(problemsOf(unknown), ['node m0r0: formedAsReplicaOf m7 is not a master node']);

    const chained = sample();
    assert.equal(chained.nodes[2].id, 'm1');
    chained.nodes[2].formedAsReplicaOf = 'm0r0'; // m1 → replica of a replica; m1r0 and m1's slots then name a non-master
    assert.deepEqual(problemsOf(chained), [
      'node m1: formedAsReplicaOf m0r0 is not a master node',
      'node m1r0: formedAsReplicaOf m1 is not a master node',
      'initialSlots[1]: "m1" is not a master node',
    ]);

    const empty = sample();
    empty.nodes[1].formedAsReplicaOf = '';
    assert.deepEqual(problemsOf(empty), ['nodes[1].formedAsReplicaOf: expected a node id']);
  });

  test('wrong format, missing fields, wrong provider, managed nodes without a dir', () => {
    assert.deepEqual(problemsOf({ ...sample(), format: 3 }), ['format: expected 2, got 3']);
    assert.deepEqual(problemsOf({ ...sample(), format: undefined }), ['format: expected 2, got undefined']);
    assert.deepEqual(problemsOf([]), ['expected a JSON object']);
    assert.deepEqual(problemsOf(null), ['expected a JSON object']);
    assert.deepEqual(problemsOf({ format: 2 }), [
      'provider: expected one of process, docker, static, got undefined',
      'nodePassword: expected a string',
      'formed: expected true or false',
      'nodes: expected an array',
      'initialSlots: expected an array',
    ]);
    assert.deepEqual(problemsOf({ ...sample(), formed: 'yes' }), ['formed: expected true or false']);
    const noDir = sample();
    delete noDir.nodes[0].dataDir;
    assert.deepEqual(problemsOf(noDir), ['nodes[0].dataDir: required for process nodes']);
    // static seeds need no dir
    assert.deepEqual(problemsOf(buildStaticTopology([{ host: 'h', port: 1 }], '')), []);
  });

  test('format 1 (the pre-cluster layout) is accepted as a standalone layout to convert', () => {
    const old = standaloneSample();
    const check = validateTopology(old);
    assert.ok(check.ok);
    assert.equal(check.kind, 'standalone');
    assert.ok(check.kind === 'standalone');
    assert.deepEqual(check.layout, old);

    assert.deepEqual(problemsOf({ ...old, provider: 'docker' }), [
      'format 1 (standalone) topologies can be converted only for the process provider, not "docker"',
    ]);
    assert.deepEqual(problemsOf({ ...old, shards: undefined }), ['nodes, shards, slots: expected arrays']);
    const badNode = standaloneSample();
    (badNode.nodes as Record<string, unknown>[])[1].role = 'slave';
    delete (badNode.nodes as Record<string, unknown>[])[2].dataDir;
    assert.deepEqual(problemsOf(badNode), ['nodes[1]: expected {id, role, dataDir}', 'nodes[2]: expected {id, role, dataDir}']);
  });
});

describe('TopologyStore', () => {
  test('absent → undefined; save/load round trip; file 0600; no temp files left', async () => {
    const store = new TopologyStore(dir);
    assert.equal(store.path, path.join(dir, TOPOLOGY_FILE));
    assert.equal(await store.load(), undefined);
    const doc = sample();
    await store.save(doc);
    assert.deepEqual(await store.load(), doc);
    assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    doc.formed = true;
    doc.nodes[0].port = 7000;
    doc.nodes[0].busPort = 17000;
    doc.nodes[0].handle = '1234';
    await store.save(doc);
    const loaded = (await store.load()) as TopologyDoc;
    assert.equal(loaded.formed, true);
    assert.deepEqual(loaded.nodes[0], { ...doc.nodes[0] });
    assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), [TOPOLOGY_FILE]);
  });

  test('a format-1 file loads as the standalone layout (the manager converts it)', async () => {
    const store = new TopologyStore(dir);
    await writeFile(store.path, JSON.stringify(standaloneSample()));
    const loaded = await store.load();
    assert.ok(loaded !== undefined);
    assert.equal(loaded.format, 1);
    assert.deepEqual(loaded, standaloneSample());
  });

  test('broken files give one clear error naming the file', async () => {
    const store = new TopologyStore(dir);
    const file = store.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await writeFile(store.path, '{"format":2,');
    await assert.rejects(store.load(), (err: unknown) => {
      assert.ok(err instanceof TopologyLoadError);
      assert.match(err.message, new RegExp(`^${file}: not valid JSON`));
      return true;
    });
    const bad = sample() as unknown as Record<string, unknown>;
    bad.formed = 1;
    (bad.nodes as Record<string, unknown>[])[0].port = 'x';
    await writeFile(store.path, JSON.stringify(bad));
    await assert.rejects(store.load(), (err: unknown) => {
      assert.ok(err instanceof TopologyLoadError);
      assert.equal(err.message, `${store.path} is invalid: formed: expected true or false`);
      return true;
    });
    delete bad.formed;
    bad.formed = false;
    await writeFile(store.path, JSON.stringify(bad));
    await assert.rejects(store.load(), new RegExp(`^TopologyLoadError: ${file} is invalid: nodes\\[0\\]\\.port: expected an integer 0\\.\\.65535$`));
    await writeFile(store.path, JSON.stringify({ ...standaloneSample(), provider: 'static' }));
    await assert.rejects(store.load(), /topology\.json is invalid: format 1 \(standalone\) topologies can be converted only for the process provider, not "static"/);
  });
});

// --- CLUSTER NODES --------------------------------------------------------------------------

const A = 'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca';
const B = '67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1';
const C = '292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f';
const RA = '07c37dfeb235213a872192d90877d0cd55635b91';
const RB = '6ec23923021cf3ffec47632106199cb7f496ce01';

/** One CLUSTER NODES line. */
function line(id: string, address: string, flags: string, master: string, epoch: number, link: string, ...slots: string[]): string {
  return [id, address, flags, master, '0', '1426238317239', String(epoch), link, ...slots].join(' ');
}

describe('parseClusterNodes', () => {
  test('masters, replicas, slots, single slots, migration markers, myself', () => {
    // As redis-server 7.0 prints it (no hostnames configured), with a slot being migrated away and one imported.
    const text = [
      line(RA, '127.0.0.1:30004@31004', 'slave', A, 1, 'connected'),
      line(B, '127.0.0.1:30002@31002', 'master', '-', 2, 'connected', '5461-10922'),
      line(A, '127.0.0.1:30001@31001', 'myself,master', '-', 1, 'connected', '0-92', '94-5460', '16383', `[93->-${C}]`, `[77-<-${B}]`),
      line(C, '127.0.0.1:30003@31003', 'master', '-', 3, 'connected', '93', '10923-16382'),
      '',
    ].join('\n');
    const lines = parseClusterNodes(text);
    assert.equal(lines.length, 4);
    const [ra, b, a, c] = lines;
    assert.deepEqual(
      { ...ra, flags: [...ra.flags] },
      { id: RA, host: '127.0.0.1', port: 30004, busPort: 31004, flags: ['slave'], masterId: A, configEpoch: 1, connected: true, slots: [] },
    );
    assert.ok(!isMaster(ra));
    assert.equal(b.masterId, undefined);
    assert.deepEqual(b.slots, [5461, 10922]);
    assert.ok(isMaster(b));
    assert.deepEqual([...a.flags], ['myself', 'master']);
    assert.deepEqual(a.slots, [0, 92, 94, 5460, 16383, 16383], 'markers skipped, a lone slot is a one-slot range');
    assert.equal(a.busPort, 31001);
    assert.deepEqual(c.slots, [93, 93, 10923, 16382]);
    assert.equal(c.configEpoch, 3);
  });

  test('verbatim output of redis-server 7.0.15: hostnames, migrating and importing markers', () => {
    const withHostnames = [
      '454085e37d8e83d77ecce113ad6276cc4002b33f 127.0.0.1:31002@41002,host31002 master - 0 1795694003199 1 connected',
      '77633599d8e3dbeddf85b512ad0481b26dc7a17c 127.0.0.1:31001@41001,host31001 myself,master - 0 0 0 connected 0-100',
      '',
    ].join('\n');
    const [peer, me] = parseClusterNodes(withHostnames);
    assert.deepEqual([peer.id, peer.host, peer.port, peer.busPort, peer.configEpoch, peer.connected], ['454085e37d8e83d77ecce113ad6276cc4002b33f', '127.0.0.1', 31002, 41002, 1, true]);
    assert.deepEqual(peer.slots, []);
    assert.deepEqual([me.port, me.busPort, me.slots, me.flags.has('myself')], [31001, 41001, [0, 100], true]);

    const migrating = parseClusterNodes(
      '77633599d8e3dbeddf85b512ad0481b26dc7a17c 127.0.0.1:31001@41001 myself,master - 0 0 0 connected 0-100 [50->-454085e37d8e83d77ecce113ad6276cc4002b33f]\n' +
        '454085e37d8e83d77ecce113ad6276cc4002b33f 127.0.0.1:31002@41002 master - 0 1795694008691 1 connected\n',
    );
    assert.deepEqual(migrating[0].slots, [0, 100], 'the slot being migrated is still served by its owner');
    const importing = parseClusterNodes(
      '454085e37d8e83d77ecce113ad6276cc4002b33f 127.0.0.1:31002@41002 myself,master - 0 1795694005000 1 connected [60-<-77633599d8e3dbeddf85b512ad0481b26dc7a17c]\n',
    );
    assert.deepEqual(importing[0].slots, [], 'an importing marker is not a served slot');
  });

  test('CRLF line ends, hostnames, IPv6 addresses, failing and address-less nodes', () => {
    const text = [
      line(A, '10.0.0.1:6379@16379,redis-a.example', 'master', '-', 7, 'connected', '0-16383'),
      line(B, ':0@0', 'master,fail,noaddr', '-', 2, 'disconnected'),
      line(C, '::1:7000@17000', 'master,fail?', '-', 4, 'connected'),
      line(RB, '127.0.0.1:7001', 'slave,fail', B, 0, 'disconnected'),
      line(RA, '10.0.0.2:6379@16379,', 'handshake', '-', 0, 'disconnected'),
    ].join('\r\n');
    const [a, b, c, rb, ra] = parseClusterNodes(text);
    assert.deepEqual([a.host, a.port, a.busPort], ['10.0.0.1', 6379, 16379], 'the hostname after the comma is not part of the bus port');
    assert.deepEqual([b.host, b.port, b.busPort, b.connected], ['', 0, 0, false], 'noaddr: no address yet');
    assert.ok(b.flags.has('noaddr'));
    assert.ok(isFailing(b));
    assert.deepEqual([c.host, c.port, c.busPort], ['::1', 7000, 17000]);
    assert.ok(isFailing(c), 'fail? (pfail) counts as failing');
    assert.ok(!isFailing(a));
    assert.deepEqual([rb.host, rb.port, rb.busPort, rb.masterId], ['127.0.0.1', 7001, 0, B], 'an address without a bus port');
    assert.deepEqual([ra.host, ra.port, ra.busPort], ['10.0.0.2', 6379, 16379]);
    assert.ok(ra.flags.has('handshake'));
  });

  test('malformed input is an error, not a silent half-map', () => {
    assert.deepEqual(parseClusterNodes(''), []);
    assert.throws(() => parseClusterNodes(`${A} 127.0.0.1:1@2 master -`), /CLUSTER NODES: malformed line/);
    assert.throws(() => parseClusterNodes(line(A, '127.0.0.1:1@2', 'master', '-', 1, 'connected', '0-x')), /CLUSTER NODES: bad slot range '0-x'/);
  });
});

// --- SlotMap.fromViews ------------------------------------------------------------------------

/** A view as `viewer` would print it: its own line flagged myself. */
function view(viewer: string, ...lines: string[]): ClusterNodeLine[] {
  return parseClusterNodes(
    lines
      .map((l) => {
        const [id, address, flags, ...rest] = l.split(' ');
        return [id, address, id === viewer ? `myself,${flags}` : flags, ...rest].join(' ');
      })
      .join('\n'),
  );
}

function ownerIds(map: SlotMap): (string | undefined)[] {
  return Array.from(map.slotToMaster, (idx) => (idx === UNASSIGNED ? undefined : map.masters[idx].nodeId));
}

describe('SlotMap.fromViews', () => {
  const a = (epoch: number, ...slots: string[]) => line(A, '127.0.0.1:7000@17000', 'master', '-', epoch, 'connected', ...slots);
  const b = (epoch: number, ...slots: string[]) => line(B, '127.0.0.1:7001@17001', 'master', '-', epoch, 'connected', ...slots);
  const c = (epoch: number, ...slots: string[]) => line(C, '127.0.0.1:7002@17002', 'master', '-', epoch, 'connected', ...slots);

  test('one view: masters in slot order, replicas attached, unserved slots unassigned', () => {
    const map = SlotMap.fromViews([
      view(
        A,
        c(3, '10000-16383'),
        line(RA, '127.0.0.1:7003@17003', 'slave', A, 1, 'connected'),
        a(1, '0-4999'),
        b(2, '5000-9999'),
        line(RB, '127.0.0.1:7004@17004', 'slave,fail?', B, 2, 'connected'),
      ),
    ]);
    assert.deepEqual(map.masters.map((m) => [m.nodeId, m.address, m.failing]), [
      [A, '127.0.0.1:7000', false],
      [B, '127.0.0.1:7001', false],
      [C, '127.0.0.1:7002', false],
    ]);
    assert.deepEqual(map.masters[0].replicas, [{ nodeId: RA, host: '127.0.0.1', port: 7003, failing: false }]);
    assert.deepEqual(map.masters[1].replicas, [{ nodeId: RB, host: '127.0.0.1', port: 7004, failing: true }]);
    assert.deepEqual(map.masters[2].replicas, []);
    assert.equal(map.epoch, 3);
    assert.deepEqual(map.rangesOf(0), [[0, 4999]]);
    assert.deepEqual(map.rangesOf(2), [[10000, 16383]]);
    assert.equal(map.firstSlotOf(1), 5000);
    assert.deepEqual(map.servingMasters(), [0, 1, 2]);

    const partial = SlotMap.fromViews([view(A, a(1, '0-99', '200'))]);
    assert.equal(partial.slotToMaster[100], UNASSIGNED);
    assert.equal(partial.slotToMaster[200], 0);
    assert.deepEqual(partial.rangesOf(0), [[0, 99], [200, 200]]);
    assert.equal(partial.firstSlotOf(5), -1);
  });

  test('the highest config epoch wins a slot, whatever the order of the views', () => {
    // A's view is stale: it still claims 0-99 at epoch 1; B took them over at epoch 4.
    const stale = view(A, a(1, '0-4999'), b(2, '5000-16383'));
    const fresh = view(B, a(1, '100-4999'), b(4, '0-99', '5000-16383'));
    for (const views of [[stale, fresh], [fresh, stale]]) {
      const map = SlotMap.fromViews(views);
      const owners = ownerIds(map);
      assert.equal(owners[0], B);
      assert.equal(owners[99], B);
      assert.equal(owners[100], A);
      assert.equal(owners[16383], B);
      assert.equal(map.epoch, 4);
      assert.deepEqual(map.masters.map((m) => m.nodeId), [B, A], 'in the order of their lowest slot');
    }
  });

  test('a stale view cannot undo a newer claim, even the stale owner\'s own view', () => {
    // C finished importing slot 7 (epoch 5); A, the old owner, still lists it as its own (epoch 1).
    const fromA = view(A, a(1, '0-5000'), c(3, '5001-16383'));
    const fromC = view(C, a(1, '0-6', '8-5000'), c(5, '7', '5001-16383'));
    const map = SlotMap.fromViews([fromC, fromA]);
    assert.equal(ownerIds(map)[7], C);
    assert.equal(ownerIds(map)[6], A);
    assert.equal(ownerIds(map)[8], A);
  });

  test('on equal epochs a node\'s own claim wins over what a peer says of another', () => {
    // C (a bystander) still believes A has slot 0; B says it has it itself, at the same epoch.
    const fromC = view(C, a(2, '0-100'), b(2, '101-16383'), c(1));
    const fromB = view(B, a(2, '1-100'), b(2, '0', '101-16383'));
    assert.equal(ownerIds(SlotMap.fromViews([fromC, fromB]))[0], B, "B's own claim");
    assert.equal(ownerIds(SlotMap.fromViews([fromB, fromC]))[0], B, 'whichever view comes first');
    assert.equal(ownerIds(SlotMap.fromViews([fromC]))[0], A, 'without B\'s view, C\'s word');
  });

  test('an address-less line in one view is completed by another; failing masters are marked', () => {
    const fromA = view(A, a(1, '0-8191'), line(B, ':0@0', 'master,noaddr', '-', 2, 'disconnected', '8192-16383'));
    const fromB = view(B, a(1, '0-8191'), line(B, '127.0.0.1:7001@17001', 'master', '-', 2, 'connected', '8192-16383'));
    for (const views of [[fromA, fromB], [fromB, fromA]]) {
      const map = SlotMap.fromViews(views);
      assert.deepEqual(map.masters.map((m) => m.address), ['127.0.0.1:7000', '127.0.0.1:7001']);
    }
    const failing = SlotMap.fromViews([view(A, a(1, '0-8191'), line(B, '127.0.0.1:7001@17001', 'master,fail', '-', 2, 'disconnected', '8192-16383'))]);
    assert.deepEqual(failing.masters.map((m) => m.failing), [false, true]);
  });

  test('replicas are attached to the master they name in any view; masters without slots are not routes', () => {
    const map = SlotMap.fromViews([
      view(A, a(1, '0-16383'), c(3), line(RA, '127.0.0.1:7003@17003', 'slave', A, 1, 'connected')),
      view(RB, line(RB, '127.0.0.1:7004@17004', 'slave', A, 1, 'connected'), a(1, '0-16383')),
    ]);
    assert.deepEqual(map.masters.map((m) => m.nodeId), [A], 'C serves nothing');
    assert.deepEqual(map.masters[0].replicas.map((r) => r.nodeId).sort(), [RA, RB].sort());
  });

  test('moveSlot: a known address keeps its index, an unknown master is added; servingMasters follows slot order', () => {
    const map = SlotMap.fromViews([view(A, a(1, '0-8191'), b(2, '8192-16383'), c(3, '16383-16383'))]);
    // c(3) claims 16383 at a higher epoch than b
    assert.deepEqual(map.masters.map((m) => m.nodeId), [A, B, C]);
    assert.deepEqual(map.servingMasters(), [0, 1, 2]);

    assert.equal(map.moveSlot(5, '127.0.0.1', 7001), 1, 'known address');
    assert.equal(map.slotToMaster[5], 1);
    assert.equal(map.masters.length, 3);

    const added = map.moveSlot(0, '127.0.0.1', 7999);
    assert.equal(added, 3);
    assert.deepEqual(map.masters[3], { nodeId: '', host: '127.0.0.1', port: 7999, address: '127.0.0.1:7999', failing: false, replicas: [] });
    assert.equal(map.indexOfAddress('127.0.0.1:7999'), 3);
    assert.equal(map.indexOfAddress('127.0.0.1:1'), -1);
    assert.deepEqual(map.servingMasters(), [3, 0, 1, 2], 'by lowest slot: 0 → new master, 1 → A, 5 → B, 16383 → C');

    // the last slot of C moves away: C serves nothing and is no longer a serving master
    map.moveSlot(16383, '127.0.0.1', 7000);
    assert.deepEqual(map.servingMasters(), [3, 0, 1]);
    assert.deepEqual(map.rangesOf(1), [[5, 5], [8192, 16382]]);
  });

  test('no views, or views without slots: an empty map', () => {
    const empty = SlotMap.fromViews([]);
    assert.deepEqual(empty.masters, []);
    assert.deepEqual(empty.servingMasters(), []);
    assert.ok(empty.slotToMaster.every((v) => v === UNASSIGNED));
    assert.equal(SlotMap.fromViews([view(A, a(0))]).masters.length, 0);
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
