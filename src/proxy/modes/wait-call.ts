/**
 * WAIT numreplicas timeout, through the proxy.
 *
 * Redis's WAIT counts the replicas that acknowledged the calling connection's last write.
 * Through the proxy that connection is shared by many clients (a WAIT there would hold
 * all of them up for the timeout), and a fresh connection has written nothing (its WAIT
 * returns at once). So the proxy does what WAIT does, from outside:
 *
 * 1. the target: `INFO replication` on the client's own shared connection to the master
 *    it last wrote to, sent after every earlier reply of the client is in, so its
 *    master_repl_offset covers the client's writes (and maybe others' since: waiting for
 *    a little more is safe, never less);
 * 2. the count: the replicas whose acknowledged offset (`slaveN:...offset=`) reaches it;
 * 3. until the count is reached or the timeout passes: `WAIT <more than any> <step>` on a
 *    dedicated connection, which makes the master ask its replicas for an ACK at once
 *    (REPLCONF GETACK, as WAIT does) and returns after the step, then the count again.
 *
 * A client that never wrote waits for the replicas of the master it sends keyless
 * commands to, with target offset 0 (Redis: every connected replica counts). Like WAIT,
 * it blocks the client (CLIENT UNBLOCK ends it with the count so far, or -UNBLOCKED).
 */
import { encodeCommand, encodeError, encodeInteger } from '../../resp/encode.js';
import { decodeReply } from '../../resp/reply-value.js';
import type { BackendConnection } from '../../backend/connection.js';
import type { BackendPool } from '../../backend/pool.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import type { ClientLink, ExclusiveCall, ExclusiveOwner } from '../datapath/client-link.js';
import type { ProxyContext } from '../context.js';

const INFO_REPLICATION = encodeCommand(['INFO', 'replication']);
/** How long each WAIT on the dedicated connection blocks before the count is read again. */
const STEP_MS = 20;
/** More replicas than any master has: the master's WAIT always waits out its step. */
const FORCE_ACK = encodeCommand(['WAIT', '1000000', String(STEP_MS)]);
const UNBLOCKED = encodeError('UNBLOCKED client unblocked via CLIENT UNBLOCK');
const NO_MASTER = encodeError('CLUSTERDOWN The cluster is down');

interface ReplicationState {
  masterOffset: number;
  /** Acknowledged offsets of the online replicas. */
  replicaOffsets: number[];
}

/** master_repl_offset and the online replicas' offsets from an INFO replication reply. */
export function parseReplication(text: string): ReplicationState {
  let masterOffset = 0;
  const replicaOffsets: number[] = [];
  for (const line of text.split('\r\n')) {
    if (line.startsWith('master_repl_offset:')) masterOffset = Number(line.slice(19));
    else if (/^slave\d+:/.test(line)) {
      const fields = new Map(line.slice(line.indexOf(':') + 1).split(',').map((kv) => kv.split('=') as [string, string]));
      if (fields.get('state') === 'online') replicaOffsets.push(Number(fields.get('offset') ?? -1));
    }
  }
  return { masterOffset, replicaOffsets };
}

function infoText(reply: Buffer): string | undefined {
  if (reply[0] === 0x2d /* '-' */) return undefined;
  const v = decodeReply(reply);
  return Buffer.isBuffer(v) ? v.toString('latin1') : undefined;
}

class WaitCall implements ExclusiveCall {
  private state: 'waiting' | 'running' | 'done' = 'waiting';
  private target = 0;
  private acked = 0;
  private deadline = Infinity;
  private conn: BackendConnection | null = null;
  private owner: ExclusiveOwner | null = null;

  constructor(
    private readonly session: ClientLink,
    private readonly pool: BackendPool,
    /** Whether the client wrote: otherwise the target offset is 0. */
    private readonly wrote: boolean,
    private readonly wanted: number,
    private readonly timeoutMs: number,
    private readonly slot: ReplySink,
  ) {}

  start(owner: ExclusiveOwner): void {
    if (this.state !== 'waiting') return;
    this.owner = owner;
    this.state = 'running';
    if (this.timeoutMs > 0) this.deadline = Date.now() + this.timeoutMs;
    // The client's own connection (its protocol's): the offset read there is after its writes.
    const conn = this.pool.connectionFor(this.session.id, this.session.protocol);
    conn.send(INFO_REPLICATION, { deliver: (reply) => this.counted(reply, true) });
  }

  private counted(reply: Buffer, first: boolean): void {
    if (this.state !== 'running') return;
    const text = infoText(reply);
    if (text === undefined) return this.finish(reply[0] === 0x2d ? reply : NO_MASTER);
    const state = parseReplication(text);
    if (first && this.wrote) this.target = state.masterOffset;
    this.acked = state.replicaOffsets.filter((o) => o >= this.target).length;
    if (this.acked >= this.wanted || Date.now() >= this.deadline) return this.finish(encodeInteger(this.acked));
    if (this.conn === null) {
      this.conn = this.pool.acquireDedicated(2);
      // No dedicated connection to spare: the count now, as WAIT's timeout would give it.
      if (this.conn === null) return this.finish(encodeInteger(this.acked));
    }
    this.conn.send(FORCE_ACK, { deliver: () => {} });
    this.conn.send(INFO_REPLICATION, { deliver: (r) => this.counted(r, false) });
  }

  unblock(withError: boolean): Promise<boolean> {
    if (this.state !== 'running') return Promise.resolve(false);
    this.finish(withError ? UNBLOCKED : encodeInteger(this.acked));
    return Promise.resolve(true);
  }

  cancel(): void {
    this.state = 'done';
    this.dropConnection();
  }

  /** The dedicated connection may be inside a WAIT step: closed, not reused. */
  private dropConnection(): void {
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      conn.close('WAIT ended');
      this.pool.release(conn);
    }
  }

  private finish(reply: Buffer): void {
    this.state = 'done';
    this.dropConnection();
    this.slot.deliver(reply);
    this.owner?.exclusiveDone();
  }
}

/** WAIT for `s`: see the module comment. */
export function waitForReplicas(ctx: ProxyContext, s: ClientLink, wanted: number, timeoutMs: number): void {
  const pool = s.replication.lastWritePool ?? ctx.router.poolOfMaster(ctx.router.anyMaster(s));
  if (pool === undefined) return s.reply(NO_MASTER);
  s.runExclusive(new WaitCall(s, pool, s.replication.lastWritePool !== undefined, wanted, timeoutMs, s.openSlot()));
}
