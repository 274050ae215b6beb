/**
 * NodeOutageLog: one proxy's log of its nodes' outages as its connections see them.
 *
 * A master killed under load drops every connection the proxy holds to it at once — each
 * shared pipelined connection (per protocol), the dedicated ones of blocked clients and
 * transactions, Pub/Sub and keyspace-notification connections, the health probe's, the
 * slot-map reader's — and each one that reconnects fails again every backoff step until
 * the node is back or replaced. One line per connection and per attempt was ~35 WARN lines
 * for one `docker kill`, and hid the lines that say what the proxy did about it.
 *
 * So every connection kind tells this log (the proxy's Runtime holds one), and it writes:
 *   - one WARN line when the first connection to a node is lost (`backend connection lost`)
 *     or, with none lost, the first attempt fails (`cannot connect to backend`): the node,
 *     its address, why, and how many connections to it were open;
 *   - nothing for the losses and failed attempts that follow while it is down: they are counted;
 *   - one INFO line when a connection reaches it again (`backend node reachable again`):
 *     how long it was down, the connections lost and the attempts that failed meanwhile.
 *
 * "Reached" means the node answered the connection's handshake (AUTH, HELLO 3), or accepted
 * it when there is none: a node that accepts connections and refuses the proxy is not back.
 */
import type { Logger } from '../log.js';

/** A node as the proxy's connections name it: the address the cluster announces. */
export interface NodeAddressOf {
  readonly host: string;
  readonly port: number;
}

/** The cluster's id of the node at an address (m0, m0r1, …), or undefined when it is not one of the cluster's nodes. */
export type NodeNamer = (host: string, port: number) => string | undefined;

/** What happened to a node while it was down, told when it is reachable again. */
interface Outage {
  readonly since: number;
  connectionsLost: number;
  failedAttempts: number;
}

export class NodeOutageLog {
  /** Connections that reached each node and are open now, by "host:port" (no entry: none). */
  private readonly open = new Map<string, number>();
  private readonly outages = new Map<string, Outage>();
  private namer: NodeNamer = () => undefined;

  /** `log` undefined: the outages are counted and written nowhere (a client outside a proxy, e.g. the CLI's). */
  constructor(private readonly log?: Pick<Logger, 'info' | 'warn'>) {}

  /** Name nodes in the lines by `namer` (the proxy's topology, known only after it started). */
  nameNodesWith(namer: NodeNamer): void {
    this.namer = namer;
  }

  /** A connection reached the node: counted open; the node's outage, if any, is over. */
  reached(node: NodeAddressOf): void {
    const key = keyOf(node);
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
    const outage = this.outages.get(key);
    if (outage === undefined) return;
    this.outages.delete(key);
    this.log?.info(
      { ...this.names(node), downMs: Date.now() - outage.since, connectionsLost: outage.connectionsLost, failedAttempts: outage.failedAttempts },
      'backend node reachable again',
    );
  }

  /** A connection that had reached the node dropped (`why`: what the socket said, without the address). */
  lost(node: NodeAddressOf, why: string): void {
    const key = keyOf(node);
    const openConnections = this.open.get(key) ?? 0;
    this.release(key);
    const outage = this.outages.get(key);
    if (outage !== undefined) {
      outage.connectionsLost++;
      return;
    }
    this.outages.set(key, { since: Date.now(), connectionsLost: 1, failedAttempts: 0 });
    this.log?.warn({ ...this.names(node), err: why, openConnections }, 'backend connection lost');
  }

  /** An attempt to reach the node failed (refused, timed out, handshake refused). */
  failed(node: NodeAddressOf, why: string): void {
    const key = keyOf(node);
    const outage = this.outages.get(key);
    if (outage !== undefined) {
      outage.failedAttempts++;
      return;
    }
    this.outages.set(key, { since: Date.now(), connectionsLost: 0, failedAttempts: 1 });
    this.log?.warn({ ...this.names(node), err: why, openConnections: this.open.get(key) ?? 0 }, 'cannot connect to backend');
  }

  /** A connection that had reached the node was closed by the proxy (released, no longer needed): no outage. */
  closed(node: NodeAddressOf): void {
    this.release(keyOf(node));
  }

  /** The node's outage has been logged and it has not been reached since: a connection's loss now is part of it. */
  isDown(node: NodeAddressOf): boolean {
    return this.outages.has(keyOf(node));
  }

  private release(key: string): void {
    const n = (this.open.get(key) ?? 0) - 1;
    if (n > 0) this.open.set(key, n);
    else this.open.delete(key);
  }

  private names(node: NodeAddressOf): { node?: string; address: string } {
    const id = this.namer(node.host, node.port);
    const address = keyOf(node);
    return id === undefined ? { address } : { node: id, address };
  }
}

function keyOf(node: NodeAddressOf): string {
  return `${node.host}:${node.port}`;
}
