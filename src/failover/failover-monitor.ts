/**
 * FailoverMonitor: what to do when a node fails. The proxy decides; Redis executes.
 *   a replica failed          → the provider starts it again from its own dir (nodes.conf
 *                               brings it back as a replica of its master)
 *   a master failed, with a replica up
 *                             → requests for its slots wait (Router.hold); its most
 *                               up-to-date replica takes over with CLUSTER FAILOVER FORCE
 *                               (TAKEOVER when no majority answers in time); the slot map is
 *                               read again, the waiting requests go to the new master; then
 *                               the old master is started again and Redis makes it a replica
 *                               of the new one
 *   a master failed, no replica up
 *                             → the provider starts it again from its own dir (AOF)
 *   a replica (or a failed-over former master, a replica-to-be) that cannot start
 *   START_TRIES times in a row (NodeStartError: e.g. its redis.conf is broken)
 *                             → replaced: a new replica of the same master (addNode, full
 *                               sync), then the broken one removed (removeNode; its dir is
 *                               kept aside)
 * One node is handled at a time per node; a failure of the action is logged and tried
 * again on the next check while the node is still failed.
 */
import type { Logger } from '../log.js';
import type { ClusterManager } from '../cluster/cluster-manager.js';
import type { SlotMapSource } from '../cluster/slot-map-source.js';
import type { SlotMap } from '../cluster/slot-map.js';
import type { NodeRecord } from '../cluster/topology.js';
import type { NodeChange } from '../cluster/node-changes.js';
import { withControlClient, infoFields, type NodeAddress } from '../nodes/control-client.js';
import { NodeStartError } from '../nodes/provider.js';
import { sleep } from '../nodes/wait.js';
import type { Router } from '../proxy/router.js';
import { HealthMonitor, type NodeHealth, type WatchedNode } from './health-monitor.js';

export interface FailoverOptions {
  cluster: ClusterManager;
  router: Router;
  slotMaps: SlotMapSource;
  log: Logger;
  /** Requests for a failed master's slots wait at most this long. */
  failoverTimeoutMs: number;
  nodeTimeoutMs: number;
  /** Between PINGs to a node. */
  healthIntervalMs: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** False: watch and report only; never restart, promote or hold requests. */
  act: boolean;
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
}

/** How long a promoted replica may take to report itself master before TAKEOVER is tried. */
const FORCE_WAIT_MS = 1_000;
const POLL_MS = 25;
/**
 * Starts that fail in a row (NodeStartError) before a replica is replaced. Two: the
 * provider already retries a port it picked that was taken before redis-server bound it;
 * what is left transient is the node's own persisted port taken between the check and the
 * bind, and the next start sees it taken and picks another. A broken config or data fails
 * the same way every time, so a third try would only delay the new replica.
 */
export const START_TRIES = 2;

export class FailoverMonitor {
  readonly health: HealthMonitor;
  private readonly busy = new Set<string>();
  private closed = false;
  /** Starts that failed in a row, by node id (reset by a start that works). */
  private readonly startFailures = new Map<string, number>();
  /** A failed-over master → the replica that took its place (whose replica it is to become). */
  private readonly successorOf = new Map<string, string>();
  /** A node being replaced → its replacement, so a retry after a failed removal adds no second one. */
  private readonly replacements = new Map<string, string>();
  private readonly unsubscribe: () => void;

  constructor(private readonly o: FailoverOptions) {
    this.health = new HealthMonitor({
      password: o.cluster.nodePassword,
      log: o.log,
      intervalMs: o.healthIntervalMs,
      nodeTimeoutMs: o.nodeTimeoutMs,
      connectTimeoutMs: o.connectTimeoutMs,
      onChange: (node, from, to) => this.onChange(node, from, to),
    });
    o.cluster.onUnexpectedExit = (id) => this.health.markFailed(id);
    o.router.onBackendLost = (host, port) => this.health.checkAddress(host, port);
    this.unsubscribe = o.cluster.onNodeChange((change) => this.onNodeChange(change));
  }

  start(): void {
    this.health.watch(this.o.cluster.topology.nodes.filter((n) => n.port > 0));
    this.health.start();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.health.close();
  }

  /** Nodes added are watched from then on; a node leaves the watch as soon as its removal starts (it is stopped on purpose). */
  private onNodeChange(change: NodeChange): void {
    if (change.kind === 'added') {
      this.health.watch([change.node]);
    } else if (change.kind === 'removing') {
      this.health.forget(change.id);
    } else {
      this.startFailures.delete(change.id);
      this.successorOf.delete(change.id);
      this.replacements.delete(change.id);
    }
  }

