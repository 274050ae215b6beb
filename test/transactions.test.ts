/**
 * Transactions through the proxy (MULTI/EXEC/DISCARD, WATCH/UNWATCH) on the embedded
 * cluster, with stock clients: raw RESP for Redis's exact replies, redis-cli, ioredis,
 * node-redis and redis-py. Redis Cluster's rules as one node owning every slot applies
 * them: keys of two slots in one command → CROSSSLOT then EXECABORT; a command of another
 * slot → QUEUED then CROSSSLOT at EXEC. A client that leaves mid-transaction leaves
 * nothing on the nodes; a slot that moves or a master that dies mid-transaction costs that
 * transaction an error, never a half-applied EXEC, and the client goes on.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import calculateSlot from 'cluster-key-slot';
import { skipWithoutRedis } from './support/redis-binary.js';
import { ReplyScanner } from '../src/resp/reply-scanner.js';
import { ProtocolError } from '../src/resp/frame.js';
import { RawClient, startTestProxy, strictClient, type TestProxy } from './support/proxy.js';

const execFileP = promisify(execFile);
const skip = await skipWithoutRedis();

/** RESP request bytes for each command (arguments split on spaces). */
function resp(...commands: string[]): string {
  return commands
    .map((c) => {
      const args = c.split(' ');
      return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    })
    .join('');
}

/** Send commands on a fresh raw connection; resolves with exactly `expected` once received (or fails with what came). */
async function exchange(port: number, commands: string[], expected: string): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    c.write(resp(...commands));
    const got = await c.waitFor((d) => d.length >= Buffer.byteLength(expected), 5000).catch((err: Error) => err);
    assert.equal(got instanceof Error ? got.message : got.toString('latin1'), expected);
  } finally {
    c.close();
  }
}

