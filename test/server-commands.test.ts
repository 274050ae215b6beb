/**
 * Server commands an application or a tool expects, through the proxy, checked against
 * the nodes and a real redis-server: INFO, CLIENT, SLOWLOG/LATENCY/MEMORY, OBJECT,
 * DUMP/RESTORE, SORT patterns, WAIT, LASTSAVE/SAVE/BGSAVE, unknown-command wording and
 * the refusals. Clients: ioredis, redis-cli, raw sockets, redis-py (Debian's python3-redis).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { RawClient, redisCli, startTestProxy, strictClient, type TestProxy, keyOnShard } from './support/proxy.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';

const execFileP = promisify(execFile);

let tp: TestProxy;
let redis: Redis;
/** A plain redis-server 7.0 (cluster mode, all slots): the reference for wording. */
let reference: RedisServerHandle;
let ref: Redis;

/** Clients of the masters serving slots, in slot order, authenticated. */
async function masterClients(): Promise<Redis[]> {
  const map = tp.proxy.server.router.slotMap;
  return Promise.all(map.servingMasters().map((i) => strictClient(map.masters[i].port, 5000, tp.proxy.cluster.nodePassword)));
}

function masterAddresses(): string[] {
  const map = tp.proxy.server.router.slotMap;
  return map.servingMasters().map((i) => `${map.masters[i].host}:${map.masters[i].port}`);
}


function parseInfo(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    if (line.startsWith('# ')) sections.set(line.slice(2), (current = new Map()));
    else if (line.includes(':')) current.set(line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1));
  }
  return sections;
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function errorOf(c: Redis, ...args: string[]): Promise<string> {
  try {
    await c.call(args[0], ...args.slice(1));
  } catch (err) {
    return (err as Error).message;
  }
  return '(no error)';
}

before(async () => {
  tp = await startTestProxy(['--masters', '3', '--replicas', '1']);
  redis = await strictClient(tp.port, 10_000);
  reference = await startRedisServer(['--cluster-enabled', 'yes']);
  ref = await strictClient(reference.port);
  await ref.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  await eventually('the reference node serves its slots', async () => /cluster_state:ok/.test((await ref.call('CLUSTER', 'INFO')) as string));
});

after(async () => {
  redis?.disconnect();
  ref?.disconnect();
  await reference?.stop();
  await tp?.close();
});