  /** Every node with its role (from the cluster's map) and health. */
  status(): NodeStatus[] {
    const map = this.o.router.slotMap;
    const nodes = this.o.cluster.topology.nodes;
    return nodes.map((n) => {
      const { role, masterAddress } = roleOf(map, n);
      const master = masterAddress === undefined ? undefined : nodes.find((m) => `${m.host}:${m.port}` === masterAddress);
      return { id: n.id, host: n.host, port: n.port, role, masterId: master?.id, state: this.health.stateOf(n.id) ?? 'up' };
    });
  }

  /**
   * A master that stops answering (its connection dropped, a PING went unanswered) has its
   * requests held from that moment, not only once it counts as failed: they wait for it to
   * answer again or for its replica to take over, instead of failing meanwhile.
   */
  private onChange(node: WatchedNode, from: NodeHealth, to: NodeHealth): void {
    if (!this.o.act) return;
    // Back after being unreachable (SIGCONT, a network cut healed): it may still list nodes
    // removed meanwhile, and would gossip them back to the others once their ban ends.
    if (to === 'up' && from === 'failed') void this.o.cluster.forgetRemovedNodes();
    if (to === 'failed') {
      void this.onFailed(node);
      return;
    }
    const record = this.o.cluster.topology.nodes.find((n) => n.id === node.id);
    if (record === undefined || roleOf(this.o.router.slotMap, record).role !== 'master') return;
    if (to === 'suspect') this.o.router.hold(record.host, record.port, this.o.failoverTimeoutMs);
    else if (to === 'up' && !this.busy.has(node.id)) this.o.router.releaseAddress(record.host, record.port);
  }

  private async onFailed(node: WatchedNode): Promise<void> {
    if (this.busy.has(node.id) || this.closed) return;
    this.busy.add(node.id);
    try {
      const record = this.o.cluster.topology.nodes.find((n) => n.id === node.id);
      if (record === undefined) return;
      const { role } = roleOf(this.o.router.slotMap, record);
      if (role === 'master') await this.replaceMaster(record);
      else await this.restart(record);
    } catch (err) {
      this.o.log.error({ node: node.id, err: (err as Error).message }, 'failover step failed');
    } finally {
      this.busy.delete(node.id);
      // Still failed (the action failed or the node did not come back): look again soon.
      if (!this.closed && this.health.stateOf(node.id) === 'failed') setTimeout(() => void this.onFailed(node), 1_000).unref();
    }
  }

  /**
   * Start the node again from its dir; the health monitor sees it come back. A node that
   * has failed to start START_TRIES times in a row is replaced instead (see replace).
   */
  private async restart(record: NodeRecord): Promise<void> {
    this.health.markRecovering(record.id);
    try {
      await this.restartCounted(record);
    } catch (err) {
      if (!(err instanceof NodeStartError) || (this.startFailures.get(record.id) ?? 0) < START_TRIES) throw err;
      this.o.log.error({ node: record.id, tries: this.startFailures.get(record.id), err: err.message }, 'node cannot start: replacing it');
      await this.replace(record);
    } finally {
      this.health.endRecovery(record.id);
    }
  }

  /** restartNode, counting the starts that fail in a row. */
  private async restartCounted(record: NodeRecord): Promise<void> {
    try {
      const restarted = await this.o.cluster.restartNode(record.id);
      this.startFailures.delete(record.id);
      this.health.watch([restarted]);
    } catch (err) {
      if (err instanceof NodeStartError) this.startFailures.set(record.id, (this.startFailures.get(record.id) ?? 0) + 1);
      throw err;
    }
  }

  /**
   * A new replica of the broken node's master — its master by the cluster's view, or for a
   * failed-over former master the replica that took over — then the broken node removed
   * (its dir kept aside). A master that still serves slots is not replaced here (no replica
   * could take over: that is shard recovery).
   */
  private async replace(record: NodeRecord): Promise<void> {
    const started = Date.now();
    const member = (await this.o.cluster.membership()).get(record.id);
    const masterId = member?.role === 'replica' ? member.masterId : member?.role === 'master' && member.slots === 0 ? this.successorOf.get(record.id) : undefined;
    if (masterId === undefined) {
      throw new Error(`node ${record.id} cannot start and is not replaceable by a replica (${member?.role ?? 'unknown'}${member?.role === 'master' ? ` serving ${member.slots} slots` : ''}, no master known)`);
    }
    let replacement = this.replacements.get(record.id);
    if (replacement === undefined || !this.o.cluster.topology.nodes.some((n) => n.id === replacement)) {
      replacement = (await this.o.cluster.addNode({ replicaOf: masterId })).id;
      this.replacements.set(record.id, replacement);
    }
    await this.o.cluster.removeNode(record.id);
    this.o.log.warn({ node: record.id, replacedBy: replacement, master: masterId, ms: Date.now() - started }, 'node that could not start replaced by a new replica');
  }

