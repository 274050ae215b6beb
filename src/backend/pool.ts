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
 *
 * Shared and dedicated connections come per protocol: a RESP3 client's requests go on
 * connections that sent HELLO 3, so the node itself writes the RESP3 reply. The RESP3 set
 * is made on first use: a proxy whose clients all speak RESP2 never opens one.
 */
import type { Logger } from '../log.js';
import { BackendConnection, type BackendEndpoint, type ClusterErrorHandler } from './connection.js';

/** The roles of a pool's connections, as /metrics labels them. */
export type PoolConnectionKind = 'shared' | 'shared_resp3' | 'dedicated_idle' | 'control';
import type { AckPolicy } from './replica-ack.js';
import { killCommandFor, sendKill, type KillSender } from '../commands/script-kill.js';
import { lineText } from '../resp/reply-value.js';
import type { Protocol } from '../resp/encode.js';
import type { Runtime } from '../net/runtime.js';

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
  /** The proxy's flush scheduler, fault reporter, dropped-push count and dial routes. */
  runtime: Runtime;
  /** A replica's pool: its shared connections send READONLY, so the replica serves reads (replica reads). */
  readonly?: boolean;
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
  /** Shared connections speaking RESP2 and, once a RESP3 client needed them, RESP3. */
  private readonly shared: BackendConnection[];
  private shared3: BackendConnection[] | null = null;
  /** Idle dedicated connections, by protocol (index 2 and 3). */
  private readonly idleDedicated: BackendConnection[][] = [[], [], [], []];
  private dedicatedInUse = 0;
  /** Dedicated connections in use at once at the busiest lately (a peak decaying as they are released). */
  private busiest = 0;
  private control: BackendConnection | null = null;
  private closed = false;

  constructor(
    readonly endpoint: BackendEndpoint,
    private readonly opts: PoolOptions,
  ) {
    this.shared = this.makeShared(2);
  }

  private makeShared(protocol: Protocol): BackendConnection[] {
    const conns: BackendConnection[] = [];
    for (let i = 0; i < this.opts.size; i++) {
      conns.push(
        new BackendConnection(this.endpoint, {
          connectTimeoutMs: this.opts.connectTimeoutMs,
          commandTimeoutMs: this.opts.commandTimeoutMs,
          reconnect: true,
          log: this.opts.log,
          clusterErrors: this.opts.clusterErrors,
          index: i,
          ack: this.opts.ack,
          protocol,
          readonly: this.opts.readonly,
          onCommandTimeout: (raw) => this.killTimedOut(raw),
          runtime: this.opts.runtime,
          outages: this.opts.runtime.outages,
        }),
      );
    }
    return conns;
  }

  /** The shared connections of a protocol (RESP3's made now if this is their first use). */
  private sharedOf(protocol: Protocol): BackendConnection[] {
    if (protocol === 2) return this.shared;
    return (this.shared3 ??= this.makeShared(3));
  }

  /** The shared connection that carries this session's requests, in the session's protocol. */
  connectionFor(sessionId: number, protocol: Protocol): BackendConnection {
    const conns = protocol === 2 ? this.shared : this.sharedOf(protocol);
    return conns[sessionId % conns.length];
  }

  /**
   * Shared connection number `index` of a protocol (a redirected request keeps its
   * connection's index and protocol, so one client's requests stay in order and in its protocol).
   */
  sharedConnection(index: number, protocol: Protocol): BackendConnection {
    const conns = this.sharedOf(protocol);
    return conns[(index < 0 ? 0 : index) % conns.length];
  }

  /** Requests in flight on the shared connections. */
  get pendingCount(): number {
    let n = 0;
    for (const c of this.shared) n += c.pendingCount;
    if (this.shared3 !== null) for (const c of this.shared3) n += c.pendingCount;
    return n;
  }

  /**
   * The connections it holds now with their kind (for /metrics). Dedicated connections in
   * use are with their callers: only counted (dedicatedCount).
   */
  *connections(): Generator<[PoolConnectionKind, BackendConnection]> {
    for (const c of this.shared) yield ['shared', c];
    if (this.shared3 !== null) for (const c of this.shared3) yield ['shared_resp3', c];
    for (const idle of this.idleDedicated) for (const c of idle) yield ['dedicated_idle', c];
    if (this.control !== null) yield ['control', this.control];
  }

  /** Dedicated connections handed out and not released yet. */
  get dedicatedCount(): number {
    return this.dedicatedInUse;
  }

  get maxDedicated(): number {
    return this.opts.maxDedicated;
  }

  /**
   * A connection for one caller alone, in the caller's protocol; give it back with
   * release(). Null when maxDedicated are in use (both protocols count).
   */
  acquireDedicated(protocol: Protocol): BackendConnection | null {
    if (this.dedicatedInUse >= this.opts.maxDedicated) return null;
    this.dedicatedInUse++;
    if (this.dedicatedInUse > this.busiest) this.busiest = this.dedicatedInUse;
    const idle = this.idleDedicated[protocol];
    while (idle.length > 0) {
      const conn = idle.pop()!;
      if (conn.isReady) return conn;
      conn.close();
    }
    return new BackendConnection(this.endpoint, {
      connectTimeoutMs: this.opts.connectTimeoutMs,
      commandTimeoutMs: 0, // a blocking command may legitimately wait forever
      reconnect: false,
      log: this.opts.log,
      ack: this.opts.ack,
      protocol,
      runtime: this.opts.runtime,
      outages: this.opts.runtime.outages,
    });
  }

  /**
   * Return a dedicated connection. One with requests still in flight (its client went
   * away mid-BLPOP) is closed: its late reply must not reach the next user.
   */
  release(conn: BackendConnection): void {
    this.dedicatedInUse--;
    this.busiest -= (this.busiest - this.dedicatedInUse) * BUSIEST_DECAY;
    const idle = this.idleDedicated[conn.protocol];
    if (this.closed || !conn.isReady || conn.pendingCount > 0 || idle.length >= Math.max(MIN_IDLE_DEDICATED, this.busiest)) {
      conn.close('dedicated connection released');
      return;
    }
    idle.push(conn);
  }

  /**
   * A request timed out on a shared connection. Closing that connection does not stop a
   * script or function it started: the node would stay busy (answering BUSY to everyone)
   * until it ends by itself, if ever. It is killed from the control connection, which the
   * node reads while busy (once its busy-reply-threshold has passed).
   */
  private killTimedOut(raw: Buffer): void {
    const kill = killCommandFor(raw);
    if (kill === undefined || this.closed) return;
    const log = this.opts.log;
    const node = this.endpoint.id;
    const send: KillSender = (k) => new Promise((resolve) => this.controlConnection().send(k.raw, { deliver: (reply) => resolve(lineText(reply)) }));
    void sendKill(send, kill).then(({ outcome, said }) => {
      // NOTBUSY: it ended meanwhile; UNKILLABLE: it wrote (the failover side's to handle).
      if (outcome === 'killed') log.warn({ node, command: kill.name }, 'killed the script a timed-out request left running');
      else log.warn({ node, command: kill.name, reply: said }, 'could not kill the script a timed-out request left running');
    });
  }

  /** The connection for commands a busy node still serves (SCRIPT KILL, FUNCTION KILL); made on first use. */
  controlConnection(): BackendConnection {
    this.control ??= new BackendConnection(this.endpoint, {
      connectTimeoutMs: this.opts.connectTimeoutMs,
      commandTimeoutMs: this.opts.commandTimeoutMs,
      reconnect: true,
      log: this.opts.log,
      runtime: this.opts.runtime,
      outages: this.opts.runtime.outages,
    });
    return this.control;
  }

  close(): void {
    this.closed = true;
    this.control?.close();
    for (const c of this.shared) c.close();
    if (this.shared3 !== null) for (const c of this.shared3) c.close();
    for (const idle of this.idleDedicated) {
      for (const c of idle) c.close();
      idle.length = 0;
    }
  }
}
