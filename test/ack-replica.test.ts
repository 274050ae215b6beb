/**
 * `--ack replica` (issue 6, part 8): a write is acknowledged only once a replica has it.
 *
 * Against real redis-server processes:
 *   - which requests count as writes (write-kind.ts);
 *   - one backend connection with an AckPolicy and a node without a replica: a write's
 *     reply waits for WAIT and becomes -NOREPLICAS when no replica confirms, a read behind
 *     it is answered at once, an error passes at once, writes flushed while a WAIT waits
 *     share the next one, a write the cluster redirects is acknowledged where it lands, a
 *     connection lost during the WAIT fails the write with the connection's own error;
 *   - a proxy over a real cluster (1 master, 1 replica): the replica has every write when
 *     the client sees OK; a proxy with --ack master over the same nodes sends no WAIT; a
 *     pipeline of 10 000 writes costs far fewer WAITs than writes; mixed reads and writes
 *     keep their order; with the replica stopped (SIGSTOP) writes of every shape (SET, a
 *     split MSET, EVAL, a blocking pop) get -NOREPLICAS after the ack timeout while reads
 *     work, and --ack master acknowledges before the replica has the write;
 *   - refused at start: --replicas 0, an ack timeout past the command timeout, a data dir
 *     whose master has no replica.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { parseConfig } from '../src/config.js';
import { BackendConnection, type ClusterErrorHandler } from '../src/backend/connection.js';
import { AckPolicy } from '../src/backend/replica-ack.js';
import { BLOCKING_WRITE, NOT_WRITE, WRITE, writeKind } from '../src/commands/write-kind.js';
import { encodeCommand } from '../src/resp/encode.js';
import { silentLogger } from '../src/log.js';
import { createRuntime } from '../src/net/runtime.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { freePort, startRedisServer } from './support/redis-server.js';
import { skipWithoutRedis } from './support/redis-binary.js';

const skip = await skipWithoutRedis();

/** A node client that sees every error (no retries, no offline queue). */
function client(port: number, password?: string): Redis {
  const c = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: 0, enableOfflineQueue: true, retryStrategy: () => null });
  c.on('error', () => {});
  return c;
}

/** The reply text of a command that may fail (ioredis rejects on an error reply). */
async function replyOf(p: Promise<unknown>): Promise<string> {
  try {
    return String(await p);
  } catch (err) {
    return `-${(err as Error).message}`;
  }
}

describe('which requests are writes', () => {
  const kind = (...args: string[]): number => writeKind(encodeCommand(args));
  test('write-flagged commands, script runners and blocking pops; reads are not', () => {
    assert.equal(kind('SET', 'k', 'v'), WRITE);
    assert.equal(kind('set', 'k', 'v'), WRITE);
    assert.equal(kind('DEL', 'a', 'b'), WRITE);
    assert.equal(kind('FLUSHALL'), WRITE);
    assert.equal(kind('EVAL', 'return 1', '0'), WRITE);
    assert.equal(kind('EVALSHA', 'abc', '0'), WRITE);
    assert.equal(kind('FCALL', 'f', '0'), WRITE);
    assert.equal(kind('EXEC'), WRITE, "a transaction's queued writes run at EXEC");
    assert.equal(kind('FUNCTION', 'LOAD', 'x'), WRITE);
    assert.equal(kind('BLPOP', 'q', '0'), BLOCKING_WRITE);
    assert.equal(kind('BLMOVE', 'a', 'b', 'LEFT', 'LEFT', '0'), BLOCKING_WRITE);
    assert.equal(kind('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', 's', '>'), BLOCKING_WRITE);
    assert.equal(kind('GET', 'k'), NOT_WRITE);
    assert.equal(kind('EVAL_RO', 'return 1', '0'), NOT_WRITE);
    assert.equal(kind('FCALL_RO', 'f', '0'), NOT_WRITE);
    assert.equal(kind('FUNCTION', 'LIST'), NOT_WRITE);
    assert.equal(kind('XREAD', 'BLOCK', '0', 'STREAMS', 's', '$'), NOT_WRITE);
    assert.equal(kind('ASKING'), NOT_WRITE);
    assert.equal(kind('NOSUCHCOMMAND'), NOT_WRITE);
    // Bytes that are not a RESP array count as a write: waiting is the safe side.
    assert.equal(writeKind(Buffer.from('garbage')), WRITE);
  });
});

