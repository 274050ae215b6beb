/**
 * Slab reads re-wrap accepted sockets through Node internals; when Node no longer has the
 * shape relied on, clients are read with plain 'data' events. Both paths are exercised:
 * the shape check on its own, and a whole proxy with re-wrapping forced off.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Redis } from 'ioredis';
import { rewrapProblem, setClientSlabReads, unpinned, withSlabReads } from '../src/net/slab-reader.js';
import { RawClient, startTestProxy, type TestProxy } from './support/proxy.js';

/** A server that accepts paused (as the proxy's does), a client, and the accepted socket. */
async function acceptedPair(): Promise<{ server: net.Server; client: net.Socket; socket: net.Socket }> {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  return { server, client, socket: await accepted };
}

describe('the shape check', () => {
  test('an accepted socket of this Node has the shape; other shapes are refused with a reason', async () => {
    const { server, client, socket } = await acceptedPair();
    try {
      assert.equal(rewrapProblem(socket), null);
      assert.match(String(rewrapProblem({} as net.Socket)), /no _handle object/);
      assert.match(String(rewrapProblem({ _handle: { readStart() {} } } as unknown as net.Socket)), /no readStart\/readStop/);
    } finally {
      client.destroy();
      socket.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  test('forced off: the accepted socket itself is read with data events', async () => {
    setClientSlabReads(false);
    const { server, client, socket } = await acceptedPair();
    try {
      const chunks: Buffer[] = [];
      const warnings: string[] = [];
      const read = withSlabReads(socket, (c) => chunks.push(c), { warn: (_o, msg) => warnings.push(msg) });
      assert.equal(read, socket);
      client.write('hello');
      for (let i = 0; i < 100 && Buffer.concat(chunks).toString() !== 'hello'; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(Buffer.concat(chunks).toString(), 'hello');
      assert.deepEqual(warnings, [], 'turned off on purpose: nothing to warn about');
    } finally {
      setClientSlabReads(true);
      client.destroy();
      socket.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  test('unpinned copies a small view of a large slab, and nothing else', () => {
    const slab = Buffer.allocUnsafeSlow(1024 * 1024);
    const small = slab.subarray(100, 120);
    const copy = unpinned(small);
    assert.notEqual(copy.buffer, slab.buffer);
    assert.ok(copy.equals(small));
    const big = slab.subarray(0, 512 * 1024);
    assert.equal(unpinned(big), big);
    const pooled = Buffer.from('abc'); // Node's 8 KB pool: copying would pin as much
    assert.equal(unpinned(pooled), pooled);
  });
});

describe('a proxy reading clients with data events', () => {
  let tp: TestProxy;

  before(async () => {
    setClientSlabReads(false);
    tp = await startTestProxy(['--masters', '2', '--replicas', '0']);
  });

  after(async () => {
    setClientSlabReads(true);
    await tp?.close();
  });

  test('pipelines, a large value, stalls (BLPOP) and QUIT work as with slab reads', async () => {
    const r = new Redis({ port: tp.port, maxRetriesPerRequest: 1 });
    const blocker = new Redis({ port: tp.port, maxRetriesPerRequest: 1 });
    try {
      const p = r.pipeline();
      for (let i = 0; i < 2000; i++) p.set(`fb:${i}`, String(i)).get(`fb:${i}`);
      const results = await p.exec();
      assert.ok(results);
      for (let i = 0; i < 2000; i++) assert.deepEqual(results[2 * i + 1], [null, String(i)]);
      const big = Buffer.alloc(5 * 1024 * 1024, 'z');
      assert.equal(await r.set('fb:big', big), 'OK');
      assert.ok((await r.getBuffer('fb:big'))?.equals(big));

      const popped = blocker.blpop('fb:q', 5);
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(await r.rpush('fb:q', 'x'), 1);
      assert.deepEqual(await popped, ['fb:q', 'x']);
      assert.equal(await blocker.ping(), 'PONG');

      const q = await RawClient.connect(tp.port);
      q.write('PING\r\nQUIT\r\n');
      assert.equal((await q.waitFor((_d, closed) => closed)).toString(), '+PONG\r\n+OK\r\n');
    } finally {
      r.disconnect();
      blocker.disconnect();
    }
  });
});
