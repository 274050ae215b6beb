import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import Parser from 'redis-parser';
import { ProtocolError, argBuffer, type RequestFrame } from '../src/resp/frame.js';
import { RequestScanner } from '../src/resp/request-scanner.js';
import { ReplyScanner } from '../src/resp/reply-scanner.js';
import { ReplyErrorValue, ReplyMapValue, arrayElements, decodeReply } from '../src/resp/reply-value.js';
import * as enc from '../src/resp/encode.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const str = (x: Buffer): string => x.toString('latin1');

interface Req {
  args: string[];
  inline: boolean;
  raw: string;
}
type ReqResult = Req | { error: string };

function argsOf(f: RequestFrame): string[] {
  const out: string[] = [];
  for (let i = 0; i < f.argc; i++) out.push(str(argBuffer(f, i)));
  return out;
}

/** Everything a scanner yields for `chunks` (fed one by one, draining after each). */
function scanRequests(chunks: Buffer[], opts?: { maxBulkLen?: number; authRequired?: boolean }): ReqResult[] {
  const s = new RequestScanner(opts);
  const out: ReqResult[] = [];
  for (const c of chunks) {
    s.feed(c);
    for (let f = s.next(); f !== null; f = s.next()) {
      if (f instanceof ProtocolError) out.push({ error: f.message });
      else out.push({ args: argsOf(f), inline: f.inline, raw: str(f.raw) });
    }
  }
  return out;
}

function scanReplies(chunks: Buffer[]): (string | { error: string })[] {
  const s = new ReplyScanner();
  const out: (string | { error: string })[] = [];
  for (const c of chunks) {
    s.feed(c);
    for (let f = s.next(); f !== null; f = s.next()) out.push(f instanceof ProtocolError ? { error: f.message } : str(f));
  }
  return out;
}

/** The stream cut at every single position, and byte by byte. */
function splits(stream: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let k = 1; k < stream.length; k++) out.push([stream.subarray(0, k), stream.subarray(k)]);
  const bytes: Buffer[] = [];
  for (let k = 0; k < stream.length; k++) bytes.push(stream.subarray(k, k + 1));
  out.push(bytes);
  return out;
}

/** All ways to cut the stream into three pieces (every pair of cut points). */
function splits3(stream: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 1; i < stream.length; i++)
    for (let j = i + 1; j < stream.length; j++)
      out.push([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]);
  return out;
}

describe('RequestScanner: multibulk', () => {
  it('returns a SET as a view of the chunk, with argument offsets', () => {
    const chunk = b('*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n');
    const s = new RequestScanner({ maxBulkLen: 512 * 1024 * 1024 });
    s.feed(chunk);
    const f = s.next();
    assert.ok(f !== null && !(f instanceof ProtocolError));
    assert.equal(f.argc, 3);
    assert.equal(f.inline, false);
    assert.deepEqual(argsOf(f), ['SET', 'key', 'value']);
    assert.equal(f.raw.buffer, chunk.buffer, 'raw must be a view, not a copy');
    assert.equal(f.raw.byteOffset, chunk.byteOffset);
    assert.equal(f.raw.length, chunk.length);
    assert.deepEqual(Array.from(f.offsets), [8, 11, 17, 20, 26, 31]);
    assert.equal(s.next(), null);
    assert.equal(s.copies, 0);
  });

  it('splits a pipeline in one chunk into views', () => {
    const chunk = b('*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nPING\r\n');
    const s = new RequestScanner();
    s.feed(chunk);
    const frames: RequestFrame[] = [];
    for (let f = s.next(); f !== null; f = s.next()) {
      assert.ok(!(f instanceof ProtocolError));
      frames.push(f);
    }
    assert.deepEqual(frames.map(argsOf), [['PING'], ['GET', 'a'], ['PING']]);
    assert.deepEqual(frames.map((f) => f.raw.byteOffset - chunk.byteOffset), [0, 14, 34]);
    for (const f of frames) assert.equal(f.raw.buffer, chunk.buffer);
  });

  it('takes binary payloads by length: CRLF, "*" and "$" inside, empty arguments', () => {
    const value = '\r\n*1\r\n$3\r\nfoo\r\n\x00\xff';
    const out = scanRequests([b(`*3\r\n$3\r\nSET\r\n$0\r\n\r\n$${value.length}\r\n${value}\r\n`)]);
    assert.deepEqual(out.map((r) => ('args' in r ? r.args : r)), [['SET', '', value]]);
  });

  it('treats *0, *-1 and any negative count as an empty request', () => {
    const out = scanRequests([b('*0\r\n*-1\r\n*-10\r\n*-9223372036854775808\r\n*1\r\n$4\r\nPING\r\n')]);
    assert.deepEqual(out, [
      { args: [], inline: false, raw: '*0\r\n' },
      { args: [], inline: false, raw: '*-1\r\n' },
      { args: [], inline: false, raw: '*-10\r\n' },
      { args: [], inline: false, raw: '*-9223372036854775808\r\n' },
      { args: ['PING'], inline: false, raw: '*1\r\n$4\r\nPING\r\n' },
    ]);
  });

  it('skips the byte after a header CR and the 2 bytes after a payload unchecked, as Redis does', () => {
    assert.deepEqual(scanRequests([b('*1\r\r$4\r\nPING\r\n')]), [{ args: ['PING'], inline: false, raw: '*1\r\r$4\r\nPING\r\n' }]);
    assert.deepEqual(scanRequests([b('*1\r\n$4\rXPINGxx')]), [{ args: ['PING'], inline: false, raw: '*1\r\n$4\rXPINGxx' }]);
  });

  it('honours maxBulkLen', () => {
    assert.deepEqual(scanRequests([b('*1\r\n$4\r\nPING\r\n')], { maxBulkLen: 4 }).length, 1);
    assert.deepEqual(scanRequests([b('*1\r\n$5\r\nPINGG\r\n')], { maxBulkLen: 4 }), [{ error: 'Protocol error: invalid bulk length' }]);
  });

  it('grows argument storage past the preallocated 1024 slots', () => {
    const n = 3000;
    const parts = [`*${n}\r\n`];
    for (let i = 0; i < n; i++) parts.push(`$${String(i).length}\r\n${i}\r\n`);
    const out = scanRequests([b(parts.join(''))]);
    assert.equal(out.length, 1);
    const r = out[0];
    assert.ok('args' in r);
    assert.equal(r.args.length, n);
    assert.equal(r.args[2999], '2999');
  });
});

