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
 * Re-wrap an accepted socket (from a server created with `pauseOnConnect: true`, so it has
 * not started reading) so that its reads go through slabReads. net.Server has no `onread`
 * option; a Socket built on the accepted handle does.
 */
export function withSlabReads(accepted: net.Socket, onData: (chunk: Buffer) => void): net.Socket {
  const holder = accepted as unknown as { _handle: unknown };
  const handle = holder._handle;
  holder._handle = null; // the original wrapper must not close the handle it no longer owns
  const options = { handle, readable: true, writable: true, onread: slabReads(onData) };
  const socket = new net.Socket(options as net.SocketConstructorOpts);
  // Retire the old wrapper: it owns no handle now, and its server stops counting it (so
  // server.close() does not wait for a wrapper that would never close).
  accepted.destroy();
  socket.resume();
  return socket;
}
