/**
 * Client request framing, byte-compatible with redis-server 7.0 (processMultibulkBuffer /
 * processInlineBuffer in networking.c): what Redis accepts is accepted, what it rejects is
 * rejected with its words, so the proxy never sees a different command than the Redis
 * node it forwards the same bytes to.
 *
 * Redis's quirks, kept on purpose:
 * - a header line ends at the first '\r'; the byte after it is skipped unchecked, and so
 *   are the two bytes after a bulk payload (`*1\r\n$4\r\nPINGxx` is a PING);
 * - Redis finds line ends with strchr, so a NUL byte before the '\r' (multibulk) or '\n'
 *   (inline) hides it: the request never completes and fails once more than 64 KB have
 *   piled up;
 * - `*0`, `*-5` and empty inline lines are requests with no arguments (ignored).
 * One deliberate difference: the 64 KB line limits are applied to the line length itself,
 * so the outcome does not depend on how the stream was cut into reads (Redis checks
 * whatever its read buffer holds when a read completes).
 */
import { ProtocolError, type RequestFrame } from './frame.js';
import { decimalLength, writeDecimal } from './encode.js';
import { ScannerBase, parseDecimal } from './scanner-base.js';

const CR = 13;
const LF = 10;
const NUL = 0;
const STAR = 42;
const DOLLAR = 36;

/** PROTO_INLINE_MAX_SIZE: longest header or inline line. */
const MAX_LINE = 64 * 1024;
/** Redis rejects multibulk counts above INT_MAX. */
const INT_MAX = 2147483647;
/** Limits for clients that have not authenticated yet (Redis's fix for CVE-2021-32675). */
const UNAUTH_MAX_ARGC = 10;
const UNAUTH_MAX_BULK_LEN = 16384;
/** Argument slots allocated up front; Redis does the same (min(count, 1024)) so that a
 * bogus `*2000000000` costs nothing until the arguments actually arrive. */
const ARGV_PREALLOC = 1024;

/** proto-max-bulk-len default. */
export const DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024;
/** client-query-buffer-limit default: the largest request accepted. */
export const DEFAULT_MAX_REQUEST_LEN = 1024 * 1024 * 1024;

const ERR_MBULK_LEN = 'Protocol error: invalid multibulk length';
const ERR_BULK_LEN = 'Protocol error: invalid bulk length';
const ERR_MBULK_BIG = 'Protocol error: too big mbulk count string';
const ERR_BULK_BIG = 'Protocol error: too big bulk count string';
const ERR_INLINE_BIG = 'Protocol error: too big inline request';
const ERR_QUOTES = 'Protocol error: unbalanced quotes in request';
const ERR_MBULK_UNAUTH = 'Protocol error: unauthenticated multibulk length';
const ERR_BULK_UNAUTH = 'Protocol error: unauthenticated bulk length';
/** Not a Redis message: Redis drops such a client silently (client-query-buffer-limit). */
const ERR_TOO_LARGE = 'Protocol error: request exceeds the query buffer limit';

// Scanner states.
const START = 0; // between requests
const MBULK_LINE = 1; // reading `*<count>\r`
const BULK_LINE = 2; // reading `$<len>\r`
const BULK_DATA = 3; // skipping a payload and its 2 trailing bytes
const INLINE = 4; // reading an inline line up to '\n'
const STALLED = 5; // a NUL hid the line end: only count bytes until the line limit

export interface RequestScannerOptions {
  /** proto-max-bulk-len: longest accepted argument. Default 512 MB. */
  maxBulkLen?: number;
  /**
   * Longest accepted request, all arguments included (client-query-buffer-limit).
   * Default 1 GB; capped at 2^31-1 because argument offsets are Int32.
   */
  maxRequestLen?: number;
  /** Initial value of RequestScanner.authRequired. Default false. */
  authRequired?: boolean;
}

export class RequestScanner extends ScannerBase<RequestFrame> {
  private readonly maxBulkLen: number;
  private readonly maxRequestLen: number;