describe('RequestScanner: inline', () => {
  const cases: [string, string[]][] = [
    ['PING', ['PING']],
    ['  SET   a  b  ', ['SET', 'a', 'b']],
    ['SET a\tb', ['SET', 'a', 'b']],
    ['ECHO a\x0bb', ['ECHO', 'a\x0bb']], // \v separates only leading blanks
    ['\x0b\x0cPING', ['PING']],
    ['ECHO a\rb', ['ECHO', 'a', 'b']], // a lone CR inside the line ends an argument
    ['SET "a b" c', ['SET', 'a b', 'c']],
    ['SET "" \'\'', ['SET', '', '']],
    ['ECHO "\\n\\r\\t\\b\\a\\\\\\"\\q"', ['ECHO', '\n\r\t\b\x07\\"q']],
    ['ECHO "\\x41\\x4a\\x4B\\xzz\\x4"', ['ECHO', 'AJKxzzx4']],
    ['ECHO "\\x00\\xff"', ['ECHO', '\x00\xff']],
    ["ECHO 'it\\'s' 'a\\nb'", ['ECHO', "it's", 'a\\nb']],
    ['ECHO foo"bar baz"', ['ECHO', 'foobar baz']],
    ["ECHO x'y z'", ['ECHO', 'xy z']],
    ['ECHO "a"\x0bb', ['ECHO', 'a', 'b']], // closing quote followed by isspace()
    ['ECHO "a\rb"', ['ECHO', 'a\rb']],
    ['SET k \xe9\xff', ['SET', 'k', '\xe9\xff']],
    [' *1', ['*1']], // inline: only a '*' in first position starts a multibulk
  ];

  for (const [line, args] of cases) {
    it(`splits ${JSON.stringify(line)}`, () => {
      const out = scanRequests([b(line + '\r\n')]);
      assert.equal(out.length, 1);
      const r = out[0];
      assert.ok('args' in r, JSON.stringify(r));
      assert.deepEqual(r.args, args);
      assert.equal(r.inline, true);
    });
  }

  it('builds raw as the RESP encoding of the arguments', () => {
    const [r] = scanRequests([b('SET "a\\r\\nb" \'\'\r\n')]);
    assert.ok('args' in r);
    assert.equal(r.raw, '*3\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n$0\r\n\r\n');
    const again = scanRequests([b(r.raw)]);
    assert.deepEqual(again, [{ args: r.args, inline: false, raw: r.raw }]);
  });

  it('accepts LF alone as line end; empty and blank lines are empty requests', () => {
    const out = scanRequests([b('PING\n\r\n\n   \r\nGET a\n')]);
    assert.deepEqual(
      out.map((r) => ('args' in r ? r.args : r)),
      [['PING'], [], [], [], ['GET', 'a']],
    );
  });

  it('rejects unbalanced quotes, and a closing quote glued to more text', () => {
    for (const line of ['SET "a', "SET 'a", 'ECHO "a"b', "ECHO 'a'b", 'ECHO "a\\"', 'ECHO "\\']) {
      assert.deepEqual(scanRequests([b(line + '\r\n')]), [{ error: 'Protocol error: unbalanced quotes in request' }], line);
    }
  });

  it('never completes a line with a NUL before its LF (Redis uses strchr), then fails at 64 KB', () => {
    const s = new RequestScanner();
    const input = b('PING\x00\r\nPING\r\n');
    s.feed(input);
    assert.equal(s.next(), null);
    s.feed(Buffer.alloc(65536 - input.length, 'a'));
    assert.equal(s.next(), null);
    s.feed(b('a'));
    const e = s.next();
    assert.ok(e instanceof ProtocolError);
    assert.equal(e.message, 'Protocol error: too big inline request');
  });
});

