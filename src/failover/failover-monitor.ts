/**
 * FailoverMonitor: what to do when a node fails. The proxy decides; Redis executes.
 *   a replica failed          → the provider starts it again from its own dir (nodes.conf
 *                               brings it back as a replica of its master)
 *   a master failed, with a replica up
 *                             → requests for its slots wait (RequestGate.hold); its most
 *                               up-to-date replica takes over with CLUSTER FAILOVER FORCE
 *                               (TAKEOVER when no majority answers in time); the slot map is
 *                               read again, the waiting requests go to the new master; then
 *                               the old master is started again and Redis makes it a replica
 *                               of the new one
 *   a master failed, no replica up
 *                             → the provider starts it again from its own dir (AOF), and
 *                               its replicas from theirs, once a second; if the master has
 *                               not come back within --shard-recovery-timeout, its shard
 *                               is recovered onto the other masters (shard-recovery.ts)
 *   a replica (or a failed-over former master, a replica-to-be) that cannot start
 *   START_TRIES times in a row (NodeStartError: e.g. its redis.conf is broken)
 *                             → replaced: a new replica of the same master (addNode, full
 *                               sync), then the broken one removed (removeNode; its dir is
 *                               kept aside)
 * The admin's FAILOVER is a planned switch (plannedFailover: CLUSTER FAILOVER, the master
 * must be up); FAILOVER FORCE the same promotion as for a failed master (forcedFailover).
 * One node is handled at a time per node; a failure of the action is logged and tried
 * again on the next check while the node is still failed.
 */
import type { Logger } from '../log.js';
import type { ClusterManager } from '../cluster/cluster-manager.js';
import type { SlotMapSource } from '../cluster/slot-map-source.js';
import type { SlotMap } from '../cluster/slot-map.js';
import { retiringNodes, type NodeRecord } from '../cluster/topology/topology.js';
import type { NodeChange } from '../cluster/operations/node-changes.js';
import type { RequestGate } from '../cluster/request-gate.js';
import { infoFields, type ControlClient, type NodeAddress } from '../nodes/control-client.js';
import { NodeStartError } from '../nodes/provider.js';
import { sleep } from '../nodes/wait.js';
import type { RecoveryInstanceRunner } from '../nodes/recovery-instance.js';
import { HealthMonitor, type WatchedNode } from './health-monitor.js';
import { ScriptKiller } from './script-killer.js';
import { ShardRecoveries, type ShardRecoveryOperation } from './shard-recovery.js';
import { isDown, type NodeHealth, type NodeStatus } from '../status/node-status.js';
import type { RecoveryStatus } from '../status/recovery-status.js';
import { NO_EVENTS, type ClusterEventRecorder } from '../status/cluster-events.js';

export interface FailoverOptions {
  cluster: ClusterManager;
  /** Where client requests are held and released while a master or a shard is replaced. */
  gate: RequestGate;
  slotMaps: SlotMapSource;
  log: Logger;
  /** Requests for a failed master's slots wait at most this long. */
  failoverTimeoutMs: number;
  nodeTimeoutMs: number;
  /** A node busy (a script, a long command) for longer than this is failed over; its script is killed before, at its first BUSY. */
  busyTimeoutMs: number;
  /** The nodes' cluster-node-timeout (bounds a planned failover). */
  clusterNodeTimeoutMs: number;
  /** Between PINGs to a node. */
  healthIntervalMs: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** False: watch and report only; never restart, promote or hold requests. */
  act: boolean;
  /** A master with no replica up that has not come back this long after it failed: its shard is recovered. */
  shardRecoveryTimeoutMs: number;
  /** How the provider runs recovery instances (undefined: a lost shard's keys cannot be restored). */
  recoveryInstances: RecoveryInstanceRunner | undefined;
  /** Tests: called with each persisted step of a shard recovery. */
  onRecoveryStep?: (op: ShardRecoveryOperation) => Promise<void> | void;
  /** The cluster's timeline: node state changes, failovers, recoveries. */
  events?: ClusterEventRecorder;
}

