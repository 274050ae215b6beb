/**
 * ClientSession: one client connection.
 *
 * Reads RESP frames, hands each to the dispatcher, and writes replies back in request
 * order: every request takes a ReplySlot at the tail of its ReplyOrder; replies are moved
 * to the output buffer from the head as the head fills, and the output is written once per
 * event-loop turn. What CLIENT LIST shows of it besides is its ClientInfo.
 *
 * The session *stalls* (takes no further frames) for any of a few reasons, kept as bits:
 * a blocking command is waiting or running, too many reply bytes are owed or held for a
 * client that does not read them, a backend it feeds is congested, or it is closing.
 * Frames wait in the scanner meanwhile. A stalled session still reads its socket up to
 * STALLED_READAHEAD unprocessed bytes, then pauses it: a paused socket does not notice
 * the client's FIN or RST, and a client that leaves must be released at once (and a
 * blocking command of its own cancelled), while a client that keeps sending costs
 * bounded memory.
 *
 * Memory bounds, all integer counters on the hot path:
 * - replies owed: the estimated bytes in flight (owed × moving average of reply sizes)
 *   stay under OWED_BYTES_BUDGET, so a pipeline of 200 000 GETs of 100 KB does not send
 *   200 000 requests' worth of replies the proxy would then have to hold (ReplyOrder keeps
 *   the bound). Before any reply is seen the estimate is large (a new client gets a few
 *   dozen requests in flight, not a thousand GETs of 100 KB); it falls to the real sizes
 *   within a few dozen replies;
 * - replies held for the client (slots + output + socket buffer) above RETAINED_HIGH stop
 *   reading until below half. Replies are delivered into the slots regardless, so a
 *   client that does not read never holds up the shared backend connection it uses;
 * - all clients together: each session reports what it holds (info.memoryBytes) to the
 *   proxy's ClientMemory, which evicts the biggest client above --maxmemory-clients.
 * A client that does not read thus costs at most about RETAINED_HIGH + OWED_BYTES_BUDGET.
 */
import { mayAdminister } from '../auth/acl-user.js';
import type net from 'node:net';
import type { Logger } from '../log.js';
import { withSlabReads } from '../net/slab-reader.js';
import { SocketWriter } from '../net/socket-writer.js';
import type { Flushable } from '../net/flush-scheduler.js';
import type { Runtime } from '../net/runtime.js';
import { RequestScanner } from '../resp/request-scanner.js';
import { argString, ProtocolError, type RequestFrame } from '../resp/frame.js';
import { encodeError, type Protocol } from '../resp/encode.js';
import type { ReplySlot, RequestTime, SlotOwner } from './datapath/reply-slot.js';
import { ReplyOrder, type ReplyMode } from './datapath/reply-order.js';
import { ClientInfo } from './client-info.js';
import type { BackendConnection, DrainListener } from '../backend/connection.js';
import type { ClientSubscriptions } from './modes/pubsub.js';
import type { CommandInfo } from '../commands/command-table.js';
import type { Transaction } from './modes/transaction.js';
import type { CommandStats } from '../ops/command-stats.js';
import type { ClientMemory, EvictableClient } from './client-memory.js';
import { readTime } from '../net/read-clock.js';
import type { AclUsers } from '../auth/acl-users.js';
import type { ClientLink, ExclusiveCall, ExclusiveOwner } from './datapath/client-link.js';
import { ClientReplication } from './datapath/client-replication.js';

export type { ExclusiveCall, ExclusiveOwner } from './datapath/client-link.js';
export type { ReplyMode } from './datapath/reply-order.js';

/** What a session needs from the proxy around it. */
export interface SessionHost {
  readonly maxBulkLen: number;
  readonly requirePass: string;
  /** '' when every client may run the admin verbs. */
  readonly adminPassword: string;
  /** --users-file's users, or null. */
  readonly users: AclUsers | null;
  readonly log: Logger;
  /** The proxy's flush scheduler and fault reporter. */
  readonly runtime: Runtime;
  dispatch(session: ClientSession, frame: RequestFrame): void;
  sessionClosed(session: ClientSession): void;
  countCommand(): void;
  /** Where each call's request → reply time goes. */
  readonly commandStats: CommandStats;
  /** The bytes held for all clients, against --maxmemory-clients. */
  readonly clientMemory: ClientMemory;
}

