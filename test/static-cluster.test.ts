/**
 * Acceptance: `--provider static --node host:port` fronts an existing Redis Cluster that a user
 * made with redis-cli (test/support/redis-cluster.ts) and follows it while it changes — slots
 * moved by `redis-cli --cluster reshard`, a replica promoted by `CLUSTER FAILOVER` — without a
 * single error at the client. A standalone node is refused at start with one clear error.
 *
 * Clients of the proxy are ioredis without retries, reconnects or an offline queue, so every
 * error the proxy returns (or a dropped connection) is seen and counted, never masked. Data is
 * checked afterwards through the proxy and, independently, on the cluster itself (ioredis
 * Cluster connected to the real nodes, and redis-cli -c).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { skipWithoutRedis } from './support/redis-binary.js';
import { startRedisCluster, unusedAddress, type ClusterNodeInfo, type RedisCluster } from './support/redis-cluster.js';
import { startRedisServer } from './support/redis-server.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';

const skip = await skipWithoutRedis();
const PASSWORD = 'static-cluster-secret';

// --- cleanup: whatever a test starts is stopped after it, pass or fail ----------------------

const cleanups: (() => Promise<unknown> | unknown)[] = [];
function defer(fn: () => Promise<unknown> | unknown): void {
  cleanups.push(fn);
}
afterEach(async () => {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      console.error('cleanup failed:', err);
    }
  }
});

async function cluster3x1(): Promise<RedisCluster> {
  const c = await startRedisCluster({ masters: 3, replicas: 1, password: PASSWORD });
  defer(() => c.close());
  return c;
}

async function proxyFor(seeds: string[]): Promise<TestProxy> {
  const tp = await startTestProxy(['--provider', 'static', ...seeds.flatMap((s) => ['--node', s]), '--node-password', PASSWORD]);
  defer(() => tp.close());
  return tp;
}

/** An ioredis client of the proxy that never retries, reconnects or queues: every error is visible. */
async function proxyClient(tp: TestProxy, errors?: ErrorLog): Promise<Redis> {
  const r = new Redis({
    host: '127.0.0.1',
    port: tp.port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    commandTimeout: 10_000, // a request the proxy never answers is an error too, not a hung test
  });
  r.on('error', (err: Error) => errors?.add(`connection error: ${err.message}`));
  defer(() => r.disconnect());
  await r.connect();
  return r;
}

/** ioredis Cluster connected to the real cluster (not the proxy): the independent check. */
async function directClient(cluster: RedisCluster): Promise<Cluster> {
  const [host, port] = cluster.seed.split(':');
  const c = new Cluster([{ host, port: Number(port) }], { redisOptions: { password: PASSWORD }, enableAutoPipelining: true });
  defer(() => c.disconnect());
  return c;
}

/** Every error a client saw: counted; messages grouped by their shape (numbers masked), one example each. */
class ErrorLog {
  count = 0;
  private readonly kinds = new Map<string, { n: number; example: string }>();
  add(message: string): void {
    this.count++;
    const kind = message.replace(/\d+/g, 'N');
    const seen = this.kinds.get(kind);
    if (seen) seen.n++;
    else this.kinds.set(kind, { n: 1, example: message });
  }
  report(): string {
    return [...this.kinds.values()].slice(0, 10).map(({ n, example }) => `${n}× like: ${example}`).join('\n');
  }
  assertNone(what: string): void {
    assert.equal(this.count, 0, `${what}: ${this.count} errors at the client:\n${this.report()}`);
  }
}

/** Run a pipeline; per-command errors and a failed exec are logged; returns the replies (undefined where failed). */
async function execLogged(r: Redis, build: (p: ReturnType<Redis['pipeline']>) => void, errors: ErrorLog): Promise<unknown[]> {
  const p = r.pipeline();
  build(p);
  let results: [Error | null, unknown][] | null;
  try {
    results = await p.exec();
  } catch (err) {
    errors.add(`pipeline failed: ${(err as Error).message}`);
    return [];
  }
  return (results ?? []).map(([err, value]) => {
    if (err) {
      errors.add(err.message);
      return undefined;
    }
    return value;
  });
}

