/**
 * ClusterAdmin: what the admin verbs do (ADD, LIST, REMOVE, FAILOVER, REBALANCE), as
 * typed operations on the cluster, apart from how they arrive (RESP here; an HTTP API
 * later). Each operation checks its request first and refuses an unsafe one with an
 * AdminError that changes nothing; the changes themselves are the cluster manager's,
 * the failover monitor's and the slot migrator's.
 *
 * Changes run one at a time: a second one while another is under way is refused (saying
 * which), not queued — an operator who typed REMOVE twice should not remove two nodes.
 * The one under way is an operation in LIST (`admin-change`, with the step it is at) from
 * its first step to its reply: the listing is never empty while something changes.
 */
import type { ClusterManager } from '../cluster/cluster-manager.js';
import { joiningReplicas, NodeChangeError } from '../cluster/operations/node-changes.js';
import type { SlotMap } from '../cluster/slot-map.js';
import { MasterDownError, type FailoverMonitor } from '../failover/failover-monitor.js';
import type { FailoverMode } from './admin-api.js';
import type { Logger } from '../log.js';
import type { NodeRecord, OperationBase } from '../cluster/topology/topology.js';
import type { MigrationProgress, MigrationReport } from '../cluster/operations/slot-migration.js';
import { infoFields, parseAddress, type ControlClients, type NodeAddress } from '../nodes/control-client.js';
import { reachesListener } from '../nodes/local-address.js';
import type { Member } from '../cluster/membership.js';
import type { NodeStatus } from '../status/node-status.js';
import type { RecoveryStatus } from '../status/recovery-status.js';
import type { ClusterListing, NodeListing, OperationListing } from '../status/list-format.js';
import { NO_EVENTS, type ClusterEventRecorder } from '../status/cluster-events.js';
import type { LoadRebalanceReport } from '../status/load-rebalance-report.js';

/** A request the admin refuses; its message is the reply (after "ERR "). Nothing was changed. */
export class AdminError extends Error {
  override readonly name = 'AdminError';
}

export interface ClusterAdminOptions {
  cluster: ClusterManager;
  /** The cluster's slot map, read now (LIST shows what the nodes say, not what the router saw last). */
  slotMap: () => Promise<SlotMap>;
  /** Undefined for a static cluster (the proxy watches and heals only the nodes it runs). */
  failover: FailoverMonitor | undefined;
  /** Even the slots (and their keys) out over the masters but `exclude`, which give all theirs away. */
  rebalance: (exclude: string[]) => Promise<MigrationReport>;
  /** REBALANCE LOAD: plan from the slot load, `exclude` taking no slots; the moves made unless a dry run. */
  rebalanceLoad: (dryRun: boolean, exclude: string[]) => Promise<{ report: LoadRebalanceReport; migration: MigrationReport | undefined }>;
  /** Operations in progress of other parts (migrations, recoveries), for LIST. */
  progress: () => OperationListing[];
  commandTimeoutMs: number;
  log: Logger;
  /**
   * `--ack replica`: every master that serves slots needs a replica, else each write to its
   * slots waits out --ack-timeout and fails (and the proxy refuses to start on such a
   * cluster). Changes that would leave a serving master without one are refused.
   */
  ackReplica: boolean;
  /** Where the proxy itself listens (RESP and HTTP ports): never a node to add. */
  proxyListeners: () => NodeAddress[];
  /** The cluster's timeline: each change asked for, and how it ended. */
  events?: ClusterEventRecorder;
}

/** ADD MASTER or REMOVE <master> under way (the steps have their own operations; this is the verb's intent). */
export interface AdminChangeOperation extends OperationBase {
  kind: 'admin-change';
  verb: 'ADD MASTER' | 'REMOVE';
  /** The master added (once it is) or being removed. */
  node?: string;
}

function isAdminChange(op: OperationBase): op is AdminChangeOperation {
  return op.kind === 'admin-change';
}

const RESUMING = 'finishing an interrupted admin change';

/** The change under way: what refuses a second one, and what LIST shows of it. */
interface RunningChange {
  /** The verb as the admin gave it ("ADD MASTER", "REMOVE m1"). */
  readonly what: string;
  /** One word for LIST's id column. */
  readonly id: string;
  /** Where it is now, in a few words. */
  step: string;
}