const STALL_EXCLUSIVE = 1;
const STALL_OWED = 2;
const STALL_RETAINED = 4;
const STALL_BACKEND = 8;
const STALL_CLOSING = 16;
/** The client is gone or done: set once, never cleared (what `released` would say). */
const STALL_RELEASED = 32;
/** A request waits for CLIENT PAUSE to end. */
const STALL_PAUSED = 64;

/** `flow` bits: the socket is being read; processFrames() is running (it is re-entered when a dispatch lifts a stall). */
const FLOW_READING = 1;
const FLOW_PROCESSING = 2;

const MB = 1024 * 1024;
/** Reply bytes held for the client above which it is not read any more (until below half). */
const RETAINED_HIGH = 4 * MB;
/** While stalled, a client is still read up to this many unprocessed bytes (to notice it leaving). */
const STALLED_READAHEAD = 128 * 1024;
/** A closing session whose last bytes the client does not take is destroyed after this long. */
const CLOSE_GRACE_MS = 5000;

/** What a stalled session waits on besides its own bounds: a call that runs alone, CLIENT PAUSE, a congested node. */
class StallCauses {
  /** The blocking command waiting for earlier replies or running, cancelled if the client leaves. */
  exclusive: ExclusiveCall | null = null;
  exclusiveStarted = false;
  /** A request waiting for CLIENT PAUSE to end (a copy: the read buffer moves on). */
  postponed: RequestFrame | null = null;
  /** The backend connection it waits to drain. */
  congestedOn: BackendConnection | null = null;
}

export class ClientSession implements ClientLink, SlotOwner, Flushable, DrainListener, ExclusiveOwner, EvictableClient {
  flushQueued = false;
  /**
   * RESP2, or RESP3 after HELLO 3: its requests go on backend connections of the same
   * protocol, and the proxy's own replies take its shapes (Pub/Sub messages are pushes, `>`).
   * Change it with changeProtocol().
   */
  protocol: Protocol = 2;
  /** The transaction under way (MULTI or WATCH to EXEC, DISCARD, UNWATCH, RESET); null for almost every client. */
  tx: Transaction | null = null;
  /** Its channels and patterns, once it used a Pub/Sub command (null: never did, the common case). */
  pubsub: ClientSubscriptions | null = null;
  /** The client's socket, written through direct writes (net/socket-writer.ts). */
  private readonly writer: SocketWriter;
  /** Name, library, permissions and activity, as CLIENT LIST shows them. */
  readonly info: ClientInfo;
  /** The master it last wrote to, READONLY, the writes a replica may not have yet (ClientLink). */
  readonly replication = new ClientReplication();
  /** Set by the dispatcher when it counts a call of the request being dispatched: that call is timed. */
  calledCommand: CommandInfo | undefined;

  private readonly scanner: RequestScanner;
  private readonly order: ReplyOrder;
  /** STALL_* bits; frames are taken only while 0. */
  private stall = 0;
  /** FLOW_* bits. */
  private flow = FLOW_READING;
  private readonly waits = new StallCauses();

  /** @param accepted a socket from a server with pauseOnConnect (not reading yet) */
  constructor(
    readonly id: number,
    accepted: net.Socket,
    private readonly host: SessionHost,
  ) {
    this.info = new ClientInfo(host.adminPassword === '');
    this.order = new ReplyOrder(this, host.runtime.flush);
    // Until AUTH, Redis's pre-authentication limits apply to what the client may send.
    this.scanner = new RequestScanner({ maxBulkLen: host.maxBulkLen, authRequired: !this.startAsDefaultUser(host) });
    this.info.admin = mayAdminister(host.adminPassword, this.info.user);
    const socket = withSlabReads(accepted, (chunk) => this.onData(chunk), host.log);
    this.writer = new SocketWriter(socket, () => this.onSocketDrain());
    socket.setNoDelay(true);
    socket.on('error', () => {
      /* 'close' follows; a client resetting its connection is not an event worth a log line */
    });
    socket.on('close', () => this.release());
  }

  /**
   * Who a new connection is before AUTH; true when it is authenticated already. With a
   * users file that lists `default`, that user when it is `on nopass` (and its
   * proxy-maxclients allows); otherwise --requirepass decides, as without a users file.
   */
  private startAsDefaultUser(host: SessionHost): boolean {
    const initial = host.users?.defaultUser;
    if (initial === undefined) return host.requirePass === '';
    if (!initial.def.enabled || !initial.def.nopass || host.users?.attach(initial) !== true) return false;
    this.info.user = initial;
    return true;
  }

  get socket(): net.Socket {
    return this.writer.socket;
  }

