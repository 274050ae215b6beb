/**
 * One pipelined connection to a Redis node.
 *
 * Requests are appended to `inflight` (their reply sinks) in the order they are
 * written; each complete reply frame from the node completes the head. A request's bytes
 * are kept with its sink until its reply, so a cluster redirect (MOVED, ASK, TRYAGAIN,
 * CLUSTERDOWN) can be handed, with the original request, to the router to send again. Writes are queued
 * and flushed once per event-loop turn (FlushScheduler). When the socket drops or a
 * request outlives the command timeout, exactly the requests in flight on this
 * connection fail with an `-ERR`, and the connection reconnects with capped exponential
 * backoff plus jitter. Those errors reach clients: they say what happened (an errno code,
 * a timeout) but never where — the node's address goes to the log, not to the client.
 * The log hears of a node's outage once, not once per connection and retry: losses,
 * failed attempts and the node reached again go to the proxy's NodeOutageLog (ConnectionOptions.outages).
 *
 * Writes toward a node that does not drain (stopped, overloaded) are bounded by bytes:
 * past HIGH_WATER bytes queued or unflushed, send() reports congestion and the senders
 * stop reading their clients (see waitDrain) until the queue is below LOW_WATER.
 *
 * With an AckPolicy (`--ack replica`), the writes queued between two flushes are one
 * batch: their replies are held, and the flush appends one WAIT that releases them (see
 * replica-ack.ts). At most one WAIT is in flight: writes flushed meanwhile join the next
 * batch, whose WAIT goes out when the first answers. Without a policy, nothing here looks
 * at what a request is.
 */
import type net from 'node:net';
import type { Logger } from '../log.js';
import { InflightQueue } from './inflight-queue.js';
import type { Flushable, FlushScheduler } from '../net/flush-scheduler.js';
import type { NodeOutageLog } from '../net/node-outage-log.js';
import { SocketWriter } from '../net/socket-writer.js';
import type { Runtime } from '../net/runtime.js';
import type { Faults } from '../faults.js';
import { dialNode } from '../net/node-dialer.js';
import { ReplyScanner } from '../resp/reply-scanner.js';
import { ProtocolError } from '../resp/frame.js';
import { encodeCommand, encodeError, type Protocol } from '../resp/encode.js';
import type { ReplySink } from './reply-sink.js';
import { AckBatch, DISCARD_REPLY, leaveBatch, type AckOwner, type AckPolicy } from './replica-ack.js';
import { BLOCKING_WRITE, NOT_WRITE, writeKind } from '../commands/write-kind.js';
import { beginRead, endRead } from '../net/read-clock.js';

export interface BackendEndpoint {
  /** Node id, for messages and logs. */
  id: string;
  host: string;
  port: number;
  /** The node's requirepass ('' for none). */
  password: string;
}

/**
 * Takes a cluster redirect or retryable cluster error instead of the client: returns true
 * when it has taken charge of delivering the sink's reply.
 */
export interface ClusterErrorHandler {
  onClusterError(reply: Buffer, raw: Buffer, sink: ReplySink, from: BackendConnection): boolean;
  /** The connection dropped or could not connect: the node may be gone, the slot map stale. */
  onConnectionLost(from: BackendConnection): void;
  /** The connection is ready again (requests held while it was down can go). */
  onConnectionReady(from: BackendConnection): void;
  /**
   * The node answered -BUSY (a script or function runs past its busy-reply-threshold; the
   * request was refused, not run): returns true when it has taken charge of the sink's reply.
   */
  onBusy?(reply: Buffer, raw: Buffer, sink: ReplySink, from: BackendConnection): boolean;
}

/** The part of a logger a connection writes to (a client that logs nothing passes plain no-ops, without loading pino). */
export type ConnectionLog = Pick<Logger, 'debug' | 'warn' | 'error'>;