/** Nodes' clients in a transaction (CLIENT LIST multi != -1) and their client count, over every master. */
async function nodeClients(tp: TestProxy): Promise<{ inMulti: number; total: number }> {
  const map = tp.proxy.server.router.slotMap;
  let inMulti = 0;
  let total = 0;
  for (const i of map.servingMasters()) {
    const n = await strictClient(map.masters[i].port, 3000, tp.proxy.cluster.nodePassword);
    const list = (await n.call('CLIENT', 'LIST', 'TYPE', 'NORMAL')) as string;
    n.disconnect();
    for (const line of list.trim().split('\n')) {
      total++;
      if (!/ multi=-1 /.test(line)) inMulti++;
    }
  }
  return { inMulti, total: total - map.servingMasters().length }; // less our own CLIENT LIST connections
}

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('transactions through the proxy', { skip }, () => {
  let tp: TestProxy;
  let redis: Redis;

  before(async () => {
    tp = await startTestProxy(['--masters', '3', '--replicas', '0']);
    redis = await strictClient(tp.port);
  });

  after(async () => {
    redis?.disconnect();
    await tp?.close();
  });

  test('MULTI/EXEC on keys of one slot: +OK, +QUEUED, the EXEC array; keyless commands join it', async () => {
    await exchange(tp.port, ['MULTI', 'SET {u1}a 1', 'SET {u1}b 2', 'INCR {u1}a', 'PING', 'ECHO hi', 'EXEC'], '+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*5\r\n+OK\r\n+OK\r\n:2\r\n+PONG\r\n$2\r\nhi\r\n');
    // Keyless commands before the first key, and a transaction with no key at all.
    await exchange(tp.port, ['MULTI', 'PING', 'GET {u1}b', 'EXEC'], '+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+PONG\r\n$1\r\n2\r\n');
    await exchange(tp.port, ['MULTI', 'ECHO x', 'EXEC', 'MULTI', 'EXEC'], '+OK\r\n+QUEUED\r\n*1\r\n$1\r\nx\r\n+OK\r\n*0\r\n');
  });

  test("redis-cli: MULTI/EXEC on {u1}a {u1}b works, on a b it gets CROSSSLOT (Redis Cluster's check at EXEC)", async () => {
    const run = async (input: string): Promise<string> => {
      const child = execFileP('redis-cli', ['-p', String(tp.port)], { timeout: 20_000 });
      child.child.stdin!.end(input);
      return (await child).stdout.trim();
    };
    assert.equal(await run('MULTI\nSET {u1}a x\nSET {u1}b y\nEXEC\n'), 'OK\nQUEUED\nQUEUED\nOK\nOK');
    assert.equal(await run('MULTI\nSET a 1\nSET b 1\nEXEC\n'), "OK\nQUEUED\nQUEUED\nCROSSSLOT Keys in request don't hash to the same slot");
    assert.equal(await redis.exists('a', 'b'), 0, 'nothing of the CROSSSLOT transaction ran');
  });

  test("Redis's errors: nested MULTI, EXEC/DISCARD without MULTI, WATCH inside MULTI, queuing errors → EXECABORT", async () => {
    await exchange(tp.port, ['EXEC', 'DISCARD', 'UNWATCH'], '-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n');
    await exchange(tp.port, ['MULTI', 'MULTI', 'WATCH {e}k', 'SET {e}k 1', 'EXEC'], '+OK\r\n-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n+QUEUED\r\n*1\r\n+OK\r\n');
    const abort = '-EXECABORT Transaction discarded because of previous errors.\r\n';
    await exchange(tp.port, ['MULTI', 'SET {e}k 2', 'NOSUCH x', 'EXEC'], `+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n${abort}`);
    await exchange(tp.port, ['MULTI', 'GET', 'SET {e}k 3', 'EXEC'], `+OK\r\n-ERR wrong number of arguments for 'get' command\r\n+QUEUED\r\n${abort}`);
    await exchange(tp.port, ['MULTI', 'SET {e}k 4', 'SET {e}k', 'EXEC'], `+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'set' command\r\n${abort}`);
    await exchange(tp.port, ['MULTI', 'SET {e}k 5', 'MSET a 1 b 2', 'EXEC'], `+OK\r\n+QUEUED\r\n-CROSSSLOT Keys in request don't hash to the same slot\r\n${abort}`);
    await exchange(tp.port, ['MULTI', 'SAVE', 'EXEC'], `+OK\r\n-ERR Command not allowed inside a transaction\r\n${abort}`);
    assert.equal(await redis.get('{e}k'), '1', 'no aborted transaction ran');
  });

  test('commands the proxy answers itself are refused inside MULTI, and the transaction is discarded', async () => {
    const c = await RawClient.connect(tp.port);
    c.write(resp('MULTI', 'SET {p}k 1', 'DBSIZE', 'INFO', 'EXEC', 'GET {p}k'));
    const data = (await c.waitFor((d) => d.toString().endsWith('$-1\r\n'))).toString();
    c.close();
    assert.match(data, /^\+OK\r\n\+QUEUED\r\n-ERR 'DBSIZE' inside MULTI is not supported by interface-hash-server[^\r]*\r\n-ERR 'INFO' inside MULTI[^\r]*\r\n-EXECABORT/);
  });

  test('CONFIG SET inside MULTI is queued and applied on every master right after EXEC, its reply (or Redis\'s error) in its place; not applied when EXEC aborts', async () => {
    await exchange(
      tp.port,
      ['MULTI', 'SET {c}k 1', 'CONFIG SET maxmemory bla', 'CONFIG SET slowlog-max-len 91', 'GET {c}k', 'EXEC'],
      '+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n+OK\r\n' +
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n+OK\r\n$1\r\n1\r\n",
    );
    const map = tp.proxy.server.router.slotMap;
    for (const i of map.servingMasters()) {
      const n = await strictClient(map.masters[i].port, 3000, tp.proxy.cluster.nodePassword);
      try {
        assert.deepEqual(await n.config('GET', 'slowlog-max-len'), ['slowlog-max-len', '91'], `master ${map.masters[i].port}`);
      } finally {
        n.disconnect();
      }
    }
    // A watched key changed: EXEC answers a null array and the CONFIG SET is not run.
    const other = await strictClient(tp.port);
    const c = await RawClient.connect(tp.port);
    try {
      c.write(resp('WATCH {c}k', 'MULTI', 'CONFIG SET slowlog-max-len 92'));
      await c.waitFor((d) => d.toString().split('\r\n').length >= 4);
      await other.set('{c}k', '2');
      c.write(resp('EXEC'));
      const data = (await c.waitFor((d) => d.toString().endsWith('*-1\r\n'))).toString();
      assert.equal(data, '+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n');
      assert.deepEqual(await other.config('GET', 'slowlog-max-len'), ['slowlog-max-len', '91']);
    } finally {
      c.close();
      other.disconnect();
    }
  });

  test('PUBLISH and SPUBLISH inside MULTI are published at EXEC and reach the proxy\'s subscribers', async () => {
    const sub = await RawClient.connect(tp.port);
    try {
      sub.write(resp('SUBSCRIBE txch'));
      await sub.waitFor((d) => d.toString('latin1').includes('txch\r\n:1\r\n'));
      sub.write(resp('SSUBSCRIBE {t}sh'));
      await sub.waitFor((d) => d.toString('latin1').includes('ssubscribe'));
      const c = await RawClient.connect(tp.port);
      c.write(resp('MULTI', 'SET {t}k 1', 'PUBLISH txch hello', 'SPUBLISH {t}sh there', 'EXEC'));
      const data = (await c.waitFor((d) => /\*3\r\n\+OK\r\n:\d+\r\n:\d+\r\n$/.test(d.toString('latin1')))).toString('latin1');
      c.close();
      assert.match(data, /^\+OK\r\n\+QUEUED\r\n\+QUEUED\r\n\+QUEUED\r\n\*3\r\n/);
      await sub.waitFor((d) => d.toString('latin1').includes('$5\r\nhello\r\n') && d.toString('latin1').includes('$5\r\nthere\r\n'), 10_000);
    } finally {
      sub.close();
    }
  });

  test('DISCARD drops the queue; RESET ends a transaction; BLPOP inside MULTI does not block', async () => {
    await exchange(tp.port, ['MULTI', 'SET {d}k 1', 'DISCARD', 'GET {d}k', 'EXEC'], '+OK\r\n+QUEUED\r\n+OK\r\n$-1\r\n-ERR EXEC without MULTI\r\n');
    await exchange(tp.port, ['MULTI', 'SET {d}k 1', 'RESET', 'GET {d}k', 'EXEC'], '+OK\r\n+QUEUED\r\n+RESET\r\n$-1\r\n-ERR EXEC without MULTI\r\n');
    await exchange(tp.port, ['MULTI', 'BLPOP {d}list 5', 'PING', 'EXEC'], '+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n*-1\r\n+PONG\r\n');
  });

  test('WATCH: EXEC aborted (null array) by another proxy client changing the key; not aborted otherwise; CROSSSLOT for two slots', async () => {
    const other = await strictClient(tp.port);
    const c = await strictClient(tp.port);
    try {
      await c.set('{w}k', '1');
      assert.equal(await c.watch('{w}k'), 'OK');
      await other.set('{w}k', 'changed');
      assert.equal(await c.multi().set('{w}k', 'mine').exec(), null);
      assert.equal(await c.get('{w}k'), 'changed');

      assert.equal(await c.watch('{w}k', '{w}j'), 'OK');
      await other.set('{w}unrelated', '1');
      assert.deepEqual(await c.multi().set('{w}k', 'mine').exec(), [[null, 'OK']]);
      assert.equal(await c.get('{w}k'), 'mine');

      // UNWATCH forgets the watch: the change no longer aborts.
      await c.watch('{w}k');
      await c.unwatch();
      await other.set('{w}k', 'again');
      assert.deepEqual(await c.multi().set('{w}k', 'mine2').exec(), [[null, 'OK']]);

      await assert.rejects(c.watch('a', 'b'), /CROSSSLOT Keys in request don't hash to the same slot/);
      await c.watch('a');
      await assert.rejects(c.watch('b'), /CROSSSLOT/);
      await c.unwatch();
    } finally {
      other.disconnect();
      c.disconnect();
    }
  });

  // Both protocols: node-redis 6 speaks RESP3 by default (`createClient({ RESP: 3 })` in the issue).
  for (const RESP of [2, 3] as const) test(`node-redis, RESP${RESP}: multi().exec(), and WATCH aborting with a WatchError`, async () => {
    const c = createClient({ RESP, socket: { host: '127.0.0.1', port: tp.port, reconnectStrategy: false } });
    const other = createClient({ RESP, socket: { host: '127.0.0.1', port: tp.port, reconnectStrategy: false } });
    c.on('error', () => {});
    other.on('error', () => {});
    await c.connect();
    await other.connect();
    try {
      assert.deepEqual(await c.multi().set('{nr}a', '1').incr('{nr}a').get('{nr}a').exec(), ['OK', 2, '2']);
      await c.watch('{nr}a');
      await other.set('{nr}a', '10');
      await assert.rejects(c.multi().incr('{nr}a').exec(), (err: Error) => err.constructor.name === 'WatchError');
      assert.equal(await c.get('{nr}a'), '10');
    } finally {
      await c.quit();
      await other.quit();
    }
  });

  test('redis-py: pipeline(transaction=True), and the WATCH/retry loop under a competing writer', async () => {
    const script = [
      'import sys, redis',
      'r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))',
      'p = r.pipeline(transaction=True)',
      'p.set("{py}a", 1); p.incr("{py}a"); p.get("{py}a")',
      'print(p.execute())',
      'other = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))',
      'aborts = 0',
      'for i in range(20):',
      '    with r.pipeline() as p:',
      '        while True:',
      '            try:',
      '                p.watch("{py}n")',
      '                v = int(p.get("{py}n") or 0)',
      '                if i % 4 == 0 and aborts < 5: other.incr("{py}other"); other.set("{py}n", v)',
      '                p.multi(); p.set("{py}n", v + 1); p.execute()',
      '                break',
      '            except redis.WatchError:',
      '                aborts += 1',
      'print(int(r.get("{py}n")), aborts)',
      'try:',
      '    p = r.pipeline(transaction=True); p.set("a", 1); p.set("b", 2); p.execute()',
      'except redis.ResponseError as e:',
      '    print(str(e))',
    ].join('\n');
    const { stdout } = await execFileP('/usr/bin/python3', ['-c', script, String(tp.port)], { timeout: 30_000 });
    const [first, loop, cross] = stdout.trim().split('\n');
    assert.equal(first, "[True, 2, b'2']");
    const [n, aborts] = loop.split(' ').map(Number);
    assert.equal(n, 20, 'every WATCH/MULTI increment counted once');
    assert.ok(aborts >= 1, 'the competing writer aborted some EXECs');
    assert.match(cross, /CROSSSLOT/);
  });

  test('a client that disconnects mid-MULTI or mid-WATCH leaves nothing on the nodes; new transactions work', async () => {
    const baseline = await nodeClients(tp);
    const clients: RawClient[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await RawClient.connect(tp.port);
      c.write(resp('MULTI', `SET {dc}k ${i}`));
      clients.push(c);
      const w = await RawClient.connect(tp.port);
      w.write(resp('WATCH {dc}k', 'GET {dc}k'));
      clients.push(w);
    }
    for (const c of clients) await c.waitFor((d) => d.toString().split('\r\n').length >= 3);
    const during = await nodeClients(tp);
    assert.ok(during.inMulti >= 5, `the nodes have the 5 transactions under way (${during.inMulti})`);
    for (const c of clients) c.close();
    await until('the nodes to drop the abandoned transactions', 5000, async () => {
      const now = await nodeClients(tp);
      return now.inMulti === 0 && now.total <= baseline.total;
    });
    assert.equal(await redis.get('{dc}k'), null, 'no abandoned transaction ran');
    assert.deepEqual(await redis.multi().set('{dc}k', 'x').get('{dc}k').exec(), [
      [null, 'OK'],
      [null, 'x'],
    ]);
  });

  /** Connections the masters accepted so far (INFO stats total_connections_received, summed). */
  async function connectionsReceived(): Promise<number> {
    const map = tp.proxy.server.router.slotMap;
    let sum = 0;
    for (const i of map.servingMasters()) {
      const n = await strictClient(map.masters[i].port, 3000, tp.proxy.cluster.nodePassword);
      sum += Number(/total_connections_received:(\d+)/.exec(await n.info('stats'))![1]);
      n.disconnect();
    }
    return sum;
  }

  test('many concurrent transactions: 50 clients × 200 MULTI/INCR/INCR/EXEC give exact counts, on reused connections', async (t) => {
    const CLIENTS = 50;
    const ROUNDS = 200;
    const connectionsBefore = await connectionsReceived();
    const cs = await Promise.all(Array.from({ length: CLIENTS }, () => strictClient(tp.port, 10_000)));
    const started = performance.now();
    try {
      await Promise.all(
        cs.map(async (c, i) => {
          for (let r = 0; r < ROUNDS; r++) {
            const replies = await c.multi().incr('{cc}n').incr(`{cc}c${i % 5}`).exec();
            assert.equal(replies?.length, 2);
            for (const [err] of replies!) assert.equal(err, null);
          }
        }),
      );
    } finally {
      for (const c of cs) c.disconnect();
    }
    const ms = performance.now() - started;
    const opened = (await connectionsReceived()) - connectionsBefore;
    t.diagnostic(`${CLIENTS * ROUNDS} transactions in ${ms.toFixed(0)} ms (${((CLIENTS * ROUNDS) / (ms / 1000)).toFixed(0)}/s), ${opened} backend connections opened`);
    // Pinned connections go back to the pool and are reused (a connection per transaction would be 10 000).
    assert.ok(opened < 2000, `${opened} backend connections opened for ${CLIENTS * ROUNDS} transactions`);
    assert.equal(await redis.get('{cc}n'), String(CLIENTS * ROUNDS));
    for (let j = 0; j < 5; j++) assert.equal(await redis.get(`{cc}c${j}`), String((CLIENTS / 5) * ROUNDS));
  });
});

describe('transactions while the cluster changes (--ack replica)', { skip }, () => {
  let tp: TestProxy;

  before(async () => {
    tp = await startTestProxy(['--masters', '2', '--replicas', '1', '--slot-map-refresh', '60000', '--ack', 'replica']);
  });

  after(async () => {
    await tp?.close();
  });

  test('--ack replica: a transaction is acknowledged as one write, at EXEC (no WAIT inside MULTI)', async () => {
    await exchange(tp.port, ['MULTI', 'SET {ack}a 1', 'INCR {ack}a', 'GET {ack}a', 'EXEC', 'GET {ack}a'], '+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n$1\r\n2\r\n');
    const c = await strictClient(tp.port);
    try {
      await c.watch('{ack}a');
      await c.set('{ack}a', '5'); // its own write, on the watched slot's connection, acknowledged there
      assert.equal(await c.multi().incr('{ack}a').exec(), null);
      assert.deepEqual(await c.multi().incr('{ack}a').exec(), [[null, 6]]);
    } finally {
      c.disconnect();
    }
  });

  /** A hash tag whose slot master `index` (0 or 1 in slot order) serves. */
  function tagOn(index: number): { tag: string; slot: number } {
    for (let i = 0; ; i++) {
      const tag = `mv${i}`;
      const slot = calculateSlot(tag);
      if ((slot < 8192) === (index === 0)) return { tag, slot };
    }
  }

  /** A client with a transaction under way (MULTI, SET {tag}a queued) on master `index`, and that master's process id. */
  async function queuedOnMaster(index: number): Promise<{ c: RawClient; tag: string; pid: number }> {
    const { tag, slot } = tagOn(index);
    const map = tp.proxy.server.router.slotMap;
    const master = map.masters[map.slotToMaster[slot]];
    const node = tp.proxy.cluster.topology.nodes.find((n) => n.port === master.port);
    assert.ok(node, 'the master is one of the proxy nodes');
    const c = await RawClient.connect(tp.port);
    c.write(resp('MULTI', `SET {${tag}}a 1`));
    await c.waitFor((d) => d.toString() === '+OK\r\n+QUEUED\r\n');
    return { c, tag, pid: Number(node.handle) };
  }

  test('a slot moved while queuing: that command gets a clear error, EXEC answers EXECABORT, nothing half-applied', async () => {
    const map = tp.proxy.server.router.slotMap;
    const password = tp.proxy.cluster.nodePassword;
    const [m0, m1] = map.servingMasters().map((i) => map.masters[i]);
    const n0 = await strictClient(m0.port, 3000, password);
    const n1 = await strictClient(m1.port, 3000, password);
    const { tag, slot } = tagOn(0);
    const c = await RawClient.connect(tp.port);
    try {
      c.write(resp('MULTI', `SET {${tag}}a 1`));
      await c.waitFor((d) => d.toString() === '+OK\r\n+QUEUED\r\n');
      // The (empty) slot moves to the other master, the way redis-cli --cluster reshard ends.
      await n1.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', m0.nodeId);
      await n0.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', m1.nodeId);
      await n1.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', m1.nodeId);
      await n0.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', m1.nodeId);
      c.write(resp(`SET {${tag}}b 2`, 'EXEC', `GET {${tag}}a`, `SET {${tag}}c 3`));
      const data = (await c.waitFor((d) => d.toString().endsWith('+OK\r\n') && d.toString().includes('$-1'))).toString();
      assert.match(data, new RegExp(`^\\+OK\\r\\n\\+QUEUED\\r\\n-ERR transaction aborted because the cluster changed meanwhile \\(MOVED ${slot}\\), try it again\\r\\n-EXECABORT Transaction discarded because of previous errors\\.\\r\\n\\$-1\\r\\n\\+OK\\r\\n$`));
      // The client goes on, and a transaction on the slot's new master works.
      c.write(resp('MULTI', `INCR {${tag}}n`, 'EXEC'));
      await c.waitFor((d) => d.toString().endsWith('+OK\r\n+QUEUED\r\n*1\r\n:1\r\n'));
    } finally {
      c.close();
      n0.disconnect();
      n1.disconnect();
    }
  });

  test('the master dies mid-transaction: the client gets an error, EXECABORT, and its session works after the failover', async (t) => {
    const { c, tag, pid } = await queuedOnMaster(1);
    try {
      process.kill(pid, 'SIGKILL');
      await sleep(200);
      c.write(resp(`SET {${tag}}b 2`, 'EXEC'));
      const data = (await c.waitFor((d) => d.toString().includes('EXECABORT'))).toString();
      assert.match(data, /^\+OK\r\n\+QUEUED\r\n-ERR [^\r]*\r\n-EXECABORT Transaction discarded because of previous errors\.\r\n$/);
      t.diagnostic(`the queued command after the kill got: ${data.split('\r\n')[2]}`);
      const killedAt = Date.now();
      let attempts = 0;
      // After the failover, the same client runs a transaction on the slot again.
      const scanner = new ReplyScanner();
      scanner.feed(Buffer.from(data));
      while (scanner.next() !== null);
      let seen = c.received().length;
      await until('a transaction on the failed-over slot to succeed', 20_000, async () => {
        attempts++;
        c.write(resp('MULTI', `SET {${tag}}a after`, `GET {${tag}}a`, 'EXEC'));
        const replies: Buffer[] = [];
        await c.waitFor((d) => {
          scanner.feed(d.subarray(seen));
          seen = d.length;
          for (let r = scanner.next(); r !== null; r = scanner.next()) if (!(r instanceof ProtocolError)) replies.push(r);
          return replies.length >= 4;
        }, 10_000);
        return replies[3].toString() === '*2\r\n+OK\r\n$5\r\nafter\r\n';
      });
      t.diagnostic(`a transaction on the slot succeeded again ${Date.now() - killedAt} ms after the kill, at attempt ${attempts}`);
    } finally {
      c.close();
    }
  });

  test('EXEC in flight to a master that stops (SIGSTOP): the client gets an error once the proxy fences the master, not a hang', async (t) => {
    const { c, pid } = await queuedOnMaster(0);
    try {
      process.kill(pid, 'SIGSTOP');
      const sent = Date.now();
      c.write(resp('EXEC'));
      const data = (await c.waitFor((d) => d.toString().split('\r\n').length > 3, 30_000)).toString();
      t.diagnostic(`EXEC answered ${Date.now() - sent} ms after the stop: ${data.split('\r\n')[2]}`);
      assert.match(data, /^\+OK\r\n\+QUEUED\r\n-ERR [^\r]*\r\n$/);
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone: the proxy replaced it */
      }
      c.close();
    }
  });
});

