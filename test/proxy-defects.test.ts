/**
 * Defects of the data path found in review, each pinned by a test against real
 * redis-server processes: clients that end or leave while stalled are released at once
 * (and a blocked command of theirs is cancelled), memory stays bounded under parties that
 * do not drain (a SIGSTOPped master, a client that does not read), dedicated connections
 * are bounded, one dead master does not break the others, SCRIPT/FUNCTION KILL work.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { SlotMap } from '../src/cluster/slot-map.js';
import { parseClusterNodes } from '../src/nodes/cluster-nodes.js';
import type { TopologyDoc } from '../src/cluster/topology/topology.js';
import { encodeCommand } from '../src/resp/encode.js';
import { exited, RawClient, rssOf, startExecutable, startTestProxy, waitForPong, waitUntil, type TestProxy } from './support/proxy.js';
import { sleep } from '../src/nodes/wait.js';
import { freePort } from './support/redis-server.js';

const MB = 1024 * 1024;

function cmd(...args: (string | Buffer)[]): Buffer {
  return encodeCommand(args);
}

/** A key whose slot is served by master number `shard` of `map` (masters in slot order). */
function keyOnShard(map: SlotMap, shard: number, prefix: string): string {
  const index = map.servingMasters()[shard];
  for (let i = 0; ; i++) {
    const key = `${prefix}:${i}`;
    if (map.slotToMaster[calculateSlot(key)] === index) return key;
  }
}

/** The node record of master number `shard` of `map`. */
function masterNode(doc: TopologyDoc, map: SlotMap, shard: number): TopologyDoc['nodes'][number] {
  const route = map.masters[map.servingMasters()[shard]];
  const node = doc.nodes.find((n) => n.port === route.port);
  assert.ok(node, `master ${shard} is one of the document's nodes`);
  return node;
}

/** A direct (password) connection to master number `shard`, bypassing the proxy. */
function masterClient(doc: TopologyDoc, map: SlotMap, shard: number): Redis {
  const node = masterNode(doc, map, shard);
  return new Redis({ host: node.host, port: node.port, password: doc.nodePassword, maxRetriesPerRequest: 1, lazyConnect: false });
}

function masterPid(doc: TopologyDoc, map: SlotMap, shard: number): number {
  const node = masterNode(doc, map, shard);
  assert.ok(node.handle, 'the master has a pid');
  return Number(node.handle);
}

