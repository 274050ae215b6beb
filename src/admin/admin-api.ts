/**
 * AdminApi: what the admin surfaces (RESP verbs, HTTP routes) ask of the control plane.
 * ClusterAdmin answers it on the proxy that runs the control plane; on the others
 * (followers, see coordination/) the same calls are forwarded to that proxy.
 */
import type { NodeAddress } from '../nodes/control-client.js';
import type { NodeRecord } from '../cluster/topology/topology.js';
import type { ClusterListing } from '../status/list-format.js';
import type { LoadRebalanceReport } from '../status/load-rebalance-report.js';

export interface AdminApi {
  /** Every node and the operations under way (LIST). */
  list(): Promise<ClusterListing>;
  /** FAILOVER <master> [FORCE]. */
  failover(name: string, mode?: FailoverMode): Promise<string>;
  /** ADD MASTER [host:port]. */
  addMaster(address?: NodeAddress): Promise<string>;
  /** ADD REPLICA <master> [host:port]. */
  addReplica(masterName: string, address?: NodeAddress): Promise<string>;
  /** REBALANCE. */
  rebalance(): Promise<string>;
  /** REBALANCE LOAD [DRYRUN]: the plan, and what the migration did unless a dry run. */
  rebalanceLoad(dryRun: boolean): Promise<LoadRebalanceReport>;
  /** REMOVE <node>. */
  remove(name: string): Promise<string>;
  /** A node by our id or host:port; AdminError when there is none. */
  node(name: string): NodeRecord;
}

/**
 * planned: CLUSTER FAILOVER, the master hands over and no acknowledged write is lost (it
 * must be up). force: its replica takes over without it (CLUSTER FAILOVER FORCE), for a
 * master that is down; what it had not replicated is lost.
 */
export type FailoverMode = 'planned' | 'force';

/** No proxy runs the control plane now (an election, the coordinator unreachable): nothing can change. */
export class NoLeaderError extends Error {
  override readonly name = 'NoLeaderError';
}

/**
 * The leader's side of forwarding: a follower's call (method name, JSON arguments) run on
 * this proxy's control plane; the result goes back as JSON.
 */
export interface AdminRpcServer {
  serveRpc(method: string, args: unknown[]): Promise<unknown>;
}

/** How a proxy that does not lead (any more) refuses a forwarded call. */
export const NOT_LEADER = 'this proxy is not the control-plane leader';

/** The verb a follower forwards with: `IHS-ADMIN <method> <JSON array of arguments>`. */
export const ADMIN_RPC_VERB = 'IHS-ADMIN';
