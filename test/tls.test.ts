/**
 * TLS for clients (issue 18 part 1): --tls-port beside the plain port, served by the same
 * data path (redis-cli, ioredis, node-redis, redis-py through it); --tls-auth-clients as in
 * Redis; SIGHUP takes up a renewed certificate without dropping connections; --http-tls.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { createClient } from 'redis';
import { parseConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { TlsListener } from '../src/proxy/tls-listener.js';
import { withSlabReads } from '../src/net/slab-reader.js';
import { SocketWriter } from '../src/net/socket-writer.js';
import type { TlsAuthClients } from '../src/net/tls-files.js';
import { PROXY_NODE_FLAGS, ProxyProcess, buildExecutable } from './support/proxy-process.js';
import { startTestProxy, waitUntil, type TestProxy } from './support/proxy.js';
import { freePorts } from './support/redis-server.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { makeTestCerts, type KeyPair, type TestCerts } from './support/tls-certs.js';

const execFileP = promisify(execFile);
const skip = await skipWithoutRedis();

function pythonRedisMissing(): string | false {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import redis'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'redis-py is not installed (python3 -c "import redis" failed; CI installs python3-redis)';
  }
}

let certs: TestCerts;
before(async () => {
  certs = await makeTestCerts();
});
after(async () => {
  await rm(certs.dir, { recursive: true, force: true });
});

function tlsFlags(port: number | string, auth: TlsAuthClients = 'yes'): string[] {
  return ['--tls-port', String(port), '--tls-cert-file', certs.server.cert, '--tls-key-file', certs.server.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', auth];
}

/** ioredis TLS options trusting the test CA, with a client certificate unless `pair` is null. */
async function ioTls(pair: KeyPair | null = certs.client): Promise<tls.ConnectionOptions> {
  const o: tls.ConnectionOptions = { ca: await readFile(certs.ca), servername: 'localhost' };
  if (pair !== null) Object.assign(o, { cert: await readFile(pair.cert), key: await readFile(pair.key) });
  return o;
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to `port` is shown. */
async function servedFingerprint(port: number): Promise<string> {
  const socket = tls.connect({ host: '127.0.0.1', port, ...(await ioTls()) });
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

async function redisCliTls(port: number, args: string[], withClientCert: boolean): Promise<{ out: string; code: number }> {
  const tlsArgs = ['--tls', '--cacert', certs.ca, ...(withClientCert ? ['--cert', certs.client.cert, '--key', certs.client.key] : [])];
  try {
    const { stdout, stderr } = await execFileP('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...tlsArgs, ...args], { timeout: 20_000 });
    return { out: (stdout + stderr).trim(), code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { out: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim(), code: e.code ?? -1 };
  }
}

describe('configuration', () => {
  test('--tls-port needs a certificate, and a CA unless --tls-auth-clients no', () => {
    assert.throws(() => parseConfig(['--tls-port', '6390']), /--tls-port needs --tls-cert-file and --tls-key-file/);
    assert.throws(() => parseConfig(['--tls-port', '6390', '--tls-cert-file', 'c', '--tls-key-file', 'k']), /--tls-auth-clients yes needs --tls-ca-cert-file/);
    assert.throws(() => parseConfig(['--http-tls']), /--http-tls needs --tls-cert-file and --tls-key-file/);
    assert.throws(() => parseConfig(['--tls-port', '70000', '--tls-cert-file', 'c', '--tls-key-file', 'k', '--tls-auth-clients', 'no']), /--tls-port must be 0\.\.65535/);
    const c = parseConfig(['--tls-port', '6390', '--tls-cert-file', 'c', '--tls-key-file', 'k', '--tls-auth-clients', 'no']);
    assert.equal(c.tlsPort, 6390);
    assert.deepEqual(c.tls, { certFile: 'c', keyFile: 'k', caCertFile: '', authClients: 'no' });
    assert.equal(parseConfig([]).tlsPort, undefined);
  });

  test('--no-plain-port needs --tls-port; the client certificate defaults to the server one', () => {
    assert.equal(parseConfig([]).plainPort, true);
    assert.throws(() => parseConfig(['--no-plain-port']), /--no-plain-port needs --tls-port/);
    const c = parseConfig(['--no-plain-port', ...tlsFlags(6390)]);
    assert.equal(c.plainPort, false);
    assert.deepEqual(c.tlsClient, { certFile: certs.server.cert, keyFile: certs.server.key });
    const own = parseConfig(['--no-plain-port', ...tlsFlags(6390), '--tls-client-cert-file', 'cc', '--tls-client-key-file', 'ck']);
    assert.deepEqual(own.tlsClient, { certFile: 'cc', keyFile: 'ck' });
    assert.throws(() => parseConfig([...tlsFlags(6390), '--tls-client-cert-file', 'cc']), /--tls-client-cert-file and --tls-client-key-file go together/);
    // Only the plain port's 0 clashes with --workers when it does not listen.
    assert.equal(parseConfig(['--no-plain-port', '--port', '0', '--workers', '2', ...tlsFlags(6390)]).workers, 2);
  });

  test('the config file takes the same names', async () => {
    const file = path.join(certs.dir, 'config.json');
    await writeFile(file, JSON.stringify({ 'tls-port': 6391, 'tls-cert-file': 'c', 'tls-key-file': 'k', 'tls-ca-cert-file': 'ca', 'tls-auth-clients': 'optional', 'http-tls': true }));
    const c = parseConfig(['--config', file]);
    assert.equal(c.tlsPort, 6391);
    assert.deepEqual(c.tls, { certFile: 'c', keyFile: 'k', caCertFile: 'ca', authClients: 'optional' });
    assert.equal(c.httpTls, true);
    // A file of its own: yargs reads a config file once per path (require's cache).
    const tlsOnly = path.join(certs.dir, 'config-tls-only.json');
    await writeFile(tlsOnly, JSON.stringify({ 'tls-port': 6391, 'tls-cert-file': 'c', 'tls-key-file': 'k', 'tls-auth-clients': 'no', 'plain-port': false }));
    assert.equal(parseConfig(['--config', tlsOnly]).plainPort, false);
  });
});

describe('--tls-auth-clients (the TLS listener alone)', () => {
  /** Whether a connection with `pair` (or none) is served: the listener's admit answers +OK. */
  async function served(auth: TlsAuthClients, pair: KeyPair | null): Promise<boolean> {
    const listener = new TlsListener(
      { host: '127.0.0.1', port: 0, reusePort: false, files: { certFile: certs.server.cert, keyFile: certs.server.key, caCertFile: certs.ca, authClients: auth }, log: silentLogger() },
      (socket) => socket.end('+OK\r\n'),
    );
    await listener.listen();
    try {
      const socket = tls.connect({ host: '127.0.0.1', port: listener.port, ...(await ioTls(pair)) });
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('error', () => {}); // a refusal may end the handshake with an alert; what was served decides
      await new Promise((resolve) => socket.on('close', resolve));
      return got === '+OK\r\n';
    } finally {
      await listener.close();
    }
  }

  test('yes: a certificate of the CA is required', async () => {
    assert.equal(await served('yes', certs.client), true);
    assert.equal(await served('yes', null), false);
    assert.equal(await served('yes', certs.stranger), false);
  });

  test('optional: a certificate is checked when one is given', async () => {
    assert.equal(await served('optional', certs.client), true);
    assert.equal(await served('optional', null), true);
    assert.equal(await served('optional', certs.stranger), false);
  });

  test('closing does not wait for a client that never finishes its handshake', { timeout: 20_000 }, async () => {
    const listener = new TlsListener(
      { host: '127.0.0.1', port: 0, reusePort: false, files: { certFile: certs.server.cert, keyFile: certs.server.key, caCertFile: certs.ca, authClients: 'yes' }, log: silentLogger() },
      () => assert.fail('nothing is admitted'),
    );
    await listener.listen();
    const silent = net.connect(listener.port, '127.0.0.1');
    silent.on('error', () => {});
    await once(silent, 'connect');
    const gone = new Promise((resolve) => silent.on('close', resolve));
    await listener.close(); // Node's handshake timeout is 120 s: without the drop this outlives the test's timeout
    await gone;
  });

  test('no: no certificate is asked for', async () => {
    assert.equal(await served('no', null), true);
    assert.equal(await served('no', certs.stranger), true);
  });
});

describe('socket plumbing on a TLS socket', () => {
  test("slab reads and direct writes stand aside: 'data' events (no fallback warning) and socket.write()", async () => {
    const warnings: string[] = [];
    const log = { warn: (_o: object, msg: string) => warnings.push(msg) };
    const received: Buffer[] = [];
    let writes = 0;
    const server = tls.createServer({ cert: await readFile(certs.server.cert), key: await readFile(certs.server.key) }, (accepted) => {
      const socket = withSlabReads(accepted, (chunk) => {
        received.push(chunk);
        writer.write([Buffer.from('+PONG\r\n')], 7);
      }, log);
      const write = socket.write.bind(socket) as (buf: Buffer) => boolean;
      socket.write = ((buf: Buffer) => {
        writes++;
        return write(buf);
      }) as typeof socket.write;
      const writer = new SocketWriter(socket, () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const client = tls.connect({ host: '127.0.0.1', port, ca: await readFile(certs.ca), servername: 'localhost' });
    try {
      await once(client, 'secureConnect');
      client.write('PING\r\n');
      const [reply] = (await once(client, 'data')) as [Buffer];
      assert.equal(reply.toString(), '+PONG\r\n');
      assert.equal(Buffer.concat(received).toString(), 'PING\r\n');
      assert.equal(writes, 1, 'the reply went through socket.write()');
      assert.deepEqual(warnings, []);
    } finally {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('clients through --tls-port', { skip }, () => {
  let tp: TestProxy;
  let tlsPort: number;
  before(async () => {
    tp = await startTestProxy(['--masters', '3', '--replicas', '0', ...tlsFlags(0)]);
    const port = tp.proxy.server.tlsPort;
    assert.ok(port !== undefined && port > 0);
    tlsPort = port;
  });
  after(async () => {
    await tp?.close();
  });

  async function ioredis(): Promise<Redis> {
    const c = new Redis({ host: '127.0.0.1', port: tlsPort, tls: await ioTls(), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    await c.connect();
    return c;
  }

  test('redis-cli --tls with a client certificate; refused without one', async () => {
    assert.deepEqual(await redisCliTls(tlsPort, ['SET', 'cli:1', 'v1'], true), { out: 'OK', code: 0 });
    assert.deepEqual(await redisCliTls(tlsPort, ['GET', 'cli:1'], true), { out: 'v1', code: 0 });
    const refused = await redisCliTls(tlsPort, ['GET', 'cli:1'], false);
    assert.notEqual(refused.out, 'v1');
    assert.match(refused.out, /error|closed|reset|SSL/i);
  });

  test('ioredis: keys on every master, MGET across slots, a pipeline, a 4 MB value', async () => {
    const c = await ioredis();
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `io:${i}`);
      for (const k of keys) assert.equal(await c.set(k, `v-${k}`), 'OK');
      assert.deepEqual(await c.mget(...keys), keys.map((k) => `v-${k}`));
      const pipe = c.pipeline();
      for (let i = 0; i < 500; i++) pipe.incr(`io:counter:${i % 7}`);
      const results = (await pipe.exec()) ?? [];
      assert.equal(results.length, 500);
      for (const [err] of results) assert.equal(err, null);
      const big = 'x'.repeat(4 * 1024 * 1024);
      await c.set('io:big', big);
      // Two reads of 4 MB in one pipeline: the reply outruns the socket, so writes queue behind each other.
      const [a, b] = (await c.pipeline().get('io:big').get('io:big').exec()) ?? [];
      assert.equal(a?.[1], big);
      assert.equal(b?.[1], big);
    } finally {
      c.disconnect();
    }
  });

  test('Pub/Sub: a TLS subscriber hears a message published on the plain port', async () => {
    const sub = await ioredis();
    const pub = new Redis({ port: tp.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    await pub.connect();
    try {
      await sub.subscribe('tls:news');
      const heard = once(sub, 'message');
      assert.equal(await pub.publish('tls:news', 'hello'), 1);
      assert.deepEqual(await heard, ['tls:news', 'hello']);
    } finally {
      sub.disconnect();
      pub.disconnect();
    }
  });

  test('CLIENT LIST shows the TLS client at the TLS port; CLUSTER SLOTS names the TLS port to a TLS client', async () => {
    const c = await ioredis();
    try {
      await c.client('SETNAME', 'over-tls');
      const line = String(await c.client('LIST')).split('\n').find((l) => l.includes('name=over-tls'));
      assert.ok(line !== undefined);
      assert.match(line, new RegExp(`laddr=127\\.0\\.0\\.1:${tlsPort} `));
      const slots = (await c.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      assert.ok(slots.length > 0);
      for (const s of slots) assert.equal(s[2][1], tlsPort);
    } finally {
      c.disconnect();
    }
  });

  test('ioredis Cluster over TLS follows the slots to the TLS port', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: tlsPort }], { redisOptions: { tls: await ioTls() }, clusterRetryStrategy: () => null });
    cluster.on('error', () => {});
    try {
      for (let i = 0; i < 20; i++) await cluster.set(`cl:${i}`, String(i));
      for (let i = 0; i < 20; i++) assert.equal(await cluster.get(`cl:${i}`), String(i));
    } finally {
      cluster.disconnect();
    }
  });

  test('node-redis (redis package) with socket.tls', async () => {
    const c = createClient({
      socket: { host: '127.0.0.1', port: tlsPort, tls: true, ca: await readFile(certs.ca), cert: await readFile(certs.client.cert), key: await readFile(certs.client.key), reconnectStrategy: false },
    });
    c.on('error', () => {});
    await c.connect();
    try {
      assert.equal(await c.set('nr:1', 'one'), 'OK');
      assert.equal(await c.get('nr:1'), 'one');
      assert.deepEqual(await c.mGet(['nr:1', 'io:0', 'nr:none']), ['one', 'v-io:0', null]);
    } finally {
      await c.quit();
    }
  });

  test('redis-py with ssl', { skip: pythonRedisMissing() }, async () => {
    const script = [
      'import sys, redis',
      'r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), ssl=True, ssl_ca_certs=sys.argv[2], ssl_certfile=sys.argv[3], ssl_keyfile=sys.argv[4])',
      'r.set("py:tls", "ok")',
      'print(r.get("py:tls").decode())',
    ].join('\n');
    const { stdout } = await execFileP('/usr/bin/python3', ['-c', script, String(tlsPort), certs.ca, certs.client.cert, certs.client.key], { timeout: 30_000 });
    assert.equal(stdout.trim(), 'ok');
  });

  test('the plain port serves on beside it', async () => {
    const c = new Redis({ port: tp.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    await c.connect();
    try {
      assert.equal(await c.get('cli:1'), 'v1');
    } finally {
      c.disconnect();
    }
  });
});

describe('TLS only: --no-plain-port', { skip }, () => {
  let tp: TestProxy;
  let tlsPort: number;
  let plainPort: number;
  let httpPort: number;
  let flags: string[];
  before(async () => {
    [plainPort, httpPort] = await freePorts(2);
    // The server certificate is for servers only (extendedKeyUsage serverAuth): the proxy dials itself with the client one.
    flags = ['--port', String(plainPort), '--no-plain-port', ...tlsFlags(0), '--tls-client-cert-file', certs.client.cert, '--tls-client-key-file', certs.client.key];
    tp = await startTestProxy(['--masters', '2', '--replicas', '0', '--http-port', String(httpPort), ...flags]);
    const port = tp.proxy.server.tlsPort;
    assert.ok(port !== undefined && port > 0);
    tlsPort = port;
  });
  after(async () => {
    await tp?.close();
  });

  test('redis-cli --tls works; nothing listens on --port: a plain connect is refused', async () => {
    assert.deepEqual(await redisCliTls(tlsPort, ['SET', 'only:1', 'v1'], true), { out: 'OK', code: 0 });
    assert.deepEqual(await redisCliTls(tlsPort, ['GET', 'only:1'], true), { out: 'v1', code: 0 });
    const plain = net.connect({ host: '127.0.0.1', port: plainPort });
    const [err] = (await once(plain, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(tp.proxy.server.port, 0, 'the plain port reads 0, as Redis reports port 0');
  });

  test('ss -ltn: this process listens on the TLS port and the HTTP port only', async () => {
    const { stdout } = await execFileP('ss', ['-ltnpH']);
    const mine = stdout
      .split('\n')
      .filter((line) => line.includes(`pid=${process.pid},`))
      .map((line) => Number(/:(\d+)\s/.exec(line.split(/\s+/)[3] + ' ')?.[1]))
      .sort((a, b) => a - b);
    assert.deepEqual(mine, [tlsPort, httpPort].sort((a, b) => a - b), stdout);
  });

  test('INFO says tcp_port:0, as Redis with port 0', async () => {
    const info = await redisCliTls(tlsPort, ['INFO', 'server'], true);
    assert.match(info.out, /^tcp_port:0$/m);
  });

  test('the HTTP data routes go through the TLS port (the client certificate presented); /healthz answers', async () => {
    const base = `http://127.0.0.1:${httpPort}`;
    const set = await fetch(`${base}/api/v1/hash/data`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ key: 'http:tls', value: 'over tls' }] }) });
    assert.equal(set.status, 200, await set.text());
    assert.deepEqual(await redisCliTls(tlsPort, ['GET', 'http:tls'], true), { out: 'over tls', code: 0 });
    const got = await fetch(`${base}/api/v1/hash/data/only%3A1`);
    assert.deepEqual(await got.json(), { key: 'only:1', value: 'v1' });
    const clients = await redisCliTls(tlsPort, ['CLIENT', 'LIST'], true);
    assert.match(clients.out, new RegExp(`laddr=127\\.0\\.0\\.1:${tlsPort}`), 'the data routes are a client of the TLS port');
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  test("ihs-cli over TLS: --tls --cacert --cert --key as redis-cli's, and rediss:// in CLUSTER_SERVER_URL", async () => {
    buildExecutable();
    const cli = (args: string[], env: Record<string, string> = {}) =>
      execFileP(process.execPath, ['bin/ihs-cli', ...args], { timeout: 20_000, env: { ...process.env, ...env } }).then(
        ({ stdout }) => ({ code: 0, out: stdout.trim() }),
        (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, out: (e.stderr ?? '').trim() }),
      );
    const tlsArgs = ['--tls', '--cacert', certs.ca, '--cert', certs.client.cert, '--key', certs.client.key];
    assert.deepEqual(await cli(['--server', `127.0.0.1:${tlsPort}`, ...tlsArgs, 'set', '--key', 'cli:tls', '-v', 'secret']), { code: 0, out: 'OK' });
    assert.deepEqual(await redisCliTls(tlsPort, ['GET', 'cli:tls'], true), { out: 'secret', code: 0 });
    const viaUrl = await cli(['--cacert', certs.ca, '--cert', certs.client.cert, '--key', certs.client.key, 'get', 'cli:tls'], { CLUSTER_SERVER_URL: `rediss://localhost:${tlsPort}` });
    assert.deepEqual(viaUrl, { code: 0, out: 'secret' });
    // No client certificate: the proxy (--tls-auth-clients yes) refuses; a CA that did not sign the proxy's: the CLI refuses.
    const noCert = await cli(['--server', `127.0.0.1:${tlsPort}`, '--tls', '--cacert', certs.ca, 'get', 'cli:tls']);
    assert.equal(noCert.code, 1, noCert.out);
    assert.doesNotMatch(noCert.out, /secret/);
    const wrongCa = await cli(['--server', `127.0.0.1:${tlsPort}`, '--tls', '--cacert', certs.stranger.cert, '--cert', certs.client.cert, '--key', certs.client.key, 'get', 'cli:tls']);
    assert.equal(wrongCa.code, 1);
    assert.match(wrongCa.out, /certificate/i);
  });

  test('ihs-healthcheck dials the TLS port with the client certificate', async () => {
    buildExecutable();
    const at = ['--port', String(plainPort), '--no-plain-port', ...tlsFlags(tlsPort), '--tls-client-cert-file', certs.client.cert, '--tls-client-key-file', certs.client.key];
    const ok = await execFileP(process.execPath, ['bin/ihs-healthcheck.js', ...at], { timeout: 20_000 }).then(() => 0, (e: { code?: number }) => e.code ?? -1);
    assert.equal(ok, 0);
    // Presenting the server certificate (serverAuth only) as a client one is refused: the check fails rather than passing blind.
    const refused = await execFileP(process.execPath, ['bin/ihs-healthcheck.js', '--port', String(plainPort), '--no-plain-port', ...tlsFlags(tlsPort)], { timeout: 20_000 }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
    assert.equal(refused, 1);
  });
});

describe('TLS only with --workers 2 (the executable)', { skip }, () => {
  test('both workers listen on the TLS port (reusePort) and on no plain client port; --port 0 is allowed then', async () => {
    buildExecutable();
    const [tlsPort] = await freePorts(1);
    const root = await mkdtemp(path.join(os.tmpdir(), 'ihs-tls-workers-'));
    const dataDir = path.join(root, 'data');
    const args = ['bin/interface-hash-server.js', '--workers', '2', '--no-plain-port', '--port', '0', ...tlsFlags(tlsPort), '--http-port', '0', '--data-dir', dataDir, '--masters', '1', '--replicas', '0', '--log-level', 'warn'];
    const child = spawn(process.execPath, [...PROXY_NODE_FLAGS, ...args], { stdio: 'ignore' });
    try {
      await waitUntil(async () => (await redisCliTls(tlsPort, ['PING'], true)).out === 'PONG', 60_000, 'the TLS port to answer');
      assert.deepEqual(await redisCliTls(tlsPort, ['SET', 'workers:tls', 'yes'], true), { out: 'OK', code: 0 });
      const { stdout } = await execFileP('ps', ['-o', 'pid=', '--ppid', String(child.pid)]);
      const workers = stdout.split(/\s+/).filter(Boolean);
      assert.equal(workers.length, 2, stdout);
      const portsOf = async (pid: string): Promise<number[]> =>
        (await execFileP('ss', ['-ltnpH'])).stdout
          .split('\n')
          .filter((l) => l.includes(`pid=${pid},`))
          .map((l) => Number(/:(\d+)$/.exec(l.split(/\s+/)[3])?.[1]));
      for (const pid of workers) {
        // A follower listens once it has read the cluster document the leader wrote.
        await waitUntil(async () => (await portsOf(pid)).includes(tlsPort), 60_000, `worker ${pid} to listen on the TLS port`);
        const ports = await portsOf(pid);
        // The other one is its peer listener (admin verbs handed to the leader), the only plain RESP port left.
        assert.equal(ports.length, 2, `worker ${pid}: ${ports.join(' ')}`);
      }
    } finally {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      clearTimeout(timer);
      await killRedisServersUnder(root, [dataDir]);
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('SIGHUP reloads the certificate; --http-tls (the executable)', { skip }, () => {
  test('an open connection keeps working, new ones (TLS port and HTTPS) get the new certificate; a bad file keeps the current one', async () => {
    buildExecutable();
    const [tlsPort, httpPort] = await freePorts(2);
    const live: KeyPair = { cert: path.join(certs.dir, 'live.crt'), key: path.join(certs.dir, 'live.key') };
    await copyFile(certs.server.cert, live.cert);
    await copyFile(certs.server.key, live.key);
    const flags = ['--tls-port', String(tlsPort), '--tls-cert-file', live.cert, '--tls-key-file', live.key, '--tls-ca-cert-file', certs.ca, '--http-tls', '--http-port', String(httpPort)];
    const p = await ProxyProcess.start({ masters: 1, replicas: 0, flags });
    try {
      const first = new X509Certificate(await readFile(certs.server.cert)).fingerprint256;
      const second = new X509Certificate(await readFile(certs.server2.cert)).fingerprint256;
      // The proxy answers PING on its plain port first; its TLS and HTTPS listeners may open a moment later.
      await waitUntil(async () => (await servedFingerprint(tlsPort).catch(() => '')) === first, 10_000, 'the TLS port to serve the certificate');
      await waitUntil(async () => (await httpsFingerprint(httpPort).catch(() => '')) === first, 10_000, 'HTTPS to serve the certificate');

      const open = new Redis({ host: '127.0.0.1', port: tlsPort, tls: await ioTls(), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      open.on('error', () => {});
      await open.connect();
      const id = await open.client('ID');

      await copyFile(certs.server2.cert, live.cert);
      await copyFile(certs.server2.key, live.key);
      process.kill(p.pid ?? 0, 'SIGHUP');
      await waitUntil(async () => (await servedFingerprint(tlsPort)) === second, 10_000, 'the TLS port to serve the new certificate');
      assert.equal(await httpsFingerprint(httpPort), second);
      assert.equal(await open.client('ID'), id, 'the connection opened before the reload is the same one');
      assert.equal(await open.set('hup:1', 'still'), 'OK');

      await writeFile(live.key, 'not a key\n');
      process.kill(p.pid ?? 0, 'SIGHUP');
      await waitUntil(async () => (await readFile(p.logFile, 'utf8')).includes('TLS certificate not reloaded'), 10_000, 'the reload error in the log');
      assert.equal(await servedFingerprint(tlsPort), second);
      assert.equal(await open.get('hup:1'), 'still');
      open.disconnect();
      assert.deepEqual(p.crashes, []);
    } finally {
      await p.cleanup();
    }
  });
});

async function httpsFingerprint(port: number): Promise<string> {
  const ca = await readFile(certs.ca);
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/healthz', ca, agent: false }, (res) => {
      const fp = (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => (res.statusCode === 200 || res.statusCode === 503 ? resolve(fp) : reject(new Error(`GET /healthz: ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}
