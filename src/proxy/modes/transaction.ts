/**
 * Transactions: MULTI/EXEC/DISCARD and WATCH/UNWATCH, as a Redis Cluster node runs them.
 *
 * A transaction lives on one node's connection, so a client in one is pinned to a
 * dedicated backend connection (BackendPool.acquireDedicated, bounded like blocking
 * commands by --max-blocking-clients) to the master of the transaction's slot. The slot is
 * known at the first keyed command (WATCH k, or the first keyed command queued): what
 * comes before it (MULTI, keyless commands such as PING) is answered +OK/+QUEUED here and
 * sent ahead of it once the connection is pinned, so the node sees the client's sequence.
 * A transaction without any key runs on the session's keyless master.
 *
 * Redis Cluster's rules, as one node that owns every slot applies them (checked against
 * redis-server 7.0.15):
 * - a queued command whose own keys hash to different slots gets -CROSSSLOT at once, and
 *   EXEC answers EXECABORT (a queuing error, like an unknown command or a wrong arity);
 * - a queued command of another slot than the transaction's gets +QUEUED, and EXEC answers
 *   -CROSSSLOT and discards the transaction (the node checks the queued commands' slots
 *   at EXEC); it is kept here, never sent;
 * - WATCH of keys in two slots, or in another slot than the transaction's: -CROSSSLOT.
 * Across a cluster the proxy adds one rule: a redirect (MOVED/ASK/TRYAGAIN/CLUSTERDOWN) or
 * a lost connection on the pinned connection means the node's state is not what the
 * client built, so that command gets an error saying so and EXEC answers EXECABORT without
 * being sent. A redirect is never followed inside a transaction, and an EXEC is sent only
 * when every queued command was +QUEUED: never a half-applied EXEC.
 *
 * EXEC and WATCH run as exclusive calls (session.runExclusive): after every earlier reply
 * of the client, so what the client sent before them on the shared connections has run
 * (its own write before a WATCH does not abort its EXEC), and with no later request taken
 * until they are answered, so what it sends after EXEC sees the transaction's effects.
 *
 * CONFIG SET inside MULTI is queued (+QUEUED) and run by the proxy on every node right after
 * the node's EXEC, its reply put at its place in EXEC's array (not if EXEC aborted): the node
 * cannot run it for the whole cluster, and refusing it would leave the client in MULTI with
 * a transaction it did not build. It is not atomic with the queued commands.
 *
 * The pinned connection goes back to the pool only in a clean state: after EXEC's reply
 * (EXEC ends MULTI and drops the watches, whatever it answers), or after a DISCARD/UNWATCH
 * the proxy sends and sees +OK for. A client that leaves mid-transaction has its
 * connection closed instead: the node then drops the MULTI state and the watches at once,
 * whatever was still in flight on it, with nothing to wait for on behalf of nobody.
 */
import type { RequestFrame } from '../../resp/frame.js';
import { encodeArray, encodeCommand, encodeError, OK, QUEUED } from '../../resp/encode.js';
import { arityOk, type CommandInfo } from '../../commands/command-table.js';
import { isClusterError, isUnreachableReply, type BackendConnection } from '../../backend/connection.js';
import { withoutAddress } from '../../backend/unreachable.js';
import type { BackendPool } from '../../backend/pool.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import { unpinned } from '../../net/slab-reader.js';
import type { ClientLink, ExclusiveCall, ExclusiveOwner } from '../datapath/client-link.js';
import { arityError } from '../request-checks.js';
import { CROSS_SLOTS, CROSSSLOT, NO_KEYS, type Router } from '../datapath/router.js';
import { arrayElements } from '../../resp/reply-value.js';

const MULTI = encodeCommand(['MULTI']);
const EXEC = encodeCommand(['EXEC']);
const DISCARD = encodeCommand(['DISCARD']);
const UNWATCH = encodeCommand(['UNWATCH']);