describe('RequestScanner: errors', () => {
  const errors: [string, string][] = [
    ['*abc\r\n', 'Protocol error: invalid multibulk length'],
    ['*\r\n', 'Protocol error: invalid multibulk length'],
    ['*01\r\n', 'Protocol error: invalid multibulk length'],
    ['*+1\r\n', 'Protocol error: invalid multibulk length'],
    ['*-0\r\n', 'Protocol error: invalid multibulk length'],
    ['*1 \r\n', 'Protocol error: invalid multibulk length'],
    ['*2147483648\r\n', 'Protocol error: invalid multibulk length'],
    ['*-9223372036854775809\r\n', 'Protocol error: invalid multibulk length'],
    ['*1\r\n$abc\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$-1\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$-0\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$536870913\r\n', 'Protocol error: invalid bulk length'],
    ['*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n', "Protocol error: expected '$', got 'f'"],
    ['*1\r\n:1\r\n', "Protocol error: expected '$', got ':'"],
    ['*1\r\n\r\n', "Protocol error: expected '$', got ' '"],
    ['*1\r\n\n\r\n', "Protocol error: expected '$', got ' '"],
    ['*1\r\n\xff\r\n', "Protocol error: expected '$', got '\xff'"],
    ['SET "a\r\n', 'Protocol error: unbalanced quotes in request'],
  ];
  for (const [input, message] of errors) {
    it(`${JSON.stringify(input)} → ${message}`, () => {
      assert.deepEqual(scanRequests([b(input)]), [{ error: message }]);
    });
  }

  it('accepts 536870912 (proto-max-bulk-len) as a bulk length', () => {
    const s = new RequestScanner();
    s.feed(b('*1\r\n$536870912\r\n'));
    assert.equal(s.next(), null);
    assert.equal(s.error, null);
  });

  it('header lines may be 64 KB; one byte more is "too big"', () => {
    for (const [prefix, message] of [
      ['*', 'Protocol error: too big mbulk count string'],
      ['*1\r\n$', 'Protocol error: too big bulk count string'],
    ]) {
      const ok = new RequestScanner();
      ok.feed(b(prefix));
      ok.feed(Buffer.alloc(65536 - 1, '1'));
      assert.equal(ok.next(), null, 'exactly 64 KB without CR: still waiting');
      const tooBig = new RequestScanner();
      tooBig.feed(Buffer.concat([b(prefix), Buffer.alloc(65536, '1')]));
      const e = tooBig.next();
      assert.ok(e instanceof ProtocolError, prefix);
      assert.equal(e.message, message);
      // The same when the CR comes right after, in the same chunk: the rule is on the line length.
      const sameChunk = new RequestScanner();
      sameChunk.feed(Buffer.concat([b(prefix), Buffer.alloc(65536, '1'), b('\r\n')]));
      assert.deepEqual(sameChunk.next(), new ProtocolError(message));
    }
  });

  it('an inline line may be 64 KB; one byte more is "too big"', () => {
    const line = 'ECHO ' + 'x'.repeat(65536 - 5);
    assert.equal(scanRequests([b(line + '\r\n')]).length, 1);
    assert.deepEqual(scanRequests([b(line + 'x')]), [{ error: 'Protocol error: too big inline request' }]);
    assert.deepEqual(scanRequests([b(line + 'x\n')]), [{ error: 'Protocol error: too big inline request' }]);
  });

  it('a NUL in a header line stalls it until 64 KB have piled up', () => {
    const s = new RequestScanner();
    s.feed(b('*1\x00\r\n*1\r\n$4\r\nPING\r\n'));
    assert.equal(s.next(), null);
    s.feed(Buffer.alloc(70000));
    assert.deepEqual(s.next(), new ProtocolError('Protocol error: too big mbulk count string'));
  });

  it('reports an error once, then stays failed and ignores input', () => {
    const s = new RequestScanner();
    s.feed(b('*1\r\n$4\r\nPING\r\n*x\r\n*1\r\n$4\r\nPING\r\n'));
    const f = s.next();
    assert.ok(f !== null && !(f instanceof ProtocolError));
    assert.deepEqual(s.next(), new ProtocolError('Protocol error: invalid multibulk length'));
    assert.equal(s.next(), null);
    s.feed(b('*1\r\n$4\r\nPING\r\n'));
    assert.equal(s.next(), null);
    assert.ok(s.error instanceof ProtocolError);
  });

  it('applies the pre-AUTH limits while authRequired', () => {
    const scan = (input: string, authRequired: boolean) => {
      const s = new RequestScanner({ authRequired });
      s.feed(b(input));
      const f = s.next();
      return f instanceof ProtocolError ? f.message : f === null ? null : f.argc;
    };
    assert.equal(scan('*10\r\n', true), null);
    assert.equal(scan('*11\r\n', true), 'Protocol error: unauthenticated multibulk length');
    assert.equal(scan('*11\r\n', false), null);
    assert.equal(scan('*x\r\n', true), 'Protocol error: invalid multibulk length');
    assert.equal(scan('*1\r\n$16384\r\n', true), null);
    assert.equal(scan('*1\r\n$16385\r\n', true), 'Protocol error: unauthenticated bulk length');
    assert.equal(scan('*1\r\n$16385\r\n', false), null);
    assert.equal(scan('*1\r\n$-1\r\n', true), 'Protocol error: invalid bulk length');
    // Cleared between frames: the next request is judged under the new state.
    const s = new RequestScanner({ authRequired: true });
    s.feed(b('*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*11\r\n'));
    const auth = s.next();
    assert.ok(auth !== null && !(auth instanceof ProtocolError) && auth.argc === 2);
    s.authRequired = false;
    assert.equal(s.next(), null);
    assert.equal(s.error, null);
  });

  it('refuses a request larger than maxRequestLen', () => {
    const s = new RequestScanner({ maxRequestLen: 100 });
    s.feed(b('*2\r\n$50\r\n' + 'x'.repeat(50) + '\r\n$50\r\n'));
    const e = s.next();
    assert.ok(e instanceof ProtocolError);
    assert.match(e.message, /query buffer limit/);
  });
});