describe('INFO', () => {
  test('default sections are those of a Redis 7.0 node, plus the proxy\'s own; all/everything/several/unknown', async () => {
    const nodeSections = [...parseInfo(await ref.info()).keys()];
    const proxySections = [...parseInfo(await redis.info()).keys()];
    assert.deepEqual(
      proxySections.filter((s) => !['Nodes', 'Recovery', 'Migration'].includes(s)),
      nodeSections,
    );
    for (const own of ['Nodes', 'Recovery', 'Migration']) assert.ok(proxySections.includes(own), own);
    assert.deepEqual([...parseInfo(await redis.info('default')).keys()], proxySections);
    for (const arg of ['all', 'everything']) {
      const names = [...parseInfo((await redis.call('INFO', arg)) as string).keys()];
      for (const s of [...nodeSections, 'Commandstats', 'Latencystats']) assert.ok(names.includes(s), `${arg}: ${s}`);
    }
    assert.deepEqual([...parseInfo((await redis.call('INFO', 'server', 'CLIENTS')) as string).keys()], ['Server', 'Clients']);
    assert.equal(await redis.call('INFO', 'nosuchsection'), '');
    assert.equal(await redisCli(tp.port, ['info', 'nosuchsection']), '');
  });

  test('every field a node prints in Server, Clients, Memory, Persistence, Stats, CPU is there, in Redis format', async () => {
    const node = parseInfo(await ref.info());
    const text = await redis.info();
    assert.match(text, /^# Server\r\nredis_version:7\.0\.\d+\r\n/);
    assert.ok(text.endsWith('\r\n'));
    const proxy = parseInfo(text);
    for (const section of ['Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'CPU']) {
      for (const field of node.get(section)!.keys()) assert.ok(proxy.get(section)!.has(field), `${section} ${field}`);
    }
    const server = proxy.get('Server')!;
    assert.equal(server.get('redis_mode'), 'cluster');
    assert.equal(server.get('process_id'), String(process.pid));
    assert.equal(server.get('tcp_port'), String(tp.port));
    assert.match(server.get('run_id')!, /^[0-9a-f]{40}$/);
    const cpu = proxy.get('CPU')!;
    assert.match(cpu.get('used_cpu_user')!, /^\d+\.\d{6}$/);
    assert.ok(Number(cpu.get('used_cpu_user')) > 0);
    const clients = proxy.get('Clients')!;
    assert.ok(Number(clients.get('connected_clients')) >= 1);
    assert.equal(clients.get('maxclients'), String(tp.config.maxclients));
    assert.match(proxy.get('Stats')!.get('instantaneous_ops_per_sec')!, /^\d+$/);
    assert.equal(proxy.get('Cluster')!.get('cluster_enabled'), '1');
  });

  test('keyspace, hits/misses and rdb_changes_since_last_save are the masters\' sums', async () => {
    await redis.flushall();
    for (let m = 0; m < 3; m++) {
      await redis.set(keyOnShard(tp, m, 'sum'), 'v');
      await redis.set(keyOnShard(tp, m, 'ttl'), 'v', 'EX', 1000);
      await redis.get(keyOnShard(tp, m, 'sum'));
      await redis.get(keyOnShard(tp, m, 'missing'));
    }
    const masters = await masterClients();
    try {
      const proxy = parseInfo(await redis.info());
      const nodes = await Promise.all(masters.map(async (m) => parseInfo(await m.info())));
      const sum = (section: string, field: string): number => nodes.reduce((n, i) => n + Number(i.get(section)!.get(field)), 0);
      for (const field of ['keyspace_hits', 'keyspace_misses', 'expired_keys']) {
        assert.equal(Number(proxy.get('Stats')!.get(field)), sum('Stats', field), field);
      }
      assert.equal(Number(proxy.get('Persistence')!.get('rdb_changes_since_last_save')), sum('Persistence', 'rdb_changes_since_last_save'));
      assert.match(proxy.get('Keyspace')!.get('db0')!, /^keys=6,expires=3,avg_ttl=\d+$/);
      const used = Number(proxy.get('Memory')!.get('used_memory'));
      const nodeUsed = sum('Memory', 'used_memory');
      assert.ok(Math.abs(used - nodeUsed) < nodeUsed * 0.1, `used_memory ${used} vs ${nodeUsed}`);
      assert.match(proxy.get('Memory')!.get('used_memory_human')!, /^\d+\.\d\dM$/);
    } finally {
      for (const m of masters) m.disconnect();
    }
  });

  test('commandstats and errorstats count the proxy\'s own traffic', async () => {
    const before = parseInfo((await redis.call('INFO', 'commandstats')) as string).get('Commandstats')!;
    const calls = (line: string | undefined): number => Number(/calls=(\d+)/.exec(line ?? 'calls=0')![1]);
    for (let i = 0; i < 25; i++) await redis.get('cs:x');
    await errorOf(redis, 'nosuchcommand');
    await errorOf(redis, 'MONITOR');
    const info = parseInfo((await redis.call('INFO', 'all')) as string);
    const stats = info.get('Commandstats')!;
    assert.equal(calls(stats.get('cmdstat_get')) - calls(before.get('cmdstat_get')), 25);
    assert.match(stats.get('cmdstat_get')!, /^calls=\d+,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=\d+,failed_calls=\d+$/);
    assert.match(stats.get('cmdstat_monitor')!, /rejected_calls=[1-9]/);
    assert.ok(Number(/count=(\d+)/.exec(info.get('Errorstats')!.get('errorstat_ERR')!)![1]) >= 2);
  });

  test('CONFIG RESETSTAT zeroes the proxy\'s commandstats; a call answered with an error counts in failed_calls', async () => {
    await redis.get('rs:x');
    assert.equal(await redis.call('CONFIG', 'RESETSTAT'), 'OK');
    let stats = parseInfo((await redis.call('INFO', 'commandstats')) as string).get('Commandstats')!;
    assert.equal(stats.get('cmdstat_get'), undefined, 'GET not counted since RESETSTAT');
    await redis.set('rs:s', 'v');
    await errorOf(redis, 'LPUSH', 'rs:s', 'x'); // WRONGTYPE from the node
    await redis.lpush('rs:l', 'x');
    stats = parseInfo((await redis.call('INFO', 'commandstats')) as string).get('Commandstats')!;
    assert.match(stats.get('cmdstat_lpush')!, /^calls=2,.*,rejected_calls=0,failed_calls=1$/);
    assert.match(stats.get('cmdstat_set')!, /^calls=1,.*,failed_calls=0$/);
  });

  test('blocked_clients counts a BLPOP waiting through the proxy; CLIENT LIST shows it blocked', async () => {
    const blocker = await strictClient(tp.port, 20_000);
    try {
      const blockedClients = async (): Promise<number> => Number(parseInfo(await redis.info('clients')).get('Clients')!.get('blocked_clients'));
      assert.equal(await blockedClients(), 0);
      const popped = blocker.blpop('bl:list', 10);
      await eventually('blocked_clients 1', async () => (await blockedClients()) === 1);
      const line = ((await redis.client('LIST')) as string).split('\n').find((l) => l.includes('cmd=blpop'));
      assert.match(line ?? '', /flags=b /);
      await redis.lpush('bl:list', 'x');
      assert.deepEqual(await popped, ['bl:list', 'x']);
      assert.equal(await blockedClients(), 0);
    } finally {
      blocker.disconnect();
    }
  });
});

describe('CLIENT', () => {
  test('LIST and INFO lines in Redis 7 format; ID, SETNAME/GETNAME; LIST ID; LIST TYPE', async () => {
    const other = await strictClient(tp.port);
    try {
      await other.client('SETNAME', 'worker-1');
      const id = (await other.client('ID')) as number;
      const info = (await other.client('INFO')) as string;
      // ioredis 6 speaks RESP3 by default (HELLO 3 at connect): resp=3.
      assert.match(
        info,
        new RegExp(
          `^id=${id} addr=127\\.0\\.0\\.1:\\d+ laddr=127\\.0\\.0\\.1:${tp.port} fd=-?\\d+ name=worker-1 age=\\d+ idle=\\d+ flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=\\d+ qbuf-free=\\d+ argv-mem=\\d+ multi-mem=\\d+ rbs=\\d+ rbp=\\d+ obl=\\d+ oll=\\d+ omem=\\d+ tot-mem=\\d+ events=r cmd=client\\|info user=default redir=-1 resp=3`,
        ),
      );
      const refLine = (await ref.client('INFO')) as string;
      const fieldNames = (l: string): string[] => l.trim().split(' ').map((kv) => kv.split('=')[0]);
      assert.deepEqual(fieldNames(info).slice(0, fieldNames(refLine).length), fieldNames(refLine));
      assert.equal(await other.client('GETNAME'), 'worker-1');
      const list = (await redis.client('LIST')) as string;
      assert.ok(list.split('\n').some((l) => l.startsWith(`id=${id} `) && l.includes('name=worker-1')));
      assert.equal(((await redis.call('CLIENT', 'LIST', 'ID', String(id))) as string).split('\n').filter(Boolean).length, 1);
      assert.equal(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'), '');
      assert.equal(await errorOf(redis, 'CLIENT', 'LIST', 'ID', 'abc'), await errorOf(ref, 'CLIENT', 'LIST', 'ID', 'abc'));
      assert.equal(await errorOf(redis, 'CLIENT', 'SETNAME', 'a b'), await errorOf(ref, 'CLIENT', 'SETNAME', 'a b'));
    } finally {
      other.disconnect();
    }
  });

  test('LIST shows a client in MULTI (flags=x, multi=<queued>) and a subscriber (flags=P, sub/psub); TYPE pubsub finds it', async () => {
    const inMulti = await RawClient.connect(tp.port);
    const subscriber = await RawClient.connect(tp.port);
    try {
      inMulti.write('MULTI\r\nSET {m}a 1\r\nINCR {m}b\r\n');
      await inMulti.waitFor((d) => d.toString('latin1').split('+QUEUED').length === 3);
      subscriber.write('SUBSCRIBE c1 c2\r\nPSUBSCRIBE p*\r\n');
      await subscriber.waitFor((d) => d.toString('latin1').includes('psubscribe'));
      const lines = ((await redis.client('LIST')) as string).split('\n');
      const line = (port: number | undefined): string => lines.find((l) => l.includes(`addr=127.0.0.1:${port} `)) ?? '';
      assert.match(line(inMulti.socket.localPort), / flags=x db=0 sub=0 psub=0 ssub=0 multi=2 /);
      assert.match(line(subscriber.socket.localPort), / flags=P db=0 sub=2 psub=1 ssub=0 multi=-1 /);
      const pubsub = ((await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string).split('\n').filter(Boolean);
      assert.equal(pubsub.length, 1);
      assert.match(pubsub[0], new RegExp(`addr=127\\.0\\.0\\.1:${subscriber.socket.localPort} `));
    } finally {
      inMulti.close();
      subscriber.close();
    }
  });

  test('KILL: by ID, by ADDR (old form), SKIPME, and Redis\'s errors', async () => {
    const victim = await RawClient.connect(tp.port);
    const ids = ((await redis.client('LIST')) as string).split('\n').filter(Boolean).map((l) => Number(/^id=(\d+)/.exec(l)![1]));
    const victimId = Math.max(...ids); // the newest connection
    assert.equal(await redis.call('CLIENT', 'KILL', 'ID', String(victimId)), 1);
    await victim.waitFor((_d, closed) => closed);
    const second = await RawClient.connect(tp.port);
    const addr = `127.0.0.1:${second.socket.localPort}`;
    assert.equal(await redis.call('CLIENT', 'KILL', addr), 'OK');
    await second.waitFor((_d, closed) => closed);
    const myId = (await redis.client('ID')) as number;
    assert.equal(await redis.call('CLIENT', 'KILL', 'ID', String(myId)), 0, 'SKIPME yes by default');
    for (const args of [
      ['CLIENT', 'KILL', '1.2.3.4:5'],
      ['CLIENT', 'KILL', 'ID', 'abc'],
      ['CLIENT', 'KILL', 'TYPE', 'foo'],
      ['CLIENT', 'KILL', 'SKIPME', 'maybe'],
      ['CLIENT', 'KILL', 'foo', 'bar'],
    ]) {
      assert.equal(await errorOf(redis, ...args), await errorOf(ref, ...args), args.join(' '));
    }
    const self = await strictClient(tp.port);
    const selfId = (await self.client('ID')) as number;
    assert.equal(await self.call('CLIENT', 'KILL', 'ID', String(selfId), 'SKIPME', 'no'), 1);
    await eventually('the client that killed itself is closed', async () => self.status === 'end' || self.status === 'close');
  });

  test('PAUSE WRITE holds writes (not reads) until it ends; UNPAUSE ends it early; PAUSE ALL holds everything', async () => {
    const writer = await strictClient(tp.port, 10_000);
    try {
      assert.equal(await redis.call('CLIENT', 'PAUSE', '800', 'WRITE'), 'OK');
      const started = Date.now();
      assert.equal(await writer.get('pause:k'), null, 'reads go on');
      assert.ok(Date.now() - started < 700, 'a read is not held');
      await writer.set('pause:k', '1');
      assert.ok(Date.now() - started >= 600, `a write waits for the pause (${Date.now() - started} ms)`);

      assert.equal(await redis.call('CLIENT', 'PAUSE', '20000', 'WRITE'), 'OK');
      let done = false;
      const write = writer.set('pause:k', '2').then(() => (done = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(done, false, 'held while paused');
      assert.equal(Number(parseInfo(await redis.info('clients')).get('Clients')!.get('blocked_clients')), 1, 'a paused client counts as blocked');
      assert.equal(await redis.call('CLIENT', 'UNPAUSE'), 'OK');
      await write;
      assert.equal(await redis.get('pause:k'), '2');

      assert.equal(await redis.call('CLIENT', 'PAUSE', '400'), 'OK');
      const t0 = Date.now();
      await writer.ping();
      assert.ok(Date.now() - t0 >= 250, 'ALL holds even PING');
      for (const args of [
        ['CLIENT', 'PAUSE', 'abc'],
        ['CLIENT', 'PAUSE', '-1'],
        ['CLIENT', 'PAUSE', '10', 'bar'],
      ]) {
        assert.equal(await errorOf(redis, ...args), await errorOf(ref, ...args), args.join(' '));
      }
    } finally {
      writer.disconnect();
    }
  });

  test('REPLY OFF / SKIP / ON', async () => {
    const c = await RawClient.connect(tp.port);
    try {
      c.write('CLIENT REPLY SKIP\r\nSET rp:a 1\r\nPING first\r\nCLIENT REPLY OFF\r\nSET rp:b 2\r\nGET rp:b\r\nCLIENT REPLY ON\r\nGET rp:b\r\n');
      const data = await c.waitFor((d) => d.toString().includes('$1\r\n2\r\n'));
      assert.equal(data.toString(), '$5\r\nfirst\r\n+OK\r\n$1\r\n2\r\n');
      c.write('CLIENT REPLY OFF\r\nPING\r\nRESET\r\nPING\r\n');
      await c.waitFor((d) => d.toString().endsWith('+RESET\r\n+PONG\r\n'));
      assert.equal(await redis.get('rp:a'), '1');
      assert.equal(await errorOf(redis, 'CLIENT', 'REPLY', 'maybe'), await errorOf(ref, 'CLIENT', 'REPLY', 'maybe'));
    } finally {
      c.close();
    }
  });

  test('UNBLOCK a client blocked through the proxy: TIMEOUT gives the timeout reply, ERROR -UNBLOCKED', async () => {
    const blocker = await strictClient(tp.port, 20_000);
    try {
      const id = (await blocker.client('ID')) as number;
      assert.equal(await redis.call('CLIENT', 'UNBLOCK', String(id)), 0, 'not blocked');
      const waiting = blocker.blpop('ub:list', 15);
      await eventually('blocked', async () => ((await redis.client('LIST')) as string).includes('cmd=blpop'));
      await eventually('unblocked', async () => (await redis.call('CLIENT', 'UNBLOCK', String(id))) === 1);
      assert.equal(await waiting, null);
      const erroring = blocker.blpop('ub:list', 15).then(
        () => 'resolved',
        (err: Error) => err.message,
      );
      await eventually('blocked again', async () => Number(parseInfo(await redis.info('clients')).get('Clients')!.get('blocked_clients')) === 1);
      await eventually('unblocked again', async () => (await redis.call('CLIENT', 'UNBLOCK', String(id), 'ERROR')) === 1);
      assert.equal(await erroring, 'UNBLOCKED client unblocked via CLIENT UNBLOCK');
      assert.equal(await blocker.ping(), 'PONG', 'the client goes on');
      for (const args of [
        ['CLIENT', 'UNBLOCK', 'abc'],
        ['CLIENT', 'UNBLOCK', '5', 'foo'],
      ]) {
        assert.equal(await errorOf(redis, ...args), await errorOf(ref, ...args), args.join(' '));
      }
    } finally {
      blocker.disconnect();
    }
  });

  test('NO-EVICT, GETREDIR, TRACKINGINFO; unknown subcommands as Redis words them', async () => {
    assert.equal(await redis.call('CLIENT', 'NO-EVICT', 'on'), 'OK');
    assert.match((await redis.client('INFO')) as string, / flags=e /);
    assert.equal(await redis.call('CLIENT', 'NO-EVICT', 'off'), 'OK');
    assert.equal(await redis.call('CLIENT', 'GETREDIR'), -1);
    for (const args of [
      ['CLIENT', 'NO-EVICT', 'maybe'],
      ['CLIENT', 'foo'],
      ['CLIENT', 'NO-TOUCH', 'on'],
      ['CLIENT', 'KILL'],
    ]) {
      assert.equal(await errorOf(redis, ...args), await errorOf(ref, ...args), args.join(' '));
    }
  });
});

describe('SLOWLOG, LATENCY, MEMORY merged over masters', () => {
  test('SLOWLOG GET/LEN/RESET: every master\'s entries, newest first, the node in the client field', async () => {
    const masters = await masterClients();
    try {
      for (const m of masters) await m.config('SET', 'slowlog-log-slower-than', '0');
      for (const m of masters) await m.slowlog('RESET');
      for (let i = 0; i < 3; i++) for (let m = 0; m < 3; m++) await redis.set(keyOnShard(tp, m, `slow${i}`), 'v');
      const entries = (await redis.call('SLOWLOG', 'GET', '5')) as [number, number, number, string[], string, string][];
      assert.equal(entries.length, 5);
      for (let i = 1; i < entries.length; i++) assert.ok(entries[i - 1][1] >= entries[i][1], 'newest first');
      const addresses = masterAddresses();
      for (const e of entries) assert.ok(addresses.includes(e[4]), `client field ${e[4]} is a master`);
      const all = (await redis.call('SLOWLOG', 'GET', '-1')) as unknown[][];
      const sets = all.filter((e) => (e[3] as string[])[0] === 'set');
      assert.equal(sets.length, 9, 'every SET, from every master');
      // Every command is logged (threshold 0), the proxy's own health checks too, so each
      // master's length only grows: the proxy's sum lies between the sums read just before and
      // just after it.
      const sumOfMasters = async (): Promise<number> =>
        (await Promise.all(masters.map((m) => m.call('SLOWLOG', 'LEN') as Promise<number>))).reduce((a, b) => a + b, 0);
      const before = await sumOfMasters();
      const len = (await redis.call('SLOWLOG', 'LEN')) as number;
      const after = await sumOfMasters();
      assert.ok(before <= len && len <= after, `LEN ${len} is the masters' sum (between ${before} and ${after})`);
      assert.equal(await redis.call('SLOWLOG', 'RESET'), 'OK');
      assert.ok(((await redis.call('SLOWLOG', 'LEN')) as number) <= 3);
      assert.equal(await errorOf(redis, 'SLOWLOG', 'GET', '-2'), await errorOf(ref, 'SLOWLOG', 'GET', '-2'));
      assert.equal(await errorOf(redis, 'SLOWLOG', 'foo'), await errorOf(ref, 'SLOWLOG', 'foo'));
    } finally {
      for (const m of masters) {
        await m.config('SET', 'slowlog-log-slower-than', '10000');
        m.disconnect();
      }
    }
  });

  test('LATENCY LATEST/HISTORY/RESET/DOCTOR, MEMORY USAGE/STATS/DOCTOR answer; unknown subcommands as Redis', async () => {
    assert.ok(Array.isArray(await redis.call('LATENCY', 'LATEST')));
    assert.ok(Array.isArray(await redis.call('LATENCY', 'HISTORY', 'command')));
    assert.equal(typeof (await redis.call('LATENCY', 'RESET')), 'number');
    const doctor = (await redis.call('LATENCY', 'DOCTOR')) as string;
    for (const a of masterAddresses()) assert.ok(doctor.includes(`node ${a}:`), `DOCTOR names ${a}`);
    await redis.set('mem:k', 'x'.repeat(1000));
    assert.ok(((await redis.call('MEMORY', 'USAGE', 'mem:k')) as number) > 1000);
    const stats = (await redis.call('MEMORY', 'STATS')) as unknown[];
    const peak = stats[stats.indexOf('peak.allocated') + 1] as number;
    assert.ok(peak > 0);
    for (const args of [['LATENCY', 'foo'], ['MEMORY', 'foo'], ['OBJECT', 'foo'], ['ACL', 'foo'], ['CLUSTER', 'foo']]) {
      assert.equal(await errorOf(redis, ...args), await errorOf(ref, ...args), args.join(' '));
    }
  });
});

describe('keys: OBJECT, DUMP/RESTORE, COPY/RENAME, SORT patterns', () => {
  test('OBJECT ENCODING/REFCOUNT/IDLETIME, DUMP/RESTORE round trip, COPY/RENAME within a slot, CROSSSLOT otherwise', async () => {
    await redis.del('{o}int', '{o}list', '{o}copy', '{o}renamed', '{o}restored');
    await redis.set('{o}int', '12345');
    await redis.rpush('{o}list', 'a', 'b');
    assert.equal(await redis.call('OBJECT', 'ENCODING', '{o}int'), 'int');
    await ref.del('{o}list');
    await ref.rpush('{o}list', 'a', 'b');
    assert.equal(await redis.call('OBJECT', 'ENCODING', '{o}list'), await ref.call('OBJECT', 'ENCODING', '{o}list'));
    assert.equal(typeof (await redis.call('OBJECT', 'REFCOUNT', '{o}list')), 'number');
    assert.equal(typeof (await redis.call('OBJECT', 'IDLETIME', '{o}list')), 'number');
    const dump = await redis.dumpBuffer('{o}list');
    assert.equal(await redis.call('RESTORE', '{o}restored', '0', dump), 'OK');
    assert.deepEqual(await redis.lrange('{o}restored', 0, -1), ['a', 'b']);
    assert.equal(await redis.call('COPY', '{o}list', '{o}copy'), 1);
    assert.equal(await redis.rename('{o}copy', '{o}renamed'), 'OK');
    assert.deepEqual(await redis.lrange('{o}renamed', 0, -1), ['a', 'b']);
    await assert.rejects(redis.call('COPY', '{o}list', '{p}copy'), /^ReplyError: CROSSSLOT/);
    await assert.rejects(redis.rename('{o}list', '{p}x'), /CROSSSLOT/);
    await assert.rejects(redis.smove('{o}s', '{p}s', 'm'), /CROSSSLOT/);
  });

  test('SORT BY/GET patterns get the answer of a Redis 7.0 cluster node', async () => {
    await redis.del('{s}l');
    await ref.del('{s}l');
    for (const c of [redis, ref]) {
      await c.rpush('{s}l', '3', '1', '2');
      await c.set('{s}w_1', '9');
    }
    for (const args of [
      ['SORT', '{s}l', 'BY', '{s}w_*'],
      ['SORT', '{s}l', 'BY', 'w_*'],
      ['SORT', '{s}l', 'GET', '{s}w_*'],
      ['SORT', '{s}l', 'GET', '#'],
      ['SORT_RO', '{s}l', 'BY', '{s}w_*'],
    ]) {
      assert.equal(await errorOf(redis, ...args), await errorOf(ref, ...args), args.join(' '));
    }
    assert.deepEqual(await redis.call('SORT', '{s}l', 'BY', 'nosort'), await ref.call('SORT', '{s}l', 'BY', 'nosort'));
    assert.deepEqual(await redis.call('SORT', '{s}l'), ['1', '2', '3']);
  });
});

describe('WAIT, LASTSAVE, SAVE/BGSAVE', () => {
  test('WAIT counts the replicas of the master the client last wrote to that acknowledged its write', async () => {
    const c = await strictClient(tp.port, 10_000);
    try {
      assert.equal(await c.call('WAIT', '0', '0'), 1, 'no write yet: the connected replicas');
      await c.set('wait:k', 'v');
      assert.equal(await c.call('WAIT', '1', '5000'), 1);
      const t0 = Date.now();
      assert.equal(await c.call('WAIT', '2', '300'), 1, 'only one replica per master');
      assert.ok(Date.now() - t0 >= 250, 'waited for the timeout');
      assert.equal(await errorOf(c, 'WAIT', '1', '-1'), await errorOf(ref, 'WAIT', '1', '-1'));
      assert.equal(await errorOf(c, 'WAIT', 'a', '1'), await errorOf(ref, 'WAIT', 'a', '1'));
    } finally {
      c.disconnect();
    }
  });

  test('LASTSAVE is the oldest master\'s; SAVE and BGSAVE run on every master', async () => {
    const masters = await masterClients();
    try {
      const times = await Promise.all(masters.map((m) => m.lastsave()));
      assert.equal(await redis.lastsave(), Math.min(...times));
      assert.equal(await redis.save(), 'OK');
      const after = await Promise.all(masters.map((m) => m.lastsave()));
      for (let i = 0; i < after.length; i++) assert.ok(after[i] >= times[i]);
      assert.equal(await redis.lastsave(), Math.min(...after));
      const bg = await redis.bgsave().catch((err: Error) => err.message);
      assert.match(String(bg), /Background saving started|already in progress/);
    } finally {
      for (const m of masters) m.disconnect();
    }
  });
});

describe('unknown commands and refusals', () => {
  test('unknown commands and subcommands in Redis\'s own words', async () => {
    for (const args of [['nosuch', 'a', 'b'], ['OBJECT'], ['XINFO', 'nosuch'], ['CLIENT', 'nosuch', 'x']]) {
      assert.equal(await errorOf(redis, ...args), await errorOf(ref, ...args), args.join(' '));
    }
  });

  test('each refusal names the command and says why', async () => {
    const refused: [string[], RegExp][] = [
      [['MONITOR'], /one node's commands/],
      [['DEBUG', 'SLEEP', '0'], /one node's internals/],
      [['SHUTDOWN'], /run by the proxy/],
      [['REPLICAOF', 'NO', 'ONE'], /replication .* managed by the proxy/],
      [['SLAVEOF', 'NO', 'ONE'], /replication .* managed by the proxy/],
      [['SYNC'], /replication .* managed by the proxy/],
      [['MODULE', 'LIST'], /every node/],
      [['CLUSTER', 'ADDSLOTS', '1'], /managed by the proxy/],
      [['CLUSTER', 'FORGET', 'x'], /managed by the proxy/],
      [['ACL', 'SETUSER', 'bob'], /--requirepass/],
    ];
    for (const [args, why] of refused) {
      const message = await errorOf(redis, ...args);
      assert.match(message, new RegExp(`^ERR '${args[0] === 'CLUSTER' || args[0] === 'ACL' ? `${args[0]} ${args[1]}` : args[0]}' is not supported by interface-hash-server: `, 'i'), message);
      assert.match(message, why, message);
    }
    assert.equal(await redis.call('ACL', 'WHOAMI'), 'default');
    assert.ok(((await redis.call('ACL', 'CAT')) as string[]).includes('keyspace'));
    assert.deepEqual(await redis.call('ROLE'), ['master', 0, []]);
  });
});

describe('stock clients', () => {
  test('redis-py parses INFO, CLIENT LIST and SLOWLOG GET', async () => {
    const script = `
import redis, json
r = redis.Redis(host='127.0.0.1', port=${tp.port})
info = r.info()
everything = r.info('everything')
clients = r.client_list()
me = r.client_info()
slow = r.slowlog_get(3)
print(json.dumps({
  'mode': info['redis_mode'], 'connected': info['connected_clients'], 'cpu': info['used_cpu_user'],
  'db0': info.get('db0'), 'cmdstat': 'cmdstat_info' in everything,
  'clients': len(clients), 'me': me['id'], 'slow': isinstance(slow, list)}))
`;
    const { stdout } = await execFileP('/usr/bin/python3', ['-c', script], { timeout: 20_000 });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(out.mode, 'cluster');
    assert.equal(typeof out.connected, 'number');
    assert.equal(typeof out.cpu, 'number');
    assert.equal(out.cmdstat, true);
    assert.ok((out.clients as number) >= 2);
    assert.equal(typeof out.me, 'number');
    assert.equal(out.slow, true);
  });

  test('redis-cli INFO server and CLIENT LIST', async () => {
    assert.match(await redisCli(tp.port, ['info', 'server']), /redis_mode:cluster/);
    assert.match(await redisCli(tp.port, ['client', 'list']), /cmd=client\|list/);
  });
});
