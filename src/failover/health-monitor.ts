/**
 * HealthMonitor: what each node is doing. One small connection per node, a PING every
 * interval (never two outstanding), and a state per node:
 *   up          answers PING
 *   suspect     no answer for a little while (or its connection just dropped): looking
 *   busy-script answers -BUSY (to a PING, or to a client's request: the router says so at
 *               once): a script or function runs past busy-reply-threshold
 *   busy        silent, but its process runs and its CPU time advances: a long command
 *               (DEL of a huge key, FLUSHALL) that will answer when it is done
 *   loading     answers -LOADING (a restart or a replica's full sync)
 *   useless     answers, but cannot serve: -LOADING for longer than --busy-timeout, or its
 *               own cluster_state is fail (it answers CLUSTERDOWN for its slots) for longer
 *               than max(--node-timeout, 5 s) while another node says ok
 *   congested   silent past --node-timeout while its process runs idle and the cluster does
 *               not flag it: the proxy reads late (its own event loop or sockets are behind),
 *               the node is fine
 *   stopped     silent, and its process is stopped (SIGSTOP, `docker pause`)
 *   failed      gone: its process exited, the cluster flags it failing, or busy for longer
 *               than --busy-timeout; the failover side acts on it
 *   recovering  the failover side is restarting or replacing it (set by it, not here)
 *
 * A decision that a node is down needs evidence, never a late PONG alone: silent past
 * --node-timeout, the node's provider is asked what its process does (exited/stopped:
 * down at once; running with CPU advancing: busy; running idle: congested unless the
 * cluster flags it) and, where the provider cannot see the process (static nodes), the
 * cluster's own failure flags (CLUSTER NODES fail?/fail from another node) are the second
 * opinion. A lost connection or a process exit seen by the provider stays the fast path.
 * One log line per change of state; the failover side subscribes to the changes.
 */
import type { Logger } from '../log.js';
import { isBusyReply, isUnreachableReply } from '../backend/connection.js';
import { encodeCommand } from '../resp/encode.js';
import { isFailing, parseClusterNodes } from '../nodes/cluster-nodes.js';
import type { ControlClients, NodeClient } from '../nodes/control-client.js';
import type { ProcessProbe } from '../nodes/provider.js';
import type { NodeHealth } from '../status/node-status.js';
import { isDown } from '../status/node-status.js';

export interface WatchedNode {
  /** Our id (m0, m0r0, ...). */
  id: string;
  host: string;
  port: number;
}

export interface HealthMonitorOptions {
  /** Connections to the nodes, with their password and the proxy's routes. */
  clients: ControlClients;
  log: Logger;
  /** Time between PINGs to one node. */
  intervalMs: number;
  /** Silent this long: the node's process (or the cluster) is asked what it does. */
  nodeTimeoutMs: number;
  /** Busy (a script or a long command) or loading for longer than this: failed / useless. */
  busyTimeoutMs: number;
  connectTimeoutMs: number;
  /** What the node's process does, from its provider. */
  probe: (id: string) => Promise<ProcessProbe>;
  /** Called on every change of state, at once (a state that lasts a moment is told too), with the evidence. */
  onChange: (node: WatchedNode, from: NodeHealth, to: NodeHealth, why: string) => void;
}

const PING = encodeCommand(['PING']);
const CLUSTER_INFO = encodeCommand(['CLUSTER', 'INFO']);
/**
 * A node's own cluster_state:fail counts (useless) only past this: a master that has just
 * (re)started says fail for 2 s by design (Redis's CLUSTER_WRITABLE_DELAY), and failing it
 * over then could promote a replica that has not caught up with it yet.
 */
const CLUSTER_FAIL_GRACE_MS = 5_000;
/** How often each node's own cluster_state is read (CLUSTER INFO, on the PING connection). */
const CLUSTER_STATE_EVERY_MS = 1_000;
const LOADING = Buffer.from('-LOADING ', 'latin1');
/** Two CPU samples this far apart tell whether a silent node's process works. */
const CPU_WINDOW_MS = 250;
/** A process using at least this share of one CPU over the window is working, not idle. */
const BUSY_CPU_SHARE = 0.2;
/** A timer this late (past its interval) means the proxy's own event loop lags. */
const LOOP_LAG_MS = 100;

