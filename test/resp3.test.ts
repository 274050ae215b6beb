/**
 * RESP3 through the proxy: HELLO 3 switches a client to RESP3 for real (the nodes answer it
 * on RESP3 backend connections), HELLO 2 and RESET switch back, the proxy's own replies take
 * RESP3 shapes, and RESP2 clients on the same keys are not affected. Checked with stock
 * clients (redis-cli -3, node-redis with RESP: 3, ioredis) and byte for byte against a node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Redis } from 'ioredis';
import { createClient, RESP_TYPES } from 'redis';
import calculateSlot from 'cluster-key-slot';
import { redisCli, startTestProxy, type TestProxy } from './support/proxy.js';
import { ReplyScanner } from '../src/resp/reply-scanner.js';
import { ProtocolError } from '../src/resp/frame.js';
import {
  encodeBigNumber,
  encodeBool,
  encodeCommand,
  encodeDouble,
  encodeMap,
  encodeNull,
  encodeNullArray,
  encodeSet,
  encodeVerbatim,
} from '../src/resp/encode.js';

let tp: TestProxy;
let redis: Redis;

/** A raw connection that sends commands and reads back whole reply frames, byte-exact. */
class FrameClient {
  private readonly scanner = new ReplyScanner();
  private readonly frames: Buffer[] = [];
  private waiter: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.scanner.feed(chunk);
      for (let f = this.scanner.next(); f !== null; f = this.scanner.next()) {
        if (f instanceof ProtocolError) throw f;
        this.frames.push(Buffer.from(f));
      }
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<FrameClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new FrameClient(s)));
      s.once('error', reject);
    });
  }

  /** Send the commands in one write; resolve with their replies (one frame each) as text. */
  async call(...commands: (string | number)[][]): Promise<string[]> {
    this.socket.write(Buffer.concat(commands.map((c) => encodeCommand(c.map(String)))));
    const deadline = Date.now() + 10_000;
    while (this.frames.length < commands.length) {
      if (Date.now() > deadline) throw new Error(`timed out; frames so far: ${JSON.stringify(this.frames.map(String))}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
    this.waiter = null;
    return this.frames.splice(0, commands.length).map((f) => f.toString('latin1'));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The address of the master serving `key`'s slot. */
function masterOf(key: string): { host: string; port: number } {
  const map = tp.proxy.server.router.slotMap;
  const m = map.masters[map.slotToMaster[calculateSlot(key)]];
  return { host: m.host, port: m.port };
}

/** A raw RESP3 connection straight to the node serving `key` (authenticated, HELLO 3 sent). */
async function nodeClientFor(key: string): Promise<FrameClient> {
  const c = await FrameClient.connect(masterOf(key).port);
  const password = tp.proxy.cluster.nodePassword;
  const [hello] = await c.call(password === '' ? ['HELLO', '3'] : ['HELLO', '3', 'AUTH', 'default', password]);
  assert.ok(hello.startsWith('%7\r\n'), hello);
  return c;
}

function nodeRedis(extra: Record<string, unknown> = {}) {
  const c = createClient({ RESP: 3, socket: { host: '127.0.0.1', port: tp.port, reconnectStrategy: false }, ...extra });
  c.on('error', () => {});
  return c;
}

before(async () => {
  tp = await startTestProxy(['--masters', '3', '--replicas', '0']);
  redis = new Redis({ port: tp.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
});

after(async () => {
  redis?.disconnect();
  await tp?.close();
});

describe('HELLO', () => {
  test('redis-cli -3 HELLO 3 prints a map with the proxy\'s fields', async () => {
    const out = await redisCli(tp.port, ['HELLO', '3'], ['-3', '--no-raw']);
    const lines = out.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['1# "server" => "redis"', `2# "version" => "${tp.proxy.server.version}"`, '3# "proto" => (integer) 3']);
    assert.match(lines[3], /^4# "id" => \(integer\) \d+$/);
    assert.deepEqual(lines.slice(4), ['5# "mode" => "cluster"', '6# "role" => "master"', '7# "modules" => (empty array)']);
  });

  test('HELLO answers a map in RESP3 and a flat array in RESP2; HELLO alone keeps the protocol', async () => {
    const c = await FrameClient.connect(tp.port);
    try {
      const [h2, h3, same, back] = await c.call(['HELLO'], ['HELLO', '3'], ['HELLO'], ['HELLO', '2']);
      assert.match(h2, /^\*14\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n\$7\r\nversion\r\n\$\d+\r\n[^\r]+\r\n\$5\r\nproto\r\n:2\r\n\$2\r\nid\r\n:\d+\r\n\$4\r\nmode\r\n\$7\r\ncluster\r\n\$4\r\nrole\r\n\$6\r\nmaster\r\n\$7\r\nmodules\r\n\*0\r\n$/);
      assert.equal(h3, h2.replace('*14', '%7').replace('proto\r\n:2', 'proto\r\n:3'));
      assert.equal(same, h3);
      assert.equal(back, h2);
    } finally {
      c.close();
    }
  });

  test("errors in Redis's words; a failed HELLO leaves the protocol as it was", async () => {
    const c = await FrameClient.connect(tp.port);
    try {
      const replies = await c.call(['HELLO', '4'], ['HELLO', '1'], ['HELLO', 'x'], ['HELLO', '3', 'SETNAME'], ['HELLO', '3', 'SETNAME', 'a b'], ['HELLO', '3', 'AUTH', 'default', 'nope'], ['GET', 'hello:none']);
      assert.deepEqual(replies, [
        '-NOPROTO unsupported protocol version\r\n',
        '-NOPROTO unsupported protocol version\r\n',
        '-ERR Protocol version is not an integer or out of range\r\n',
        "-ERR Syntax error in HELLO option 'SETNAME'\r\n",
        '-ERR Client names cannot contain spaces, newlines or special characters.\r\n',
        '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n',
        '$-1\r\n',
      ]);
    } finally {
      c.close();
    }
  });

  test('HELLO 3 with SETNAME sets the name; RESET goes back to RESP2', async () => {
    const c = await FrameClient.connect(tp.port);
    try {
      const [, name, nul, info] = await c.call(['HELLO', '3', 'SETNAME', 'r3'], ['CLIENT', 'GETNAME'], ['GET', 'reset:none'], ['CLIENT', 'INFO']);
      assert.equal(name, '$2\r\nr3\r\n');
      assert.equal(nul, '_\r\n');
      assert.match(info, /^=\d+\r\ntxt:id=\d+ .* name=r3 .* resp=3 /);
      const [reset, after2, getname] = await c.call(['RESET'], ['GET', 'reset:none'], ['CLIENT', 'GETNAME']);
      assert.equal(reset, '+RESET\r\n');
      assert.equal(after2, '$-1\r\n');
      assert.equal(getname, '$-1\r\n');
    } finally {
      c.close();
    }
  });

  test('a switch pipelined behind writes lets them run first (they went on connections of the other protocol)', async () => {
    const c = await FrameClient.connect(tp.port);
    try {
      const cmds: (string | number)[][] = [];
      for (let i = 0; i < 200; i++) cmds.push(['SET', `order:${i % 7}`, i]);
      cmds.push(['HELLO', '3']);
      for (let k = 0; k < 7; k++) cmds.push(['GET', `order:${k}`]);
      cmds.push(['HELLO', '2']);
      for (let k = 0; k < 7; k++) cmds.push(['INCR', `order:${k}`]);
      const replies = await c.call(...cmds);
      for (let k = 0; k < 7; k++) {
        const last = 199 - ((199 - k) % 7);
        assert.equal(replies[201 + k], `$${String(last).length}\r\n${last}\r\n`, `order:${k}`);
        assert.equal(replies[209 + k], `:${last + 1}\r\n`);
      }
    } finally {
      c.close();
    }
  });

  test('a switch behind a large write: the request after it does not overtake the write', async () => {
    // The 8 MB SET takes a while to cross its RESP2 connection; a STRLEN on the (idle, warm)
    // RESP3 connection would get there first if it were sent before the SET was answered.
    const c = await FrameClient.connect(tp.port);
    try {
      await c.call(['HELLO', '3'], ['SET', 'big:k', 'old'], ['HELLO', '2']); // both connections open
      const big = 'x'.repeat(8 * 1024 * 1024);
      const [set, , len, , len2] = await c.call(['SET', 'big:k', big], ['HELLO', '3'], ['STRLEN', 'big:k'], ['RESET'], ['STRLEN', 'big:k']);
      assert.equal(set, '+OK\r\n');
      assert.equal(len, `:${big.length}\r\n`);
      assert.equal(len2, `:${big.length}\r\n`);
      await c.call(['DEL', 'big:k']);
    } finally {
      c.close();
    }
  });
});

