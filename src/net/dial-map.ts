/**
 * Where this proxy dials a Redis node, when that is not the address the cluster announces.
 *
 * Redis Cluster names its nodes by the addresses they announce (CLUSTER SHARDS, MOVED, ASK,
 * INFO replication), and those must work between the nodes. Docker nodes announce their
 * address on the cluster's bridge network; a proxy running on the host reaches them only
 * through the client port each container publishes on 127.0.0.1. The Docker provider
 * records that route in the proxy's DialMap (net/runtime.ts), and every socket the proxy
 * opens to a node (backend pools, subscriber connections, control clients) dials through
 * its `resolve`. Everything above the socket keeps the cluster's names, so
 * routing, redirects and MIGRATE targets agree with Redis. Empty for the process and
 * static providers (nodes are dialled as announced).
 */

export interface DialAddress {
  host: string;
  port: number;
}

function key(host: string, port: number): string {
  return `${host}:${port}`;
}

export class DialMap {
  private readonly routes = new Map<string, DialAddress>();

  /** Dial `via` whenever the node announced as host:port is to be reached. */
  set(host: string, port: number, via: DialAddress): void {
    this.routes.set(key(host, port), { host: via.host, port: via.port });
  }

  delete(host: string, port: number): void {
    this.routes.delete(key(host, port));
  }

  /** The address to open a socket to for the node announced as host:port (itself when no route is set). */
  resolve(host: string, port: number): DialAddress {
    if (this.routes.size === 0) return { host, port };
    return this.routes.get(key(host, port)) ?? { host, port };
  }
}

