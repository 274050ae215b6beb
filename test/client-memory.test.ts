/**
 * Memory held for clients (issue 13 part 3): --maxmemory-clients with Redis 7's client
 * eviction semantics, and per-client backpressure that never costs a slow reader a reply.
 * A real proxy over a real redis-server; the clients are raw sockets (a non-reader is a
 * socket that is never read) and ioredis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Redis } from 'ioredis';
import { parseClientMemoryCap, parseConfig } from '../src/config.js';
import { ReplyScanner } from '../src/resp/reply-scanner.js';
import { ProtocolError } from '../src/resp/frame.js';
import { encodeCommand } from '../src/resp/encode.js';
import { startTestProxy, strictClient, waitUntil, type TestProxy } from './support/proxy.js';
import { sleep } from '../src/nodes/wait.js';

const MB = 1024 * 1024;
const VALUE_BYTES = 100 * 1024;

async function infoField(c: Redis, section: string, field: string): Promise<string | undefined> {
  const text = String(await c.call('INFO', section));
  return new RegExp(`^${field}:(.*?)\\r?$`, 'm').exec(text)?.[1];
}

/** CLIENT LIST: id → tot-mem, for the clients connected now. */
async function clientMemory(c: Redis): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const line of String(await c.call('CLIENT', 'LIST')).split('\n')) {
    const m = /^id=(\d+) .* tot-mem=(\d+)/.exec(line);
    if (m) out.set(Number(m[1]), Number(m[2]));
  }
  return out;
}

/** A raw connection that reads only when told to: frames are counted and kept as they arrive. */
class Reader {
  readonly socket: net.Socket;
  readonly frames: Buffer[] = [];
  closed = false;
  private readonly scanner = new ReplyScanner();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.pause();
    socket.on('data', (chunk: Buffer) => {
      this.scanner.feed(chunk);
      for (let f = this.scanner.next(); f !== null; f = this.scanner.next()) {
        if (f instanceof ProtocolError) throw f;
        this.frames.push(Buffer.from(f));
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<Reader> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new Reader(s)));
      s.once('error', reject);
    });
  }

  /** One request, read at once (the socket is resumed until its reply is in, then paused again). */
  async call(...args: string[]): Promise<string> {
    const before = this.frames.length;
    this.socket.write(encodeCommand(args));
    this.socket.resume();
    await waitUntil(() => this.frames.length > before, 5_000, `a reply to ${args.join(' ')}`);
    this.socket.pause();
    return this.frames[before].toString('latin1');
  }

  /** Send `count` copies of a request and read nothing. */
  pipeline(count: number, ...args: string[]): void {
    const one = encodeCommand(args);
    this.socket.write(Buffer.concat(new Array<Buffer>(count).fill(one)));
  }
}

