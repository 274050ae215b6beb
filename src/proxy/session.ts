/**
 * ClientSession: one client connection.
 *
 * Reads RESP frames, hands each to the dispatcher, and writes replies back in request
 * order: every request takes a ReplySlot at the tail of `slots`; replies are moved to the
 * output buffer from the head as the head fills, and the output is written once per
 * event-loop turn.
 *
 * The session can *stall*: stop taking frames from its scanner (a blocking command is
 * waiting, too many replies are owed, the client is closing). The scanner then keeps the
 * unread bytes and the socket is paused, so a stalled client costs bounded memory.
 */
import type net from 'node:net';
import type { Logger } from '../log.js';
import { Fifo } from '../net/fifo.js';
import { withSlabReads } from '../net/slab-reader.js';
import { flushScheduler, writeBuffers, type Flushable } from '../net/flush-scheduler.js';
import { RequestScanner } from '../resp/request-scanner.js';
import { argString, ProtocolError, type RequestFrame } from '../resp/frame.js';
import { encodeError } from '../resp/encode.js';
import { faultReply } from '../faults.js';
import { ReplySlot, type SlotOwner } from './reply-slot.js';
import type { BackendConnection } from '../backend/connection.js';
import type { BackendPool } from '../backend/pool.js';

/** What a session needs from the proxy around it. */
export interface SessionHost {
  readonly maxBulkLen: number;
  readonly requirePass: string;
  readonly log: Logger;
  dispatch(session: ClientSession, frame: RequestFrame): void;
  sessionClosed(session: ClientSession): void;
  countCommand(): void;
}

/** Stop reading from a client that owes this many replies, until half are written. */
const MAX_OWED_REPLIES = 32 * 1024;
/** Stop reading from a client that does not read its replies (bytes buffered). */
const MAX_BUFFERED_OUTPUT = 16 * 1024 * 1024;

export class ClientSession implements SlotOwner, Flushable {
  flushQueued = false;
  name: Buffer | null = null;
  libName = '';
  libVersion = '';
  readonly createdAt = Date.now();

  private readonly scanner: RequestScanner;
  private readonly slots = new Fifo<ReplySlot>(64);
  private out: Buffer[] = [];
  private outBytes = 0;
  private closed = false;
  /** Reasons the session is not taking frames; frames wait in the scanner meanwhile. */
  private stallBlocking = false;
  private stallOwed = false;
  private stallOutput = false;
  private closeAfterFlush = false;
  /** A command waiting for every earlier reply before it may run (see runExclusive). */
  private waitingExclusive: (() => void) | null = null;
  /** The connection a blocking command is running on, closed if the client leaves. */
  private dedicated: BackendConnection | null = null;
  /** Replies produced (slots opened + direct replies): whether a handler that threw had answered. */
  private replies = 0;
  private lastSlot: ReplySlot | null = null;

  readonly socket: net.Socket;

  /** @param accepted a socket from a server with pauseOnConnect (not reading yet) */
  constructor(
    readonly id: number,
    accepted: net.Socket,
    private readonly host: SessionHost,
  ) {
    // Until AUTH, Redis's pre-authentication limits apply to what the client may send.
    this.scanner = new RequestScanner({ maxBulkLen: host.maxBulkLen, authRequired: host.requirePass !== '' });
    const socket = withSlabReads(accepted, (chunk) => {
      this.scanner.feed(chunk);
      this.processFrames();
    }, host.log);
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('drain', () => {
      if (this.stallOutput) {
        this.stallOutput = false;
        this.resumeIfUnstalled();
      }
    });
    socket.on('error', () => {
      /* 'close' follows; a client resetting its connection is not an event worth a log line */
    });
    socket.on('close', () => this.onClose());
  }

  get authenticated(): boolean {
    return !this.scanner.authRequired;
  }

  set authenticated(value: boolean) {
    this.scanner.authRequired = !value;
  }

  /** A new reply slot at the tail of the queue, for a request about to be forwarded. */
  openSlot(): ReplySlot {
    const slot = new ReplySlot(this);
    this.slots.push(slot);
    this.replies++;
    this.lastSlot = slot;
    return slot;
  }

  /** Reply now, in order: straight to the output when nothing earlier is owed. */
  reply(buf: Buffer): void {
    this.replies++;
    if (this.slots.length === 0) {
      this.lastSlot = null;
      this.queueOutput(buf);
    } else {
      const slot = new ReplySlot(this);
      slot.reply = buf;
      this.slots.push(slot);
      this.lastSlot = slot;
    }
  }

