/**
 * Who runs the control plane among the proxies serving one cluster, as INFO # Coordination,
 * LIST's footer, /api/v1/cluster, the status page and /metrics show it (see coordination/).
 */
export type Role = 'leader' | 'follower';

/** INFO # Coordination, LIST's footer, /api/v1/cluster and /metrics. */
export interface CoordinationStatus {
  mode: 'single' | 'workers' | 'etcd';
  role: Role;
  /** The leader's proxy id; '' while there is none (an election, etcd unreachable). */
  leader: string;
  /** Proxies serving this cluster that this one knows of (registered, or this host's workers). */
  proxies: number;
  /** Worker processes serving the port on this host. */
  workers: number;
  /** Why no admin change can be made now ('' when one can). */
  unavailable: string;
}
