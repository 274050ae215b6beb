/** What a shard recovery reports (INFO recovery, LIST, the HTTP API): a leaf, like node-status.ts. */

export type RecoveryPhase = 'load' | 'reassign' | 'migrate' | 'forget';

export interface KeyCounts {
  /** Moved to their new owner. */
  recovered: number;
  /** Not moved: the new owner had a newer value (written after the reassignment). */
  skipped: number;
  /** Could not be moved (kept in the recovery instance's AOF, see report.json). */
  failed: number;
  /** In the AOF but not in the dead master's slots (not its to restore): left alone. */
  foreign: number;
}

/** A recovery as INFO and LIST show it. */
export interface RecoveryStatus {
  id: string;
  master: string;
  phase: RecoveryPhase | 'done';
  slots: number;
  source: string | undefined;
  keys: KeyCounts;
  unrecoverable: string | undefined;
  startedAt: string;
  /** How long it took, once done. */
  ms: number | undefined;
}

