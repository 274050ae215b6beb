/**
 * Ctrl-C of the real executable while a node is busy in a script (issue 13 part 2): a
 * redis-server running `while true do end` does not act on SIGTERM until the script ends,
 * which used to hold the proxy's stop for 15 s per node; and a second Ctrl-C used to exit
 * leaving every node running. Now: SCRIPT/FUNCTION KILL, a bounded SIGTERM, then SIGKILL;
 * a second signal SIGKILLs the nodes. Nothing acknowledged is lost either way (the proxy is
 * started again on the same data dir and reads every key back).
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { isPidAlive } from '../src/nodes/process/pid.js';
import { sleep } from '../src/nodes/wait.js';
import { ProxyProcess } from './support/proxy-process.js';
import { skipWithoutRedis } from './support/redis-binary.js';

const skip = await skipWithoutRedis();
const KEYS = 300;

const started: ProxyProcess[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) await p.cleanup();
});

/** A proxy (2 masters × 1 replica; no automatic failover, so the busy node stays busy) with KEYS keys written, and one master busy in an endless script. */
async function proxyWithBusyNode(): Promise<{ p: ProxyProcess; pids: number[]; busy: Promise<string> }> {
  const p = await ProxyProcess.start({ masters: 2, replicas: 1, flags: ['--no-auto-failover'] });
  started.push(p);
  const c = new Redis({ port: p.port, maxRetriesPerRequest: 0 });
  try {
    const pipe = c.pipeline();
    for (let i = 0; i < KEYS; i++) pipe.set(`sig:${i}`, `v${i}`);
    for (const [err] of (await pipe.exec()) ?? []) assert.equal(err, null);
  } finally {
    c.disconnect();
  }
  const spinner = new Redis({ port: p.port, maxRetriesPerRequest: 0, retryStrategy: () => null });
  spinner.on('error', () => {});
  const busy = spinner.eval('while true do end', 0).then(
    () => 'answered',
    (err: Error) => err.message,
  );
  void busy.finally(() => spinner.disconnect());
  await sleep(500); // running
  const pids = (await p.topology()).nodes.map((n) => Number(n.handle));
  assert.equal(pids.filter((pid) => isPidAlive(pid)).length, 4, 'four nodes running');
  return { p, pids, busy };
}

/** Start the proxy again on its data dir (it starts the stopped nodes from their dirs) and read every key written back. */
async function assertEveryKeyAfterRestart(p: ProxyProcess): Promise<void> {
  await p.restart(60_000);
  const c = new Redis({ port: p.port, maxRetriesPerRequest: 0 });
  try {
    const values = await c.mget(...Array.from({ length: KEYS }, (_, i) => `sig:${i}`));
    assert.deepEqual(values, Array.from({ length: KEYS }, (_, i) => `v${i}`), 'every acknowledged write is back');
  } finally {
    c.disconnect();
  }
}

describe('Ctrl-C of the proxy with a node busy in a script', { skip }, () => {
  test('one SIGINT: every node stopped within seconds, the busy one too; the next start reads every key back', { timeout: 180_000 }, async (t) => {
    const { p, pids, busy } = await proxyWithBusyNode();
    const from = performance.now();
    p.signal('SIGINT');
    const code = await p.exited(30_000);
    const tookMs = performance.now() - from;
    t.diagnostic(`SIGINT → proxy exited (code ${code}) after ${tookMs.toFixed(0)} ms; the client running the script got: ${await busy}`);
    assert.equal(code, 0, `a clean stop\n${p.logTail()}`);
    assert.deepEqual(pids.filter((pid) => isPidAlive(pid)), [], 'no node left running');
    assert.ok(tookMs < 8_000, `stopped within seconds (${tookMs.toFixed(0)} ms; it was 15 s per busy node)`);

    await assertEveryKeyAfterRestart(p);
    assert.equal(await p.stop(), 0);
  });

  test('a second SIGINT during the stop: every node SIGKILLed, none left running; the next start reads every key back', { timeout: 180_000 }, async (t) => {
    const { p, pids } = await proxyWithBusyNode();
    const from = performance.now();
    p.signal('SIGINT');
    await sleep(1_200); // past the one-second window in which a repeated signal is the same Ctrl-C
    p.signal('SIGINT');
    const code = await p.exited(15_000);
    t.diagnostic(`second SIGINT → proxy exited (code ${code}) ${(performance.now() - from).toFixed(0)} ms after the first`);
    assert.equal(code, 130);
    assert.deepEqual(pids.filter((pid) => isPidAlive(pid)), [], `no node left running\n${p.logTail()}`);

    await assertEveryKeyAfterRestart(p);
  });
});