describe('RequestScanner: chunking', () => {
  const stream = b(
    '*3\r\n$3\r\nSET\r\n$4\r\nk\r\nk\r\n$0\r\n\r\n' +
      'PING\r\n' +
      '*0\r\n' +
      'SET "a b" \'c\'\n' +
      '\r\n' +
      '*2\r\n$3\r\nGET\r\n$12\r\n\r\n$1\r\n*1\r\n$\r\n' +
      '*1\r\r$4\r\nPINGxx',
  );

  it('gives the same frames whatever the cut (every 2- and 3-way split, byte by byte)', () => {
    const whole = scanRequests([stream]);
    assert.equal(whole.length, 7);
    assert.ok(whole.every((r) => !('error' in r)));
    for (const chunks of [...splits(stream), ...splits3(stream)]) {
      assert.deepEqual(scanRequests(chunks), whole, chunks.map(str).join(' | '));
    }
  });

  it('gives the same errors whatever the cut', () => {
    for (const bad of ['*1\r\n$3\r\nfoo\r\n$3', '*2\r\n$3\r\nfoo\r\nxyz\r\n', 'PING\r\nSET "a\r\n', '*1\r\n$9x\r\n']) {
      const whole = scanRequests([b(bad)]);
      for (const chunks of splits(b(bad))) assert.deepEqual(scanRequests(chunks), whole, bad);
    }
  });

  it('copes with feed() called several times before next()', () => {
    const s = new RequestScanner();
    for (let k = 0; k < stream.length; k += 3) s.feed(stream.subarray(k, k + 3));
    const out: ReqResult[] = [];
    for (let f = s.next(); f !== null; f = s.next()) {
      assert.ok(!(f instanceof ProtocolError));
      out.push({ args: argsOf(f), inline: f.inline, raw: str(f.raw) });
    }
    assert.deepEqual(out, scanRequests([stream]));
  });

  it('joins a 50 MB value arriving in 16 KB chunks with one copy, never re-reading it', () => {
    const size = 50 * 1024 * 1024;
    const value = Buffer.alloc(size, '\r'); // CRs everywhere: any re-scan would be wrong, not just slow
    value[size - 1] = 0x5a;
    const head = b(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${size}\r\n`);
    const stream = Buffer.concat([head, value, b('\r\n*1\r\n$4\r\nPING\r\n')]);
    const s = new RequestScanner();
    const frames: RequestFrame[] = [];
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < stream.length; k += 16384) {
      s.feed(stream.subarray(k, k + 16384));
      for (let f = s.next(); f !== null; f = s.next()) {
        assert.ok(!(f instanceof ProtocolError));
        frames.push(f);
      }
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(frames.length, 2);
    assert.equal(frames[0].argc, 3);
    assert.equal(argBuffer(frames[0], 2).length, size);
    assert.equal(argBuffer(frames[0], 2)[size - 1], 0x5a);
    assert.deepEqual(argsOf(frames[1]), ['PING']);
    assert.equal(s.copies, 1, 'one join for the big frame');
    assert.equal(s.copiedBytes, head.length + size + 2);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('stays linear for a many-argument request dripped byte by byte', () => {
    const n = 5000;
    const parts = [`*${n}\r\n`];
    for (let i = 0; i < n; i++) parts.push(`$${String(i).length}\r\n${i}\r\n`);
    const stream = b(parts.join(''));
    const s = new RequestScanner();
    let frame: RequestFrame | null = null;
    for (let k = 0; k < stream.length; k++) {
      s.feed(stream.subarray(k, k + 1));
      const f = s.next();
      if (f !== null) {
        assert.ok(!(f instanceof ProtocolError));
        frame = f;
      }
    }
    assert.ok(frame !== null);
    assert.equal(frame.argc, n);
    assert.equal(str(argBuffer(frame, 4321)), '4321');
    // Each tiny chunk is gathered once into a scratch piece, the frame is joined once, and
    // header lines that straddled chunks are copied once each: linear, not quadratic.
    assert.ok(s.copiedBytes < 3 * stream.length, `copied ${s.copiedBytes} for ${stream.length}`);
  });

  it('gathers tiny chunks instead of keeping one Buffer object per chunk', () => {
    const size = 256 * 1024;
    const stream = Buffer.concat([b(`*2\r\n$3\r\nGET\r\n$${size}\r\n`), Buffer.alloc(size, 'k'), b('\r\n')]);
    const s = new RequestScanner();
    let frame: RequestFrame | null = null;
    for (let k = 0; k < stream.length; k += 3) {
      s.feed(stream.subarray(k, k + 3));
      const f = s.next();
      if (f !== null) {
        assert.ok(!(f instanceof ProtocolError));
        frame = f;
      }
    }
    assert.ok(frame !== null);
    assert.ok(argBuffer(frame, 1).equals(Buffer.alloc(size, 'k')));
    // Without gathering only the final join would be counted (= stream.length).
    assert.ok(s.copiedBytes > 1.9 * stream.length && s.copiedBytes <= 2 * stream.length + 64, String(s.copiedBytes));
    // And chunks of ordinary size are not gathered: the join is the only copy.
    const t = new RequestScanner();
    for (let k = 0; k < stream.length; k += 4096) {
      t.feed(stream.subarray(k, k + 4096));
      t.next();
    }
    assert.equal(t.copiedBytes, stream.length);
  });
});

describe('ReplyScanner', () => {
  const singles = [
    '+OK\r\n',
    '-ERR unknown command\r\n',
    ':0\r\n',
    ':-42\r\n',
    '$3\r\nbar\r\n',
    '$0\r\n\r\n',
    '$-1\r\n',
    '$4\r\n\r\n\r\n\r\n',
    '*-1\r\n',
    '*0\r\n',
    '*3\r\n:1\r\n$1\r\na\r\n*2\r\n+x\r\n-E e\r\n',
    '_\r\n',
    ',3.14\r\n',
    ',inf\r\n',
    '#t\r\n',
    '!9\r\nERR boom!\r\n',
    '=8\r\ntxt:abcd\r\n',
    '(3492890328409238509324850943850943825024385\r\n',
    '%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n_\r\n',
    '%0\r\n',
    '~2\r\n+a\r\n+b\r\n',
    '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n',
    '|1\r\n+ttl\r\n:3\r\n$3\r\nval\r\n',
    '|0\r\n+OK\r\n',
    '*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n',
    '|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n+v\r\n*1\r\n|1\r\n+d\r\n+e\r\n:5\r\n', // attributes inside attributes
  ];

  it('frames every RESP2 and RESP3 type, as views of the chunk (a top-level +OK: the shared constant)', () => {
    for (const one of singles) {
      const chunk = b(one);
      const s = new ReplyScanner();
      s.feed(chunk);
      const f = s.next();
      assert.ok(f instanceof Buffer, one);
      assert.equal(str(f), one);
      if (one === '+OK\r\n') assert.equal(f, enc.OK);
      else assert.equal(f.buffer, chunk.buffer);
      assert.equal(s.next(), null);
    }
    // Only a whole +OK reply is the constant: inside an aggregate, or another status, it is a view.
    for (const one of ['*1\r\n+OK\r\n', '+OKAY\r\n', '+OK\r\n']) {
      const chunk = b(`+PONG\r\n${one}`);
      const s = new ReplyScanner();
      s.feed(chunk);
      assert.equal(str(s.next() as Buffer), '+PONG\r\n');
      const f = s.next() as Buffer;
      assert.equal(str(f), one);
      assert.equal(f === enc.OK, one === '+OK\r\n', one);
    }
  });

  it('frames a pipeline of all of them, whatever the cut', () => {
    const stream = b(singles.join(''));
    assert.deepEqual(scanReplies([stream]), singles);
    for (const chunks of splits(stream)) assert.deepEqual(scanReplies(chunks), singles);
    const small = b(singles.slice(0, 6).join('') + singles[22]);
    for (const chunks of splits3(small)) assert.deepEqual(scanReplies(chunks), [...singles.slice(0, 6), singles[22]]);
  });

  it('handles nesting 100000 deep without recursion', () => {
    const depth = 100000;
    const deep = '*1\r\n'.repeat(depth) + ':7\r\n';
    assert.deepEqual(scanReplies([b(deep + '+OK\r\n')]), [deep, '+OK\r\n']);
    let v = decodeReply(b(deep));
    for (let i = 0; i < depth; i++) {
      assert.ok(Array.isArray(v));
      v = v[0];
    }
    assert.equal(v, 7);
  });

  const malformed: [string, RegExp][] = [
    ['?\r\n', /invalid reply type byte '\?'/],
    ['\x00', /invalid reply type byte 0x00/],
    ['$abc\r\n', /invalid bulk length/],
    ['$-2\r\n', /invalid bulk length/],
    ['!-1\r\n', /invalid bulk length/],
    ['$?\r\n', /invalid bulk length/],
    ['*-2\r\n', /invalid multibulk length/],
    ['%-1\r\n', /invalid multibulk length/],
    ['*01\r\n', /invalid multibulk length/],
    ['$3\r\nabcX\r\n', /bulk not terminated by CRLF/],
    ['$3\r\nabc\rX', /bulk not terminated by CRLF/],
    ['+OK\rX', /line not terminated by CRLF/],
  ];
  for (const [input, re] of malformed) {
    it(`rejects ${JSON.stringify(input)}, whatever the cut`, () => {
      const whole = scanReplies([b(input)]);
      assert.equal(whole.length, 1);
      const r = whole[0];
      assert.ok(typeof r === 'object');
      assert.match(r.error, re);
      for (const chunks of splits(b(input))) assert.deepEqual(scanReplies(chunks), whole);
    });
  }

  it('stays failed after an error', () => {
    const s = new ReplyScanner();
    s.feed(b('+OK\r\n@\r\n+OK\r\n'));
    assert.ok(s.next() instanceof Buffer);
    assert.ok(s.next() instanceof ProtocolError);
    assert.equal(s.next(), null);
    s.feed(b('+OK\r\n'));
    assert.equal(s.next(), null);
  });

  it('joins a large multi-chunk reply once', () => {
    const elems: string[] = [];
    for (let i = 0; i < 20000; i++) elems.push(`$${String(i).length + 4}\r\nkey:${i}\r\n`);
    const reply = `*${elems.length}\r\n${elems.join('')}`;
    const big = Buffer.alloc(8 * 1024 * 1024, 'v');
    const stream = Buffer.concat([b(reply), b(`$${big.length}\r\n`), big, b('\r\n')]);
    const s = new ReplyScanner();
    const frames: Buffer[] = [];
    for (let k = 0; k < stream.length; k += 4096) {
      s.feed(stream.subarray(k, k + 4096));
      for (let f = s.next(); f !== null; f = s.next()) {
        assert.ok(f instanceof Buffer);
        frames.push(f);
      }
    }
    assert.equal(frames.length, 2);
    assert.equal(str(frames[0]), reply);
    assert.equal(frames[1].length, big.length + 12);
    // Both frames straddle chunks: each is joined once. Beyond that: the length lines cut by
    // a chunk boundary (a few bytes each), and the second frame's start, a short tail of the
    // chunk where the first one ended, gathered into a scratch piece (< 2 KB).
    assert.ok(s.copiedBytes >= stream.length);
    assert.ok(s.copiedBytes - stream.length < 2048 + 1024, `copied ${s.copiedBytes} for ${stream.length}`);
  });
});

describe('decodeReply', () => {
  const d = (s: string) => decodeReply(b(s));
  it('decodes every type', () => {
    assert.equal(d('+OK\r\n'), 'OK');
    assert.deepEqual(d('-ERR no\r\n'), new ReplyErrorValue('ERR no'));
    assert.equal((d('-MOVED 3999 127.0.0.1:6381\r\n') as ReplyErrorValue).code, 'MOVED');
    assert.equal(d(':-12\r\n'), -12);
    assert.equal(d(':9007199254740993\r\n'), 9007199254740993n);
    assert.equal(d(':-9223372036854775808\r\n'), -9223372036854775808n);
    assert.deepEqual(d('$3\r\na\r\n\r\n'), b('a\r\n'));
    assert.equal(d('$-1\r\n'), null);
    assert.equal(d('*-1\r\n'), null);
    assert.equal(d('_\r\n'), null);
    assert.deepEqual(d('*0\r\n'), []);
    assert.deepEqual(d('*2\r\n:1\r\n*1\r\n$1\r\nx\r\n'), [1, [b('x')]]);
    assert.equal(d(',1.5e3\r\n'), 1500);
    assert.equal(d(',-inf\r\n'), -Infinity);
    assert.ok(Number.isNaN(d(',nan\r\n')));
    assert.equal(d('#t\r\n'), true);
    assert.equal(d('#f\r\n'), false);
    assert.equal(d('(12345678901234567890\r\n'), 12345678901234567890n);
    assert.deepEqual(d('!5\r\nERR x\r\n'), new ReplyErrorValue('ERR x'));
    assert.deepEqual(d('=8\r\ntxt:abcd\r\n'), b('abcd'));
    assert.deepEqual(d('~2\r\n:1\r\n:2\r\n'), [1, 2]);
    assert.deepEqual(d('>2\r\n+a\r\n+b\r\n'), ['a', 'b']);
    const m = d('%2\r\n+a\r\n:1\r\n$1\r\nb\r\n%0\r\n');
    assert.ok(m instanceof ReplyMapValue);
    assert.equal(m.get('a'), 1);
    assert.deepEqual(m.get('b'), new ReplyMapValue([]));
    assert.equal(m.get('c'), undefined);
    assert.equal(d('|1\r\n+a\r\n+b\r\n:5\r\n'), 5);
    assert.deepEqual(d('*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n|0\r\n:2\r\n'), [1, 2]);
  });

  it('bulk values are views of the reply', () => {
    const raw = b('$3\r\nabc\r\n');
    const v = decodeReply(raw);
    assert.ok(Buffer.isBuffer(v));
    assert.equal(v.buffer, raw.buffer);
  });

  it('turns malformed input into an ERR Protocol error value', () => {
    for (const bad of ['', '+OK', ':abc\r\n', '$5\r\nab\r\n', '*2\r\n:1\r\n', '?\r\n', '+OK\r\n+OK\r\n', '#x\r\n', ',1.2.3\r\n']) {
      const v = decodeReply(b(bad));
      assert.ok(v instanceof ReplyErrorValue, JSON.stringify(bad));
      assert.match(v.message, /^ERR Protocol error/);
    }
  });
});

describe('arrayElements', () => {
  it('returns raw views of top-level elements', () => {
    const raw = b('*4\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n%1\r\n+k\r\n+v\r\n|1\r\n+m\r\n+n\r\n:9\r\n');
    const els = arrayElements(raw);
    assert.ok(els !== null);
    assert.deepEqual(els.map(str), ['$1\r\na\r\n', '$-1\r\n', '*2\r\n:1\r\n%1\r\n+k\r\n+v\r\n', '|1\r\n+m\r\n+n\r\n:9\r\n']);
    for (const e of els) assert.equal(e.buffer, raw.buffer);
  });
  it('handles sets, pushes, a leading attribute and empty arrays', () => {
    assert.deepEqual(arrayElements(b('~1\r\n+a\r\n'))?.map(str), ['+a\r\n']);
    assert.deepEqual(arrayElements(b('>1\r\n+a\r\n'))?.map(str), ['+a\r\n']);
    assert.deepEqual(arrayElements(b('|1\r\n+x\r\n+y\r\n*1\r\n:1\r\n'))?.map(str), [':1\r\n']);
    assert.deepEqual(arrayElements(b('*0\r\n')), []);
  });
  it('is null for non-arrays and malformed arrays', () => {
    for (const r of ['-ERR x\r\n', '*-1\r\n', '$1\r\na\r\n', ':1\r\n', '*2\r\n:1\r\n', '*1\r\n$5\r\nab\r\n', '*1\r\n:1\r\n:2\r\n']) {
      assert.equal(arrayElements(b(r)), null, r);
    }
  });
});

describe('encoders', () => {
  it('constants', () => {
    assert.equal(str(enc.OK), '+OK\r\n');
    assert.equal(str(enc.PONG), '+PONG\r\n');
    assert.equal(str(enc.NULL_BULK), '$-1\r\n');
    assert.equal(str(enc.NULL_ARRAY), '*-1\r\n');
    assert.equal(str(enc.EMPTY_ARRAY), '*0\r\n');
    assert.equal(str(enc.EMPTY_BULK), '$0\r\n\r\n');
  });
  it('simple strings and errors, with CR/LF neutralized like Redis', () => {
    assert.equal(str(enc.encodeSimple('OK')), '+OK\r\n');
    assert.equal(str(enc.encodeSimple('a\r\nb')), '+a  b\r\n');
    assert.equal(str(enc.encodeError('ERR unknown command')), '-ERR unknown command\r\n');
    assert.equal(str(enc.encodeError('-ERR x')), '-ERR x\r\n');
    assert.equal(str(enc.encodeError('ERR a\nb\r\n')), '-ERR a b\r\n');
    assert.equal(str(enc.encodeError("ERR got '\xff'")), "-ERR got '\xff'\r\n");
  });
  it('integers', () => {
    assert.equal(str(enc.encodeInteger(0)), ':0\r\n');
    assert.equal(str(enc.encodeInteger(1234567890)), ':1234567890\r\n');
    assert.equal(str(enc.encodeInteger(-5)), ':-5\r\n');
    assert.equal(str(enc.encodeInteger(Number.MAX_SAFE_INTEGER)), ':9007199254740991\r\n');
    assert.equal(str(enc.encodeInteger(1e21)), ':1000000000000000000000\r\n');
    assert.equal(str(enc.encodeInteger(-9223372036854775808n)), ':-9223372036854775808\r\n');
    assert.throws(() => enc.encodeInteger(1.5), RangeError);
  });
  it('bulks, arrays, commands', () => {
    assert.equal(str(enc.encodeBulk('abc')), '$3\r\nabc\r\n');
    assert.equal(str(enc.encodeBulk(b('a\r\nb'))), '$4\r\na\r\nb\r\n');
    assert.equal(str(enc.encodeBulk('')), '$0\r\n\r\n');
    assert.equal(str(enc.encodeBulk('\xe9')), '$1\r\n\xe9\r\n');
    assert.equal(enc.encodeBulk(null), enc.NULL_BULK);
    assert.equal(str(enc.encodeArrayHeader(12)), '*12\r\n');
    assert.equal(str(enc.encodeArrayHeader(0)), '*0\r\n');
    assert.equal(str(enc.encodeArray([enc.OK, enc.encodeInteger(3), enc.NULL_BULK])), '*3\r\n+OK\r\n:3\r\n$-1\r\n');
    assert.equal(str(enc.encodeArray([])), '*0\r\n');
    const cmd = enc.encodeCommand(['MGET', b('k\x001'), 'x'.repeat(10)]);
    assert.equal(str(cmd), `*3\r\n$4\r\nMGET\r\n$3\r\nk\x001\r\n$10\r\n${'x'.repeat(10)}\r\n`);
    const [r] = scanRequests([cmd]);
    assert.ok('args' in r);
    assert.deepEqual(r.args, ['MGET', 'k\x001', 'x'.repeat(10)]);
  });
});

// ---------------------------------------------------------------------------------------
// The same inputs against a real redis-server: the scanner must agree with it.

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;

describe('agreement with redis-server', { skip: haveRedis || process.env.CI ? false : 'redis-server not installed' }, () => {
  let server: RedisServerHandle | undefined;
  let port = 0;

  before(async () => {
    server = await startRedisServer();
    port = server.port;
  });
  after(async () => {
    await server?.stop();
  });

  it('answers protocol errors with the same words', async () => {
    const inputs = [
      '*abc\r\n',
      '*01\r\n',
      '*-0\r\n',
      '*2147483648\r\n',
      '*-9223372036854775809\r\n',
      '*1\r\n$-1\r\n',
      '*1\r\n$536870913\r\n',
      '*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n',
      '*1\r\n\r\n',
      '*1\r\n\n\r\n',
      '*1\r\n\xff\r\n',
      'SET "a\r\n',
      'ECHO "a"b\r\n',
      '*' + '1'.repeat(70000),
      '*1\r\n$' + '1'.repeat(70000),
      'ECHO ' + 'x'.repeat(70000),
    ];
    for (const input of inputs) {
      const ours = scanRequests([b(input)]);
      const last = ours[ours.length - 1];
      assert.ok('error' in last, input);
      const theirs = await talk(b(input), 1);
      // Raw bytes: the parser would decode a 0xff in the message as UTF-8.
      assert.ok(theirs.raw.endsWith(`-ERR ${last.error}\r\n`), `${JSON.stringify(input.slice(0, 40))}: ${JSON.stringify(theirs.raw)}`);
      assert.equal(theirs.closed, true);
    }
  });

  it('splits inline commands the same way', async () => {
    const lines = [
      'a b  c',
      '"a b" c',
      '"\\n\\r\\t\\b\\a\\\\\\"\\q"',
      '"\\x41\\x4a\\x4B\\xzz\\x4"',
      '"\\x00\\xff"',
      "'it\\'s' 'a\\nb'",
      'foo"bar baz"',
      "x'y z'",
      '"a"\x0bb',
      'a\x0bb',
      'a\rb',
      '"a\rb"',
      '\xe9\xff',
      '"" \'\'',
    ];
    for (const line of lines) {
      const full = `RPUSH l ${line}`;
      const [ours] = scanRequests([b(full + '\r\n')]);
      assert.ok('args' in ours);
      const theirs = await talk(b(`DEL l\r\n${full}\r\nLRANGE l 0 -1\r\n`), 3);
      const parsed = parseAll(b(theirs.raw));
      assert.deepEqual(
        (parsed[2] as Buffer[]).map(str),
        ours.args.slice(2),
        JSON.stringify(line),
      );
    }
  });

  it('accepts the same sloppy framing and ignores the same empty requests', async () => {
    const input = '*1\r\r$4\r\nPING\r\n*1\r\n$4\rXPINGxx*0\r\n*-1\r\n*-9223372036854775808\r\n\r\n\n   \nPING\n';
    const ours = scanRequests([b(input)]).filter((r) => 'args' in r && r.args.length > 0);
    const theirs = await talk(b(input), 3);
    assert.equal(ours.length, 3);
    assert.deepEqual(theirs.replies, ['+PONG', '+PONG', '+PONG']);
  });

  it('both hang on a NUL before the line end', async () => {
    for (const input of ['PING\x00\r\nPING\r\n', '*1\x00\r\n*1\r\n$4\r\nPING\r\n']) {
      assert.deepEqual(scanRequests([b(input)]), []);
      const theirs = await talk(b(input), 1, 300);
      assert.deepEqual(theirs.replies, []);
      assert.equal(theirs.closed, false);
    }
  });

  it('apply the same pre-AUTH limits (last: sets a password)', async () => {
    const admin = await talk(b('CONFIG SET requirepass pw\r\n'), 1);
    assert.deepEqual(admin.replies, ['+OK']);
    for (const input of ['*11\r\n', '*1\r\n$16385\r\n']) {
      const [ours] = scanRequests([b(input)], { authRequired: true });
      assert.ok('error' in ours);
      const theirs = await talk(b(input), 1);
      assert.ok(theirs.raw.endsWith(`-ERR ${ours.error}\r\n`), theirs.raw);
    }
    for (const input of ['*10\r\n', '*1\r\n$16384\r\n']) {
      assert.deepEqual(scanRequests([b(input)], { authRequired: true }), []);
      const theirs = await talk(b(input), 1, 300);
      assert.deepEqual(theirs.replies, []);
    }
  });

  /**
   * Sends raw bytes on a fresh connection; collects replies until the server closes the
   * connection, or `replies` have come (plus a moment for a close), or `waitMs` passed.
   */
  async function talk(bytes: Buffer, replies: number, waitMs = 2000): Promise<{ replies: string[]; raw: string; closed: boolean }> {
    return new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      const got: string[] = [];
      let closed = false;
      let done = false;
      const parser = new Parser({
        returnReply: (r: unknown) => got.push(Buffer.isBuffer(r) ? '+' + str(r) : typeof r === 'number' ? ':' + r : 'array'),
        returnError: (e: Error) => got.push('-' + e.message),
        returnFatalError: (e: Error) => got.push('fatal ' + e.message),
        returnBuffers: true,
      });
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        resolve({ replies: got, raw: str(Buffer.concat(chunks)), closed });
      };
      const timer = setTimeout(finish, waitMs);
      sock.on('data', (d) => {
        chunks.push(d);
        parser.execute(d);
        if (got.length >= replies) setTimeout(finish, 200);
      });
      sock.on('error', () => {});
      sock.on('close', () => {
        closed = true;
        finish();
      });
      sock.write(bytes);
    });
  }
});

function parseAll(raw: Buffer): unknown[] {
  const out: unknown[] = [];
  const p = new Parser({
    returnReply: (r: unknown) => out.push(r),
    returnError: (e: Error) => out.push(e),
    returnBuffers: true,
  });
  p.execute(raw);
  return out;
}