/** Tells where a change is (its step in LIST). */
type StepReporter = (step: string) => void;

export class ClusterAdmin {
  /** The change under way. */
  private running: RunningChange | undefined;
  /** resume()'s work, settled (its failure is the caller's to report); verbs wait for it. */
  private resuming: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ClusterAdminOptions) {}

  /** Every node (from the document, or the cluster's map for a static cluster) and the operations under way. */
  async list(): Promise<ClusterListing> {
    // Operations first: a change that ends while the nodes are read shows in the nodes.
    const operations = [...this.runningListing(), ...this.o.progress()];
    const map = await this.o.slotMap();
    const statuses = this.o.failover === undefined ? staticStatuses(map) : await this.managedStatuses(this.o.failover);
    return { nodes: await describeNodes(statuses, map, this.o.cluster.clients, this.o.commandTimeoutMs), operations };
  }

  /**
   * FAILOVER <master>: a planned switch to its most up-to-date replica; no acknowledged
   * write lost. FAILOVER <master> FORCE: the replica takes over without the master (one
   * that is down cannot hand over); what it had not replicated is lost.
   */
  failover(name: string, mode: FailoverMode = 'planned'): Promise<string> {
    return this.exclusive(`FAILOVER ${name}${mode === 'force' ? ' FORCE' : ''}`, async (step) => {
      const failover = this.requireManaged('FAILOVER');
      const node = this.node(name);
      const status = failover.status().find((s) => s.id === node.id);
      if (status?.role !== 'master') throw new AdminError(`${node.id} is not a master (it is ${status?.role ?? 'unknown'}): FAILOVER names the master to replace`);
      try {
        if (mode === 'force') {
          step('promoting the most up-to-date replica without its master (CLUSTER FAILOVER FORCE)');
          const promoted = await failover.forcedFailover(node);
          return `${promoted.id} (${promoted.host}:${promoted.port}) is the master of ${node.id}'s slots now (forced: writes ${node.id} had not replicated are lost); ${node.id} becomes its replica once it is up`;
        }
        step('switching to the most up-to-date replica (CLUSTER FAILOVER)');
        const promoted = await failover.plannedFailover(node);
        return `${promoted.id} (${promoted.host}:${promoted.port}) is the master of ${node.id}'s slots now; ${node.id} is its replica`;
      } catch (err) {
        if (err instanceof MasterDownError) {
          throw new AdminError(
            `FAILOVER ${node.id}: ${err.message}, so it cannot hand its slots over. FAILOVER ${node.id} FORCE (HTTP: "force": true) promotes its most up-to-date replica without it; ` +
              `writes ${node.id} acknowledged but had not replicated yet are lost`,
          );
        }
        throw new AdminError(`FAILOVER ${node.id}: ${(err as Error).message}`);
      }
    });
  }

  /**
   * ADD MASTER [host:port]: a new master started by the provider — with a replica of its
   * own when the other masters have replicas, so the new shard is as safe as the others —
   * or the external node at that address; then REBALANCE onto it, keys included.
   */
  addMaster(address?: NodeAddress): Promise<string> {
    return this.exclusive('ADD MASTER', async (step) => {
      this.requireManaged('ADD MASTER');
      if (address !== undefined) this.refuseProxyAddress(address);
      const members = [...(await this.o.cluster.membership()).values()];
      const withReplicas = members.some((m) => m.role === 'replica');
      // The whole verb is one persisted intent: a proxy killed at any point after this
      // finishes it on its next start (resume()) instead of leaving an empty master behind.
      const op = await this.o.cluster.beginOperation<AdminChangeOperation>({ kind: 'admin-change', verb: 'ADD MASTER' });
      let master: NodeRecord;
      step(address === undefined ? 'starting a new master' : `joining ${address.host}:${address.port} as a master`);
      try {
        master = await refusals(() => this.o.cluster.addNode({ address }));
      } catch (err) {
        await this.o.cluster.endOperation(op.id); // refused or failed: nothing to finish
        throw err;
      }
      await this.o.cluster.saveOperation({ ...op, node: master.id } as AdminChangeOperation);
      let replica: NodeRecord | undefined;
      let report: MigrationReport;
      try {
        // An external master's replica is its owner's to add (ADD SLAVE m3 host:port).
        if (withReplicas && address === undefined) {
          step(`starting a replica of the new master ${master.id}`);
          replica = await refusals(() => this.o.cluster.addNode({ replicaOf: master.id }));
        }
        if (this.o.ackReplica && replica === undefined) {
          // Slots on it now would fail every write (NOREPLICAS): it stays empty until it has a replica.
          await this.o.cluster.endOperation(op.id);
          return `${master.id} ${master.host}:${master.port} is a master with no slots yet: --ack replica needs a replica first (ADD SLAVE ${master.id} <host:port>), then REBALANCE`;
        }
        step(`moving slots onto ${master.id} (see the migration)`);
        report = await this.migrate([]);
        await this.o.cluster.endOperation(op.id);
      } catch (err) {
        throw new AdminError(`${master.id} ${master.host}:${master.port} was added as an empty master, but ${(err as Error).message}; REBALANCE moves slots onto it`);
      }
      return `${master.id} ${master.host}:${master.port} is a master${replica === undefined ? '' : ` (replica ${replica.id})`}; ${describeMigration(report)}`;
    });
  }

  /** REBALANCE: even the slots out over every master, moving their keys. */
  rebalance(): Promise<string> {
    return this.exclusive('REBALANCE', async (step) => {
      step('moving slots (see the migration)');
      return describeMigration(await this.migrate([]));
    });
  }

  /**
   * REBALANCE LOAD [DRYRUN]: move slots so the masters' ops/s (as this proxy counted them)
   * even out, within the slot-count bound. A dry run only plans: it changes nothing, so it
   * runs beside a change under way.
   */
  async rebalanceLoad(dryRun: boolean): Promise<LoadRebalanceReport> {
    if (dryRun) return (await this.planByLoad(true)).report;
    return this.exclusive('REBALANCE LOAD', async (step) => {
      step('moving slots by load (see the migration)');
      const { report, migration } = await this.planByLoad(false);
      if (migration?.interrupted === true) throw new AdminError(`the slot migration ${migration.id} was stopped (the proxy is shutting down); it resumes on the next start`);
      return { ...report, result: migration === undefined ? 'nothing moved' : describeMigration(migration) };
    }, (report) => `${report.result ?? ''}; spread ${(100 * report.spreadBefore).toFixed(1)}% -> ${(100 * report.spreadAfter).toFixed(1)}% planned; stopped: ${report.stopped}`);
  }

  private async planByLoad(dryRun: boolean): Promise<{ report: LoadRebalanceReport; migration: MigrationReport | undefined }> {
    try {
      return await this.o.rebalanceLoad(dryRun, await this.unreplicatedEmptyMasters());
    } catch (err) {
      throw new AdminError((err as Error).message.replace(/^ERR /, ''));
    }
  }

  /** ADD SLAVE|REPLICA <master>: a new replica of that master, started by the provider, in sync when this resolves. */
  addReplica(masterName: string, address?: NodeAddress): Promise<string> {
    return this.exclusive(`ADD REPLICA ${masterName}`, async (step) => {
      this.requireManaged('ADD REPLICA');
      if (address !== undefined) this.refuseProxyAddress(address);
      const master = this.node(masterName);
      step(`${address === undefined ? 'starting' : `joining ${address.host}:${address.port} as`} a replica of ${master.id}, until it is in sync`);
      const added = await refusals(() => this.o.cluster.addNode({ replicaOf: master.id, address }));
      return `${added.id} ${added.host}:${added.port} is a replica of ${master.id}, in sync`;
    });
  }

  /**
   * REMOVE <node>: a replica simply goes; a master first gives its slots and keys to the
   * other masters (then it goes with its replicas). Its dir is kept aside, never deleted.
   */
  remove(name: string): Promise<string> {
    return this.exclusive(`REMOVE ${name}`, async (step) => {
      this.requireManaged('REMOVE');
      const node = this.node(name);
      const members = await this.o.cluster.membership();
      const member = members.get(node.id);
      if (this.o.ackReplica && member?.role === 'replica' && member.masterId !== undefined) refuseLastReplica(node.id, member.masterId, members);
      let moved = '';
      let op: AdminChangeOperation | undefined;
      if (member?.role === 'master' && member.slots > 0) {
        const others = [...members.values()].filter((m) => m.role === 'master' && m.id !== node.id);
        if (others.length === 0) throw new AdminError(`${node.id} is the last master: a cluster needs at least one`);
        // Drain, then remove: one persisted intent, finished by a restarted proxy (resume()).
        op = await this.o.cluster.beginOperation<AdminChangeOperation>({ kind: 'admin-change', verb: 'REMOVE', node: node.id });
        step(`moving ${node.id}'s slots to the other masters (see the migration)`);
        moved = `; ${describeMigration(await this.migrate([node.id]))}`;
      }
      const replicas = [...members.values()].filter((m) => m.role === 'replica' && m.masterId === node.id).map((m) => m.id);
      step(`removing ${[node.id, ...(member?.role === 'master' ? replicas : [])].join(', ')}`);
      await refusals(() => this.o.cluster.removeNode(node.id));
      if (op !== undefined) await this.o.cluster.endOperation(op.id);
      const also = member?.role === 'master' && replicas.length > 0 ? ` with its replica${replicas.length > 1 ? 's' : ''} ${replicas.join(', ')}` : '';
      return `${node.id} removed${also}${moved}`;
    });
  }

  private async migrate(exclude: string[]): Promise<MigrationReport> {
    let report: MigrationReport;
    try {
      report = await this.o.rebalance([...exclude, ...(await this.unreplicatedEmptyMasters())]);
    } catch (err) {
      throw new AdminError((err as Error).message.replace(/^ERR /, ''));
    }
    if (report.interrupted) throw new AdminError(`the slot migration ${report.id} was stopped (the proxy is shutting down); it resumes on the next start`);
    return report;
  }

  /**
   * Finish the ADD MASTER / REMOVE a previous proxy was killed in the middle of: the node
   * steps and the migration are resumed by their own operations; what is left is the rest
   * of the verb — the REBALANCE onto the new master, or the drain and removal of the old one.
   */
  resume(): Promise<void> {
    if (!this.o.cluster.operations.some(isAdminChange)) return Promise.resolve();
    const work = this.exclusive(RESUMING, async (step) => {
      for (const op of this.o.cluster.operations.filter(isAdminChange)) {
        step(`finishing ${op.verb}${op.node === undefined ? '' : ` ${op.node}`}`);
        this.o.log.warn({ operation: op.id, verb: op.verb, node: op.node }, 'finishing an admin change left under way');
        if (op.verb === 'ADD MASTER') {
          await this.migrate([]);
        } else if (op.node !== undefined && this.o.cluster.topology.nodes.some((n) => n.id === op.node)) {
          const member = (await this.o.cluster.membership()).get(op.node);
          if (member?.role === 'master' && member.slots > 0) await this.migrate([op.node]);
          await refusals(() => this.o.cluster.removeNode(op.node!));
        }
        await this.o.cluster.endOperation(op.id);
        this.o.log.info({ operation: op.id, verb: op.verb, node: op.node }, 'interrupted admin change finished');
      }
    });
    this.resuming = work.catch(() => undefined);
    return work;
  }

  /**
   * Under --ack replica, the masters that serve nothing and have no replica: a REBALANCE
   * leaves them out (slots there would fail every write) until they have one.
   */
  private async unreplicatedEmptyMasters(): Promise<string[]> {
    if (!this.o.ackReplica) return [];
    const members = [...(await this.o.cluster.membership()).values()];
    return members.filter((m) => m.role === 'master' && m.slots === 0 && !members.some((r) => r.role === 'replica' && r.masterId === m.id)).map((m) => m.id);
  }

  /** ADD of the proxy's own address (it would be taken for a node and fail after a long wait): refused at once. */
  private refuseProxyAddress(address: NodeAddress): void {
    const own = this.o.proxyListeners().find((l) => reachesListener(address, l));
    if (own !== undefined) {
      throw new AdminError(`${address.host}:${address.port} is this proxy (it listens on ${own.host}:${own.port}), not a redis-server: give the address of a node to add`);
    }
  }

  /** A node by our id (m0, m0r1) or by host:port; AdminError when there is none. */
  node(name: string): NodeRecord {
    const nodes = this.o.cluster.topology.nodes;
    const found = nodes.find((n) => n.id === name) ?? nodes.find((n) => `${n.host}:${n.port}` === name);
    if (found === undefined) throw new AdminError(`no node ${name} (known: ${nodes.map((n) => n.id).join(', ')})`);
    return found;
  }

  private requireManaged(verb: string): FailoverMonitor {
    if (this.o.failover === undefined) {
      throw new AdminError(`${verb} changes a cluster the proxy runs; this one is static (its owner runs the nodes)`);
    }
    return this.o.failover;
  }

  /**
   * Run one change at a time; a second one is refused while the first runs. A verb sent
   * while a restarted proxy finishes the last run's change waits for it instead: the admin
   * did not start that one and cannot know it is running.
   */
  private async exclusive<T>(what: string, work: (step: StepReporter) => Promise<T>, summary: (result: T) => string = (r) => (typeof r === 'string' ? r : 'done')): Promise<T> {
    const events = this.o.events ?? NO_EVENTS;
    try {
      const result = await this.oneAtATime(what, work);
      events.record({ kind: 'admin', verb: what, outcome: 'done', result: summary(result) });
      return result;
    } catch (err) {
      events.record({ kind: 'admin', verb: what, outcome: err instanceof AdminError ? 'refused' : 'failed', result: (err as Error).message });
      throw err;
    }
  }

  private async oneAtATime<T>(what: string, work: (step: StepReporter) => Promise<T>): Promise<T> {
    if (what !== RESUMING) await this.resuming;
    if (this.running !== undefined) throw new AdminError(`${this.running.what} is still running; try again when it is done`);
    const running: RunningChange = { what, id: what === RESUMING ? 'resume' : what.replace(/\s+/g, '-'), step: 'checking the request' };
    this.running = running;
    try {
      return await work((step) => {
        running.step = step;
      });
    } finally {
      this.running = undefined;
    }
  }

  /** The change under way as LIST's operation, `admin-change <VERB-node> step="..."`. */
  private runningListing(): OperationListing[] {
    const r = this.running;
    return r === undefined ? [] : [{ kind: 'admin-change', id: r.id, progress: `step=${JSON.stringify(r.step)}` }];
  }

  /**
   * Health from the failover monitor; roles from the nodes' own views (the slot map lists
   * only masters that serve slots) — but a node being added as a replica is listed as the
   * replica it is being made: to Redis it is an empty master until its CLUSTER REPLICATE,
   * and counting it as one would show 3 → 4 → 5 → 4 masters during an ADD MASTER.
   */
  private async managedStatuses(failover: FailoverMonitor): Promise<NodeStatus[]> {
    // Read before the nodes: an addition that ends meanwhile has replicated by then.
    const joining = joiningReplicas(this.o.cluster.operations);
    const members = await this.o.cluster.membership();
    return failover.status().map((s) => {
      const master = joining.get(s.id);
      if (master !== undefined) return { ...s, role: 'replica', masterId: master };
      const m = members.get(s.id);
      return m === undefined || m.role === 'unknown' ? s : { ...s, role: m.role, masterId: m.masterId };
    });
  }
}