export interface ConnectionOptions {
  connectTimeoutMs: number;
  /** A request unanswered this long fails the connection; 0 disables (blocking commands). */
  commandTimeoutMs: number;
  /** Reconnect by itself after a drop (pool connections); dedicated ones do not. */
  reconnect: boolean;
  log: ConnectionLog;
  /**
   * Told when this connection reaches its node, loses it, or fails to reach it: the proxy's
   * one line per outage (runtime.outages). Absent: told nowhere (a one-shot control client,
   * whose caller reports its failure).
   */
  outages?: NodeOutageLog;
  /** The proxy's flush scheduler, fault reporter, dropped-push count and dial routes. */
  runtime: Runtime;
  /** Who handles MOVED/ASK/TRYAGAIN/CLUSTERDOWN replies; without one they reach the sink. */
  clusterErrors?: ClusterErrorHandler;
  /** Index among its pool's shared connections (-1: not a shared one). */
  index?: number;
  /** Hold writes' replies until a replica has them (`--ack replica`); absent: Redis's asynchronous replication. */
  ack?: AckPolicy;
  /**
   * The protocol the node speaks on this connection (default 2). A RESP3 connection sends
   * `HELLO 3` after connecting (and AUTH), so the node answers in RESP3 for RESP3 clients.
   */
  protocol?: Protocol;
  /**
   * Send READONLY after connecting (after AUTH and HELLO): a replica then serves reads of
   * its master's slots instead of answering MOVED (replica reads).
   */
  readonly?: boolean;
  /**
   * Who takes the push frames (`>`, RESP3 only) the node sends on this connection. A push
   * is not a reply: it never completes a request. Without a taker it is dropped and
   * counted (runtime.pushes).
   */
  onPush?: (frame: Buffer) => void;
  /**
   * Told, before the connection is failed, of the request that outlived the command
   * timeout (the oldest one in flight: the one the node is running), so that what it left
   * running on the node can be stopped from another connection.
   */
  onCommandTimeout?: (raw: Buffer) => void;
}

/** Told when a congested connection has drained (or failed, which empties it too). */
export interface DrainListener {
  backendDrained(): void;
}

export type ConnectionState = 'connecting' | 'ready' | 'backoff' | 'closed';
type State = ConnectionState;

/**
 * Bytes queued + unflushed above which a connection is congested, and below which it is
 * not any more. Large enough to keep a fast node busy between event-loop turns.
 */
const HIGH_WATER = 32 * 1024 * 1024;
const LOW_WATER = 8 * 1024 * 1024;

// Its errors for an unreachable node are worded so unreachable.ts recognises them.
export { isUnreachableReply } from './unreachable.js';
import { unreachableMessage, withoutAddress } from './unreachable.js';

const HELLO_3 = encodeCommand(['HELLO', '3']);
const READONLY = encodeCommand(['READONLY']);
const PUSH = 0x3e; // '>'

/** Whether writes' replies wait for a WAIT, and which. */
interface AckState {
  /** The writes queued since the last flush, whose WAIT the next flush sends. */
  batch: AckBatch | null;
  /**
   * A WAIT is in flight. Redis runs a connection's WAITs one after another, each up to the
   * ack timeout: one per flush while a replica is missing would queue up timeout after
   * timeout. One at a time, a write waits at most two.
   */
  waitInFlight: boolean;
}

/** The connection's life around its requests: failures, reconnecting, the command watchdog, congestion. */
interface LinkState {
  /** Connect attempts since it was last ready (the backoff's exponent). */
  attempt: number;
  /** The node answered the handshake on the current socket (or it has none): counted open by the outage log. */
  reached: boolean;
  /** Why the node could not be reached or answered, in words fit for a client (no address). */
  lastError: string;
  /** The socket's own error message, which may name the address: for the log only. */
  lastSocketError: string;
  /** When the node last answered (or an idle connection was given a request): the watchdog's clock. */
  lastProgressAt: number;
  retryTimer: NodeJS.Timeout | null;
  watchdog: NodeJS.Timeout | null;
  /** Senders stalled until this connection drains; empty unless it became congested. */
  drainWaiters: DrainListener[];
}

const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 2000;

