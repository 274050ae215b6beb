/**
 * Fuzzing the proxy's two ports as a stranger would (SECURITY.md), against a real proxy
 * with --requirepass and --admin-password:
 *
 * - RESP before AUTH: random frames — commands of the table with random arguments, inline
 *   commands, protocol garbage, the unauthenticated limits (more than 10 arguments, a bulk
 *   over 16 KB), cut at random chunk boundaries. Nothing may run: every reply is an error
 *   (QUIT's +OK and RESET's +RESET aside), a protocol error is the last reply before the
 *   proxy closes the connection, and afterwards the cluster holds no key.
 * - HTTP: random methods, paths (the API's own, mutated, percent-encoded), headers (tokens
 *   right, wrong or absent, content types and encodings, chunked bodies), bodies (JSON of
 *   the routes' shapes, broken JSON, bytes), sent raw. No 5xx but the documented 502/503
 *   (a node's error, no master for a slot); every complete request is answered.
 *
 * Both end with the proxy still serving (PING, /healthz). Seeded: a failure prints its
 * seed and case; rerun with SECURITY_FUZZ_SEED=<seed> (SECURITY_FUZZ_CASES scales the run).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { REDIS_COMMANDS } from '../src/commands/redis-commands.js';
import { ReplyScanner } from '../src/resp/reply-scanner.js';
import { ProtocolError } from '../src/resp/frame.js';
import { ReplyErrorValue, decodeReply } from '../src/resp/reply-value.js';
import { encodeRequest, replyText } from './support/auth-scan.js';
import { prng } from './support/prng.js';
import { startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { freePort } from './support/redis-server.js';

const SEED = Number(process.env.SECURITY_FUZZ_SEED ?? 0xa11ce);
const CASES = Number(process.env.SECURITY_FUZZ_CASES ?? 1500);
const DATA_PASSWORD = 'fuzz-data-pw';
const ADMIN_PASSWORD = 'fuzz-admin-pw';
/** Connections fuzzed at once. */
const PARALLEL = 12;

/** CR, LF, type bytes, digits, minus, NUL, space, quotes, backslash, %. */
const NASTY = [13, 10, 42, 36, 43, 45, 58, 48, 49, 57, 0, 32, 34, 39, 92, 37];

/** Every command name of the table, as a client types it (`acl cat` for a subcommand). */
const COMMAND_WORDS: string[][] = REDIS_COMMANDS.flatMap((c) => [[c.name], ...(c.subcommands ?? []).map((s) => s.name.split('|'))]);