/** The cluster's slot map as one of its nodes sees it. */
async function clusterMapOf(doc: TopologyDoc): Promise<SlotMap> {
  const node = new Redis({ host: doc.nodes[0].host, port: doc.nodes[0].port, password: doc.nodePassword, maxRetriesPerRequest: 1 });
  try {
    return SlotMap.fromViews([parseClusterNodes(String(await node.call('CLUSTER', 'NODES')))]);
  } finally {
    node.disconnect();
  }
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)\r?$`, 'm').exec(info)?.[1];
}

async function blockedClients(node: Redis): Promise<number> {
  return Number(infoField(await node.info('clients'), 'blocked_clients'));
}

/** A raw socket, optionally one that never closes its own side (allowHalfOpen). */
function connectRaw(port: number, allowHalfOpen: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the server sends until it closes its side. */
function readUntilEnd(s: net.Socket, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error(`no end from the proxy after ${ms} ms; got ${JSON.stringify(Buffer.concat(chunks).toString())}`)), ms);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
  });
}

async function proxyInfo(port: number, section: string): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    c.write(cmd('INFO', section));
    const complete = (d: Buffer): boolean => {
      const m = /^\$(\d+)\r\n/.exec(d.toString('latin1'));
      return m !== null && d.length >= m[0].length + Number(m[1]) + 2;
    };
    const data = await c.waitFor((d, closed) => closed || complete(d));
    if (!complete(data)) throw new Error(`INFO refused: ${data.toString('latin1')}`);
    return data.toString('latin1');
  } finally {
    c.close();
  }
}

describe('sessions that end are released at once', () => {
  test('with --maxclients 50: 100 clients ending by QUIT or a protocol error leave the next client served and the count true', async () => {
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--maxclients', '50']);
    const kept: net.Socket[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        // Half of them never close their own side: the proxy must not wait for them to.
        const halfOpen = i % 2 === 0;
        const s = await connectRaw(tp.port, halfOpen);
        const malformed = i % 3 === 2;
        const ended = readUntilEnd(s, 5000);
        s.write(malformed ? '*1\r\n$x\r\n' : 'PING\r\nQUIT\r\n');
        assert.equal(await ended, malformed ? '-ERR Protocol error: invalid bulk length\r\n' : '+PONG\r\n+OK\r\n', `client ${i}`);
        if (halfOpen) kept.push(s);
        else s.destroy();
      }
      const info = await proxyInfo(tp.port, 'clients');
      assert.equal(infoField(info, 'connected_clients'), '1', info);

      // A refused client is released too; the ones that were let in are counted exactly.
      const held: RawClient[] = [];
      for (let i = 0; i < 50; i++) {
        const c = await RawClient.connect(tp.port);
        c.write('PING\r\n');
        await c.waitFor((d) => d.toString() === '+PONG\r\n');
        held.push(c);
      }
      for (let i = 0; i < 20; i++) {
        const c = await RawClient.connect(tp.port);
        const refused = await c.waitFor((_d, closed) => closed);
        assert.equal(refused.toString(), '-ERR max number of clients reached\r\n');
      }
      for (const c of held) c.close();
      // (Until the proxy has read those closes, a new client may still be refused.)
      const count = (info: string): string | undefined => infoField(info, 'connected_clients');
      await waitUntil(async () => count(await proxyInfo(tp.port, 'clients').catch(() => '')) === '1', 3000, 'connected_clients back to 1');
      const stats = await proxyInfo(tp.port, 'stats');
      assert.ok(Number(infoField(stats, 'rejected_connections')) >= 20, stats);
    } finally {
      for (const s of kept) s.destroy();
      await tp.close();
    }
  });
});

describe('a client that leaves while blocked', () => {
  let tp: TestProxy;
  let redis: Redis;
  let node: Redis;

  before(async () => {
    tp = await startTestProxy(['--masters', '1', '--replicas', '0']);
    redis = new Redis({ port: tp.port, maxRetriesPerRequest: 1 });
    node = masterClient(tp.proxy.cluster.topology, tp.proxy.server.router.slotMap, 0);
  });

  after(async () => {
    redis?.disconnect();
    node?.disconnect();
    await tp?.close();
  });

  test('BLPOP in progress: cancelled at once, so a later RPUSH is not popped for nobody', async () => {
    const c = await RawClient.connect(tp.port);
    c.write(cmd('BLPOP', 'dq:1', '0'));
    await waitUntil(async () => (await blockedClients(node)) === 1, 3000, 'the BLPOP to block on the master');
    c.close();
    await waitUntil(async () => (await blockedClients(node)) === 0, 3000, 'the BLPOP to be cancelled on the master');
    assert.equal(await redis.rpush('dq:1', 'x'), 1);
    assert.equal(await redis.llen('dq:1'), 1);
    await waitUntil(async () => infoField(await proxyInfo(tp.port, 'clients'), 'connected_clients') === '2', 3000, 'the session to be released');
  });

  test('BLPOP still waiting for earlier replies: never started', async () => {
    const c = await RawClient.connect(tp.port);
    // A script that keeps the master busy ~800 ms; the BLPOP must wait for its reply.
    const spin =
      "local function now() local t = redis.call('time') return t[1] * 1000 + t[2] / 1000 end " +
      'local e = now() + 800 while now() < e do end return 1';
    c.write(Buffer.concat([cmd('EVAL', spin, '0'), cmd('BLPOP', 'dq:2', '0')]));
    await sleep(200);
    c.close();
    await sleep(1200); // the script is over; a BLPOP started now would block
    assert.equal(await blockedClients(node), 0, 'no BLPOP on the master');
    assert.equal(await redis.rpush('dq:2', 'x'), 1);
    assert.equal(await redis.llen('dq:2'), 1);
  });
});

describe('bad input and odd replies stay with their request', () => {
  test('SCAN with a cursor that is not a number gets Redis\'s error; the client goes on', async () => {
    const tp = await startTestProxy(['--masters', '2', '--replicas', '0']);
    try {
      const c = await RawClient.connect(tp.port);
      c.write(Buffer.concat([cmd('SCAN', 'notanumber'), cmd('SCAN', '-1'), cmd('SCAN', '99999999999999999999999999999'), cmd('PING')]));
      const data = await c.waitFor((d) => d.toString().endsWith('+PONG\r\n'));
      assert.equal(data.toString(), '-ERR invalid cursor\r\n-ERR invalid cursor\r\n-ERR invalid cursor\r\n+PONG\r\n');
      c.close();
    } finally {
      await tp.close();
    }
  });
});

/** A real proxy process (its RSS measured alone) over `masters` masters, without replicas. */
async function startProxyProcess(masters: number, flags: string[] = []) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-defects-'));
  const port = await freePort();
  const child = startExecutable(dir, port, ['--masters', String(masters), '--replicas', '0', ...flags]);
  await waitForPong(port);
  const doc = JSON.parse(await readFile(path.join(dir, 'topology.json'), 'utf8')) as TopologyDoc;
  return {
    port,
    doc,
    map: await clusterMapOf(doc),
    pid: child.pid!,
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited(child);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('memory stays bounded under parties that do not drain', () => {
  test('50 clients pipelining 1 MB SETs to a SIGSTOPped master: RSS bounded, other masters served', async (t) => {
    // A stopped master that stays stopped: the proxy must not heal it here.
    const p = await startProxyProcess(3, ['--no-auto-failover']);
    const other = new Redis({ port: p.port, maxRetriesPerRequest: 0 });
    const sockets: net.Socket[] = [];
    let stopped = 0;
    let writing = true;
    try {
      const k1 = keyOnShard(p.map, 1, 'ok1');
      const k2 = keyOnShard(p.map, 2, 'ok2');
      assert.equal(await other.set(k1, 'a'), 'OK'); // connected and ready before the stop
      await sleep(300); // let the proxy settle (GC after start-up) before the baseline
      const baseline = await rssOf(p.pid);
      stopped = masterPid(p.doc, p.map, 0);
      process.kill(stopped, 'SIGSTOP');

      const value = Buffer.alloc(MB, 'v');
      const crlf = Buffer.from('\r\n');
      for (let i = 0; i < 50; i++) {
        const key = keyOnShard(p.map, 0, `big${i}`);
        const header = Buffer.from(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n`);
        const s = await connectRaw(p.port, false);
        sockets.push(s);
        s.on('data', () => {});
        s.on('error', () => {});
        // Pipeline as fast as the proxy takes them (this process must not buffer them).
        const pump = (): void => {
          while (writing && !s.destroyed) {
            s.write(header);
            s.write(value);
            if (!s.write(crlf)) {
              s.once('drain', pump);
              return;
            }
          }
        };
        pump();
      }

      let peak = baseline;
      let worst = 0;
      const until = Date.now() + 6000; // under the 10 s command timeout: nothing is failed meanwhile
      while (Date.now() < until) {
        const t = Date.now();
        assert.equal(await other.set(k1, String(t)), 'OK');
        assert.equal(await other.get(k1), String(t));
        assert.equal(await other.set(k2, 'b'), 'OK');
        worst = Math.max(worst, Date.now() - t);
        peak = Math.max(peak, await rssOf(p.pid));
        await sleep(100);
      }
      const growth = peak - baseline;
      t.diagnostic(`baseline RSS ${Math.round(baseline / MB)} MB, peak ${Math.round(peak / MB)} MB, slowest request ${worst} ms`);
      assert.ok(worst < 1000, `other masters served within a second (worst ${worst} ms)`);
      assert.ok(growth < 350 * MB, `proxy RSS grew by ${Math.round(growth / MB)} MB (bound 350 MB)`);
    } finally {
      writing = false;
      if (stopped) process.kill(stopped, 'SIGCONT');
      for (const s of sockets) s.destroy();
      other.disconnect();
      await p.stop();
    }
  });

  test('a client pipelining 200 000 GETs of a 100 KB value without reading: bounded by bytes; its pooled connection stays fast', async (t) => {
    const p = await startProxyProcess(1, ['--pool-size', '2']);
    const sockets: net.Socket[] = [];
    try {
      const setup = new Redis({ port: p.port, maxRetriesPerRequest: 1 });
      assert.equal(await setup.set('big', Buffer.alloc(100 * 1024, 'b')), 'OK');
      assert.equal(await setup.set('small', 's'), 'OK');
      setup.disconnect();

      // The non-reader and a peer that shares its pooled backend connection (id % pool size).
      const idOf = async (c: RawClient): Promise<number> => {
        c.write('CLIENT ID\r\n');
        const d = await c.waitFor((x) => /^:\d+\r\n$/.test(x.toString()));
        return Number(d.toString().slice(1));
      };
      const slow = await RawClient.connect(p.port);
      const slowId = await idOf(slow);
      let peer: RawClient;
      for (;;) {
        const c = await RawClient.connect(p.port);
        if ((await idOf(c)) % 2 === slowId % 2) {
          peer = c;
          break;
        }
        c.close();
      }
      await sleep(300);
      const baseline = await rssOf(p.pid);

      slow.socket.pause(); // never read a reply from here on
      const one = cmd('GET', 'big');
      const all = Buffer.alloc(one.length * 200_000);
      for (let i = 0; i < 200_000; i++) one.copy(all, i * one.length);
      slow.write(all);

      let peak = baseline;
      let worst = 0;
      let got = 0;
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        const before = peer.received().length;
        const t = Date.now();
        peer.write('GET small\r\n');
        await peer.waitFor((d) => d.length >= before + 7, 10_000);
        worst = Math.max(worst, Date.now() - t);
        got++;
        peak = Math.max(peak, await rssOf(p.pid));
        await sleep(100);
      }
      const growth = peak - baseline;
      t.diagnostic(`baseline RSS ${Math.round(baseline / MB)} MB, peak ${Math.round(peak / MB)} MB, slowest request ${worst} ms`);
      assert.ok(got > 10);
      assert.ok(worst < 1000, `the peer on the same pooled connection waited at most ${worst} ms`);
      assert.ok(growth < 300 * MB, `proxy RSS grew by ${Math.round(growth / MB)} MB (bound 300 MB)`);

      // The stalled client leaving is released at once.
      slow.close();
      await waitUntil(async () => infoField(await proxyInfo(p.port, 'clients'), 'connected_clients') === '2', 5000, 'the stalled client released');
      peer.close();
    } finally {
      for (const s of sockets) s.destroy();
      await p.stop();
    }
  });
});

