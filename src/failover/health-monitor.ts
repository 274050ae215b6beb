/**
 * HealthMonitor: is each node answering? One small connection per node, a PING every
 * interval (never two outstanding), and a state per node:
 *   up         answered within the last few intervals
 *   suspect    no good answer for a little while (or its connection just dropped)
 *   failed     no good answer for --node-timeout: the failover side acts on it
 *   recovering the failover side is restarting or replacing it (set by it, not here)
 * Any answer but a lost connection counts as alive: a node that says LOADING or BUSY (a
 * long script) is not dead, and must not be failed over. A node that still accepts
 * connections but answers nothing (SIGSTOP) goes failed like a dead one.
 * One log line per change of state; the failover side subscribes to the changes.
 */
import type { Logger } from '../log.js';
import { BackendConnection, isUnreachableReply } from '../backend/connection.js';
import { encodeCommand } from '../resp/encode.js';

export type NodeHealth = 'up' | 'suspect' | 'failed' | 'recovering';

export interface WatchedNode {
  /** Our id (m0, m0r0, ...). */
  id: string;
  host: string;
  port: number;
}

export interface HealthMonitorOptions {
  password: string;
  log: Logger;
  /** Time between PINGs to one node. */
  intervalMs: number;
  /** No good reply for this long: failed. */
  nodeTimeoutMs: number;
  connectTimeoutMs: number;
  /** Called on every change of state. */
  onChange: (node: WatchedNode, from: NodeHealth, to: NodeHealth) => void;
}

const PING = encodeCommand(['PING']);

class Watch {
  state: NodeHealth = 'up';
  lastGood = Date.now();
  /** A PING is out and unanswered. */
  pending = false;
  conn: BackendConnection;

  constructor(
    public node: WatchedNode,
    opts: HealthMonitorOptions,
  ) {
    this.conn = Watch.connect(node, opts);
  }

  static connect(node: WatchedNode, opts: HealthMonitorOptions): BackendConnection {
    return new BackendConnection(
      { id: `health ${node.id}`, host: node.host, port: node.port, password: opts.password },
      // The connection's own watchdog drops a socket whose PING never comes back, so a
      // node that resumes (SIGCONT) or comes back on the same port is reached again.
      { connectTimeoutMs: opts.connectTimeoutMs, commandTimeoutMs: Math.max(opts.nodeTimeoutMs, 200), reconnect: true, log: opts.log },
    );
  }
}

export class HealthMonitor {
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly opts: HealthMonitorOptions) {}

  /** Start watching these nodes (or follow a node that moved to another port). */
  watch(nodes: readonly WatchedNode[]): void {
    for (const node of nodes) {
      const w = this.watches.get(node.id);
      if (w === undefined) {
        this.watches.set(node.id, new Watch({ ...node }, this.opts));
      } else if (w.node.host !== node.host || w.node.port !== node.port) {
        w.conn.close('node moved');
        w.node = { ...node };
        w.conn = Watch.connect(w.node, this.opts);
        w.pending = false;
      }
    }
  }

  /** Stop watching a node (it was removed). */
  forget(id: string): void {
    this.watches.get(id)?.conn.close('no longer watched');
    this.watches.delete(id);
  }

  start(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** Something says this node may be gone (a lost connection, a process exit): look now. */
  checkNow(id: string): void {
    const w = this.watches.get(id);
    if (w === undefined || w.state === 'failed' || w.state === 'recovering') return;
    this.set(w, 'suspect');
    this.ping(w);
  }

  /** The provider saw the node's process exit: it is down for certain, no need to wait. */
  markFailed(id: string): void {
    const w = this.watches.get(id);
    if (w === undefined || w.state === 'recovering') return;
    this.set(w, 'failed');
  }

  /** By address, for callers that know only where a connection went (the router). */
  checkAddress(host: string, port: number): void {
    for (const w of this.watches.values()) if (w.node.host === host && w.node.port === port) this.checkNow(w.node.id);
  }

  /**
   * The cluster's own view flags this node as failing (CLUSTER NODES `fail`/`fail?`): look
   * now, unless it answered our PINGs lately — the flag lags (cluster-node-timeout) and
   * stays a while after a node is back, so a node that answers is not made suspect by it.
   */
  flaggedByCluster(host: string, port: number): void {
    const quiet = Date.now() - 2 * this.opts.intervalMs;
    for (const w of this.watches.values()) {
      if (w.node.host === host && w.node.port === port && w.state === 'up' && w.lastGood < quiet) this.checkNow(w.node.id);
    }
  }

  stateOf(id: string): NodeHealth | undefined {
    return this.watches.get(id)?.state;
  }

  /** The failover side takes a node over while it restarts or replaces it. */
  markRecovering(id: string): void {
    const w = this.watches.get(id);
    if (w !== undefined) this.set(w, 'recovering');
  }

  /**
   * The failover side is done with it: back to watching. Its next good PING makes it up;
   * without one it fails again after the node timeout.
   */
  endRecovery(id: string): void {
    const w = this.watches.get(id);
    if (w === undefined || w.state !== 'recovering') return;
    w.lastGood = Date.now();
    this.set(w, 'suspect');
    this.ping(w);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const w of this.watches.values()) w.conn.close('health monitor closed');
    this.watches.clear();
  }

  private tick(): void {
    const now = Date.now();
    for (const w of this.watches.values()) {
      if (w.state !== 'recovering') {
        const silent = now - w.lastGood;
        if (silent >= this.opts.nodeTimeoutMs) this.set(w, 'failed');
        else if (silent >= Math.max(3 * this.opts.intervalMs, 300) && w.state === 'up') this.set(w, 'suspect');
      }
      this.ping(w);
    }
  }

  private ping(w: Watch): void {
    if (w.pending || this.closed) return;
    w.pending = true;
    const conn = w.conn;
    conn.send(PING, {
      deliver: (reply: Buffer) => {
        if (w.conn !== conn) return; // the node moved meanwhile
        w.pending = false;
        if (isUnreachableReply(reply)) {
          if (w.state === 'up') this.set(w, 'suspect');
          return;
        }
        w.lastGood = Date.now();
        if (w.state === 'suspect' || w.state === 'failed') this.set(w, 'up');
      },
    });
  }

  private set(w: Watch, to: NodeHealth): void {
    const from = w.state;
    if (from === to) return;
    w.state = to;
    const level = to === 'failed' ? 'warn' : 'info';
    this.opts.log[level]({ node: w.node.id, address: `${w.node.host}:${w.node.port}`, from, to }, `node ${to}`);
    this.opts.onChange(w.node, from, to);
  }
}
