/**
 * HealthMonitor on its own, against a real redis-server and a port nothing listens on:
 * states and their changes, and the cluster's own view (a node its peers flag as failing)
 * used only when our PINGs have not heard from the node lately.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HealthMonitor, type NodeHealth } from '../src/failover/health-monitor.js';
import { silentLogger } from '../src/log.js';
import { skipWithoutRedis } from './support/redis-binary.js';
import { freePort, startRedisServer, type RedisServerHandle } from './support/redis-server.js';

const skip = await skipWithoutRedis();

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
    const h = new HealthMonitor({
      password: '',
      log: silentLogger(),
      intervalMs,
      nodeTimeoutMs: 1_000,
      busyTimeoutMs: 30_000,
      connectTimeoutMs: 500,
      // Like the static provider: the processes cannot be seen, the cluster (none here) is asked.
      probe: async () => ({ kind: 'unknown', reason: 'not seen by this test' }),
      onChange: (node, from: NodeHealth, to: NodeHealth) => changes.push(`${node.id} ${from}->${to}`),
    });
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
      h.flaggedByCluster('127.0.0.1', dead); // lastGood is the watch's start: not quiet yet
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

/** Test-only: pretend the node's last good PING was `ms` ago (the interval is too long to wait for). */
function ageLastGood(h: HealthMonitor, id: string, ms: number): void {
  const watches = (h as unknown as { watches: Map<string, { lastAnswer: number }> }).watches;
  const w = watches.get(id);
  if (w === undefined) throw new Error(`not watched: ${id}`);
  w.lastAnswer = Date.now() - ms;
}