class Gen {
  private readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = prng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)];
  }
  bytes(len: number): Buffer {
    const out = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) out[i] = this.chance(0.3) ? this.pick(NASTY) : this.int(0, 255);
    return out;
  }
  /** An argument: a word a command might take, a number, a wrong password, or bytes. */
  arg(): string {
    const r = this.rnd();
    if (r < 0.3) return this.pick(['x', 'k', '0', '1', '-1', '*', 'default', 'admin', 'nope', 'AUTH', 'SET', 'FLUSHALL', '3', '2', 'NX', 'EX']);
    if (r < 0.5) return String(this.int(-1_000_000, 1_000_000));
    if (r < 0.9) return this.bytes(this.int(0, 40)).toString('latin1');
    return 'v'.repeat(this.int(100, 5000));
  }
  /** Split `data` at random points. */
  chunks(data: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (let at = 0; at < data.length; ) {
      const n = this.chance(0.5) ? data.length - at : this.int(1, Math.max(1, Math.ceil((data.length - at) / 2)));
      out.push(data.subarray(at, at + n));
      at += n;
    }
    return out;
  }

  // --- RESP before AUTH -----------------------------------------------------------------

  respPiece(): Buffer {
    const r = this.rnd();
    if (r < 0.45) {
      const args = [...this.pick(COMMAND_WORDS)];
      for (let n = this.int(0, 6); n > 0; n--) args.push(this.arg());
      if (this.chance(0.5)) args[0] = args[0].toUpperCase();
      return encodeRequest(args);
    }
    if (r < 0.6) return Buffer.from(`${[...this.pick(COMMAND_WORDS), ...Array.from({ length: this.int(0, 4) }, () => this.pick(['x', '"a b"', "'q'", '1', 'nope']))].join(' ')}\r\n`, 'latin1');
    if (r < 0.7) return encodeRequest(this.pick([['AUTH', this.arg()], ['AUTH', 'default', this.arg()], ['HELLO', '3', 'AUTH', 'default', 'nope'], ['HELLO', this.arg()], ['RESET']]));
    if (r < 0.8) {
      return Buffer.from(
        this.pick([
          `*${this.int(11, 1_000_000)}\r\n`, // more arguments than a stranger may send
          `*1\r\n$${this.int(16385, 600_000_000)}\r\n`, // a bulk longer than a stranger may send
          `*2\r\n$3\r\nGET\r\n$${this.int(-5, -2)}\r\n`,
          `*${this.arg()}\r\n`,
          `*1\r\n$3\r\nGETX\r\n`,
          `$5\r\nhello\r\n`,
          '*0\r\n*-1\r\n\r\n',
        ]),
        'latin1',
      );
    }
    return this.bytes(this.int(1, 200));
  }

  respStream(): Buffer {
    const pieces: Buffer[] = [];
    for (let n = this.int(1, 6); n > 0; n--) pieces.push(this.respPiece());
    return Buffer.concat(pieces);
  }

  // --- HTTP -----------------------------------------------------------------------------

  path(): string {
    const known = ['/api/v1/hash/data', '/api/v1/hash/data/k', '/api/v1/clients', '/api/v1/clients/m1', '/api/v1/cluster', '/api/v1/cluster/failover', '/api/v1/cluster/rebalance',
      '/api/v1/events', '/api/v1/history', '/healthz', '/metrics', '/api/v1/openapi.json', '/', '/index.html', '/api/v1/docs/'];
    let p = this.pick(known);
    const r = this.rnd();
    if (r < 0.15) p += `/${encodeURIComponent(this.arg())}`;
    else if (r < 0.25) p += this.pick(['/../../etc/passwd', '/%2e%2e/%2e%2e/', '%00', '%ff%fe', '//', '/.', '?encoding=base64', '?encoding=nope', '?since=-1', '?since=x:99999999999', `?${'a'.repeat(this.int(1, 9000))}`]);
    else if (r < 0.3) p = `/${this.bytes(this.int(0, 30)).toString('hex')}`;
    else if (r < 0.35) p = this.pick(['*', 'http://127.0.0.1/healthz', '', ' /healthz', '/api/v1/hash/data/%']);
    return p;
  }

  body(): Buffer {
    const r = this.rnd();
    const value = (): unknown => this.pick<() => unknown>([() => this.arg(), () => this.int(-9, 9), () => null, () => true, () => [], () => ({}), () => ({ key: this.arg() })])();
    if (r < 0.35) {
      const data = Array.from({ length: this.int(0, 5) }, () => (this.chance(0.8) ? { key: this.arg(), value: this.arg(), ...(this.chance(0.3) ? { encoding: this.pick(['base64', 'utf8', 'x']) } : {}) } : value()));
      return Buffer.from(JSON.stringify(this.chance(0.8) ? { data } : data));
    }
    if (r < 0.5) return Buffer.from(JSON.stringify(this.pick([{ node: this.arg() }, { master: this.arg(), role: this.arg() }, { force: this.arg() }, { since: value() }])));
    if (r < 0.65) return Buffer.from(JSON.stringify({ data: [{ key: 'k', value: 'v' }] }).slice(0, this.int(0, 30)));
    if (r < 0.75) return Buffer.from('{"data":[' + '{"key":"k","value":"v"},'.repeat(this.int(1, 60_000)) + '{}]}'); // past the 1 MB body limit, sometimes
    if (r < 0.85) return Buffer.alloc(0);
    return this.bytes(this.int(1, 300));
  }

  /**
   * One raw HTTP/1.1 request; `complete` when it is whole (the server has all it announces),
   * `answered` when it must get a status line: a complete one but CONNECT (Node's HTTP
   * server closes a CONNECT no one listens for: the proxy tunnels nothing).
   */
  httpRequest(port: number): { bytes: Buffer; complete: boolean; answered: boolean; what: string } {
    const method = this.pick(['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'FOO', 'get']);
    const target = this.path();
    const headers: string[] = [`Host: 127.0.0.1:${port}`, 'Connection: close'];
    const token = this.rnd();
    // The admin's token only on reads: a fuzzer that adds, removes or fails over nodes tests the cluster, not the HTTP layer.
    if (token < 0.4) headers.push(`Authorization: Bearer ${DATA_PASSWORD}`);
    else if (token < 0.5 && (method === 'GET' || method === 'HEAD')) headers.push(`Authorization: Bearer ${ADMIN_PASSWORD}`);
    else if (token < 0.7) headers.push(`Authorization: ${this.pick(['Bearer ', 'Bearer wrong', 'Basic Zm9vOmJhcg==', 'bearer', `Bearer ${'x'.repeat(this.int(1, 5000))}`, `Bearer ${DATA_PASSWORD} extra`])}`);
    if (this.chance(0.7)) headers.push(`Content-Type: ${this.pick(['application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', ''])}`);
    if (this.chance(0.15)) headers.push(`Content-Encoding: ${this.pick(['gzip', 'deflate', 'br', 'identity', 'x-nope'])}`);
    if (this.chance(0.1)) headers.push(`Last-Event-ID: ${this.arg().replace(/[\r\n]/g, '')}`);
    if (this.chance(0.1)) headers.push(`X-${this.int(0, 99)}: ${this.bytes(this.int(0, 60)).toString('latin1').replace(/[\r\n]/g, '')}`);
    if (this.chance(0.03)) headers.push(`X-Big: ${'h'.repeat(this.int(10_000, 20_000))}`);
    if (this.chance(0.05)) headers.push(this.pick(['Expect: 100-continue', 'Upgrade: websocket', 'Upgrade: h2c', 'Accept-Encoding: gzip, br', 'Range: bytes=0-1', 'If-None-Match: *', `Host: ${this.arg().replace(/[\r\n]/g, '')}`]));
    const body = method === 'GET' && this.chance(0.8) ? Buffer.alloc(0) : this.body();
    let complete = true;
    let payload: Buffer;
    if (this.chance(0.2)) {
      headers.push('Transfer-Encoding: chunked');
      const parts = this.chunks(body).map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
      if (this.chance(0.8)) parts.push(Buffer.from('0\r\n\r\n'));
      else complete = false;
      payload = Buffer.concat(parts);
    } else {
      const said = this.chance(0.85) ? body.length : this.int(0, body.length + 50);
      if (said > body.length) complete = false;
      headers.push(`Content-Length: ${said}`);
      payload = body;
    }
    const head = Buffer.from(`${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
    return { bytes: Buffer.concat([head, payload]), complete, answered: complete && method !== 'CONNECT', what: `${method} ${target.slice(0, 120)} [${headers.map((h) => h.slice(0, 60)).join(' | ')}] body ${payload.length} B` };
  }
}

/**
 * Write `chunks` to 127.0.0.1:`port` and collect what comes back until the peer closes, or
 * until `enough(received)` holds (fails after `ms`). With `halfClose` the writing side is
 * ended after the chunks: the peer sees the end of the input.
 */
function exchange(port: number, chunks: Buffer[], o: { halfClose: boolean; enough?: (data: Buffer) => boolean; ms?: number }): Promise<Buffer> {
  const ms = o.ms ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${ms} ms; received ${JSON.stringify(Buffer.concat(got).toString('latin1').slice(0, 200))}`));
    }, ms);
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
      if (o.halfClose) socket.end();
    });
    socket.on('data', (c: Buffer) => {
      got.push(c);
      if (o.enough?.(Buffer.concat(got)) === true) socket.destroy();
    });
    socket.on('error', () => {}); // a reset: the close follows
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}

