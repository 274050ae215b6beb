/**
 * The status page's API (issue 17 part 4) against a real proxy over real redis-servers
 * (2 masters with a replica each, --admin-password), with Node's fetch:
 *   - GET /api/v1/events and /api/v1/history are topology reads: 401 without the bearer
 *     token, 200 with it;
 *   - /api/v1/history: a sample every 2 s; under load the proxy's ops/s, p50/p99 and calls
 *     are above 0, and every serving master has its figures;
 *   - /api/v1/events: a replica killed with SIGKILL, restarted by the proxy at once: its
 *     states (failed, recovering, suspect, up) and its restart come over the stream as they
 *     happen, in order; a reconnect with Last-Event-ID or ?since= gets only the later
 *     events; an id of another stream gets everything kept, marked incomplete; samples come
 *     over the stream too;
 *   - ADD MASTER: GET /api/v1/cluster, read over and over while it runs, never counts the new
 *     master's replica as a master (the listing reports the role the document intends);
 *   - /api/v1/cluster's health is ok on a healthy cluster; clusterCondition's verdicts (down,
 *     degraded, ok, with the reasons) on listings built for each case;
 *   - ClusterEventLog: bounded, ids that resume, completeness.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { freePort } from './support/redis-server.js';
import { eventually } from './support/cluster-manager.js';
import { clusterCondition } from '../src/http/cluster-view.js';
import { ClusterEventLog, type ClusterEvent } from '../src/status/cluster-events.js';
import type { MetricsSample } from '../src/status/metrics-history.js';
import type { ClusterListing, NodeListing } from '../src/status/list-format.js';

const skip = await skipWithoutRedis();
const ADMIN = 'status-secret';

interface StreamMessage {
  event: string;
  id: string | undefined;
  data: unknown;
}

/**
 * A server-sent event stream read with fetch (as the page reads it): `next(match)` resolves
 * with the first message (from the start, or after the last one taken) that matches.
 */
class EventStreamReader {
  readonly messages: StreamMessage[] = [];
  private taken = 0;
  private wake: (() => void) | undefined;
  private ended: Error | undefined;