  /**
   * While true, requests get Redis's pre-AUTH limits: at most 10 arguments of at most
   * 16 KB each (a client that must still authenticate cannot make the proxy buffer much).
   * The session sets it while a password is required and clears it when AUTH succeeds,
   * before asking for the next frame, so pipelined requests after the AUTH are judged as
   * Redis would judge them.
   */
  authRequired: boolean;

  private state = START;
  /** Frame offset of the header/inline line being read. */
  private lineStart = 0;
  /** Frame offset of that line's '\r' once found (-1: not yet). */
  private crAt = -1;
  /**
   * Declared argument count, arguments complete so far, and their offsets: a plain array
   * of small integers, which V8 makes far faster than an Int32Array for the few entries
   * of most requests (no typed-array object per request).
   */
  private argc = 0;
  private argi = 0;
  private offsets: number[] = EMPTY_OFFSETS;
  /** Frame offset just past the current payload's 2 trailing bytes. */
  private need = 0;
  /** STALLED: bytes seen since lineStart, and the error to give past MAX_LINE. */
  private stalledLen = 0;
  private stalledError = '';

  constructor(opts: RequestScannerOptions = {}) {
    super();
    this.maxBulkLen = opts.maxBulkLen ?? DEFAULT_MAX_BULK_LEN;
    this.maxRequestLen = Math.min(opts.maxRequestLen ?? DEFAULT_MAX_REQUEST_LEN, INT_MAX);
    this.authRequired = opts.authRequired ?? false;
  }

  protected step(): RequestFrame | ProtocolError | null {
    const buf = this.buf;
    const end = buf.length;
    for (;;) {
      switch (this.state) {
        case START: {
          if (this.pos >= end) return null;
          this.beginFrame();
          this.lineStart = 0;
          this.crAt = -1;
          this.state = buf[this.pos] === STAR ? MBULK_LINE : INLINE;
          break;
        }

        case MBULK_LINE: {
          const cr = this.headerLine(ERR_MBULK_BIG);
          if (cr < 0) return cr === NEED_MORE ? null : this.stoppedResult();
          const n = this.lineNumber(cr);
          if (!(n <= INT_MAX)) return this.fail(ERR_MBULK_LEN); // NaN fails too
          if (n > UNAUTH_MAX_ARGC && this.authRequired) return this.fail(ERR_MBULK_UNAUTH);
          if (n <= 0) {
            this.state = START;
            return this.frame(this.endFrame(cr + 2), 0, EMPTY_OFFSETS);
          }
          this.argc = n;
          this.argi = 0;
          this.offsets = new Array<number>(2 * (n < ARGV_PREALLOC ? n : ARGV_PREALLOC));
          this.nextLine(cr + 2, BULK_LINE);
          this.pos = cr + 2 - this.base;
          break;
        }

        case BULK_LINE: {
          const cr = this.headerLine(ERR_BULK_BIG);
          if (cr < 0) return cr === NEED_MORE ? null : this.stoppedResult();
          const lineStart = this.lineStart;
          const first = lineStart >= this.base ? buf[lineStart - this.base] : this.byteAt(lineStart);
          if (first !== DOLLAR) return this.fail(expectedDollar(first));
          const n = this.lineNumber(cr);
          if (!(n >= 0 && n <= this.maxBulkLen)) return this.fail(ERR_BULK_LEN);
          if (n > UNAUTH_MAX_BULK_LEN && this.authRequired) return this.fail(ERR_BULK_UNAUTH);
          const start = cr + 2;
          this.need = start + n + 2;
          if (this.need > this.maxRequestLen) return this.fail(ERR_TOO_LARGE);
          // Past the preallocated length the array grows by itself.
          this.offsets[2 * this.argi] = start;
          this.pos = start - this.base;
          this.state = BULK_DATA;
          break;
        }

        case BULK_DATA: {
          const need = this.need;
          // The payload is only counted, never read: a chunk it covers costs O(1).
          if (need > this.base + end) {
            this.pos = end;
            return null;
          }
          this.offsets[2 * this.argi + 1] = need - 2;
          if (++this.argi === this.argc) {
            const raw = this.endFrame(need);
            const offsets = this.offsets;
            this.offsets = EMPTY_OFFSETS;
            this.state = START;
            return this.frame(raw, this.argc, offsets);
          }
          this.nextLine(need, BULK_LINE);
          this.pos = need - this.base;
          break;
        }

        case INLINE:
          return this.inlineLine();

        case STALLED:
          this.stalledLen += end - this.pos;
          this.pos = end;
          return this.stalledLen > MAX_LINE ? this.fail(this.stalledError) : null;

        default:
          return null;
      }
    }
  }

