/**
 * --node-tls (issue 18 part 2): the nodes the proxy starts serve TLS only — no plain
 * listener on any node (client port or cluster bus), replication and the bus over TLS, a
 * client certificate of the cluster's CA required — and the proxy still does everything
 * through them: reads and writes, a failover after kill -9 of a master, ADD MASTER
 * (resharding: MIGRATE between TLS nodes). The real executable, real redis-servers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Redis } from 'ioredis';
import type { NodeRecord } from '../src/cluster/topology/topology.js';
import { ensureNodeTls, NODE_TLS_DIR } from '../src/nodes/node-tls.js';
import { portFromConf, renderRedisConf, withPorts } from '../src/nodes/redis-conf.js';
import { isPidAlive } from '../src/nodes/process/pid.js';
import { encodeCommand } from '../src/resp/encode.js';
import { sleep } from '../src/nodes/wait.js';
import { parseConfig } from '../src/config.js';
import { buildExecutable, ProxyProcess } from './support/proxy-process.js';
import { skipWithoutRedis } from './support/redis-binary.js';

const skip = await skipWithoutRedis();
const KEYS = 2_000;

/** What a node answers a plain-text PING on `port` with (until it closes or 1 s passes). */
async function plainAnswer(port: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (): void => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', done);
    s.on('close', done);
    setTimeout(done, 1_000);
  });
}

/** What a node answers AUTH + PING with over TLS, presenting `cert`/`key` (none: no client certificate). */
async function tlsAnswer(port: number, password: string, ca: Buffer, client?: { cert: Buffer; key: Buffer }): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = tls.connect({ host: '127.0.0.1', port, ca, ...client });
    const done = (): void => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    s.on('secureConnect', () => s.write(Buffer.concat([encodeCommand(['AUTH', password]), encodeCommand(['PING'])])));
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).toString('latin1').includes('PONG')) done();
    });
    s.on('error', done);
    s.on('close', done);
    setTimeout(done, 2_000);
  });
}

/** TCP ports a process listens on, from `ss -ltnp`. */
function listeningPorts(pid: number): number[] {
  const out = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes(`pid=${pid},`))
    .map((l) => Number(/:(\d+)\s/.exec(l.split(/\s+/)[3] + ' ')?.[1]))
    .sort((a, b) => a - b);
}

describe('redis.conf with --node-tls', () => {
  const files = { caCertFile: '/d/node-tls/ca.crt', certFile: '/d/node-tls/node.crt', keyFile: '/d/node-tls/node.key' };
  const input = { nodeId: 'm0', port: 7001, busPort: 17001, nodeDir: '/d/nodes/m0', password: 'pw', clusterNodeTimeoutMs: 5000 };

  test('a TLS node has no plain port, and its port is read back from tls-port', () => {
    const conf = renderRedisConf({ ...input, tls: files });
    assert.match(conf, /^port 0$/m);
    assert.match(conf, /^tls-port 7001$/m);
    assert.match(conf, /^tls-ca-cert-file "\/d\/node-tls\/ca\.crt"$/m);
    assert.equal(portFromConf(conf), 7001);
    assert.equal(portFromConf(conf, 'cluster-port'), 17001);
    assert.doesNotMatch(renderRedisConf(input), /tls/, 'no TLS line without --node-tls');
  });

  test('an existing config follows --node-tls as it is now, both ways, its other lines kept', () => {
    const plain = `${renderRedisConf(input)}maxmemory 1gb\n`;
    const toTls = withPorts(plain, 7002, 17002, files);
    assert.match(toTls, /^port 0$/m);
    assert.match(toTls, /^tls-port 7002$/m);
    assert.match(toTls, /^tls-cluster yes$/m);
    assert.match(toTls, /^maxmemory 1gb$/m);
    assert.equal(portFromConf(toTls), 7002);
    const back = withPorts(toTls, 7003, 17003);
    assert.match(back, /^port 7003$/m);
    assert.match(back, /^tls-port 0$/m);
    assert.match(back, /^tls-cluster no$/m);
    assert.match(back, /^tls-replication no$/m);
    assert.equal(portFromConf(back), 7003);
    assert.doesNotMatch(withPorts(plain, 7004, 17004), /tls/);
  });
});