describe('--maxmemory-clients', () => {
  let tp: TestProxy;
  let normal: Redis;
  const big = Buffer.alloc(VALUE_BYTES, 'b');

  before(async () => {
    tp = await startTestProxy(['--masters', '1', '--replicas', '0']);
    normal = await strictClient(tp.port, 5_000);
    assert.equal(await normal.set('big', big), 'OK');
    assert.equal(await normal.set('small', 's'), 'OK');
  });
  after(async () => {
    normal?.disconnect();
    await tp?.close();
  });

  test('over the cap the client holding most is disconnected (not a CLIENT NO-EVICT one); the others and a normal client go on', async (t) => {
    assert.equal(await normal.call('CONFIG', 'SET', 'maxmemory-clients', '12mb'), 'OK');
    assert.equal((await normal.call('CONFIG', 'GET', 'maxmemory-clients') as string[])[1], String(12 * MB));
    const evictedBefore = Number(await infoField(normal, 'stats', 'evicted_clients'));

    // Exempt, and first to fill up: as big as any, never chosen.
    const exempt = await Reader.connect(tp.port);
    assert.equal(await exempt.call('CLIENT', 'NO-EVICT', 'on'), '+OK\r\n');
    const exemptId = Number((await exempt.call('CLIENT', 'ID')).slice(1, -2));
    exempt.pipeline(2000, 'GET', 'big');
    await waitUntil(async () => ((await clientMemory(normal)).get(exemptId) ?? 0) > 4 * MB, 10_000, 'the exempt client holding > 4 MB');

    // A small non-reader, under a MB: never the biggest.
    const small = await Reader.connect(tp.port);
    const smallId = Number((await small.call('CLIENT', 'ID')).slice(1, -2));
    small.pipeline(8, 'GET', 'big');

    // The one that takes the total over the cap, and the biggest one that may go.
    const hog = await Reader.connect(tp.port);
    const hogId = Number((await hog.call('CLIENT', 'ID')).slice(1, -2));
    hog.pipeline(2000, 'GET', 'big');
    await waitUntil(async () => Number(await infoField(normal, 'stats', 'evicted_clients')) === evictedBefore + 1, 10_000, 'one client evicted');
    assert.equal(await normal.get('small'), 's', 'a normal client is served meanwhile');

    const left = await clientMemory(normal);
    t.diagnostic(`after the eviction: ${JSON.stringify([...left])}; mem_clients_normal ${await infoField(normal, 'memory', 'mem_clients_normal')}`);
    assert.ok(!left.has(hogId), 'the biggest client that may be evicted is gone');
    assert.ok(left.has(exemptId), 'the CLIENT NO-EVICT client stays, though it holds as much');
    assert.ok(left.has(smallId), 'the small client stays');
    assert.ok(Number(await infoField(normal, 'memory', 'mem_clients_normal')) <= 12 * MB, 'the total is within the cap again');
    hog.socket.resume();
    await waitUntil(() => hog.closed, 5_000, "the evicted client's connection closed");

    // The clients left get everything they asked for, intact, once they read.
    small.socket.resume();
    exempt.socket.resume();
    const reply = Buffer.concat([Buffer.from(`$${VALUE_BYTES}\r\n`), big, Buffer.from('\r\n')]);
    await waitUntil(() => small.frames.length === 1 + 8 && exempt.frames.length === 2 + 2000, 30_000, 'every reply delivered');
    for (const f of small.frames.slice(1)) assert.ok(f.equals(reply));
    for (const f of exempt.frames.slice(2)) assert.ok(f.equals(reply));
    assert.equal(Number(await infoField(normal, 'stats', 'evicted_clients')), evictedBefore + 1, 'exactly one evicted');
    small.socket.destroy();
    exempt.socket.destroy();
    await waitUntil(async () => (await clientMemory(normal)).size === 1, 5_000, 'only the normal client left');
    assert.ok(Number(await infoField(normal, 'memory', 'mem_clients_normal')) < 64 * 1024, 'what was held for them is given back to the account');
  });

  test('CONFIG SET of a lower cap evicts at once; 0 turns eviction off; percentages and bad values', async () => {
    assert.equal(await normal.call('CONFIG', 'SET', 'maxmemory-clients', '0'), 'OK');
    const evictedBefore = Number(await infoField(normal, 'stats', 'evicted_clients'));
    const holders = await Promise.all([Reader.connect(tp.port), Reader.connect(tp.port)]);
    for (const h of holders) h.pipeline(2000, 'GET', 'big');
    await waitUntil(async () => Number(await infoField(normal, 'memory', 'mem_clients_normal')) > 8 * MB, 10_000, 'two clients holding > 8 MB together');
    await sleep(300);
    assert.equal(Number(await infoField(normal, 'stats', 'evicted_clients')), evictedBefore, 'no cap: nobody evicted');

    assert.equal(await normal.call('CONFIG', 'SET', 'maxmemory-clients', '4mb'), 'OK');
    await waitUntil(async () => Number(await infoField(normal, 'stats', 'evicted_clients')) >= evictedBefore + 1, 5_000, 'an eviction after the cap was lowered');
    assert.ok(Number(await infoField(normal, 'memory', 'mem_clients_normal')) <= 4 * MB);
    for (const h of holders) h.socket.destroy();

    assert.equal(await normal.call('CONFIG', 'SET', 'maxmemory-clients', '50%'), 'OK');
    assert.deepEqual(await normal.call('CONFIG', 'GET', 'maxmemory-clients'), ['maxmemory-clients', '50%']);
    await assert.rejects(normal.call('CONFIG', 'SET', 'maxmemory-clients', 'lots'), /ERR CONFIG SET failed \(possibly related to argument 'maxmemory-clients'\) - argument must be a memory or percent value/);
    assert.deepEqual(await normal.call('CONFIG', 'GET', 'maxmemory-clients'), ['maxmemory-clients', '50%'], 'a refused value changes nothing');
    // With a node parameter in the same CONFIG SET: both applied.
    assert.equal(await normal.call('CONFIG', 'SET', 'maxmemory-clients', '256mb', 'hash-max-listpack-entries', '100'), 'OK');
    assert.deepEqual(await normal.call('CONFIG', 'GET', 'maxmemory-clients'), ['maxmemory-clients', String(256 * MB)]);
    assert.deepEqual(await normal.call('CONFIG', 'GET', 'hash-max-listpack-entries'), ['hash-max-listpack-entries', '100']);
  });

  test('a client that reads slowly but within the cap is never disconnected and gets every reply intact and in order', async (t) => {
    assert.equal(await normal.call('CONFIG', 'SET', 'maxmemory-clients', '16mb'), 'OK');
    const evictedBefore = Number(await infoField(normal, 'stats', 'evicted_clients'));
    const count = 600;
    const valueOf = (i: number): Buffer => Buffer.alloc(50 * 1024 + i, String.fromCharCode(97 + (i % 26)));
    for (let i = 0; i < count; i += 100) {
      const batch = normal.pipeline();
      for (let j = i; j < Math.min(count, i + 100); j++) batch.set(`slow:${j}`, valueOf(j));
      await batch.exec();
    }
    const slow = await Reader.connect(tp.port);
    const slowId = Number((await slow.call('CLIENT', 'ID')).slice(1, -2));
    const requests: Buffer[] = [];
    for (let i = 0; i < count; i++) requests.push(encodeCommand(['GET', `slow:${i}`]));
    slow.socket.write(Buffer.concat(requests));
    // Read in sips: 5 ms of reading every 30 ms, far slower than the node answers.
    let peak = 0;
    const deadline = Date.now() + 60_000;
    while (slow.frames.length < 1 + count && !slow.closed && Date.now() < deadline) {
      peak = Math.max(peak, (await clientMemory(normal)).get(slowId) ?? 0);
      slow.socket.resume();
      await sleep(5);
      slow.socket.pause();
      await sleep(25);
    }
    t.diagnostic(`the slow reader held at most ${Math.round(peak / 1024)} KB in the proxy`);
    assert.equal(slow.closed, false, 'never disconnected');
    assert.equal(slow.frames.length, 1 + count, 'every reply arrived');
    for (let i = 0; i < count; i++) {
      const v = valueOf(i);
      const expected = Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]);
      assert.ok(slow.frames[1 + i].equals(expected), `reply ${i} is slow:${i}'s value`);
    }
    assert.ok(peak > 0, 'the proxy did hold replies for it (it was slower than the node)');
    assert.equal(Number(await infoField(normal, 'stats', 'evicted_clients')), evictedBefore);
    slow.socket.destroy();
  });
});