  /** The proxy's flush scheduler, fault reporter and dial routes. */
  get runtime(): Runtime {
    return this.host.runtime;
  }

  get authenticated(): boolean {
    return !this.scanner.authRequired;
  }

  set authenticated(value: boolean) {
    this.scanner.authRequired = !value;
  }

  /** May run the admin verbs (see ClientInfo.admin). */
  get admin(): boolean {
    return this.info.admin;
  }

  /** CLIENT NO-EVICT, as eviction reads it. */
  get noEvict(): boolean {
    return this.info.noEvict;
  }

  /** Bytes held for this client as last reported to the account, as eviction reads it. */
  get memoryBytes(): number {
    return this.info.memoryBytes;
  }

  private get released(): boolean {
    return (this.stall & STALL_RELEASED) !== 0;
  }

  /** A new reply slot at the tail of the queue, for a request about to be forwarded. */
  openSlot(): ReplySlot {
    return this.order.open(false);
  }

  /** A slot for a push reply (see push()): sent under CLIENT REPLY OFF too. */
  openPushSlot(): ReplySlot {
    return this.order.open(true);
  }

  /** Reply now, in order: straight to the output when nothing earlier is owed. */
  reply(buf: Buffer): void {
    if (this.order.add(buf, false)) this.account();
  }

  /**
   * A push reply (Pub/Sub messages, SUBSCRIBE/UNSUBSCRIBE confirmations): in order like a
   * reply, but sent even under CLIENT REPLY OFF or SKIP, in RESP2 as in RESP3, as Redis
   * sends what it writes with CLIENT_PUSHING set.
   */
  push(buf: Buffer): void {
    if (this.order.add(buf, true)) this.account();
  }

  /** Reply, then close the connection once everything owed is written (QUIT, protocol errors). */
  replyAndClose(buf: Buffer): void {
    this.reply(buf);
    this.stall |= STALL_CLOSING;
    if (this.order.owed === 0) this.host.runtime.flush.schedule(this);
  }

  /**
   * Run `call` alone (a blocking command): after every earlier reply has arrived, so it
   * executes after them, and with no further frame taken until it is answered, as
   * redis-server would. Its slot must be the last one opened.
   */
  runExclusive(call: ExclusiveCall): void {
    const waits = this.waits;
    waits.exclusive = call;
    waits.exclusiveStarted = false;
    this.stall |= STALL_EXCLUSIVE;
    if (this.order.owed === 1) {
      waits.exclusiveStarted = true;
      call.start(this);
    }
  }

  /**
   * Speak `protocol` from the next request on (HELLO, RESET), answering `reply` in its place.
   * The requests sent before went on backend connections of the old protocol and later ones
   * go on others, where they could overtake them: so, when replies are still owed, no
   * further request is taken until every earlier reply is in, as for a blocking command.
   */
  changeProtocol(protocol: Protocol, reply: Buffer): void {
    const changed = protocol !== this.protocol;
    this.protocol = protocol;
    if (!changed || this.order.owed === 0) {
      this.reply(reply);
      return;
    }
    const slot = this.openSlot();
    this.runExclusive({
      start(owner) {
        slot.deliver(reply);
        owner.exclusiveDone();
      },
      cancel() {},
    });
  }

  exclusiveDone(): void {
    this.waits.exclusive = null;
    this.waits.exclusiveStarted = false;
    this.unstall(STALL_EXCLUSIVE);
  }

  /**
   * A request of this session went to `conn`, which is congested (its node is not taking
   * what is sent): take no further frames until it drains.
   */
  waitForBackend(conn: BackendConnection): void {
    if (this.waits.congestedOn !== null || this.released) return;
    this.waits.congestedOn = conn;
    this.stall |= STALL_BACKEND;
    conn.waitDrain(this);
  }

  backendDrained(): void {
    this.waits.congestedOn = null;
    this.unstall(STALL_BACKEND);
  }

  slotFilled(slot: ReplySlot): void {
    // Timed even for a client gone meanwhile: the call ran all the same.
    const reply = slot.reply!;
    if (slot.timed !== null) this.host.commandStats.timed(slot.timed, readTime() - slot.requestTime!.at, reply[0] === 0x2d /* '-' */);
    const order = this.order;
    order.measure(reply.length);
    if (this.released) return;
    if (!order.filled(slot, this.writer.unsent)) {
      // Held until the replies before it are in.
      if (order.held > RETAINED_HIGH) this.stall |= STALL_RETAINED;
      this.account();
      return;
    }
    // (STALL_EXCLUSIVE is set exactly while an exclusive call is registered.)
    if ((this.stall & STALL_EXCLUSIVE) !== 0 && !this.waits.exclusiveStarted && order.owed === 1) {
      this.waits.exclusiveStarted = true;
      this.waits.exclusive!.start(this);
    }
    if ((this.stall & STALL_OWED) !== 0 && order.underHalfBudget()) this.unstall(STALL_OWED);
  }

