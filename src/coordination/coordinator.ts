/**
 * Coordination: which of the proxies serving one cluster runs its control plane.
 *
 * Every proxy process is a full data plane (it routes by the cluster's own slot map). Only
 * one, the leader, runs the control plane: health monitor, failover, shard recovery, slot
 * migration, membership changes and the node provider. The others (followers) read the
 * topology document the leader writes and hand admin verbs to the leader's peer listener.
 *
 * Three ways to decide who leads, one interface:
 * - SoloCoordinator: one process, always the leader (no --workers, no --coordinator);
 * - WorkerCoordinator: --workers N on one host; the supervisor process names the leader;
 * - EtcdCoordinator: --coordinator etcd://...; an election on an etcd lease, across hosts.
 */
import type { DocumentStore } from '../cluster/topology/topology-store.js';
import type { NodeAddress } from '../nodes/control-client.js';

import type { CoordinationStatus, Role } from '../status/coordination-status.js';

export type { CoordinationStatus, Role } from '../status/coordination-status.js';

/** What a proxy tells the others about itself (registered with a lease in etcd). */
export interface ProxyRecord {
  /** Unique among the proxies of the cluster: host, pid and a random suffix. */
  id: string;
  /** Its client port (RESP). */
  address: string;
  /** Its own control listener: where admin verbs are forwarded to when it leads. */
  peer: NodeAddress;
  version: string;
  /** ISO time the process started. */
  startedAt: string;
  pid: number;
}

/** What the process does when its role changes; calls never overlap. */
export interface RoleListener {
  /** Start the control plane. A rejection gives the leadership up (another proxy may do better). */
  becomeLeader(): Promise<void>;
  /** Stop acting on the cluster at once (the data plane keeps serving). */
  becomeFollower(reason: string): Promise<void>;
}

export interface Coordinator {
  readonly mode: CoordinationStatus['mode'];
  /** This proxy's id. */
  readonly proxyId: string;
  /** Where the topology document lives for every proxy of the cluster. */
  readonly store: DocumentStore;
  /** The role this proxy starts in, before it serves (a leader creates or adopts the cluster first). */
  initialRole(self: ProxyRecord): Promise<Role>;
  /** Begin taking part: register `self`, and call `roles` as this proxy's role changes. */
  start(self: ProxyRecord, roles: RoleListener): Promise<void>;
  status(): CoordinationStatus;
  /** The leader's peer listener (undefined: no leader now, or this proxy is it). */
  leaderPeer(): NodeAddress | undefined;
  /** Leave: stop campaigning, give up the leadership, unregister. */
  close(): Promise<void>;
}