describe('--maxmemory-clients parsing', () => {
  test('sizes, percentages of the memory available, 0 = off; the default is on', () => {
    assert.deepEqual(parseClientMemoryCap('64mb'), { bytes: 64 * MB, percent: null });
    assert.deepEqual(parseClientMemoryCap('1gb'), { bytes: 1024 * MB, percent: null });
    assert.deepEqual(parseClientMemoryCap('100k'), { bytes: 100_000, percent: null });
    assert.deepEqual(parseClientMemoryCap('0'), { bytes: 0, percent: null });
    assert.deepEqual(parseClientMemoryCap('5%', 1000 * MB), { bytes: 50 * MB, percent: 5 });
    assert.throws(() => parseClientMemoryCap('101%'), /a percentage must be 0\.\.100/);
    assert.throws(() => parseClientMemoryCap('lots'), /--maxmemory-clients 'lots': expected 0, a size/);
    assert.deepEqual(parseConfig([]).maxmemoryClients, { bytes: 256 * MB, percent: null });
    assert.equal(parseConfig(['--maxmemory-clients', '0']).maxmemoryClients.bytes, 0);
    assert.equal(parseConfig(['--maxmemory-clients', '10%']).maxmemoryClients.percent, 10);
    assert.throws(() => parseConfig(['--maxmemory-clients', '-1']), /--maxmemory-clients '-1'/);
  });
});
