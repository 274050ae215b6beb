/**
 * --users-file: ACL users with key, channel and command rules, checked by the proxy before
 * it routes a request, compared with a real redis-server 7.0 given the same rules; AUTH,
 * HELLO 3 AUTH, ACL WHOAMI / DRYRUN / LIST / LOG, the wrong-password throttle, and the
 * proxy's per-user limits (proxy-maxclients, proxy-max-ops) in INFO.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RawClient, startTestProxy, type TestProxy } from './support/proxy.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';
import { parseUsersFile } from '../src/auth/acl-rules.js';
import { globMatch } from '../src/auth/glob.js';

/** The users both the proxy (users file) and the real redis-server (ACL SETUSER) get. */
const REDIS_RULES: readonly (readonly string[])[] = [
  ['app', 'on', '>apppw', '~app:*', '+@read'],
  ['scripter', 'on', '>spw', '~app:*', '+@read', '+@scripting'],
  ['rw', 'on', '>rwpw', '%R~ro:*', '%W~wo:*', '~both:*', '+@all'],
  ['pub', 'on', '>ppw', '~*', '&news.*', '+publish', '+subscribe', '+psubscribe', '+ping'],
  ['sleeper', 'off', '>zpw', '~*', '+@all'],
];
/** Users of the proxy only: its own limits are not Redis rules. */
const PROXY_ONLY = ['limited on >lpw ~* +@all proxy-maxclients=2', 'burst on >bpw ~* +@all proxy-max-ops=5'];

type Answer = string;

/** A reply, or an error's message, as one comparable string. */
async function answer(c: Redis, args: readonly string[]): Promise<Answer> {
  try {
    return `ok ${JSON.stringify(await c.call(args[0], ...args.slice(1)))}`;
  } catch (err) {
    return `error ${(err as Error).message}`;
  }
}