  private frame(raw: Buffer, argc: number, offsets: number[]): RequestFrame {
    return { raw, argc, offsets, inline: false };
  }

  private nextLine(lineStart: number, state: number): void {
    this.lineStart = lineStart;
    this.crAt = -1;
    this.state = state;
  }

  /**
   * Finds the '\r' ending the header line at lineStart and waits for the one byte Redis
   * skips after it. Returns its frame offset, NEED_MORE (chunk consumed), or STOPPED (the
   * scanner failed or stalled; see stoppedResult).
   */
  private headerLine(tooBig: string): number {
    const buf = this.buf;
    const end = buf.length;
    const base = this.base;
    let cr = this.crAt;
    if (cr < 0) {
      let i = this.pos;
      for (; i < end; i++) {
        const c = buf[i];
        if (c === CR || c === NUL) break;
      }
      if (i === end) {
        this.pos = end;
        if (base + end - this.lineStart > MAX_LINE) {
          this.fail(tooBig);
          return STOPPED;
        }
        return NEED_MORE;
      }
      if (buf[i] === NUL) {
        this.stall(tooBig);
        return STOPPED;
      }
      cr = base + i;
      if (cr - this.lineStart > MAX_LINE) {
        this.fail(tooBig);
        return STOPPED;
      }
      this.crAt = cr;
    }
    if (cr + 1 >= base + end) {
      this.pos = end;
      return NEED_MORE;
    }
    return cr;
  }

  /** The number after the type byte of the header line ending at `cr`. */
  private lineNumber(cr: number): number {
    const from = this.lineStart + 1;
    const base = this.base;
    if (from >= base) return parseDecimal(this.buf, from - base, cr - base);
    return parseDecimal(this.range(from, cr), 0, cr - from);
  }

  /** Redis cannot see past a NUL in a line: wait, counting, until the line limit. */
  private stall(error: string): void {
    this.stalledLen = this.base + this.buf.length - this.lineStart;
    this.stalledError = error;
    this.pos = this.buf.length;
    this.dropFrame();
    this.state = STALLED;
  }

  /** After STOPPED: the error just raised, or (stalled) the line limit checked right away. */
  private stoppedResult(): ProtocolError | null {
    if (this.error !== null) return this.error;
    return this.stalledLen > MAX_LINE ? this.fail(this.stalledError) : null;
  }

  /** An inline line, up to '\n' (a '\r' before it is dropped), split as redis-server does. */
  private inlineLine(): RequestFrame | ProtocolError | null {
    const buf = this.buf;
    const end = buf.length;
    const base = this.base;
    let i = this.pos;
    for (; i < end; i++) {
      const c = buf[i];
      if (c === LF || c === NUL) break;
    }
    if (i === end) {
      this.pos = end;
      return base + end - this.lineStart > MAX_LINE ? this.fail(ERR_INLINE_BIG) : null;
    }
    if (buf[i] === NUL) {
      this.stall(ERR_INLINE_BIG);
      return this.stoppedResult();
    }
    const lf = base + i;
    if (lf - this.lineStart > MAX_LINE) return this.fail(ERR_INLINE_BIG);
    let line = this.range(this.lineStart, lf);
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    this.dropFrame();
    this.pos = i + 1;
    this.state = START;
    return splitInline(line) ?? this.fail(ERR_QUOTES);
  }
}

