/**
 * Socket reads into bump-allocated slabs.
 *
 * By default Node allocates a fresh 64 KB buffer for every socket read and pushes the data
 * through a Readable stream ('data' events). At -P 1 a proxy does one read per request,
 * so that machinery is paid per request. With net's `onread` option the kernel reads
 * straight into a buffer we hand out: each read gets the free tail of the connection's
 * current slab, and a new slab is allocated only when the tail runs short. Chunks stay
 * valid views (a slab is never reused, only dropped when nothing references it), so the
 * scanners keep their zero-copy contract.
 */
import net from 'node:net';
import { isTlsSocket } from './tls-socket.js';

const MIN_SLAB = 16 * 1024;
const MAX_SLAB = 1024 * 1024;
/** A tail shorter than this is not worth a read: start a new slab. */
const MIN_TAIL = 2 * 1024;

/** The `onread` option for a socket whose data goes to `onData`. */
export function slabReads(onData: (chunk: Buffer) => void): net.OnReadOpts {
  let size = MIN_SLAB;
  let slab = Buffer.allocUnsafeSlow(size);
  let used = 0;
  return {
    buffer() {
      if (slab.length - used < MIN_TAIL) {
        slab = Buffer.allocUnsafeSlow(size);
        used = 0;
      }
      return slab.subarray(used);
    },
    callback(n: number, buf: Uint8Array) {
      used += n;
      // A read that filled its buffer means a large transfer: grow the next slab (fewer,
      // larger reads); small reads bring it back down.
      size = n === buf.length ? Math.min(size * 4, MAX_SLAB) : MIN_SLAB;
      onData((buf as Buffer).subarray(0, n));
      return true;
    },
  };
}

/**
 * A small view of a large slab keeps the whole slab alive. Where a buffer may be held for
 * long (replies a slow client has not taken yet), a copy of a view that pins more than
 * PIN_RATIO times its size costs less than what it would pin. A backing of Node's pool size
 * (Buffer.poolSize: 8 KB on Node 20, 64 KB on Node 24) is left alone, Node's own pool or a
 * slab of that size: the copy would come from such a pool and pin just as much.
 */
const PIN_RATIO = 16;

export function unpinned(buf: Buffer): Buffer {
  const backing = buf.buffer.byteLength;
  return backing >= MIN_SLAB && backing !== Buffer.poolSize && backing > PIN_RATIO * buf.length ? Buffer.from(buf) : buf;
}

/**
 * Re-wrapping an accepted socket relies on Node internals (net.Server has no `onread`
 * option): the accepted socket's `_handle`, and a Socket built on it with `onread`. This
 * is checked on every accepted socket; when Node no longer has that shape, clients are
 * read with plain 'data' events instead, and one warning says so. An upgrade of Node then
 * costs speed, not function. Null while re-wrapping is on; otherwise why it is off.
 */
let rewrapOff: string | null = null;
let warned = false;

/** Turn slab reads of accepted sockets on or off (off: the 'data' fallback, e.g. to test it). */
export function setClientSlabReads(enabled: boolean): void {
  rewrapOff = enabled ? null : 'turned off with setClientSlabReads(false)';
}

interface InternalHandle {
  readStart?: unknown;
  readStop?: unknown;
}

/** What keeps `accepted` from being re-wrapped, or null when it has the shape relied on. */
export function rewrapProblem(accepted: net.Socket): string | null {
  const handle = (accepted as unknown as { _handle?: unknown })._handle;
  if (typeof handle !== 'object' || handle === null) return 'the accepted socket has no _handle object';
  const h = handle as InternalHandle;
  if (typeof h.readStart !== 'function' || typeof h.readStop !== 'function') return 'the socket handle has no readStart/readStop';
  return null;
}

/** A Socket on the accepted handle with slab reads, or why there is none (accepted then still owns its handle). */
function rewrap(accepted: net.Socket, onData: (chunk: Buffer) => void): net.Socket | string {
  const holder = accepted as unknown as { _handle: unknown };
  const handle = holder._handle;
  let socket: net.Socket;
  try {
    const options = { handle, readable: true, writable: true, onread: slabReads(onData) };
    socket = new net.Socket(options as net.SocketConstructorOpts);
  } catch (err) {
    return `new net.Socket({ handle, onread }) threw: ${(err as Error).message}`;
  }
  if ((socket as unknown as { _handle: unknown })._handle !== handle) return 'net.Socket did not adopt the accepted handle';
  // Should a Node version ignore `onread` for an adopted handle, its reads arrive as 'data'
  // events; with onread honoured, 'data' is never emitted, so this costs nothing.
  socket.on('data', onData);
  holder._handle = null; // the original wrapper must not close the handle it no longer owns
  // Retire the old wrapper: it owns no handle now, and its server stops counting it (so
  // server.close() does not wait for a wrapper that would never close).
  accepted.destroy();
  socket.resume();
  return socket;
}

/** What the fallback needs to say that it is in use. */
export interface SlabReadsLog {
  warn(obj: object, msg: string): void;
}

/**
 * Make an accepted socket (from a server created with `pauseOnConnect: true`, so it has
 * not started reading; or a TLS socket fresh from its handshake) deliver its reads to `onData`: through slabReads when the socket can
 * be re-wrapped, else through plain 'data' events.
 */
export function withSlabReads(accepted: net.Socket, onData: (chunk: Buffer) => void, log: SlabReadsLog): net.Socket {
  // A TLS socket's _handle is its TLSWrap, which decrypts for that very TLSSocket: a socket
  // re-wrapped on it would read nothing. Its reads are 'data' events (not a fallback: no warning).
  if (rewrapOff === null && !isTlsSocket(accepted)) {
    const problem = rewrapProblem(accepted);
    const result = problem === null ? rewrap(accepted, onData) : problem;
    if (typeof result !== 'string') return result;
    rewrapOff = result;
    if (!warned) {
      warned = true;
      log.warn({ reason: result, node: process.version }, 'slab reads unavailable: reading clients with data events (slower)');
    }
  }
  accepted.on('data', onData);
  accepted.resume();
  return accepted;
}
