/**
 * Differential fuzzing of the RESP scanners against redis-parser (the parser ioredis
 * uses) on RESP2: random and adversarial streams, cut at random chunk boundaries.
 *
 * Seeded: a failure prints its seed and case; rerun with RESP_FUZZ_SEED=<seed> to
 * reproduce (RESP_FUZZ_CASES scales the number of cases).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Parser from 'redis-parser';
import { ProtocolError, argBuffer, type RequestFrame } from '../src/resp/frame.js';
import { RequestScanner } from '../src/resp/request-scanner.js';
import { ReplyScanner } from '../src/resp/reply-scanner.js';
import { ReplyErrorValue, arrayElements, decodeReply, type ReplyValue } from '../src/resp/reply-value.js';
import { prng } from './support/prng.js';

const SEED = Number(process.env.RESP_FUZZ_SEED ?? 0x5eed);
const CASES = Number(process.env.RESP_FUZZ_CASES ?? 1500);


/** CR, LF, type bytes, digits, minus, NUL, space, quotes, backslash. */
const NASTY = [13, 10, 42, 36, 43, 45, 58, 48, 49, 57, 0, 32, 34, 39, 92];

class Gen {
  readonly rnd: () => number;
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

  /** Random bytes, rich in bytes that look like protocol, often with a CRLF inside. */
  bytes(len: number): Buffer {
    // Long payloads tile a random block: their framing is what is tested, and per-byte
    // randomness would dominate the run time.
    if (len > 4096) return Buffer.alloc(len, this.bytes(this.int(200, 600)));
    const out = Buffer.allocUnsafe(len);
    const rnd = this.rnd;
    for (let i = 0; i < len; i++) {
      const r = rnd(); // one draw per byte: 30% protocol-looking bytes, else any byte
      out[i] = r < 0.3 ? NASTY[Math.floor((r / 0.3) * NASTY.length)] : Math.floor(((r - 0.3) / 0.7) * 256);
    }
    if (len >= 2 && this.chance(0.3)) {
      const at = this.int(0, len - 2);
      out[at] = 13;
      out[at + 1] = 10;
    }
    return out;
  }

  /** Large payloads left for the current stream (one in 20 streams gets one). */
  bigBudget = 0;

  /** Payload length: mostly small, some empty, a few long, rarely large. */
  bulkLen(): number {
    const r = this.rnd();
    if (r < 0.15) return 0;
    if (r < 0.8) return this.int(1, 24);
    if (r < 0.97 || this.bigBudget === 0) return this.int(25, 3000);
    this.bigBudget--;
    return this.int(20000, 150000);
  }

  newStream(): void {
    this.bigBudget = this.chance(0.05) ? 1 : 0;
  }

  /** A line without CR/LF (status and error text). */
  text(len: number): string {
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(this.pick([this.int(32, 126), this.int(32, 126), 9]));
    return s;
  }

  /** Cuts a stream into chunks: whole, byte by byte, tiny, small or large random sizes. */
  chunks(stream: Buffer): Buffer[] {
    let mode = this.int(0, 4);
    if (mode === 1 && stream.length > 20000) mode = 2; // byte by byte: short streams only, for time
    if (mode === 0) return [stream];
    const max = [1, 1, 7, 100, 70000][mode];
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; ) {
      const n = this.int(1, max);
      out.push(stream.subarray(i, i + n));
      i += n;
    }
    return out;
  }
}

const enc = (s: string): Buffer => Buffer.from(s, 'latin1');

// ----------------------------------------------------------------------------------------
// Requests

function genRequests(g: Gen): Buffer {
  g.newStream();
  const parts: Buffer[] = [];
  const frames = g.int(1, 12);
  for (let f = 0; f < frames; f++) {
    if (g.chance(0.04)) {
      parts.push(enc(g.pick(['*0\r\n', '*-1\r\n'])));
      continue;
    }
    const argc = g.chance(0.05) ? g.int(20, 120) : g.int(1, 6);
    parts.push(enc(`*${argc}\r\n`));
    for (let a = 0; a < argc; a++) {
      const len = g.bulkLen();
      parts.push(enc(`$${len}\r\n`), g.bytes(len), enc('\r\n'));
    }
  }
  return Buffer.concat(parts);
}

/** redis-parser reads an array of bulk strings as a reply: the oracle's argument lists. */
function oracle(stream: Buffer): unknown[] {
  const out: unknown[] = [];
  const p = new Parser({
    returnReply: (r: unknown) => out.push(r),
    returnError: (e: Error) => out.push(e),
    returnFatalError: (e: Error) => {
      throw e;
    },
    returnBuffers: true,
  });
  p.execute(stream);
  return out;
}

