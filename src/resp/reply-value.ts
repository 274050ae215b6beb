/**
 * Decoding of replies for the proxy's own use (merging INFO, DBSIZE, SCAN, SCRIPT EXISTS,
 * CONFIG GET...). Relayed replies are never decoded: they stay raw bytes.
 *
 * RESP type        → ReplyValue
 *   + simple        string (latin1: byte-exact, like argString)
 *   - error, ! blob ReplyErrorValue
 *   : integer       number, or bigint outside ±2^53
 *   ( big number    bigint
 *   , double        number (inf, -inf, nan included) — not told apart from an integer
 *   # boolean       boolean
 *   $ bulk          Buffer: a view of the reply, no copy (copy it to keep it longer)
 *   = verbatim      Buffer of the text, its 3-letter format and ':' dropped
 *   $-1, *-1, _     null
 *   * array, ~ set, > push   ReplyValue[]
 *   % map           ReplyMapValue (entries in reply order; keys are rarely strings)
 *   | attribute     skipped: the value it decorates is returned
 *
 * Malformed input (not one well-formed reply) decodes to a ReplyErrorValue starting with
 * "ERR Protocol error", so a caller merging replies turns it into an error reply like any
 * backend error. Nesting is walked with an explicit stack, never recursion.
 */

const CR = 13;

/** An error reply; `message` is its text without the leading '-', e.g. "ERR no such key". */
export class ReplyErrorValue {
  constructor(readonly message: string) {}

  /** The error code: the first word ("ERR", "MOVED", "WRONGTYPE"...). */
  get code(): string {
    const sp = this.message.indexOf(' ');
    return sp < 0 ? this.message : this.message.slice(0, sp);
  }
}

/** A RESP3 map, as [key, value] pairs in reply order. */
export class ReplyMapValue {
  constructor(readonly entries: [ReplyValue, ReplyValue][]) {}

  /** The value of the first entry whose key is `key` (a simple or bulk string). */
  get(key: string): ReplyValue | undefined {
    for (const [k, v] of this.entries) {
      if (k === key || (Buffer.isBuffer(k) && k.length === key.length && k.toString('latin1') === key)) return v;
    }
    return undefined;
  }
}

export type ReplyValue =
  | null
  | string
  | number
  | bigint
  | boolean
  | Buffer
  | ReplyErrorValue
  | ReplyMapValue
  | ReplyValue[];

const MALFORMED = 'ERR Protocol error: malformed reply';

// Aggregates under construction.
const K_ARRAY = 0;
const K_MAP = 1;
const K_ATTR = 2;

interface Open {
  kind: number;
  items: ReplyValue[];
  left: number;
}

