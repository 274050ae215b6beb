/**
 * Writes straight to a socket's handle when nothing is queued in front of them.
 *
 * socket.write() runs Node's Writable machinery for every call: state checks, a WriteWrap
 * and its callback, and an afterWrite tick on the next turn even when the kernel took
 * every byte at once. The proxy writes once per connection per event-loop turn, and at
 * -P 1 that is two writes per request (the request to a node, the reply to a client). So
 * when the socket's own buffer is empty, the bytes go to the handle's writeBuffer, as
 * Node's own writeGeneric does, with none of the rest: usually the kernel takes them all
 * at once and nothing more happens. (socket.bytesWritten counts these bytes too: it reads
 * the handle's own counter.) When it does not, libuv keeps the remainder queued
 * (in order: a later write, direct or not, goes behind it), this writer counts those
 * bytes until they are written, and calls `onDrain` once they are, as it does on the
 * socket's own 'drain': the one drain signal its owner listens to.
 *
 * This relies on Node internals (process.binding('stream_wrap'): WriteWrap and the
 * stream state that says whether the last write completed; the socket's `_handle`),
 * checked once per process: without that shape every write goes through socket.write(),
 * and an upgrade of Node costs speed, not function (see also slab-reader.ts).
 */
import type net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { isTlsSocket } from './tls-socket.js';

interface WriteReq {
  handle: object;
  oncomplete: (this: WriteReq, status: number) => void;
  bytes: number;
  buffer: Buffer | null;
  writer: SocketWriter | null;
}

interface StreamHandle {
  writeBuffer(req: WriteReq, buf: Buffer): number;
}

interface StreamBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

/** Node's stream binding with the shape relied on, or why there is none. */
function loadBinding(): StreamBinding | string {
  const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
  if (typeof binding !== 'function') return 'process.binding is gone';
  let b: Partial<StreamBinding>;
  try {
    b = binding('stream_wrap') as Partial<StreamBinding>;
  } catch (err) {
    return `process.binding('stream_wrap') threw: ${(err as Error).message}`;
  }
  if (typeof b.WriteWrap !== 'function') return 'stream_wrap has no WriteWrap';
  if (!(b.streamBaseState instanceof Int32Array) || typeof b.kLastWriteWasAsync !== 'number') return 'stream_wrap has no streamBaseState';
  return b as StreamBinding;
}

const loaded = loadBinding();
let binding: StreamBinding | null = typeof loaded === 'string' ? null : loaded;

/** Why direct writes are off (every write goes through socket.write()), or null when they are on. */
export function directWritesProblem(): string | null {
  if (typeof loaded === 'string') return loaded;
  return binding === null ? 'turned off with setDirectWrites(false)' : null;
}

/** Turn direct writes on or off (off: every write through socket.write(), e.g. to test that path). */
export function setDirectWrites(enabled: boolean): void {
  binding = enabled && typeof loaded !== 'string' ? loaded : null;
}

/**
 * A list of buffers is written as few syscalls as is sensible: small batches are joined
 * into one buffer (one write), large ones go through cork/uncork (one writev) so a 50 MB
 * value is not copied again just to be joined.
 */
const JOIN_LIMIT = 64 * 1024;

function onDirectWriteComplete(this: WriteReq, status: number): void {
  const writer = this.writer;
  this.writer = null;
  this.buffer = null;
  writer?.completed(this.bytes, status);
}

export class SocketWriter {
  /** Bytes of direct writes libuv still holds (the kernel did not take them at once). */
  private pendingBytes = 0;
  /**
   * A TLS socket's _handle is its TLSWrap, whose writes are encrypted through the
   * TLSSocket's own state (and whose stream state is not the one read above): always socket.write().
   */
  private readonly direct: boolean;

  /**
   * @param onDrain called when bytes that waited are written: direct ones, or the socket's own ('drain')
   * @param direct false for a socket whose handle must not be written directly (TLS: its handle takes plaintext through the TLS layer only)
   */
  constructor(
    readonly socket: net.Socket,
    private readonly onDrain: () => void,
    direct = true,
  ) {
    this.direct = direct && !isTlsSocket(socket);
    socket.on('drain', onDrain);
  }

  /** Bytes given to this socket that the kernel has not taken yet. */
  get unsent(): number {
    return this.socket.writableLength + this.pendingBytes;
  }

  /** Write `bufs` (`totalBytes` in all), in order after everything written before. */
  write(bufs: Buffer[], totalBytes: number): void {
    if (bufs.length === 1) this.writeOne(bufs[0]);
    else if (totalBytes <= JOIN_LIMIT) this.writeOne(Buffer.concat(bufs, totalBytes));
    else {
      const socket = this.socket;
      socket.cork();
      for (let i = 0; i < bufs.length; i++) socket.write(bufs[i]);
      socket.uncork();
    }
  }

  private writeOne(buf: Buffer): void {
    const socket = this.socket;
    const b = this.direct ? binding : null;
    // Anything in the Writable's buffer must go first; a socket connecting, ending or
    // destroyed is the Writable's business.
    const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
    if (b === null || handle === null || socket.writableLength !== 0 || socket.connecting || !socket.writable) {
      socket.write(buf);
      return;
    }
    const req = new b.WriteWrap();
    req.handle = handle;
    req.oncomplete = onDirectWriteComplete;
    req.bytes = buf.length;
    req.buffer = null;
    req.writer = null;
    const err = handle.writeBuffer(req, buf);
    if (err !== 0) {
      socket.destroy(writeError(err));
      return;
    }
    if (b.streamBaseState[b.kLastWriteWasAsync] !== 0) {
      // libuv holds the rest and calls oncomplete once it is written: keep the bytes alive till then.
      req.buffer = buf;
      req.writer = this;
      this.pendingBytes += buf.length;
    }
  }

  /** A direct write that waited is done (status < 0: it failed, the socket goes). */
  completed(bytes: number, status: number): void {
    this.pendingBytes -= bytes;
    const socket = this.socket;
    if (status < 0) {
      if (!socket.destroyed) socket.destroy(writeError(status));
      return;
    }
    if (this.pendingBytes === 0 && socket.writableLength === 0 && !socket.destroyed) this.onDrain();
  }
}

function writeError(errno: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  const err: NodeJS.ErrnoException = new Error(`write ${code}`);
  err.code = code;
  err.errno = errno;
  err.syscall = 'write';
  return err;
}