describe('RESP3 replies, byte for byte', () => {
  test('map, set, double, null, bool, big number, verbatim: the proxy relays what the node writes', async () => {
    await redis.del('r3:h', 'r3:s', 'r3:z', 'r3:n');
    await redis.hset('r3:h', 'f1', 'v1', 'f2', 'v2');
    await redis.sadd('r3:s', 'a', 'b', 'c');
    await redis.zadd('r3:z', '0.1', 'm', '1e20', 'big');
    const commands: string[][] = [
      ['HGETALL', 'r3:h'],
      ['SMEMBERS', 'r3:s'],
      ['ZSCORE', 'r3:z', 'm'],
      ['ZSCORE', 'r3:z', 'big'],
      ['ZRANGE', 'r3:z', '0', '-1', 'WITHSCORES'],
      ['GET', 'r3:none'],
      ['HGET', 'r3:h', 'none'],
      ['EVAL', 'return redis.setresp(3) or true', '1', 'r3:h'],
      ['EVAL', "redis.setresp(3); return redis.call('HGETALL', KEYS[1])", '1', 'r3:h'],
      ['EVAL', "return {big_number='123456789012345678901234567890'}", '1', 'r3:h'],
      ['EVAL', "return {verbatim_string={format='txt', string='hello'}}", '1', 'r3:h'],
      ['EVAL', 'return {double=1.5}', '1', 'r3:h'],
      ['EVAL', 'return false', '1', 'r3:h'],
      ['OBJECT', 'ENCODING', 'r3:h'],
    ];
    const proxy = await FrameClient.connect(tp.port);
    // Each key's node, straight (the keys hash to different nodes).
    const nodes = new Map<string, FrameClient>();
    try {
      await proxy.call(['HELLO', '3']);
      const viaProxy = await proxy.call(...commands);
      const direct: string[] = [];
      for (const cmd of commands) {
        const key = cmd[0] === 'EVAL' ? cmd[3] : cmd[1];
        const port = masterOf(key).port;
        let node = nodes.get(String(port));
        if (node === undefined) nodes.set(String(port), (node = await nodeClientFor(key)));
        direct.push(...(await node.call(cmd)));
      }
      assert.deepEqual(viaProxy, direct);
      // And they are RESP3 shapes, not RESP2 ones.
      assert.ok(viaProxy[0].startsWith('%2\r\n'), viaProxy[0]);
      assert.ok(viaProxy[1].startsWith('~3\r\n'), viaProxy[1]);
      assert.equal(viaProxy[2], ',0.10000000000000001\r\n');
      assert.equal(viaProxy[3], ',1e+20\r\n');
      assert.equal(viaProxy[5], '_\r\n');
      assert.equal(viaProxy[6], '_\r\n');
      assert.equal(viaProxy[7], '#t\r\n');
      assert.ok(viaProxy[8].startsWith('%2\r\n'), viaProxy[8]);
      assert.equal(viaProxy[9], '(123456789012345678901234567890\r\n');
      assert.equal(viaProxy[10], '=9\r\ntxt:hello\r\n');
      assert.equal(viaProxy[11], ',1.5\r\n');
      assert.equal(viaProxy[12], '_\r\n');
    } finally {
      proxy.close();
      for (const n of nodes.values()) n.close();
    }
  });

  test("the proxy's own replies in RESP3: CONFIG GET map, INFO and CLUSTER INFO/NODES verbatim, CLUSTER SHARDS maps, RANDOMKEY null", async () => {
    const c = await FrameClient.connect(tp.port);
    try {
      await c.call(['HELLO', '3']);
      const [cfg, info, cinfo, cnodes, shards, slots] = await c.call(
        ['CONFIG', 'GET', 'maxmemory-policy'],
        ['INFO', 'server'],
        ['CLUSTER', 'INFO'],
        ['CLUSTER', 'NODES'],
        ['CLUSTER', 'SHARDS'],
        ['CLUSTER', 'SLOTS'],
      );
      assert.equal(cfg, '%1\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n');
      assert.match(info, /^=\d+\r\ntxt:# Server\r\n/);
      assert.match(cinfo, /^=\d+\r\ntxt:cluster_state:ok\r\n/);
      assert.match(cnodes, /^=\d+\r\ntxt:[0-9a-f]{40} 127\.0\.0\.1:\d+@\d+ myself,master - 0 0 \d+ connected 0-16383\n\r\n$/);
      assert.match(shards, /^\*1\r\n%2\r\n\$5\r\nslots\r\n\*2\r\n:0\r\n:16383\r\n\$5\r\nnodes\r\n\*1\r\n%7\r\n\$2\r\nid\r\n/);
      assert.match(slots, /^\*1\r\n\*3\r\n:0\r\n:16383\r\n\*4\r\n\$9\r\n127\.0\.0\.1\r\n:\d+\r\n\$40\r\n[0-9a-f]{40}\r\n%0\r\n$/);
      // A verbatim string's length covers "txt:" and the text.
      const [len, rest] = [Number(/^=(\d+)\r\n/.exec(info)![1]), info.slice(info.indexOf('\r\n') + 2, -2)];
      assert.equal(Buffer.byteLength(rest, 'latin1'), len);
      const [flushed, none] = await c.call(['FLUSHALL'], ['RANDOMKEY']);
      assert.equal(flushed, '+OK\r\n');
      assert.equal(none, '_\r\n');
      // The same in RESP2.
      await c.call(['HELLO', '2']);
      const [cfg2, info2, none2, slots2] = await c.call(['CONFIG', 'GET', 'maxmemory-policy'], ['INFO', 'server'], ['RANDOMKEY'], ['CLUSTER', 'SLOTS']);
      assert.equal(cfg2, '*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n');
      assert.match(info2, /^\$\d+\r\n# Server\r\n/);
      assert.equal(none2, '$-1\r\n');
      assert.match(slots2, /\*0\r\n$/);
    } finally {
      c.close();
    }
  });

  test('keyless commands one master answers arrive in its RESP3 shapes: COMMAND DOCS, COMMAND INFO, FUNCTION LIST', async () => {
    const commands = [['COMMAND', 'DOCS', 'get'], ['COMMAND', 'INFO', 'get'], ['FUNCTION', 'LIST'], ['CONFIG', 'GET', 'hash-max-listpack-*']];
    const proxy = await FrameClient.connect(tp.port);
    const node = await nodeClientFor('any');
    try {
      await proxy.call(['HELLO', '3']);
      const viaProxy = await proxy.call(...commands);
      assert.deepEqual(viaProxy.slice(0, 3), await node.call(...commands.slice(0, 3)));
      assert.ok(viaProxy[0].startsWith('%1\r\n$3\r\nget\r\n%'), viaProxy[0].slice(0, 40));
      // CONFIG GET comes back as a map whatever order the node lists the parameters in.
      const [direct] = await node.call(commands[3]);
      const entries = (r: string): string[] => r.split('\r\n').slice(1).filter((l) => !l.startsWith('$')).sort();
      assert.match(viaProxy[3], /^%2\r\n/);
      assert.deepEqual(entries(viaProxy[3]), entries(direct));
    } finally {
      proxy.close();
      node.close();
    }
  });

  test('fan-out commands in RESP3: KEYS, DBSIZE, SCAN, split MGET over every master', async () => {
    await redis.flushall();
    const keys = Array.from({ length: 30 }, (_, i) => `fan:${i}`);
    for (const k of keys) await redis.set(k, k);
    const c = await FrameClient.connect(tp.port);
    try {
      await c.call(['HELLO', '3']);
      const [dbsize, keysReply, mget] = await c.call(['DBSIZE'], ['KEYS', 'fan:*'], ['MGET', 'fan:0', 'fan:none', 'fan:1', 'fan:2']);
      assert.equal(dbsize, ':30\r\n');
      const listed = keysReply.split('\r\n').filter((l) => l.startsWith('fan:'));
      assert.ok(keysReply.startsWith('*30\r\n'), keysReply.slice(0, 10));
      assert.deepEqual(listed.sort(), [...keys].sort());
      assert.equal(mget, '*4\r\n$5\r\nfan:0\r\n_\r\n$5\r\nfan:1\r\n$5\r\nfan:2\r\n');
      const seen = new Set<string>();
      let cursor = '0';
      do {
        const [r] = await c.call(['SCAN', cursor, 'COUNT', '7']);
        const m = /^\*2\r\n\$\d+\r\n(\d+)\r\n\*(\d+)\r\n/.exec(r);
        assert.ok(m, r);
        cursor = m[1];
        for (const l of r.split('\r\n')) if (l.startsWith('fan:')) seen.add(l);
      } while (cursor !== '0');
      assert.equal(seen.size, 30);
    } finally {
      c.close();
    }
  });

  test('BLPOP in RESP3: the null reply on timeout is _, a pushed element wakes it', async () => {
    const c = await FrameClient.connect(tp.port);
    try {
      await c.call(['HELLO', '3']);
      const [timedOut] = await c.call(['BLPOP', 'r3:list', '0.1']);
      assert.equal(timedOut, '_\r\n');
      const woken = c.call(['BLPOP', 'r3:list', '10']);
      await new Promise((r) => setTimeout(r, 100));
      await redis.lpush('r3:list', 'x');
      assert.deepEqual(await woken, ['*2\r\n$7\r\nr3:list\r\n$1\r\nx\r\n']);
      const [ping] = await c.call(['HELLO', '2'], ['BLPOP', 'r3:list', '0.1']).then((r) => r.slice(1));
      assert.equal(ping, '*-1\r\n');
    } finally {
      c.close();
    }
  });

  test('a RESP3 and a RESP2 client interleaved on the same keys each get their own shapes', async () => {
    const r3 = await FrameClient.connect(tp.port);
    const r2 = await FrameClient.connect(tp.port);
    try {
      await r3.call(['HELLO', '3']);
      await redis.del('mix:h', 'mix:z');
      for (let i = 0; i < 20; i++) {
        const [a] = await r3.call(['HSET', 'mix:h', `f${i}`, i]);
        const [b] = await r2.call(['ZADD', 'mix:z', i + 0.5, `m${i}`]);
        assert.equal(a, ':1\r\n');
        assert.equal(b, ':1\r\n');
      }
      const [h3, z3] = await r3.call(['HGETALL', 'mix:h'], ['ZSCORE', 'mix:z', 'm3']);
      const [h2, z2] = await r2.call(['HGETALL', 'mix:h'], ['ZSCORE', 'mix:z', 'm3']);
      assert.ok(h3.startsWith('%20\r\n'), h3.slice(0, 10));
      assert.ok(h2.startsWith('*40\r\n'), h2.slice(0, 10));
      assert.equal(h3.slice(h3.indexOf('\r\n')), h2.slice(h2.indexOf('\r\n')));
      assert.equal(z3, ',3.5\r\n');
      assert.equal(z2, '$3\r\n3.5\r\n');
    } finally {
      r3.close();
      r2.close();
    }
  });
});

describe('stock clients', () => {
  test('node-redis with RESP: 3 and default options', async () => {
    const c = nodeRedis();
    await c.connect();
    try {
      assert.equal(await c.set('nr:k', 'v'), 'OK');
      assert.equal(await c.get('nr:k'), 'v');
      assert.equal(await c.get('nr:none'), null);
      await c.del(['nr:h', 'nr:s', 'nr:z']);
      await c.hSet('nr:h', { a: '1', b: '2' });
      assert.deepEqual({ ...(await c.hGetAll('nr:h')) }, { a: '1', b: '2' });
      await c.sAdd('nr:s', ['x', 'y']);
      assert.deepEqual([...(await c.sMembers('nr:s'))].sort(), ['x', 'y']);
      await c.zAdd('nr:z', { score: 2.25, value: 'm' });
      assert.equal(await c.zScore('nr:z', 'm'), 2.25);
      const cfg = await c.configGet('maxmemory-policy');
      assert.deepEqual({ ...cfg }, { 'maxmemory-policy': 'noeviction' });
      const replies = await c.multi().set('nr:p', '1').incr('nr:p').get('nr:p').execAsPipeline();
      assert.deepEqual(replies, ['OK', 2, '2']);
      // Sets as Sets and maps as Maps, when asked for: the node's RESP3 types arrive intact.
      const typed = c.withTypeMapping({ [RESP_TYPES.SET]: Set, [RESP_TYPES.MAP]: Map });
      assert.deepEqual(await typed.sMembers('nr:s'), new Set(['x', 'y']));
      assert.deepEqual(await typed.hGetAll('nr:h'), new Map([['a', '1'], ['b', '2']]));
      const hello2 = (await c.sendCommand(['HELLO', '2'])) as unknown[];
      assert.deepEqual(hello2.slice(4, 6), ['proto', 2]);
      assert.deepEqual(await c.sendCommand(['HGETALL', 'nr:h']), ['a', '1', 'b', '2']);
    } finally {
      await c.close();
    }
  });

  test('ioredis with protocol: 2 is unaffected by RESP3 clients on the same proxy', async () => {
    const c = nodeRedis();
    await c.connect();
    const io2 = new Redis({ port: tp.port, host: '127.0.0.1', maxRetriesPerRequest: 1, protocol: 2 });
    try {
      await c.hSet('io:h', { a: '1' });
      assert.deepEqual(await io2.hgetall('io:h'), { a: '1' });
      assert.equal(await io2.hget('io:h', 'none'), null);
      const id = (await io2.client('ID')) as number;
      assert.deepEqual(await io2.call('HELLO'), ['server', 'redis', 'version', tp.proxy.server.version, 'proto', 2, 'id', id, 'mode', 'cluster', 'role', 'master', 'modules', []]);
      assert.equal(await io2.zadd('io:z', '1.5', 'm'), 1);
      assert.equal(await io2.zscore('io:z', 'm'), '1.5');
      assert.equal(await io2.blpop('io:none', 0.1), null);
      assert.match(String(await io2.client('INFO')), / resp=2 /);
    } finally {
      io2.disconnect();
      await c.close();
    }
  });

  test('ioredis with its default options (HELLO 3 at connect, RESP2-shaped results)', async () => {
    // ioredis 6 negotiates RESP3 by default: every ioredis client of the proxy speaks it now.
    assert.match(String(await redis.client('INFO')), / resp=3 /);
    await redis.del('io3:h', 'io3:z');
    await redis.hset('io3:h', 'a', '1', 'b', '2');
    assert.deepEqual(await redis.hgetall('io3:h'), { a: '1', b: '2' });
    await redis.zadd('io3:z', '2.5', 'm');
    assert.equal(await redis.zscore('io3:z', 'm'), '2.5');
    assert.equal(await redis.blpop('io3:none', 0.1), null);
    assert.match(await redis.info('server'), /^# Server\r\n/);
    assert.equal(await redis.config('GET', 'maxmemory-policy').then((r) => JSON.stringify(r)), JSON.stringify(['maxmemory-policy', 'noeviction']));
  });
});

describe('push frames', () => {
  test('a push on a shared RESP3 backend connection never completes a request: it is dropped and counted', async () => {
    // The node is made to push to the proxy's own RESP3 connection: a client of the node
    // turns on CLIENT TRACKING with REDIRECT <that connection>, reads a key, and the key is
    // then written through the proxy. The invalidation goes to the redirect target, a
    // RESP3 connection, as a push frame, amid the replies to the proxy's requests.
    const c = await FrameClient.connect(tp.port);
    try {
      await c.call(['HELLO', '3']);
      await c.call(['SET', 'push:k', '1']); // opens the RESP3 connection to push:k's node
      const before = tp.proxy.server.runtime.pushes.dropped;
      const node = await nodeClientFor('push:k');
      try {
        const [list] = await node.call(['CLIENT', 'LIST']);
        // The proxy's RESP3 connection that carried the SET (the node's own client runs CLIENT LIST).
        const resp3 = list.split('\n').filter((l) => / resp=3$/.test(l) && / cmd=set /.test(l));
        assert.ok(resp3.length >= 1, list);
        const id = /id=(\d+)/.exec(resp3[0])![1];
        const [on] = await node.call(['CLIENT', 'TRACKING', 'on', 'REDIRECT', id]);
        assert.equal(on, '+OK\r\n');
        // Tracking on `node` redirects to the proxy's connection: reads here, writes there.
        await node.call(['GET', 'push:k']);
        const replies = await c.call(['SET', 'push:k', '2'], ['GET', 'push:k'], ['INCR', 'push:k'], ['GET', 'push:k']);
        assert.deepEqual(replies, ['+OK\r\n', '$1\r\n2\r\n', ':3\r\n', '$1\r\n3\r\n']);
        const deadline = Date.now() + 5000;
        while (tp.proxy.server.runtime.pushes.dropped === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(tp.proxy.server.runtime.pushes.dropped > before, 'the invalidation push was seen and dropped');
        const stats = await redis.info('stats');
        assert.match(stats, new RegExp(`\\r\\nproxy_dropped_push_frames:${tp.proxy.server.runtime.pushes.dropped}\\r\\n`));
      } finally {
        node.close();
      }
    } finally {
      c.close();
    }
  });
});

describe('protocol-aware encoders (src/resp/encode.ts)', () => {
  test("encodeDouble writes a double as redis-server 7.0 does, in both protocols", async () => {
    const scores = [0.1, 1e20, 1e-7, 3, -2.5, 123456789.123, 1 / 3, 1e16, 1e17, -0.0001, 0.00001, Infinity, -Infinity];
    await redis.del('enc:z');
    const c = await FrameClient.connect(tp.port);
    try {
      await c.call(['ZADD', 'enc:z', ...scores.flatMap((n, i) => [String(n).replace('Infinity', 'inf'), `m${i}`])]);
      const resp2 = await c.call(...scores.map((_, i) => ['ZSCORE', 'enc:z', `m${i}`]));
      await c.call(['HELLO', '3']);
      const resp3 = await c.call(...scores.map((_, i) => ['ZSCORE', 'enc:z', `m${i}`]));
      assert.deepEqual(scores.map((n) => encodeDouble(n, 2).toString('latin1')), resp2);
      assert.deepEqual(scores.map((n) => encodeDouble(n, 3).toString('latin1')), resp3);
    } finally {
      c.close();
    }
  });

  test('maps, sets, nulls, booleans, big numbers and verbatim strings in RESP3, and their RESP2 forms', () => {
    const kv = [Buffer.from('$1\r\na\r\n'), Buffer.from(':1\r\n')];
    assert.equal(encodeMap(kv, 3).toString(), '%1\r\n$1\r\na\r\n:1\r\n');
    assert.equal(encodeMap(kv, 2).toString(), '*2\r\n$1\r\na\r\n:1\r\n');
    assert.equal(encodeMap([], 3).toString(), '%0\r\n');
    assert.throws(() => encodeMap([kv[0]], 3), RangeError);
    assert.equal(encodeSet(kv, 3).toString(), '~2\r\n$1\r\na\r\n:1\r\n');
    assert.equal(encodeSet(kv, 2).toString(), '*2\r\n$1\r\na\r\n:1\r\n');
    assert.equal(encodeNull(3).toString(), '_\r\n');
    assert.equal(encodeNull(2).toString(), '$-1\r\n');
    assert.equal(encodeNullArray(3).toString(), '_\r\n');
    assert.equal(encodeNullArray(2).toString(), '*-1\r\n');
    assert.equal(encodeBool(true, 3).toString(), '#t\r\n');
    assert.equal(encodeBool(false, 3).toString(), '#f\r\n');
    assert.equal(encodeBool(true, 2).toString(), ':1\r\n');
    assert.equal(encodeBool(false, 2).toString(), ':0\r\n');
    assert.equal(encodeBigNumber(123456789012345678901234567890n, 3).toString(), '(123456789012345678901234567890\r\n');
    assert.equal(encodeBigNumber(-5n, 2).toString(), '$2\r\n-5\r\n');
    assert.equal(encodeVerbatim('a\r\nb', 3).toString(), '=8\r\ntxt:a\r\nb\r\n');
    assert.equal(encodeVerbatim(Buffer.from('# x'), 3, 'mkd').toString(), '=7\r\nmkd:# x\r\n');
    assert.equal(encodeVerbatim('a\r\nb', 2).toString(), '$4\r\na\r\nb\r\n');
  });
});
