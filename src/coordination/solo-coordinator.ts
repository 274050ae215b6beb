/**
 * SoloCoordinator: a proxy alone (no --workers, no --coordinator). It always leads, its
 * document is data-dir/topology.json, and nothing forwards to it.
 */
import { TopologyStore } from '../cluster/topology/topology-store.js';
import type { CoordinationStatus, Coordinator, Role } from './coordinator.js';

export class SoloCoordinator implements Coordinator {
  readonly mode = 'single' as const;
  readonly proxyId = '';
  readonly store: TopologyStore;

  constructor(dataDir: string) {
    this.store = new TopologyStore(dataDir);
  }

  initialRole(): Promise<Role> {
    return Promise.resolve('leader');
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  status(): CoordinationStatus {
    return { mode: 'single', role: 'leader', leader: '', proxies: 1, workers: 1, unavailable: '' };
  }

  leaderPeer(): undefined {
    return undefined;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
