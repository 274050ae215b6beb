/**
 * A client connection as the data path and the modes (transactions, Pub/Sub, blocking
 * calls, WAIT) see it: where its requests go and where their replies come back, in order.
 * ClientSession implements it; what lies below the session depends on this, not on it.
 */
import type net from 'node:net';
import type { Protocol } from '../../resp/encode.js';
import type { BackendConnection } from '../../backend/connection.js';
import type { ReplySlot } from './reply-slot.js';
import type { Runtime } from '../../net/runtime.js';
import type { ClientReplication } from './client-replication.js';

export interface ClientLink {
  readonly id: number;
  /** RESP2 or RESP3: the protocol of the backend connections its requests go on, and of the proxy's own replies. */
  readonly protocol: Protocol;
  readonly socket: net.Socket;
  /** The proxy's flush scheduler and fault reporter (a reply merge or a step after EXEC that throws). */
  readonly runtime: Runtime;
  /** The master it last wrote to (WAIT), its READONLY, its writes a replica may not have yet (read your writes). */
  readonly replication: ClientReplication;
  /** Reply bytes offered to the client and not taken, or held behind an earlier reply. */
  readonly retainedBytes: number;
  /** A new reply slot at the tail of the client's reply order. */
  openSlot(): ReplySlot;
  /** A slot for a push reply: sent under CLIENT REPLY OFF too. */
  openPushSlot(): ReplySlot;
  /** Reply now, in order. */
  reply(buf: Buffer): void;
  /** A push reply (Pub/Sub), in order, sent under CLIENT REPLY OFF too. */
  push(buf: Buffer): void;
  /** Run `call` alone, after every earlier reply, taking no later request until it is answered. */
  runExclusive(call: ExclusiveCall): void;
  /** A request of this client went to `conn`, which is congested: take no further request until it drains. */
  waitForBackend(conn: BackendConnection): void;
  /** Close now. */
  destroy(): void;
}

export interface ExclusiveOwner {
  /** The call's reply is in its slot: take frames again. */
  exclusiveDone(): void;
}

/**
 * A request that runs alone, as a blocking command does in redis-server: only after every
 * earlier reply of the client has arrived, and with no later request taken until it ends.
 */
export interface ExclusiveCall {
  /** Every earlier reply is in: run now, and call `owner.exclusiveDone()` once answered. */
  start(owner: ExclusiveOwner): void;
  /** The client left: stop, whether started or not (nothing may run on its behalf now). */
  cancel(): void;
  /**
   * CLIENT UNBLOCK: end the wait as if timed out, or with -UNBLOCKED; resolves whether it
   * was blocked. Absent for exclusive calls that do not block in Redis's sense.
   */
  unblock?(withError: boolean): Promise<boolean>;
}
