/** Configuration precedence: flags > IHS_* environment > --config file > defaults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, parseMemory } from '../src/config.js';

async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T> | T): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('defaults', () => {
  const c = parseConfig([]);
  assert.equal(c.port, 6380);
  assert.equal(c.bind, '127.0.0.1');
  assert.equal(c.masters, 3);
  assert.equal(c.replicas, 1);
  assert.equal(c.dataDir, './data');
  assert.equal(c.maxclients, 10000);
  assert.equal(c.protoMaxBulkLen, 512 * 1024 * 1024);
  assert.equal(c.provider, 'process');
});

test('flags > env > config file > defaults', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-config-'));
  try {
    const file = path.join(dir, 'ihs.json');
    await writeFile(file, JSON.stringify({ port: 7001, masters: 5, replicas: 2, 'data-dir': '/from/file' }));
    const c = await withEnv({ IHS_PORT: '7002', IHS_MASTERS: '4' }, () => parseConfig(['--config', file, '--port', '7003']));
    assert.equal(c.port, 7003, 'flag wins over env and file');
    assert.equal(c.masters, 4, 'env wins over file');
    assert.equal(c.replicas, 2, 'file wins over default');
    assert.equal(c.dataDir, '/from/file');
    assert.equal(c.bind, '127.0.0.1', 'default when nobody sets it');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('IHS_ variables with dashes in the option name', async () => {
  const c = await withEnv({ IHS_DATA_DIR: '/tmp/x', IHS_PROTO_MAX_BULK_LEN: '1mb' }, () => parseConfig([]));
  assert.equal(c.dataDir, '/tmp/x');
  assert.equal(c.protoMaxBulkLen, 1024 * 1024);
});

test('bad input is refused with a clear message', () => {
  assert.throws(() => parseConfig(['--masters', '0']), /--masters must be 1..1000/);
  assert.throws(() => parseConfig(['--provider', 'static']), /--provider static needs at least one --node/);
  assert.throws(() => parseConfig(['--workers', 'two']), /--workers must be 1..64 or auto, not 'two'/);
  assert.throws(() => parseConfig(['--workers', '2', '--port', '0']), /--workers needs a fixed --port/);
  assert.throws(() => parseConfig(['--coordinator', 'http://127.0.0.1:2379']), /--coordinator must be etcd:\/\/host:port/);
  assert.throws(() => parseConfig(['--coordinator', 'etcd://127.0.0.1']), /--coordinator: '127.0.0.1' is not host:port/);
  assert.throws(() => parseConfig(['--leader-ttl', '1']), /--leader-ttl must be 2..60/);
  assert.deepEqual(parseConfig(['--coordinator', 'etcd://127.0.0.1:2379,[::1]:2379', '--workers', '2']).coordinator, ['127.0.0.1:2379', '[::1]:2379']);
  assert.throws(() => parseMemory('12 parsecs'), /not a size/);
  assert.equal(parseMemory('64kb'), 65536);
});

test('a flag given twice takes its last value; --node collects every seed', () => {
  const c = parseConfig(['--log-level', 'warn', '--log-level', 'error', '--port', '1', '--port', '2', '--provider', 'static', '--node', 'a:1', '--node', 'b:2']);
  assert.equal(c.logLevel, 'error');
  assert.equal(c.port, 2);
  assert.deepEqual(c.node, ['a:1', 'b:2']);
});

test('a password that starts with a dash is taken whole with --flag=value', () => {
  const c = parseConfig(['--provider', 'static', '--node', 'a:1', '--node-password=-1ye-x', '--requirepass=-z']);
  assert.equal(c.nodePassword, '-1ye-x');
  assert.equal(c.requirepass, '-z');
});

test('--client-output-buffer-limit-pubsub: Redis\'s default, sizes with units, refusals', async () => {
  assert.deepEqual(parseConfig([]).clientOutputBufferLimitPubsub, { hardBytes: 32 * 1024 ** 2, softBytes: 8 * 1024 ** 2, softSeconds: 60 });
  assert.deepEqual(parseConfig(['--client-output-buffer-limit-pubsub', '1mb 0 0']).clientOutputBufferLimitPubsub, { hardBytes: 1024 ** 2, softBytes: 0, softSeconds: 0 });
  const fromEnv = await withEnv({ IHS_CLIENT_OUTPUT_BUFFER_LIMIT_PUBSUB: '64kb 32kb 5' }, () => parseConfig([]));
  assert.deepEqual(fromEnv.clientOutputBufferLimitPubsub, { hardBytes: 64 * 1024, softBytes: 32 * 1024, softSeconds: 5 });
  assert.throws(() => parseConfig(['--client-output-buffer-limit-pubsub', '32mb 8mb']), /expected "<hard> <soft> <soft seconds>"/);
  assert.throws(() => parseConfig(['--client-output-buffer-limit-pubsub', '32mb 8xb 60']), /not a size: '8xb'/);
});
