/**
 * What the supervisor (--workers N) and its workers say to each other over the IPC channel
 * Node's fork() gives them. Plain JSON objects, one shape per `t`.
 */
import type { NodeAddress } from '../nodes/control-client.js';
import type { WorkerStats } from '../status/worker-stats.js';
import type { ProxyRecord } from './coordinator.js';
import type { SlotRatesMessage } from '../ops/slot-load.js';

/** The environment variable that makes a process a worker: its index. */
export const WORKER_ENV = 'INTERFACE_HASH_SERVER_WORKER';

export type ToWorker =
  /** Your role, and who leads (the leader's peer listener, for forwarding). */
  | { t: 'role'; role: 'leader' | 'follower'; leader: string; leaderPeer: NodeAddress | undefined; alive: number }
  /** Every worker's last counters. */
  | { t: 'stats'; workers: WorkerStats[] }
  /** Render your metrics (for the worker that asked, request `id`). */
  | { t: 'metrics-request'; id: number }
  /** Every worker's metrics for your request `id` (prom-client's JSON, one per worker). */
  | { t: 'metrics'; id: number; workers: unknown[] }
  /** Send your slot rates (for the worker that asked, request `id`): REBALANCE LOAD. */
  | { t: 'slot-load-request'; id: number }
  /** Every worker's slot rates for your request `id`. */
  | { t: 'slot-load'; id: number; workers: SlotRatesMessage[] }
  /** Stop serving and exit; `nodes` says whether to stop the nodes (the last worker) or leave them. */
  | { t: 'stop'; nodes: 'stop' | 'keep' }
  /** A second Ctrl-C: kill the nodes now and exit. */
  | { t: 'kill-nodes' };

export type FromWorker =
  /** Up and listening: who it is (its peer listener). */
  | { t: 'hello'; self: ProxyRecord }
  /** The control plane it was asked to run is up. */
  | { t: 'leading' }
  /** It could not start the control plane. */
  | { t: 'lead-failed'; reason: string }
  | { t: 'stats'; stats: WorkerStats }
  /** Collect every worker's metrics for request `id`. */
  | { t: 'collect-metrics'; id: number }
  /** This worker's metrics for request `id`. */
  | { t: 'metrics-reply'; id: number; metrics: unknown }
  /** Collect every worker's slot rates for request `id` (the leader, planning REBALANCE LOAD). */
  | { t: 'collect-slot-load'; id: number }
  /** This worker's slot rates for request `id`. */
  | { t: 'slot-load-reply'; id: number; load: SlotRatesMessage };