/**
 * LIST's node lines: each node's health and role as given, its slots from the map, and its
 * key count and replication offset asked of it now (a replica's lag from its master's).
 */
export async function describeNodes(statuses: readonly NodeStatus[], map: SlotMap, clients: ControlClients, timeoutMs: number): Promise<NodeListing[]> {
  const nodes = await Promise.all(statuses.map((s) => describeNode(s, map, clients, timeoutMs)));
  const masterOffset = new Map(nodes.filter((n) => n.role === 'master').map((n) => [n.id, n.offset]));
  for (const n of nodes) {
    const of = n.masterId === undefined ? undefined : masterOffset.get(n.masterId);
    if (n.role === 'replica' && of !== undefined && n.offset !== undefined) n.lagBytes = Math.max(0, of - n.offset);
  }
  return nodes;
}

async function describeNode(s: NodeStatus, map: SlotMap, clients: ControlClients, timeoutMs: number): Promise<NodeListing> {
  const index = map.indexOfAddress(`${s.host}:${s.port}`);
  const listing: NodeListing = {
    id: s.id,
    address: `${s.host}:${s.port}`,
    role: s.role,
    masterId: s.masterId,
    state: s.state,
    slots: s.role === 'master' && index !== -1 ? map.rangesOf(index) : [],
    keys: undefined,
    offset: undefined,
    lagBytes: undefined,
    ...(s.clusterState === undefined ? {} : { clusterState: s.clusterState }),
  };
  if (s.port <= 0) return listing;
  try {
    await clients.with(s, async (c) => {
      listing.keys = Number(await c.call('DBSIZE'));
      const info = await infoFields(c, 'replication');
      const offset = Number(info.get(s.role === 'replica' ? 'slave_repl_offset' : 'master_repl_offset'));
      listing.offset = Number.isFinite(offset) ? offset : undefined;
    }, timeoutMs);
  } catch {
    // A node that does not answer shows no counts; its state column says why.
    if (listing.state === 'up') listing.state = 'unknown';
  }
  return listing;
}