/** Runs a scanner over chunks; records each frame's stream offset and whether it is a view. */
function runScanner<T>(
  scanner: { feed(c: Buffer): void; next(): T | ProtocolError | null },
  chunks: Buffer[],
  rawOf: (f: T) => Buffer,
): { frames: T[]; error: string | null; notViews: number } {
  const frames: T[] = [];
  let error: string | null = null;
  let notViews = 0;
  let streamPos = 0; // offset of the next frame in the stream
  let chunkStart = 0;
  for (const c of chunks) {
    scanner.feed(c);
    for (let f = scanner.next(); f !== null; f = scanner.next()) {
      if (f instanceof ProtocolError) {
        error = f.message;
        continue;
      }
      const raw = rawOf(f);
      // A frame wholly inside the current chunk must be a view of it.
      const isView = raw.buffer === c.buffer && raw.byteOffset === c.byteOffset + (streamPos - chunkStart);
      if (streamPos >= chunkStart && !isView) notViews++;
      streamPos += raw.length;
      frames.push(f);
    }
    chunkStart += c.length;
  }
  return { frames, error, notViews };
}

const rawOfRequest = (f: RequestFrame): Buffer => f.raw;

describe('fuzz: request scanner vs redis-parser', () => {
  it(`agrees on ${CASES} random pipelines, whatever the chunking (seed ${SEED})`, () => {
    const g = new Gen(SEED);
    for (let n = 0; n < CASES; n++) {
      const stream = genRequests(g);
      const chunks = g.chunks(stream);
      const where = `seed ${SEED} case ${n} (${chunks.length} chunks)`;
      const expected = oracle(stream).map((r) => (r === null ? [] : (r as Buffer[])));
      const { frames, error, notViews } = runScanner(new RequestScanner(), chunks, rawOfRequest);
      assert.equal(error, null, where);
      assert.equal(frames.length, expected.length, where);
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i];
        assert.equal(f.inline, false, where);
        assert.equal(f.argc, expected[i].length, `${where} frame ${i}`);
        for (let a = 0; a < f.argc; a++) assert.ok(argBuffer(f, a).equals(expected[i][a]), `${where} frame ${i} arg ${a}`);
      }
      assert.ok(Buffer.concat(frames.map(rawOfRequest)).equals(stream), `${where}: frames must tile the stream`);
      assert.equal(notViews, 0, `${where}: a frame inside one chunk was copied`);
    }
  });

  it(`yields the same frames and error for mutated streams under any chunking (seed ${SEED})`, () => {
    const g = new Gen(SEED + 1);
    for (let n = 0; n < CASES; n++) {
      const stream = mutate(g, genRequests(g));
      const where = `seed ${SEED + 1} case ${n}`;
      const describeAll = (chunks: Buffer[]) => {
        const r = runScanner(new RequestScanner(), chunks, rawOfRequest);
        return { frames: r.frames.map((f) => [f.inline, f.argc, ...Array.from({ length: f.argc }, (_, a) => argBuffer(f, a).toString('hex'))]), error: r.error, raw: r.frames.filter((f) => !f.inline).map(rawOfRequest) };
      };
      const whole = describeAll([stream]);
      assert.deepEqual(describeAll(g.chunks(stream)), whole, where);
      // Multibulk frames are the stream's own bytes, in order.
      for (const raw of whole.raw) assert.ok(stream.includes(raw), where);
    }
  });
});

// ----------------------------------------------------------------------------------------
// Replies

function genValue(g: Gen, depth: number, parts: Buffer[]): void {
  const r = g.rnd();
  if (depth < 6 && r < 0.2) {
    const n = g.chance(0.1) ? 0 : g.int(1, 5);
    parts.push(enc(`*${n}\r\n`));
    for (let i = 0; i < n; i++) genValue(g, depth + 1, parts);
  } else if (r < 0.45) {
    const len = g.bulkLen();
    parts.push(enc(`$${len}\r\n`), g.bytes(len), enc('\r\n'));
  } else if (r < 0.55) {
    parts.push(enc(`:${g.int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)}\r\n`));
  } else if (r < 0.62) {
    parts.push(enc(`:${g.int(-1000, 1000)}\r\n`));
  } else if (r < 0.75) {
    parts.push(enc(`+${g.text(g.int(0, 20))}\r\n`));
  } else if (r < 0.85) {
    parts.push(enc(`-${g.pick(['ERR', 'WRONGTYPE', 'MOVED'])} ${g.text(g.int(0, 30))}\r\n`));
  } else if (r < 0.92) {
    parts.push(enc('$-1\r\n'));
  } else {
    parts.push(enc('*-1\r\n'));
  }
}