describe('a backend connection with an AckPolicy (real redis-servers)', { skip }, () => {
  function send(conn: BackendConnection, args: string[], log?: string[]): Promise<string> {
    return new Promise((resolve) =>
      conn.send(encodeCommand(args), {
        deliver: (reply) => {
          log?.push(args[0]);
          resolve(reply.toString('latin1'));
        },
      }),
    );
  }

  function connect(port: number, ackTimeoutMs: number): BackendConnection {
    return new BackendConnection(
      { id: 'n0', host: '127.0.0.1', port, password: '' },
      { connectTimeoutMs: 1000, commandTimeoutMs: 10_000, reconnect: false, log: silentLogger(), runtime: createRuntime(), ack: new AckPolicy(ackTimeoutMs) },
    );
  }

  test('a write waits for WAIT and gets -NOREPLICAS when no replica confirms; a read behind it does not wait; an error passes at once', async () => {
    const server = await startRedisServer();
    const conn = connect(server.port, 400);
    const direct = client(server.port);
    try {
      await direct.set('text', 'abc');
      const order: string[] = [];
      const start = Date.now();
      // One batch: SET (held), GET (a read), INCR on a string (an error), WAIT appended.
      const set = send(conn, ['SET', 'k', 'v'], order);
      const get = send(conn, ['GET', 'text'], order);
      const incr = send(conn, ['INCR', 'text'], order);
      assert.equal(await get, '$3\r\nabc\r\n');
      assert.match(await incr, /^-ERR value is not an integer/);
      const readAfter = Date.now() - start;
      const setReply = await set;
      const setAfter = Date.now() - start;
      assert.deepEqual(order, ['GET', 'INCR', 'SET'], 'the read and the error are not held behind the write');
      assert.match(setReply, /^-NOREPLICAS Not enough good replicas to write: .*within 400 ms.*may have applied it\r\n$/);
      assert.ok(readAfter < 300, `the read was answered after ${readAfter} ms, not held for the WAIT`);
      assert.ok(setAfter >= 350, `the write failed after ${setAfter} ms, before the ack timeout`);
      // "May have applied it": it did.
      assert.equal(await direct.get('k'), 'v');
    } finally {
      conn.close();
      direct.disconnect();
      await server.stop();
    }
  });

  test('one WAIT in flight per connection: writes flushed while it waits share the next one', async () => {
    const server = await startRedisServer();
    const conn = connect(server.port, 300);
    const direct = client(server.port);
    try {
      assert.equal(await send(conn, ['PING']), '+PONG\r\n');
      await direct.config('RESETSTAT');
      // Three flushes while the first WAIT waits (no replica: each WAIT runs its full 300 ms).
      const replies = [send(conn, ['SET', 'a', '1'])];
      await sleep(50);
      replies.push(send(conn, ['SET', 'b', '2']));
      await sleep(50);
      replies.push(send(conn, ['SET', 'c', '3']));
      for (const r of await Promise.all(replies)) assert.match(r, /^-NOREPLICAS /);
      const stats = String(await direct.info('commandstats'));
      assert.match(stats, /^cmdstat_wait:calls=2,/m, 'the second and third writes shared one WAIT');
    } finally {
      conn.close();
      direct.disconnect();
      await server.stop();
    }
  });

  test('a write the cluster redirects leaves its batch: acknowledged where it is applied, whatever the first node\'s WAIT says', async () => {
    // A: a cluster node serving no slot (every key gets -CLUSTERDOWN) and without replica,
    // so its WAIT fails; B: a master whose replica C acknowledges.
    const a = await startRedisServer(['--cluster-enabled', 'yes']);
    const b = await startRedisServer(['--repl-diskless-sync-delay', '0']);
    const c = await startRedisServer(['--replicaof', '127.0.0.1', '0']);
    const replicaOfB = client(c.port);
    const connB = connect(b.port, 2000);
    const redirects: string[] = [];
    // The router's part, for this test: every cluster error goes to B.
    const toB: ClusterErrorHandler = {
      onClusterError(reply, raw, sink) {
        redirects.push(reply.toString('latin1').trim());
        connB.send(raw, sink);
        return true;
      },
      onConnectionLost() {},
      onConnectionReady() {},
    };
    const connA = new BackendConnection(
      { id: 'a', host: '127.0.0.1', port: a.port, password: '' },
      { connectTimeoutMs: 1000, commandTimeoutMs: 10_000, reconnect: false, log: silentLogger(), runtime: createRuntime(), ack: new AckPolicy(1000), clusterErrors: toB },
    );
    try {
      await replicaOfB.replicaof('127.0.0.1', String(b.port));
      for (let i = 0; (await replicaOfB.info('replication')).includes('master_link_status:up') === false; i++) {
        assert.ok(i < 100, 'C replicates B');
        await sleep(50);
      }
      assert.equal(await send(connA, ['SET', 'k', 'v']), '+OK\r\n');
      assert.match(redirects[0] ?? '', /^-CLUSTERDOWN/);
      assert.equal(await replicaOfB.get('k'), 'v', 'acknowledged by B\'s replica');
    } finally {
      connA.close();
      connB.close();
      replicaOfB.disconnect();
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  });

  test('a connection lost while its WAIT waits fails the held write with the connection error, as any request in flight', async () => {
    const server = await startRedisServer();
    const conn = connect(server.port, 5000);
    const admin = client(server.port);
    try {
      assert.equal(await send(conn, ['PING']), '+PONG\r\n'); // connected; PING is not held
      const set = send(conn, ['SET', 'k', 'v']);
      await sleep(200); // SET answered, WAIT blocked (no replica)
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal'); // every client but this one
      assert.match(await set, /^-ERR connection to backend lost/);
    } finally {
      conn.close();
      admin.disconnect();
      await server.stop();
    }
  });
});

describe('--ack replica through the proxy (1 master, 1 replica, a real cluster)', { skip }, () => {
  const ACK_TIMEOUT = 500;
  let tp: TestProxy;
  /** A --ack master proxy over the same nodes (static provider): the contrast. */
  let tpMaster: TestProxy;
  let password: string;
  let masterPort: number;
  let replicaPort: number;
  let replicaPid: number;
  let viaReplicaAck: Redis;
  let viaMasterAck: Redis;
  let master: Redis;
  let replica: Redis;

  before(async () => {
    tp = await startTestProxy(['--masters', '1', '--replicas', '1', '--ack', 'replica', '--ack-timeout', String(ACK_TIMEOUT), '--no-auto-failover']);
    password = tp.proxy.cluster.nodePassword;
    const nodes = tp.proxy.cluster.topology.nodes;
    const m = nodes.find((n) => n.formedAsReplicaOf === undefined)!;
    const r = nodes.find((n) => n.formedAsReplicaOf !== undefined)!;
    masterPort = m.port;
    replicaPort = r.port;
    replicaPid = Number(r.handle);
    tpMaster = await startTestProxy(['--provider', 'static', '--node', `127.0.0.1:${masterPort}`, '--node-password', password]);
    viaReplicaAck = client(tp.port);
    viaMasterAck = client(tpMaster.port);
    master = client(masterPort, password);
    replica = client(replicaPort, password);
    await replica.call('READONLY'); // a cluster replica answers reads only after READONLY
  });

  after(async () => {
    for (const c of [viaReplicaAck, viaMasterAck, master, replica]) c?.disconnect();
    if (replicaPid) {
      try {
        process.kill(replicaPid, 'SIGCONT');
      } catch {
        /* already gone */
      }
    }
    await tpMaster?.close();
    await tp?.close();
  });

  async function commandCalls(name: string): Promise<number> {
    const stats = String(await master.info('commandstats'));
    const m = new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(stats);
    return m === null ? 0 : Number(m[1]);
  }

  /** The replica's acknowledged offset and the master's, from the master's INFO replication. */
  async function offsets(): Promise<{ master: number; replica: number }> {
    const info = String(await master.info('replication'));
    return {
      master: Number(/^master_repl_offset:(\d+)/m.exec(info)![1]),
      replica: Number(/^slave0:.*offset=(\d+)/m.exec(info)?.[1] ?? -1),
    };
  }

  test('the replica has every write when the client sees OK; a --ack master proxy sends no WAIT', async (t) => {
    await master.config('RESETSTAT');
    for (let i = 0; i < 300; i++) {
      assert.equal(await viaReplicaAck.set(`seen:${i}`, `v${i}`), 'OK');
      assert.equal(await replica.get(`seen:${i}`), `v${i}`, `write ${i} is on the replica as soon as it is acknowledged`);
    }
    assert.ok((await commandCalls('wait')) >= 300, 'one WAIT per write when each is alone in its batch');

    await master.config('RESETSTAT');
    let lagging = 0;
    for (let i = 0; i < 300; i++) {
      assert.equal(await viaMasterAck.set(`async:${i}`, `v${i}`), 'OK');
      if ((await replica.get(`async:${i}`)) !== `v${i}`) lagging++;
    }
    assert.equal(await commandCalls('wait'), 0, '--ack master sends no WAIT');
    assert.equal(await commandCalls('set'), 300);
    t.diagnostic(`--ack master: ${lagging}/300 writes were not on the replica yet when acknowledged`);
  });

  test('a pipeline of 10 000 writes sends far fewer WAITs than writes', async () => {
    await master.config('RESETSTAT');
    const p = viaReplicaAck.pipeline();
    for (let i = 0; i < 10_000; i++) p.set(`pipe:${i}`, String(i));
    const replies = await p.exec();
    assert.ok(replies !== null);
    assert.equal(replies.filter(([err, v]) => err === null && v === 'OK').length, 10_000);
    const sets = await commandCalls('set');
    const waits = await commandCalls('wait');
    assert.equal(sets, 10_000);
    assert.ok(waits >= 1 && waits <= 500, `${waits} WAITs for ${sets} writes`);
    assert.equal(await replica.get('pipe:9999'), '9999');
  });

  test('mixed reads and writes keep their order', async () => {
    const p = viaReplicaAck.pipeline();
    const expected: unknown[] = [];
    for (let i = 0; i < 2000; i++) {
      const key = `mix:{${i % 17}}`;
      p.set(key, String(i));
      expected.push('OK');
      p.get(key);
      expected.push(String(i));
      p.incr('mix:counter');
      expected.push(i + 1);
      p.get('mix:counter');
      expected.push(String(i + 1));
      if (i % 100 === 0) {
        p.mset(`mix:a${i}`, 'x', `mix:b${i}`, 'y'); // split across slots
        expected.push('OK');
        p.mget(`mix:a${i}`, `mix:b${i}`, key);
        expected.push(['x', 'y', String(i)]);
      }
    }
    const replies = await p.exec();
    assert.ok(replies !== null);
    assert.deepEqual(
      replies.map(([err, v]) => err ?? v),
      expected,
    );
  });

  test('with the replica stopped, writes of every shape get -NOREPLICAS after the ack timeout, reads work; --ack master acknowledges before the replica has it', async () => {
    assert.notEqual(calculateSlot('stop:a'), calculateSlot('stop:b'), 'the MSET below is split');
    assert.equal(await viaReplicaAck.set('stop:before', 'old'), 'OK');
    await viaReplicaAck.rpush('stop:list', 'e1'); // acknowledged: the replica has it
    const blocked = client(tp.port);
    // The replica acknowledges the master's whole offset (it reports once a second): from
    // here on only the pop below and the push that serves it move the master's offset, so
    // a WAIT that did not cover the pop would count the replica (see the PING in replica-ack.ts).
    const settle = Date.now() + 5000;
    for (let o = await offsets(); o.replica !== o.master; o = await offsets()) {
      assert.ok(Date.now() < settle, `the replica stays behind: ${JSON.stringify(o)}`);
      await sleep(50);
    }
    process.kill(replicaPid, 'SIGSTOP');
    try {
      // A blocking pop served while it waits (the element comes from the --ack master
      // proxy, acknowledged at once): the pop is a write, held for the replica too.
      const popStart = Date.now();
      const pop = replyOf(blocked.blpop('stop:queue', 5));
      await sleep(200);
      assert.equal(await viaMasterAck.rpush('stop:queue', 'job'), 1);
      assert.match(await pop, /^-NOREPLICAS /, 'a blocking pop served after it blocked waits for the replica');
      assert.ok(Date.now() - popStart >= 200 + ACK_TIMEOUT - 50);

      const start = Date.now();
      const set = await replyOf(viaReplicaAck.set('stop:k', 'v'));
      const elapsed = Date.now() - start;
      assert.match(set, /^-NOREPLICAS Not enough good replicas to write: no replica acknowledged it within 500 ms \(--ack replica\); the master may have applied it$/);
      assert.ok(elapsed >= ACK_TIMEOUT - 50 && elapsed < ACK_TIMEOUT + 5000, `failed after ${elapsed} ms`);
      assert.equal(await master.get('stop:k'), 'v', 'the master did apply it');

      // Reads still work (through the --ack replica proxy, on the same master).
      assert.equal(await viaReplicaAck.get('stop:before'), 'old');
      assert.deepEqual(await viaReplicaAck.mget('stop:a', 'stop:b', 'stop:before'), [null, null, 'old']);

      // Split multi-key writes, scripts and pops of existing elements wait too.
      assert.match(await replyOf(viaReplicaAck.mset('stop:a', '1', 'stop:b', '2')), /^-NOREPLICAS /);
      assert.match(await replyOf(viaReplicaAck.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, 'stop:script', 'x')), /^-NOREPLICAS /);
      assert.match(await replyOf(viaReplicaAck.blpop('stop:list', 1)), /^-NOREPLICAS /);
      assert.equal(await master.llen('stop:list'), 0, 'the pop happened on the master');

      // --ack master: OK at once, while the replica is behind.
      const quick = Date.now();
      assert.equal(await viaMasterAck.set('stop:async', 'v'), 'OK');
      assert.ok(Date.now() - quick < ACK_TIMEOUT, 'not held');
      const o = await offsets();
      assert.ok(o.replica < o.master, `the replica acknowledged offset ${o.replica} < the master's ${o.master}: OK came first`);
    } finally {
      process.kill(replicaPid, 'SIGCONT');
      blocked.disconnect();
    }
    // Back: writes are acknowledged again once the replica catches up.
    const deadline = Date.now() + 20_000;
    let reply = '';
    while (Date.now() < deadline && reply !== 'OK') reply = await replyOf(viaReplicaAck.set('stop:after', 'v'));
    assert.equal(reply, 'OK');
    assert.equal(await replica.get('stop:after'), 'v');
  });
});