/** A static cluster's nodes, from its own map (the proxy does not watch them). */
export function staticStatuses(map: SlotMap): NodeStatus[] {
  const out: NodeStatus[] = [];
  for (const m of map.masters) {
    const masterId = m.nodeId.slice(0, 8) || m.address;
    out.push({ id: masterId, host: m.host, port: m.port, role: 'master', masterId: undefined, state: m.failing ? 'failed' : 'up' });
    for (const r of m.replicas) {
      out.push({ id: r.nodeId.slice(0, 8), host: r.host, port: r.port, role: 'replica', masterId, state: r.failing ? 'failed' : 'up' });
    }
  }
  return out;
}

/**
 * REMOVE of a master's last replica under --ack replica: every write to the master's slots
 * would fail. Only replicas that answer count: one that is down acknowledges nothing.
 */
function refuseLastReplica(id: string, masterId: string, members: ReadonlyMap<string, Member>): void {
  const master = members.get(masterId);
  if (master === undefined || master.slots === 0) return;
  const others = [...members.values()].filter((m) => m.role === 'replica' && m.masterId === masterId && m.id !== id && m.answering);
  if (others.length > 0) return;
  throw new AdminError(
    `${id} is the last replica of ${masterId}, and --ack replica needs one per master (each write would wait --ack-timeout and fail with NOREPLICAS): ADD SLAVE ${masterId} first, then REMOVE ${id}`,
  );
}

