/**
 * RESP encoders for replies the proxy writes itself, and for commands it re-encodes
 * (split MGET/MSET/DEL, control-plane commands).
 *
 * Strings are binary strings: each char is one byte (latin1), the inverse of `argString()`.
 * That keeps a key or an argument byte-exact when it goes through a string and back; pass a
 * Buffer for UTF-8 text (chars above U+00FF would be truncated to their low byte).
 *
 * Every encoder allocates exactly once; Buffer.allocUnsafe draws small sizes from Node's
 * shared pool, so a typical reply costs no more than a slice.
 */

const CR = 13;
const LF = 10;

/** Constant replies. Shared by every client: never write into them. */
export const OK = Buffer.from('+OK\r\n', 'latin1');
export const PONG = Buffer.from('+PONG\r\n', 'latin1');
export const QUEUED = Buffer.from('+QUEUED\r\n', 'latin1');
export const NULL_BULK = Buffer.from('$-1\r\n', 'latin1');
export const NULL_ARRAY = Buffer.from('*-1\r\n', 'latin1');
export const EMPTY_BULK = Buffer.from('$0\r\n\r\n', 'latin1');
export const EMPTY_ARRAY = Buffer.from('*0\r\n', 'latin1');
export const ZERO = Buffer.from(':0\r\n', 'latin1');
export const ONE = Buffer.from(':1\r\n', 'latin1');
export const CRLF = Buffer.from('\r\n', 'latin1');

/** Number of decimal digits of a non-negative integer. */
export function decimalLength(n: number): number {
  let len = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    len++;
  }
  return len;
}

/**
 * Writes a non-negative integer in decimal at `pos`; returns the position after it.
 * Digit by digit, to avoid building a string for every length header.
 */