const NEED_MORE = -1;
const STOPPED = -2;
/** Never written: frames of no arguments share it. */
const EMPTY_OFFSETS: number[] = [];
const EMPTY_REQUEST_RAW = Buffer.from('*0\r\n', 'latin1');

/** Redis formats the byte with %c and then turns CR/LF into spaces. */
function expectedDollar(c: number): string {
  const ch = c === CR || c === LF ? ' ' : String.fromCharCode(c);
  return `Protocol error: expected '$', got '${ch}'`;
}

/** isspace() in the C locale. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Splits an inline line like sdssplitargs and encodes the arguments as a RESP array,
 * or returns null for unbalanced quotes. The line holds no NUL (the caller stalls on
 * one), so NUL here stands for "end of line", as in the C string Redis scans.
 */
export function splitInline(line: Buffer): RequestFrame | null {
  const n = line.length;
  // Unescaped arguments, back to back: never longer than the line itself.
  const out = Buffer.allocUnsafe(n);
  const bounds: number[] = [];
  let o = 0;
  let p = 0;
  const at = (k: number): number => (k < n ? line[k] : NUL);
  for (;;) {
    while (p < n && isSpace(line[p])) p++;
    if (p >= n) break;
    const argStart = o;
    let inDq = false;
    let inSq = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inDq) {
        if (c === 92 && at(p + 1) === 120 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0) {
          out[o++] = hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)); // \xHH
          p += 3;
        } else if (c === 92 && at(p + 1) !== NUL) {
          p++;
          const e = line[p];
          out[o++] = e === 110 ? LF : e === 114 ? CR : e === 116 ? 9 : e === 98 ? 8 : e === 97 ? 7 : e;
        } else if (c === 34) {
          // A closing quote must be followed by a space or the end.
          const after = at(p + 1);
          if (after !== NUL && !isSpace(after)) return null;
          done = true;
        } else if (c === NUL) {
          return null;
        } else {
          out[o++] = c;
        }
      } else if (inSq) {
        if (c === 92 && at(p + 1) === 39) {
          p++;
          out[o++] = 39;
        } else if (c === 39) {
          const after = at(p + 1);
          if (after !== NUL && !isSpace(after)) return null;
          done = true;
        } else if (c === NUL) {
          return null;
        } else {
          out[o++] = c;
        }
      } else if (c === 32 || c === LF || c === CR || c === 9 || c === NUL) {
        done = true; // note: \v and \f do not end an unquoted argument, as in Redis
      } else if (c === 34) {
        inDq = true;
      } else if (c === 39) {
        inSq = true;
      } else {
        out[o++] = c;
      }
      if (p < n) p++;
    }
    bounds.push(argStart, o);
  }
  return encodeInline(out, bounds);
}

/** RESP array of the arguments out[bounds[2i], bounds[2i+1]), with their offsets. */
function encodeInline(out: Buffer, bounds: number[]): RequestFrame {
  const argc = bounds.length >> 1;
  if (argc === 0) return { raw: EMPTY_REQUEST_RAW, argc: 0, offsets: EMPTY_OFFSETS, inline: true };
  let total = decimalLength(argc) + 3;
  for (let k = 0; k < argc; k++) {
    const len = bounds[2 * k + 1] - bounds[2 * k];
    total += decimalLength(len) + len + 5;
  }
  const raw = Buffer.allocUnsafe(total);
  const offsets = new Array<number>(2 * argc);
  raw[0] = STAR;
  let p = writeDecimal(raw, 1, argc);
  raw[p++] = CR;
  raw[p++] = LF;
  for (let k = 0; k < argc; k++) {
    const s = bounds[2 * k];
    const e = bounds[2 * k + 1];
    raw[p++] = DOLLAR;
    p = writeDecimal(raw, p, e - s);
    raw[p++] = CR;
    raw[p++] = LF;
    offsets[2 * k] = p;
    p += out.copy(raw, p, s, e);
    offsets[2 * k + 1] = p;
    raw[p++] = CR;
    raw[p++] = LF;
  }
  return { raw, argc, offsets, inline: true };
}
