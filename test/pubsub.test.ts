/**
 * Pub/Sub through the proxy (issue 7, part 2), against a real 3-master cluster the proxy
 * runs, with stock clients (redis-cli, ioredis, node-redis, redis-py) and raw sockets:
 *   - PSUBSCRIBE ch:* gets all 20 of PUBLISH ch:1..20, whose slots are on every master;
 *   - keyspace notifications of every master, each once;
 *   - SUBSCRIBE counts, UNSUBSCRIBE of everything back to normal mode, RESET;
 *   - confirmations and messages under CLIENT REPLY OFF;
 *   - the subscribed-mode error and PING's array form, in Redis 7.0's words;
 *   - SSUBSCRIBE/SPUBLISH, and PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB;
 *   - a client that leaves leaves no subscription on any node;
 *   - 10 000 subscribers of one channel each get every message;
 *   - a subscriber that does not read is disconnected past --client-output-buffer-limit-pubsub
 *     while another keeps getting every message;
 *   - subscribers (channel and shard channel) survive kill -9 of the master their
 *     subscriptions are on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { keySlot } from '../src/cluster/key-slot.js';
import { globMatch } from '../src/proxy/modes/glob-match.js';
import { asPush, confirmation } from '../src/proxy/modes/pubsub.js';
import { patternMayMatchKeyspace } from '../src/proxy/modes/keyspace-fan-in.js';
import { RawClient, startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';

const skip = await skipWithoutRedis();
const execFileP = promisify(execFile);

const LIMIT_FLAG = '512kb 256kb 60';
const NOT_ALLOWED = "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

function count(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

test('RESP3 seam: confirmations and messages are push frames (>) for a RESP3 client, the same bytes otherwise', () => {
  assert.equal(confirmation('subscribe', Buffer.from('a'), 1, 2).toString('latin1'), '*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n');
  assert.equal(confirmation('unsubscribe', null, 0, 3).toString('latin1'), '>3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n');
  const message = Buffer.from('*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nc\r\n$1\r\nm\r\n', 'latin1');
  assert.equal(asPush(message).toString('latin1'), '>4' + message.toString('latin1').slice(2));
  assert.equal(message[0], 0x2a, 'the RESP2 bytes stay as they were (shared by the RESP2 subscribers)');
});

describe('Pub/Sub through the proxy', { skip }, () => {
  let tp: TestProxy;
  let c: Redis;

  /** The master ports, from the proxy's own slot map. */
  function masterOf(name: string): { host: string; port: number } {
    const map = tp.proxy.server.router.slotMap;
    return map.masters[map.slotToMaster[keySlot(Buffer.from(name))]];
  }

  async function onEveryMaster<T>(fn: (node: Redis) => Promise<T>): Promise<T[]> {
    const map = tp.proxy.server.router.slotMap;
    const out: T[] = [];
    for (const i of map.servingMasters()) {
      const node = await strictClient(map.masters[i].port, 3000, tp.proxy.cluster.nodePassword || undefined);
      try {
        out.push(await fn(node));
      } finally {
        node.disconnect();
      }
    }
    return out;
  }

  before(async () => {
    tp = await startTestProxy(['--maxclients', '10100', '--client-output-buffer-limit-pubsub', LIMIT_FLAG]);
    c = await strictClient(tp.port);
  });

  after(async () => {
    c?.disconnect();
    const dir = tp?.dataDir;
    await tp?.close();
    if (dir !== undefined) await killRedisServersUnder(dir).catch(() => {});
  });

  test('redis-cli PSUBSCRIBE ch:* receives all 20 of PUBLISH ch:1..20, whose slots are on every master', async () => {
    const owners = new Set<number>();
    for (let i = 1; i <= 20; i++) owners.add(masterOf(`ch:${i}`).port);
    assert.equal(owners.size, 3, 'the channels hash to all three masters');
    const cli = spawn('redis-cli', ['-p', String(tp.port), 'psubscribe', 'ch:*']);
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until('the psubscribe confirmation', 10_000, () => out.includes('psubscribe'));
      for (let i = 1; i <= 20; i++) assert.equal(await c.publish(`ch:${i}`, `m${i}`), 1, `PUBLISH ch:${i} reaches the one pattern subscriber`);
      await until('20 pmessages', 10_000, () => count(out, 'pmessage\n') === 20);
      for (let i = 1; i <= 20; i++) assert.ok(out.includes(`pmessage\nch:*\nch:${i}\nm${i}\n`), `ch:${i} arrived: ${out}`);
    } finally {
      cli.kill();
    }
  });

  test('keyspace notifications of every master reach PSUBSCRIBE * and SUBSCRIBE __keyevent@0__:set, each once (a node publishes them to its own subscribers only)', async () => {
    const keys = ['ks:a', 'ks:b', 'ks:c', 'ks:d', 'ks:e', 'ks:f', 'ks:g', 'ks:h'];
    assert.equal(new Set(keys.map((k) => masterOf(k).port)).size, 3, 'the keys live on all three masters');
    assert.equal(await c.config('SET', 'notify-keyspace-events', 'KE$'), 'OK');
    const pat = await strictClient(tp.port);
    const chan = await strictClient(tp.port);
    try {
      const byPattern: string[] = [];
      const byChannel: string[] = [];
      pat.on('pmessage', (_p: string, ch: string, msg: string) => byPattern.push(`${ch} ${msg}`));
      chan.on('message', (ch: string, msg: string) => byChannel.push(`${ch} ${msg}`));
      assert.equal(await pat.psubscribe('__key*'), 1);
      assert.equal(await chan.subscribe('__keyevent@0__:set'), 1);
      for (const k of keys) await c.set(k, 'v');
      await until('16 keyspace/keyevent notifications', 5000, () => byPattern.length >= 16 && byChannel.length >= 8);
      await sleep(200); // and no duplicate after them
      for (const k of keys) {
        assert.equal(byPattern.filter((m) => m === `__keyspace@0__:${k} set`).length, 1, `${k}: ${byPattern.join(', ')}`);
        assert.equal(byPattern.filter((m) => m === `__keyevent@0__:set ${k}`).length, 1, k);
        assert.equal(byChannel.filter((m) => m === `__keyevent@0__:set ${k}`).length, 1, k);
      }
      assert.equal(byPattern.length, 16);
      assert.equal(byChannel.length, 8);
      // An ordinary PUBLISH still reaches a pattern subscriber once (the cluster relays it to every node).
      assert.equal(await c.publish('__key-not-an-event', 'x'), 1);
      await until('the published message', 5000, () => byPattern.includes('__key-not-an-event x'));
      await sleep(200);
      assert.equal(byPattern.filter((m) => m === '__key-not-an-event x').length, 1);
    } finally {
      pat.disconnect();
      chan.disconnect();
      await c.config('SET', 'notify-keyspace-events', '');
    }
  });

  test('CLIENT REPLY OFF: (un)subscribe confirmations and messages still come (push replies, as Redis 7.0), other replies do not', async () => {
    const r = await RawClient.connect(tp.port);
    try {
      r.write('CLIENT REPLY OFF\r\n');
      r.write('SUBSCRIBE quiet\r\n');
      await r.waitFor((d) => d.toString('latin1').includes('subscribe\r\n$5\r\nquiet\r\n:1\r\n'));
      assert.equal(await c.publish('quiet', 'hello'), 1);
      await r.waitFor((d) => d.toString('latin1').includes('$7\r\nmessage\r\n$5\r\nquiet\r\n$5\r\nhello\r\n'));
      r.write('UNSUBSCRIBE quiet\r\n');
      r.write('PING\r\n');
      await r.waitFor((d) => d.toString('latin1').includes('unsubscribe\r\n$5\r\nquiet\r\n:0\r\n'));
      await sleep(100);
      assert.doesNotMatch(r.received().toString('latin1'), /pong|\+OK/i, 'CLIENT REPLY OFF and PING got no reply');
    } finally {
      r.close();
    }
  });

  test('ioredis: SUBSCRIBE counts, messages, UNSUBSCRIBE of everything returns the client to normal mode', async () => {
    const sub = await strictClient(tp.port);
    try {
      const got: string[] = [];
      sub.on('message', (ch: string, msg: string) => got.push(`${ch}=${msg}`));
      assert.equal(await sub.subscribe('news', 'sport'), 2);
      assert.equal(await sub.psubscribe('w*'), 3, 'patterns count with channels');
      assert.equal(await c.publish('news', 'n1'), 1);
      assert.equal(await c.publish('weather', 'rain'), 1, 'reaches the pattern subscriber');
      assert.equal(await c.publish('nobody', 'x'), 0);
      await until('the message', 5000, () => got.length === 1);
      assert.deepEqual(got, ['news=n1']);
      // (ioredis's UNSUBSCRIBE without names waits for a count of 0, which a pattern left subscribed would keep from coming, on Redis too.)
      assert.equal(await sub.punsubscribe('w*'), 2);
      assert.equal(await sub.unsubscribe(), 0);
      assert.equal(await sub.set('k:after-unsubscribe', 'v'), 'OK', 'normal mode again');
      assert.equal(await c.publish('news', 'n2'), 0, 'no subscriber left');
    } finally {
      sub.disconnect();
    }
  });

  test('raw RESP2: the subscribed-mode error, PING as an array, counts and nil confirmations as Redis 7.0 sends them, RESET', async () => {
    const r = await RawClient.connect(tp.port);
    try {
      r.write('SUBSCRIBE a b\r\nGET x\r\nPING\r\nPING hi\r\nSSUBSCRIBE a\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nPING\r\nSUNSUBSCRIBE\r\nPING\r\nSUBSCRIBE q\r\nRESET\r\nGET x\r\n');
      const expected =
        '*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n' +
        `-${NOT_ALLOWED}\r\n` +
        '*2\r\n$4\r\npong\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$2\r\nhi\r\n' +
        '*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:1\r\n' +
        '*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n' +
        '*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n' +
        '*2\r\n$4\r\npong\r\n$0\r\n\r\n' + // still subscribed to a shard channel
        '*3\r\n$12\r\nsunsubscribe\r\n$1\r\na\r\n:0\r\n' +
        '+PONG\r\n' +
        '*3\r\n$9\r\nsubscribe\r\n$1\r\nq\r\n:1\r\n+RESET\r\n$-1\r\n';
      const got = await r.waitFor((d) => d.length >= expected.length, 10_000);
      assert.equal(got.toString('latin1'), expected);
      assert.equal(await c.publish('q', 'x'), 0, 'RESET left the channel');
    } finally {
      r.close();
    }
  });

  // Both protocols: in RESP3 (node-redis 6's default) confirmations and messages are push frames.
  for (const RESP of [2, 3] as const) test(`node-redis, RESP${RESP}: SSUBSCRIBE/SPUBLISH by slot, and PUBSUB answered for the whole proxy`, async () => {
    const client = createClient({ socket: { host: '127.0.0.1', port: tp.port }, RESP });
    client.on('error', () => {});
    await client.connect();
    const sub = client.duplicate();
    sub.on('error', () => {});
    await sub.connect();
    try {
      const got: string[] = [];
      // Shard channels on different masters: each is subscribed on its own slot's master.
      const shards = ['{s}1', 'other-shard'];
      assert.notEqual(masterOf(shards[0]).port, masterOf(shards[1]).port);
      for (const shard of shards) await sub.sSubscribe(shard, (msg, ch) => got.push(`${ch}=${msg}`));
      await sub.subscribe(['c1', 'c2'], () => {});
      await sub.pSubscribe(['p1*', 'p2*'], () => {});
      assert.equal(await client.sPublish('{s}1', 'hello'), 1);
      assert.equal(await client.sPublish('other-shard', 'there'), 1);
      await until('both shard messages', 5000, () => got.length === 2);
      assert.deepEqual(got.sort(), ['other-shard=there', '{s}1=hello']);

      const channels = ((await client.sendCommand(['PUBSUB', 'CHANNELS'])) as string[]).sort();
      assert.deepEqual(channels, ['c1', 'c2']);
      assert.deepEqual(await client.sendCommand(['PUBSUB', 'CHANNELS', '*2']), ['c2']);
      assert.deepEqual(await client.sendCommand(['PUBSUB', 'NUMSUB', 'c1', 'nope']), ['c1', 1, 'nope', 0]);
      assert.equal(await client.sendCommand(['PUBSUB', 'NUMPAT']), 2);
      assert.deepEqual(((await client.sendCommand(['PUBSUB', 'SHARDCHANNELS'])) as string[]).sort(), ['other-shard', '{s}1']);
      assert.deepEqual(await client.sendCommand(['PUBSUB', 'SHARDCHANNELS', '{s}*']), ['{s}1']);
      assert.deepEqual(await client.sendCommand(['PUBSUB', 'SHARDNUMSUB', '{s}1', 'x']), ['{s}1', 1, 'x', 0]);
      await assert.rejects(client.sendCommand(['SSUBSCRIBE', 'a', 'b']), /CROSSSLOT Keys in request don't hash to the same slot/);
      await assert.rejects(client.sendCommand(['PUBSUB', 'NUMPAT', 'x']), /wrong number of arguments for 'pubsub\|numpat' command/);
      await assert.rejects(client.sendCommand(['PUBSUB', 'FOO']), /unknown subcommand 'FOO'. Try PUBSUB HELP./);
    } finally {
      await sub.disconnect();
      await client.disconnect();
    }
    // The client is gone: nothing of it is left on the proxy or on any node.
    await until('PUBSUB to forget the client', 5000, async () => (await c.call('PUBSUB', 'NUMPAT')) === 0);
    assert.deepEqual(await c.call('PUBSUB', 'CHANNELS'), []);
    assert.deepEqual(await c.call('PUBSUB', 'SHARDCHANNELS'), []);
    await until('the nodes to drop the proxy\'s subscriptions', 5000, async () => {
      const left = await onEveryMaster(async (n) => [
        ...((await n.call('PUBSUB', 'CHANNELS')) as string[]),
        ...((await n.call('PUBSUB', 'SHARDCHANNELS')) as string[]),
        String(await n.call('PUBSUB', 'NUMPAT')),
      ]);
      return left.every((l) => l.length === 1 && l[0] === '0');
    });
  });

  test('redis-py (python3-redis): psubscribe and get_message, pubsub_numsub', async () => {
    const script = `
import redis, sys, time
r = redis.Redis(port=int(sys.argv[1]))
p = r.pubsub()
p.psubscribe('py:*')
p.subscribe('py-plain')
assert p.get_message(timeout=5)['type'] == 'psubscribe'
assert p.get_message(timeout=5)['type'] == 'subscribe'
assert r.pubsub_numsub('py-plain') == [(b'py-plain', 1)], r.pubsub_numsub('py-plain')
assert r.publish('py:1', 'one') == 1
assert r.publish('py-plain', 'two') == 1
got = []
deadline = time.time() + 5
while len(got) < 2 and time.time() < deadline:
    m = p.get_message(timeout=1)
    if m: got.append((m['type'], m['channel'], m['data']))
assert got == [('pmessage', b'py:1', b'one'), ('message', b'py-plain', b'two')], got
p.close()
print('ok')
`;
    const { stdout } = await execFileP('/usr/bin/python3', ['-c', script, String(tp.port)], { timeout: 30_000 });
    assert.equal(stdout.trim(), 'ok');
  });

  test('PUBSUB CHANNELS <pattern> matches as a node does (glob: * ? [a-z] [^x] escapes)', async () => {
    const names = ['a', 'ab', 'abc', 'a*c', 'a?c', 'b[1]', 'news.uk', 'news.fr', 'x\\y', '[', ']', 'a-c', 'A', ''];
    const patterns = ['*', 'a*', 'a?c', 'a\\*c', '*[bc]', '[^a]*', '[a-c]', '[c-a]?', 'news.[a-z][a-z]', 'news.[^u]*', 'b\\[1]', '[\\]]', 'x\\\\y', '[', 'a[', '?', '**c', 'a-*', '[a\\-]*'];
    const port = masterOf('a').port;
    const direct = await strictClient(port, 3000, tp.proxy.cluster.nodePassword || undefined);
    const checker = await strictClient(port, 3000, tp.proxy.cluster.nodePassword || undefined);
    try {
      await direct.subscribe(...names.filter((n) => n !== ''));
      for (const pattern of patterns) {
        const fromNode = ((await checker.call('PUBSUB', 'CHANNELS', pattern)) as string[]).sort();
        const ours = names.filter((n) => n !== '' && globMatch(Buffer.from(pattern), Buffer.from(n))).sort();
        assert.deepEqual(ours, fromNode, `pattern ${JSON.stringify(pattern)}`);
      }
    } finally {
      direct.disconnect();
      checker.disconnect();
    }
  });

  test('10 000 subscribers of one channel each get every message', async (t) => {
    const SUBSCRIBERS = 10_000;
    const MESSAGES = 5;
    // The subscribers live in a child process: 10 000 sockets on each side would pass this process's fd limit.
    const rssIdle = process.memoryUsage().rss;
    const crowd = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
import net from 'node:net';
const [port, n] = process.argv.slice(1).map(Number);
const socks = [];
const texts = new Array(n).fill('');
const confirmedBy = new Uint8Array(n);
let confirmed = 0;
function open(i) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => { s.write('SUBSCRIBE crowd\\r\\n'); resolve(); });
    s.on('error', reject);
    s.on('data', (d) => {
      texts[i] += d.toString('latin1');
      if (confirmedBy[i] === 0 && texts[i].includes(':1\\r\\n')) { confirmedBy[i] = 1; confirmed++; }
    });
    socks.push(s);
  });
}
const messagesOf = (i) => texts[i].split('$7\\r\\nmessage\\r\\n').length - 1;
for (let i = 0; i < n; i += 500) {
  const batch = [];
  for (let j = i; j < Math.min(n, i + 500); j++) batch.push(open(j));
  await Promise.all(batch);
}
const wait = async (pred) => { while (!pred()) await new Promise((r) => setTimeout(r, 20)); };
await wait(() => confirmed >= n);
process.stdout.write('ready\\n');
process.stdin.on('data', async (d) => {
  const want = Number(d.toString().trim());
  const deadline = Date.now() + 60000;
  const all = () => { for (let i = 0; i < n; i++) if (messagesOf(i) < want) return false; return true; };
  await wait(() => all() || Date.now() > deadline);
  let min = Infinity, max = 0;
  for (let i = 0; i < n; i++) { const c = messagesOf(i); min = Math.min(min, c); max = Math.max(max, c); }
  process.stdout.write(JSON.stringify({ min, max }) + '\\n');
  for (const s of socks) s.destroy();
  process.exit(0);
});
`,
        String(tp.port),
        String(SUBSCRIBERS),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let out = '';
    crowd.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const t0 = Date.now();
      await until('10 000 confirmed subscriptions', 120_000, () => out.includes('ready'));
      const subscribedMs = Date.now() - t0;
      assert.deepEqual(await c.call('PUBSUB', 'NUMSUB', 'crowd'), ['crowd', SUBSCRIBERS]);
      const rssBefore = process.memoryUsage().rss;
      const t1 = Date.now();
      for (let i = 0; i < MESSAGES; i++) assert.equal(await c.publish('crowd', `message number ${i}`), SUBSCRIBERS);
      crowd.stdin.write(`${MESSAGES}\n`);
      await until('every subscriber to report', 90_000, () => out.includes('{'));
      const fanOutMs = Date.now() - t1;
      const result = JSON.parse(out.slice(out.indexOf('{'))) as { min: number; max: number };
      t.diagnostic(
        `${SUBSCRIBERS} subscribers confirmed in ${subscribedMs} ms; ${MESSAGES} messages to all in ${fanOutMs} ms; ` +
          `proxy process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB: ${((rssBefore - rssIdle) / 2 ** 20).toFixed(0)} MB more with the 10 000 subscribed, ` +
          `${((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(1)} MB more after the messages; ` +
          `backend subscriber connections: ${tp.proxy.server.pubsub.connectionCount}`,
      );
      assert.equal(result.min, MESSAGES, 'every subscriber got every message');
      assert.equal(result.max, MESSAGES, 'and no message twice');
    } finally {
      crowd.kill();
    }
    await until('the crowd to be gone', 30_000, async () => (await c.call('PUBSUB', 'NUMSUB', 'crowd'))?.toString() === 'crowd,0');
  });

  test('a subscriber that does not read is disconnected past --client-output-buffer-limit-pubsub; another gets every message', async () => {
    const slow = await RawClient.connect(tp.port);
    const fast = await strictClient(tp.port);
    try {
      slow.write('SUBSCRIBE flood\r\n');
      await slow.waitFor((d) => d.includes(':1\r\n'));
      slow.socket.pause(); // reads nothing from now on: kernel buffers fill, then the proxy's
      let fastGot = 0;
      fast.on('messageBuffer', () => fastGot++);
      await fast.subscribe('flood');
      const payload = Buffer.alloc(64 * 1024, 'x');
      const N = 300; // ~19 MB: far past the kernel's buffers and the 512 KB hard limit
      for (let i = 0; i < N; i++) await c.publish('flood', payload);
      await until('the fast subscriber to get every message', 30_000, () => fastGot === N);
      // By the time the fast one has them all, the slow one is gone: counted by neither the proxy nor PUBLISH.
      assert.deepEqual(await c.call('PUBSUB', 'NUMSUB', 'flood'), ['flood', 1], `slow closed: ${slow.closed}`);
      assert.equal(await c.publish('flood', 'last'), 1);
      await until('the fast subscriber to get the last one', 10_000, () => fastGot === N + 1);
      slow.socket.resume();
      await slow.waitFor((_d, closed) => closed, 10_000);
      const received = count(slow.received().toString('latin1'), '$5\r\nflood\r\n');
      assert.ok(received < N, `the slow subscriber was cut off (it got ${received} of ${N})`);
    } finally {
      slow.close();
      fast.disconnect();
    }
  });

  test('a shard channel whose slot moves to another master (Redis sends sunsubscribe) stays subscribed: the proxy re-subscribes on the new owner', async (t) => {
    const map = tp.proxy.server.router.slotMap;
    // A channel in an empty slot (a slot with keys cannot be given away without migrating them).
    let channel = '';
    for (let i = 0; channel === ''; i++) {
      const owner = masterOf(`mv${i}`);
      const node = await strictClient(owner.port, 3000, tp.proxy.cluster.nodePassword || undefined);
      try {
        if ((await node.call('CLUSTER', 'COUNTKEYSINSLOT', keySlot(Buffer.from(`mv${i}`)))) === 0) channel = `mv${i}`;
      } finally {
        node.disconnect();
      }
    }
    const slot = keySlot(Buffer.from(channel));
    const from = masterOf(channel);
    const to = map.masters[map.servingMasters().find((i) => map.masters[i].port !== from.port)!];
    const r = await RawClient.connect(tp.port);
    const password = tp.proxy.cluster.nodePassword || undefined;
    const source = await strictClient(from.port, 3000, password);
    const target = await strictClient(to.port, 3000, password);
    try {
      r.write(`SSUBSCRIBE ${channel}\r\n`);
      await r.waitFor((d) => d.includes(':1\r\n'));
      assert.equal(await c.call('SPUBLISH', channel, 'before'), 1);
      await r.waitFor((d) => d.toString().includes('before'));
      // Redis Cluster's own way to hand over a slot, as the proxy's migrations do.
      const sourceId = (await source.call('CLUSTER', 'MYID')) as string;
      const targetId = (await target.call('CLUSTER', 'MYID')) as string;
      await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId);
      await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId);
      await target.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
      await source.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
      const movedAt = Date.now();
      let n = 0;
      await until('a message published after the move', 15_000, async () => {
        await c.call('SPUBLISH', channel, `after${++n}`).catch(() => 0);
        await sleep(100);
        return r.received().toString().includes('after');
      });
      t.diagnostic(`slot ${slot} moved from :${from.port} to :${to.port}; messages flow again after ${Date.now() - movedAt} ms (${n} publishes)`);
      assert.ok(!r.received().toString().includes('sunsubscribe'), 'the client was not told of the move');
      assert.deepEqual(await target.call('PUBSUB', 'SHARDCHANNELS'), [channel], 'subscribed on the new owner');
      assert.deepEqual(await source.call('PUBSUB', 'SHARDCHANNELS'), [], 'and not on the old one');
    } finally {
      r.close();
      source.disconnect();
      target.disconnect();
    }
  });

  /**
   * An ioredis subscriber of `channel` and of a shard channel whose slot is on the master
   * the proxy's channel subscriptions are on: the master a node fault should hit.
   */
  async function subscribedOnOneMaster(channel: string): Promise<{ sub: Redis; got: string[]; shard: string; pid: number }> {
    const sub = await strictClient(tp.port);
    const got: string[] = [];
    sub.on('message', (_ch: string, msg: string) => got.push(msg));
    sub.on('smessage', (_ch: string, msg: string) => got.push(msg));
    await sub.subscribe(channel);
    const address = tp.proxy.server.pubsub.classicAddress;
    assert.ok(address !== null);
    let shard = '';
    for (let i = 0; shard === ''; i++) if (`${masterOf(`${channel}${i}`).host}:${masterOf(`${channel}${i}`).port}` === address) shard = `${channel}${i}`;
    await sub.call('SSUBSCRIBE', shard);
    const node = tp.proxy.cluster.topology.nodes.find((n) => address.endsWith(`:${n.port}`));
    assert.ok(node, `the node ${address} is in the document`);
    return { sub, got, shard, pid: Number(node.handle) };
  }

  /**
   * Signal the master under a fresh subscriber's subscriptions, then publish on both until
   * both arrive (messages published while nobody listened are lost, as in Redis).
   */
  async function faultAndDeliver(signal: 'SIGSTOP' | 'SIGKILL', channel: string, ms: number) {
    const subscribed = await subscribedOnOneMaster(channel);
    const { got, shard } = subscribed;
    const at = Date.now();
    process.kill(subscribed.pid, signal);
    let rounds = 0;
    try {
      await until(`a message on ${channel} and on ${shard} after ${signal}`, ms, async () => {
        rounds++;
        await c.publish(channel, `c${rounds}`).catch(() => 0);
        await c.call('SPUBLISH', shard, `s${rounds}`).catch(() => 0);
        await sleep(100);
        return got.some((m) => m.startsWith('c')) && got.some((m) => m.startsWith('s'));
      });
    } catch (err) {
      subscribed.sub.disconnect();
      if (signal === 'SIGSTOP') process.kill(subscribed.pid, 'SIGCONT'); // a stopped node would hold up the proxy's shutdown
      throw err;
    }
    return { ...subscribed, rounds, afterMs: Date.now() - at };
  }

  test('subscribers survive a SIGSTOPped master (failed over; it cannot say goodbye): re-subscribed on the new owner', async (t) => {
    const { sub, pid, rounds, afterMs } = await faultAndDeliver('SIGSTOP', 'sleeper', 30_000);
    t.diagnostic(`both subscriptions delivering again ${afterMs} ms after SIGSTOP (${rounds} publish rounds; --command-timeout is 10 s)`);
    // The proxy may have restarted it already (then the pid is gone).
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* not there any more */
    }
    sub.disconnect();
    // The old master comes back as a replica; wait for the cluster to settle before the next test.
    await until('every master to answer through the proxy', 30_000, async () => (await c.call('DBSIZE').then(() => true, () => false)) as boolean);
  });

  // Last: it changes the cluster for good.
  test('subscribers survive kill -9 of the master their subscriptions are on', async (t) => {
    const { sub, shard, rounds, afterMs } = await faultAndDeliver('SIGKILL', 'survivor', 20_000);
    try {
      t.diagnostic(`both subscriptions delivering again ${afterMs} ms after the kill (${rounds} publish rounds)`);
      // Whoever serves the slot now (the promoted replica, or the master restarted in place) has the subscription.
      await until('the slot owner to hold the shard channel', 10_000, async () => {
        const owner = masterOf(shard);
        const node = await strictClient(owner.port, 3000, tp.proxy.cluster.nodePassword || undefined);
        try {
          return ((await node.call('PUBSUB', 'SHARDCHANNELS')) as string[]).includes(shard) && (await node.call('ROLE'))?.toString().startsWith('master') === true;
        } catch {
          return false;
        } finally {
          node.disconnect();
        }
      });
      assert.deepEqual(await c.call('PUBSUB', 'NUMSUB', 'survivor'), ['survivor', 1], 'the client stayed subscribed');
    } finally {
      sub.disconnect();
    }
  });
});

test('only patterns that may match a keyspace notification are heard from every master', () => {
  for (const p of ['*', '_*', '__key*', '__keyspace@*', '__keyevent@0__:*', '__keyspace@0__:user:*', '?_keyspace@*', '[_]_keyspace*']) {
    assert.ok(patternMayMatchKeyspace(Buffer.from(p)), p);
  }
  for (const p of ['ch:*', 'news.*', '__other*', '__keyspaces*', 'x?']) assert.ok(!patternMayMatchKeyspace(Buffer.from(p)), p);
});