export function writeDecimal(buf: Buffer, pos: number, n: number): number {
  const stop = pos + decimalLength(n);
  let i = stop;
  do {
    buf[--i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return stop;
}

/** `<prefix><n>\r\n` for a length/count header (n >= 0). */
function header(prefix: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(decimalLength(n) + 3);
  out[0] = prefix;
  const p = writeDecimal(out, 1, n);
  out[p] = CR;
  out[p + 1] = LF;
  return out;
}

/**
 * Redis's own sanitizing of status and error text (addReplyErrorFormat): CR/LF at either
 * end are dropped, CR/LF inside become spaces, so the text cannot break the framing.
 */
function sanitizeLine(s: string): string {
  if (s.indexOf('\r') < 0 && s.indexOf('\n') < 0) return s;
  return s.replace(/^[\r\n]+|[\r\n]+$/g, '').replace(/[\r\n]/g, ' ');
}

function line(prefix: string, text: string): Buffer {
  const s = sanitizeLine(text);
  const out = Buffer.allocUnsafe(s.length + 3);
  out[0] = prefix.charCodeAt(0);
  out.write(s, 1, 'latin1');
  out[s.length + 1] = CR;
  out[s.length + 2] = LF;
  return out;
}

/** `+text\r\n` (CR/LF in text are neutralized as Redis does). */
export function encodeSimple(text: string): Buffer {
  return line('+', text);
}

/**
 * `-msg\r\n`. `msg` comes without the leading '-' and starts with the error code:
 * encodeError('ERR unknown command') — a leading '-' is tolerated, not doubled.
 * CR/LF are neutralized as Redis does (trimmed at the ends, spaces inside).
 */
export function encodeError(msg: string): Buffer {
  return line('-', msg.charCodeAt(0) === 45 ? msg.slice(1) : msg);
}

/** `:n\r\n`. `n` must be an integer (a non-integer number is a programming error: RangeError). */
export function encodeInteger(n: number | bigint): Buffer {
  if (typeof n === 'number') {
    if (!Number.isInteger(n)) throw new RangeError(`encodeInteger: not an integer: ${n}`);
    if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) return header(58, n);
  }
  // Negative or huge: rare, a string is fine. BigInt() avoids "1e+21" notation.
  const s = typeof n === 'bigint' || Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
  return line(':', s);
}

/** `$len\r\n<bytes>\r\n`, or the null bulk for null. */
export function encodeBulk(b: Buffer | string | null): Buffer {
  if (b === null) return NULL_BULK;
  const len = b.length; // latin1: one byte per char
  const hlen = decimalLength(len) + 3;
  const out = Buffer.allocUnsafe(hlen + len + 2);
  out[0] = 36; // '$'
  let p = writeDecimal(out, 1, len);
  out[p++] = CR;
  out[p++] = LF;
  if (typeof b === 'string') out.write(b, p, 'latin1');
  else b.copy(out, p);
  p += len;
  out[p] = CR;
  out[p + 1] = LF;
  return out;
}

/** `*n\r\n`: the header of an array whose n elements are written separately. */
export function encodeArrayHeader(n: number): Buffer {
  return n === 0 ? EMPTY_ARRAY : header(42, n);
}

/** An array of already-encoded elements, in one Buffer. */
export function encodeArray(parts: readonly Buffer[]): Buffer {
  return aggregate(42 /* '*' */, parts.length, parts);
}

/**
 * A command as a RESP array of bulk strings, in one allocation (the total length is
 * computed first). Strings are written as latin1, see the module comment.
 */
export function encodeCommand(args: readonly (Buffer | string)[]): Buffer {
  const argc = args.length;
  let total = decimalLength(argc) + 3;
  for (let i = 0; i < argc; i++) {
    const len = args[i].length;
    total += decimalLength(len) + len + 5;
  }
  const out = Buffer.allocUnsafe(total);
  out[0] = 42; // '*'
  let p = writeDecimal(out, 1, argc);
  out[p++] = CR;
  out[p++] = LF;
  for (let i = 0; i < argc; i++) {
    const a = args[i];
    out[p++] = 36; // '$'
    p = writeDecimal(out, p, a.length);
    out[p++] = CR;
    out[p++] = LF;
    if (typeof a === 'string') p += out.write(a, p, 'latin1');
    else p += a.copy(out, p);
    out[p++] = CR;
    out[p++] = LF;
  }
  return out;
}

// --- RESP3 -------------------------------------------------------------------------------
//
// A client that sent `HELLO 3` gets RESP3 replies; every other client RESP2. Each encoder
// below writes the RESP3 type for protocol 3 and, for protocol 2, what redis-server 7.0
// writes for the same reply to a RESP2 client (a map as a flat array, a double as a bulk
// string, true as :1, a null as $-1 or *-1 ...).

/** The protocol a client speaks: RESP2 (the default) or RESP3 (after HELLO 3). */
export type Protocol = 2 | 3;

/** RESP3's null (`_`): a RESP3 client's null bulk string and null array alike. */
export const NULL_RESP3 = Buffer.from('_\r\n', 'latin1');
export const TRUE_RESP3 = Buffer.from('#t\r\n', 'latin1');
export const FALSE_RESP3 = Buffer.from('#f\r\n', 'latin1');

/** A missing value (GET of no key, CLIENT GETNAME without a name): `$-1` or `_`. */
export function encodeNull(proto: Protocol): Buffer {
  return proto === 3 ? NULL_RESP3 : NULL_BULK;
}

/** A missing aggregate (BLPOP timing out): `*-1` or `_`. */
export function encodeNullArray(proto: Protocol): Buffer {
  return proto === 3 ? NULL_RESP3 : NULL_ARRAY;
}

/** An aggregate of already-encoded elements under a header of the given type byte, in one Buffer. */
function aggregate(type: number, count: number, parts: readonly Buffer[]): Buffer {
  let total = decimalLength(count) + 3;
  for (let i = 0; i < parts.length; i++) total += parts[i].length;
  const out = Buffer.allocUnsafe(total);
  out[0] = type;
  let p = writeDecimal(out, 1, count);
  out[p++] = CR;
  out[p++] = LF;
  for (let i = 0; i < parts.length; i++) p += parts[i].copy(out, p);
  return out;
}

/**
 * A map from already-encoded keys and values, given flat (k1, v1, k2, v2 ...): `%n` in
 * RESP3, a flat array of 2n elements in RESP2.
 */
export function encodeMap(pairs: readonly Buffer[], proto: Protocol): Buffer {
  if (pairs.length % 2 !== 0) throw new RangeError(`encodeMap: odd number of elements (${pairs.length})`);
  return proto === 3 ? aggregate(0x25 /* '%' */, pairs.length / 2, pairs) : encodeArray(pairs);
}

/** A set of already-encoded members: `~n` in RESP3, an array in RESP2. */
export function encodeSet(members: readonly Buffer[], proto: Protocol): Buffer {
  return proto === 3 ? aggregate(0x7e /* '~' */, members.length, members) : encodeArray(members);
}

/** A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2. */
export function encodeBool(value: boolean, proto: Protocol): Buffer {
  if (proto === 3) return value ? TRUE_RESP3 : FALSE_RESP3;
  return value ? ONE : ZERO;
}

/**
 * A double as redis-server 7.0 writes it (addReplyDouble: printf's %.17g, `inf`/`-inf`):
 * `,<d>` in RESP3, a bulk string in RESP2.
 */
export function encodeDouble(n: number, proto: Protocol): Buffer {
  const text = formatDouble(n);
  return proto === 3 ? line(',', text) : encodeBulk(text);
}

/** printf's `%.17g` of a double, Redis's spelling for the infinities and NaN. */
export function formatDouble(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const [mantissa, expText] = n.toExponential(16).split('e');
  const exp = Number(expText);
  // %g: exponent notation below 1e-4 and from 1e17 (the precision) on, trailing zeros dropped.
  if (exp < -4 || exp >= 17) {
    const abs = Math.abs(exp);
    return `${trimZeros(mantissa)}e${exp < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
  }
  return trimZeros(n.toFixed(16 - exp));
}

function trimZeros(s: string): string {
  if (s.indexOf('.') < 0) return s;
  return s.replace(/0+$/, '').replace(/\.$/, '');
}

/** A big number (`(`) in RESP3; a bulk string of its digits in RESP2. */
export function encodeBigNumber(n: bigint, proto: Protocol): Buffer {
  return proto === 3 ? line('(', n.toString()) : encodeBulk(n.toString());
}

/**
 * Text a human reads (INFO, CLIENT LIST, CLUSTER NODES): a verbatim string
 * `=<len>\r\ntxt:<text>\r\n` in RESP3, a bulk string in RESP2. `format` is three letters
 * ('txt' or 'mkd').
 */
export function encodeVerbatim(text: Buffer | string, proto: Protocol, format = 'txt'): Buffer {
  if (proto === 2) return encodeBulk(text);
  if (format.length !== 3) throw new RangeError(`encodeVerbatim: format must be 3 characters: '${format}'`);
  const len = text.length + 4;
  const out = Buffer.allocUnsafe(decimalLength(len) + 3 + len + 2);
  out[0] = 0x3d; // '='
  let p = writeDecimal(out, 1, len);
  out[p++] = CR;
  out[p++] = LF;
  p += out.write(format, p, 'latin1');
  out[p++] = 0x3a; // ':'
  if (typeof text === 'string') p += out.write(text, p, 'latin1');
  else p += text.copy(out, p);
  out[p] = CR;
  out[p + 1] = LF;
  return out;
}