export class BackendConnection implements Flushable, AckOwner {
  flushQueued = false;
  /**
   * MULTI is open on this (dedicated) connection: the writes sent now are only queued by
   * the node, so none is held for a WAIT, which would be queued with them; the EXEC that
   * runs them is the write acknowledged (see write-kind.ts). Set by the transaction.
   */
  queuing = false;
  private state: State = 'connecting';
  /** The current socket, written through direct writes (net/socket-writer.ts); null between connections. */
  private writer: SocketWriter | null = null;
  private scanner = new ReplyScanner();
  private readonly inflight = new InflightQueue();
  /** Requests queued for the next flush (written after the handshake when connecting). */
  private out: Buffer[] = [];
  private outBytes = 0;
  /**
   * What the socket still held after the last flush: send() checks congestion against it
   * rather than asking the socket for every request. It only grows at a flush, so it is at
   * most stale-high until the next one; drain checks read the socket itself.
   */
  private flushedBacklog = 0;
  /** Replies still owed to our own handshake commands (AUTH, HELLO 3), which precede `inflight`. */
  private handshakeReplies = 0;
  /** The `--ack replica` batch; untouched without an AckPolicy. */
  private readonly acking: AckState = { batch: null, waitInFlight: false };
  private readonly link: LinkState = { attempt: 0, reached: false, lastError: '', lastSocketError: '', lastProgressAt: 0, retryTimer: null, watchdog: null, drainWaiters: [] };
  /** runtime.flush, held directly: every send schedules a flush. */
  private readonly flusher: FlushScheduler;

  constructor(
    readonly endpoint: BackendEndpoint,
    private readonly opts: ConnectionOptions,
  ) {
    this.flusher = opts.runtime.flush;
    this.connect();
    if (opts.commandTimeoutMs > 0) {
      this.link.watchdog = setInterval(() => this.checkTimeout(), Math.max(50, opts.commandTimeoutMs / 4));
      this.link.watchdog.unref();
    }
  }

  private get socket(): net.Socket | null {
    return this.writer === null ? null : this.writer.socket;
  }

  /** Where faults on this connection are reported (also a held write's sink that throws, see AckBatch). */
  get faults(): Faults {
    return this.opts.runtime.faults;
  }

  /** Index among its pool's shared connections (-1: not a shared one). */
  get index(): number {
    return this.opts.index ?? -1;
  }

  /** The protocol the node answers in on this connection. */
  get protocol(): Protocol {
    return this.opts.protocol ?? 2;
  }