function startsWith(reply: Buffer, prefix: Buffer): boolean {
  return reply.length >= prefix.length && reply.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

class Watch {
  state: NodeHealth = 'up';
  /** Last answer that was not an error of ours (PONG, BUSY, LOADING...). */
  lastAnswer = Date.now();
  /** When the node went busy (busy or busy-script, without an answer since): bounds the wait. */
  busySince = 0;
  /** When it first answered LOADING in a row. */
  loadingSince = 0;
  /** Health commands out and unanswered (never two of a kind). */
  readonly outstanding = new Set<'ping' | 'cluster-state'>();
  /** Its last connection attempt was refused: nothing listens on its port. */
  refused = false;
  /** Since when its CLUSTER INFO says cluster_state:fail (0: ok, or not known). */
  clusterFailSince = 0;
  /** When its cluster_state was last read (0: never). */
  clusterStateAt = 0;
  /** Why it is useless: LOADING too long, or its own cluster_state is fail. */
  uselessCause: 'loading' | 'cluster-state' | undefined;
  /** A provider probe or a cluster question is out. */
  asking = false;
  /** The cluster's last answer about this node, and when (asked at most once per node timeout). */
  clusterOpinion: { at: number; flagged: boolean | undefined } | undefined;
  /** The first CPU sample of the current silence. */
  cpuSample: { at: number; cpuMs: number } | undefined;
  conn: NodeClient;

  constructor(
    public node: WatchedNode,
    opts: HealthMonitorOptions,
  ) {
    this.conn = Watch.connect(node, opts);
  }

  static connect(node: WatchedNode, opts: HealthMonitorOptions): NodeClient {
    return opts.clients.channel(node, {
      id: `health ${node.id}`,
      timeoutMs: opts.connectTimeoutMs,
      // The connection's own watchdog drops a socket whose PING never comes back, so a
      // node that resumes (SIGCONT) or comes back on the same port is reached again.
      commandTimeoutMs: Math.max(opts.nodeTimeoutMs, 200),
      log: opts.log,
    });
  }
}

export class HealthMonitor {
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastTick = 0;
  /** The proxy's event loop lagged lately (a late tick): until then, silence says little. */
  private laggingUntil = 0;
  /** The worst lag (ms) of a tick within the current lagging window, for the log. */
  private worstLagMs = 0;

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
        w.outstanding.clear();
        w.clusterFailSince = 0;
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
    this.lastTick = Date.now();
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** Something says this node may be gone (a lost connection, a process exit): look now. */
  checkNow(id: string): void {
    const w = this.watches.get(id);
    if (w === undefined) return;
    // A node known busy, stopped or down keeps its state: a connection lost meanwhile (a
    // request that timed out on a busy node) says nothing new.
    if (w.state === 'up' || w.state === 'congested') this.set(w, 'suspect', 'asked to check');
    if (w.state === 'suspect') this.ping(w);
  }

  /** The provider saw the node's process exit, or a script cannot be killed: it is down for certain, no need to wait. */
  markFailed(id: string, why = 'its process exited'): void {
    const w = this.watches.get(id);
    if (w === undefined || w.state === 'recovering') return;
    this.set(w, 'failed', why);
  }

  /** By address, for callers that know only where a connection went (the router). */
  checkAddress(host: string, port: number): void {
    for (const w of this.watches.values()) if (w.node.host === host && w.node.port === port) this.checkNow(w.node.id);
  }

  /**
   * A client's request to the node at host:port was answered BUSY (the data path says so at
   * once, not at the next PING): it is busy-script from now. The node and its state
   * afterwards (undefined: not watched).
   */
  answeredBusy(host: string, port: number): { node: WatchedNode; state: NodeHealth } | undefined {
    for (const w of this.watches.values()) {
      if (w.node.host !== host || w.node.port !== port) continue;
      if (w.state === 'up' || w.state === 'suspect' || w.state === 'congested' || w.state === 'busy') this.markBusyScript(w, Date.now(), 'a request was answered BUSY: a script or function runs');
      return { node: w.node, state: w.state };
    }
    return undefined;
  }

  /**
   * Its busy script was killed (or ended): up again at once — the KILL's answer is the node's —
   * so that a new script's first BUSY is a change of state again (and is killed in turn),
   * even before the next PONG; a PING now confirms it.
   */
  scriptEnded(id: string): void {
    const w = this.watches.get(id);
    if (w === undefined || w.state !== 'busy-script') return;
    w.busySince = 0;
    w.lastAnswer = Date.now();
    this.set(w, 'up', 'its script was killed');
    this.ping(w);
  }

  /**
   * The cluster's own view flags this node as failing (CLUSTER NODES `fail`/`fail?`): look
   * now, unless it answered our PINGs lately — the flag lags (cluster-node-timeout) and
   * stays a while after a node is back, so a node that answers is not made suspect by it.
   */
  flaggedByCluster(host: string, port: number): void {
    const quiet = Date.now() - 2 * this.opts.intervalMs;
    for (const w of this.watches.values()) {
      if (w.node.host === host && w.node.port === port && w.state === 'up' && w.lastAnswer < quiet) this.checkNow(w.node.id);
    }
  }

  stateOf(id: string): NodeHealth | undefined {
    return this.watches.get(id)?.state;
  }

  /** The node's own cluster_state as last read (undefined: not read yet, or not watched). */
  clusterStateOf(id: string): 'ok' | 'fail' | undefined {
    const w = this.watches.get(id);
    if (w === undefined || w.clusterStateAt === 0) return undefined;
    return w.clusterFailSince > 0 ? 'fail' : 'ok';
  }

  /** The failover side takes a node over while it restarts or replaces it. */
  markRecovering(id: string): void {
    const w = this.watches.get(id);
    if (w !== undefined) this.set(w, 'recovering', 'taken over by the failover side');
  }

  /**
   * The failover side is done with it: back to watching. Its next good PING makes it up;
   * without one it is looked at again after the node timeout.
   */
  endRecovery(id: string): void {
    const w = this.watches.get(id);
    if (w === undefined || w.state !== 'recovering') return;
    w.lastAnswer = Date.now();
    w.busySince = 0;
    w.loadingSince = 0;
    w.cpuSample = undefined;
    w.clusterFailSince = 0;
    this.set(w, 'suspect', 'recovery over');
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
    const lag = now - this.lastTick - this.opts.intervalMs;
    this.lastTick = now;
    if (lag > Math.max(LOOP_LAG_MS, this.opts.intervalMs)) {
      this.worstLagMs = now < this.laggingUntil ? Math.max(this.worstLagMs, lag) : lag;
      this.laggingUntil = now + this.opts.nodeTimeoutMs;
    }
    for (const w of this.watches.values()) {
      if (w.state !== 'recovering' && !isDown(w.state)) this.judge(w, now);
      this.ping(w);
      if (now - w.clusterStateAt >= CLUSTER_STATE_EVERY_MS) this.readClusterState(w);
    }
  }

  /** What the time since its last answer (and the evidence asked for) says about a node. */
  private judge(w: Watch, now: number): void {
    if ((w.state === 'busy' || w.state === 'busy-script') && now - w.busySince >= this.opts.busyTimeoutMs) {
      this.set(w, 'failed', `busy for longer than --busy-timeout (${this.opts.busyTimeoutMs} ms)`);
      return;
    }
    if (w.state === 'loading' && now - w.loadingSince >= this.opts.busyTimeoutMs) {
      w.uselessCause = 'loading';
      this.set(w, 'useless', `LOADING for longer than --busy-timeout (${this.opts.busyTimeoutMs} ms)`);
      return;
    }
    if (w.state === 'up' && w.clusterFailSince > 0 && now - w.clusterFailSince >= Math.max(this.opts.nodeTimeoutMs, CLUSTER_FAIL_GRACE_MS) && this.anotherClusterOk(w)) {
      w.uselessCause = 'cluster-state';
      this.set(w, 'useless', 'answers, but its cluster_state is fail (CLUSTERDOWN for its slots) while another node says ok');
      return;
    }
    const silent = now - w.lastAnswer;
    if (silent >= this.opts.nodeTimeoutMs) void this.investigate(w);
    else if (silent >= Math.max(3 * this.opts.intervalMs, 300) && w.state === 'up') this.set(w, 'suspect', `no answer for ${silent} ms`);
  }

  /** Silent past the node timeout: ask its provider what its process does, then (if that cannot tell) the cluster. */
  private async investigate(w: Watch): Promise<void> {
    if (w.asking || this.closed) return;
    w.asking = true;
    const conn = w.conn;
    try {
      const probe = await this.opts.probe(w.node.id).catch((err: Error): ProcessProbe => ({ kind: 'unknown', reason: err.message }));
      if (!this.stillSilent(w, conn)) return;
      if (probe.kind === 'exited') return this.set(w, 'failed', 'silent, and its process is gone');
      // Refused on a port it listened on: strong evidence from the node's host when its process cannot be seen.
      if (probe.kind === 'unknown' && w.refused) return this.set(w, 'failed', `silent, and its port refuses connections (${probe.reason})`);
      if (probe.kind === 'stopped') return this.set(w, 'stopped', 'silent, and its process is stopped (SIGSTOP / paused)');
      if (probe.kind === 'running') {
        const working = this.cpuAdvancing(w, probe.cpuMs);
        if (working === undefined) return; // a second sample decides
        if (working) {
          // Busy since it went silent (or since its first BUSY, when it answered that before).
          if (w.state !== 'busy' && w.state !== 'busy-script') w.busySince = w.lastAnswer;
          return this.set(w, 'busy', 'silent, its process working: a long command');
        }
      }
      // Running idle, or a process nobody can see: the cluster's own failure detection decides.
      const flagged = await this.clusterFlags(w);
      if (!this.stillSilent(w, conn)) return;
      if (flagged === true) return this.set(w, 'failed', 'silent, and the cluster flags it failing');
      if (probe.kind === 'running') {
        const lag = Date.now() < this.laggingUntil ? `; the proxy's event loop lagged ${this.worstLagMs} ms` : '';
        return this.set(w, 'congested', `silent, but its process runs idle and the cluster does not flag it: the proxy reads late${lag}`);
      }
      if (w.state === 'up') this.set(w, 'suspect', `silent; ${probe.reason}; the cluster ${flagged === false ? 'does not flag it' : 'cannot be asked'}`);
    } finally {
      w.asking = false;
    }
  }

  private stillSilent(w: Watch, conn: NodeClient): boolean {
    return !this.closed && w.conn === conn && this.watches.get(w.node.id) === w && w.state !== 'recovering' && !isDown(w.state) && Date.now() - w.lastAnswer >= this.opts.nodeTimeoutMs;
  }

  /** Whether the process's CPU time advances between two samples CPU_WINDOW_MS apart (undefined: not enough samples yet). */
  private cpuAdvancing(w: Watch, cpuMs: number): boolean | undefined {
    const now = Date.now();
    const sample = w.cpuSample;
    if (sample === undefined || cpuMs < sample.cpuMs) {
      w.cpuSample = { at: now, cpuMs };
      return undefined;
    }
    const wall = now - sample.at;
    if (wall < CPU_WINDOW_MS) return undefined;
    w.cpuSample = { at: now, cpuMs };
    return cpuMs - sample.cpuMs >= BUSY_CPU_SHARE * wall;
  }

  /**
   * The cluster's second opinion: does another node that answers flag this one `fail?` or
   * `fail` in CLUSTER NODES? undefined when no other node can be asked.
   */
  private async clusterFlags(w: Watch): Promise<boolean | undefined> {
    const last = w.clusterOpinion;
    if (last !== undefined && Date.now() - last.at < this.opts.nodeTimeoutMs) return last.flagged;
    const flagged = await this.askCluster(w);
    w.clusterOpinion = { at: Date.now(), flagged };
    return flagged;
  }

  private async askCluster(w: Watch): Promise<boolean | undefined> {
    const others = [...this.watches.values()].filter((o) => o !== w && o.state === 'up');
    for (const other of others.slice(0, 2)) {
      try {
        const text = String(await this.opts.clients.with(other.node, (c) => c.call('CLUSTER', 'NODES'), this.opts.connectTimeoutMs));
        const line = parseClusterNodes(text).find((l) => l.host === w.node.host && l.port === w.node.port);
        if (line !== undefined) return isFailing(line);
      } catch {
        /* ask the next one */
      }
    }
    return undefined;
  }

  /** Another node that is up says cluster_state:ok: a node that says fail is the odd one out, not the cluster. */
  private anotherClusterOk(w: Watch): boolean {
    for (const o of this.watches.values()) if (o !== w && o.state === 'up' && o.clusterStateAt > 0 && o.clusterFailSince === 0) return true;
    return false;
  }

  /** CLUSTER INFO on the PING connection: the node's own cluster_state (errors — a node that is not a cluster node, BUSY — change nothing). */
  private readClusterState(w: Watch): void {
    this.sendOnce(w, 'cluster-state', CLUSTER_INFO, (reply) => {
      w.clusterStateAt = Date.now();
      if (reply[0] === 0x2d /* '-' */) return;
      if (reply.includes('cluster_state:fail')) {
        if (w.clusterFailSince === 0) w.clusterFailSince = w.clusterStateAt;
        return;
      }
      w.clusterFailSince = 0;
      if (w.state === 'useless' && w.uselessCause === 'cluster-state') this.set(w, 'up', 'its cluster_state is ok again');
    });
  }

  /** One health command on the watch's connection, never two of a kind out; `onReply` is skipped when the node moved meanwhile. */
  private sendOnce(w: Watch, kind: 'ping' | 'cluster-state', frame: Buffer, onReply: (reply: Buffer) => void): void {
    if (w.outstanding.has(kind) || this.closed) return;
    w.outstanding.add(kind);
    const conn = w.conn;
    conn.sendTo(frame, {
      deliver: (reply: Buffer) => {
        if (w.conn !== conn) return; // the node moved meanwhile
        w.outstanding.delete(kind);
        onReply(reply);
      },
    });
  }

  private ping(w: Watch): void {
    this.sendOnce(w, 'ping', PING, (reply) => {
        if (isUnreachableReply(reply)) {
          w.refused = reply.includes('ECONNREFUSED');
          if (w.state === 'up') this.set(w, 'suspect', 'its connection dropped');
          return;
        }
        const now = Date.now();
        w.lastAnswer = now;
        w.refused = false;
        w.cpuSample = undefined;
        if (w.state === 'recovering') return;
        if (isBusyReply(reply)) {
          this.markBusyScript(w, now, 'answers BUSY: a script or function runs');
          return;
        }
        w.busySince = 0;
        if (startsWith(reply, LOADING)) {
          if (w.state !== 'loading' && w.state !== 'useless') w.loadingSince = now;
          if (w.state !== 'useless') this.set(w, 'loading', 'answers LOADING');
          return;
        }
        w.loadingSince = 0;
        if (w.state === 'useless' && w.uselessCause === 'cluster-state' && w.clusterFailSince > 0) return; // PONG, but still no use
        this.set(w, 'up', 'answers');
    });
  }

  /** BUSY seen (by a PING or a client's request): busy-script, busy since the first BUSY (or since it went silent, busy). */
  private markBusyScript(w: Watch, now: number, why: string): void {
    if (w.state !== 'busy' && w.state !== 'busy-script') w.busySince = now;
    this.set(w, 'busy-script', why);
  }

  private set(w: Watch, to: NodeHealth, why: string): void {
    const from = w.state;
    if (from === to) return;
    w.state = to;
    const level = to === 'failed' || to === 'stopped' || to === 'useless' ? 'warn' : 'info';
    this.opts.log[level]({ node: w.node.id, address: `${w.node.host}:${w.node.port}`, from, to, why }, `node ${to}`);
    this.opts.onChange(w.node, from, to, why);
  }
}