describe('--ack replica refuses to start without replicas', { skip }, () => {
  test('--replicas 0 and an ack timeout past the command timeout are refused with one line', () => {
    assert.throws(() => parseConfig(['--ack', 'replica', '--replicas', '0']), /^Error: --ack replica needs at least one replica per master; --replicas 0 gives none$/);
    assert.throws(() => parseConfig(['--ack', 'replica', '--ack-timeout', '10000']), /--ack-timeout \(10000 ms\) must be less than --command-timeout \(10000 ms\)/);
    assert.throws(() => parseConfig(['--ack-timeout', '0']), /--ack-timeout must be a positive integer/);
    assert.equal(parseConfig([]).ack, 'master');
    assert.equal(parseConfig([]).ackTimeout, 1000);
  });

  test('a data dir whose master has no replica is refused, and its nodes are stopped again', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ihs-ack-'));
    try {
      const first = await startTestProxy(['--masters', '1', '--replicas', '0'], dataDir);
      const port = first.proxy.cluster.topology.nodes[0].port;
      await first.close();
      await assert.rejects(startTestProxy(['--ack', 'replica'], dataDir), /^Error: --ack replica needs at least one replica per master; master 127\.0\.0\.1:\d+ has none$/);
      const probe = client(port);
      await assert.rejects(probe.ping(), 'the node started for the refused proxy was stopped');
      probe.disconnect();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('--ack replica and membership changes (issue 13 part 4)', { skip }, () => {
  test('REMOVE of a master\'s last replica is refused (RESP and HTTP); with a second replica it goes; an external master is added empty until it has a replica', { timeout: 120_000 }, async () => {
    const httpPort = await freePort();
    // Started first: a proxy started before a throw here would be left running.
    const external = await startRedisServer(['--cluster-enabled', 'yes']);
    const tp = await startTestProxy(['--masters', '1', '--replicas', '1', '--ack', 'replica', '--http-port', String(httpPort)]).catch(async (err: unknown) => {
      await external.stop();
      throw err;
    });
    const c = client(tp.port);
    try {
      await assert.rejects(
        c.call('REMOVE', 'm0r0'),
        /^ReplyError: ERR m0r0 is the last replica of m0, and --ack replica needs one per master .*: ADD SLAVE m0 first, then REMOVE m0r0$/,
      );
      const viaHttp = await fetch(`http://127.0.0.1:${httpPort}/api/v1/clients/m0r0`, { method: 'DELETE' });
      assert.equal(viaHttp.status, 409);
      assert.match(((await viaHttp.json()) as { error: string }).error, /m0r0 is the last replica of m0/);
      assert.deepEqual(tp.proxy.cluster.topology.nodes.map((n) => n.id), ['m0', 'm0r0'], 'nothing changed');
      assert.equal(await c.set('k', 'v'), 'OK', 'writes are still acknowledged by the replica');

      assert.match(String(await c.call('ADD', 'SLAVE', 'm0')), /^m0r1 127\.0\.0\.1:\d+ is a replica of m0, in sync$/);
      assert.match(String(await c.call('REMOVE', 'm0r0')), /^m0r0 removed/);
      assert.equal(await c.set('k', 'v2'), 'OK', 'the other replica acknowledges');

      // An external master comes without a replica: slots on it would fail every write.
      const added = String(await c.call('ADD', 'MASTER', `127.0.0.1:${external.port}`));
      assert.match(added, /^m1 127\.0\.0\.1:\d+ is a master with no slots yet: --ack replica needs a replica first \(ADD SLAVE m1 <host:port>\), then REBALANCE$/);
      assert.equal(String(await c.call('REBALANCE')), 'the slots were already even: nothing moved', 'REBALANCE leaves it out');
      const started = Date.now();
      assert.equal(await c.set('k', 'v3'), 'OK');
      assert.ok(Date.now() - started < 500, 'no write waits for a missing replica');
      assert.deepEqual(tp.proxy.cluster.operations, []);
    } finally {
      c.disconnect();
      await tp.close();
      await external.stop();
    }
  });
});