describe('--max-blocking-clients', () => {
  test('past the bound a blocking command gets an error; a freed place is reused', async () => {
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--max-blocking-clients', '2']);
    const node = masterClient(tp.proxy.cluster.topology, tp.proxy.server.router.slotMap, 0);
    const redis = new Redis({ port: tp.port, maxRetriesPerRequest: 1 });
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const c = await RawClient.connect(tp.port);
        clients.push(c);
        c.write(cmd('BLPOP', 'mb:q', '0'));
      }
      await waitUntil(async () => (await blockedClients(node)) === 2, 3000, 'two BLPOPs blocked');
      const third = await RawClient.connect(tp.port);
      clients.push(third);
      third.write(Buffer.concat([cmd('BLPOP', 'mb:q', '0'), cmd('PING')]));
      const refused = await third.waitFor((d) => d.toString().endsWith('+PONG\r\n'));
      assert.match(refused.toString(), /^-ERR max number of blocking clients reached \(--max-blocking-clients 2\)\r\n\+PONG\r\n$/);
      assert.equal(await redis.rpush('mb:q', 'a'), 1); // one BLPOP returns, its place is free
      await waitUntil(async () => (await blockedClients(node)) === 1, 3000, 'one BLPOP answered');
      third.write(cmd('BLPOP', 'mb:q', '0'));
      await waitUntil(async () => (await blockedClients(node)) === 2, 3000, 'the third client blocked');
    } finally {
      for (const c of clients) c.close();
      redis.disconnect();
      node.disconnect();
      await tp.close();
    }
  });
});