  /** Reply, then close the connection once everything owed is written (QUIT, protocol errors). */
  replyAndClose(buf: Buffer): void {
    this.reply(buf);
    this.closeAfterFlush = true;
    this.stallBlocking = true;
    this.socket.pause();
    if (this.slots.length === 0) flushScheduler.schedule(this);
  }

  /**
   * Run `raw` on a dedicated connection to `pool`'s master (blocking commands). The
   * session takes no further frames until it is answered, as redis-server would, and it
   * is sent only after every earlier reply has arrived, so it executes after them.
   */
  runExclusive(pool: BackendPool, raw: Buffer): void {
    const slot = this.openSlot();
    this.stallBlocking = true;
    const start = (): void => {
      const conn = pool.acquireDedicated();
      this.dedicated = conn;
      conn.send(raw, {
        deliver: (reply: Buffer) => {
          if (this.dedicated === conn) this.dedicated = null;
          pool.release(conn);
          slot.deliver(reply);
          this.stallBlocking = false;
          this.resumeIfUnstalled();
        },
      });
    };
    if (this.slots.length === 1) start();
    else this.waitingExclusive = start;
  }

  slotFilled(_slot: ReplySlot): void {
    if (this.closed) return;
    let moved = false;
    for (let head = this.slots.peek(); head !== undefined && head.reply !== null; head = this.slots.peek()) {
      this.slots.shift();
      this.queueOutput(head.reply);
      moved = true;
    }
    if (!moved) return;
    if (this.waitingExclusive !== null && this.slots.length === 1) {
      const start = this.waitingExclusive;
      this.waitingExclusive = null;
      start();
    }
    if (this.stallOwed && this.slots.length < MAX_OWED_REPLIES / 2) {
      this.stallOwed = false;
      this.resumeIfUnstalled();
    }
  }

  flush(): void {
    if (this.closed) return;
    if (this.out.length > 0) {
      const bufs = this.out;
      const bytes = this.outBytes;
      this.out = [];
      this.outBytes = 0;
      writeBuffers(this.socket, bufs, bytes);
      if (this.socket.writableLength > MAX_BUFFERED_OUTPUT && !this.stallOutput) {
        this.stallOutput = true;
        this.socket.pause();
      }
    }
    if (this.closeAfterFlush && this.slots.length === 0) {
      this.socket.end();
    }
  }

  /** Close now (server shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  private queueOutput(buf: Buffer): void {
    this.out.push(buf);
    this.outBytes += buf.length;
    flushScheduler.schedule(this);
  }

  private processFrames(): void {
    try {
      while (!this.closed && !this.stallBlocking && !this.stallOwed) {
        const frame = this.scanner.next();
        if (frame === null) return;
        if (frame instanceof ProtocolError) {
          this.replyAndClose(encodeError(`ERR ${frame.message}`));
          return;
        }
        if (frame.argc === 0) continue;
        this.host.countCommand();
        this.dispatch(frame);
        if (this.slots.length >= MAX_OWED_REPLIES) this.stallOwed = true;
      }
    } catch (err) {
      // Not a handler (dispatch catches those): the scanner, whose state is unknown now.
      this.replyAndClose(faultReply(err, 'reading a request'));
      return;
    }
    this.socket.pause();
  }

  /** One request; a handler that throws costs that request an -ERR, in its place in the order. */
  private dispatch(frame: RequestFrame): void {
    const before = this.replies;
    try {
      this.host.dispatch(this, frame);
    } catch (err) {
      const reply = faultReply(err, `command '${argString(frame, 0).slice(0, 64)}'`);
      if (this.replies === before) this.reply(reply);
      else this.lastSlot?.deliver(reply); // a no-op if it was answered after all
    }
  }

  private resumeIfUnstalled(): void {
    if (this.closed || this.stallBlocking || this.stallOwed || this.stallOutput) return;
    this.socket.resume();
    this.processFrames();
    // processFrames pauses when it stalls again; a full drain leaves the socket flowing
    if (!this.stallBlocking && !this.stallOwed) this.socket.resume();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.waitingExclusive = null;
    if (this.dedicated !== null) {
      // A client gone mid-BLPOP: close the connection so the command cannot pop an
      // element on behalf of nobody.
      this.dedicated.close('client disconnected');
      this.dedicated = null;
    }
    this.host.sessionClosed(this);
  }
}