function slotOwner(masters: ClusterNodeInfo[], slot: number): ClusterNodeInfo {
  const m = masters.find((x) => x.slots.some(([lo, hi]) => slot >= lo && slot <= hi));
  assert.ok(m, `no master owns slot ${slot}`);
  return m;
}

/** Every key readable with its value through the proxy (MGET in batches). */
async function checkThroughProxy(r: Redis, expected: Map<string, string>): Promise<void> {
  const keys = [...expected.keys()];
  const wrong: string[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    const values = await r.mget(...batch);
    batch.forEach((k, j) => {
      if (values[j] !== expected.get(k)) wrong.push(`${k}: ${values[j]} (want ${expected.get(k)})`);
    });
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${keys.length} keys wrong through the proxy`);
}

/** Every key readable with its value on the cluster itself (ioredis Cluster, not the proxy). */
async function checkOnCluster(cluster: RedisCluster, expected: Map<string, string>): Promise<void> {
  const c = await directClient(cluster);
  const keys = [...expected.keys()];
  const wrong: string[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const values = await Promise.all(batch.map((k) => c.get(k)));
    batch.forEach((k, j) => {
      if (values[j] !== expected.get(k)) wrong.push(`${k}: ${values[j]} (want ${expected.get(k)})`);
    });
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${keys.length} keys wrong on the cluster (ioredis Cluster)`);
}

/** A sample of keys read with `redis-cli -c` from rotating nodes, 10 at a time. */
async function checkWithRedisCli(cluster: RedisCluster, expected: Map<string, string>, sample: number): Promise<void> {
  const keys = [...expected.keys()];
  const step = Math.max(1, Math.floor(keys.length / sample));
  const picked = keys.filter((_, i) => i % step === 0).slice(0, sample);
  const wrong: string[] = [];
  for (let i = 0; i < picked.length; i += 10) {
    await Promise.all(
      picked.slice(i, i + 10).map(async (k, j) => {
        const node = cluster.addresses[(i + j) % cluster.addresses.length];
        const value = await cluster.cli(['-c', 'GET', k], { node });
        if (value !== expected.get(k)) wrong.push(`${k} via ${node}: ${value} (want ${expected.get(k)})`);
      }),
    );
  }
  assert.deepEqual(wrong, [], `redis-cli -c on the cluster`);
}

async function dbsizeOfMasters(cluster: RedisCluster): Promise<number> {
  let total = 0;
  for (const m of await cluster.masters()) total += Number(await cluster.cli(['DBSIZE'], { node: m.address }));
  return total;
}