describe('one dead master', () => {
  test('a new ioredis client with default options works with keys on the healthy masters; fan-outs answer from the masters that are up', async () => {
    // A dead master that stays dead: the proxy must not heal it here.
    const tp = await startTestProxy(['--masters', '3', '--replicas', '0', '--no-auto-failover']);
    const map = tp.proxy.server.router.slotMap;
    const doc = tp.proxy.cluster.topology;
    let fresh: Redis | undefined;
    try {
      const k1 = keyOnShard(map, 1, 'alive1');
      const k2 = keyOnShard(map, 2, 'alive2');
      // Shard 0 is the one a naive "ask master 0" would pick.
      const pid = masterPid(doc, map, 0);
      process.kill(pid, 'SIGKILL');
      await sleep(300);

      fresh = new Redis({ port: tp.port });
      fresh.on('error', () => {});
      const timeout = sleep(5000).then(() => {
        throw new Error('no reply within 5 s');
      });
      assert.equal(await Promise.race([fresh.set(k1, 'one'), timeout]), 'OK');
      assert.equal(await fresh.set(k2, 'two'), 'OK');
      assert.equal(await fresh.get(k1), 'one');
      assert.equal(await fresh.get(k2), 'two');

      const info = await fresh.info();
      assert.match(info, /# Server\r\n/);
      assert.equal(infoField(info, 'connected_clients'), '1');
      assert.match(info, new RegExp(`master_down0:id=${map.masters[map.servingMasters()[0]].nodeId},`));
      assert.equal(infoField(info, 'masters_down'), '1');
      assert.deepEqual(await fresh.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
      assert.ok((await fresh.call('COMMAND', 'COUNT')) as number > 100);
      assert.ok([k1, k2].includes(String(await fresh.randomkey())));
      // Keyless requests go to a master that is up, whichever master a client's are spread to.
      const keyless = await Promise.all(
        [0, 1, 2, 3, 4, 5].map(async () => {
          const c = new Redis({ port: tp.port, maxRetriesPerRequest: 0 });
          c.on('error', () => {});
          try {
            return await c.eval('return 1', 0);
          } finally {
            c.disconnect();
          }
        }),
      );
      assert.deepEqual(keyless, [1, 1, 1, 1, 1, 1]);
      // Answers that would be wrong without the dead master fail with its error — which says
      // what failed, never which internal node (no address, no node id).
      const dbsizeError = await fresh.dbsize().then(() => assert.fail('DBSIZE answered without a master'), (err: Error) => err.message);
      assert.match(dbsizeError, /^ERR (connection to backend lost|cannot connect to backend|backend unavailable): ECONN/);
      assert.doesNotMatch(dbsizeError, /127\.0\.0\.1|:\d{2,5}\b|[0-9a-f]{40}/);
      await assert.rejects(fresh.keys('*'), /ERR (connection to|cannot connect to|backend) /);
    } finally {
      fresh?.disconnect();
      await tp.close();
    }
  });
});

describe('SCRIPT KILL and FUNCTION KILL', () => {
  let tp: TestProxy;
  let nodes: Redis[];

  before(async () => {
    // --no-auto-failover: the proxy's own kill (at a script's first BUSY) would end the
    // scripts before these clients' SCRIPT KILL / FUNCTION KILL, which are what is tested here.
    tp = await startTestProxy(['--masters', '2', '--replicas', '0', '--no-auto-failover']);
    const map = tp.proxy.server.router.slotMap;
    nodes = [0, 1].map((i) => masterClient(tp.proxy.cluster.topology, map, i));
    // A script counts as busy after this long (default 5 s).
    for (const n of nodes) await n.config('SET', 'busy-reply-threshold', '100');
  });

  after(async () => {
    for (const n of nodes ?? []) n.disconnect();
    await tp?.close();
  });

  test('nothing running: NOTBUSY, in Redis\'s words', async () => {
    const r = new Redis({ port: tp.port, maxRetriesPerRequest: 1 });
    try {
      await assert.rejects(r.script('KILL'), /^ReplyError: NOTBUSY No scripts in execution right now\.$/);
      await assert.rejects(r.call('FUNCTION', 'KILL'), /^ReplyError: NOTBUSY No scripts in execution right now\.$/);
    } finally {
      r.disconnect();
    }
  });

  test('a busy EVAL is killed from another client sharing its pooled connection, and from its own client', async () => {
    const a = new Redis({ port: tp.port, maxRetriesPerRequest: 0 });
    const clients: Redis[] = [a];
    try {
      const aId = Number(await a.client('ID'));
      // b shares a's pooled connection to every master (session id modulo the pool size).
      let b: Redis;
      for (;;) {
        const c = new Redis({ port: tp.port, maxRetriesPerRequest: 0 });
        clients.push(c);
        if (Number(await c.client('ID')) % 2 === aId % 2) {
          b = c;
          break;
        }
      }
      // (Each rejection is expected at once: it may arrive before the kill's own reply.)
      const busy = assert.rejects(a.eval('while true do end', 0), /Script killed by user/);
      await sleep(300);
      assert.equal(await b.script('KILL'), 'OK');
      await busy;
      assert.equal(await a.ping(), 'PONG');
      assert.equal(await b.set('sk:after', '1'), 'OK');

      // The client running the script can kill it itself (its next request).
      const own = assert.rejects(a.eval('while true do end', 0), /Script killed by user/);
      const killed = a.script('KILL');
      await own;
      assert.equal(await killed, 'OK');

      // FUNCTION KILL stops a busy function.
      assert.equal(await a.call('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=spinlib\nredis.register_function('spin', function() while true do end end)"), 'spinlib');
      const spinning = assert.rejects(a.call('FCALL', 'spin', '0'), /killed/i);
      await sleep(300);
      assert.equal(await b.call('FUNCTION', 'KILL'), 'OK');
      await spinning;
      assert.equal(await a.get('sk:after'), '1');
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});

describe('a script or function that outlives --command-timeout is killed (issue 13 part 2)', () => {
  test('EVAL, EVALSHA, FCALL and FCALL_RO: the client gets the timeout, the node gets SCRIPT/FUNCTION KILL and serves again; no failover', async () => {
    // --no-auto-failover: the health side, which kills a script at its first BUSY, must not be what ends it.
    const tp = await startTestProxy(['--masters', '2', '--replicas', '0', '--command-timeout', '800', '--no-auto-failover']);
    const map = tp.proxy.server.router.slotMap;
    const node = masterClient(tp.proxy.cluster.topology, map, 0);
    const pid = masterPid(tp.proxy.cluster.topology, map, 0);
    const key = keyOnShard(map, 0, 'spin');
    const a = new Redis({ port: tp.port, maxRetriesPerRequest: 0 });
    const b = new Redis({ port: tp.port, maxRetriesPerRequest: 0 });
    try {
      await node.config('SET', 'busy-reply-threshold', '100');
      assert.equal(await a.call('FUNCTION', 'LOAD', "#!lua name=spinlib\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}"), 'spinlib');
      const sha = String(await a.script('LOAD', 'while true do end'));
      const runs: [string, () => Promise<unknown>][] = [
        ['EVAL', () => a.eval('while true do end', 1, key)],
        ['EVALSHA', () => a.evalsha(sha, 1, key)],
        ['EVAL_RO', () => a.call('EVAL_RO', 'while true do end', '1', key)],
        ['FCALL', () => a.call('FCALL', 'spin', '1', key)],
        ['FCALL_RO', () => a.call('FCALL_RO', 'spin', '1', key)],
      ];
      for (const [name, run] of runs) {
        const started = Date.now();
        const error = await run().then(
          () => assert.fail(`${name} of an endless script answered`),
          (err: Error) => err.message,
        );
        assert.match(error, /^ERR connection to backend lost: no reply for \d+ ms \(command timeout 800 ms\)$/, name);
        // Without the kill the node answers BUSY to everyone for ever (nothing else ends it here).
        let reply: unknown;
        for (let tries = 0; tries < 30; tries++) {
          try {
            reply = await b.set(key, name);
            break;
          } catch (err) {
            reply = (err as Error).message;
            await sleep(100);
          }
        }
        assert.equal(reply, 'OK', `${name}: the node serves again (${Date.now() - started} ms after the request)`);
      }
      assert.equal(await b.get(key), 'FCALL_RO');
      assert.ok((() => { try { process.kill(pid, 0); return true; } catch { return false; } })(), 'the same node process: no failover, no kill -9');
      const stats = String(await node.info('commandstats'));
      assert.match(stats, /cmdstat_script\|kill:calls=3,/, 'SCRIPT KILL once per timed-out script');
      assert.match(stats, /cmdstat_function\|kill:calls=2,/, 'FUNCTION KILL once per timed-out function');
    } finally {
      for (const c of [a, b, node]) c.disconnect();
      await tp.close();
    }
  });
});