/** Decodes one complete reply (as produced by ReplyScanner). */
export function decodeReply(raw: Buffer): ReplyValue {
  const stack: Open[] = [];
  let pos = 0;
  for (;;) {
    if (pos >= raw.length) return new ReplyErrorValue(MALFORMED);
    const type = raw[pos];
    const cr = raw.indexOf(CR, pos + 1);
    if (cr < 0) return new ReplyErrorValue(MALFORMED);
    const lineEnd = cr + 2;
    let v: ReplyValue;
    let opened: Open | null = null;
    switch (type) {
      case 0x2b: // +
        v = raw.toString('latin1', pos + 1, cr);
        break;
      case 0x2d: // -
        v = new ReplyErrorValue(raw.toString('latin1', pos + 1, cr));
        break;
      case 0x3a: {
        // :
        const n = integer(raw, pos + 1, cr);
        if (n === null) return new ReplyErrorValue(MALFORMED);
        v = n;
        break;
      }
      case 0x28: {
        // (
        const n = integer(raw, pos + 1, cr);
        if (n === null) return new ReplyErrorValue(MALFORMED);
        v = BigInt(n);
        break;
      }
      case 0x2c: {
        // ,
        const n = double(raw.toString('latin1', pos + 1, cr));
        if (n === null) return new ReplyErrorValue(MALFORMED);
        v = n;
        break;
      }
      case 0x23: // #
        if (cr !== pos + 2 || (raw[pos + 1] !== 0x74 && raw[pos + 1] !== 0x66)) return new ReplyErrorValue(MALFORMED);
        v = raw[pos + 1] === 0x74;
        break;
      case 0x5f: // _
        v = null;
        break;
      case 0x24: // $
      case 0x21: // !
      case 0x3d: {
        // =
        const n = length(raw, pos + 1, cr);
        if (n === -1 && type === 0x24) {
          v = null;
          break;
        }
        if (n < 0 || lineEnd + n + 2 > raw.length) return new ReplyErrorValue(MALFORMED);
        const body = raw.subarray(lineEnd, lineEnd + n);
        if (type === 0x24) v = body;
        else if (type === 0x21) v = new ReplyErrorValue(body.toString('latin1'));
        else v = body.length >= 4 && body[3] === 0x3a ? body.subarray(4) : body;
        pos = lineEnd + n + 2;
        break;
      }
      case 0x2a: // *
      case 0x7e: // ~
      case 0x3e: // >
      case 0x25: // %
      case 0x7c: {
        // |
        const n = length(raw, pos + 1, cr);
        if (n === -1 && type === 0x2a) {
          v = null;
          break;
        }
        if (n < 0) return new ReplyErrorValue(MALFORMED);
        const kind = type === 0x25 ? K_MAP : type === 0x7c ? K_ATTR : K_ARRAY;
        const left = kind === K_ARRAY ? n : 2 * n;
        if (left > 0) {
          opened = { kind, items: [], left };
          v = null;
        } else if (kind === K_ATTR) {
          pos = lineEnd;
          continue; // `|0`: nothing to skip
        } else {
          v = kind === K_MAP ? new ReplyMapValue([]) : [];
        }
        break;
      }
      default:
        return new ReplyErrorValue(MALFORMED);
    }
    if (pos < lineEnd) pos = lineEnd;
    if (opened !== null) {
      stack.push(opened);
      continue;
    }
    // Hand the value to its parent; close every aggregate it completes.
    for (;;) {
      const top = stack.length > 0 ? stack[stack.length - 1] : null;
      if (top === null) return pos === raw.length ? v : new ReplyErrorValue(MALFORMED);
      if (top.kind !== K_ATTR) top.items.push(v);
      if (--top.left > 0) break;
      stack.pop();
      if (top.kind === K_ATTR) break; // the decorated value comes next, for the parent
      v = top.kind === K_MAP ? toMap(top.items) : top.items;
    }
  }
}

/** The bytes of a bulk string frame (`$3\r\nfoo\r\n` → foo), a view of `raw`: an element from arrayElements, say. */
export function bulkBody(raw: Buffer): Buffer {
  const cr = raw.indexOf(13);
  return raw.subarray(cr + 2, raw.length - 2);
}

/** A bulk string frame's bytes as latin1 text (a map key, a Pub/Sub frame's kind). */
export function bulkText(raw: Buffer): string {
  return bulkBody(raw).toString('latin1');
}

/** A one-line frame's text as latin1, without its type byte and CRLF ('+OK' → 'OK', '-ERR …' → 'ERR …'). */
export function lineText(raw: Buffer): string {
  return raw.toString('latin1', 1, raw.length - 2);
}

/**
 * Raw views of the top-level elements of an array (or set, or push) reply, e.g. to
 * reassemble a split MGET. null when the reply is not an aggregate of that kind
 * (an error, a null array...) or is malformed. An attribute before the array is skipped.
 */
export function arrayElements(raw: Buffer): Buffer[] | null {
  return elementsOf(raw, false);
}

/**
 * Raw views of the keys and values of a map reply, flat (k1, v1, k2, v2 ...): of a RESP3
 * map (`%`), or of the flat array a node sends a RESP2 client in its place (CONFIG GET,
 * HGETALL). null when it is neither, or is malformed.
 */
