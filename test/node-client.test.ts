/**
 * NodeClient against a real redis-server: the replies the control plane was written
 * against (ioredis's shapes), the node's errors told apart from the connection's, and the
 * connect failures (refused port, wrong password) as NodeConnectError.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeClient, NodeConnectError, ReplyError } from '../src/nodes/node-client.js';
import { ControlClients } from '../src/nodes/control-client.js';
import { DialMap } from '../src/net/dial-map.js';
import { createRuntime } from '../src/net/runtime.js';
import { freePort, startRedisServer, type RedisServerHandle } from './support/redis-server.js';

const PASSWORD = 'sécret';
let server: RedisServerHandle;

before(async () => {
  server = await startRedisServer(['--requirepass', PASSWORD]);
});

after(async () => {
  await server.stop();
});

test('decoded replies: bulk as utf8 string or Buffer, integer, nil, array, nested errors; a node error rejects with its text', async () => {
  await new ControlClients({ password: PASSWORD }).with({ host: '127.0.0.1', port: server.port }, async (c) => {
    assert.equal(await c.call('SET', 'k€', 'välue'), 'OK');
    assert.equal(await c.call('GET', 'k€'), 'välue');
    assert.deepEqual(await c.callBuffer('GET', 'k€'), Buffer.from('välue'));
    assert.equal(await c.call('INCR', 'n'), 1);
    assert.equal(await c.call('GET', 'missing'), null);
    assert.deepEqual(await c.call('CONFIG', 'GET', 'hz'), ['hz', '10']);
    const err = await c.call('LPUSH', 'k€', 'x').catch((e: Error) => e);
    assert.ok(err instanceof ReplyError);
    assert.ok(err.message.startsWith('WRONGTYPE '), err.message);
    await c.call('MULTI');
    await c.call('INCR', 'n');
    await c.call('LPUSH', 'k€', 'x');
    const exec = (await c.call('EXEC')) as unknown[];
    assert.equal(exec[0], 2);
    assert.ok(exec[1] instanceof ReplyError);
    const batch = await c.batch([['EXISTS', 'k€'], ['LPUSH', 'k€', 'x']]);
    assert.deepEqual(batch[0], [null, 1]);
    assert.ok(batch[1][0] instanceof ReplyError);
  }, 2000);
});

test('a wrong password and a refused port reject with NodeConnectError; no password is NOAUTH from the node', async () => {
  const addr = { host: '127.0.0.1', port: server.port };
  const wrong = await new ControlClients({ password: 'wrong' }).with(addr, (c) => c.call('PING'), 2000).catch((e: Error) => e);
  assert.ok(wrong instanceof NodeConnectError);
  assert.match(wrong.reason, /^WRONGPASS/);
  assert.deepEqual((await new ControlClients({ password: 'wrong' }).probe(addr, 2000)).state, 'auth-refused');
  const none = await new ControlClients({ password: '' }).with(addr, (c) => c.call('PING'), 2000).catch((e: Error) => e);
  assert.ok(none instanceof ReplyError);
  assert.match(none.message, /^NOAUTH/);
  const closedPort = await freePort();
  const refused = await new ControlClients({ password: '' }).with({ host: '127.0.0.1', port: closedPort }, (c) => c.call('PING'), 2000).catch((e: Error) => e);
  assert.ok(refused instanceof NodeConnectError);
  assert.match(refused.reason, /ECONNREFUSED/);
  assert.deepEqual((await new ControlClients({ password: '' }).probe({ host: '127.0.0.1', port: closedPort }, 2000)).state, 'unreachable');
});

test("control clients dial through their own proxy's routes only, and read a password source at each connect", async () => {
  const announced = { host: '192.0.2.1', port: 6379 }; // TEST-NET-1, no such node: reachable through a route only
  const dial = new DialMap();
  dial.set(announced.host, announced.port, { host: '127.0.0.1', port: server.port });
  let password = 'wrong';
  const routed = new ControlClients({ password: () => password, runtime: createRuntime({ dial }), timeoutMs: 500 });
  const other = new ControlClients({ password: PASSWORD, runtime: createRuntime(), timeoutMs: 500 });
  assert.equal((await routed.probe(announced)).state, 'auth-refused');
  password = PASSWORD;
  assert.equal(await routed.with(announced, (c) => c.call('PING')), 'PONG');
  assert.equal((await routed.as('wrong').probe(announced)).state, 'auth-refused');
  assert.equal((await other.probe(announced)).state, 'unreachable', "another proxy's routes are not this one's");
});

test('raw frames never reject; after close a call rejects with a plain Error, not a ReplyError', async () => {
  const c = new NodeClient({ host: '127.0.0.1', port: server.port }, { password: PASSWORD, timeoutMs: 2000 });
  await c.connect();
  assert.equal((await c.callRaw(['PING'])).toString('latin1'), '+PONG\r\n');
  assert.equal((await c.callRaw(['NOSUCHCOMMAND'])).toString('latin1', 0, 5), '-ERR ');
  c.close();
  const err = await c.call('PING').catch((e: Error) => e);
  assert.ok(err instanceof Error && !(err instanceof ReplyError), String(err));
});
