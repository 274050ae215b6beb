/**
 * WorkerCoordinator: a worker of `--workers N` (one host, one port shared with reusePort).
 * The supervisor process decides who leads (supervisor.ts); this side follows its word,
 * shares its counters every second and answers requests for its metrics and slot rates. The workers
 * share the data dir, so the document stays topology.json: the leader writes it, the
 * others read it.
 */
import type { Logger } from '../log.js';
import type { NodeAddress } from '../nodes/control-client.js';
import { TopologyStore } from '../cluster/topology/topology-store.js';
import type { WorkerStats } from '../status/worker-stats.js';
import type { CoordinationStatus, Coordinator, ProxyRecord, Role, RoleListener } from './coordinator.js';
import type { FromWorker, ToWorker } from './worker-messages.js';
import type { SlotRatesMessage } from '../ops/slot-load.js';

const STATS_INTERVAL_MS = 1000;

export interface WorkerCoordinatorOptions {
  index: number;
  workers: number;
  dataDir: string;
  log: Logger;
  /** This worker's counters now. */
  stats: () => WorkerStats;
  /** This worker's metrics (prom-client's JSON). */
  metrics: () => Promise<unknown>;
  /** This worker's slot rates (REBALANCE LOAD sums every worker's). */
  slotLoad: () => SlotRatesMessage;
}

export class WorkerCoordinator implements Coordinator {
  readonly mode = 'workers' as const;
  readonly proxyId: string;
  readonly store: TopologyStore;
  /** The supervisor's last word: this worker's role, who leads, how many workers are up. */
  private word: { role: Role; leader: string; leaderPeer: NodeAddress | undefined; alive: number } = { role: 'follower', leader: '', leaderPeer: undefined, alive: 1 };
  private roles: RoleListener | undefined;
  private changes: Promise<void> = Promise.resolve();
  private workerStats: WorkerStats[] = [];
  /** Collections asked of the supervisor (metrics, slot rates), by request id. */
  private readonly pendingMetrics = new Map<number, (workers: unknown[]) => void>();
  private nextMetricsId = 0;
  private statsTimer: NodeJS.Timeout | undefined;
  private firstRole: ((role: Role) => void) | undefined;
  private readonly onMessage = (m: ToWorker): void => this.receive(m);

  constructor(private readonly o: WorkerCoordinatorOptions) {
    this.proxyId = `worker${o.index}-${process.pid}`;
    this.store = new TopologyStore(o.dataDir);
    process.on('message', this.onMessage);
  }

  /** Say hello and wait for the supervisor's word on this worker's role. */
  initialRole(self: ProxyRecord): Promise<Role> {
    return new Promise((resolve) => {
      this.firstRole = resolve;
      this.send({ t: 'hello', self });
    });
  }

  async start(_self: ProxyRecord, roles: RoleListener): Promise<void> {
    this.roles = roles;
    if (this.word.role === 'leader') this.send({ t: 'leading' });
    this.statsTimer = setInterval(() => this.send({ t: 'stats', stats: this.o.stats() }), STATS_INTERVAL_MS);
    this.statsTimer.unref();
    this.send({ t: 'stats', stats: this.o.stats() });
  }

  status(): CoordinationStatus {
    const { role, leader, alive } = this.word;
    return { mode: 'workers', role, leader, proxies: Math.max(alive, this.workerStats.length), workers: this.o.workers, unavailable: leader === '' ? 'no worker leads now (one is being restarted)' : '' };
  }

  leaderPeer(): NodeAddress | undefined {
    return this.word.role === 'leader' ? undefined : this.word.leaderPeer;
  }

  /** Every worker's last counters (this one's live). */
  workers(): WorkerStats[] {
    const own = this.o.stats();
    return [...this.workerStats.filter((w) => w.index !== own.index), own].sort((a, b) => a.index - b.index);
  }

  /** Every worker's metrics (prom-client JSON), through the supervisor. */
  collectMetrics(timeoutMs: number): Promise<unknown[]> {
    return this.collect((id) => ({ t: 'collect-metrics', id }), 'metrics', timeoutMs);
  }

  /** Every worker's slot rates, this one's included, through the supervisor. */
  async collectSlotLoad(timeoutMs: number): Promise<SlotRatesMessage[]> {
    return (await this.collect((id) => ({ t: 'collect-slot-load', id }), 'slot rates', timeoutMs)) as SlotRatesMessage[];
  }

  private collect(ask: (id: number) => FromWorker, what: string, timeoutMs: number): Promise<unknown[]> {
    const id = ++this.nextMetricsId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingMetrics.delete(id);
        reject(new Error(`the workers' ${what} did not arrive within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingMetrics.set(id, (workers) => {
        clearTimeout(timer);
        resolve(workers);
      });
      this.send(ask(id));
    });
  }

  async close(): Promise<void> {
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    process.off('message', this.onMessage);
    await this.changes;
  }

  private receive(m: ToWorker): void {
    switch (m.t) {
      case 'role':
        return this.changeRole(m.role, m.leader, m.leaderPeer, m.alive);
      case 'stats':
        this.workerStats = m.workers;
        return;
      case 'metrics-request':
        this.o.metrics().then(
          (metrics) => this.send({ t: 'metrics-reply', id: m.id, metrics }),
          (err: Error) => {
            this.o.log.warn({ err: err.message }, 'could not render this worker\'s metrics');
            this.send({ t: 'metrics-reply', id: m.id, metrics: [] });
          },
        );
        return;
      case 'metrics':
      case 'slot-load':
        this.pendingMetrics.get(m.id)?.(m.workers);
        this.pendingMetrics.delete(m.id);
        return;
      case 'slot-load-request':
        this.send({ t: 'slot-load-reply', id: m.id, load: this.o.slotLoad() });
        return;
      case 'stop':
      case 'kill-nodes':
        return; // the process's own (main.ts)
    }
  }

  private changeRole(role: Role, leader: string, leaderPeer: NodeAddress | undefined, alive: number): void {
    const was = this.word.role;
    this.word = { role, leader, leaderPeer, alive };
    const first = this.firstRole;
    if (first !== undefined) {
      this.firstRole = undefined;
      first(role);
      return; // the caller starts the control plane itself, then start()
    }
    const roles = this.roles;
    if (roles === undefined || was === role) return;
    this.changes = this.changes.then(async () => {
      if (role === 'follower') {
        await roles.becomeFollower('the supervisor named another leader');
        return;
      }
      try {
        await roles.becomeLeader();
        this.send({ t: 'leading' });
      } catch (err) {
        this.word = { ...this.word, role: 'follower' };
        this.send({ t: 'lead-failed', reason: (err as Error).message });
      }
    });
  }

  private send(m: FromWorker): void {
    // The supervisor is gone: 'disconnect' (main) ends this worker; nothing to send to.
    if (process.connected) process.send?.(m);
  }
}
