/**
 * Merging the replies of several backends into one (a split MSET, a DBSIZE over every
 * master). Each merge takes the parts' raw reply frames, in part order.
 */
import { arrayElements } from '../resp/reply-value.js';
import { encodeArray, encodeError, encodeInteger } from '../resp/encode.js';

const ERROR_BYTE = 0x2d; // '-'
const INTEGER_BYTE = 0x3a; // ':'

export const UNEXPECTED_REPLY = encodeError('ERR unexpected reply from a backend');

/** The first error reply among the parts: what the client gets if any part failed. */
export function firstError(parts: readonly Buffer[]): Buffer | undefined {
  for (const p of parts) if (p[0] === ERROR_BYTE) return p;
  return undefined;
}

/** The value of an integer reply (`:<n>\r\n`). */
export function integerOf(reply: Buffer): number {
  return Number(reply.toString('latin1', 1, reply.length - 2));
}

/** The sum of integer replies (DEL, EXISTS, DBSIZE ...). */
export function sumIntegers(parts: readonly Buffer[]): Buffer {
  let sum = 0;
  for (const p of parts) {
    if (p[0] !== INTEGER_BYTE) return UNEXPECTED_REPLY;
    sum += integerOf(p);
  }
  return encodeInteger(sum);
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