const NESTED = encodeError('ERR MULTI calls can not be nested');
export const EXEC_WITHOUT_MULTI = encodeError('ERR EXEC without MULTI');
export const DISCARD_WITHOUT_MULTI = encodeError('ERR DISCARD without MULTI');
const WATCH_INSIDE_MULTI = encodeError('ERR WATCH inside MULTI is not allowed');
const EXECABORT = encodeError('EXECABORT Transaction discarded because of previous errors.');
/** Redis's refusal of a `no-multi` command (SAVE, SHUTDOWN, ...) inside MULTI. */
export const NOT_ALLOWED_IN_MULTI = encodeError('ERR Command not allowed inside a transaction');

/**
 * Commands the proxy usually answers itself that join a transaction instead: the node runs
 * them inside EXEC, as Redis would (UNWATCH inside MULTI is queued by Redis too). EVAL and
 * EVALSHA have handlers (the script registry, the NOSCRIPT retry) but inside MULTI they are
 * queued like any keyed command; an unknown sha fails at EXEC, as on one Redis. PUBLISH and
 * SPUBLISH too (applications publish inside transactions).
 */
export const QUEUED_ON_NODE: ReadonlySet<string> = new Set([
  'ping',
  'echo',
  'time',
  'select',
  'unwatch',
  'eval',
  'eval_ro',
  'evalsha',
  'evalsha_ro',
  // Published by the node at EXEC: the cluster relays it to the node the proxy listens on, so
  // the proxy's subscribers get it; EXEC's count is the node's (its subscriber is the proxy).
  'publish',
  'spublish',
]);

/** A command the proxy answers itself that a transaction runs right after the node's EXEC (see the module comment). */
export type AfterExecCommand = (frame: RequestFrame) => Promise<Buffer>;

/** What a transaction needs of the proxy around it. */
export interface TransactionScope {
  readonly router: Router;
  /** The command run after EXEC by this name (CONFIG SET), bound to the client; undefined for the node's commands. */
  afterExec(name: string): AfterExecCommand | undefined;
  /**
   * Where EXEC's reply goes: `sink`, or a sink that passes it on once the invalidations of the
   * transaction's changes have reached the clients tracking keys (modes/tracking-hub.ts).
   */
  afterChanges(sink: ReplySink): ReplySink;
}

/** The client a transaction is of. */
export interface TransactionClient extends ClientLink {
  /** Its transaction under way: this one until it ends. */
  tx: Transaction | null;
}

/** A command the proxy answers itself, refused inside MULTI: run here, it would not be part of the transaction. */
export function notInTransaction(name: string): Buffer {
  return encodeError(
    `ERR '${name.replace('|', ' ').toUpperCase()}' inside MULTI is not supported by interface-hash-server: the proxy answers it itself, outside the transaction`,
  );
}

function tooManyPinned(limit: number): Buffer {
  return encodeError(`ERR max number of clients in a transaction or blocked reached (--max-blocking-clients ${limit})`);
}

/** What a redirect on the pinned connection means to the client: its transaction is gone. */
function clusterChanged(reply: Buffer, exec: boolean): Buffer {
  // MOVED/ASK name an internal node: the client is told the kind of change, not where.
  const what = withoutAddress(reply.toString('latin1', 1, reply.length - 2));
  return encodeError(
    exec
      ? `EXECABORT Transaction discarded because the cluster changed meanwhile (${what}), try it again`
      : `ERR transaction aborted because the cluster changed meanwhile (${what}), try it again`,
  );
}

/** What the dispatcher knows of a request, for Redis's checks at queuing time. */
export interface QueuingCheck {
  /** The error this request gets inside MULTI instead of +QUEUED; null when it joins the transaction. */
  queuingError(frame: RequestFrame, cmd: CommandInfo | undefined): Buffer | null;
}

