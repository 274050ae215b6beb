/**
 * SocketWriter writes straight to the socket's handle when nothing is queued in front, and
 * through socket.write() otherwise. What must hold either way: every byte arrives, in the
 * order written; `unsent` counts what the kernel has not taken; the drain callback fires once
 * what waited is written; bytesWritten counts all of it. A peer that does not read makes
 * writes wait (libuv keeps them), which exercises the asynchronous completion.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { directWritesProblem, setDirectWrites, SocketWriter } from '../src/net/socket-writer.js';

interface Pair {
  server: net.Server;
  /** The writer's side. */
  socket: net.Socket;
  /** The peer, paused: it reads only when told to. */
  peer: net.Socket;
}

async function connectedPair(): Promise<Pair> {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { server, socket, peer: await accepted };
}

async function closePair(p: Pair): Promise<void> {
  p.socket.destroy();
  p.peer.destroy();
  await new Promise((r) => p.server.close(r));
}

/** Run `body` on a fresh pair with direct writes on or off, then close it and turn them back on. */
async function withPair(direct: boolean, body: (p: Pair) => Promise<void>): Promise<void> {
  setDirectWrites(direct);
  const p = await connectedPair();
  try {
    await body(p);
  } finally {
    setDirectWrites(true);
    await closePair(p);
  }
}

/** Everything the peer receives until `bytes` have arrived. */
function readAll(peer: net.Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve) => {
    peer.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= bytes) resolve(Buffer.concat(chunks));
    });
    peer.resume();
  });
}

/** Numbered 1 KB blocks (`count` of them, starting at `first`), so order and loss show. */
function blocks(first: number, count: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = first; i < first + count; i++) out.push(Buffer.alloc(1024, String(i % 10)));
  return out;
}

for (const direct of [true, false]) {
  describe(direct ? 'direct writes' : 'forced through socket.write()', () => {
    test('joined writes to a peer that stops reading: they wait, unsent counts them, drain is called once all are taken, order kept', () =>
      withPair(direct, async (p) => {
        if (direct) assert.equal(directWritesProblem(), null, 'this Node has the shape relied on');
        let writerDrains = 0;
        let socketDrains = 0;
        const writer = new SocketWriter(p.socket, () => writerDrains++);
        p.socket.on('drain', () => socketDrains++);
        // 16 MB in 32 KB joined writes to a peer that does not read: more than the kernel's
        // buffers take, so later writes wait (direct: in libuv, counted by the writer).
        const sent: Buffer[] = [];
        for (let i = 0; i < 512; i++) {
          const bufs = blocks(i * 32, 32);
          writer.write(bufs, 32 * 1024);
          sent.push(...bufs);
        }
        const total = 512 * 32 * 1024;
        assert.ok(writer.unsent > 0, `the kernel did not take ${total} bytes at once: ${writer.unsent} unsent`);
        assert.ok(writer.unsent <= total);
        const received = await readAll(p.peer, total);
        assert.ok(received.equals(Buffer.concat(sent)), 'every byte, in the order written');
        for (let i = 0; i < 100 && (writer.unsent > 0 || writerDrains + socketDrains === 0); i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(writer.unsent, 0);
        // Direct: the writes waited in libuv, so only the writer can tell; forced off, the
        // socket's own drains, each one relayed by the writer.
        if (direct) assert.ok(writerDrains >= 1 && socketDrains === 0, `writer drains ${writerDrains}, socket drains ${socketDrains}`);
        else assert.ok(socketDrains >= 1 && writerDrains === socketDrains, `writer drains ${writerDrains}, socket drains ${socketDrains}`);
        assert.equal(p.socket.bytesWritten, total, 'socket.bytesWritten counts direct writes too');
      }));

    test('large batches (cork/uncork through the Writable) and joined writes interleaved: every byte, in order', () =>
      withPair(direct, async (p) => {
        const writer = new SocketWriter(p.socket, () => {});
        const sent: Buffer[] = [];
        for (let batch = 0; batch < 16; batch++) {
          const big = blocks(batch * 256, 256); // 256 KB: past the join limit, written through the Writable
          writer.write(big, 256 * 1024);
          sent.push(...big);
          const small = blocks(batch, 3); // joined into one buffer: direct when the Writable holds nothing
          writer.write(small, 3 * 1024);
          sent.push(...small);
        }
        const total = sent.reduce((n, b) => n + b.length, 0);
        const received = await readAll(p.peer, total);
        assert.equal(received.length, total);
        assert.ok(received.equals(Buffer.concat(sent)), 'every byte, in the order written');
      }));

    test('a small write to a reading peer is taken at once: nothing unsent, no drain', () =>
      withPair(direct, async (p) => {
        let drains = 0;
        const writer = new SocketWriter(p.socket, () => drains++);
        const reading = readAll(p.peer, 5);
        writer.write([Buffer.from('+OK\r\n')], 5);
        if (direct) assert.equal(writer.unsent, 0, 'the kernel took it during the call');
        assert.equal(String(await reading), '+OK\r\n');
        assert.equal(drains, 0);
        assert.equal(p.socket.bytesWritten, 5, 'socket.bytesWritten counts direct writes too');
      }));
  });
}

test('a write to a socket the peer reset fails the socket, not the process', async () => {
  const p = await connectedPair();
  try {
    const writer = new SocketWriter(p.socket, () => {});
    const closed = new Promise<Error | undefined>((r) => {
      p.socket.once('error', (err) => r(err));
      p.socket.once('close', () => r(undefined));
    });
    p.peer.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 20 && !p.socket.destroyed; i++) {
      writer.write([Buffer.alloc(64 * 1024)], 64 * 1024);
      await new Promise((r) => setTimeout(r, 10));
    }
    await closed;
    assert.ok(p.socket.destroyed, 'the socket is destroyed after writing to a reset peer');
  } finally {
    await closePair(p);
  }
});