/** Run a node change; its refusals (NodeChangeError, in Redis's words) become AdminErrors. */
async function refusals<T>(change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (err) {
    if (err instanceof NodeChangeError) throw new AdminError(err.message.replace(/^ERR /, ''));
    throw err;
  }
}

/** A node address from "host:port"; for anything else, the error `refuse` makes (by default an AdminError). */
export function parseNodeAddress(text: string, refuse: (text: string) => Error = notAnAddress): NodeAddress {
  const address = parseAddress(text);
  if (address === undefined) throw refuse(text);
  return address;
}

function notAnAddress(text: string): AdminError {
  return new AdminError(`'${text}' is not an address: expected host:port, e.g. 127.0.0.1:7000`);
}

/** A shard recovery in LIST (finished ones too, while this process runs: what was lost must stay visible). */
export function recoveryListing(r: RecoveryStatus): OperationListing {
  const k = r.keys;
  const progress = [
    `master=${r.master}`,
    `phase=${r.phase}`,
    `slots=${r.slots}`,
    `source=${r.source ?? '-'}`,
    `keys_recovered=${k.recovered}`,
    `keys_skipped=${k.skipped}`,
    `keys_failed=${k.failed}`,
    `unrecoverable=${r.unrecoverable === undefined ? '-' : JSON.stringify(r.unrecoverable)}`,
  ].join(' ');
  return { kind: 'recovery', id: r.id, progress };
}

/** A slot migration under way, for LIST. */
export function migrationListing(m: MigrationProgress | undefined): OperationListing[] {
  if (m === undefined) return [];
  const current = m.current === undefined ? '-' : `${m.current.slot}:${m.current.from}->${m.current.to}`;
  return [{ kind: 'migration', id: m.id, progress: `reason=${JSON.stringify(m.reason)} slots=${m.slotsDone}/${m.slotsTotal} keys_moved=${m.keysMoved} current=${current}` }];
}

function describeMigration(r: MigrationReport): string {
  if (r.slotsTotal === 0) return 'the slots were already even: nothing moved';
  return `${r.slotsDone} slots and ${r.keysMoved} keys moved in ${(r.elapsedMs / 1000).toFixed(1)} s (${r.keysPerSecond} keys/s)`;
}
