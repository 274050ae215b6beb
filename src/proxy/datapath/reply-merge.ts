/**
 * Merging the replies of several backends into one (a split MSET, a DBSIZE over every
 * master). Each merge takes the parts' raw reply frames, in part order.
 */
import { arrayElements } from '../../resp/reply-value.js';
import { encodeArray, encodeError, encodeInteger } from '../../resp/encode.js';
import { parseDecimal } from '../../resp/scanner-base.js';

const ERROR_BYTE = 0x2d; // '-'
const INTEGER_BYTE = 0x3a; // ':'

export const UNEXPECTED_REPLY = encodeError('ERR unexpected reply from a backend');

/** The first error reply among the parts: what the client gets if any part failed. */
export function firstError(parts: readonly Buffer[]): Buffer | undefined {
  for (const p of parts) if (p[0] === ERROR_BYTE) return p;
  return undefined;
}

/**
 * The value of an integer reply (`:<n>\r\n`), or NaN when it is not one: a reply is
 * whatever the backend sent, so it is checked, not trusted (Number('') would be 0,
 * Number('1e3') 1000).
 */
export function integerOf(reply: Buffer): number {
  const end = reply.length - 2;
  if (reply[0] !== INTEGER_BYTE || end < 2 || reply[end] !== 0x0d || reply[end + 1] !== 0x0a) return NaN;
  return parseDecimal(reply, 1, end);
}

/** The sum of integer replies (DEL, EXISTS, DBSIZE ...); a part that is not an integer makes it an error. */
export function sumIntegers(parts: readonly Buffer[]): Buffer {
  let sum = 0;
  for (const p of parts) {
    const n = integerOf(p);
    if (Number.isNaN(n)) return UNEXPECTED_REPLY;
    sum += n;
  }
  return sumReply(sum);
}

/** The integer reply of a sum of integer replies. */
export function sumReply(sum: number): Buffer {
  // Beyond 2^53 a double sum is inexact (not a case for key counts); say so rather than lie.
  return Number.isSafeInteger(sum) ? encodeInteger(sum) : UNEXPECTED_REPLY;
}

/** The elements of array replies, one after the other (KEYS). */
export function concatArrays(parts: readonly Buffer[]): Buffer {
  const all: Buffer[] = [];
  for (const p of parts) {
    const elems = arrayElements(p);
    if (elems === null) return UNEXPECTED_REPLY;
    for (const e of elems) all.push(e);
  }
  return encodeArray(all);
}
