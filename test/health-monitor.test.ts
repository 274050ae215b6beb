/**
 * HealthMonitor on its own, against a real redis-server and a port nothing listens on:
 * states and their changes, and the cluster's own view (a node its peers flag as failing)
 * used only when our PINGs have not heard from the node lately.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HealthMonitor, type HealthMonitorOptions } from '../src/failover/health-monitor.js';
import type { ProcessProbe } from '../src/nodes/provider.js';
import { silentLogger } from '../src/log.js';
import { skipWithoutRedis } from './support/redis-binary.js';
import { freePort, startRedisServer, type RedisServerHandle } from './support/redis-server.js';
import { eventually } from './support/cluster-manager.js';
import { ControlClients } from '../src/nodes/control-client.js';
import type { NodeHealth } from '../src/status/node-status.js';

const skip = await skipWithoutRedis();

/**
 * A monitor's options for these tests: silent log, changes recorded as "<id> <from>-><to>",
 * and by default a probe that cannot see the process (like the static provider's), so only
 * the cluster — none here — could tell.
 */
function monitorOptions(o: Pick<HealthMonitorOptions, 'intervalMs' | 'nodeTimeoutMs'> & Partial<HealthMonitorOptions>, changes: string[]): HealthMonitorOptions {
  return {
    clients: new ControlClients(),
    log: silentLogger(),
    busyTimeoutMs: 30_000,
    connectTimeoutMs: 500,
    probe: async () => ({ kind: 'unknown', reason: 'not seen by this test' }),
    onChange: (node, from: NodeHealth, to: NodeHealth) => changes.push(`${node.id} ${from}->${to}`),
    ...o,
  };
}

describe('HealthMonitor', { skip }, () => {
  let redis: RedisServerHandle;
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    await redis?.stop();
  });

  /** A started monitor watching `alive` (the redis-server) and `dead` (a port nothing listens on). */
  async function monitor(intervalMs: number, changes: string[]): Promise<{ h: HealthMonitor; dead: number }> {
    const h = new HealthMonitor(monitorOptions({ intervalMs, nodeTimeoutMs: 1_000 }, changes));
    const dead = await freePort();
    h.watch([
      { id: 'alive', host: '127.0.0.1', port: redis.port },
      { id: 'dead', host: '127.0.0.1', port: dead },
    ]);
    h.start();
    return { h, dead };
  }

  test('a node that answers stays up; one whose port refuses connections fails after the node timeout', async () => {
    const changes: string[] = [];
    const { h } = await monitor(100, changes);
    try {
      await sleep(1_600);
      assert.equal(h.stateOf('alive'), 'up');
      assert.equal(h.stateOf('dead'), 'failed');
      assert.ok(!changes.some((c) => c.startsWith('alive')), `no change for the live node: ${changes.join('; ')}`);
      assert.ok(changes.includes('dead up->failed') || changes.includes('dead suspect->failed'), changes.join('; '));
    } finally {
      h.close();
    }
  });

  test("the cluster's fail flag: checked at once when our PINGs are quiet, ignored when the node answered lately", async () => {
    const changes: string[] = [];
    // PINGs every 10 s: between them, only the cluster's flag can draw attention to a node.
    const { h, dead } = await monitor(10_000, changes);
    try {
      await sleep(100);
      h.flaggedByCluster('127.0.0.1', dead); // lastAnswer is the watch's start: not quiet yet
      assert.equal(h.stateOf('dead'), 'up', 'a node just watched is not made suspect by a flag');
      // Quiet: no good reply for 2 intervals would take 20 s; age their last good reply instead.
      for (const id of ['alive', 'dead']) ageLastGood(h, id, 25_000);
      h.flaggedByCluster('127.0.0.1', dead);
      assert.equal(h.stateOf('dead'), 'suspect', 'checked at once');
      await sleep(300);
      assert.notEqual(h.stateOf('dead'), 'up', 'the check found nothing there');
      h.flaggedByCluster('127.0.0.1', redis.port);
      assert.equal(h.stateOf('alive'), 'suspect');
      await sleep(300);
      assert.equal(h.stateOf('alive'), 'up', 'a node that answers the check is up again');
      h.flaggedByCluster('127.0.0.1', redis.port);
      assert.equal(h.stateOf('alive'), 'up', 'it answered lately: the flag is ignored');
    } finally {
      h.close();
    }
  });
});

