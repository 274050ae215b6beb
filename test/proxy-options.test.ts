/**
 * Options and lifecycle through real clients: --requirepass, --maxclients, HELLO, the
 * static provider, and restarts of the real executable (SIGINT, SIGKILL) keeping data.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { ClusterManager } from '../src/cluster/cluster-manager.js';
import { silentLogger } from '../src/log.js';
import { ControlClients } from '../src/nodes/control-client.js';
import { ProcessProvider } from '../src/nodes/process/process-provider.js';
import { exited, RawClient, redisCli, startExecutable, startTestProxy, waitForPong } from './support/proxy.js';
import { freePort } from './support/redis-server.js';

describe('--requirepass', () => {
  test('NOAUTH until AUTH; wrong password; HELLO AUTH; ioredis with password', async () => {
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--requirepass', 's3cret']);
    try {
      const c = await RawClient.connect(tp.port);
      c.write('GET x\r\nAUTH wrong\r\nAUTH s3cret\r\nSET x 1\r\nGET x\r\n');
      await c.waitFor((d) =>
        d.toString() ===
          '-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+OK\r\n$1\r\n1\r\n',
      );
      c.close();
      const h = await RawClient.connect(tp.port);
      h.write('HELLO 2 AUTH default s3cret\r\nGET x\r\n');
      await h.waitFor((d) => d.toString().endsWith('$1\r\n1\r\n') && d.toString().includes('proto'));
      h.close();
      const r = new Redis({ port: tp.port, password: 's3cret', maxRetriesPerRequest: 1 });
      try {
        assert.equal(await r.get('x'), '1');
      } finally {
        r.disconnect();
      }
      assert.equal(await redisCli(tp.port, ['-a', 's3cret', '--no-auth-warning', 'get', 'x']), '1');
      // Before AUTH, Redis's pre-authentication limits apply (no 100-argument requests).
      const unauth = await RawClient.connect(tp.port);
      unauth.write('*100\r\n');
      const refused = await unauth.waitFor((_d, closed) => closed);
      assert.equal(refused.toString(), '-ERR Protocol error: unauthenticated multibulk length\r\n');
    } finally {
      await tp.close();
    }
  });

  test('AUTH without a configured password gets Redis\'s error', async () => {
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0']);
    try {
      const c = await RawClient.connect(tp.port);
      c.write('AUTH foo\r\nHELLO 4\r\nHELLO 2 SETNAME me\r\nCLIENT GETNAME\r\n');
      const data = await c.waitFor((d) => d.toString().endsWith('$2\r\nme\r\n'));
      assert.match(data.toString(), /^-ERR AUTH <password> called without any password configured/);
      assert.match(data.toString(), /-NOPROTO unsupported protocol version\r\n/);
      c.close();
    } finally {
      await tp.close();
    }
  });
});

describe('--maxclients', () => {
  test('the client over the limit gets Redis\'s error and is closed; the others keep working', async () => {
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--maxclients', '2']);
    try {
      const a = await RawClient.connect(tp.port);
      const b = await RawClient.connect(tp.port);
      a.write('PING\r\n');
      await a.waitFor((d) => d.toString() === '+PONG\r\n');
      const c = await RawClient.connect(tp.port);
      const refused = await c.waitFor((_d, closed) => closed);
      assert.equal(refused.toString(), '-ERR max number of clients reached\r\n');
      b.write('PING\r\n');
      await b.waitFor((d) => d.toString() === '+PONG\r\n');
      a.close();
      // A freed place is given to the next client.
      await new Promise((r) => setTimeout(r, 50));
      const d = await RawClient.connect(tp.port);
      d.write('PING\r\n');
      await d.waitFor((x) => x.toString() === '+PONG\r\n');
      b.close();
      d.close();
    } finally {
      await tp.close();
    }
  });
});

describe('--proto-max-bulk-len', () => {
  test('a longer bulk string is a protocol error for that client alone', async () => {
    const tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--proto-max-bulk-len', '1kb']);
    try {
      const ok = await RawClient.connect(tp.port);
      const bad = await RawClient.connect(tp.port);
      bad.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n`);
      const data = await bad.waitFor((_d, closed) => closed);
      assert.equal(data.toString(), '-ERR Protocol error: invalid bulk length\r\n');
      ok.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n${'v'.repeat(1000)}\r\n`);
      await ok.waitFor((d) => d.toString() === '+OK\r\n');
      ok.close();
    } finally {
      await tp.close();
    }
  });
});

describe('static provider', () => {
  test('routes over existing nodes given with --node', { timeout: 60_000 }, async () => {
    // "Someone else's" Redis Cluster: formed by a ClusterManager of the process provider in a
    // data dir of its own. The static proxy is given one seed; the cluster tells it the rest.
    const ownerDir = await mkdtemp(path.join(os.tmpdir(), 'ihs-static-owner-'));
    const owner = await ClusterManager.open({
      dataDir: ownerDir,
      masters: 2,
      replicas: 1,
      provider: new ProcessProvider({ log: silentLogger() }),
      log: silentLogger(),
    });
    try {
      const nodes = owner.topology.nodes;
      const masters = nodes.filter((n) => n.formedAsReplicaOf === undefined);
      const password = owner.nodePassword;
      const seed = masters[0];
      // an established cluster: the seed knows who serves every slot
      const deadline = Date.now() + 15_000;
      for (;;) {
        const info = String(await new ControlClients({ password }).with(seed, (c) => c.call('CLUSTER', 'INFO'), 2_000));
        if (/^cluster_slots_assigned:16384\r?$/m.test(info)) break;
        assert.ok(Date.now() < deadline, info);
        await new Promise((r) => setTimeout(r, 100));
      }
      const tp = await startTestProxy(['--provider', 'static', '--node', `${seed.host}:${seed.port}`, `--node-password=${password}`]);
      try {
        assert.equal(tp.proxy.cluster.topology.provider, 'static');
        assert.deepEqual(tp.proxy.server.router.slotMap.masters.map((m) => m.port), masters.map((m) => m.port), 'both masters, found through one seed');
        assert.equal(tp.proxy.server.router.servingMasters.length, 2);
        const r = new Redis({ port: tp.port, maxRetriesPerRequest: 1 });
        try {
          const kv = Array.from({ length: 40 }, (_, i) => [`st:${i}`, String(i)]).flat();
          assert.equal(await r.mset(...kv), 'OK');
          assert.equal(await r.dbsize(), 40, 'masters counted, replicas not');
          assert.deepEqual(await r.mget('st:0', 'st:17', 'st:39'), ['0', '17', '39']);
        } finally {
          r.disconnect();
        }
        // the keys are on the cluster's masters, split by slot
        const sizes = await Promise.all(masters.map((m) => new ControlClients({ password }).with(m, async (c) => Number(await c.call('DBSIZE')), 2_000)));
        assert.equal(sizes[0] + sizes[1], 40);
        assert.ok(sizes.every((n) => n > 0), `both masters hold keys: ${sizes.join(', ')}`);
      } finally {
        await tp.close();
      }
      // the static proxy stopped none of the cluster's nodes
      for (const n of nodes) assert.equal((await new ControlClients({ password }).probe(n, 2_000)).state, 'ready', `${n.id} still up`);
    } finally {
      await owner.shutdown();
      await rm(ownerDir, { recursive: true, force: true });
    }
  });
});

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

describe('restarts of the executable', () => {
  // dist/ must match src/: a no-op under `make test` (which builds first), a rebuild when
  // this file runs on its own after an edit in src/.
  before(() => {
    execFileSync('make', ['--no-print-directory', 'build'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  });

  test('SIGINT then start again: same data; SIGKILL then start again: nodes adopted, same data', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-restart-'));
    const port = await freePort();
    let child = startExecutable(dir, port);
    try {
      await waitForPong(port);
      assert.equal(await redisCli(port, ['set', 'foo', 'bar']), 'OK');
      assert.equal(await redisCli(port, ['mset', 'a', '1', 'b', '2', 'c', '3']), 'OK');
      child.kill('SIGINT');
      assert.equal(await exited(child), 0);

      child = startExecutable(dir, port);
      await waitForPong(port);
      assert.equal(await redisCli(port, ['get', 'foo']), 'bar');
      assert.equal(await redisCli(port, ['dbsize']), '4');

      child.kill('SIGKILL');
      await exited(child);
      child = startExecutable(dir, port);
      await waitForPong(port);
      assert.equal(await redisCli(port, ['get', 'foo']), 'bar');
      assert.equal(await redisCli(port, ['mget', 'a', 'b', 'c']), '1\n2\n3');
      child.kill('SIGTERM');
      assert.equal(await exited(child), 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited(child);
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