/** How a reply on the pinned connection is read. */
const DIRECT = 0; // outside MULTI (WATCH, a command while watching): the client gets it as it is
const QUEUE = 1; // a command queued in MULTI: +QUEUED, or a queuing error
const BEGIN = 2; // the MULTI the proxy sends: +OK

/** Where a reply on the pinned connection goes: through the transaction (which learns from it) to `target`. */
class PinnedReply implements ReplySink {
  constructor(
    private readonly tx: Transaction,
    private readonly kind: number,
    private readonly target: ReplySink | null,
  ) {}

  deliver(reply: Buffer): void {
    const out = this.tx.replyFromNode(reply, this.kind);
    this.target?.deliver(out);
  }
}

/** The state of one client's transaction, from MULTI or its first WATCH to EXEC, DISCARD, UNWATCH or RESET. */
export class Transaction {
  /** Between MULTI and EXEC/DISCARD: requests are queued, not run. */
  inMulti = false;
  /** Commands queued since MULTI (CLIENT LIST's `multi=`). */
  queued = 0;
  /** The slot of the transaction's keys; NO_KEYS until its first keyed command. */
  private slot = NO_KEYS;
  private pool: BackendPool | null = null;
  private conn: BackendConnection | null = null;
  /** MULTI went out on the pinned connection: DISCARD (not UNWATCH) cleans it. */
  private backendInMulti = false;
  /** Keyless commands queued before the connection was pinned, sent after MULTI once it is. */
  private pending: Buffer[] = [];
  /** A WATCH was answered +OK: the node watches keys for this client. */
  private watching = false;
  /** A queuing error (Redis's CLIENT_DIRTY_EXEC): EXEC answers EXECABORT. */
  private dirty = false;
  /** A command of another slot was queued: EXEC answers CROSSSLOT. */
  private crossSlot = false;
  /**
   * The pinned connection could not be had, was lost or redirected: the node's watches and
   * queue are not what the client built. The reply that says why, for what comes next.
   */
  private broken: Buffer | null = null;
  private ended = false;
  /** RUN_AFTER_EXEC commands queued: their place in EXEC's reply, and a copy of the request. */
  private afterExec: { at: number; frame: RequestFrame; run: AfterExecCommand }[] = [];

  constructor(
    private readonly scope: TransactionScope,
    private readonly session: TransactionClient,
  ) {}

  /** Whether this request is the transaction's; if not, the dispatcher handles it as usual. */
  takes(cmd: CommandInfo | undefined): boolean {
    if (cmd === undefined) return this.inMulti;
    if (cmd.name === 'quit' || cmd.name === 'reset') return false; // they end it (the session, RESET)
    return this.inMulti || cmd.hasKeys || TRANSACTION_COMMANDS.has(cmd.name);
  }

  /** A request refused before it reached the transaction (ACL): inside MULTI, EXEC answers EXECABORT, as Redis's rejectCommand flags it. */
  refused(reply: Buffer): void {
    if (this.inMulti) this.dirty = true;
    this.session.reply(reply);
  }

  handle(frame: RequestFrame, cmd: CommandInfo | undefined, check: QueuingCheck): void {
    const name = cmd?.name;
    if (cmd !== undefined && TRANSACTION_COMMANDS.has(cmd.name) && !(name === 'unwatch' && this.inMulti)) {
      if (!arityOk(cmd, frame.argc)) {
        if (this.inMulti) this.dirty = true;
        this.session.reply(encodeError(arityError(cmd.name)));
      } else if (name === 'multi') this.multi();
      else if (name === 'exec') this.exec();
      else if (name === 'discard') this.discard();
      else if (name === 'watch') this.watch(frame, cmd);
      else this.unwatch();
      return;
    }
    if (!this.inMulti) {
      this.whileWatching(frame, cmd!);
      return;
    }
    const error = check.queuingError(frame, cmd);
    if (error !== null) {
      this.dirty = true;
      this.session.reply(error);
      return;
    }
    this.queue(frame, cmd!);
  }