describe('the cluster CA', () => {
  test('made once in the data dir (a second start keeps it); a given CA signs the certificates instead, its key not copied', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'ihs-node-tls-'));
    try {
      const own = await ensureNodeTls(path.join(root, 'own'));
      const again = await ensureNodeTls(path.join(root, 'own'));
      assert.deepEqual(again.client.cert, own.client.cert, 'kept across starts');
      const verify = (ca: string, cert: string): string => execFileSync('openssl', ['verify', '-CAfile', ca, cert], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.match(verify(own.files.caCertFile, own.files.certFile), /OK/);

      const caKey = path.join(root, 'given.key');
      const caCert = path.join(root, 'given.crt');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caCert,
        '-days', '2', '-subj', '/CN=given CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
      const given = await ensureNodeTls(path.join(root, 'given'), { certFile: caCert, keyFile: caKey });
      assert.match(verify(caCert, given.files.certFile), /OK/, 'the node certificate is signed by the given CA');
      assert.match(verify(caCert, path.join(root, 'given', NODE_TLS_DIR, 'proxy.crt')), /OK/, 'the proxy certificate too');
      assert.throws(() => verify(own.files.caCertFile, given.files.certFile), 'not by a CA of the proxy\'s own');
      assert.equal(existsSync(path.join(root, 'given', NODE_TLS_DIR, 'ca.key')), false, 'the given CA\'s key stays where it is');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('--node-tls', { skip }, () => {
  test('is refused with the static provider (its nodes are the user\'s), taken with docker, and the CA files go together', () => {
    assert.equal(parseConfig(['--node-tls', '--provider', 'docker']).nodeTls, true);
    assert.throws(() => parseConfig(['--node-tls', '--provider', 'static', '--node', '127.0.0.1:7000']), /--node-tls needs --provider process or docker/);
    assert.throws(() => parseConfig(['--node-tls', '--node-tls-ca-cert-file', 'ca.crt']), /go together/);
    assert.throws(() => parseConfig(['--node-tls-ca-cert-file', 'ca.crt', '--node-tls-ca-key-file', 'ca.key']), /needs --node-tls/);
    assert.equal(parseConfig([]).nodeTls, false, 'off by default');
  });

  let p: ProxyProcess;
  let c: Redis;
  before(async () => {
    buildExecutable();
    p = await ProxyProcess.start({ masters: 3, replicas: 1, flags: ['--node-tls', '--shard-recovery-timeout', '1500'] });
    c = new Redis({ port: p.port, maxRetriesPerRequest: 0 });
    const pipe = c.pipeline();
    for (let i = 0; i < KEYS; i++) pipe.set(`tls:${i}`, `v${i}`);
    for (const [err] of (await pipe.exec()) ?? []) assert.equal(err, null);
  });
  after(async () => {
    c?.disconnect();
    await p?.cleanup();
  });

  async function assertEveryKey(): Promise<void> {
    const values = await c.mget(...Array.from({ length: KEYS }, (_, i) => `tls:${i}`));
    assert.deepEqual(values, Array.from({ length: KEYS }, (_, i) => `v${i}`), 'every key written reads back');
  }

  test('every node serves TLS only, with a client certificate of the cluster CA; the proxy reads and writes through them', async () => {
    await assertEveryKey();
    const dir = path.join(p.dataDir, NODE_TLS_DIR);
    for (const f of ['ca.crt', 'ca.key', 'node.crt', 'node.key', 'proxy.crt', 'proxy.key']) {
      assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} is mode 0600`);
    }
    const ca = readFileSync(path.join(dir, 'ca.crt'));
    const client = { cert: readFileSync(path.join(dir, 'proxy.crt')), key: readFileSync(path.join(dir, 'proxy.key')) };
    const doc = await p.topology();
    assert.equal(doc.nodes.length, 6);
    for (const n of doc.nodes as NodeRecord[]) {
      const pid = Number(n.handle);
      assert.ok(isPidAlive(pid), `${n.id} runs`);
      assert.deepEqual(listeningPorts(pid), [n.port, n.busPort].sort((a, b) => a - b), `${n.id} listens on its TLS port and its bus port only (port 0: no plain listener)`);
      for (const port of [n.port, n.busPort]) {
        const answer = await plainAnswer(port);
        assert.doesNotMatch(answer, /PONG|NOAUTH|ERR/, `${n.id}: plain text on ${port} gets no Redis reply`);
      }
      assert.match(await tlsAnswer(n.port, doc.nodePassword, ca, client), /^\+OK\r\n\+PONG\r\n$/, `${n.id} answers over TLS with the proxy's certificate`);
      assert.doesNotMatch(await tlsAnswer(n.port, doc.nodePassword, ca), /PONG/, `${n.id} refuses a TLS client without a certificate (tls-auth-clients yes)`);
      const conf = readFileSync(path.join(n.dataDir!, 'redis.conf'), 'utf8');
      for (const line of ['port 0', `tls-port ${n.port}`, 'tls-replication yes', 'tls-cluster yes', 'tls-auth-clients yes']) {
        assert.match(conf, new RegExp(`^${line}$`, 'm'), `${n.id}'s redis.conf has ${line}`);
      }
    }
    // Pub/Sub: the proxy's subscriber connections to the nodes are TLS too.
    const sub = new Redis({ port: p.port, maxRetriesPerRequest: 0 });
    try {
      const got = new Promise<string>((resolve) => sub.on('message', (_ch: string, msg: string) => resolve(msg)));
      await sub.subscribe('tls:news');
      assert.equal(await c.publish('tls:news', 'hello'), 1);
      assert.equal(await got, 'hello');
    } finally {
      sub.disconnect();
    }
    // The replicas replicate (over TLS: there is nothing else).
    const replication = await tlsAnswerInfo(doc.nodes.find((n) => n.id === 'm0')!.port, doc.nodePassword, ca, client);
    assert.match(replication, /connected_slaves:1/);
    assert.match(replication, /state=online/);
  });

  test('kill -9 of a master: its replica takes over, the old master comes back as a replica over TLS', async () => {
    const pid = await p.pidOf('m1');
    process.kill(pid, 'SIGKILL');
    await p.waitHealthy(60_000, async () => {
      const nodes = await p.nodes();
      const m1 = nodes.find((n) => n.id === 'm1');
      return m1?.role === 'replica' ? undefined : `m1 is ${m1?.role ?? 'missing'}`;
    });
    const nodes = await p.nodes();
    assert.equal(nodes.find((n) => n.id === 'm1r0')?.role, 'master', 'm1r0 promoted');
    await assertEveryKey();
    assert.equal(await c.set('tls:after-failover', 'yes'), 'OK');
    assert.equal(await c.get('tls:after-failover'), 'yes');
  });

  test('ADD MASTER: a new TLS shard, its slots and keys moved there with MIGRATE over TLS', async () => {
    const added = String(await c.call('ADD', 'MASTER'));
    assert.match(added, /^m3 127\.0\.0\.1:\d+ is a master \(replica m3r0\); 4096 slots and \d+ keys moved in/);
    const moved = Number(/and (\d+) keys moved/.exec(added)?.[1]);
    assert.ok(moved > 0, `keys moved: ${moved}`);
    p.shape = { masters: 4, replicas: 1 };
    await p.waitHealthy(30_000);
    await assertEveryKey();
    const doc = await p.topology();
    const m3 = doc.nodes.find((n) => n.id === 'm3')!;
    assert.doesNotMatch(await plainAnswer(m3.port), /PONG|NOAUTH|ERR/, 'the new master gives plain text no Redis reply');
    assert.deepEqual(listeningPorts(Number(m3.handle)), [m3.port, m3.busPort].sort((a, b) => a - b), 'the new master has no plain listener either');
  });

  test('a whole shard lost: its keys come back from a TLS recovery instance, MIGRATEd over TLS to the survivors', async () => {
    await sleep(1_200); // appendfsync everysec: every key acknowledged is in the AOFs
    const doc = await p.topology();
    const shard = doc.nodes.filter((n) => n.id === 'm0' || n.id === 'm0r0');
    assert.equal(shard.length, 2);
    // Neither can start again: the shard is recovered from the master's AOF copy.
    for (const n of shard) appendFileSync(path.join(n.dataDir!, 'redis.conf'), '\nthis-directive-does-not-exist yes\n');
    for (const n of shard) process.kill(Number(n.handle), 'SIGKILL');
    p.shape = { masters: 3, replicas: 1 };
    let report = '';
    const deadline = Date.now() + 90_000;
    while (!/phase=done/.test(report)) {
      assert.ok(Date.now() < deadline, `the recovery did not finish: ${report}\n${p.logTail()}`);
      await sleep(200);
      report = String(await c.call('INFO', 'recovery')).split(/\r?\n/).find((l) => /^recovery\d+:/.test(l)) ?? '';
    }
    assert.match(report, /master=m0,/);
    assert.match(report, /keys_failed=0/);
    assert.ok(Number(/keys_recovered=(\d+)/.exec(report)?.[1]) > 0, report);
    await p.waitHealthy(30_000);
    await assertEveryKey();
  });
});

/** INFO replication of a node over TLS. */
async function tlsAnswerInfo(port: number, password: string, ca: Buffer, client: { cert: Buffer; key: Buffer }): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = tls.connect({ host: '127.0.0.1', port, ca, ...client });
    s.on('secureConnect', () => s.write(Buffer.concat([encodeCommand(['AUTH', password]), encodeCommand(['INFO', 'replication'])])));
    s.on('data', (ch: Buffer) => {
      chunks.push(ch);
      const text = Buffer.concat(chunks).toString('latin1');
      if (/master_failover_state/.test(text) || /\r\n\r\n$/.test(text)) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', reject);
    setTimeout(() => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, 3_000);
  });
}

describe('--node-tls on an existing data dir', { skip }, () => {
  test('a plain cluster stopped and started with --node-tls serves TLS only, with its keys; and back to plain', async () => {
    const plain = await ProxyProcess.start({ masters: 2, replicas: 1 });
    let tlsProxy: ProxyProcess | undefined;
    let back: ProxyProcess | undefined;
    try {
      const c1 = new Redis({ port: plain.port, maxRetriesPerRequest: 0 });
      await c1.mset('e:a', '1', 'e:b', '2', 'e:c', '3');
      c1.disconnect();
      await sleep(1_200); // appendfsync everysec
      assert.equal(await plain.stop(), 0);

      tlsProxy = await ProxyProcess.start({ masters: 2, replicas: 1, dataDir: plain.dataDir, flags: ['--node-tls'] });
      await tlsProxy.waitHealthy(30_000);
      const c2 = new Redis({ port: tlsProxy.port, maxRetriesPerRequest: 0 });
      assert.deepEqual(await c2.mget('e:a', 'e:b', 'e:c'), ['1', '2', '3']);
      c2.disconnect();
      for (const n of (await tlsProxy.topology()).nodes) {
        assert.deepEqual(listeningPorts(Number(n.handle)), [n.port, n.busPort].sort((a, b) => a - b), `${n.id}: TLS port and bus only`);
        assert.doesNotMatch(await plainAnswer(n.port), /PONG|NOAUTH|ERR/, `${n.id} gives plain text no Redis reply`);
      }
      assert.equal(await tlsProxy.stop(), 0);

      back = await ProxyProcess.start({ masters: 2, replicas: 1, dataDir: plain.dataDir });
      await back.waitHealthy(30_000);
      const c3 = new Redis({ port: back.port, maxRetriesPerRequest: 0 });
      assert.deepEqual(await c3.mget('e:a', 'e:b', 'e:c'), ['1', '2', '3']);
      c3.disconnect();
      const m0 = (await back.topology()).nodes.find((n) => n.id === 'm0')!;
      assert.match(await plainAnswer(m0.port), /NOAUTH/, 'plain again: a plain PING gets Redis\'s NOAUTH');
    } finally {
      await back?.cleanup();
      await tlsProxy?.cleanup();
      await plain.cleanup();
    }
  });
});
