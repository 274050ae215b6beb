/**
 * The HTTP API v1 (issue 9 part 2) against a real proxy and its real Redis Cluster, with
 * Node's fetch:
 *   - data: POST /api/v1/hash/data then GET /api/v1/hash/data/{key}, read back through
 *     RESP too; unknown keys 404; a WRONGTYPE reply of the cluster 502;
 *   - bodies: wrong types, missing and extra fields, too large (413), not JSON (415/400);
 *   - cluster: GET /api/v1/clients and /api/v1/cluster as LIST says; POST /api/v1/clients
 *     adding a master then a replica of it (checked by GET and by LIST over RESP);
 *     FAILOVER, REBALANCE and DELETE of the replica; unknown nodes 404;
 *   - auth: --admin-password guards changes, --requirepass data (bearer tokens, 401);
 *   - /healthz 200, and 503 once a master is down (--no-auto-failover);
 *   - the OpenAPI document lists every route; /api/v1/docs is HTML with its assets served
 *     by the proxy; unknown routes are JSON 404s; the status page's index.html at /.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { freePort } from './support/redis-server.js';
import { listNodes } from './support/admin-list.js';
import { eventually } from './support/cluster-manager.js';
import { clusterHealth } from '../src/http/cluster-view.js';
import { SlotMap, UNASSIGNED } from '../src/cluster/slot-map.js';
import { SLOT_COUNT } from '../src/cluster/topology/topology.js';
import { parseConfig } from '../src/config.js';
import type { NodeJson } from './support/admin-list.js';

const skip = await skipWithoutRedis();

interface Reply {
  status: number;
  type: string;
  body: unknown;
  text: string;
}

/** A request to the HTTP API; a JSON body is sent as such, a string as it is. */
async function call(base: string, method: string, path: string, o: { json?: unknown; raw?: string; type?: string; token?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers['content-type'] = 'application/json';
  } else if (o.raw !== undefined) {
    body = o.raw;
    headers['content-type'] = o.type ?? 'application/json';
  }
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  const res = await fetch(`${base}${path}`, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, text, body: type.startsWith('application/json') ? JSON.parse(text) : undefined };
}

function errorOf(r: Reply): string {
  const body = r.body as { error?: unknown };
  assert.equal(typeof body?.error, 'string', `a JSON error: ${r.status} ${r.text}`);
  return body.error as string;
}


async function nodesOf(base: string, path = '/api/v1/clients'): Promise<NodeJson[]> {
  const r = await call(base, 'GET', path);
  assert.equal(r.status, 200, r.text);
  return (r.body as { nodes: NodeJson[] }).nodes;
}

const slotCount = (n: NodeJson) => n.slots.reduce((sum, [a, b]) => sum + b - a + 1, 0);