/**
 * A planned failover of a master that is down: nothing can hand its slots over. The forced
 * path (forcedFailover) can, at the price of what it had not replicated.
 */
export class MasterDownError extends Error {
  override readonly name = 'MasterDownError';

  constructor(
    readonly master: string,
    message: string,
  ) {
    super(message);
  }
}

/** Why a replica was promoted: its master failed (the monitor's own decision), or the admin's FAILOVER. */
type PromotionKind = 'automatic' | 'planned';

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
  readonly recoveries: ShardRecoveries;
  private readonly scripts: ScriptKiller;
  private readonly busy = new Set<string>();
  /** When each master that failed with no replica up was first seen failed. */
  private readonly downSince = new Map<string, number>();
  private closed = false;
  /** Starts that failed in a row, by node id (reset by a start that works). */
  private readonly startFailures = new Map<string, number>();
  /** A failed-over master → the replica that took its place (whose replica it is to become). */
  private readonly successorOf = new Map<string, string>();
  /** A node being replaced → its replacement, so a retry after a failed removal adds no second one. */
  private readonly replacements = new Map<string, string>();
  private readonly unsubscribe: () => void;
  /** Replicas this process promoted: for a failed master (automatic) and by FAILOVER (planned). */
  private readonly promotions: Record<PromotionKind, number> = { automatic: 0, planned: 0 };
  private readonly events: ClusterEventRecorder;

  constructor(private readonly o: FailoverOptions) {
    this.events = o.events ?? NO_EVENTS;
    this.health = new HealthMonitor({
      clients: o.cluster.clients,
      log: o.log,
      intervalMs: o.healthIntervalMs,
      nodeTimeoutMs: o.nodeTimeoutMs,
      busyTimeoutMs: o.busyTimeoutMs,
      connectTimeoutMs: o.connectTimeoutMs,
      probe: (id) => o.cluster.probeProcess(id),
      onChange: (node, from, to, why) => {
        // Told before anything is done about it: the timeline shows it even when it lasts a moment.
        this.events.record({ kind: 'node-state', node: node.id, address: `${node.host}:${node.port}`, from, to, why });
        this.onChange(node, from, to);
      },
    });
    this.scripts = new ScriptKiller({
      clients: o.cluster.clients,
      log: o.log,
      retryMs: o.nodeTimeoutMs,
      commandTimeoutMs: o.connectTimeoutMs,
      stateOf: (id) => this.health.stateOf(id),
      onUnkillable: (id) => this.health.markFailed(id, 'its script wrote and cannot be killed (UNKILLABLE)'),
      onEnded: (id) => this.health.scriptEnded(id),
    });
    this.recoveries = new ShardRecoveries({
      cluster: o.cluster,
      gate: o.gate,
      slotMaps: o.slotMaps,
      log: o.log,
      instances: o.recoveryInstances,
      holdMs: o.failoverTimeoutMs,
      commandTimeoutMs: o.commandTimeoutMs,
      settleTimeoutMs: 30_000,
      onRetired: (ids) => ids.forEach((id) => this.health.forget(id)),
      onDone: () => void this.ensureReplicas(),
      onStep: o.onRecoveryStep,
      events: this.events,
    });
    o.cluster.onUnexpectedExit = (id) => this.health.markFailed(id);
    o.cluster.onSuspect = (id) => this.health.checkNow(id);
    o.gate.watchBackends({
      backendLost: (host, port) => this.health.checkAddress(host, port),
      backendBusy: (host, port) => this.answeredBusy(host, port),
    });
    this.unsubscribe = o.cluster.onNodeChange((change) => this.onNodeChange(change));
  }

  start(): void {
    const retiring = retiringNodes(this.o.cluster.topology);
    this.health.watch(this.o.cluster.topology.nodes.filter((n) => n.port > 0 && !retiring.has(n.id)));
    this.health.start();
    if (this.o.act) this.recoveries.resumeAll();
  }

  close(): void {
    this.closed = true;
    this.recoveries.close();
    this.scripts.close();
    this.unsubscribe();
    this.health.close();
  }

  /**
   * A client's request met BUSY on the master at host:port: its script is killed now (via
   * the busy-script state). True while the proxy is ending the busy spell — killing, or
   * failing the master over (UNKILLABLE) — so the router sends the request again; false
   * when it leaves the node alone (--no-auto-failover): the client gets the BUSY.
   */
  private answeredBusy(host: string, port: number): boolean {
    const seen = this.health.answeredBusy(host, port);
    if (seen === undefined || !this.o.act || this.closed) return false;
    // Already busy-script (a new script right after one was killed, before a PONG said so):
    // the killer is (re)started; it does nothing while one runs for this node.
    if (seen.state === 'busy-script') this.scripts.watch(seen.node);
    return seen.state === 'busy-script' || seen.state === 'failed' || seen.state === 'recovering';
  }

  /** Shard recoveries under way or done (INFO # Recovery). */
  recoveryStatus(): RecoveryStatus[] {
    return this.recoveries.status();
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

  /** A new view of the cluster (every slot-map read): nodes its peers flag as failing are checked. */
  clusterView(map: SlotMap): void {
    for (const m of map.masters) {
      if (m.failing) this.health.flaggedByCluster(m.host, m.port);
      for (const r of m.replicas) if (r.failing) this.health.flaggedByCluster(r.host, r.port);
    }
  }

  /** Promotions done by this process (both kinds): /metrics and the HTTP API's stats.failovers. */
  failoverCount(): number {
    return this.promotions.automatic + this.promotions.planned;
  }

  /** Promotions done by this process, by kind. */
  failoverCounts(): Readonly<{ automatic: number; planned: number }> {
    return this.promotions;
  }

  /** Every node with its role (from the cluster's map) and health. */
  status(): NodeStatus[] {
    const map = this.o.gate.slotMap;
    const nodes = this.o.cluster.topology.nodes;
    const retiring = retiringNodes(this.o.cluster.topology);
    return nodes.map((n) => {
      const { role, masterAddress } = roleOf(map, n);
      const master = masterAddress === undefined ? undefined : nodes.find((m) => `${m.host}:${m.port}` === masterAddress);
      const state = retiring.has(n.id) ? 'failed' : (this.health.stateOf(n.id) ?? 'up');
      const clusterState = this.health.clusterStateOf(n.id);
      return { id: n.id, host: n.host, port: n.port, role, masterId: master?.id, state, ...(clusterState === undefined ? {} : { clusterState }) };
    });
  }

  /**
   * What the proxy does in each state (README: "What the proxy does in each node state"):
   *   failed, stopped  fail over / restart (onFailed)
   *   busy-script      its script is killed at its first BUSY (ScriptKiller); UNKILLABLE
   *                    or still busy at --busy-timeout: failed. A master's requests are
   *                    held meanwhile (at most --failover-timeout), then go to it or to
   *                    the replica that took over
   *   useless          a master with a replica up is failed over; else left as it is
   *   suspect          a master's requests are held from that moment, not only once it is
   *                    down: they wait for it to answer again or for its replica to take
   *                    over, instead of failing meanwhile
   *   up, busy, loading, congested
   *                    a master's requests go to it again, as to a Redis met directly: it
   *                    answers when its command is done, or LOADING itself
   */
  private onChange(node: WatchedNode, from: NodeHealth, to: NodeHealth): void {
    if (!this.o.act) return;
    // Back after being unreachable (SIGCONT, a network cut healed): it may still list nodes
    // removed meanwhile, and would gossip them back to the others once their ban ends.
    if (to === 'up' && isDown(from)) void this.o.cluster.forgetRemovedNodes();
    if (isDown(to)) {
      void this.onFailed(node);
      return;
    }
    if (to === 'busy-script') this.scripts.watch(node);
    const record = this.o.cluster.topology.nodes.find((n) => n.id === node.id);
    if (to === 'up') this.downSince.delete(node.id);
    if (record === undefined || roleOf(this.o.gate.slotMap, record).role !== 'master') return;
    if (to === 'useless') {
      if (this.replicasUp(record).length > 0) void this.onFailed(node);
      else this.o.log.warn({ node: node.id }, 'useless master left as it is: no replica up to take over');
      return;
    }
    // A script being killed (or failed over when it wrote): new requests wait for the outcome
    // instead of meeting BUSY, as for a master that went quiet.
    if (to === 'suspect' || to === 'busy-script') this.o.gate.hold(record.host, record.port, this.o.failoverTimeoutMs);
    else if (to !== 'recovering' && !this.busy.has(node.id)) this.o.gate.releaseAddress(record.host, record.port);
  }

  private async onFailed(node: WatchedNode): Promise<void> {
    if (this.busy.has(node.id) || this.closed || retiringNodes(this.o.cluster.topology).has(node.id)) return;
    this.busy.add(node.id);
    try {
      const record = this.o.cluster.topology.nodes.find((n) => n.id === node.id);
      if (record === undefined) return;
      const { role } = roleOf(this.o.gate.slotMap, record);
      if (role === 'master') await this.replaceMaster(record);
      else await this.restart(record);
    } catch (err) {
      this.o.log.error({ node: node.id, err: (err as Error).message }, 'failover step failed');
    } finally {
      this.busy.delete(node.id);
      // Still failed (the action failed or the node did not come back): look again soon.
      if (!this.closed && isDown(this.health.stateOf(node.id))) setTimeout(() => void this.onFailed(node), 1_000).unref();
    }
  }

  /**
   * After a shard recovery: every master that serves slots and has no replica left gets a
   * new one (addNode: new dir, full sync) — when the cluster has replicas at all (one
   * formed with --replicas 0 is left as it was made).
   */
  private async ensureReplicas(): Promise<void> {
    if (!this.o.act || this.closed) return;
    try {
      const members = [...(await this.o.cluster.membership()).values()];
      const wantsReplicas = members.some((m) => m.role === 'replica') || this.o.cluster.topology.nodes.some((n) => n.formedAsReplicaOf !== undefined);
      if (!wantsReplicas) return;
      for (const m of members) {
        if (m.role !== 'master' || m.slots === 0 || !m.answering) continue;
        if (members.some((r) => r.role === 'replica' && r.masterId === m.id && r.answering)) continue;
        this.o.log.warn({ master: m.id }, 'master left without a replica: adding one');
        const added = await this.o.cluster.addNode({ replicaOf: m.id });
        this.o.log.info({ master: m.id, replica: added.id }, 'new replica in sync');
      }
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'could not give every master a replica');
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
    const candidates = this.replicasUp(master);
    // A replica the health monitor has not seen die yet (killed with its master) does not answer.
    const best = candidates.length === 0 ? undefined : await this.mostUpToDate(candidates);
    if (best === undefined) {
      await this.restartOrRecover(master);
      return;
    }
    await this.replaceDownMaster(master, best, 'automatic');
  }

  /**
   * A master that is down replaced by `best`, then started again (Redis makes it the new
   * master's replica): the automatic failover, and FAILOVER FORCE of a master that is down.
   */
  private async replaceDownMaster(master: NodeRecord, best: NodeRecord, kind: PromotionKind): Promise<void> {
    this.health.markRecovering(master.id);
    try {
      await this.takeOver(master, best, kind);
    } catch (err) {
      // Watched again: still down, it fails again after the node timeout and is retried.
      this.health.endRecovery(master.id);
      throw err;
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

  /**
   * `best` promoted without its master's agreement (CLUSTER FAILOVER FORCE, TAKEOVER when
   * no majority answers in time) while requests for the master's slots wait, then the slot
   * map read until it names `best`.
   */
  private async takeOver(master: NodeRecord, best: NodeRecord, kind: PromotionKind): Promise<void> {
    this.o.gate.hold(master.host, master.port, this.o.failoverTimeoutMs);
    try {
      const started = Date.now();
      await this.promote(best);
      await this.waitUntilServing(best);
      this.promotions[kind]++;
      const ms = Date.now() - started;
      const message = kind === 'automatic' ? 'master failed over to its replica' : 'forced failover done (FAILOVER FORCE)';
      this.o.log.warn({ failed: master.id, promoted: best.id, ms }, message);
      this.events.record({ kind: 'failover', master: master.id, promoted: best.id, how: kind === 'automatic' ? 'automatic' : 'forced', ms });
      this.successorOf.set(master.id, best.id);
    } finally {
      this.o.gate.releaseAddress(master.host, master.port);
    }
  }

  /**
   * FAILOVER <master> FORCE: what the proxy does by itself when a master fails (its most
   * up-to-date replica promoted with CLUSTER FAILOVER FORCE), on the admin's word — for a
   * master that is down while --no-auto-failover leaves it so, or one that cannot hand
   * over. A master that is down is started again as the new master's replica; one that is
   * up hears of the newer epoch and turns replica by itself. Writes the master acknowledged
   * that its replica had not received are lost. Resolves to the replica that took over.
   */
  async forcedFailover(master: NodeRecord): Promise<NodeRecord> {
    if (this.busy.has(master.id)) throw new Error(`${master.id} is being failed over already`);
    const candidates = this.replicasUp(master);
    if (candidates.length === 0) throw new Error(`${master.id} has no replica that is up to take over`);
    this.busy.add(master.id);
    try {
      const best = await this.mostUpToDate(candidates);
      if (best === undefined) throw new Error(`no replica of ${master.id} answers`);
      if (isDown(this.health.stateOf(master.id))) await this.replaceDownMaster(master, best, 'planned');
      else await this.takeOver(master, best, 'planned');
      return best;
    } finally {
      this.busy.delete(master.id);
    }
  }

  /**
   * A planned switch (admin FAILOVER): the master's most up-to-date replica that is up
   * takes over with CLUSTER FAILOVER (no FORCE: Redis pauses the master's writers until the
   * replica has its whole stream, so no acknowledged write is lost), then the slot map is
   * read until it names the new master. Resolves to the replica that took over.
   */
  async plannedFailover(master: NodeRecord): Promise<NodeRecord> {
    if (this.busy.has(master.id)) throw new Error(`${master.id} is being failed over already`);
    const state = this.health.stateOf(master.id);
    if (isDown(state)) throw new MasterDownError(master.id, `${master.id} is down (${state})`);
    const candidates = this.replicasUp(master);
    if (candidates.length === 0) throw new Error(`${master.id} has no replica that is up to take over`);
    this.busy.add(master.id);
    try {
      const best = await this.mostUpToDate(candidates);
      if (best === undefined) throw new Error(`no replica of ${master.id} answers`);
      const started = Date.now();
      // Redis gives a manual failover twice the node timeout before it gives up. A replica
      // attached moments ago may see its first one abandoned (its master had not yet taken
      // it in on the bus): asked once more; nothing changed either time.
      let tookOver = false;
      for (let attempt = 1; attempt <= 2 && !tookOver; attempt++) {
        await this.control(best, (c) => c.call('CLUSTER', 'FAILOVER')).catch((err: Error) => {
          // Its replica saw it fail before our health monitor did.
          if (/Master is down or failed/i.test(err.message)) throw new MasterDownError(master.id, `${master.id} is down (its replica ${best.id} says so)`);
          throw err;
        });
        tookOver = await this.becameMaster(best, 2 * this.o.clusterNodeTimeoutMs + 1_000);
        if (!tookOver && attempt === 1) this.o.log.warn({ from: master.id, to: best.id }, 'planned failover abandoned by Redis; asking once more');
      }
      if (!tookOver) {
        throw new Error(`${best.id} did not take over from ${master.id} (the replica may be too far behind); nothing changed`);
      }
      await this.waitUntilServing(best);
      this.promotions.planned++;
      const ms = Date.now() - started;
      this.o.log.warn({ from: master.id, to: best.id, ms }, 'planned failover done');
      this.events.record({ kind: 'failover', master: master.id, promoted: best.id, how: 'planned', ms });
      return best;
    } finally {
      this.busy.delete(master.id);
    }
  }

  /**
   * A master with no replica up: start it again from its own dir (its replicas are being
   * restarted from theirs meanwhile, and one that comes back is promoted instead). When it
   * still cannot start --shard-recovery-timeout after it failed, its shard is recovered.
   */
  private async restartOrRecover(master: NodeRecord): Promise<void> {
    // Its slots and replicas as the map says now (one map: an index is only good in its own map).
    const map = this.o.gate.slotMap;
    const index = map.indexOfAddress(`${master.host}:${master.port}`);
    const since = this.downSince.get(master.id) ?? Date.now();
    this.downSince.set(master.id, since);
    this.o.log.warn({ node: master.id }, 'master failed with no replica up: starting it again from its own dir');
    try {
      await this.restart(master);
      this.downSince.delete(master.id);
      return;
    } catch (err) {
      if (Date.now() - since < this.o.shardRecoveryTimeoutMs || index === -1) throw err;
      this.o.log.error({ node: master.id, downMs: Date.now() - since, err: (err as Error).message }, 'master cannot be started again and no replica is up');
    }
    const route = map.masters[index];
    const byAddress = (host: string, port: number): NodeRecord | undefined => this.o.cluster.topology.nodes.find((n) => n.host === host && n.port === port);
    const replicas = route.replicas.flatMap((r) => {
      const n = byAddress(r.host, r.port);
      return n === undefined ? [] : [{ id: n.id, redisId: r.nodeId }];
    });
    const survivors = map.servingMasters().flatMap((i) => {
      const m = map.masters[i];
      const n = i === index ? undefined : byAddress(m.host, m.port);
      return n === undefined || this.health.stateOf(n.id) !== 'up' ? [] : [{ id: n.id, redisId: m.nodeId }];
    });
    this.downSince.delete(master.id);
    await this.recoveries.begin({ master: { id: master.id, redisId: route.nodeId }, replicas, slots: map.rangesOf(index), survivors });
  }

  /** The master's replicas (by the slot map) that the health monitor sees up. */
  private replicasUp(master: NodeRecord): NodeRecord[] {
    const map = this.o.gate.slotMap;
    const index = map.indexOfAddress(`${master.host}:${master.port}`);
    return (index === -1 ? [] : map.masters[index].replicas)
      .map((r) => this.o.cluster.topology.nodes.find((n) => n.host === r.host && n.port === r.port))
      .filter((n): n is NodeRecord => n !== undefined && this.health.stateOf(n.id) === 'up');
  }

  /** The replica with the highest replication offset (the one that lost the least); undefined when none answers. */
  private async mostUpToDate(replicas: NodeRecord[]): Promise<NodeRecord | undefined> {
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
    return offsets[best] === -1 ? undefined : replicas[best];
  }

  /** CLUSTER FAILOVER FORCE; TAKEOVER when it has not become master in time (no majority to vote). */
  private async promote(replica: NodeRecord): Promise<void> {
    // It got CONFIG and scripts when it started and every SCRIPT LOAD since, and its
    // functions from its master: this catches a gap, in one try. Not being able to is no
    // reason to leave the slots without a master (NOSCRIPT is retried with the body anyway).
    await this.o.cluster.prepareNode(replica, 'about to be promoted', 1).catch((err: Error) =>
      this.o.log.error({ node: replica.id, err: err.message }, 'replica promoted without the remembered CONFIG or scripts'),
    );
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

  private control<T>(node: NodeAddress, fn: (client: ControlClient) => Promise<T>): Promise<T> {
    return this.o.cluster.clients.with(node, fn, this.o.commandTimeoutMs);
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