  private async replaceMaster(master: NodeRecord): Promise<void> {
    const map = this.o.router.slotMap;
    const index = map.indexOfAddress(`${master.host}:${master.port}`);
    const candidates = (index === -1 ? [] : map.masters[index].replicas)
      .map((r) => this.o.cluster.topology.nodes.find((n) => n.host === r.host && n.port === r.port))
      .filter((n): n is NodeRecord => n !== undefined && this.health.stateOf(n.id) === 'up');
    if (candidates.length === 0) {
      this.o.log.warn({ node: master.id }, 'master failed with no replica up: starting it again from its own dir');
      await this.restart(master);
      return;
    }
    this.o.router.hold(master.host, master.port, this.o.failoverTimeoutMs);
    this.health.markRecovering(master.id);
    try {
      const best = await this.mostUpToDate(candidates);
      const started = Date.now();
      await this.promote(best);
      await this.waitUntilServing(best);
      this.o.log.warn({ failed: master.id, promoted: best.id, ms: Date.now() - started }, 'master failed over to its replica');
      this.successorOf.set(master.id, best.id);
    } catch (err) {
      // Watched again: still down, it fails again after the node timeout and is retried.
      this.health.endRecovery(master.id);
      throw err;
    } finally {
      this.o.router.releaseAddress(master.host, master.port);
    }
    // The old master comes back as a replica of the new one (Redis sees the newer epoch).
    // One that cannot start is tried again once it counts as failed, then replaced.
    try {
      await this.restartCounted(master);
    } catch (err) {
      this.o.log.error({ node: master.id, err: (err as Error).message }, 'former master could not be started again');
    } finally {
      this.health.endRecovery(master.id);
    }
  }

  /** The replica with the highest replication offset (the one that lost the least). */
  private async mostUpToDate(replicas: NodeRecord[]): Promise<NodeRecord> {
    const offsets = await Promise.all(
      replicas.map(async (r) => {
        try {
          const info = await this.control(r, (c) => infoFields(c, 'replication'));
          return Number(info.get('slave_repl_offset') ?? info.get('master_repl_offset') ?? 0);
        } catch {
          return -1;
        }
      }),
    );
    let best = 0;
    for (let i = 1; i < replicas.length; i++) if (offsets[i] > offsets[best]) best = i;
    return replicas[best];
  }

  /** CLUSTER FAILOVER FORCE; TAKEOVER when it has not become master in time (no majority to vote). */
  private async promote(replica: NodeRecord): Promise<void> {
    await this.control(replica, (c) => c.call('CLUSTER', 'FAILOVER', 'FORCE'));
    if (await this.becameMaster(replica, FORCE_WAIT_MS)) return;
    this.o.log.warn({ node: replica.id }, 'CLUSTER FAILOVER FORCE did not complete in time: TAKEOVER');
    await this.control(replica, (c) => c.call('CLUSTER', 'FAILOVER', 'TAKEOVER'));
    if (!(await this.becameMaster(replica, FORCE_WAIT_MS))) throw new Error(`replica ${replica.id} did not become master`);
  }

  private async becameMaster(node: NodeRecord, withinMs: number): Promise<boolean> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        const role = await this.control(node, async (c) => (await infoFields(c, 'replication')).get('role'));
        if (role === 'master') return true;
      } catch {
        /* asked again below */
      }
      if (Date.now() > deadline) return false;
      await sleep(POLL_MS);
    }
  }

  /** Read the slot map until it names the new master (so held requests go there). */
  private async waitUntilServing(node: NodeRecord): Promise<void> {
    const deadline = Date.now() + this.o.failoverTimeoutMs;
    for (;;) {
      const map = await this.o.slotMaps.refresh().catch(() => undefined);
      if (map !== undefined && map.servingMasters().some((i) => map.masters[i].host === node.host && map.masters[i].port === node.port)) return;
      if (Date.now() > deadline) throw new Error(`the slot map does not name ${node.id} as a master after ${this.o.failoverTimeoutMs} ms`);
      await sleep(POLL_MS);
    }
  }

  private control<T>(node: NodeAddress, fn: Parameters<typeof withControlClient<T>>[3]): Promise<T> {
    return withControlClient(node, this.o.cluster.nodePassword, this.o.commandTimeoutMs, fn);
  }
}

/** A node's role in the map, and the address of its master when it is a replica. */
function roleOf(map: SlotMap, node: NodeAddress): { role: NodeStatus['role']; masterAddress: string | undefined } {
  for (const m of map.masters) {
    if (m.host === node.host && m.port === node.port) return { role: 'master', masterAddress: undefined };
    for (const r of m.replicas) if (r.host === node.host && r.port === node.port) return { role: 'replica', masterAddress: m.address };
  }
  return { role: 'unknown', masterAddress: undefined };
}
