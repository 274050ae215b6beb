/**
 * Backend reply framing: finds where each complete reply ends and hands out its exact
 * bytes, to be relayed as is. RESP2 and RESP3 (Redis sends RESP3 after HELLO 3).
 *
 * Nesting needs no stack: framing one top-level reply only takes the number of values
 * still owed. It starts at 1; a scalar pays one; an aggregate pays one and owes its
 * children (N for arrays, sets and pushes, 2N for maps); an attribute `|N` owes its 2N
 * map entries and leaves the slot it precedes open, so attribute + value frame as one.
 *
 * Input comes from a Redis node, so validation is about framing only: a known type byte,
 * well-formed lengths, CRLF where the length says. Line contents (`:abc`) are not checked
 * here; decodeReply() does. Streamed RESP3 strings/aggregates (`$?`) are not supported:
 * Redis never sends them.
 */
import { ProtocolError } from './frame.js';
import { ScannerBase, parseDecimal } from './scanner-base.js';
import { constants } from 'node:buffer';
import { OK } from './encode.js';

const CR = 13;
const LF = 10;

/** Largest blob or frame a Buffer can hold. */
const MAX_BLOB = constants.MAX_LENGTH;
/** Largest aggregate count accepted (Redis collections hold at most 2^32 - 1 items). */
const MAX_COUNT = 0xffffffff;

// What a type byte announces.
const T_INVALID = 0;
const T_LINE = 1; // + - : _ , # (
const T_BLOB = 2; // $ ! =
const T_AGG = 3; // * ~ >
const T_MAP = 4; // %
const T_ATTR = 5; // |

const KIND = new Uint8Array(256);
for (const c of '+-:_,#(') KIND[c.charCodeAt(0)] = T_LINE;
for (const c of '$!=') KIND[c.charCodeAt(0)] = T_BLOB;
for (const c of '*~>') KIND[c.charCodeAt(0)] = T_AGG;
KIND['%'.charCodeAt(0)] = T_MAP;
KIND['|'.charCodeAt(0)] = T_ATTR;

const PLUS = 43;
const DOLLAR = 36;
const STAR = 42;

// Scanner states.
const VALUE = 0; // at a type byte
const LINE = 1; // reading the line after it, up to CRLF
const DATA = 2; // skipping a blob payload and its CRLF

export class ReplyScanner extends ScannerBase<Buffer> {
  private state = VALUE;
  /** Values the frame in progress still owes (0: between frames). */
  private owed = 0;
  /** Type byte of the current line, and the line's frame offset. */
  private type = 0;
  private lineStart = 0;
  /** Frame offset of the current line's '\r' once found (-1: not yet). */
  private crAt = -1;
  /** Frame offset just past the current blob's CRLF. */
  private need = 0;

  protected step(): Buffer | ProtocolError | null {
    const buf = this.buf;
    const end = buf.length;
    for (;;) {
      switch (this.state) {
        case VALUE: {
          const pos = this.pos;
          if (pos >= end) return null;
          if (this.owed === 0) {
            this.beginFrame();
            this.owed = 1;
          }
          const type = buf[pos];
          if (KIND[type] === T_INVALID) return this.fail(`Protocol error: invalid reply type byte ${describe(type)}`);
          this.type = type;
          this.lineStart = this.base + pos;
          this.pos = pos + 1;
          this.state = LINE;
          break;
        }

        case LINE: {
          let cr = this.crAt;
          if (cr < 0) {
            let i = this.pos;
            while (i < end && buf[i] !== CR) i++;
            if (i === end) {
              this.pos = end;
              return null;
            }
            cr = this.base + i;
            this.crAt = cr;
          }
          // The LF may be in the next chunk; it is always in buf (cr + 1 >= base).
          const lf = cr + 1 - this.base;
          if (lf >= end) {
            this.pos = end;
            return null;
          }
          if (buf[lf] !== LF) return this.fail('Protocol error: line not terminated by CRLF');
          this.pos = lf + 1;
          this.crAt = -1;
          const r = this.endOfLine(cr);
          if (r !== null) return r;
          break;
        }

        case DATA: {
          const need = this.need;
          const base = this.base;
          // The payload is only counted, never read: a chunk it covers costs O(1).
          if (need > base + end) {
            this.pos = end;
            return null;
          }
          const c1 = need - 2 >= base ? buf[need - 2 - base] : this.byteAt(need - 2);
          if (c1 !== CR || buf[need - 1 - base] !== LF) return this.fail('Protocol error: bulk not terminated by CRLF');
          this.pos = need - base;
          this.state = VALUE;
          if (--this.owed === 0) return this.endFrame(need);
          break;
        }

        default:
          return null;
      }
    }
  }

  /** The line [lineStart, cr) is complete and followed by LF; pos is past it. */
  private endOfLine(cr: number): Buffer | ProtocolError | null {
    const type = this.type;
    switch (KIND[type]) {
      case T_LINE:
        break;
      case T_BLOB: {
        const n = this.lineNumber(cr);
        if (n === -1 && type === DOLLAR) break; // RESP2 null bulk
        if (!(n >= 0 && n <= MAX_BLOB)) return this.fail('Protocol error: invalid bulk length');
        this.need = cr + 2 + n + 2;
        if (this.need > MAX_BLOB) return this.fail('Protocol error: invalid bulk length');
        this.state = DATA;
        return null;
      }
      default: {
        const n = this.lineNumber(cr);
        if (n === -1 && type === STAR) break; // RESP2 null array
        if (!(n >= 0 && n <= MAX_COUNT)) return this.fail('Protocol error: invalid multibulk length');
        const kind = KIND[type];
        // The aggregate fills the slot it is in (except an attribute, which precedes the
        // value that does) and owes its children.
        this.owed += kind === T_AGG ? n - 1 : kind === T_MAP ? 2 * n - 1 : 2 * n;
        this.state = VALUE;
        return this.owed === 0 ? this.endFrame(cr + 2) : null;
      }
    }
    this.state = VALUE;
    if (--this.owed !== 0) return null;
    // `+OK`, the commonest reply (SET, each part of a split MSET): the shared constant.
    const base = this.base;
    if (type === PLUS && cr === 3 && base <= 0 && this.buf[1 - base] === 0x4f && this.buf[2 - base] === 0x4b) return this.endFrameAs(5, OK);
    return this.endFrame(cr + 2);
  }

  private lineNumber(cr: number): number {
    const from = this.lineStart + 1;
    const base = this.base;
    if (from >= base) return parseDecimal(this.buf, from - base, cr - base);
    return parseDecimal(this.range(from, cr), 0, cr - from);
  }
}

function describe(c: number): string {
  return c >= 0x21 && c <= 0x7e ? `'${String.fromCharCode(c)}'` : `0x${c.toString(16).padStart(2, '0')}`;
}
