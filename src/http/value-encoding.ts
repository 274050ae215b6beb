/**
 * Values between JSON and Redis's bytes. A JSON string carries text; a Redis value is any
 * bytes. `utf8` is the text itself (what most keys hold), `base64` any bytes. Nothing is
 * converted lossily: bytes that are not UTF-8 are never turned into U+FFFD characters.
 */
import { isUtf8 } from 'node:buffer';
import type { ValueEncoding } from './schemas.js';

/** Standard base64 with its padding: Buffer.from would skip anything else without a word. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A value's bytes from its JSON form; undefined when it is not in that encoding. */
export function valueBytes(text: string, encoding: ValueEncoding): Buffer | undefined {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

/** A value's JSON form; undefined when its bytes are not UTF-8 and utf8 was asked for. */
export function valueText(bytes: Buffer, encoding: ValueEncoding): string | undefined {
  if (encoding === 'base64') return bytes.toString('base64');
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined;
}