  // --- the client's commands ---------------------------------------------------------

  multi(): void {
    if (this.inMulti) {
      this.session.reply(NESTED);
      return;
    }
    this.inMulti = true;
    this.queued = 0;
    if (this.conn !== null) this.beginOnNode(this.conn);
    this.session.reply(OK);
  }

  private exec(): void {
    if (!this.inMulti) {
      this.session.reply(EXEC_WITHOUT_MULTI);
      return;
    }
    // Still in MULTI until it runs: no request is taken meanwhile.
    this.session.runExclusive(new ExclusiveStep((sink) => this.execNow(sink), this.session.openSlot()));
  }

  private discard(): void {
    if (!this.inMulti) {
      this.session.reply(DISCARD_WITHOUT_MULTI);
      return;
    }
    this.end();
    this.session.reply(OK);
  }

  private unwatch(): void {
    this.end();
    this.session.reply(OK);
  }

  watch(frame: RequestFrame, cmd: CommandInfo): void {
    if (this.inMulti) {
      this.session.reply(WATCH_INSIDE_MULTI);
      return;
    }
    const slot = this.scope.router.keysSlot(cmd, frame);
    if (slot === CROSS_SLOTS || (this.slot !== NO_KEYS && slot !== this.slot)) {
      this.session.reply(CROSSSLOT);
      if (this.slot === NO_KEYS) this.end(); // a first WATCH refused: no transaction
      return;
    }
    this.slot = slot;
    const raw = frame.raw;
    this.session.runExclusive(new ExclusiveStep((sink) => this.watchNow(raw, sink), this.session.openSlot()));
  }

  /** Watching, not in MULTI: the watched slot's commands go to its connection (in order with WATCH and EXEC), the rest as usual. */
  private whileWatching(frame: RequestFrame, cmd: CommandInfo): void {
    const conn = this.conn;
    if (conn !== null && this.broken === null && this.scope.router.keysSlot(cmd, frame) === this.slot) {
      if (!conn.send(frame.raw, new PinnedReply(this, DIRECT, this.session.openSlot()))) this.session.waitForBackend(conn);
    } else {
      this.scope.router.forward(this.session, frame, cmd);
    }
  }

  private queue(frame: RequestFrame, cmd: CommandInfo): void {
    const slot = cmd.hasKeys ? this.scope.router.keysSlot(cmd, frame) : NO_KEYS;
    if (slot === CROSS_SLOTS) {
      this.dirty = true;
      this.session.reply(CROSSSLOT);
      return;
    }
    const run = this.scope.afterExec(cmd.name);
    if (run !== undefined) {
      const copy = { raw: Buffer.from(frame.raw), argc: frame.argc, offsets: Array.from(frame.offsets), inline: frame.inline };
      this.afterExec.push({ at: this.queued++, frame: copy, run });
      this.session.reply(QUEUED);
      return;
    }
    this.queued++;
    if (slot !== NO_KEYS && this.slot === NO_KEYS) this.slot = slot;
    else if (slot !== NO_KEYS && slot !== this.slot) {
      this.crossSlot = true;
      this.session.reply(QUEUED);
      return;
    }
    if (this.broken !== null) {
      this.session.reply(this.broken);
      return;
    }
    if (this.conn === null) {
      if (this.slot === NO_KEYS) {
        this.pending.push(unpinned(frame.raw)); // kept until a key comes, maybe long: not with its read slab
        this.session.reply(QUEUED);
        return;
      }
      const refused = this.pin();
      if (refused !== null) {
        this.session.reply(refused);
        return;
      }
    }
    const conn = this.conn!;
    if (!conn.send(frame.raw, new PinnedReply(this, QUEUE, this.session.openSlot()))) this.session.waitForBackend(conn);
  }

  // --- the pinned connection -----------------------------------------------------------

