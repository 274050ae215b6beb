/**
 * Nothing a client sends and nothing a backend replies may throw out of the data path: a
 * failing handler, merge or flush costs one request an -ERR (and a log line), and every
 * other request, client and connection goes on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FlushScheduler, type Flushable } from '../src/net/flush-scheduler.js';
import { Gather, ReplySlot, TransformSink } from '../src/proxy/datapath/reply-slot.js';
import { concatArrays, integerOf, sumIntegers } from '../src/proxy/datapath/reply-merge.js';
import { ClientSession, type SessionHost } from '../src/proxy/session.js';
import { argString, type RequestFrame } from '../src/resp/frame.js';
import { OK, PONG } from '../src/resp/encode.js';
import type { FaultReporter } from '../src/faults.js';
import { createRuntime } from '../src/net/runtime.js';
import { silentLogger } from '../src/log.js';
import { CommandStats } from '../src/ops/command-stats.js';
import { ClientMemory } from '../src/proxy/client-memory.js';
import { RawClient } from './support/proxy.js';

const faults: string[] = [];
const runtime = createRuntime();
let previousReporter: FaultReporter;

before(() => {
  previousReporter = runtime.faults.setReporter((err, where) => faults.push(`${where}: ${err.message}`));
});

after(() => {
  runtime.faults.setReporter(previousReporter);
});

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function collect(): { sink: { deliver(r: Buffer): void }; got: string[] } {
  const got: string[] = [];
  return { sink: { deliver: (r: Buffer) => got.push(r.toString('latin1')) }, got };
}

describe('reply merges', () => {
  test('a malformed integer part makes DBSIZE/DEL sums an error, not a throw', () => {
    assert.equal(sumIntegers([b(':1\r\n'), b(':41\r\n')]).toString(), ':42\r\n');
    for (const bad of [':abc\r\n', ':\r\n', ':1.5\r\n', ':1e3\r\n', ':12', '+OK\r\n', ':99999999999999999999999\r\n']) {
      assert.equal(sumIntegers([b(':1\r\n'), b(bad)]).toString(), '-ERR unexpected reply from a backend\r\n', JSON.stringify(bad));
    }
    assert.ok(Number.isNaN(integerOf(b(':x\r\n'))));
    assert.equal(integerOf(b(':-7\r\n')), -7);
    assert.equal(concatArrays([b('*1\r\n$1\r\na\r\n'), b(':3\r\n')]).toString(), '-ERR unexpected reply from a backend\r\n');
  });

  test('a merge that throws delivers an -ERR for that request and reports the fault', () => {
    faults.length = 0;
    const { sink, got } = collect();
    const gather = new Gather(
      2,
      () => {
        throw new TypeError('merge bug');
      },
      sink,
      runtime.faults,
    );
    gather.part(0).deliver(OK);
    gather.part(1).deliver(OK);
    assert.deepEqual(got, ['-ERR internal error in interface-hash-server (merging replies): merge bug\r\n']);
    assert.deepEqual(faults, ['merging replies: merge bug']);
  });

  test('a reply transform that throws (SCAN cursor, CONFIG GET filter) delivers an -ERR', () => {
    const { sink, got } = collect();
    new TransformSink(() => {
      throw new SyntaxError('Cannot convert x to a BigInt');
    }, sink, runtime.faults).deliver(b('*2\r\n$1\r\nx\r\n*0\r\n'));
    assert.match(got[0], /^-ERR internal error in interface-hash-server \(rewriting a reply\): Cannot convert x to a BigInt\r\n$/);
  });

  test('a reply slot keeps the first reply: a late second one is dropped', () => {
    let filled = 0;
    const slot = new ReplySlot({ slotFilled: () => filled++ });
    slot.deliver(b('-ERR first\r\n'));
    slot.deliver(OK);
    assert.equal(slot.reply?.toString(), '-ERR first\r\n');
    assert.equal(filled, 1);
  });
});

describe('flush scheduler', () => {
  test('an item that throws is reported; the others in its batch still flush, and later batches run', async () => {
    const errors: unknown[] = [];
    const scheduler = new FlushScheduler((err) => errors.push(err));
    const flushed: string[] = [];
    const item = (name: string, fail = false): Flushable => ({
      flushQueued: false,
      flush() {
        flushed.push(name);
        if (fail) throw new Error(`${name} broke`);
      },
    });
    const a = item('a');
    const bad = item('bad', true);
    const c = item('c');
    scheduler.schedule(a);
    scheduler.schedule(bad);
    scheduler.schedule(c);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(flushed, ['a', 'bad', 'c']);
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error).message, 'bad broke');
    // Nothing is left marked as queued: each can be scheduled again.
    scheduler.schedule(bad);
    scheduler.schedule(a);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(flushed, ['a', 'bad', 'c', 'bad', 'a']);
    assert.equal(errors.length, 2);
  });
});

describe('a handler that throws', () => {
  let server: net.Server;
  let port = 0;
  const sessions: ClientSession[] = [];

  /** A session host whose commands are: PING, BOOM (throws before answering), SENTBOOM (opens a slot, then throws). */
  const host: SessionHost = {
    maxBulkLen: 1024 * 1024,
    requirePass: '',
    adminPassword: '',
    users: null,
    log: silentLogger(),
    runtime,
    countCommand() {},
    sessionClosed() {},
    commandStats: new CommandStats(),
    clientMemory: new ClientMemory({ bytes: 0, percent: null }, () => sessions, silentLogger()),
    dispatch(session: ClientSession, frame: RequestFrame) {
      const name = argString(frame, 0).toLowerCase();
      if (name === 'boom') throw new RangeError('handler bug');
      if (name === 'sentboom') {
        const slot = session.openSlot();
        setTimeout(() => slot.deliver(b('+LATE\r\n')), 20); // what was sent on still answers
        throw new RangeError('after sending');
      }
      session.reply(PONG);
    },
  };

  before(async () => {
    server = net.createServer({ pauseOnConnect: true }, (socket) => sessions.push(new ClientSession(sessions.length + 1, socket, host)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  });

  test('gets an -ERR in its place in the reply order; the client and the process go on', async () => {
    faults.length = 0;
    const c = await RawClient.connect(port);
    c.write('PING\r\nBOOM\r\nPING\r\nSENTBOOM\r\nPING\r\n');
    const data = await c.waitFor((d) => d.toString().split('\r\n').length >= 6);
    await new Promise((r) => setTimeout(r, 50)); // the late reply to SENTBOOM must not show up
    assert.equal(
      c.received().toString(),
      '+PONG\r\n' +
        "-ERR internal error in interface-hash-server (command 'BOOM'): handler bug\r\n" +
        '+PONG\r\n' +
        "-ERR internal error in interface-hash-server (command 'SENTBOOM'): after sending\r\n" +
        '+PONG\r\n',
      data.toString(),
    );
    assert.deepEqual(faults, ["command 'BOOM': handler bug", "command 'SENTBOOM': after sending"]);
    c.write('PING\r\n');
    await c.waitFor((d) => d.toString().endsWith('+PONG\r\n+PONG\r\n'));
    c.close();
  });
});