describe('HealthMonitor: a silent node is judged by what its process does', () => {
  /** A port that accepts connections and never answers: a node that says nothing. */
  async function silentNode(): Promise<{ port: number; close: () => void }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as net.AddressInfo).port,
      close: () => {
        for (const s of sockets) s.destroy();
        server.close();
      },
    };
  }

  /** Watch one silent node whose process `probe` describes; resolves with its state after `ms`. */
  async function judged(probe: () => ProcessProbe, ms: number, busyTimeoutMs = 30_000): Promise<{ state: NodeHealth | undefined; changes: string[] }> {
    const node = await silentNode();
    const changes: string[] = [];
    const h = new HealthMonitor(monitorOptions({ intervalMs: 50, nodeTimeoutMs: 300, busyTimeoutMs, probe: async () => probe() }, changes));
    h.watch([{ id: 'n', host: '127.0.0.1', port: node.port }]);
    h.start();
    try {
      await sleep(ms);
      return { state: h.stateOf('n'), changes };
    } finally {
      h.close();
      node.close();
    }
  }

  test('process exited: failed', async () => {
    assert.equal((await judged(() => ({ kind: 'exited' }), 800)).state, 'failed');
  });

  test('process stopped (SIGSTOP): stopped', async () => {
    assert.equal((await judged(() => ({ kind: 'stopped' }), 800)).state, 'stopped');
  });

  test('process running with its CPU time advancing: busy, and failed once --busy-timeout has passed', async () => {
    const started = Date.now();
    const working = (): ProcessProbe => ({ kind: 'running', cpuMs: Date.now() - started }); // one full CPU
    assert.equal((await judged(working, 1_200)).state, 'busy');
    const { state, changes } = await judged(working, 1_800, 1_000);
    assert.equal(state, 'failed', changes.join(' '));
    assert.ok(changes.includes('n busy->failed'), changes.join(' '));
  });

  test('process running idle, no cluster to ask: congested, never failed (the proxy reads late)', async () => {
    const { state, changes } = await judged(() => ({ kind: 'running', cpuMs: 5 }), 1_500);
    assert.equal(state, 'congested', changes.join(' '));
    assert.ok(!changes.some((c) => c.endsWith('failed')));
  });

  test('process not visible, port open, no cluster to ask: suspect, never failed on silence alone', async () => {
    const { state, changes } = await judged(() => ({ kind: 'unknown', reason: 'not visible' }), 1_500);
    assert.equal(state, 'suspect', changes.join(' '));
  });
});

describe("HealthMonitor: a node that answers but whose own cluster_state is fail (real cluster-enabled nodes)", { skip }, () => {
  test('useless while another node says ok; up again once its cluster_state is ok', async () => {
    // Two single-node clusters: `ok` serves every slot (cluster_state:ok), `lost` none (fail).
    const ok = await startRedisServer(['--cluster-enabled', 'yes']);
    const lost = await startRedisServer(['--cluster-enabled', 'yes']);
    const changes: string[] = [];
    const h = new HealthMonitor(monitorOptions({ intervalMs: 100, nodeTimeoutMs: 500 }, changes));
    try {
      await new ControlClients({ password: '' }).with({ host: '127.0.0.1', port: ok.port }, (c) => c.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383'), 2_000);
      const okState = async (): Promise<true | string> =>
        String(await new ControlClients({ password: '' }).with({ host: '127.0.0.1', port: ok.port }, (c) => c.call('CLUSTER', 'INFO'), 2_000)).includes('cluster_state:ok') ? true : 'not ok yet';
      await eventually('the serving node says cluster_state:ok', okState, 10_000);
      h.watch([
        { id: 'ok', host: '127.0.0.1', port: ok.port },
        { id: 'lost', host: '127.0.0.1', port: lost.port },
      ]);
      h.start();
      // max(--node-timeout, 5 s) of cluster_state:fail, read once a second.
      await eventually('lost is useless', async () => (h.stateOf('lost') === 'useless' ? true : `${h.stateOf('lost')}`), 10_000);
      assert.equal(h.stateOf('ok'), 'up');
      await new ControlClients({ password: '' }).with({ host: '127.0.0.1', port: lost.port }, (c) => c.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383'), 2_000);
      await eventually('lost is up again', async () => (h.stateOf('lost') === 'up' ? true : `${h.stateOf('lost')}`), 10_000);
      assert.ok(changes.includes('lost useless->up'), changes.join('; '));
      assert.ok(!changes.some((c) => c.startsWith('ok ')), `no change for the serving node: ${changes.join('; ')}`);
    } finally {
      h.close();
      await ok.stop();
      await lost.stop();
    }
  });
});

/** Test-only: pretend the node's last good PING was `ms` ago (the interval is too long to wait for). */
function ageLastGood(h: HealthMonitor, id: string, ms: number): void {
  const watches = (h as unknown as { watches: Map<string, { lastAnswer: number }> }).watches;
  const w = watches.get(id);
  if (w === undefined) throw new Error(`not watched: ${id}`);
  w.lastAnswer = Date.now() - ms;
}