function genReplies(g: Gen): Buffer {
  g.newStream();
  const parts: Buffer[] = [];
  const n = g.int(1, 10);
  for (let i = 0; i < n; i++) genValue(g, 0, parts);
  return Buffer.concat(parts);
}

/** One comparable shape for redis-parser's values and decodeReply's. */
function canonical(v: unknown): unknown {
  if (v === null) return null;
  if (Buffer.isBuffer(v)) return 'b:' + v.toString('hex');
  if (typeof v === 'string') return 'b:' + Buffer.from(v, 'latin1').toString('hex');
  if (typeof v === 'number' || typeof v === 'bigint') return 'i:' + String(v);
  if (v instanceof ReplyErrorValue) return 'e:' + Buffer.from(v.message, 'latin1').toString('utf8');
  if (v instanceof Error) return 'e:' + v.message;
  if (Array.isArray(v)) return v.map(canonical);
  throw new Error(`unexpected value ${String(v)}`);
}

describe('fuzz: reply scanner vs redis-parser', () => {
  it(`agrees on ${CASES} random reply streams, whatever the chunking (seed ${SEED})`, () => {
    const g = new Gen(SEED + 2);
    for (let n = 0; n < CASES; n++) {
      const stream = genReplies(g);
      const chunks = g.chunks(stream);
      const where = `seed ${SEED + 2} case ${n} (${chunks.length} chunks)`;
      const expected = oracle(stream).map(canonical);
      const { frames, error, notViews } = runScanner(new ReplyScanner(), chunks, (f: Buffer) => f);
      assert.equal(error, null, where);
      assert.equal(frames.length, expected.length, where);
      for (let i = 0; i < frames.length; i++) {
        // Each frame alone is exactly one reply for the oracle...
        const alone = oracle(frames[i]);
        assert.equal(alone.length, 1, `${where} frame ${i}`);
        assert.deepEqual(canonical(alone[0]), expected[i], `${where} frame ${i}`);
        // ...and our decoder reads the same value.
        const mine: ReplyValue = decodeReply(frames[i]);
        assert.deepEqual(canonical(mine), expected[i], `${where} frame ${i} decoded`);
        const els = arrayElements(frames[i]);
        const exp = expected[i];
        if (Array.isArray(exp)) {
          assert.ok(els !== null, `${where} frame ${i} elements`);
          assert.deepEqual(els.map((e) => canonical(decodeReply(e))), exp, `${where} frame ${i} elements`);
        } else {
          assert.equal(els, null, `${where} frame ${i} not an array`);
        }
      }
      assert.ok(Buffer.concat(frames).equals(stream), `${where}: frames must tile the stream`);
      assert.equal(notViews, 0, `${where}: a frame inside one chunk was copied`);
    }
  });

  it(`yields the same frames and error for mutated streams under any chunking (seed ${SEED})`, () => {
    const g = new Gen(SEED + 3);
    for (let n = 0; n < CASES; n++) {
      const stream = mutate(g, genReplies(g));
      const where = `seed ${SEED + 3} case ${n}`;
      const run = (chunks: Buffer[]) => {
        const r = runScanner(new ReplyScanner(), chunks, (f: Buffer) => f);
        return { frames: r.frames.map((f) => f.toString('hex')), error: r.error };
      };
      const whole = run([stream]);
      assert.deepEqual(run(g.chunks(stream)), whole, where);
      // Whatever was framed before the error is a prefix of the stream.
      const framed = Buffer.from(whole.frames.join(''), 'hex');
      assert.ok(stream.subarray(0, framed.length).equals(framed), where);
    }
  });
});

/** A few random byte edits: replace, insert, delete. */
function mutate(g: Gen, stream: Buffer): Buffer {
  let s = stream;
  const edits = g.int(1, 3);
  for (let e = 0; e < edits; e++) {
    const at = g.int(0, Math.max(0, s.length - 1));
    const b = g.bytes(1);
    const kind = g.int(0, 2);
    if (kind === 0 && s.length > 0) {
      s = Buffer.from(s);
      s[at] = b[0];
    } else if (kind === 1) s = Buffer.concat([s.subarray(0, at), b, s.subarray(at)]);
    else s = Buffer.concat([s.subarray(0, at), s.subarray(at + 1)]);
  }
  return s;
}