async function client(port: number, username?: string, password?: string): Promise<Redis> {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    username,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // ioredis's ready check runs INFO, which most of these users may not.
    enableReadyCheck: false,
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describe('ACL users (--users-file)', () => {
  let tp: TestProxy;
  let redis: RedisServerHandle;
  let dir: string;
  const clients: Redis[] = [];
  const open = async (port: number, user?: string, pass?: string): Promise<Redis> => {
    const c = await client(port, user, pass);
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-acl-'));
    const file = path.join(dir, 'users.acl');
    await writeFile(file, ['# test users', ...REDIS_RULES.map((r) => `user ${r.join(' ')}`), '', ...PROXY_ONLY.map((l) => `user ${l}`)].join('\n'));
    tp = await startTestProxy(['--masters', '2', '--replicas', '0', '--users-file', file]);
    redis = await startRedisServer();
    const admin = await open(redis.port);
    for (const r of REDIS_RULES) await admin.call('ACL', 'SETUSER', ...r);
    // The same data on both: app:1 and ro:1 to read.
    for (const port of [tp.port, redis.port]) {
      const c = await open(port);
      await c.set('app:1', 'v');
      await c.set('ro:1', 'r');
      await c.set('other:1', 'o');
    }
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await tp?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a ~app:* +@read user: NOPERM for SET app:1, GET other:1, MGET app:1 other:1, EVAL ... 1 other:1; GET app:1 works; as redis-server answers', async () => {
    const proxy = await open(tp.port, 'app', 'apppw');
    const real = await open(redis.port, 'app', 'apppw');
    const cases: string[][] = [
      ['SET', 'app:1', 'x'],
      ['GET', 'other:1'],
      ['MGET', 'app:1', 'other:1'],
      ['EVAL', 'return 1', '1', 'other:1'],
      ['GET', 'app:1'],
      ['MGET', 'app:1', 'app:2'],
      ['ACL', 'WHOAMI'],
      ['CONFIG', 'GET', 'maxmemory'],
    ];
    const got = await Promise.all(cases.map((c) => answer(proxy, c)));
    const want = await Promise.all(cases.map((c) => answer(real, c)));
    assert.deepEqual(got, want);
    assert.equal(got[0], "error NOPERM this user has no permissions to run the 'set' command");
    assert.equal(got[1], 'error NOPERM this user has no permissions to access one of the keys used as arguments');
    assert.equal(got[2], got[1]); // split across two slots: every part's keys checked
    assert.match(got[3], /^error NOPERM/);
    assert.equal(got[4], 'ok "v"');
    // The keys of a script, declared: checked when the command is allowed.
    const sp = await open(tp.port, 'scripter', 'spw');
    const sr = await open(redis.port, 'scripter', 'spw');
    const scriptCases = [
      ['EVAL', "return redis.call('get', KEYS[1])", '1', 'other:1'],
      ['EVAL', "return redis.call('get', KEYS[1])", '1', 'app:1'],
    ];
    assert.deepEqual(await Promise.all(scriptCases.map((c) => answer(sp, c))), await Promise.all(scriptCases.map((c) => answer(sr, c))));
    assert.equal(await answer(sp, scriptCases[0]), 'error NOPERM this user has no permissions to access one of the keys used as arguments');
  });

  test('%R~ and %W~: read and write permissions by the command, as redis-server decides them', async () => {
    const proxy = await open(tp.port, 'rw', 'rwpw');
    const real = await open(redis.port, 'rw', 'rwpw');
    const cases = [
      ['GET', 'ro:1'],
      ['SET', 'ro:1', 'x'],
      ['SET', 'wo:1', 'x'],
      ['GET', 'wo:1'],
      ['SET', 'both:1', 'x'],
      ['GET', 'both:1'],
      ['DEL', 'wo:1', 'both:1'],
      ['INCR', 'wo:n'],
      ['INCR', 'both:n'],
      ['LPUSH', 'wo:l', 'x'],
      ['EXISTS', 'wo:1', 'ro:1'],
      ['SET', 'wo:1', 'x', 'GET'],
      ['BITFIELD', 'ro:1', 'GET', 'u8', '0'],
      ['BITFIELD', 'wo:b', 'SET', 'u8', '0', '1'],
      ['BITFIELD', 'both:b', 'SET', 'u8', '0', '1'],
      ['EVAL', "return redis.call('get', KEYS[1])", '1', 'ro:1'],
      ['LMOVE', 'both:{l}', 'wo:{l}2', 'LEFT', 'LEFT'],
      ['LMOVE', 'wo:{l}2', 'both:{l}', 'LEFT', 'LEFT'],
      ['ACL', 'WHOAMI'],
    ];
    assert.deepEqual(await Promise.all(cases.map((c) => answer(proxy, c))), await Promise.all(cases.map((c) => answer(real, c))));
    assert.equal(await answer(proxy, ['ACL', 'WHOAMI']), 'ok "rw"');
  });

  test('channels: PUBLISH, SUBSCRIBE and PSUBSCRIBE checked against &patterns, as redis-server does', async () => {
    const cases = [
      ['PUBLISH', 'news.1', 'x'],
      ['PUBLISH', 'sport', 'x'],
      ['SUBSCRIBE', 'sport'],
      ['SUBSCRIBE', 'news.a', 'sport'],
      ['PSUBSCRIBE', 'news.1*'],
    ];
    const got: Answer[] = [];
    const want: Answer[] = [];
    // Each on its own connection: a successful SUBSCRIBE would put it in subscriber mode.
    for (const c of cases) {
      const p = await open(tp.port, 'pub', 'ppw');
      const r = await open(redis.port, 'pub', 'ppw');
      got.push(await answer(p, c));
      want.push(await answer(r, c));
    }
    assert.deepEqual(got, want);
    assert.equal(got[0], 'ok 0');
    assert.equal(got[1], 'error NOPERM this user has no permissions to access one of the channels used as arguments');
    assert.equal(got[3], got[1]);
    // Allowed subscriptions go through to a message.
    const sub = await open(tp.port, 'pub', 'ppw');
    const received = new Promise<string>((resolve) => sub.once('message', (_ch: string, m: string) => resolve(m)));
    await sub.subscribe('news.x');
    const pubc = await open(tp.port, 'pub', 'ppw');
    await pubc.publish('news.x', 'hello');
    assert.equal(await received, 'hello');
  });

  test('ACL DRYRUN answers as redis-server given the same rules', async () => {
    const proxy = await open(tp.port);
    const real = await open(redis.port);
    const cases = [
      ['app', 'SET', 'app:1', 'x'],
      ['app', 'GET', 'other:1'],
      ['app', 'MGET', 'app:1', 'other:1'],
      ['app', 'GET', 'app:1'],
      ['app', 'CONFIG', 'GET', 'x'],
      ['app', 'GET'],
      ['app', 'NOSUCHCOMMAND'],
      ['nobody', 'GET', 'a'],
      ['rw', 'GET', 'wo:1'],
      ['rw', 'SET', 'wo:1', 'x'],
      ['rw', 'SET', 'ro:1', 'x'],
      ['pub', 'PUBLISH', 'sport', 'x'],
      ['pub', 'PUBLISH', 'news.1', 'x'],
      ['scripter', 'EVAL', 'return 1', '1', 'other:1'],
      ['sleeper', 'GET', 'a'],
    ];
    const got = await Promise.all(cases.map((c) => answer(proxy, ['ACL', 'DRYRUN', ...c])));
    const want = await Promise.all(cases.map((c) => answer(real, ['ACL', 'DRYRUN', ...c])));
    assert.deepEqual(got, want);
    assert.equal(got[1], `ok "This user has no permissions to access the 'other:1' key"`);
  });

  test('ACL LIST shows the users with hashed passwords, as redis-server writes them; ACL USERS', async () => {
    const proxy = await open(tp.port);
    const real = await open(redis.port);
    const lines = (await proxy.call('ACL', 'LIST')) as string[];
    const realLines = (await real.call('ACL', 'LIST')) as string[];
    for (const [name] of REDIS_RULES) {
      // The same words; single commands (+publish ...) Redis lists in its command table's order.
      const words = (ls: string[]) => ls.find((l) => l.startsWith(`user ${name} `))?.split(' ').sort();
      assert.deepEqual(words(lines), words(realLines), name);
    }
    assert.ok(!lines.join('\n').includes('apppw'), 'no password in clear');
    assert.deepEqual(await proxy.call('ACL', 'USERS'), ['app', 'burst', 'default', 'limited', 'pub', 'rw', 'scripter', 'sleeper']);
    assert.match(await answer(proxy, ['ACL', 'SETUSER', 'x', 'on']), /^error ERR .*--users-file/);
  });

  test('HELLO 3 AUTH user pass; a disabled user and a wrong password are WRONGPASS', async () => {
    const c = await RawClient.connect(tp.port);
    try {
      c.write('HELLO 3 AUTH rw rwpw\r\nACL WHOAMI\r\n');
      const d = await c.waitFor((b) => b.toString().endsWith('$2\r\nrw\r\n'));
      assert.match(d.toString(), /^%7\r\n/); // a RESP3 map
      c.write('AUTH sleeper zpw\r\nAUTH app nope\r\nACL WHOAMI\r\n');
      await c.waitFor((b) =>
        b.toString().endsWith(
          '-WRONGPASS invalid username-password pair or user is disabled.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n$2\r\nrw\r\n',
        ),
      );
    } finally {
      c.close();
    }
  });

  test('ACL LOG: denials with reason, context, object, username, age and client info, as redis-server logs them', async () => {
    const proxy = await open(tp.port);
    const real = await open(redis.port);
    for (const c of [proxy, real]) await c.call('ACL', 'LOG', 'RESET');
    for (const port of [tp.port, redis.port]) {
      const c = await open(port, 'app', 'apppw');
      await answer(c, ['SET', 'app:1', 'x']);
      await answer(c, ['GET', 'other:1']);
      await answer(c, ['GET', 'other:1']);
      await answer(c, ['MULTI']);
      // Inside a transaction: context multi, and EXEC aborts.
      const t = await open(port, 'rw', 'rwpw');
      await answer(t, ['MULTI']);
      await answer(t, ['SET', 'ro:1', 'x']);
      assert.match(await answer(t, ['EXEC']), /^error EXECABORT/);
    }
    const entries = async (c: Redis) =>
      ((await c.call('ACL', 'LOG')) as string[][]).map((e) => {
        const m = new Map<string, string>();
        for (let i = 0; i < e.length; i += 2) m.set(String(e[i]), String(e[i + 1]));
        return m;
      });
    const mine = await entries(proxy);
    const theirs = await entries(real);
    const comparable = (es: Map<string, string>[]) => es.map((m) => [m.get('count'), m.get('reason'), m.get('context'), m.get('object'), m.get('username')]);
    assert.deepEqual(comparable(mine), comparable(theirs));
    assert.deepEqual([...mine[0].keys()], [...theirs[0].keys()]);
    assert.match(mine[0].get('client-info') ?? '', /cmd=multi user=rw /);
    assert.equal(((await proxy.call('ACL', 'LOG', '1')) as unknown[]).length, 1);
  });

  test('proxy-maxclients: a third connection of a user limited to 2 cannot AUTH; counted in INFO users and freed on close', async () => {
    const a = await open(tp.port, 'limited', 'lpw');
    const b = await open(tp.port, 'limited', 'lpw');
    const c = await open(tp.port);
    assert.equal(await answer(c, ['AUTH', 'limited', 'lpw']), "error ERR max number of clients reached for user 'limited' (proxy-maxclients 2)");
    const info = String(await a.call('INFO', 'users'));
    assert.match(info, /^user_limited:clients=2,commands=\d+,maxclients=2,max_ops=0,rejected_maxclients=1,rejected_max_ops=0\r?$/m);
    b.disconnect();
    // Once the session has closed, the slot is free.
    for (let i = 0; ; i++) {
      if ((await answer(c, ['AUTH', 'limited', 'lpw'])) === 'ok "OK"') break;
      assert.ok(i < 200, 'the closed connection was never released');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await answer(c, ['ACL', 'WHOAMI']), 'ok "limited"');
  });

  test('proxy-max-ops: requests over 5 per second are refused with an error, counted in INFO users', async () => {
    const raw = await RawClient.connect(tp.port);
    try {
      raw.write('AUTH burst bpw\r\n' + 'PING\r\n'.repeat(20));
      const d = await raw.waitFor((b) => (b.toString().match(/\r\n/g) ?? []).length >= 21);
      const replies = d.toString().split('\r\n').slice(1, 21);
      const pongs = replies.filter((r) => r === '+PONG').length;
      const refused = replies.filter((r) => r === "-ERR max requests per second reached for user 'burst' (proxy-max-ops 5)").length;
      assert.equal(pongs + refused, 20, replies.join(' | '));
      // 20 requests in one write: at most two one-second windows, 5 each.
      assert.ok(pongs >= 4 && pongs <= 10, `pongs: ${pongs}`);
      const info = String(await (await open(tp.port)).call('INFO', 'users'));
      assert.match(info, new RegExp(`^user_burst:clients=1,commands=\\d+,maxclients=0,max_ops=5,rejected_maxclients=0,rejected_max_ops=${refused}\\r?$`, 'm'));
      // The same figures in /metrics.
      const metrics = await tp.proxy.metrics.render();
      assert.match(metrics, new RegExp(`^ihs_user_limit_rejections_total\\{user="burst",limit="max_ops"\\} ${refused}$`, 'm'));
      const limitedRejected = /^user_limited:.*rejected_maxclients=(\d+)/m.exec(info)?.[1];
      assert.ok(Number(limitedRejected) >= 1, info);
      assert.match(metrics, new RegExp(`^ihs_user_limit_rejections_total\\{user="limited",limit="maxclients"\\} ${limitedRejected}$`, 'm'));
      assert.match(metrics, /^ihs_user_clients\{user="burst"\} 1$/m);
    } finally {
      raw.close();
    }
  });

  test('wrong passwords are throttled per source address: after 10 in a minute, AUTH is refused even with the right one', async () => {
    // From 127.0.0.2, so the other tests' address (127.0.0.1) is not throttled.
    const socket = net.connect({ host: '127.0.0.1', port: tp.port, localAddress: '127.0.0.2' });
    await once(socket, 'connect');
    const c = wrap(socket);
    try {
      c.write('AUTH app nope\r\n'.repeat(10) + 'AUTH app apppw\r\n');
      const d = await c.waitFor((b) => (b.toString().match(/\r\n/g) ?? []).length >= 11);
      const replies = d.toString().split('\r\n');
      assert.equal(replies.filter((r) => r.startsWith('-WRONGPASS')).length, 10);
      assert.match(replies[10], /^-ERR too many wrong passwords from this address: AUTH is refused for \d+ more seconds$/);
    } finally {
      c.close();
    }
    // Another address is not affected.
    const other = await open(tp.port, 'app', 'apppw');
    assert.equal(await answer(other, ['GET', 'app:1']), 'ok "v"');
  });
});

