/**
 * What the connections of one proxy share — its clients' and its nodes' alike — and two
 * proxies in one process do not: one flush of every dirty connection per event-loop turn,
 * one fault reporter (the proxy's log), one count of dropped push frames, the routes
 * to nodes not reachable at their announced address, and the log of nodes' outages.
 */
import { Faults, logFaults } from '../faults.js';
import type { Logger } from '../log.js';
import { DialMap } from './dial-map.js';
import { FlushScheduler } from './flush-scheduler.js';
import type { NodeTlsCredentials } from './node-dialer.js';
import { NodeOutageLog } from './node-outage-log.js';

export interface Runtime {
  readonly flush: FlushScheduler;
  readonly faults: Faults;
  /** Push frames (RESP3 `>`) that arrived on node connections with no taker for them. */
  readonly pushes: { dropped: number };
  readonly dial: DialMap;
  /** Where node connections tell that they lost or reached their node: one line per outage (default: nowhere). */
  readonly outages: NodeOutageLog;
  /** What every socket to a node presents when the nodes serve TLS only (--node-tls); null: plain TCP. */
  readonly nodeTls: NodeTlsCredentials | null;
}

/** A runtime whose faults and outages go to `log` (default: stderr, nowhere), dialling through `dial` (default: as announced), over TLS with `nodeTls` (default: plain). */
export function createRuntime(o: { log?: Logger; dial?: DialMap; nodeTls?: NodeTlsCredentials } = {}): Runtime {
  const faults = new Faults(o.log === undefined ? undefined : logFaults(o.log));
  return {
    flush: new FlushScheduler((err) => faults.report(err, 'flush')),
    faults,
    pushes: { dropped: 0 },
    dial: o.dial ?? new DialMap(),
    outages: new NodeOutageLog(o.log),
    nodeTls: o.nodeTls ?? null,
  };
}

/**
 * The runtime for connections to a proxy rather than a node (the HTTP API's data client to
 * its own port, a follower to the leader's peer port): plain TCP even with --node-tls.
 */
export function proxyDialRuntime(runtime: Runtime): Runtime {
  return runtime.nodeTls === null ? runtime : { ...runtime, nodeTls: null };
}