/**
 * The status of the final response at the head of `data` (interim 1xx responses, as to
 * `Expect: 100-continue`, skipped), once its whole head is there; undefined before.
 */
function finalStatus(data: Buffer): number | undefined {
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) return undefined;
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(data.subarray(at, at + 64).toString('latin1'));
    if (m === null) return -1; // a head that is no response: the caller reports it
    const status = Number(m[1]);
    if (status >= 200) return status;
    at = end + 4;
  }
}

/** Run `cases` at most PARALLEL at a time. */
async function inParallel(cases: number, run: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < cases) await run(next++);
    }),
  );
}

describe('security fuzzing (a proxy with --requirepass and --admin-password)', () => {
  let tp: TestProxy;
  let httpPort: number;

  before(async () => {
    httpPort = await freePort();
    tp = await startTestProxy(['--masters', '2', '--replicas', '0', '--requirepass', DATA_PASSWORD, '--admin-password', ADMIN_PASSWORD, '--http-port', String(httpPort)]);
  });
  after(async () => {
    await tp?.close();
  });

  it('RESP before AUTH: random frames run nothing and crash nothing; a protocol error closes the connection', async (t) => {
    const gen = new Gen(SEED);
    const streams = Array.from({ length: CASES }, () => {
      const stream = gen.respStream();
      return { stream, chunks: gen.chunks(stream) };
    });
    let protocolErrors = 0;
    await inParallel(CASES, async (i) => {
      const where = `seed ${SEED} case ${i}: ${JSON.stringify(streams[i].stream.toString('latin1').slice(0, 300))}`;
      const data = await exchange(tp.port, streams[i].chunks, { halfClose: true }).catch((err: Error) => assert.fail(`${where}: ${err.message}`));
      const scanner = new ReplyScanner();
      scanner.feed(data);
      const replies: string[] = [];
      for (let f = scanner.next(); f !== null; f = scanner.next()) {
        assert.ok(!(f instanceof ProtocolError), `${where}: the proxy's replies do not scan: ${JSON.stringify(data.toString('latin1').slice(0, 300))}`);
        const value = decodeReply(f);
        replies.push(replyText(value));
        if (!(value instanceof ReplyErrorValue)) assert.ok(value === 'OK' || value === 'RESET', `${where}: a reply that is no refusal: ${replyText(value)}`);
      }
      const protocol = replies.findIndex((r) => r.startsWith('-ERR Protocol error'));
      if (protocol >= 0) {
        protocolErrors++;
        assert.equal(protocol, replies.length - 1, `${where}: replies after a protocol error: ${replies.slice(protocol).join(' | ')}`);
      }
    });
    t.diagnostic(`${CASES} connections, ${protocolErrors} closed on a protocol error`);
    assert.ok(protocolErrors > 0, 'the fuzzer reached the protocol limits');
    const c = await strictClient(tp.port, 3000, DATA_PASSWORD);
    try {
      assert.equal(await c.ping(), 'PONG');
      assert.equal(await c.dbsize(), 0, 'nothing was written');
    } finally {
      c.disconnect();
    }
  });

  it('HTTP: random requests get no 5xx but 502/503, every complete one an answer; the proxy serves on', async (t) => {
    const gen = new Gen(SEED + 1);
    const requests = Array.from({ length: CASES }, () => {
      const r = gen.httpRequest(httpPort);
      return { ...r, chunks: gen.chunks(r.bytes) };
    });
    const statuses = new Map<number, number>();
    await inParallel(CASES, async (i) => {
      const r = requests[i];
      const where = `seed ${SEED + 1} case ${i}: ${r.what}`;
      // A complete request is answered and closed (Connection: close); an incomplete one ends
      // with the input (Node's HTTP server drops a request whose client half-closes). Only the
      // head is read: an event stream never ends.
      const data = await exchange(httpPort, r.chunks, { halfClose: !r.complete, enough: (d) => finalStatus(d) !== undefined }).catch((err: Error) => assert.fail(`${where}: ${err.message}`));
      const status = finalStatus(data) ?? -1;
      if (status < 0) {
        assert.ok(!r.answered, `${where}: no response: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`);
        return;
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      assert.ok(status < 500 || status === 502 || status === 503, `${where}: ${status} ${data.toString('latin1').slice(0, 400)}`);
    });
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
    assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(401) ?? 0) > 0 && (statuses.get(400) ?? 0) > 0, 'the fuzzer reached the handlers behind the tokens, the guards and the validation');
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    assert.equal(health.status, 200);
    const c = await strictClient(tp.port, 3000, DATA_PASSWORD);
    try {
      assert.equal(await c.ping(), 'PONG');
    } finally {
      c.disconnect();
    }
  });
});