describe('static provider in front of an existing Redis Cluster', { skip }, () => {
  test('10 000 keys SET/GET with zero errors while redis-cli --cluster reshard moves 1000 slots', { timeout: 60_000 }, async () => {
    const cluster = await cluster3x1();
    const tp = await proxyFor([cluster.seed]);
    const errors = new ErrorLog();
    const LOOPS = 10;
    const KEYS = 10_000;
    const BATCH = 50;
    const clients = await Promise.all(Array.from({ length: LOOPS }, () => proxyClient(tp, errors)));
    const keysOfLoop = (loop: number) => Array.from({ length: KEYS / LOOPS }, (_, i) => `rs:${i * LOOPS + loop}`);
    const expected = new Map<string, string>();

    // Every key exists before the reshard starts, so the moved slots carry data.
    await Promise.all(
      clients.map(async (r, loop) => {
        const keys = keysOfLoop(loop);
        for (let i = 0; i < keys.length; i += BATCH) {
          const batch = keys.slice(i, i + BATCH);
          const replies = await execLogged(r, (p) => batch.forEach((k) => p.set(k, `0:${k}`)), errors);
          batch.forEach((k, j) => replies[j] === 'OK' && expected.set(k, `0:${k}`));
        }
      }),
    );
    errors.assertNone('initial SETs');
    assert.equal(expected.size, KEYS);

    const [source, target] = await cluster.masters();
    let resharding = true;
    let opsDuringReshard = 0;
    const reshard = cluster.reshard({ from: source.id, to: target.id, slots: 1000 }).finally(() => (resharding = false));
    reshard.catch(() => {}); // a failure is reported by `await reshard` once the loops stopped
    const deadline = Date.now() + 45_000;
    // Each loop overwrites and reads back its keys, pass after pass, until it made a whole pass
    // that began after the reshard ended; a GET must return the value just SET before it.
    await Promise.all(
      clients.map(async (r, loop) => {
        const keys = keysOfLoop(loop);
        for (let pass = 1; ; pass++) {
          const startedDuringReshard = resharding;
          for (let i = 0; i < keys.length; i += BATCH) {
            const batch = keys.slice(i, i + BATCH);
            const replies = await execLogged(r, (p) => batch.forEach((k) => p.set(k, `${pass}:${k}`).get(k)), errors);
            batch.forEach((k, j) => {
              const [set, get] = [replies[2 * j], replies[2 * j + 1]];
              if (set === 'OK') expected.set(k, `${pass}:${k}`);
              else if (set !== undefined) errors.add(`SET ${k} replied ${String(set)}`);
              if (get !== undefined && get !== `${pass}:${k}`) errors.add(`GET after SET returned another value (${k}: ${String(get)})`);
            });
            if (resharding) opsDuringReshard += 2 * batch.length;
          }
          if ((!resharding && !startedDuringReshard) || Date.now() > deadline) break;
        }
      }),
    );
    await reshard;
    errors.assertNone('SET/GET during the reshard');
    assert.ok(opsDuringReshard >= 2 * KEYS, `the load overlapped the reshard (${opsDuringReshard} commands while it ran)`);

    const slots = new Map((await cluster.masters()).map((m) => [m.id, m.slotCount]));
    assert.equal(slots.get(source.id), source.slotCount - 1000, 'the reshard moved 1000 slots away from the source');
    assert.equal(slots.get(target.id), target.slotCount + 1000);

    await checkThroughProxy(clients[0], expected);
    await checkOnCluster(cluster, expected);
    await checkWithRedisCli(cluster, expected, 200);
    assert.equal(await dbsizeOfMasters(cluster), KEYS, 'no key lost or duplicated on the masters');
  });

  test('CLUSTER FAILOVER on a replica under write load: zero errors, writes after the switch land, nothing lost', { timeout: 60_000 }, async () => {
    const cluster = await cluster3x1();
    const tp = await proxyFor([cluster.seed]);
    const errors = new ErrorLog();
    const LOOPS = 10;
    const clients = await Promise.all(Array.from({ length: LOOPS }, () => proxyClient(tp, errors)));
    const acked = new Map<string, { value: string; at: number }>();
    let stop = false;
    let longestBatchMs = 0;
    const load = Promise.all(
      clients.map(async (r, loop) => {
        for (let i = 0; !stop; ) {
          const batch = Array.from({ length: 20 }, () => `fo:${loop}:${i++}`);
          const sentAt = Date.now();
          const replies = await execLogged(r, (p) => batch.forEach((k) => p.set(k, `v:${k}`)), errors);
          const now = Date.now();
          longestBatchMs = Math.max(longestBatchMs, now - sentAt);
          batch.forEach((k, j) => replies[j] === 'OK' && acked.set(k, { value: `v:${k}`, at: now }));
        }
      }),
    );
    let replica: ClusterNodeInfo | undefined;
    let switchedAt = 0;
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      replica = (await cluster.replicas())[0];
      await cluster.failoverReplica(replica.address);
      switchedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      stop = true;
      await load;
    }

    errors.assertNone('writes across the failover');
    // A manual failover pauses the old master's clients for at most CLUSTER_MF_TIMEOUT (5 s).
    assert.ok(longestBatchMs < 5_000, `clients saw at most a short pause (longest batch: ${longestBatchMs} ms)`);
    const masters = await cluster.masters();
    const promoted = masters.find((m) => m.id === replica.id);
    assert.ok(promoted, `${replica.address} is a master now`);
    const landedAfter = [...acked].filter(([k, { at }]) => at > switchedAt && slotOwner(masters, calculateSlot(k)).id === promoted.id);
    assert.ok(landedAfter.length > 0, `writes to the promoted master's slots succeeded after the switch (${acked.size} writes in all)`);
    const expected = new Map([...acked].map(([k, { value }]) => [k, value]));
    await checkThroughProxy(clients[0], expected);
    await checkOnCluster(cluster, expected);
  });

  test('a standalone (non-cluster) redis-server as --node: start fails with one clear error naming the node', { timeout: 30_000 }, async () => {
    const standalone = await startRedisServer(['--requirepass', PASSWORD]);
    defer(() => standalone.stop());
    const address = `127.0.0.1:${standalone.port}`;
    const outcome = await startTestProxy(['--provider', 'static', '--node', address, '--node-password', PASSWORD]).then(
      (tp) => {
        defer(() => tp.close());
        return undefined;
      },
      (err: unknown) => err,
    );
    assert.ok(outcome instanceof Error, `startProxy must reject for a standalone node at ${address}, but it started`);
    assert.match(outcome.message, /cluster/i);
    assert.ok(outcome.message.includes(address), `the error names the node ${address}: ${outcome.message}`);
    assert.ok(!outcome.message.includes('\n'), `one line: ${outcome.message}`);
  });

  test('a seed list whose first seed is down: the second seed is used', { timeout: 30_000 }, async () => {
    const cluster = await cluster3x1();
    const dead = await unusedAddress();
    const tp = await proxyFor([dead, (await cluster.masters())[1].address]);
    const errors = new ErrorLog();
    const r = await proxyClient(tp, errors);
    const expected = new Map(Array.from({ length: 300 }, (_, i) => [`seed:${i}`, `v${i}`]));
    const masters = await cluster.masters();
    assert.equal(new Set([...expected.keys()].map((k) => slotOwner(masters, calculateSlot(k)).id)).size, 3, 'keys on every master');
    await execLogged(r, (p) => expected.forEach((v, k) => p.set(k, v)), errors);
    errors.assertNone(`SETs with seeds ${dead} (down) and a live one`);
    await checkThroughProxy(r, expected);
    await checkOnCluster(cluster, expected);
  });

  test('multi-key commands: MSET/MGET/DEL split by slot; SUNIONSTORE across slots gets CROSSSLOT', { timeout: 30_000 }, async () => {
    const cluster = await cluster3x1();
    const tp = await proxyFor([cluster.seed]);
    const r = await proxyClient(tp);
    const masters = await cluster.masters();

    // 4 keys in 4 different slots on each master: the split must be by slot, not by master.
    const byMaster = new Map<string, string[]>(masters.map((m) => [m.id, []]));
    for (let i = 0; [...byMaster.values()].some((ks) => ks.length < 4); i++) {
      const key = `mk:${i}`;
      const ks = byMaster.get(slotOwner(masters, calculateSlot(key)).id)!;
      if (ks.length < 4 && !ks.some((k) => calculateSlot(k) === calculateSlot(key))) ks.push(key);
    }
    const keys = [...byMaster.values()].flat();
    assert.equal(new Set(keys.map((k) => calculateSlot(k))).size, keys.length);
    const kv = keys.flatMap((k) => [k, `val-${k}`]);

    assert.equal(await r.mset(...kv), 'OK');
    assert.deepEqual(await r.mget(...keys, 'mk:missing'), [...keys.map((k) => `val-${k}`), null]);
    await checkOnCluster(cluster, new Map(keys.map((k) => [k, `val-${k}`])));
    assert.equal(await r.del(...keys.slice(0, 5), 'mk:missing'), 5);
    assert.deepEqual(await r.mget(...keys.slice(0, 6)), [null, null, null, null, null, `val-${keys[5]}`]);

    // A command that cannot be split: Redis Cluster's own error, word for word.
    const [a, b, c] = ['a', 'b', 'c'];
    assert.equal(new Set([a, b, c].map((k) => calculateSlot(k))).size, 3);
    await r.sadd(b, 'x');
    await assert.rejects(r.sunionstore(a, b, c), (err: Error) => {
      assert.equal(err.message, "CROSSSLOT Keys in request don't hash to the same slot");
      return true;
    });
    // Same slot (hash tags): it runs.
    await r.sadd('{t}b', 'x', 'y');
    await r.sadd('{t}c', 'z');
    assert.equal(await r.sunionstore('{t}a', '{t}b', '{t}c'), 3);
  });
});
