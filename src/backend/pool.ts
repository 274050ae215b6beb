/**
 * BackendPool: the connections to one master.
 *
 * A few shared, pipelined connections carry ordinary requests. A client always uses the
 * same one (chosen by its session id), so one client's commands to one master execute in
 * the order it sent them. Commands that hold a connection (blocking pops, ...) take a
 * dedicated connection instead, so they never stall the shared pipeline; at most
 * `maxDedicated` are in use at once (each is a socket and a client on the node).
 *
 * A third kind, the control connection, carries only commands a node serves while it is
 * busy running a script (SCRIPT KILL, FUNCTION KILL). Redis stops reading the connection
 * that runs the script, so a kill queued behind it on a shared connection would never be
 * read; on a connection of their own they are.
 */
import type { Logger } from '../log.js';
import { BackendConnection, type BackendEndpoint, type ClusterErrorHandler } from './connection.js';
import type { AckPolicy } from './replica-ack.js';

export interface PoolOptions {
  /** Shared pipelined connections per master. */
  size: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Dedicated connections in use at once; acquireDedicated() refuses more. */
  maxDedicated: number;
  log: Logger;
  /** Who follows MOVED/ASK/TRYAGAIN/CLUSTERDOWN on the shared connections. */
  clusterErrors?: ClusterErrorHandler;
  /**
   * `--ack replica`: writes on the shared and dedicated connections are acknowledged once a
   * replica has them. (Not on the control connection: SCRIPT KILL and FUNCTION KILL write nothing.)
   */
  ack?: AckPolicy;
}

/**
 * Idle dedicated connections kept for reuse: this many, or as many as were in use at once
 * lately, whichever is more; more are closed when released. Under many short dedicated
 * uses at once (transactions: one per MULTI/EXEC) the idle ones follow the concurrency
 * instead of a connection being opened and closed per use: 50 clients running 10 000
 * transactions opened ~5000 connections with a fixed cap of 8 (each left in TIME_WAIT),
 * ~190 with this one. (The number in use at one release swings too widely to be the cap.)
 */
const MIN_IDLE_DEDICATED = 8;
/** How fast `busiest` forgets a peak: by this fraction of its excess over the connections in use, per release. */
const BUSIEST_DECAY = 1 / 1024;

export class BackendPool {
  /**
   * Its master is being failed over: the router parks requests for it instead of sending
   * them (see Router.hold). A plain field: the router checks it on every request.
   */
  held = false;
  private readonly shared: BackendConnection[] = [];
  private readonly idleDedicated: BackendConnection[] = [];
  private dedicatedInUse = 0;
  /** Dedicated connections in use at once at the busiest lately (a peak decaying as they are released). */
  private busiest = 0;
  private control: BackendConnection | null = null;
  private closed = false;

  constructor(
    readonly endpoint: BackendEndpoint,
    private readonly opts: PoolOptions,
  ) {
    for (let i = 0; i < opts.size; i++) {
      this.shared.push(
        new BackendConnection(endpoint, {
          connectTimeoutMs: opts.connectTimeoutMs,
          commandTimeoutMs: opts.commandTimeoutMs,
          reconnect: true,
          log: opts.log,
          clusterErrors: opts.clusterErrors,
          index: i,
          ack: opts.ack,
        }),
      );
    }
  }

  /** The shared connection that carries this session's requests. */
  connectionFor(sessionId: number): BackendConnection {
    return this.shared[sessionId % this.shared.length];
  }

  /** Shared connection number `index` (a redirected request keeps its connection's index, so one client's requests stay in order). */
  sharedConnection(index: number): BackendConnection {
    return this.shared[(index < 0 ? 0 : index) % this.shared.length];
  }

  /** Requests in flight on the shared connections. */
  get pendingCount(): number {
    let n = 0;
    for (const c of this.shared) n += c.pendingCount;
    return n;
  }

  get maxDedicated(): number {
    return this.opts.maxDedicated;
  }

  /** A connection for one caller alone; give it back with release(). Null when maxDedicated are in use. */
  acquireDedicated(): BackendConnection | null {
    if (this.dedicatedInUse >= this.opts.maxDedicated) return null;
    this.dedicatedInUse++;
    if (this.dedicatedInUse > this.busiest) this.busiest = this.dedicatedInUse;
    while (this.idleDedicated.length > 0) {
      const conn = this.idleDedicated.pop()!;
      if (conn.isReady) return conn;
      conn.close();
    }
    return new BackendConnection(this.endpoint, {
      connectTimeoutMs: this.opts.connectTimeoutMs,
      commandTimeoutMs: 0, // a blocking command may legitimately wait forever
      reconnect: false,
      log: this.opts.log,
      ack: this.opts.ack,
    });
  }

  /**
   * Return a dedicated connection. One with requests still in flight (its client went
   * away mid-BLPOP) is closed: its late reply must not reach the next user.
   */
  release(conn: BackendConnection): void {
    this.dedicatedInUse--;
    this.busiest -= (this.busiest - this.dedicatedInUse) * BUSIEST_DECAY;
    if (this.closed || !conn.isReady || conn.pendingCount > 0 || this.idleDedicated.length >= Math.max(MIN_IDLE_DEDICATED, this.busiest)) {
      conn.close('dedicated connection released');
      return;
    }
    this.idleDedicated.push(conn);
  }

  /** The connection for commands a busy node still serves (SCRIPT KILL, FUNCTION KILL); made on first use. */
  controlConnection(): BackendConnection {
    this.control ??= new BackendConnection(this.endpoint, {
      connectTimeoutMs: this.opts.connectTimeoutMs,
      commandTimeoutMs: this.opts.commandTimeoutMs,
      reconnect: true,
      log: this.opts.log,
    });
    return this.control;
  }

  close(): void {
    this.closed = true;
    this.control?.close();
    for (const c of this.shared) c.close();
    for (const c of this.idleDedicated) c.close();
    this.idleDedicated.length = 0;
  }
}
