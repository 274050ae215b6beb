/**
 * Backend connections against a real redis-server: a drop fails exactly the requests in
 * flight, the connection comes back by itself (capped backoff), and a request that outlives
 * the command timeout fails its connection instead of hanging.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendPool } from '../src/backend/pool.js';
import { isUnreachableReply, type BackendConnection } from '../src/backend/connection.js';
import { encodeCommand } from '../src/resp/encode.js';
import { silentLogger } from '../src/log.js';
import { createRuntime } from '../src/net/runtime.js';
import { startRedisServer } from './support/redis-server.js';

/** DEBUG SLEEP keeps a request in flight on purpose. */
const DEBUG = ['--enable-debug-command', 'yes'];

function send(conn: BackendConnection, args: string[]): Promise<string> {
  return new Promise((resolve) => conn.send(encodeCommand(args), { deliver: (reply) => resolve(reply.toString('latin1')) }));
}

function pool(port: number, commandTimeoutMs = 5000): BackendPool {
  return new BackendPool(
    { id: 'n0', host: '127.0.0.1', port, password: '' },
    { size: 1, connectTimeoutMs: 1000, commandTimeoutMs, maxDedicated: 2, log: silentLogger(), runtime: createRuntime() },
  );
}

test('a node that goes away fails the requests in flight; the connection comes back with it', async () => {
  const server = await startRedisServer(DEBUG);
  const p = pool(server.port);
  const conn = p.connectionFor(1, 2);
  try {
    assert.equal(await send(conn, ['SET', 'k', 'v']), '+OK\r\n');
    const blocked = send(conn, ['DEBUG', 'SLEEP', '2']);
    const behind = send(conn, ['GET', 'k']);
    await new Promise((r) => setTimeout(r, 100));
    await server.stop();
    // Both were in flight on the connection that dropped: both fail, with a clear error that
    // names no internal address (clients get it; the log has the address).
    const lost = [await blocked, await behind];
    for (const reply of lost) assert.match(reply, /^-ERR connection to backend lost: [^:]*\r\n$/);
    // While the node is down, requests fail fast instead of piling up.
    assert.ok(conn.isDown, 'the connection counts as down');
    const whileDown = await send(conn, ['PING']);
    assert.match(whileDown, /^-ERR (backend unavailable|cannot connect to backend): (ECONNREFUSED|connection closed)\r\n$/);
    // The health monitor, fan-outs and transactions tell these from a node's own answers.
    for (const reply of [...lost, whileDown, '-ERR cannot connect to backend: connect ETIMEDOUT\r\n']) assert.ok(isUnreachableReply(Buffer.from(reply)), reply);
    assert.ok(!isUnreachableReply(Buffer.from('-ERR backend said no\r\n')), "a node's own error is not one");

    const again = await startRedisServer([...DEBUG, '--port', String(server.port)]);
    try {
      const deadline = Date.now() + 5000; // backoff is capped at 2 s (plus jitter)
      let reply = '';
      while (Date.now() < deadline) {
        reply = await send(conn, ['PING']);
        if (reply === '+PONG\r\n') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(reply, '+PONG\r\n', 'reconnected');
    } finally {
      await again.stop();
    }
  } finally {
    p.close();
  }
});

test('a request unanswered past the command timeout fails its connection, which reconnects', async () => {
  const server = await startRedisServer(DEBUG);
  const p = pool(server.port, 300);
  const conn = p.connectionFor(1, 2);
  try {
    assert.equal(await send(conn, ['PING']), '+PONG\r\n');
    const slow = send(conn, ['DEBUG', 'SLEEP', '1.5']);
    const behind = send(conn, ['PING']);
    assert.match(await slow, /^-ERR connection to backend lost: no reply for \d+ ms \(command timeout 300 ms\)/);
    assert.match(await behind, /command timeout/);
    await new Promise((r) => setTimeout(r, 1800)); // the node is busy until its sleep ends
    const deadline = Date.now() + 5000;
    let reply = '';
    while (Date.now() < deadline && reply !== '+PONG\r\n') {
      reply = await send(conn, ['PING']);
      if (reply !== '+PONG\r\n') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(reply, '+PONG\r\n');
  } finally {
    p.close();
    await server.stop();
  }
});

test('a dedicated connection released with a request in flight is closed, not reused', async () => {
  const server = await startRedisServer(DEBUG);
  const p = pool(server.port);
  try {
    const conn = p.acquireDedicated(2);
    assert.ok(conn);
    const popped = send(conn, ['BLPOP', 'q', '0']);
    await new Promise((r) => setTimeout(r, 100));
    p.release(conn); // its client went away mid-BLPOP
    assert.match(await popped, /^-ERR /);
    const other = p.acquireDedicated(2);
    assert.ok(other);
    assert.notEqual(other, conn);
    assert.equal(await send(other, ['PING']), '+PONG\r\n');
    p.release(other);
  } finally {
    p.close();
    await server.stop();
  }
});

test('dedicated connections are bounded: past maxDedicated in use, acquire refuses until one is released', async () => {
  const server = await startRedisServer();
  const p = pool(server.port);
  try {
    const a = p.acquireDedicated(2);
    const b = p.acquireDedicated(2);
    assert.ok(a && b);
    assert.equal(p.acquireDedicated(2), null);
    assert.equal(await send(a, ['PING']), '+PONG\r\n');
    p.release(a);
    const c = p.acquireDedicated(2);
    assert.ok(c);
    assert.equal(await send(c, ['PING']), '+PONG\r\n');
    p.release(b);
    p.release(c);
  } finally {
    p.close();
    await server.stop();
  }
});