/** A RawClient-like reader over an already connected socket. */
function wrap(s: net.Socket): { write(d: string): void; waitFor(p: (b: Buffer) => boolean): Promise<Buffer>; close(): void } {
  const chunks: Buffer[] = [];
  s.on('data', (b: Buffer) => chunks.push(b));
  return {
    write: (d) => s.write(d),
    async waitFor(p) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const all = Buffer.concat(chunks);
        if (p(all)) return all;
        if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(all.toString())}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () => s.destroy(),
  };
}

describe('a users file with a default user, and --admin-password', () => {
  test('a new connection is the on-nopass default user (its rules apply; RESET returns to it); admin alone runs the admin verbs', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-acl-default-'));
    const file = path.join(dir, 'users.acl');
    await writeFile(file, 'user default on nopass ~pub:* +@read +@connection +acl|whoami\nuser ops on >opw ~* +@all\n');
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--users-file', file, '--admin-password', 'adm']);
    const c = await RawClient.connect(tp.port);
    try {
      c.write('GET pub:1\r\nGET secret\r\nACL WHOAMI\r\nLIST\r\n');
      await c.waitFor((b) =>
        b.toString() ===
          '$-1\r\n-NOPERM this user has no permissions to access one of the keys used as arguments\r\n$7\r\ndefault\r\n' +
            "-NOPERM this user has no permissions to run the 'list' command\r\n",
      );
      c.write('AUTH ops opw\r\nSET secret 1\r\nLIST\r\nAUTH admin adm\r\nACL WHOAMI\r\nRESET\r\nACL WHOAMI\r\nGET secret\r\n');
      const d = await c.waitFor((b) => b.toString().endsWith('-NOPERM this user has no permissions to access one of the keys used as arguments\r\n'));
      const text = d.toString();
      const first = "run the 'list' command\r\n";
      const after = text.slice(text.indexOf(first) + first.length);
      assert.match(after, /^\+OK\r\n\+OK\r\n-NOPERM this user has no permissions to run the 'list' command\r\n\+OK\r\n\$5\r\nadmin\r\n\+RESET\r\n\$7\r\ndefault\r\n-NOPERM/);
    } finally {
      c.close();
      await tp.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a default user with a password: NOAUTH until AUTH default <pass>', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-acl-default-'));
    const file = path.join(dir, 'users.acl');
    await writeFile(file, 'user default on >dpw ~* +@all\n');
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--users-file', file]);
    const c = await RawClient.connect(tp.port);
    try {
      c.write('GET x\r\nAUTH dpw\r\nGET x\r\nACL WHOAMI\r\n');
      await c.waitFor((b) => b.toString() === '-NOAUTH Authentication required.\r\n+OK\r\n$-1\r\n$7\r\ndefault\r\n');
    } finally {
      c.close();
      await tp.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('without --admin-password the admin verbs need a user allowed every @admin command: a read-only user gets NOPERM', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-acl-admin-'));
    const file = path.join(dir, 'users.acl');
    await writeFile(file, 'user reader on >rpw ~app:* +@read\nuser ops on >opw ~* +@all\n');
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--users-file', file]);
    const reader = await RawClient.connect(tp.port);
    const ops = await RawClient.connect(tp.port);
    try {
      reader.write('AUTH reader rpw\r\nREBALANCE\r\nLIST\r\nREMOVE m0\r\n');
      await reader.waitFor((b) =>
        b.toString() ===
        "+OK\r\n-NOPERM this user has no permissions to run the 'rebalance' command\r\n-NOPERM this user has no permissions to run the 'list' command\r\n-NOPERM this user has no permissions to run the 'remove' command\r\n",
      );
      ops.write('AUTH ops opw\r\nLIST\r\n');
      await ops.waitFor((b) => /^\+OK\r\n\*\d+\r\n\$\d+\r\nm0 /.test(b.toString()));
    } finally {
      reader.close();
      ops.close();
      await tp.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the users file', () => {
  test('a mistake stops the start, naming the line and the rule', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-acl-bad-'));
    try {
      const file = path.join(dir, 'users.acl');
      await writeFile(file, 'user a on >x ~* +@all\nuser b on +nosuchcommand\n');
      await assert.rejects(startTestProxy(['--masters', '1', '--replicas', '0', '--users-file', file]), /users\.acl: line 2: Error in applying operation '\+nosuchcommand': Unknown command or category name in ACL/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('parser: limits, %RW~, reset, admin refused; glob as Redis matches', () => {
    const ok = parseUsersFile('user u on >p %RW~a* proxy-maxclients=3 proxy-max-ops=7\n');
    assert.ok(ok.ok);
    assert.deepEqual(ok.users[0].limits, { maxClients: 3, maxOpsPerSecond: 7 });
    assert.equal(ok.users[0].keys[0].text, '~a*');
    const reset = parseUsersFile('user u on >p ~* +@all reset\n');
    assert.ok(reset.ok && !reset.users[0].enabled && !reset.users[0].allKeys && reset.users[0].passwordHashes.length === 0);
    assert.ok(!parseUsersFile('user admin on >p\n').ok);
    assert.ok(!parseUsersFile('user u on proxy-maxclients=x\n').ok);
    const g = (p: string, s: string) => globMatch(Buffer.from(p), Buffer.from(s));
    assert.ok(g('app:*', 'app:1') && !g('app:*', 'ap') && g('a?c', 'abc') && g('[a-c]x', 'bx') && !g('[^a-c]x', 'bx') && g('a\\*', 'a*') && !g('a\\*', 'ab'));
  });
});