  /**
   * Take a connection of its own to the master of the transaction's slot, and send it what
   * the client queued so far. Returns the error that makes the transaction fail when none
   * can be had (it is then broken).
   */
  pin(): Buffer | null {
    const target = this.scope.router.poolForSlot(this.session, this.slot);
    if (Buffer.isBuffer(target)) {
      this.broken = target;
      return target;
    }
    const conn = target.acquireDedicated(this.session.protocol);
    if (conn === null) {
      this.broken = tooManyPinned(target.maxDedicated);
      return this.broken;
    }
    this.pool = target;
    this.conn = conn;
    if (this.inMulti) this.beginOnNode(conn);
    return null;
  }

  private beginOnNode(conn: BackendConnection): void {
    this.backendInMulti = true;
    conn.send(MULTI, new PinnedReply(this, BEGIN, null));
    conn.queuing = true;
    for (const raw of this.pending) conn.send(raw, new PinnedReply(this, QUEUE, null));
    this.pending = [];
  }

  /** A reply on the pinned connection: what it says about the node's state, and what the client gets for it. */
  replyFromNode(reply: Buffer, kind: number): Buffer {
    if (kind === QUEUE && reply.equals(QUEUED)) return reply;
    if (kind === BEGIN && reply.equals(OK)) return reply;
    if (reply[0] === 0x2d /* '-' */) {
      if (isClusterError(reply)) {
        this.noteClusterError(reply);
        this.broken = clusterChanged(reply, false);
        return this.broken;
      }
      if (isUnreachableReply(reply)) {
        this.broken = reply;
        return reply;
      }
      if (kind === QUEUE) this.dirty = true; // the node flagged its transaction too
    }
    // MULTI refused, or a queued command answered as if run: the node's state is not what the
    // proxy thinks, and what comes next could run outside a transaction. The connection goes.
    if (kind === BEGIN || (kind === QUEUE && reply[0] !== 0x2d)) {
      this.broken = encodeError('ERR transaction aborted: its backend connection was out of step, try it again');
      this.dropConnection('transaction out of step');
    }
    return reply;
  }

  /** A redirect tells the router the slot map moved (a MOVED updates it); the transaction itself does not follow it. */
  private noteClusterError(reply: Buffer): void {
    if (this.pool !== null) this.scope.router.followUp(reply, this.pool.endpoint, 1, Date.now());
  }

  /** EXEC, once every earlier reply is in: what the client gets, and whether it is sent at all. */
  execNow(sink: ReplySink): void {
    if (this.ended) {
      sink.deliver(EXECABORT);
      return;
    }
    let refused: Buffer | null = null;
    if (this.crossSlot) refused = CROSSSLOT;
    else if (this.broken !== null || this.dirty) refused = EXECABORT;
    else if (this.conn === null) refused = this.pin(); // keyless: nothing pinned it yet
    if (refused !== null) {
      this.end();
      sink.deliver(refused);
      return;
    }
    const conn = this.conn!;
    const pool = this.pool!;
    const slot = this.slot;
    const afterExec = this.afterExec;
    this.conn = null;
    this.finish();
    conn.queuing = false; // EXEC runs the queued writes: it is the write --ack replica acknowledges
    const answered = this.scope.afterChanges(sink);
    conn.send(EXEC, {
      deliver: (reply: Buffer): void => {
        // EXEC ends MULTI and drops the watches whatever it answers: the connection is clean.
        pool.release(conn);
        // Before the reply reaches the client: the client's reads after it see its writes (read your writes).
        this.scope.router.transactionWrote(this.session, slot);
        if (reply[0] === 0x2d && isClusterError(reply)) {
          this.noteClusterError(reply);
          answered.deliver(clusterChanged(reply, true));
        } else if (afterExec.length > 0) {
          // EXEC is an exclusive step: its slot must be filled whatever happens, or the session waits for ever.
          void this.withAfterExec(reply, afterExec).then(
            (merged) => answered.deliver(merged),
            (err: unknown) => answered.deliver(this.session.runtime.faults.reply(err, 'running CONFIG SET after EXEC')),
          );
        } else {
          answered.deliver(reply);
        }
      },
    });
  }