describe('transactions and --max-blocking-clients', { skip }, () => {
  let tp: TestProxy;

  before(async () => {
    tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--max-blocking-clients', '1']);
  });

  after(async () => {
    await tp?.close();
  });

  test('a transaction holds one of the connections; past the bound the next gets an error and EXECABORT; the place is reused', async () => {
    const first = await RawClient.connect(tp.port);
    const second = await RawClient.connect(tp.port);
    try {
      first.write(resp('MULTI', 'SET {mb}a 1'));
      await first.waitFor((d) => d.toString() === '+OK\r\n+QUEUED\r\n');
      second.write(resp('MULTI', 'SET {mb}b 1', 'EXEC'));
      await second.waitFor((d) =>
        d.toString() === '+OK\r\n-ERR max number of clients in a transaction or blocked reached (--max-blocking-clients 1)\r\n-EXECABORT Transaction discarded because of previous errors.\r\n',
      );
      first.write(resp('EXEC'));
      await first.waitFor((d) => d.toString().endsWith('*1\r\n+OK\r\n'));
      // EXEC gave the connection back: the other client's next transaction gets it.
      second.write(resp('MULTI', 'SET {mb}b 2', 'EXEC'));
      await second.waitFor((d) => d.toString().endsWith('+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n'));
    } finally {
      first.close();
      second.close();
    }
  });
});