describe('HTTP API v1, open (no passwords)', { skip }, () => {
  let tp: TestProxy;
  let base: string;
  let r: Redis;

  before(async () => {
    const port = await freePort();
    tp = await startTestProxy(['--http-port', String(port), '--masters', '2', '--replicas', '0']);
    base = `http://127.0.0.1:${port}`;
    assert.equal(tp.proxy.http?.port, port);
    r = await strictClient(tp.port);
  });

  after(async () => {
    r?.disconnect();
    await tp?.close().catch(async () => killRedisServersUnder(tp.dataDir, []));
  });

  test('an idle HTTP server holds no client of the proxy: CLIENT LIST shows only ours until data is asked for', async () => {
    const before = String(await r.call('CLIENT', 'LIST')).trim().split('\n');
    assert.equal(before.length, 1, before.join('\n'));
    assert.equal((await call(base, 'GET', '/api/v1/hash/data/nothing-here')).status, 404);
    const after = String(await r.call('CLIENT', 'LIST')).trim().split('\n');
    assert.equal(after.length, 2, 'the data routes connect at their first request');
  });

  test('POST /api/v1/hash/data sets the keys through the proxy; GET reads each back; an unknown key is a JSON 404', async () => {
    const data = Array.from({ length: 50 }, (_, i) => ({ key: `http:${i}`, value: `v${i}` }));
    data.push({ key: 'with space/and ü', value: '' });
    const set = await call(base, 'POST', '/api/v1/hash/data', { json: { data } });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.body, { written: 51 });
    for (const { key, value } of data) {
      assert.equal(await r.get(key), value, `${key} over RESP`);
      const got = await call(base, 'GET', `/api/v1/hash/data/${encodeURIComponent(key)}`);
      assert.equal(got.status, 200, got.text);
      assert.deepEqual(got.body, { key, value });
    }
    await r.set('from-resp', 'bar');
    assert.deepEqual((await call(base, 'GET', '/api/v1/hash/data/from-resp')).body, { key: 'from-resp', value: 'bar' });
    const missing = await call(base, 'GET', '/api/v1/hash/data/no-such-key');
    assert.equal(missing.status, 404);
    assert.match(errorOf(missing), /no key 'no-such-key'/);
  });

  test('an error reply of the cluster (WRONGTYPE) is a 502 with its words', async () => {
    await r.rpush('a-list', 'x');
    const got = await call(base, 'GET', '/api/v1/hash/data/a-list');
    assert.equal(got.status, 502, got.text);
    assert.match(errorOf(got), /^the cluster answered: WRONGTYPE Operation against a key holding the wrong kind of value/);
  });

  test('bad bodies: wrong types, missing and extra fields, empty data, too large, not JSON — 4xx JSON errors, nothing written', async () => {
    const cases: [string, { json?: unknown; raw?: string; type?: string }, number, RegExp][] = [
      ['value a number', { json: { data: [{ key: 'bad:1', value: 1 }] } }, 400, /^body\/data\/0\/value must be string$/],
      ['key missing', { json: { data: [{ value: 'x' }] } }, 400, /^body\/data\/0 must have required property 'key'$/],
      ['extra field in an item', { json: { data: [{ key: 'bad:2', value: 'x', ttl: 5 }] } }, 400, /^body\/data\/0 must NOT have additional properties$/],
      ['extra top-level field', { json: { data: [{ key: 'bad:3', value: 'x' }], more: true } }, 400, /^body must NOT have additional properties$/],
      ['data missing', { json: {} }, 400, /^body must have required property 'data'$/],
      ['data not an array', { json: { data: { key: 'bad:4', value: 'x' } } }, 400, /^body\/data must be array$/],
      ['data empty', { json: { data: [] } }, 400, /^body\/data must NOT have fewer than 1 items$/],
      ['empty key', { json: { data: [{ key: '', value: 'x' }] } }, 400, /^body\/data\/0\/key must NOT have fewer than 1 characters$/],
      ['not JSON', { raw: '{"data": [' }, 400, /not valid JSON/],
      ['not a JSON content type', { raw: 'key=value', type: 'text/plain' }, 415, /Unsupported Media Type/i],
      ['no body', { raw: '' }, 400, /empty/i],
      ['over 1 MB', { json: { data: [{ key: 'bad:big', value: 'x'.repeat(1024 * 1024) }] } }, 413, /too large/i],
    ];
    for (const [what, body, status, message] of cases) {
      const res = await call(base, 'POST', '/api/v1/hash/data', body);
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.match(errorOf(res), message, what);
    }
    assert.equal(await r.exists('bad:1', 'bad:2', 'bad:3', 'bad:big'), 0, 'a refused body writes nothing');
  });

  test('GET /api/v1/clients and /api/v1/cluster list the nodes as LIST does, with the proxy\'s counters', async () => {
    const nodes = await nodesOf(base);
    const listed = await listNodes(r);
    assert.deepEqual(nodes.map((n) => [n.id, n.address, n.role]).sort(), listed.map((n) => [n.id, n.address, n.role]).sort());
    assert.equal(nodes.reduce((sum, n) => sum + slotCount(n), 0), SLOT_COUNT);
    assert.equal(nodes.reduce((sum, n) => sum + (n.keys ?? 0), 0), await r.dbsize(), 'keys = DBSIZE summed');
    for (const n of nodes) assert.equal(n.masterId, null, 'masters have no master: null, not absent');
    const before = tp.proxy.server.stats.totalCommands;
    const cluster = await call(base, 'GET', '/api/v1/cluster');
    assert.equal(cluster.status, 200);
    const body = cluster.body as { nodes: NodeJson[]; operations: unknown[]; stats: Record<string, number> };
    assert.deepEqual(body.nodes.map((n) => n.id), nodes.map((n) => n.id));
    assert.deepEqual(body.operations, []);
    assert.deepEqual(Object.keys(body.stats).sort(), ['connectedClients', 'failovers', 'opsPerSec', 'totalCommands']);
    assert.ok(body.stats.totalCommands >= before && body.stats.totalCommands > 50, JSON.stringify(body.stats));
    assert.ok(body.stats.connectedClients >= 1, 'this test\'s RESP client at least');
    assert.equal(body.stats.failovers, 0);
  });

  test('POST /api/v1/clients adds a master, then a replica of it (GET and RESP LIST agree); FAILOVER, REBALANCE, DELETE', async () => {
    const addMaster = await call(base, 'POST', '/api/v1/clients', { json: { role: 'master' } });
    assert.equal(addMaster.status, 201, addMaster.text);
    const added = /^(m\d+) /.exec((addMaster.body as { result: string }).result)?.[1];
    assert.ok(added, addMaster.text);
    let nodes = await nodesOf(base);
    const master = nodes.find((n) => n.id === added)!;
    assert.equal(master.role, 'master');
    assert.ok(slotCount(master) > 0, 'slots were rebalanced onto it');
    assert.equal(nodes.filter((n) => n.role === 'master').length, 3);

    const addReplica = await call(base, 'POST', '/api/v1/clients', { json: { role: 'slave', master_address: master.address } });
    assert.equal(addReplica.status, 201, addReplica.text);
    nodes = await nodesOf(base);
    const replica = nodes.find((n) => n.masterId === added);
    assert.ok(replica, JSON.stringify(nodes));
    assert.equal(replica.role, 'replica');
    const overResp = (await listNodes(r)).find((n) => n.id === replica.id);
    assert.equal(overResp?.role, 'replica');
    assert.equal(overResp?.master, added);

    // Refusals: an unknown master is the body's fault (400); a replica is no master to fail over (409).
    const unknownMaster = await call(base, 'POST', '/api/v1/clients', { json: { role: 'slave', master_address: 'm99' } });
    assert.equal(unknownMaster.status, 400);
    assert.match(errorOf(unknownMaster), /no node m99/);
    const noMaster = await call(base, 'POST', '/api/v1/clients', { json: { role: 'slave' } });
    assert.equal(noMaster.status, 400);
    assert.match(errorOf(noMaster), /needs master_address/);
    const masterWithMaster = await call(base, 'POST', '/api/v1/clients', { json: { role: 'master', master_address: 'm0' } });
    assert.equal(masterWithMaster.status, 400);
    const badRole = await call(base, 'POST', '/api/v1/clients', { json: { role: 'boss' } });
    assert.equal(badRole.status, 400);
    assert.match(errorOf(badRole), /^body\/role must be equal to one of the allowed values$/);
    const badAddress = await call(base, 'POST', '/api/v1/clients', { json: { role: 'master', address: 'nowhere' } });
    assert.equal(badAddress.status, 400);
    assert.match(errorOf(badAddress), /^body\/address must match pattern/);
    const replicaFailover = await call(base, 'POST', '/api/v1/cluster/failover', { json: { master: replica.id } });
    assert.equal(replicaFailover.status, 409, replicaFailover.text);
    assert.match(errorOf(replicaFailover), /is not a master/);
    const unknownFailover = await call(base, 'POST', '/api/v1/cluster/failover', { json: { master: 'm99' } });
    assert.equal(unknownFailover.status, 404);

    const failover = await call(base, 'POST', '/api/v1/cluster/failover', { json: { master: added } });
    assert.equal(failover.status, 200, failover.text);
    assert.match((failover.body as { result: string }).result, new RegExp(`^${replica.id} .* is the master of ${added}'s slots now`));
    // The old master turns replica as it hears of the switch: LIST shows what the nodes say.
    await eventually(`${added} listed as ${replica.id}'s replica`, async () => {
      const now = await nodesOf(base);
      const roles = `${now.find((n) => n.id === replica.id)?.role} ${now.find((n) => n.id === added)?.role}`;
      return roles === 'master replica' || roles;
    });

    const rebalance = await call(base, 'POST', '/api/v1/cluster/rebalance');
    assert.equal(rebalance.status, 200, rebalance.text);
    assert.equal(typeof (rebalance.body as { result: string }).result, 'string');

    const remove = await call(base, 'DELETE', `/api/v1/clients/${added}`);
    assert.equal(remove.status, 200, remove.text);
    assert.match((remove.body as { result: string }).result, new RegExp(`^${added} removed`));
    assert.ok(!(await nodesOf(base)).some((n) => n.id === added));
    const again = await call(base, 'DELETE', `/api/v1/clients/${added}`);
    assert.equal(again.status, 404);
    assert.match(errorOf(again), new RegExp(`no node ${added}`));
    assert.equal(await r.get('http:7'), 'v7', 'keys survived the changes');
  });

  test('the OpenAPI document lists every route with its schemas; /api/v1/docs is HTML with assets from the proxy', async () => {
    const doc = await call(base, 'GET', '/api/v1/openapi.json');
    assert.equal(doc.status, 200);
    const api = doc.body as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>> };
    assert.match(api.openapi, /^3\./);
    const routes = Object.entries(api.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    assert.deepEqual(routes, [
      'DELETE /api/v1/clients/{id}',
      'GET /api/v1/clients',
      'GET /api/v1/cluster',
      'GET /api/v1/hash/data/{key}',
      'GET /healthz',
      'GET /metrics',
      'POST /api/v1/clients',
      'POST /api/v1/cluster/failover',
      'POST /api/v1/cluster/rebalance',
      'POST /api/v1/hash/data',
    ]);
    assert.ok(api.paths['/api/v1/hash/data'].post.requestBody, 'the body schema is documented');
    assert.ok(api.paths['/api/v1/hash/data/{key}'].get.responses['404'], 'the 404 is documented');

    const docs = await call(base, 'GET', '/api/v1/docs');
    assert.equal(docs.status, 200);
    assert.match(docs.type, /^text\/html/);
    assert.match(docs.text, /Swagger UI/);
    const assets = [...docs.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length > 0);
    for (const asset of assets) {
      assert.ok(asset.startsWith('/api/v1/docs/') || asset.startsWith('./'), `served by the proxy, not a CDN: ${asset}`);
      const url = asset.startsWith('./') ? `/api/v1/docs/${asset.slice(2)}` : asset;
      const res = await fetch(`${base}${url}`);
      assert.equal(res.status, 200, url);
      await res.arrayBuffer();
    }
    const init = await fetch(`${base}/api/v1/docs/static/swagger-initializer.js`);
    assert.equal(init.status, 200);
    const script = await init.text();
    assert.match(script, /validatorUrl: null/, 'no online validator badge');
    assert.match(script, /url: resolveUrl\('\.\/json'\)/, 'the document from the proxy');
  });

  test('/healthz is ok; unknown routes are JSON 404s; the status page is served at /', async () => {
    const health = await call(base, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
    for (const [method, path] of [
      ['GET', '/api/v1/nope'],
      ['GET', '/nope.html'],
      ['POST', '/healthz'],
      ['GET', '/..%2Fpackage.json'],
      ['GET', '/.hidden'],
    ]) {
      const res = await call(base, method, path);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.match(errorOf(res), /^no route /);
    }
    const page = await call(base, 'GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.match(page.text, /<html/);
    const again = await call(base, 'GET', '/index.html');
    assert.equal(again.text, page.text);
    // /metrics: Prometheus text whose counters move with traffic (the metrics suite checks the figures).
    const setCalls = async (): Promise<number> => {
      const res = await call(base, 'GET', '/metrics');
      assert.equal(res.status, 200);
      assert.match(res.type, /^text\/plain; version=0\.0\.4/);
      const line = res.text.split('\n').find((l) => l.startsWith('ihs_command_calls_total{cmd="set"}'));
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const before = await setCalls();
    assert.equal((await call(base, 'POST', '/api/v1/hash/data', { json: { data: [{ key: 'm1', value: 'a' }, { key: 'm2', value: 'b' }] } })).status, 200);
    assert.equal(await setCalls(), before + 2, 'two SETs counted');
  });
});

describe('HTTP API v1 with --admin-password and --requirepass', { skip }, () => {
  const ADMIN = 'admin-secret';
  const DATA = 'data-secret';
  let tp: TestProxy;
  let base: string;

  before(async () => {
    const port = await freePort();
    tp = await startTestProxy([
      '--http-port', String(port), '--masters', '2', '--replicas', '0',
      '--admin-password', ADMIN, '--requirepass', DATA,
      '--no-auto-failover', '--node-timeout', '500',
    ]);
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await tp?.close().catch(async () => killRedisServersUnder(tp.dataDir, []));
  });

  test('changes need the admin password as a bearer token (checked before the body); reads are open', async () => {
    for (const token of [undefined, 'wrong', DATA]) {
      const res = await call(base, 'POST', '/api/v1/clients', { json: { role: 'nonsense' }, token });
      assert.equal(res.status, 401, `token ${token}: ${res.text}`);
      assert.match(errorOf(res), token === undefined ? /needs Authorization: Bearer/ : /wrong password/);
    }
    assert.equal((await call(base, 'DELETE', '/api/v1/clients/m0')).status, 401);
    assert.equal((await call(base, 'POST', '/api/v1/cluster/rebalance')).status, 401);
    assert.equal((await call(base, 'POST', '/api/v1/cluster/failover', { json: { master: 'm0' } })).status, 401);
    // With the password the request gets as far as the schema.
    const checked = await call(base, 'POST', '/api/v1/clients', { json: { role: 'nonsense' }, token: ADMIN });
    assert.equal(checked.status, 400);
    const rebalance = await call(base, 'POST', '/api/v1/cluster/rebalance', { token: ADMIN });
    assert.equal(rebalance.status, 200, rebalance.text);
    assert.equal((await nodesOf(base)).length, 2, 'GET /api/v1/clients needs no token');
    assert.equal((await call(base, 'GET', '/api/v1/cluster')).status, 200);
    assert.equal((await call(base, 'GET', '/healthz')).status, 200);
    const doc = (await call(base, 'GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown }>> };
    assert.ok(doc.paths['/api/v1/clients'].post.security, 'the document says which routes need the token');
  });

  test('data needs --requirepass (or the admin password) as a bearer token, as RESP needs AUTH', async () => {
    const body = { data: [{ key: 'auth:k', value: 'v' }] };
    assert.equal((await call(base, 'POST', '/api/v1/hash/data', { json: body })).status, 401);
    assert.equal((await call(base, 'POST', '/api/v1/hash/data', { json: body, token: 'wrong' })).status, 401);
    assert.equal((await call(base, 'GET', '/api/v1/hash/data/auth:k')).status, 401);
    assert.equal((await call(base, 'POST', '/api/v1/hash/data', { json: body, token: DATA })).status, 200);
    assert.deepEqual((await call(base, 'GET', '/api/v1/hash/data/auth:k', { token: ADMIN })).body, { key: 'auth:k', value: 'v' });
    const r = await strictClient(tp.port, 3000, DATA);
    try {
      assert.equal(await r.get('auth:k'), 'v', 'written through the proxy, which needed AUTH');
    } finally {
      r.disconnect();
    }
  });

  test('/healthz turns 503 with the reason when a master is down', async () => {
    const victim = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm1');
    const pid = Number(victim?.handle);
    assert.ok(Number.isInteger(pid) && pid > 0, `m1's pid: ${victim?.handle}`);
    process.kill(pid, 'SIGKILL');
    await eventually('/healthz to say fail', async () => {
      const res = await call(base, 'GET', '/healthz');
      if (res.status !== 503) return `${res.status} ${res.text}`;
      assert.equal((res.body as { status: string }).status, 'fail');
      assert.match(errorOf(res), /^\d+ slots are on a failed master$/);
      return true;
    });
    const nodes = await nodesOf(base, '/api/v1/cluster');
    assert.equal(nodes.find((n) => n.id === 'm1')?.state, 'failed');
  });
});

describe('clusterHealth', () => {
  const route = (port: number, failing: boolean) => ({ nodeId: `n${port}`, host: '127.0.0.1', port, address: `127.0.0.1:${port}`, failing, replicas: [] });

  test('ok when every slot has a master not failing; fail with counts otherwise', () => {
    const slots = new Uint16Array(SLOT_COUNT).fill(0);
    slots.fill(1, 8192);
    assert.deepEqual(clusterHealth(new SlotMap([route(1, false), route(2, false)], slots, 1), undefined), { status: 'ok' });
    assert.deepEqual(clusterHealth(new SlotMap([route(1, false), route(2, true)], slots, 1), undefined), { status: 'fail', error: '8192 slots are on a failed master' });
    const down = [{ id: 'm0', host: '127.0.0.1', port: 1, role: 'master' as const, masterId: undefined, state: 'failed' as const }];
    assert.deepEqual(clusterHealth(new SlotMap([route(1, false), route(2, false)], slots, 1), down), { status: 'fail', error: '8192 slots are on a failed master' });
    const holes = slots.slice();
    holes.fill(UNASSIGNED, 0, 10);
    assert.deepEqual(clusterHealth(new SlotMap([route(1, false), route(2, false)], holes, 1), undefined), { status: 'fail', error: '10 slots have no master' });
  });
});

describe('--http-port and --http-bind', () => {
  test('default 8888 on 127.0.0.1; 0 turns the HTTP server off; out of range is refused', () => {
    const defaults = parseConfig([]);
    assert.equal(defaults.httpPort, 8888);
    assert.equal(defaults.httpBind, '127.0.0.1');
    assert.equal(parseConfig(['--http-port', '0']).httpPort, 0);
    assert.equal(parseConfig(['--http-bind', '0.0.0.0']).httpBind, '0.0.0.0');
    assert.throws(() => parseConfig(['--http-port', '65536']), /^Error: --http-port must be 0\.\.65535 \(0: no HTTP API\)$/);
    assert.throws(() => parseConfig(['--http-port', '-1']), /--http-port must be 0\.\.65535/);
  });
});
