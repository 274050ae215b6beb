/**
 * Building a request from arguments: the proxy's own requests (a split MGET's parts,
 * control commands) and tests. Produces the same shape the RESP scanner does, so the
 * result can be routed, keyed and forwarded like any client request.
 */
import type { RequestFrame } from '../resp/frame.js';

/** A RequestFrame holding `args` encoded as a RESP array of bulk strings. */
export function buildRequest(args: readonly (Buffer | string)[]): RequestFrame {
  const bufs = args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a));
  let size = 1 + String(bufs.length).length + 2;
  for (const b of bufs) size += 1 + String(b.length).length + 2 + b.length + 2;
  const raw = Buffer.allocUnsafe(size);
  const offsets = new Int32Array(2 * bufs.length);
  let p = raw.write(`*${bufs.length}\r\n`, 0, 'latin1');
  for (let i = 0; i < bufs.length; i++) {
    const b = bufs[i];
    p += raw.write(`$${b.length}\r\n`, p, 'latin1');
    offsets[2 * i] = p;
    p += b.copy(raw, p);
    offsets[2 * i + 1] = p;
    p += raw.write('\r\n', p, 'latin1');
  }
  return { raw, argc: bufs.length, offsets, inline: false };
}
