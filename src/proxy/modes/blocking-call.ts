/**
 * BlockingCall: one blocking command (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...) on a
 * backend connection of its own, so that its wait never stalls the shared pipeline.
 *
 * The session decides *when* it runs (after every earlier reply, as redis-server would
 * run it after the client's earlier commands) and cancels it if the client leaves; this
 * module owns the connection: it takes one from the pool (bounded by
 * --max-blocking-clients), releases it when the reply is in, and closes it when cancelled,
 * so the node drops the command instead of popping an element on behalf of nobody.
 * A MOVED/ASK/TRYAGAIN/CLUSTERDOWN on its connection is followed like any other request's
 * (the router says where), on a dedicated connection to the node it points to.
 */
import { isClusterError, type BackendConnection } from '../../backend/connection.js';
import type { BackendPool } from '../../backend/pool.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import { encodeCommand, encodeError, type Protocol } from '../../resp/encode.js';
import { integerOf } from '../datapath/reply-merge.js';
import type { ClientLink, ExclusiveCall, ExclusiveOwner } from '../datapath/client-link.js';
import { clientClusterError, sendFollowUp, type RedirectFollower } from '../datapath/redirects.js';

const tooMany = new Map<number, Buffer>();

/** Redis's wording for maxclients, scoped to what ran out. */
function tooManyBlocking(limit: number): Buffer {
  let reply = tooMany.get(limit);
  if (reply === undefined) {
    reply = encodeError(`ERR max number of blocking clients reached (--max-blocking-clients ${limit})`);
    tooMany.set(limit, reply);
  }
  return reply;
}

const CLIENT_ID = encodeCommand(['CLIENT', 'ID']);

/**
 * CLIENT UNBLOCK of a client blocked through the proxy is CLIENT UNBLOCK of its dedicated
 * connection on the node: the node ends the wait with its own reply (nil or -UNBLOCKED),
 * so an element it popped just before is never lost, as closing the connection could.
 * The node's client id of that connection is asked for in the same write as the command.
 */
export class BlockingCall implements ExclusiveCall, ReplySink {
  private state: 'waiting' | 'running' | 'done' = 'waiting';
  private conn: BackendConnection | null = null;
  private owner: ExclusiveOwner | null = null;
  private attempts = 0;
  private since = 0;
  /** The node's id of the dedicated connection (CLIENT ID), once known. */
  private nodeClientId: number | undefined;
  /** An UNBLOCK asked for before the node's id was known: sent once it is. */
  private pendingUnblock: { withError: boolean; resolve: (unblocked: boolean) => void } | undefined;

  constructor(
    private pool: BackendPool,
    private readonly raw: Buffer,
    private readonly slot: ReplySink,
    private readonly redirects: RedirectFollower,
    /** The client's protocol: the node answers in it on the dedicated connection. */
    private readonly protocol: Protocol,
  ) {}

  start(owner: ExclusiveOwner): void {
    if (this.state !== 'waiting') return;
    this.owner = owner;
    this.run(false);
  }

  private run(asking: boolean): void {
    const conn = this.pool.acquireDedicated(this.protocol);
    if (conn === null) {
      this.finish(tooManyBlocking(this.pool.maxDedicated));
      return;
    }
    this.state = 'running';
    this.conn = conn;
    this.nodeClientId = undefined;
    conn.send(CLIENT_ID, { deliver: (reply) => this.idKnown(conn, reply) });
    sendFollowUp(conn, asking, this.raw, this);
  }

  private idKnown(conn: BackendConnection, reply: Buffer): void {
    if (this.conn !== conn) return;
    const id = integerOf(reply);
    this.nodeClientId = Number.isNaN(id) ? undefined : id;
    const pending = this.pendingUnblock;
    this.pendingUnblock = undefined;
    if (pending !== undefined) void this.unblock(pending.withError).then(pending.resolve);
  }

  unblock(withError: boolean): Promise<boolean> {
    const conn = this.conn;
    if (this.state !== 'running' || conn === null) return Promise.resolve(false);
    if (this.nodeClientId === undefined) {
      this.pendingUnblock?.resolve(false);
      return new Promise((resolve) => (this.pendingUnblock = { withError, resolve }));
    }
    const request = encodeCommand(['CLIENT', 'UNBLOCK', String(this.nodeClientId), withError ? 'ERROR' : 'TIMEOUT']);
    return new Promise((resolve) => {
      this.pool.controlConnection().send(request, { deliver: (reply) => resolve(integerOf(reply) === 1) });
    });
  }

  /** The dedicated connection's reply (or its -ERR when it failed). */
  deliver(reply: Buffer): void {
    const conn = this.conn;
    if (this.state !== 'running' || conn === null) return; // cancelled: the -ERR of our own close
    this.conn = null;
    this.pool.release(conn);
    if (this.attempts === 0) this.since = Date.now();
    const next = reply[0] === 0x2d /* '-' */ && isClusterError(reply) ? this.redirects.followUp(reply, conn.endpoint, ++this.attempts, this.since) : undefined;
    if (next === undefined) {
      this.finish(clientClusterError(reply));
      return;
    }
    // Not done yet: the command goes where the cluster says (the client stays blocked).
    this.state = 'waiting';
    this.pool = next.pool;
    const again = (): void => {
      if (this.state === 'waiting') this.run(next.asking);
    };
    if (next.delayMs === 0) again();
    else setTimeout(again, next.delayMs).unref();
  }

  cancel(): void {
    const conn = this.conn;
    this.state = 'done';
    this.pendingUnblock?.resolve(false);
    this.pendingUnblock = undefined;
    this.conn = null;
    if (conn !== null) {
      conn.close('client disconnected');
      this.pool.release(conn);
    }
  }

  private finish(reply: Buffer): void {
    this.state = 'done';
    this.pendingUnblock?.resolve(false);
    this.pendingUnblock = undefined;
    this.slot.deliver(reply);
    this.owner?.exclusiveDone();
  }
}

/** Run a blocking command for `session` on a dedicated connection to `pool`'s master. */
export function runBlocking(session: ClientLink, pool: BackendPool, raw: Buffer, redirects: RedirectFollower): void {
  session.runExclusive(new BlockingCall(pool, raw, session.openSlot(), redirects, session.protocol));
}