  /** EXEC's reply with the RUN_AFTER_EXEC commands run, one after the other, and their replies at their places. */
  private async withAfterExec(reply: Buffer, afterExec: Transaction['afterExec']): Promise<Buffer> {
    const elems = arrayElements(reply);
    if (elems === null) return reply; // aborted (a watched key changed): nothing runs
    const out = [...elems];
    for (const { at, frame, run } of afterExec) out.splice(at, 0, await run(frame));
    return encodeArray(out);
  }

  /** WATCH, once every earlier reply is in: on the pinned connection, pinned now if it is the first. */
  watchNow(raw: Buffer, sink: ReplySink): void {
    if (this.ended) {
      sink.deliver(encodeError('ERR transaction ended'));
      return;
    }
    if (this.broken !== null) {
      sink.deliver(this.broken);
      return;
    }
    if (this.conn === null) {
      const refused = this.pin();
      if (refused !== null) {
        if (!this.watching) this.end(); // nothing is watched: the client is in no transaction
        sink.deliver(refused);
        return;
      }
    }
    this.conn!.send(raw, {
      deliver: (reply: Buffer): void => {
        const out = this.replyFromNode(reply, DIRECT);
        if (out.equals(OK)) this.watching = true;
        else if (!this.watching) this.end(); // a first WATCH that failed: the client is in no transaction
        sink.deliver(out);
      },
    });
  }

  /**
   * The transaction is over (DISCARD, UNWATCH, RESET, a refused EXEC): the pinned connection
   * goes back to the pool once DISCARD/UNWATCH answered +OK on it, or is closed when its
   * state is in doubt.
   */
  end(): void {
    this.finish();
    const conn = this.conn;
    const pool = this.pool;
    this.conn = null;
    if (conn === null || pool === null) return;
    if (this.broken !== null) {
      conn.close('transaction ended');
      pool.release(conn);
      return;
    }
    conn.queuing = false;
    conn.send(this.backendInMulti ? DISCARD : UNWATCH, {
      deliver(reply: Buffer): void {
        if (!reply.equals(OK)) conn.close('transaction ended in doubt');
        pool.release(conn);
      },
    });
  }

  /** The client left: close the pinned connection, so the node drops the MULTI state and watches at once. */
  abandon(): void {
    this.finish();
    this.dropConnection('client left its transaction');
  }

  private dropConnection(reason: string): void {
    const conn = this.conn;
    this.conn = null;
    if (conn === null) return;
    conn.close(reason);
    this.pool!.release(conn);
  }

  private finish(): void {
    this.ended = true;
    this.inMulti = false;
    this.pending = [];
    this.afterExec = [];
    if (this.session.tx === this) this.session.tx = null;
  }
}

/**
 * EXEC or WATCH as an exclusive call: run once every earlier reply of the client is in, and
 * no later request taken until it is answered (see the module comment).
 */
class ExclusiveStep implements ExclusiveCall, ReplySink {
  private owner: ExclusiveOwner | null = null;
  private done = false;

  constructor(
    private readonly run: (sink: ReplySink) => void,
    private readonly slot: ReplySink,
  ) {}

  start(owner: ExclusiveOwner): void {
    this.owner = owner;
    this.run(this);
  }

  deliver(reply: Buffer): void {
    if (this.done) return;
    this.done = true;
    this.slot.deliver(reply);
    this.owner?.exclusiveDone();
  }

  cancel(): void {
    this.done = true; // the session abandons the transaction too, which closes its connection
  }
}

/** The commands that start, end or run a transaction (commands/transaction-commands.ts answers them outside one). */
export const TRANSACTION_COMMANDS: ReadonlySet<string> = new Set(['multi', 'exec', 'discard', 'watch', 'unwatch']);
