/**
 * The HTTP API v1 (issue 9 part 2) against a real proxy and its real Redis Cluster, with
 * Node's fetch:
 *   - data: POST /api/v1/hash/data then GET /api/v1/hash/data/{key}, read back through
 *     RESP too; unknown keys 404; a WRONGTYPE reply of the cluster 502; binary values in
 *     base64 both ways, and a 406 (never U+FFFD) for one asked for as text;
 *   - bodies: wrong types, missing and extra fields (named), too large (413), not JSON
 *     (415/400); routes that take no fields refuse any;
 *   - cluster: GET /api/v1/clients and /api/v1/cluster as LIST says; POST /api/v1/clients
 *     adding a master (its operation listed from its first step, over HTTP and RESP) then a
 *     replica of it (checked by GET and by LIST over RESP); FAILOVER, REBALANCE and DELETE
 *     of the replica; unknown nodes 404 wherever they are named;
 *   - auth: --admin-password guards the cluster routes, reads included (as LIST on RESP),
 *     --requirepass data (bearer tokens, 401); with --requirepass alone it guards both;
 *     /healthz, /metrics and the status page's files stay open;
 *   - FAILOVER of a master that is down (--no-auto-failover): a 409 saying to retry with
 *     force, then `"force": true` (and RESP FAILOVER <m> FORCE) promoting its replica;
 *   - /healthz 200, and 503 once a master is down (--no-auto-failover);
 *   - the OpenAPI document lists every route; /api/v1/docs is HTML with its assets served
 *     by the proxy; unknown routes are JSON 404s, wrong methods 405s with Allow; the status
 *     page's index.html at /.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { freePort } from './support/redis-server.js';
import { listNodes } from './support/admin-list.js';
import { parseListing, type OperationListing } from '../src/status/list-format.js';
import calculateSlot from 'cluster-key-slot';
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


async function nodesOf(base: string, path = '/api/v1/clients', token?: string): Promise<NodeJson[]> {
  const r = await call(base, 'GET', path, { token });
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

  test('binary values: base64 both ways; one that is not UTF-8 asked for as text is a 406, never U+FFFD', async () => {
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x41, 0xc3, 0x28, 0x0a]);
    const set = await call(base, 'POST', '/api/v1/hash/data', {
      json: { data: [{ key: 'bin:1', value: bytes.toString('base64'), encoding: 'base64' }, { key: 'bin:text', value: 'héllo', encoding: 'utf8' }] },
    });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(await r.getBuffer('bin:1'), bytes, 'the bytes as sent, over RESP');
    assert.equal(await r.get('bin:text'), 'héllo');

    const asText = await call(base, 'GET', '/api/v1/hash/data/bin:1');
    assert.equal(asText.status, 406, asText.text);
    assert.match(errorOf(asText), /^the value of 'bin:1' is not valid UTF-8 \(8 bytes\): ask for it with \?encoding=base64$/);
    assert.ok(!asText.text.includes('\ufffd'));
    const asBase64 = await call(base, 'GET', '/api/v1/hash/data/bin:1?encoding=base64');
    assert.equal(asBase64.status, 200, asBase64.text);
    assert.deepEqual(asBase64.body, { key: 'bin:1', value: bytes.toString('base64'), encoding: 'base64' });
    // Set over RESP, read over HTTP: the same bytes.
    await r.set('bin:resp', Buffer.from([0x00, 0x01, 0xff]));
    assert.deepEqual((await call(base, 'GET', '/api/v1/hash/data/bin:resp?encoding=base64')).body, { key: 'bin:resp', value: 'AAH/', encoding: 'base64' });
    assert.deepEqual((await call(base, 'GET', '/api/v1/hash/data/bin:text?encoding=utf8')).body, { key: 'bin:text', value: 'héllo' });
    assert.deepEqual((await call(base, 'GET', '/api/v1/hash/data/bin:text?encoding=base64')).body, { key: 'bin:text', value: Buffer.from('héllo').toString('base64'), encoding: 'base64' });

    const refusals: [string, Reply, RegExp][] = [
      ['not base64', await call(base, 'POST', '/api/v1/hash/data', { json: { data: [{ key: 'bin:ok', value: 'x' }, { key: 'bin:bad', value: 'not base64!', encoding: 'base64' }] } }), /^body\/data\/1\/value is not base64/],
      ['unknown encoding', await call(base, 'POST', '/api/v1/hash/data', { json: { data: [{ key: 'bin:bad', value: 'x', encoding: 'hex' }] } }), /^body\/data\/0\/encoding must be equal to one of the allowed values$/],
      ['unknown query encoding', await call(base, 'GET', '/api/v1/hash/data/bin:1?encoding=hex'), /^querystring\/encoding must be equal to one of the allowed values$/],
      ['unknown query parameter', await call(base, 'GET', '/api/v1/hash/data/bin:1?format=raw'), /^querystring must NOT have additional properties: 'format'$/],
    ];
    for (const [what, res, message] of refusals) {
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.match(errorOf(res), message, what);
    }
    assert.equal(await r.exists('bin:ok', 'bin:bad'), 0, 'a refused body writes nothing');
  });

  test('bad bodies: wrong types, missing and extra fields, empty data, too large, not JSON — 4xx JSON errors, nothing written', async () => {
    const cases: [string, { json?: unknown; raw?: string; type?: string }, number, RegExp][] = [
      ['value a number', { json: { data: [{ key: 'bad:1', value: 1 }] } }, 400, /^body\/data\/0\/value must be string$/],
      ['key missing', { json: { data: [{ value: 'x' }] } }, 400, /^body\/data\/0 must have required property 'key'$/],
      ['extra field in an item', { json: { data: [{ key: 'bad:2', value: 'x', ttl: 5 }] } }, 400, /^body\/data\/0 must NOT have additional properties: 'ttl'$/],
      ['extra top-level field', { json: { data: [{ key: 'bad:3', value: 'x' }], more: true } }, 400, /^body must NOT have additional properties: 'more'$/],
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
    // While ADD MASTER runs, every listing (HTTP and RESP) shows an operation: the change
    // itself from its first step (starting the node), then its migration. A listing taken
    // before the request reached the proxy, or after the change ended, shows no operation,
    // but then the new node is not listed yet, or has its slots already.
    const known = new Set((await nodesOf(base)).map((n) => n.id));
    let pending = true;
    const adding = call(base, 'POST', '/api/v1/clients', { json: { role: 'master' } }).finally(() => {
      pending = false;
    });
    const listings: { via: string; operations: OperationListing[]; nodes: { id: string; slots: [number, number][] }[] }[] = [];
    while (pending) {
      const [http, resp] = await Promise.all([call(base, 'GET', '/api/v1/clients'), r.call('LIST') as Promise<string[]>]);
      if (!pending) break; // answered after the change's reply: proves nothing either way
      assert.equal(http.status, 200, http.text);
      listings.push({ via: 'HTTP', ...(http.body as { operations: OperationListing[]; nodes: NodeJson[] }) });
      listings.push({ via: 'RESP', ...parseListing(resp) });
    }
    for (const l of listings) {
      const added = l.nodes.find((n) => !known.has(n.id));
      const settled = added === undefined || added.slots.length > 0;
      assert.ok(l.operations.length > 0 || settled, `${l.via} listed ${added?.id} without slots and no operation: ${JSON.stringify(l)}`);
    }
    const steps = listings.flatMap((l) => l.operations).filter((op) => op.kind === 'admin-change' && op.id === 'ADD-MASTER');
    assert.ok(steps.some((op) => op.progress === 'step="starting a new master"'), `the first step listed: ${JSON.stringify(listings.map((l) => l.operations))}`);
    const addMaster = await adding;
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

    // Refusals: an unknown node is a 404 wherever it is named (path or body); a replica is no master to fail over (409).
    const unknownMaster = await call(base, 'POST', '/api/v1/clients', { json: { role: 'slave', master_address: 'm99' } });
    assert.equal(unknownMaster.status, 404, unknownMaster.text);
    assert.match(errorOf(unknownMaster), /^no node m99 \(known: /);
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
    assert.match(errorOf(unknownFailover), /^no node m99 \(known: /);
    const unknownRemove = await call(base, 'DELETE', '/api/v1/clients/m99');
    assert.equal(unknownRemove.status, 404);
    assert.match(errorOf(unknownRemove), /^no node m99 \(known: /);
    // Unknown body fields are refused by every change, named; a route that takes none refuses any.
    const fieldRefusals: [string, string, unknown, string][] = [
      ['POST', '/api/v1/cluster/failover', { master: added, now: true }, 'now'],
      ['POST', '/api/v1/cluster/rebalance', { now: true }, 'now'],
      ['DELETE', `/api/v1/clients/${replica.id}`, { force: true }, 'force'],
      ['POST', '/api/v1/clients', { role: 'master', replicas: 2 }, 'replicas'],
    ];
    for (const [method, path, json, field] of fieldRefusals) {
      const res = await call(base, method, path, { json });
      assert.equal(res.status, 400, `${method} ${path}: ${res.text}`);
      assert.equal(errorOf(res), `body must NOT have additional properties: '${field}'`);
    }
    assert.ok((await nodesOf(base)).some((n) => n.id === replica.id), 'the refused DELETE removed nothing');

    const failover = await call(base, 'POST', '/api/v1/cluster/failover', { json: { master: added } });
    assert.equal(failover.status, 200, failover.text);
    assert.match((failover.body as { result: string }).result, new RegExp(`^${replica.id} .* is the master of ${added}'s slots now`));
    // The old master turns replica as it hears of the switch: LIST shows what the nodes say.
    await eventually(`${added} listed as ${replica.id}'s replica`, async () => {
      const now = await nodesOf(base);
      const roles = `${now.find((n) => n.id === replica.id)?.role} ${now.find((n) => n.id === added)?.role}`;
      return roles === 'master replica' || roles;
    });

    const rebalance = await call(base, 'POST', '/api/v1/cluster/rebalance', { json: {} });
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
      'GET /api/v1/bigkeys',
      'GET /api/v1/clients',
      'GET /api/v1/cluster',
      'GET /api/v1/events',
      'GET /api/v1/hash/data/{key}',
      'GET /api/v1/history',
      'GET /api/v1/hotkeys',
      'GET /api/v1/slots/load',
      'GET /healthz',
      'GET /metrics',
      'POST /api/v1/clients',
      'POST /api/v1/cluster/failover',
      'POST /api/v1/cluster/rebalance',
      'POST /api/v1/hash/data',
    ]);
    assert.ok(api.paths['/api/v1/hash/data'].post.requestBody, 'the body schema is documented');
    assert.ok(api.paths['/api/v1/hash/data/{key}'].get.responses['404'], 'the 404 is documented');
    const text = JSON.stringify(api);
    const operation = (method: string, path: string) => api.paths[path][method] as { parameters?: { name: string; in: string }[]; requestBody?: unknown; responses: Record<string, { description?: string }>; description?: string };
    const getKey = operation('get', '/api/v1/hash/data/{key}');
    assert.ok(getKey.parameters?.some((p) => p.in === 'query' && p.name === 'encoding'), 'GET data documents ?encoding');
    assert.match(getKey.responses['406'].description ?? '', /encoding=base64/);
    assert.match(JSON.stringify(operation('post', '/api/v1/hash/data').requestBody), /"encoding"/);
    const failover = operation('post', '/api/v1/cluster/failover');
    assert.match(JSON.stringify(failover.requestBody), /"force":\{"type":"boolean"/);
    assert.ok(failover.responses['409'] && failover.responses['404'], 'FAILOVER documents 404 and 409');
    assert.ok(operation('post', '/api/v1/clients').responses['404'], 'ADD SLAVE of an unknown master: 404 documented');
    for (const path of ['/api/v1/cluster/rebalance', '/api/v1/clients/{id}']) {
      const method = path.endsWith('{id}') ? 'delete' : 'post';
      const body = operation(method, path).requestBody as { required: boolean };
      assert.match(JSON.stringify(body), /"additionalProperties":false/, `${method} ${path} documents its empty body`);
      assert.equal(body.required, false, `${method} ${path}: the body may be left out`);
    }
    assert.equal((failover.requestBody as { required: boolean }).required, true);
    assert.match(text, /a method it does not have is a 405 with an `Allow` header/);
    assert.match(operation('get', '/metrics').description ?? '', /Open, even with --admin-password.*addresses/);
    assert.match(operation('get', '/healthz').description ?? '', /Open, even with --admin-password/);

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
      ['POST', '/nope.html'],
      ['GET', '/..%2Fpackage.json'],
      ['GET', '/.hidden'],
      ['DELETE', '/api/v1/clients/m0/extra'],
    ]) {
      const res = await call(base, method, path);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.match(errorOf(res), /^no route /);
    }
    // A path that exists, with a method it does not have: 405 and the methods it has.
    for (const [method, path, allow] of [
      ['POST', '/healthz', 'GET, HEAD'],
      ['DELETE', '/api/v1/clients', 'GET, HEAD, POST'],
      ['GET', '/api/v1/cluster/failover', 'POST'],
      ['PUT', '/api/v1/clients/m0', 'DELETE'],
      ['DELETE', '/api/v1/hash/data/some%20key', 'GET, HEAD'],
      ['POST', '/index.html', 'GET, HEAD'],
    ]) {
      const res = await fetch(`${base}${path}`, { method });
      const text = await res.text();
      assert.equal(res.status, 405, `${method} ${path}: ${text}`);
      assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
      assert.equal((JSON.parse(text) as { error: string }).error, `${method} is not allowed on ${path}: it takes ${allow}`);
    }
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200, 'HEAD is GET without the body');
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

  test('changes need the admin password as a bearer token (checked before the body)', async () => {
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
    const doc = (await call(base, 'GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown }>> };
    assert.ok(doc.paths['/api/v1/clients'].post.security, 'the document says which routes need the token');
  });

  test('reads of the topology need the admin password too, as LIST does on RESP; /healthz, /metrics, the docs and the page\'s files stay open', async () => {
    for (const path of ['/api/v1/clients', '/api/v1/cluster']) {
      for (const token of [undefined, DATA, 'wrong']) {
        const res = await call(base, 'GET', path, { token });
        assert.equal(res.status, 401, `GET ${path} with ${token}: ${res.text}`);
        assert.match(errorOf(res), token === undefined ? new RegExp(`^GET ${path} needs Authorization: Bearer <--admin-password>$`) : /wrong password \(it needs --admin-password\)$/);
        assert.ok(!res.text.includes('127.0.0.1'), 'no address in the refusal');
      }
      assert.equal((await nodesOf(base, path, ADMIN)).length, 2, `GET ${path} with the admin password`);
    }
    // The status page's timeline and history show the topology too (status-api.test.ts has their contents);
    // the hot and big keys name keys and masters' addresses (hot-keys.test.ts has their contents).
    for (const path of ['/api/v1/events', '/api/v1/history', '/api/v1/hotkeys', '/api/v1/bigkeys', '/api/v1/slots/load']) {
      for (const token of [undefined, DATA]) assert.equal((await call(base, 'GET', path, { token })).status, 401, `GET ${path} with ${token}`);
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(res.status, 200, path);
      await res.body?.cancel(); // the event stream never ends by itself
    }
    // The same user on RESP: LIST refused without AUTH admin.
    const r = await strictClient(tp.port, 3000, DATA);
    try {
      await assert.rejects(r.call('LIST'), /NOPERM/);
    } finally {
      r.disconnect();
    }
    assert.equal((await call(base, 'GET', '/healthz')).status, 200);
    const metrics = await call(base, 'GET', '/metrics');
    assert.equal(metrics.status, 200, 'scrapers carry no token');
    assert.match(metrics.text, /^ihs_node_up\{node="m0",address="127\.0\.0\.1:\d+"/m, 'and it shows node addresses (as the README says)');
    assert.equal((await call(base, 'GET', '/')).status, 200, 'the status page asks for the token itself');
    assert.equal((await call(base, 'GET', '/api/v1/openapi.json')).status, 200);
    const doc = (await call(base, 'GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown }>> };
    assert.ok(doc.paths['/api/v1/clients'].get.security, 'reads are documented as guarded');
    assert.ok(doc.paths['/api/v1/cluster'].get.security);
    assert.ok(doc.paths['/api/v1/events'].get.security && doc.paths['/api/v1/history'].get.security);
    assert.equal(doc.paths['/healthz'].get.security, undefined);
    assert.equal(doc.paths['/metrics'].get.security, undefined);
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
    const nodes = await nodesOf(base, '/api/v1/cluster', ADMIN);
    assert.equal(nodes.find((n) => n.id === 'm1')?.state, 'failed');
  });
});

describe('FAILOVER of a master that is down (--no-auto-failover), and --requirepass alone', { skip }, () => {
  const PASS = 'only-secret';
  let tp: TestProxy;
  let base: string;
  let r: Redis;

  before(async () => {
    const port = await freePort();
    tp = await startTestProxy([
      '--http-port', String(port), '--masters', '2', '--replicas', '1',
      '--requirepass', PASS, '--no-auto-failover', '--node-timeout', '500',
    ]);
    base = `http://127.0.0.1:${port}`;
    r = await strictClient(tp.port, 10_000, PASS);
  });

  after(async () => {
    r?.disconnect();
    await tp?.close().catch(async () => killRedisServersUnder(tp.dataDir, []));
  });

  /** Kill -9 a node's redis-server, then wait until the proxy lists it failed. */
  async function kill(id: string): Promise<void> {
    const pid = Number(tp.proxy.cluster.topology.nodes.find((n) => n.id === id)?.handle);
    assert.ok(Number.isInteger(pid) && pid > 0, `${id}'s pid`);
    process.kill(pid, 'SIGKILL');
    await eventually(`${id} listed failed`, async () => {
      const state = (await nodesOf(base, '/api/v1/clients', PASS)).find((n) => n.id === id)?.state;
      return state === 'failed' || `${state}`;
    });
  }

  /** Keys on `master`'s slots, written and replicated to its replica before it goes. */
  async function keysOn(master: NodeJson, replica: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for (let i = 0; keys.length < 50; i++) {
      const slot = calculateSlot(`${prefix}:${i}`);
      if (master.slots.some(([a, b]) => slot >= a && slot <= b)) keys.push(`${prefix}:${i}`);
    }
    for (const key of keys) await r.set(key, `v-${key}`);
    await eventually(`${replica} in sync`, async () => {
      const nodes = await nodesOf(base, '/api/v1/clients', PASS);
      const [m, rep] = [nodes.find((n) => n.id === master.id), nodes.find((n) => n.id === replica)];
      return (rep?.lagBytes === 0 && rep.offset === m?.offset) || `lag ${rep?.lagBytes}`;
    });
    return keys;
  }

  test('with --requirepass alone, the cluster routes need it (AUTH <password> is the admin on RESP then)', async () => {
    assert.equal((await call(base, 'GET', '/api/v1/clients')).status, 401);
    assert.match(errorOf(await call(base, 'GET', '/api/v1/cluster', { token: 'wrong' })), /wrong password \(it needs --requirepass\)$/);
    assert.equal((await call(base, 'POST', '/api/v1/cluster/rebalance')).status, 401, 'changes too');
    assert.equal((await nodesOf(base, '/api/v1/clients', PASS)).length, 4);
    assert.equal(((await r.call('LIST')) as string[]).length, 4, 'as LIST after AUTH <password>');
  });

  test('without force: 409 saying to retry with force and what is lost; with "force": true the replica takes over and serves the slots', { timeout: 120_000 }, async () => {
    const m0 = (await nodesOf(base, '/api/v1/clients', PASS)).find((n) => n.id === 'm0')!;
    const keys = await keysOn(m0, 'm0r0', 'forced');
    await kill('m0');

    const refused = await call(base, 'POST', '/api/v1/cluster/failover', { json: { master: 'm0' }, token: PASS });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(
      errorOf(refused),
      'FAILOVER m0: m0 is down (failed), so it cannot hand its slots over. FAILOVER m0 FORCE (HTTP: "force": true) promotes its most up-to-date replica without it; ' +
        'writes m0 acknowledged but had not replicated yet are lost',
    );
    await assert.rejects(r.call('FAILOVER', 'm0'), /^ReplyError: ERR FAILOVER m0: m0 is down \(failed\), so it cannot hand its slots over\. FAILOVER m0 FORCE/);
    await assert.rejects(r.call('FAILOVER', 'm0', 'NOW'), /^ReplyError: ERR syntax: FAILOVER <master id or host:port> \[FORCE\]$/);
    assert.equal((await call(base, 'POST', '/api/v1/cluster/failover', { json: { master: 'm0', force: 'yes' }, token: PASS })).status, 400);

    const forced = await call(base, 'POST', '/api/v1/cluster/failover', { json: { master: 'm0', force: true }, token: PASS });
    assert.equal(forced.status, 200, forced.text);
    assert.match((forced.body as { result: string }).result, /^m0r0 \(127\.0\.0\.1:\d+\) is the master of m0's slots now \(forced: writes m0 had not replicated are lost\)/);
    const nodes = await nodesOf(base, '/api/v1/clients', PASS);
    const promoted = nodes.find((n) => n.id === 'm0r0')!;
    assert.equal(promoted.role, 'master');
    assert.deepEqual(promoted.slots, m0.slots, "m0's slots, served by m0r0");
    assert.deepEqual(await r.mget(...keys.slice(0, 10)), keys.slice(0, 10).map((k) => `v-${k}`));
    for (const key of keys) assert.equal(await r.get(key), `v-${key}`, key);
    assert.equal(await r.set(keys[0], 'after'), 'OK', 'writable');
    // The old master was started again: Redis makes it the new master's replica.
    await eventually('m0 back as m0r0\'s replica', async () => {
      const m = (await nodesOf(base, '/api/v1/clients', PASS)).find((n) => n.id === 'm0');
      return (m?.state === 'up' && m.role === 'replica' && m.masterId === 'm0r0') || JSON.stringify(m);
    }, 30_000);
  });

  test('RESP: FAILOVER <master> FORCE does the same', { timeout: 120_000 }, async () => {
    const m1 = (await nodesOf(base, '/api/v1/clients', PASS)).find((n) => n.id === 'm1')!;
    const keys = await keysOn(m1, 'm1r0', 'forced-resp');
    await kill('m1');
    const reply = String(await r.call('FAILOVER', 'm1', 'force'));
    assert.match(reply, /^m1r0 \(127\.0\.0\.1:\d+\) is the master of m1's slots now \(forced/);
    const promoted = (await nodesOf(base, '/api/v1/clients', PASS)).find((n) => n.id === 'm1r0')!;
    assert.deepEqual([promoted.role, promoted.slots], ['master', m1.slots]);
    for (const key of keys) assert.equal(await r.get(key), `v-${key}`, key);
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
