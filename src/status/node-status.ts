/**
 * What the control plane publishes about each node, read by INFO, LIST, /metrics, the HTTP
 * API and the status page. A leaf: the failover side writes these shapes, the surfaces read
 * them, and neither has to import the other.
 */

export type NodeHealth = 'up' | 'suspect' | 'busy-script' | 'busy' | 'loading' | 'useless' | 'congested' | 'stopped' | 'failed' | 'recovering';

/** Every state, in the order they are documented (metrics list each one). */
export const NODE_HEALTH_STATES: readonly NodeHealth[] = ['up', 'suspect', 'busy-script', 'busy', 'loading', 'useless', 'congested', 'stopped', 'failed', 'recovering'];

/** States in which the failover side takes the node over: down for certain. */
export function isDown(state: NodeHealth | undefined): boolean {
  return state === 'failed' || state === 'stopped';
}

/** A node as the cluster sees it now, for INFO and LIST. */
export interface NodeStatus {
  id: string;
  host: string;
  port: number;
  role: 'master' | 'replica' | 'unknown';
  /** Our id of its master (replicas). */
  masterId: string | undefined;
  state: NodeHealth;
  /** Its own CLUSTER INFO cluster_state, as last read (undefined: not read yet, or not watched). */
  clusterState?: 'ok' | 'fail';
}

