/**
 * What the proxy shows of the control plane, as main.ts gives it from the failover monitor
 * and the slot migrator: the proxy reads these shapes and never imports failover/ or admin/.
 * Each is absent where the proxy does not run that part (a static cluster has no failover).
 */
import type { MigrationProgress } from '../cluster/operations/slot-migration.js';
import type { NodeStatus } from '../status/node-status.js';
import type { RecoveryStatus } from '../status/recovery-status.js';
import type { CoordinationStatus } from '../status/coordination-status.js';
import type { WorkerStats } from '../status/worker-stats.js';

export interface ControlPlaneView {
  /** The nodes the proxy runs and their health (INFO # Nodes, INFO replication); absent when it does not watch them. */
  readonly nodeStatus?: () => NodeStatus[];
  /** Promotions this proxy made (INFO # Nodes, as /metrics ihs_failovers_total). */
  readonly failoverCounts?: () => Readonly<{ automatic: number; planned: number }>;
  /** Shard recoveries under way or done (INFO # Recovery). */
  readonly recoveries?: () => RecoveryStatus[];
  /** The slot migration under way, if any (INFO # Migration); absent when the proxy cannot migrate. */
  readonly migration?: () => MigrationProgress | undefined;
  /** Who leads the control plane (INFO # Coordination); absent for a proxy alone. */
  readonly coordination?: () => CoordinationStatus;
  /** --workers N: every worker's counters (INFO sums them, # Workers lists them). */
  readonly workers?: () => WorkerStats[];
}