export function mapElements(raw: Buffer): Buffer[] | null {
  const elems = elementsOf(raw, true);
  return elems !== null && elems.length % 2 === 0 ? elems : null;
}

function elementsOf(raw: Buffer, mapToo: boolean): Buffer[] | null {
  let pos = 0;
  if (raw[0] === 0x7c) {
    pos = skipValue(raw, 0, true);
    if (pos < 0) return null;
  }
  const type = raw[pos];
  const isMap = type === 0x25;
  if (type !== 0x2a && type !== 0x7e && type !== 0x3e && !(mapToo && isMap)) return null;
  const cr = raw.indexOf(CR, pos + 1);
  if (cr < 0) return null;
  const count = length(raw, pos + 1, cr);
  if (count < 0) return null;
  const n = isMap ? 2 * count : count;
  const out: Buffer[] = new Array(n);
  pos = cr + 2;
  for (let i = 0; i < n; i++) {
    const end = skipValue(raw, pos, false);
    if (end < 0) return null;
    out[i] = raw.subarray(pos, end);
    pos = end;
  }
  return pos === raw.length ? out : null;
}

/**
 * End offset of the value starting at `pos`, or -1 if malformed. Counts owed values like
 * ReplyScanner. With `attributeOnly`, stops after the attribute at `pos` instead of
 * including the value it decorates.
 */
function skipValue(raw: Buffer, pos: number, attributeOnly: boolean): number {
  let owed = 1;
  while (owed > 0) {
    if (pos >= raw.length) return -1;
    const type = raw[pos];
    const cr = raw.indexOf(CR, pos + 1);
    if (cr < 0) return -1;
    const next = cr + 2;
    switch (type) {
      case 0x2b:
      case 0x2d:
      case 0x3a:
      case 0x28:
      case 0x2c:
      case 0x23:
      case 0x5f:
        owed--;
        pos = next;
        break;
      case 0x24:
      case 0x21:
      case 0x3d: {
        const n = length(raw, pos + 1, cr);
        if (n === -1 && type === 0x24) pos = next;
        else if (n < 0) return -1;
        else pos = next + n + 2;
        owed--;
        break;
      }
      case 0x2a:
      case 0x7e:
      case 0x3e:
      case 0x25:
      case 0x7c: {
        const n = length(raw, pos + 1, cr);
        if (n === -1 && type === 0x2a) owed--;
        else if (n < 0) return -1;
        else if (type === 0x7c) owed += attributeOnly ? 2 * n - 1 : 2 * n;
        else owed += (type === 0x25 ? 2 * n : n) - 1;
        attributeOnly = false;
        pos = next;
        break;
      }
      default:
        return -1;
    }
  }
  return pos <= raw.length ? pos : -1;
}

/** An aggregate length: >= 0, or -1 (null); -2 when malformed. */
function length(raw: Buffer, start: number, end: number): number {
  if (end - start === 2 && raw[start] === 0x2d && raw[start + 1] === 0x31) return -1;
  if (end <= start || end - start > 15) return -2;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = raw[i];
    if (c < 48 || c > 57) return -2;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** A RESP integer as number when exact, else bigint; null when malformed. */
function integer(raw: Buffer, start: number, end: number): number | bigint | null {
  const text = raw.toString('latin1', start, end);
  if (!/^[-+]?\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

function double(text: string): number | null {
  switch (text) {
    case 'inf':
    case '+inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    case 'nan':
    case '-nan':
      return NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return null;
  return Number(text);
}

function toMap(items: ReplyValue[]): ReplyMapValue {
  const entries: [ReplyValue, ReplyValue][] = new Array(items.length >> 1);
  for (let i = 0; i < entries.length; i++) entries[i] = [items[2 * i], items[2 * i + 1]];
  return new ReplyMapValue(entries);
}
