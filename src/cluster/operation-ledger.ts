/**
 * OperationLedger: where a long-running change of the cluster (a slot migration, a shard
 * recovery, a node added or removed) records itself and its progress in the document, so a
 * proxy restarted mid-way finishes it. ClusterManager keeps it; the operations depend on
 * this much of it, not on the manager.
 */
import type { ControlClients } from '../nodes/control-client.js';
import type { Operation, OperationBase, TopologyDoc } from './topology/topology.js';

export interface OperationLedger {
  /** The current document (frozen). */
  readonly topology: TopologyDoc;
  /** Password the nodes require. */
  readonly nodePassword: string;
  /** Control-plane connections to the nodes, with that password and the proxy's routes. */
  readonly clients: ControlClients;
  /** Operations under way. */
  readonly operations: readonly Operation[];
  /** Record an operation before its first step (with `change` to the document in the same save); returns it with its id. */
  beginOperation<T extends OperationBase>(op: Omit<T, 'id' | 'startedAt'>, change?: (doc: TopologyDoc) => void): Promise<T>;
  /** Replace a recorded operation (its progress) by id, with `change` to the document in the same save. */
  saveOperation(op: Operation, change?: (doc: TopologyDoc) => void): Promise<void>;
  /** The operation is over (done or rolled back), with `change` to the document in the same save. */
  endOperation(id: string, change?: (doc: TopologyDoc) => void): Promise<void>;
}
