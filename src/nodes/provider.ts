/**
 * A NodeProvider owns the lifecycle of Redis nodes: the local `process` provider (the
 * embedded default), `docker` (dockerode) and `static` (existing nodes it never starts
 * or stops). The cluster layer decides *what* should run; a provider makes it so.
 */

/** What a provider needs to start (or restart) one node. */
export interface NodeSpec {
  id: string;
  /**
   * Host of a node the provider does not place itself (static nodes). Providers that run
   * their own nodes ignore it and choose the address.
   */
  host?: string;
  /** Port to listen on; 0 lets the provider choose a free one. */
  port: number;
  /** Cluster bus port; 0 lets the provider choose a free one (ignored for static nodes). */
  busPort: number;
  /** The node's own directory: AOF/RDB live here and survive restarts ('' for static nodes). */
  dataDir: string;
  /** requirepass and masterauth of the node ('' for none). */
  password: string;
  /** What it is created as (a label on a container; roles change later with failovers). */
  role?: 'master' | 'replica';
}

/** Where a node was last seen running, to adopt it or to start it there again. */
export interface PreviousPlacement {
  host: string;
  port: number;
  busPort?: number;
  handle?: string;
}

/** A node the provider has running. */
export interface RunningNode {
  id: string;
  host: string;
  port: number;
  /** Cluster bus port (0 when the provider does not know it: static nodes). */
  busPort: number;
  /** Provider-specific handle persisted in the topology (pid, container id). */
  handle: string;
}

/**
 * A node failed to start (or to be adopted): its process exited, or never became ready in
 * time. The message carries the tail of its log. The failover side tells this apart from
 * other errors: a node that keeps failing to start is replaced, not restarted forever.
 */
export class NodeStartError extends Error {
  override readonly name = 'NodeStartError';
}

/**
 * What a node's process is doing, as its provider sees it (not through Redis): the health
 * monitor's evidence for a node that does not answer.
 *   exited   no process (or a zombie, a container not running)
 *   stopped  SIGSTOP / `docker pause`: alive but not scheduled
 *   running  scheduled; `cpuMs` is its cumulative CPU time, so two probes tell a node busy
 *            in a long command (it advances) from one that is idle
 *   unknown  the provider cannot see the process (static nodes; /proc unreadable)
 */
export type ProcessProbe =
  | { kind: 'exited' }
  | { kind: 'stopped' }
  | { kind: 'running'; cpuMs: number }
  | { kind: 'unknown'; reason: string };

/**
 * How a log line names a node's handle. pino's own `pid` is the proxy's, so a redis-server's
 * pid is `nodePid`; a container is `container` (its short id, which `docker` accepts like a
 * name); a static node's handle is its address, which the line already has.
 */
export type HandleLogFields = { nodePid: number } | { container: string } | Record<string, never>;

export function handleLogFields(kind: NodeProvider['kind'], handle: string): HandleLogFields {
  switch (kind) {
    case 'process':
      return { nodePid: Number(handle) };
    case 'docker':
      return { container: handle.slice(0, 12) };
    case 'static':
      return {};
  }
}

export interface NodeProvider {
  readonly kind: 'process' | 'docker' | 'static';
  /**
   * Start the node, or adopt it when one is already serving `spec` (same port,
   * answers PING with the password) — e.g. left running by a proxy killed with SIGKILL.
   * Resolves once the node answers PING; rejects with NodeStartError when it cannot start.
   */
  start(spec: NodeSpec, previous?: PreviousPlacement): Promise<RunningNode>;
  /** Stop one node (graceful: SHUTDOWN or SIGTERM, which flush the AOF, bounded, then SIGKILL; else SIGKILL). Unknown ids: no-op. */
  stop(id: string, graceful: boolean): Promise<void>;
  /** Stop every node this provider started or adopted. */
  stopAll(): Promise<void>;
  /**
   * SIGKILL every node it started or adopted, at once, and wait (briefly) until they are
   * gone: the proxy's second Ctrl-C, which must not leave nodes running. Absent when it
   * runs none (static).
   */
  killAll?(): Promise<void>;
  /** Told when a node it runs exits without being asked to (a crash, kill -9). */
  onUnexpectedExit?: (id: string) => void;
  /** Told when the provider has a hint that a node may be unwell (Docker: oom, unhealthy): check it now. */
  onSuspect?: (id: string) => void;
  /**
   * The node leaves the cluster for good (its data has moved and it is stopped): remove
   * what the provider made for it besides its dir (Docker: its container and volume).
   * Idempotent; absent when there is nothing to remove.
   */
  discard?(id: string): Promise<void>;
  /** What the node's process is doing (bounded in time; never rejects). Absent: always unknown. */
  probe?(id: string): Promise<ProcessProbe>;
  /** Stop watching (events, timers); the nodes keep running. */
  close?(): void;
}