  /** Where it is in its life: connecting, ready, waiting to reconnect (backoff), closed. */
  get connectionState(): ConnectionState {
    return this.state;
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  /**
   * Its node could not be reached and it has not reconnected since: a request sent now
   * fails at once (or when the connect attempt under way fails). A new connection still
   * making its first attempt is not down.
   */
  get isDown(): boolean {
    return this.state === 'backoff' || (this.state === 'connecting' && this.link.attempt > 0);
  }

  /** Why the node could not be reached or refused us, for operators (may name the address); '' when nothing failed. */
  get failure(): string {
    return this.link.lastSocketError || this.link.lastError;
  }

  /** Requests written or queued and not yet answered. */
  get pendingCount(): number {
    return this.inflight.length;
  }

  /** Request bytes not yet taken by the kernel: queued here plus buffered in the socket. */
  get queuedBytes(): number {
    return this.outBytes + (this.writer === null ? 0 : this.writer.unsent);
  }

  /**
   * Queue one request (its exact RESP bytes). The sink gets exactly one reply: the
   * node's, or an `-ERR` if the connection cannot carry it. Returns false when the
   * connection is congested (like Writable.write): the caller should stop feeding it
   * and waitDrain().
   */
  send(raw: Buffer, sink: ReplySink): boolean {
    if (this.state === 'backoff' || this.state === 'closed') {
      sink.deliver(this.unavailableError());
      return true;
    }
    if (this.inflight.length === 0) this.link.lastProgressAt = Date.now();
    if (this.opts.ack !== undefined && !this.queuing) sink = this.holdIfWrite(raw, sink, this.opts.ack);
    this.inflight.push(sink, raw);
    this.out.push(raw);
    this.outBytes += raw.length;
    if (this.state === 'ready') this.flusher.schedule(this);
    return this.outBytes + this.flushedBacklog <= HIGH_WATER;
  }

  /** The sink to queue for `raw`: a write's is held in the open batch until its WAIT answers. */
  private holdIfWrite(raw: Buffer, sink: ReplySink, ack: AckPolicy): ReplySink {
    const kind = writeKind(raw);
    if (kind === NOT_WRITE) return sink;
    const batch = (this.acking.batch ??= new AckBatch(ack, this));
    if (kind === BLOCKING_WRITE) batch.blocking = true;
    return batch.hold(sink);
  }

  /** Queue the open batch's WAIT (and PING) behind its writes: they go out in the same write. */
  private closeAckBatch(): void {
    const batch = this.acking.batch;
    if (batch === null) return;
    this.acking.batch = null;
    const ack = this.opts.ack!;
    if (batch.blocking) this.queueInternal(ack.ping, DISCARD_REPLY);
    this.queueInternal(ack.wait, batch);
    this.acking.waitInFlight = true;
  }

  /** The WAIT in flight answered (or failed): the writes sent since get theirs. */
  waitAnswered(): void {
    this.acking.waitInFlight = false;
    if (this.acking.batch === null || this.state !== 'ready') return;
    this.closeAckBatch();
    this.flusher.schedule(this);
  }

  private queueInternal(raw: Buffer, sink: ReplySink): void {
    this.inflight.push(sink, raw);
    this.out.push(raw);
    this.outBytes += raw.length;
  }

  /** Call `listener.backendDrained()` once this connection is below LOW_WATER again. */
  waitDrain(listener: DrainListener): void {
    this.link.drainWaiters.push(listener);
    this.checkDrained();
  }

  /** Forget a waiter that went away (a client that disconnected while stalled). */
  cancelDrainWait(listener: DrainListener): void {
    const i = this.link.drainWaiters.indexOf(listener);
    if (i >= 0) this.link.drainWaiters.splice(i, 1);
  }

  flush(): void {
    if (this.state !== 'ready' || this.out.length === 0 || this.writer === null) return;
    if (this.acking.batch !== null && !this.acking.waitInFlight) this.closeAckBatch();
    const bufs = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    this.writer.write(bufs, bytes);
    this.flushedBacklog = this.writer.unsent;
    if (this.link.drainWaiters.length > 0) this.checkDrained();
  }

  private checkDrained(): void {
    this.flushedBacklog = this.writer === null ? 0 : this.writer.unsent;
    if (this.link.drainWaiters.length === 0 || this.queuedBytes >= LOW_WATER) return;
    // Swap first: a resumed sender may send again, congest again and wait again.
    const waiters = this.link.drainWaiters;
    this.link.drainWaiters = [];
    for (const w of waiters) w.backendDrained();
  }

  /** Close for good; whatever is in flight fails. */
  close(reason = 'connection closed by the proxy'): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.link.retryTimer) clearTimeout(this.link.retryTimer);
    if (this.link.watchdog) clearInterval(this.link.watchdog);
    this.link.retryTimer = null;
    this.link.watchdog = null;
    if (this.link.reached) this.opts.outages?.closed(this.endpoint);
    this.link.reached = false;
    this.dropSocket();
    this.failInflight(`ERR ${reason}`);
  }

  private connect(): void {
    this.state = 'connecting';
    this.scanner = new ReplyScanner();
    const runtime = this.opts.runtime;
    const { socket, readyEvent, direct } = dialNode(runtime.dial, runtime.nodeTls, this.endpoint.host, this.endpoint.port, (chunk) => this.onData(chunk));
    this.writer = new SocketWriter(socket, () => this.checkDrained(), direct);
    this.flushedBacklog = 0;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.setTimeout(this.opts.connectTimeoutMs, () => {
      socket.destroy(new Error(`connect timed out after ${this.opts.connectTimeoutMs} ms`));
    });
    socket.once(readyEvent, () => {
      socket.setTimeout(0);
      this.onConnected();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.link.lastSocketError = err.message;
      this.link.lastError = err.code ?? withoutAddress(err.message);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.onDropped();
    });
  }

  private onConnected(): void {
    const wasDown = this.link.attempt > 0;
    this.state = 'ready';
    this.link.attempt = 0;
    // The handshake goes first (AUTH, then HELLO 3, then READONLY): queued requests follow it in the same write.
    if (this.opts.readonly === true) this.queueHandshake(READONLY);
    if (this.opts.protocol === 3) this.queueHandshake(HELLO_3);
    if (this.endpoint.password !== '') this.queueHandshake(encodeCommand(['AUTH', this.endpoint.password]));
    this.link.lastProgressAt = Date.now();
    this.opts.log.debug({ node: this.endpoint.id, port: this.endpoint.port, reconnected: wasDown }, 'backend connected');
    if (this.handshakeReplies === 0) this.markReached();
    this.link.lastError = this.link.lastSocketError = '';
    if (this.acking.batch !== null && !this.acking.waitInFlight) this.closeAckBatch();
    if (this.out.length > 0) {
      const bufs = this.out;
      const bytes = this.outBytes;
      this.out = [];
      this.outBytes = 0;
      this.writer!.write(bufs, bytes);
      this.checkDrained(); // (which reads the new backlog)
    }
    this.opts.clusterErrors?.onConnectionReady(this);
  }

  /** Put a handshake command in front of everything queued (so the last one queued goes first). */
  private queueHandshake(raw: Buffer): void {
    this.out.unshift(raw);
    this.outBytes += raw.length;
    this.handshakeReplies++;
  }

  private onData(chunk: Buffer): void {
    // Every reply in this read is stamped with one clock read (command latency, read-clock.ts).
    beginRead();
    try {
      this.handleData(chunk);
    } catch (err) {
      // A bug in reading replies: which reply is whose is unknown now, so the connection
      // goes (its requests fail, it reconnects); the process and the other connections stay.
      this.opts.runtime.faults.report(err, `reading replies from ${this.endpoint.id}`);
      this.link.lastError = 'internal error reading replies';
      this.socket?.destroy();
    } finally {
      endRead();
    }
  }

  private handleData(chunk: Buffer): void {
    this.scanner.feed(chunk);
    this.link.lastProgressAt = Date.now();
    for (;;) {
      const frame = this.scanner.next();
      if (frame === null) return;
      if (frame instanceof ProtocolError) {
        this.link.lastError = `bad reply from node: ${frame.message}`;
        this.opts.log.error({ node: this.endpoint.id, err: frame.message }, 'backend sent a malformed reply');
        this.socket?.destroy();
        return;
      }
      if (frame[0] === PUSH) {
        this.takePush(frame);
        continue;
      }
      if (this.handshakeReplies > 0) {
        this.handshakeReplies--;
        if (frame[0] === 0x2d /* '-' */) {
          this.link.lastError = `handshake refused: ${frame.toString('latin1', 1, frame.length - 2)}`;
          this.opts.log.error({ node: this.endpoint.id, err: this.link.lastError }, 'backend refused the proxy');
          this.socket?.destroy();
          return;
        }
        if (this.handshakeReplies === 0) this.markReached();
        continue;
      }
      const sink = this.inflight.shift();
      const raw = this.inflight.shiftedRaw;
      if (sink === undefined || raw === undefined) {
        this.link.lastError = 'reply without a request';
        this.opts.log.error({ node: this.endpoint.id }, 'backend sent a reply nobody asked for');
        this.socket?.destroy();
        return;
      }
      // Errors only: a reply that is not one pays a single byte compare here.
      if (frame[0] === 0x2d /* '-' */ && this.opts.clusterErrors !== undefined && this.handOver(frame, raw, sink, this.opts.clusterErrors)) continue;
      // The sink is the proxy's side (a client's slot, a merge): a bug there must not
      // leave this connection's FIFO out of step with the node's replies.
      try {
        sink.deliver(frame);
      } catch (err) {
        this.opts.runtime.faults.report(err, `delivering a reply from ${this.endpoint.id}`);
      }
    }
  }

  /**
   * A cluster error (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) or a BUSY: the handler may take the
   * request over (send it again, elsewhere or later). True when it did.
   */
  private handOver(frame: Buffer, raw: Buffer, sink: ReplySink, handler: ClusterErrorHandler): boolean {
    const cluster = isClusterError(frame);
    if (!cluster && (handler.onBusy === undefined || !isBusyReply(frame))) return false;
    // A held write the router sends again leaves this batch: where it is applied, it is acknowledged.
    const target = this.opts.ack === undefined ? sink : leaveBatch(sink);
    return cluster ? handler.onClusterError(frame, raw, target, this) : handler.onBusy!(frame, raw, target, this);
  }

  private takePush(frame: Buffer): void {
    const taker = this.opts.onPush;
    if (taker === undefined) {
      this.opts.runtime.pushes.dropped++;
      return;
    }
    try {
      taker(frame);
    } catch (err) {
      this.opts.runtime.faults.report(err, `taking a push frame from ${this.endpoint.id}`);
    }
  }

  /** The node answered the handshake (or there is none): this connection counts as open to it. */
  private markReached(): void {
    this.link.reached = true;
    this.opts.outages?.reached(this.endpoint);
  }

  private onDropped(): void {
    this.writer = null;
    const why = this.link.lastError || 'connection closed';
    if (this.state === 'closed') return;
    // One line per outage of the node, not per connection and retry (the outage log counts
    // the rest); the address is in its own field there, so not in the error again.
    const detail = withoutAddress(this.link.lastSocketError || why);
    this.opts.log.debug({ node: this.endpoint.id, err: detail, state: this.state, attempt: this.link.attempt }, 'backend connection dropped');
    if (this.link.reached) this.opts.outages?.lost(this.endpoint, detail);
    else this.opts.outages?.failed(this.endpoint, detail);
    this.link.reached = false;
    this.failInflight(unreachableMessage(this.state === 'connecting' ? 'cannot connect to backend' : 'connection to backend lost', why));
    this.opts.clusterErrors?.onConnectionLost(this);
    if (!this.opts.reconnect) {
      this.state = 'closed';
      if (this.link.watchdog) clearInterval(this.link.watchdog);
      return;
    }
    this.state = 'backoff';
    const delay = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.link.attempt) * (0.5 + Math.random() / 2);
    this.link.attempt = Math.min(this.link.attempt + 1, 16);
    this.link.retryTimer = setTimeout(() => {
      this.link.retryTimer = null;
      if (this.state === 'backoff') this.connect();
    }, delay);
    this.link.retryTimer.unref();
  }

  private checkTimeout(): void {
    if (this.state !== 'ready' || this.inflight.length === 0) return;
    const waited = Date.now() - this.link.lastProgressAt;
    if (waited < this.opts.commandTimeoutMs) return;
    this.link.lastError = `no reply for ${waited} ms (command timeout ${this.opts.commandTimeoutMs} ms)`;
    // Logged as the connection's loss (the outage log's line carries this error).
    this.opts.log.debug({ node: this.endpoint.id, err: this.link.lastError }, 'backend timed out');
    const running = this.inflight.peekRaw();
    if (running !== undefined && this.opts.onCommandTimeout !== undefined) {
      try {
        this.opts.onCommandTimeout(running);
      } catch (err) {
        this.opts.runtime.faults.report(err, `after a command timeout on ${this.endpoint.id}`);
      }
    }
    this.socket?.destroy();
  }

  private dropSocket(): void {
    const s = this.socket;
    this.writer = null;
    if (s) {
      s.on('error', () => {}); // late errors of a socket we already gave up on
      s.destroy();
    }
  }

  private failInflight(message: string): void {
    this.out = [];
    this.outBytes = 0;
    this.handshakeReplies = 0;
    this.acking.batch = null; // its writes are in `inflight`, failed below
    this.acking.waitInFlight = false;
    if (this.inflight.length > 0) {
      const err = encodeError(message);
      for (let sink = this.inflight.shift(); sink !== undefined; sink = this.inflight.shift()) {
        try {
          sink.deliver(err);
        } catch (e) {
          this.opts.runtime.faults.report(e, `failing a request to ${this.endpoint.id}`);
        }
      }
    }
    // Nothing is queued any more: stalled senders go on (and get errors fast until it is back).
    this.checkDrained();
  }

  private unavailableError(): Buffer {
    return encodeError(unreachableMessage('backend unavailable', this.link.lastError || 'connection closed'));
  }
}

/** -MOVED, -ASK, -TRYAGAIN, -CLUSTERDOWN: the replies a cluster front end acts on itself. */
export function isClusterError(frame: Buffer): boolean {
  switch (frame[1]) {
    case 0x4d /* M */:
      return frame.toString('latin1', 1, 7) === 'MOVED ';
    case 0x41 /* A */:
      return frame.toString('latin1', 1, 5) === 'ASK ';
    case 0x54 /* T */:
      return frame.toString('latin1', 1, 9) === 'TRYAGAIN';
    case 0x43 /* C */:
      return frame.toString('latin1', 1, 12) === 'CLUSTERDOWN';
    default:
      return false;
  }
}

const BUSY = Buffer.from('-BUSY ', 'latin1');

/**
 * -BUSY ...: the node runs a script or function past its busy-reply-threshold and refused
 * the request without running it (Redis's processCommand rejects it before call()). Not
 * -BUSYKEY (RESTORE's "target key name is busy"), which is an answer.
 */
export function isBusyReply(frame: Buffer): boolean {
  return frame.length > BUSY.length && frame.compare(BUSY, 0, BUSY.length, 0, BUSY.length) === 0;
}
