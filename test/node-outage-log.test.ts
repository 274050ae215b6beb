/**
 * Honest logs of a node's outage (issue 17 part 3):
 *   - the NodeOutageLog: one WARN line when a node's first connection is lost (or, none
 *     lost, its first attempt fails), counts meanwhile, one INFO line when it is reached again;
 *   - the real executable with a master kill -9'd while clients use it through every kind of
 *     connection (shared RESP2 and RESP3, a blocked BLPOP's and a WATCH's dedicated ones, a
 *     shard-channel subscriber, the health probes): one `backend connection lost` line for that
 *     node and one `backend node reachable again` once it is restarted; no WARN line repeated
 *     for one node; no line with two `pid` keys (pino's is the proxy's, the node's is `nodePid`);
 *     the client's error names no address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import type { Logger } from '../src/log.js';
import { NodeOutageLog } from '../src/net/node-outage-log.js';
import { ProxyProcess } from './support/proxy-process.js';
import { eventually } from './support/cluster-manager.js';
import { skipWithoutRedis } from './support/redis-binary.js';
import { strictClient } from './support/proxy.js';
import { parseLogLines, readLogLines, repeatedKeys, type LogLine } from './support/log-lines.js';

const skip = await skipWithoutRedis();

function capturedLog(): { log: Logger; lines: () => LogLine[] } {
  const text: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void text.push(l) }) as unknown as Logger;
  return { log, lines: () => parseLogLines(text.join('')) };
}

describe('NodeOutageLog', () => {
  const a = { host: '127.0.0.1', port: 7001 };
  const b = { host: '127.0.0.1', port: 7002 };

  test('a node lost by 3 connections and 2 failed attempts: one WARN line, then one INFO line with the counts', () => {
    const { log, lines } = capturedLog();
    const outages = new NodeOutageLog(log);
    outages.nameNodesWith((_host, port) => (port === a.port ? 'm0' : undefined));
    for (let i = 0; i < 3; i++) outages.reached(a);
    outages.reached(b);
    assert.equal(lines().length, 0, 'reaching a node that was never down says nothing');
    outages.lost(a, 'ECONNRESET');
    outages.lost(a, 'connection closed');
    outages.failed(a, 'connect ECONNREFUSED');
    outages.lost(a, 'connection closed');
    outages.failed(a, 'connect ECONNREFUSED');
    assert.equal(outages.isDown(a), true);
    assert.equal(outages.isDown(b), false);
    outages.reached(a);
    assert.equal(outages.isDown(a), false);
    const got = lines().map((l) => l.record);
    assert.equal(got.length, 2, JSON.stringify(got));
    assert.deepEqual(
      { level: got[0].level, msg: got[0].msg, node: got[0].node, address: got[0].address, err: got[0].err, openConnections: got[0].openConnections },
      { level: 40, msg: 'backend connection lost', node: 'm0', address: '127.0.0.1:7001', err: 'ECONNRESET', openConnections: 3 },
    );
    assert.deepEqual(
      { level: got[1].level, msg: got[1].msg, node: got[1].node, connectionsLost: got[1].connectionsLost, failedAttempts: got[1].failedAttempts },
      { level: 30, msg: 'backend node reachable again', node: 'm0', connectionsLost: 3, failedAttempts: 2 },
    );
    assert.ok(typeof got[1].downMs === 'number' && got[1].downMs >= 0);
  });

  test('a first attempt that fails is "cannot connect to backend"; a connection the proxy closes is no outage; nodes are apart', () => {
    const { log, lines } = capturedLog();
    const outages = new NodeOutageLog(log);
    outages.reached(a);
    outages.closed(a);
    outages.reached(a);
    outages.failed(b, 'connect ECONNREFUSED');
    outages.failed(b, 'connect ECONNREFUSED');
    outages.lost(a, 'ECONNRESET');
    const got = lines().map((l) => l.record);
    assert.deepEqual(
      got.map((r) => [r.msg, r.address, r.node, r.openConnections]),
      [
        ['cannot connect to backend', '127.0.0.1:7002', undefined, 0],
        // One open: the one closed by the proxy was counted out.
        ['backend connection lost', '127.0.0.1:7001', undefined, 1],
      ],
    );
  });

  test('the key scan sees a repeated top-level key that JSON.parse hides, and not a nested one', () => {
    const [line] = parseLogLines('{"level":30,"pid":1,"err":{"pid":2,"msg":"x"},"msg":"node","pid":3}\n');
    assert.deepEqual(line.keys, ['level', 'pid', 'err', 'msg', 'pid']);
    assert.deepEqual(repeatedKeys(line.keys), ['pid']);
    assert.equal(line.record.pid, 3);
  });
});

describe('a master kill -9ed under every kind of connection', { skip }, () => {
  let p: ProxyProcess;
  const clients: Redis[] = [];
  before(async () => {
    p = await ProxyProcess.start({ masters: 2, replicas: 1 });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await p?.cleanup();
  });

  test('one line when it is lost, one when it is back; nodePid for its pid; one WARN per event', async () => {
    await p.waitHealthy();
    const doc = await p.topology();
    const m0 = doc.nodes.find((n) => n.id === 'm0')!;
    const address = `${m0.host}:${m0.port}`;
    const slots = await p.slotsOf('m0');
    let key = '';
    for (let i = 0; key === ''; i++) if (slots[calculateSlot(`outage:${i}`)] === 1) key = `outage:${i}`;

    // Shared connections in both protocols, a WATCH's and a BLPOP's dedicated ones, a shard-channel subscriber.
    const resp3 = await strictClient(p.port, 5_000);
    const resp2 = new Redis({ port: p.port, protocol: 2, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    resp2.on('error', () => {});
    await resp2.connect();
    const watcher = await strictClient(p.port, 5_000);
    const subscriber = await strictClient(p.port, 5_000);
    const blocker = await strictClient(p.port, 60_000);
    clients.push(resp3, resp2, watcher, subscriber, blocker);
    for (const c of [resp3, resp2]) assert.equal(await c.set(key, 'v'), 'OK');
    assert.equal(await watcher.watch(key), 'OK');
    await subscriber.ssubscribe(`{${key}}:news`);
    const blocked = blocker.blpop(`{${key}}:list`, 0).then(
      (v) => `answered ${String(v)}`,
      (err: Error) => err.message,
    );
    await eventually('the BLPOP is blocked on the node', async () => ((await resp3.call('INFO', 'clients')) as string).includes('blocked_clients:1') || 'not yet');

    const linesBefore = readLogLines(p.logFile).length;
    process.kill(Number(m0.handle), 'SIGKILL');
    const blockedError = await blocked;
    await p.waitHealthy(30_000);
    const back = (l: LogLine): boolean => l.record.msg === 'backend node reachable again' && l.record.address === address;
    await eventually('the outage log says m0 is reachable again', async () => readLogLines(p.logFile).some(back) || 'not yet');

    const lines = readLogLines(p.logFile);
    const outage = lines.slice(linesBefore);
    const about = (l: LogLine): boolean => l.record.address === address || l.record.node === 'm0';
    const context = `\n${outage.map((l) => l.text).join('\n')}`;

    const lost = outage.filter((l) => about(l) && (l.record.msg === 'backend connection lost' || l.record.msg === 'cannot connect to backend'));
    assert.equal(lost.length, 1, `one line for m0's lost connections${context}`);
    assert.equal(lost[0].record.msg, 'backend connection lost');
    assert.equal(lost[0].record.node, 'm0');
    // 2 shared per protocol, the WATCH's, the BLPOP's, the subscriber's, health probes, slot-map reads.
    assert.ok(Number(lost[0].record.openConnections) >= 6, `connections open to m0 when the first dropped: ${lost[0].text}`);
    const again = outage.filter(back);
    assert.equal(again.length, 1, `one "reachable again" line for m0${context}`);
    assert.ok(Number(again[0].record.connectionsLost) >= 6, again[0].text);

    // Every other WARN line says something new: none is repeated for one node.
    const warnings = outage.filter((l) => Number(l.record.level) >= 40).map((l) => `${String(l.record.msg)} / ${String(l.record.node ?? l.record.address ?? '')}`);
    assert.deepEqual(warnings.filter((w, i) => warnings.indexOf(w) !== i), [], `repeated WARN lines${context}`);

    // pino's pid is the proxy's; a node's pid is nodePid.
    assert.deepEqual(lines.filter((l) => repeatedKeys(l.keys).length > 0).map((l) => l.text), [], 'lines with a repeated key');
    assert.ok(lines.every((l) => l.record.pid === p.pid), 'every line\'s pid is the proxy\'s');
    const exited = outage.find((l) => l.record.msg === 'node exited unexpectedly' && l.record.node === 'm0');
    assert.equal(exited?.record.nodePid, Number(m0.handle), `the exit line names the killed pid as nodePid${context}`);
    const restarted = outage.find((l) => l.record.msg === 'node restarted' && l.record.node === 'm0');
    const now = (await p.topology()).nodes.find((n) => n.id === 'm0')!;
    assert.equal(restarted?.record.nodePid, Number(now.handle), `the restart line names the new pid as nodePid${context}`);

    // The client is told what failed, not where (the README's sample).
    assert.match(blockedError, /^ERR connection to backend lost: [\w ]+$/);
  });
});