  flush(): void {
    if (this.released) return;
    this.order.writeTo(this.writer);
    const retained = this.order.held + this.writer.unsent;
    if (retained > RETAINED_HIGH) this.stall |= STALL_RETAINED;
    else if ((this.stall & STALL_RETAINED) !== 0 && retained < RETAINED_HIGH / 2) this.unstall(STALL_RETAINED);
    if ((this.stall & STALL_CLOSING) !== 0 && this.order.owed === 0) this.endAndRelease();
    else this.account();
  }

  /**
   * Report what is held for this client now to the account: replies held or not yet taken
   * by the kernel, request bytes read and not yet taken, and its owed requests. A few adds;
   * called where one of them grows (and on drain), not per byte.
   */
  private account(): void {
    if (this.released) return;
    const bytes = this.order.accountBytes + this.writer.unsent + this.scanner.bufferedBytes;
    const info = this.info;
    const delta = bytes - info.memoryBytes;
    if (delta === 0) return;
    info.memoryBytes = bytes;
    this.host.clientMemory.add(delta);
  }

  /** --maxmemory-clients: this client holds most; it goes now, and what is held for it with it. */
  evict(): void {
    this.socket.destroy();
    this.release();
  }

  /**
   * Reply bytes offered to the client and not taken by it (the socket's buffer), plus those
   * held behind an earlier reply: what Redis's client-output-buffer-limit is about. Bytes
   * queued during this event-loop turn are not counted until written: a burst read from a
   * node in one turn (up to a few MB) is not a slow client.
   */
  get retainedBytes(): number {
    return this.order.held + this.writer.unsent;
  }

  /** Request bytes read and not yet taken as frames (CLIENT LIST qbuf). */
  get queryBufferBytes(): number {
    return this.scanner.bufferedBytes;
  }

  /** Close now (server shutdown, CLIENT KILL). */
  destroy(): void {
    this.socket.destroy();
  }

  /** CLIENT REPLY: OFF and SKIP take effect from this very command (its own reply is not sent). */
  setReplyMode(mode: ReplyMode): void {
    this.order.setMode(mode);
  }

  /** Whether the client waits: on a blocking command (BLPOP ...) or for CLIENT PAUSE to end. */
  get blocked(): boolean {
    const waits = this.waits;
    return waits.postponed !== null || (waits.exclusiveStarted && waits.exclusive?.unblock !== undefined);
  }

  /** CLIENT UNBLOCK on this client: whether it was blocked on a command that can be unblocked. */
  unblock(withError: boolean): Promise<boolean> {
    const call = this.waits.exclusive;
    if (!this.waits.exclusiveStarted || call?.unblock === undefined) return Promise.resolve(false);
    return call.unblock(withError);
  }

  /**
   * Hold `frame` until `resume` is called (CLIENT PAUSE): no later request is taken
   * meanwhile, as redis-server postpones a paused client's command.
   */
  postpone(frame: RequestFrame): void {
    this.waits.postponed = {
      raw: Buffer.from(frame.raw),
      argc: frame.argc,
      offsets: Array.from(frame.offsets),
      inline: frame.inline,
    };
    this.stall |= STALL_PAUSED;
  }

  /** The pause is over: run the held request, then take frames again. */
  resume(): void {
    const frame = this.waits.postponed;
    if (frame === null || this.released) return;
    this.waits.postponed = null;
    this.stall &= ~STALL_PAUSED;
    this.dispatch(frame, { at: readTime() });
    this.unstall(0);
  }

  private onData(chunk: Buffer): void {
    if (this.released) return; // closing: what it still sends is not read, only drained
    this.info.lastActiveAt = Date.now(); // per read, as Redis's lastinteraction: not per request
    this.scanner.feed(chunk);
    if (this.stall === 0) this.processFrames();
    else {
      if (this.scanner.bufferedBytes >= STALLED_READAHEAD) this.stopReading();
      this.account();
    }
  }

