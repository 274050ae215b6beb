/**
 * The chaos tests' WriteLedger finds what it is there to find, against a real proxy (one
 * master, no replica): acknowledged SETs deleted or overwritten behind its back, a counter
 * set back during the run and after it, and requests that wait longer than its hang bound
 * (the master SIGSTOPped for less than --node-timeout, so nothing answers them meanwhile
 * and the proxy does not fail it over).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { sleep } from '../src/nodes/wait.js';
import { startTestProxy, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { strictClient, WriteLedger } from './support/write-ledger.js';

const skip = await skipWithoutRedis();

describe('WriteLedger', { skip }, () => {
  let tp: TestProxy | undefined;

  before(async () => {
    tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--node-timeout', '3000']);
  });

  after(async () => {
    const dir = tp?.dataDir;
    await tp?.close();
    if (dir !== undefined) await killRedisServersUnder(dir);
  });

  test('a clean run: every acknowledged write read back, nothing lost, no error, no hang', async () => {
    assert.ok(tp);
    const ledger = new WriteLedger({ port: tp.port, prefix: 'clean', hangMs: 2_000, clients: 2, lanes: 2 }).start();
    await sleep(300);
    await ledger.stop();
    const r = await ledger.verify();
    assert.ok(r.acked > 50, `writes acknowledged: ${r.acked}`);
    assert.equal(r.acked, r.requests, 'every request acknowledged');
    assert.ok(ledger.writes.some((w) => w.kind === 'incr') && ledger.writes.some((w) => w.kind === 'set'));
    assert.deepEqual([r.lost, r.wrongValue, r.errors, r.hangs], [[], [], [], []]);
    assert.ok(r.maxLatencyMs > 0 && r.maxLatencyMs < 2_000);
  });

  test('writes deleted, overwritten or counted back are reported lost or wrong, each one', async () => {
    assert.ok(tp);
    const ledger = new WriteLedger({ port: tp.port, prefix: 'gone', hangMs: 2_000, clients: 1, lanes: 2, counterEvery: 2 }).start();
    const c = await strictClient(tp.port, 5_000);
    try {
      await sleep(200);
      // A counter set back mid-run: the increments acknowledged so far are lost, and the
      // lane's next INCR answers a lower value.
      const counter = 'gone:ctr:0.0';
      const before = Number(await c.get(counter));
      assert.ok(before >= 3, `counter ${counter} at ${before}`);
      await c.set(counter, '1');
      await sleep(200);
      await ledger.stop();

      const sets = ledger.writes.filter((w) => w.kind === 'set');
      const deleted = sets.slice(0, 3).map((w) => w.key);
      const overwritten = sets[3].key;
      await c.del(...deleted);
      await c.set(overwritten, 'not what was acknowledged');
      // The other lane's counter: set 2 below its last acknowledged value.
      const other = 'gone:ctr:0.1';
      const last = Math.max(...ledger.writes.filter((w) => w.key === other).map((w) => Number(w.value)));
      await c.set(other, String(last - 2));

      const r = await ledger.verify();
      const lostSets = r.lost.filter((l) => l.write.kind === 'set');
      assert.deepEqual(lostSets.map((l) => l.write.key).sort(), [...deleted].sort());
      assert.ok(lostSets.every((l) => l.found === null));
      assert.deepEqual(r.wrongValue.map((l) => [l.write.key, l.found]), [[overwritten, 'not what was acknowledged']]);
      const lostIncr = r.lost.filter((l) => l.write.kind === 'incr');
      const setBack = lostIncr.filter((l) => l.write.key === counter).map((l) => Number(l.write.value));
      // Every result above 1 acknowledged before the SET to 1 (at least those up to the value read before it).
      for (let v = 2; v <= before; v++) assert.ok(setBack.includes(v), `INCR result ${v} of ${counter} reported lost: ${setBack.join(',')}`);
      assert.deepEqual(
        lostIncr.filter((l) => l.write.key === other).map((l) => Number(l.write.value)).sort((a, b) => a - b),
        [last - 1, last],
      );
      assert.deepEqual(r.errors, []);
    } finally {
      c.disconnect();
    }
  });

  test('requests that wait longer than hangMs are hangs, and time out at twice that', async () => {
    assert.ok(tp);
    const pid = Number(tp.proxy.cluster.topology.nodes[0].handle);
    const ledger = new WriteLedger({ port: tp.port, prefix: 'hang', hangMs: 400, clients: 1, lanes: 2 }).start();
    try {
      await sleep(100);
      process.kill(pid, 'SIGSTOP');
      await sleep(1_000); // under --node-timeout 3000: the proxy just waits for it
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await sleep(100);
    await ledger.stop();
    const r = await ledger.verify();
    // Both lanes' requests were in flight when the master stopped; their 800 ms timeout
    // (a timer in this process) comes before the SIGCONT at 1000 ms, so no reply beats it.
    assert.equal(r.hangs.length, 2, `the requests in flight during the stop hung: ${JSON.stringify(r.hangs)}`);
    for (const h of r.hangs) {
      assert.ok(h.waitedMs >= 800, `waited ${h.waitedMs} ms`);
      assert.equal(h.outcome, 'Command timed out');
    }
    assert.deepEqual(r.errors.map((e) => e.message), ['Command timed out', 'Command timed out'], 'a timeout is also an error');
    assert.ok(r.maxLatencyMs >= 800, `max latency ${r.maxLatencyMs} ms`);
    assert.deepEqual(r.lost, []);
  });

  test('a connection killed under the load never starves the event loop (the lanes yield and reconnect)', async () => {
    // In a child process: a starved event loop would stop this test's own timers too.
    const fixture = new URL('./support/ledger-kill-fixture.ts', import.meta.url).pathname;
    const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], { timeout: 45_000, killSignal: 'SIGKILL' }).catch(
      (err: Error & { killed?: boolean; stdout?: string }) => ({ stdout: `${err.killed === true ? 'killed after 45 s: ' : ''}${err.message}\n${err.stdout ?? ''}` }),
    );
    assert.match(run.stdout, /^round 12: \d+ requests/m, run.stdout);
  });
});
