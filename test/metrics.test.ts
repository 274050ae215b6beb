/**
 * /metrics (ProxyMetrics.render()) after known traffic through a real proxy: counters
 * match the traffic exactly, node gauges match LIST and follow a killed replica, and INFO
 * commandstats/latencystats show the same latency histogram in Redis's style.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Redis } from 'ioredis';
import { startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { eventually } from './support/cluster-manager.js';
import { listNodes } from './support/admin-list.js';
import { bucketEnd, bucketOf, LatencyHistogram } from '../src/ops/latency-histogram.js';

/** One sample of the exposition format: name{labels} value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small parser of the Prometheus text format (what prom-client writes: no timestamps, no escapes in our labels). */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1], type[2]);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)) labels[l[1]] = l[2];
    // NaN is a valid sample value (prom-client writes `Nan` for a gauge with no data yet).
    const value = m[3] === '+Inf' ? Infinity : /^nan$/i.test(m[3]) ? NaN : Number(m[3]);
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(m[3]), `not a number in: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types };
}

function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function one(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = pick(samples, name, labels);
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0].value;
}

/** INFO <section> as field → value. */
async function infoSection(r: Redis, section: string): Promise<Map<string, string>> {
  const text = (await r.call('INFO', section)) as string;
  return new Map(
    text
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]),
  );
}

describe('LatencyHistogram', () => {
  test('buckets are contiguous, each ≤ 12.5% wide above 16 µs, and a time falls in its own', () => {
    for (let us = 0; us < 1 << 20; us += 1 + (us >> 6)) {
      const i = bucketOf(us);
      assert.ok(us < bucketEnd(i) && (i === 0 || us >= bucketEnd(i - 1)), `${us} µs in bucket ${i}`);
      if (us >= 16) assert.ok(bucketEnd(i) - bucketEnd(i - 1) <= us / 8 + 1, `${us} µs: bucket too wide`);
    }
  });

  test('percentiles and cumulative counts agree', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i); // 1..1000 µs
    assert.equal(h.count, 1000);
    assert.equal(h.sumUs, 500500);
    const p50 = h.percentile(50);
    assert.ok(p50 > 500 && p50 <= 500 * 1.125 + 1, `p50 ${p50}`);
    const [below512, below1024] = h.cumulative([512, 1024]);
    assert.equal(below512, 511);
    assert.equal(below1024, 1000);
  });
});

describe('/metrics', () => {
  let tp: TestProxy;
  let r: Redis;
  const SETS = 37;
  const GETS = 23;

  before(async () => {
    tp = await startTestProxy(['--masters', '2', '--replicas', '1', '--no-auto-failover', '--node-timeout', '500']);
    r = await strictClient(tp.port);
    for (let i = 0; i < SETS; i++) await r.set(`metrics:${i}`, `v${i}`);
    for (let i = 0; i < GETS; i++) assert.equal(await r.get(`metrics:${i}`), `v${i}`);
    await assert.rejects(r.call('NOSUCHCOMMAND', 'x'), /unknown command/); // a rejected call: errorstat ERR
    await assert.rejects(r.call('GET'), /wrong number of arguments/); // the node answers this one: passes through uncounted
    assert.equal(await r.blpop('metrics:empty-list', 0.2), null); // a blocking command that times out on the node
  });

  after(async () => {
    r?.disconnect();
    await tp?.close();
  });

  test('counters match the traffic exactly, and INFO shows the same figures', async () => {
    const { samples, types } = parseExposition(await tp.proxy.metrics.render());
    assert.match(tp.proxy.metrics.contentType, /^text\/plain; version=0\.0\.4/);
    assert.equal(types.get('ihs_command_calls_total'), 'counter');
    assert.equal(types.get('ihs_command_duration_seconds'), 'histogram');

    assert.equal(one(samples, 'ihs_command_calls_total', { cmd: 'set' }), SETS);
    assert.equal(one(samples, 'ihs_command_calls_total', { cmd: 'get' }), GETS + 1); // the bad-arity GET reached the node
    assert.equal(one(samples, 'ihs_command_calls_total', { cmd: 'blpop' }), 1);
    assert.equal(one(samples, 'ihs_errors_total', { prefix: 'ERR' }), 1);
    assert.equal(one(samples, 'ihs_connected_clients'), 1);
    assert.equal(one(samples, 'ihs_client_connections_received_total'), 1);
    assert.equal(one(samples, 'ihs_client_connections_rejected_total'), 0);
    assert.equal(one(samples, 'ihs_failovers_total', { kind: 'automatic' }), 0);
    assert.equal(one(samples, 'ihs_migration_in_progress'), 0);
    assert.equal(one(samples, 'ihs_shard_recoveries_in_progress'), 0);

    // The histogram: every call timed once; buckets cumulative up to the count.
    for (const [cmd, calls] of [['set', SETS], ['get', GETS + 1], ['blpop', 1]] as const) {
      assert.equal(one(samples, 'ihs_command_duration_seconds_count', { cmd }), calls, `${cmd} count`);
      const buckets = pick(samples, 'ihs_command_duration_seconds_bucket', { cmd });
      assert.equal(buckets.at(-1)?.labels.le, '+Inf');
      assert.equal(buckets.at(-1)?.value, calls);
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, `${cmd} buckets cumulative`);
    }
    // BLPOP waited its 0.2 s on the node: request → reply time includes it.
    assert.ok(one(samples, 'ihs_command_duration_seconds_sum', { cmd: 'blpop' }) >= 0.19);

    // INFO commandstats: the same calls, and usec = the histogram's sum.
    const stats = await infoSection(r, 'commandstats');
    const set = stats.get('cmdstat_set');
    assert.ok(set !== undefined);
    const fields = new Map(set.split(',').map((kv) => kv.split('=') as [string, string]));
    assert.equal(Number(fields.get('calls')), SETS);
    const usec = Number(fields.get('usec'));
    assert.ok(usec > 0, `usec ${usec}`);
    assert.equal(usec, Math.round(one(samples, 'ihs_command_duration_seconds_sum', { cmd: 'set' }) * 1e6));
    assert.equal(fields.get('usec_per_call'), (usec / SETS).toFixed(2));

    // INFO latencystats: Redis 7.0's line, each percentile inside the histogram bucket that reaches it.
    const latency = await infoSection(r, 'latencystats');
    const line = latency.get('latency_percentiles_usec_set');
    assert.ok(line !== undefined, `latencystats: ${[...latency.keys()].join(' ')}`);
    const m = /^p50=(\d+\.\d{3}),p99=(\d+\.\d{3}),p99\.9=(\d+\.\d{3})$/.exec(line);
    assert.ok(m !== null, line);
    const buckets = pick(samples, 'ihs_command_duration_seconds_bucket', { cmd: 'set' });
    for (const [percent, text] of [[50, m[1]], [99, m[2]], [99.9, m[3]]] as const) {
      const us = Number(text);
      const wanted = Math.ceil((SETS * percent) / 100);
      const at = buckets.findIndex((b) => b.value >= wanted);
      const le = buckets[at].labels.le === '+Inf' ? Infinity : Number(buckets[at].labels.le) * 1e6;
      const prev = at === 0 ? 0 : Number(buckets[at - 1].labels.le) * 1e6;
      assert.ok(us > prev && us <= le + 1e-6, `p${percent}=${us} µs not in the bucket (${prev}, ${le}] µs`);
    }

    // INFO stats: the same connection and command totals.
    const s = await infoSection(r, 'stats');
    assert.equal(Number(s.get('total_connections_received')), one(samples, 'ihs_client_connections_received_total'));
    // INFO itself ran in between: the metric was read before the two INFO calls above and this one.
    assert.equal(Number(s.get('total_commands_processed')), one(samples, 'ihs_commands_processed_total') + 3);
  });

  test('backend connections and slots per master follow the pools and the slot map', async () => {
    const { samples } = parseExposition(await tp.proxy.metrics.render());
    const map = tp.proxy.server.router.slotMap;
    const masters = map.servingMasters().map((i) => map.masters[i].address);
    const ready = pick(samples, 'ihs_backend_connections', { kind: 'shared', state: 'ready' });
    for (const address of masters) {
      const n = ready.find((s) => s.labels.address === address)?.value;
      assert.equal(n, tp.config.poolSize, `${address}: ${tp.config.poolSize} shared connections ready`);
    }
    const slots = pick(samples, 'ihs_slots');
    assert.equal(slots.reduce((a, s) => a + s.value, 0), 16384);
    assert.deepEqual(slots.map((s) => s.labels.address).sort(), [...masters].sort());
  });

  test('node gauges match LIST, and a killed replica shows as down', async () => {
    const listed = await listNodes(r);
    const { samples } = parseExposition(await tp.proxy.metrics.render());
    for (const n of listed) {
      assert.equal(one(samples, 'ihs_node_up', { node: n.id, address: n.address, role: n.role }), n.state === 'up' ? 1 : 0, n.id);
      assert.equal(one(samples, 'ihs_node_state', { node: n.id, state: n.state }), 1, n.id);
    }
    assert.equal(pick(samples, 'ihs_node_up').length, listed.length);

    const replica = tp.proxy.cluster.topology.nodes.find((n) => n.formedAsReplicaOf !== undefined);
    assert.ok(replica !== undefined);
    process.kill(Number(replica.handle), 'SIGKILL');
    await eventually(
      `${replica.id} reported down in /metrics`,
      async () => {
        const now = parseExposition(await tp.proxy.metrics.render()).samples;
        return one(now, 'ihs_node_up', { node: replica.id }) === 0 ? true : 'still up';
      },
      15_000,
    );
    const down = parseExposition(await tp.proxy.metrics.render()).samples;
    const state = pick(down, 'ihs_node_state', { node: replica.id }).find((s) => s.value === 1)?.labels.state;
    const listedNow = (await listNodes(r)).find((n) => n.id === replica.id);
    assert.ok(state === 'suspect' || state === 'failed', `state ${state}`);
    // LIST reads the same health: it says the same unless the state moved on in between.
    if (listedNow?.state !== state) assert.equal(listedNow?.state, 'failed');
  });

  test('render() served over HTTP is the exposition text', async () => {
    const server = http.createServer((_req, res) => {
      tp.proxy.metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': tp.proxy.metrics.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      assert.ok(address !== null && typeof address === 'object');
      const res = await fetch(`http://127.0.0.1:${address.port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const { samples } = parseExposition(await res.text());
      assert.equal(one(samples, 'ihs_command_calls_total', { cmd: 'set' }), SETS);
      assert.ok(pick(samples, 'ihs_process_resident_memory_bytes').length === 1, 'process metrics present');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('/metrics: failovers', () => {
  test('a killed master: its replica promoted, ihs_failovers_total{kind="automatic"} counts it once', async (t) => {
    const tp = await startTestProxy(['--masters', '1', '--replicas', '1', '--node-timeout', '500']);
    t.after(() => tp.close());
    const before = parseExposition(await tp.proxy.metrics.render()).samples;
    assert.equal(one(before, 'ihs_failovers_total', { kind: 'automatic' }), 0);
    const master = tp.proxy.cluster.topology.nodes.find((n) => n.formedAsReplicaOf === undefined);
    assert.ok(master !== undefined);
    process.kill(Number(master.handle), 'SIGKILL');
    await eventually(
      'the replica promoted',
      async () => (tp.proxy.failover?.failoverCount() === 1 ? true : `failovers: ${tp.proxy.failover?.failoverCount()}`),
      30_000,
    );
    const after = parseExposition(await tp.proxy.metrics.render()).samples;
    assert.equal(one(after, 'ihs_failovers_total', { kind: 'automatic' }), 1);
    assert.equal(one(after, 'ihs_failovers_total', { kind: 'planned' }), 0);
    // INFO shows the same counts in Redis's style.
    const info = await strictClient(tp.port);
    try {
      const nodes = String(await info.call('INFO', 'nodes'));
      assert.match(nodes, /^failovers_automatic:1\r?$/m);
      assert.match(nodes, /^failovers_planned:0\r?$/m);
    } finally {
      info.disconnect();
    }
    // The promoted replica serves every slot now.
    const promoted = tp.proxy.cluster.topology.nodes.find((n) => n.formedAsReplicaOf !== undefined);
    assert.ok(promoted !== undefined);
    assert.equal(one(after, 'ihs_slots', { node: promoted.id }), 16384);
  });
});