  private processFrames(): void {
    // Re-entered when a dispatch answers synchronously and lifts a stall: the loop below goes on.
    if ((this.flow & FLOW_PROCESSING) !== 0) return;
    this.flow |= FLOW_PROCESSING;
    // One clock read for the frames taken now (see net/read-clock.ts): their request time.
    // Frames a stalled session held back count from when it takes them again.
    const received: RequestTime = { at: readTime() };
    const scanner = this.scanner;
    const order = this.order;
    try {
      while (this.stall === 0) {
        const frame = scanner.next();
        if (frame === null) break;
        if (frame instanceof ProtocolError) {
          this.replyAndClose(encodeError(`ERR ${frame.message}`));
          break;
        }
        if (frame.argc === 0) continue;
        this.host.countCommand();
        this.dispatch(frame, received);
        if (order.overBudget()) this.stall |= STALL_OWED;
      }
    } catch (err) {
      // Not a handler (dispatch catches those): the scanner, whose state is unknown now.
      this.replyAndClose(this.host.runtime.faults.reply(err, 'reading a request'));
    }
    this.flow &= ~FLOW_PROCESSING;
    if (this.stall !== 0 && scanner.bufferedBytes >= STALLED_READAHEAD) this.stopReading();
    this.account();
  }

  /** One request; a handler that throws costs that request an -ERR, in its place in the order. */
  private dispatch(frame: RequestFrame, received: RequestTime): void {
    const order = this.order;
    const before = order.produced;
    order.beginRequest();
    this.calledCommand = undefined;
    try {
      this.host.dispatch(this, frame);
    } catch (err) {
      const reply = this.host.runtime.faults.reply(err, `command '${argString(frame, 0).slice(0, 64)}'`);
      if (order.produced === before) this.reply(reply);
      else order.lastSlot?.deliver(reply); // a no-op if it was answered after all
    }
    const cmd = this.calledCommand;
    if (cmd !== undefined) this.startTiming(cmd, before, received);
  }

  /**
   * A call was counted for the request just dispatched: its reply slot, still waiting,
   * records the time once filled; a request answered already (by the proxy) records it now.
   */
  private startTiming(cmd: CommandInfo, repliesBefore: number, received: RequestTime): void {
    const slot = this.order.lastSlot;
    if (this.order.produced !== repliesBefore && slot !== null && slot.reply === null) {
      slot.timed = cmd;
      slot.requestTime = received;
    } else {
      this.host.commandStats.timed(cmd, performance.now() - received.at);
    }
  }

  private onSocketDrain(): void {
    this.account();
    if ((this.stall & STALL_RETAINED) !== 0 && this.order.unwritten < RETAINED_HIGH / 2) this.unstall(STALL_RETAINED);
  }

  private unstall(bit: number): void {
    this.stall &= ~bit;
    if (this.stall !== 0) return;
    this.processFrames();
    if (this.stall === 0 || this.scanner.bufferedBytes < STALLED_READAHEAD) this.startReading();
  }

  private stopReading(): void {
    if ((this.flow & FLOW_READING) === 0) return;
    this.flow &= ~FLOW_READING;
    this.socket.pause();
  }

  private startReading(): void {
    if ((this.flow & FLOW_READING) !== 0 || this.released) return;
    this.flow |= FLOW_READING;
    this.socket.resume();
  }

  /** Everything owed is written: close, and stop counting this client now. */
  private endAndRelease(): void {
    const socket = this.socket;
    this.release();
    // The socket goes as soon as its last bytes are with the kernel; a client that does
    // not take them does not keep it open for long. (socket.end() alone only half-closes,
    // and a socket that is not reading would wait for the client's FIN forever.)
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.end(() => socket.destroy());
    // Drain (and drop, see onData) what the client still sends: a close with unread
    // input would be a RST, which may cost the client the reply it has not read yet.
    socket.resume();
  }

  /** The client is gone or done: cancel what runs on its behalf, drop what is held for it, free its place. */
  private release(): void {
    if (this.released) return;
    this.stall |= STALL_RELEASED;
    const waits = this.waits;
    waits.postponed = null;
    const call = waits.exclusive;
    waits.exclusive = null;
    call?.cancel();
    this.tx?.abandon();
    if (waits.congestedOn !== null) {
      waits.congestedOn.cancelDrainWait(this);
      waits.congestedOn = null;
    }
    this.order.clear();
    this.host.clientMemory.add(-this.info.memoryBytes);
    this.info.memoryBytes = 0;
    this.pubsub?.leaveAll();
    this.host.sessionClosed(this);
  }
}