  private constructor(
    readonly status: number,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string>): Promise<EventStreamReader> {
    const abort = new AbortController();
    const res = await fetch(url, { headers, signal: abort.signal });
    const reader = new EventStreamReader(res.status, abort);
    if (res.ok && res.body !== null) void reader.pump(res.body);
    else await res.text();
    return reader;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (line === '' || colon === 0) continue;
            fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
          }
          if (fields.has('data')) this.messages.push({ event: fields.get('event') ?? 'message', id: fields.get('id'), data: JSON.parse(fields.get('data')!) });
          this.wake?.();
        }
      }
      this.ended = new Error('the stream ended');
    } catch (err) {
      this.ended = err as Error;
    }
    this.wake?.();
  }

  async next(what: string, match: (m: StreamMessage) => boolean, timeoutMs = 15_000): Promise<StreamMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.taken < this.messages.length) {
        const m = this.messages[this.taken++];
        if (match(m)) return m;
      }
      if (this.ended !== undefined) throw new Error(`waiting for ${what}: ${this.ended.message}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.messages.map((m) => m.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The timeline events received so far. */
  events(): ClusterEvent[] {
    return this.messages.filter((m) => m.event === 'cluster-event').map((m) => m.data as ClusterEvent);
  }

  close(): void {
    this.abort.abort();
  }
}

/** 2 2 3 3 3 → "2 ×2 → 3 ×3". */
function runs(values: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j < values.length && values[j] === values[i]) j++;
    out.push(`${values[i]} ×${j - i}`);
    i = j;
  }
  return out.join(' → ');
}

describe('the status API: events, history, health', { skip, timeout: 180_000 }, () => {
  let tp: TestProxy;
  let base: string;
  const auth = { authorization: `Bearer ${ADMIN}` };

  before(async () => {
    const port = await freePort();
    tp = await startTestProxy(['--http-port', String(port), '--masters', '2', '--replicas', '1', '--admin-password', ADMIN]);
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await tp?.close().catch(async () => killRedisServersUnder(tp.dataDir, []));
  });

  const getJson = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { headers: auth });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return (await res.json()) as T;
  };

  test('/api/v1/events and /api/v1/history need the admin password as a bearer token', async () => {
    for (const path of ['/api/v1/events', '/api/v1/history']) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
        const res = await fetch(`${base}${path}`, { headers });
        assert.equal(res.status, 401, path);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        assert.match(((await res.json()) as { error: string }).error, new RegExp(`^GET ${path}(: wrong password \\(it needs | needs Authorization: Bearer <)--admin-password`));
      }
    }
    const history = await fetch(`${base}/api/v1/history`, { headers: auth });
    assert.equal(history.status, 200);
    assert.match(history.headers.get('content-type') ?? '', /^application\/json/);
    const stream = await EventStreamReader.open(`${base}/api/v1/events`, auth);
    try {
      assert.equal(stream.status, 200);
      const hello = await stream.next('hello', (m) => m.event === 'hello');
      assert.equal((hello.data as { complete: boolean }).complete, true, 'a fresh log: nothing dropped');
    } finally {
      stream.close();
    }
    // The page's own files stay open: it asks for the token itself.
    assert.equal((await fetch(`${base}/favicon.ico`)).status, 200);
  });

  test('HEAD /api/v1/events: the stream\'s headers, then the end (not a connection waiting forever)', async () => {
    // Found by test/security-fuzz.test.ts: Node sends a HEAD's headers with its end, which a stream never reaches.
    const res = await fetch(`${base}/api/v1/events`, { method: 'HEAD', headers: auth, signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(await res.text(), '');
  });

  test('/api/v1/history: a sample every interval; under load the proxy\'s ops/s, latency and each master\'s figures', async () => {
    const c = await strictClient(tp.port);
    let loaded: MetricsSample | undefined;
    try {
      // Load until a whole interval of it has been sampled.
      await eventually('a sample taken under load', async () => {
        await Promise.all(Array.from({ length: 500 }, (_, i) => c.set(`history:${i}`, 'v')));
        const { samples } = await getJson<{ samples: MetricsSample[] }>('/api/v1/history');
        loaded = samples.find((s) => s.opsPerSec > 0 && s.calls > 0);
        return loaded !== undefined && samples.length >= 2 ? true : `${samples.length} samples, ${loaded === undefined ? 'none' : 'one'} under load`;
      }, 30_000);
    } finally {
      c.disconnect();
    }
    const body = await getJson<{ intervalMs: number; windowMs: number; samples: MetricsSample[] }>('/api/v1/history');
    assert.equal(body.intervalMs, 2000);
    assert.equal(body.windowMs, 15 * 60_000);
    assert.ok(body.samples.length >= 2);
    const times = body.samples.map((s) => s.t);
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'oldest first');
    assert.ok(loaded !== undefined);
    assert.ok(loaded.p50Us !== null && loaded.p50Us > 0 && loaded.p99Us !== null && loaded.p99Us >= loaded.p50Us, JSON.stringify(loaded));
    const last = body.samples.at(-1)!;
    assert.deepEqual(last.masters.map((m) => m.id).sort(), ['m0', 'm1'], 'every serving master, by our id');
    for (const m of last.masters) {
      assert.ok(m.usedMemory !== null && m.usedMemory > 0, `${m.id}'s used memory`);
      assert.ok(m.opsPerSec !== null && m.opsPerSec > 0, `${m.id} counts at least the proxy's own health checks`);
    }
  });

  test('/api/v1/events: a replica killed and restarted at once, event by event; a reconnect resumes after its last id', async () => {
    const stream = await EventStreamReader.open(`${base}/api/v1/events`, auth);
    let replica: { id: string; handle?: string } | undefined;
    try {
      await stream.next('hello', (m) => m.event === 'hello');
      replica = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm0r0');
      assert.ok(replica?.handle !== undefined);
      process.kill(Number(replica.handle), 'SIGKILL');
      const isState = (to: string) => (m: StreamMessage) => m.event === 'cluster-event' && (m.data as ClusterEvent).kind === 'node-state' && (m.data as ClusterEvent & { node: string }).node === 'm0r0' && (m.data as { to: string }).to === to;
      const failed = (await stream.next('m0r0 failed', isState('failed'))).data as ClusterEvent & { kind: 'node-state' };
      assert.equal(failed.why, 'its process exited');
      assert.equal(failed.severity, 'error');
      // Its dropped connection may make it suspect a moment before the provider sees the exit.
      assert.match(failed.text, /^m0r0 (up|suspect) → failed: its process exited$/);
      await stream.next('m0r0 recovering', isState('recovering'));
      await stream.next('m0r0 restarted', (m) => m.event === 'cluster-event' && (m.data as ClusterEvent).kind === 'node-restarted');
      await stream.next('m0r0 up again', isState('up'));
      await stream.next('a metrics sample', (m) => m.event === 'sample');
      const seen = stream.events();
      const seqs = seen.map((e) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order');
      for (const e of seen) {
        assert.equal(e.id, `${e.id.split(':')[0]}:${e.seq}`);
        assert.ok(!Number.isNaN(Date.parse(e.at)));
      }

      // Reconnect after the failure: only what came after it, nothing lost.
      const after = seen.filter((e) => e.seq > failed.seq).map((e) => e.id);
      for (const how of ['header', 'query'] as const) {
        const again = await EventStreamReader.open(
          how === 'query' ? `${base}/api/v1/events?since=${encodeURIComponent(failed.id)}` : `${base}/api/v1/events`,
          how === 'header' ? { ...auth, 'last-event-id': failed.id } : auth,
        );
        try {
          const hello = (await again.next('hello', (m) => m.event === 'hello')).data as { complete: boolean; stream: string };
          assert.equal(hello.complete, true, how);
          assert.equal(`${hello.stream}:${failed.seq}`, failed.id);
          await again.next('the last event seen', (m) => m.id === after.at(-1));
          assert.deepEqual(again.events().map((e) => e.id).slice(0, after.length), after, `${how}: the events after ${failed.id}, from the first`);
        } finally {
          again.close();
        }
      }
      // An id of another stream (a proxy restarted since): everything kept, said to be incomplete.
      const foreign = await EventStreamReader.open(`${base}/api/v1/events`, { ...auth, 'last-event-id': 'otherstream:3' });
      try {
        const hello = (await foreign.next('hello', (m) => m.event === 'hello')).data as { complete: boolean };
        assert.equal(hello.complete, false);
        await foreign.next('the last event seen', (m) => m.id === after.at(-1));
        assert.ok(foreign.events().some((e) => e.id === failed.id), 'the whole backlog');
      } finally {
        foreign.close();
      }
    } finally {
      stream.close();
    }
    await eventually('m0r0 up in the listing', async () => {
      const { nodes } = await getJson<{ nodes: { id: string; state: string }[] }>('/api/v1/cluster');
      return nodes.find((n) => n.id === 'm0r0')?.state === 'up' || 'not yet';
    });
  });

  test('ADD MASTER: the listing never counts the new shard\'s replica as a master (2 → 3, never 4)', async () => {
    const counts: number[] = [];
    const roles = new Set<string>();
    let adding = true;
    const add = fetch(`${base}/api/v1/clients`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ role: 'master' }) }).finally(() => {
      adding = false;
    });
    while (adding) {
      const { nodes } = await getJson<{ nodes: { id: string; role: string; masterId: string | null }[] }>('/api/v1/cluster');
      counts.push(nodes.filter((n) => n.role === 'master').length);
      for (const n of nodes) if (n.id.startsWith('m2')) roles.add(`${n.id}:${n.role}:${n.masterId ?? '-'}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const res = await add;
    assert.equal(res.status, 201, await res.text());
    const { nodes } = await getJson<{ nodes: { id: string; role: string }[] }>('/api/v1/cluster');
    assert.deepEqual(nodes.filter((n) => n.role === 'master').map((n) => n.id).sort(), ['m0', 'm1', 'm2']);
    assert.ok(counts.length > 3, `read while it ran: ${counts.length} times`);
    assert.ok(Math.max(...counts) <= 3, `master counts seen: ${runs(counts)}`);
    assert.ok(!roles.has('m2r0:master:-'), `m2r0 was never listed as a master: ${[...roles].join(', ')}`);
    assert.ok(roles.has('m2r0:replica:m2'), `m2r0 listed as the replica of m2 it is being made: ${[...roles].join(', ')}`);
    // The timeline has the change and its steps.
    const stream = await EventStreamReader.open(`${base}/api/v1/events`, auth);
    try {
      await stream.next('ADD MASTER done', (m) => m.event === 'cluster-event' && (m.data as ClusterEvent).kind === 'admin');
      const kinds = stream.events().map((e) => (e.kind === 'node-added' ? `added ${e.node}${e.replicaOf === undefined ? '' : ` of ${e.replicaOf}`}` : e.kind === 'migration' ? `migration ${e.phase}` : e.kind === 'admin' ? `admin ${e.verb} ${e.outcome}` : ''));
      assert.deepEqual(kinds.filter((k) => k !== ''), ['added m2', 'added m2r0 of m2', 'migration started', 'migration finished', 'admin ADD MASTER done']);
    } finally {
      stream.close();
    }
    await eventually('health ok after the change', async () => {
      const body = await getJson<{ health: { status: string; reasons: string[] } }>('/api/v1/cluster');
      return body.health.status === 'ok' || JSON.stringify(body.health);
    });
  });
});

describe('clusterCondition: down, degraded or ok, and why', () => {
  const node = (id: string, o: Partial<NodeListing> = {}): NodeListing => ({
    id,
    address: `127.0.0.1:${7000 + id.length}`,
    role: id.includes('r') ? 'replica' : 'master',
    masterId: id.includes('r') ? id.split('r')[0] : undefined,
    state: 'up',
    slots: [],
    keys: 0,
    offset: 0,
    lagBytes: undefined,
    ...o,
  });
  const listing = (nodes: NodeListing[], operations: ClusterListing['operations'] = []): ClusterListing => ({ nodes, operations });
  const healthy = () => [node('m0', { slots: [[0, 8191]] }), node('m0r0'), node('m1', { slots: [[8192, 16383]] }), node('m1r0')];

  test('ok: every slot on a master that is up, every node up, every master with its replica', () => {
    assert.deepEqual(clusterCondition(listing(healthy())), { status: 'ok', reasons: [] });
  });

  test('down: a master that serves slots is failed, says cluster_state:fail, or slots have no master', () => {
    const failed = healthy().map((n) => (n.id === 'm1' ? { ...n, state: 'failed' as const } : n));
    assert.deepEqual(clusterCondition(listing(failed)), { status: 'down', reasons: ['8192 slots have no serving master: m1 is failed'] });
    const cut = healthy().map((n) => (n.id === 'm0' ? { ...n, clusterState: 'fail' as const } : n.id === 'm1' ? { ...n, state: 'failed' as const } : n));
    assert.deepEqual(clusterCondition(listing(cut)).reasons, ['m0 answers CLUSTERDOWN for its 8192 slots: its cluster_state is fail', '8192 slots have no serving master: m1 is failed']);
    const uncovered = healthy().map((n) => (n.id === 'm1' ? { ...n, slots: [[8192, 16000]] as [number, number][] } : n));
    assert.deepEqual(clusterCondition(listing(uncovered)), { status: 'down', reasons: ['383 slots are assigned to no master'] });
    // Down with its degradations after.
    const both = failed.map((n) => (n.id === 'm0r0' ? { ...n, state: 'suspect' as const } : n));
    assert.deepEqual(clusterCondition(listing(both)).reasons, ['8192 slots have no serving master: m1 is failed', 'm0r0 is suspect']);
  });

  test('degraded: a replica down, a node suspect or silent, a master without a replica, a shard recovery under way', () => {
    const replicaDown = healthy().map((n) => (n.id === 'm1r0' ? { ...n, state: 'failed' as const } : n));
    assert.deepEqual(clusterCondition(listing(replicaDown)), { status: 'degraded', reasons: ['m1r0 is failed'] });
    const silent = healthy().map((n) => (n.id === 'm0' ? { ...n, state: 'unknown' as const } : n));
    assert.deepEqual(clusterCondition(listing(silent)), { status: 'degraded', reasons: ['m0 did not answer'] });
    const alone = healthy().filter((n) => n.id !== 'm1r0');
    assert.deepEqual(clusterCondition(listing(alone)), { status: 'degraded', reasons: ['m1 has no replica'] });
    const recovering = listing(healthy(), [{ kind: 'recovery', id: 'op-1', progress: 'master=m2 phase=migrate slots=100' }]);
    assert.deepEqual(clusterCondition(recovering), { status: 'degraded', reasons: ['shard recovery op-1 under way (m2)'] });
    const recovered = listing(healthy(), [{ kind: 'recovery', id: 'op-1', progress: 'master=m2 phase=done slots=100' }]);
    assert.equal(clusterCondition(recovered).status, 'ok', 'a finished recovery is history');
    // A cluster formed without replicas is not degraded for having none.
    const noReplicas = healthy().filter((n) => n.role === 'master');
    assert.equal(clusterCondition(listing(noReplicas)).status, 'ok');
  });
});

describe('ClusterEventLog', () => {
  const event = (node: string) => ({ kind: 'node-removed' as const, node });

  test('bounded; ids resume after the one given; completeness says whether events were dropped between', () => {
    const log = new ClusterEventLog(3);
    const told: string[] = [];
    const unsubscribe = log.subscribe((e) => told.push(e.id));
    for (const n of ['a', 'b', 'c', 'd', 'e']) log.record(event(n));
    unsubscribe();
    log.record(event('f'));
    assert.equal(told.length, 5, 'told of each until unsubscribed');
    const all = log.since(undefined);
    assert.deepEqual(all.events.map((e) => (e.kind === 'node-removed' ? e.node : '')), ['d', 'e', 'f'], 'the newest 3');
    assert.equal(all.complete, false, 'a, b and c were dropped');
    assert.deepEqual(all.events.map((e) => e.seq), [4, 5, 6]);
    assert.equal(all.events[0].text, 'd removed');
    const fromD = log.since(all.events[0].id);
    assert.deepEqual(fromD.events.map((e) => e.seq), [5, 6]);
    assert.equal(fromD.complete, true);
    assert.equal(log.since(`${log.stream}:3`).complete, true, 'the next one (4) is kept');
    assert.equal(log.since(`${log.stream}:2`).complete, false, '3 was dropped');
    assert.deepEqual(log.since(`${log.stream}:6`), { events: [], complete: true }, 'nothing newer');
    const foreign = log.since('another:5');
    assert.deepEqual(foreign.events.map((e) => e.seq), [4, 5, 6]);
    assert.equal(foreign.complete, false);
    assert.equal(log.since(`${log.stream}:99`).complete, false, 'an id this log never gave');
    assert.equal(new ClusterEventLog().since(undefined).complete, true, 'empty and never dropped anything');
  });
});
