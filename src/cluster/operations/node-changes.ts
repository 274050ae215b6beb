/**
 * Adding and removing nodes of the cluster the proxy runs (process/docker providers), as
 * persisted operations: the document names the change before its first step, so a proxy
 * killed at any point (even SIGKILL) finishes it — or, for an addition that cannot be
 * finished, rolls it back — on its next start. No orphan redis-server, no half-member.
 *
 * add-node     the record (port 0, a dir under nodes/) and the operation are written in one
 *              save → the provider starts the node → CLUSTER MEET; every node that answers
 *              knows it → (replica) CLUSTER REPLICATE, master_link_status:up. An addition
 *              that fails, or cannot be finished after a restart, turns into a removal of the
 *              new node (in the same save), so it is rolled back the same resumable way.
 * remove-node  stop (the provider's SIGTERM; a node left running by a killed proxy is
 *              adopted first) → CLUSTER FORGET on every node that answers, until none lists
 *              it → its dir moved to data-dir/removed/<id>-<time> (never deleted) → the
 *              record leaves the document for `removedNodes`.
 *
 * Ids are never reused: removed ones stay in `removedNodes`, and a name that has a dir is
 * taken too. FORGET bans a node for 60 s only: a node that still lists a removed one
 * (it was down during the removal and came back from its nodes.conf) would gossip it back
 * to the others after that. `forgetRemoved` tells such nodes to forget it too; the manager
 * calls it after a restart and on open.
 */
import path from 'node:path';
import type { Logger } from '../../log.js';
import { configGet, parseInfo, type ControlClients, type NodeAddress } from '../../nodes/control-client.js';
import { listDir, realpathOrSelf } from '../../nodes/files.js';
import type { NodeProvider } from '../../nodes/provider.js';
import { attachReplica, meetNodes, waitClusterOk, waitReplicaInSync, type FormationOptions, type PlacedNode } from './cluster-formation.js';
import { readMembership, type Member } from '../membership.js';
import { redisIdFromDir } from '../../nodes/cluster-nodes.js';
import { nodeSpec, type NodeRecord, type OperationBase, type TopologyDoc } from '../topology/topology.js';
import { dropFromDocument, moveNodeDirs } from './node-retirement.js';
import { forgetNodes } from './forget-nodes.js';
import { NODES_DIR } from '../topology/topology-builder.js';
import { NodeChangeError } from './node-change-error.js';
import { prepareExternalNode, releaseExternalNode } from '../external-node.js';
import { reachesListener } from '../../nodes/local-address.js';

/** Directory (under the data dir) that removed nodes' dirs are moved to. */
export const REMOVED_DIR = 'removed';

export interface AddNodeOperation extends OperationBase {
  kind: 'add-node';
  nodeId: string;
  /** Our id of the master it is to replicate; absent for an empty master. */
  replicaOf?: string;
  step: 'start' | 'meet' | 'replicate';
}

export interface RemoveNodeOperation extends OperationBase {
  kind: 'remove-node';
  /** The nodes going, replicas before their master. */
  nodes: { id: string; redisId?: string; movedTo: string }[];
  step: 'stop' | 'forget' | 'move-dirs';
}

/** A node change refused before anything changed (unknown node, unsafe request). */
export { NodeChangeError };

/** `replicaOf`: the master a node was added as a replica of (absent: added as a master). */
export type NodeChange = { kind: 'added'; node: NodeRecord; replicaOf?: string } | { kind: 'removing'; id: string } | { kind: 'removed'; id: string };

/** What node changes need from the ClusterManager. */
export interface NodeChangeContext {
  dataDir: string;
  provider: NodeProvider;
  /** The proxy's control-plane routes; the password is each document's. */
  routes: ControlClients;
  log: Logger;
  commandTimeoutMs: number;
  /** Bound on each wait for the nodes to agree (meet, forget). */
  settleTimeoutMs: number;
  /** Bound on a new replica's first full sync. */
  syncTimeoutMs: number;
  topology(): TopologyDoc;
  update(change: (doc: TopologyDoc) => void): Promise<TopologyDoc>;
  beginOperation<T extends OperationBase>(op: Omit<T, 'id' | 'startedAt'>, change?: (doc: TopologyDoc) => void): Promise<T>;
  saveOperation(op: OperationBase, change?: (doc: TopologyDoc) => void): Promise<void>;
  endOperation(id: string, change?: (doc: TopologyDoc) => void): Promise<void>;
  /** Run `work` so that no node restart runs meanwhile (the manager's queue). */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** Resolves once this proxy's requests to host:port are answered (bounded): before a node is stopped. */
  drained(host: string, port: number): Promise<void>;
  /** Get a node ready before it serves (remembered CONFIG, scripts, functions); rejects when it cannot be. */
  prepare(node: NodeRecord, why: string): Promise<void>;
}

/** Ids of the nodes an unfinished add-node or remove-node operation is about (open leaves them to `resume`). */
export function nodesUnderChange(doc: TopologyDoc): Set<string> {
  const ids = new Set<string>();
  for (const op of doc.operations ?? []) {
    if (isAddNode(op)) ids.add(op.nodeId);
    else if (isRemoveNode(op)) for (const n of op.nodes) ids.add(n.id);
  }
  return ids;
}

/**
 * Nodes being added as replicas, and the master each is to replicate. Until its CLUSTER
 * REPLICATE such a node is an empty master to Redis; what it is being made is this.
 */
export function joiningReplicas(operations: readonly OperationBase[]): Map<string, string> {
  const joining = new Map<string, string>();
  for (const op of operations) if (isAddNode(op) && op.replicaOf !== undefined) joining.set(op.nodeId, op.replicaOf);
  return joining;
}

function isAddNode(op: OperationBase): op is AddNodeOperation {
  return op.kind === 'add-node';
}

function isRemoveNode(op: OperationBase): op is RemoveNodeOperation {
  return op.kind === 'remove-node';
}

export class NodeChanges {
  /** Changes run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly leaving = new Set<string>();
  private readonly listeners = new Set<(change: NodeChange) => void>();

  constructor(private readonly ctx: NodeChangeContext) {}

  /** A removal of this node is under way: it must not be started again. */
  isLeaving(id: string): boolean {
    return this.leaving.has(id);
  }

  /** Be told of every node added or removed; returns the unsubscribe function. */
  subscribe(listener: (change: NodeChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Wait for the change under way, if any. */
  async idle(): Promise<void> {
    await this.queue;
  }

  /** A new node: started by the provider, or (`address`) an external one someone else runs (see external-node.ts). */
  addNode(opts: { replicaOf?: string; address?: NodeAddress }): Promise<NodeRecord> {
    return this.serialized(async () => {
      const doc = this.ctx.topology();
      refuseStatic(doc);
      if (opts.replicaOf !== undefined) await this.checkMaster(doc, opts.replicaOf);
      const id = await this.newId(doc, opts.replicaOf);
      let record: NodeRecord = { id, host: '127.0.0.1', port: 0, busPort: 0, dataDir: path.join(this.ctx.dataDir, NODES_DIR, id) };
      if (opts.address !== undefined) {
        const { host, port } = opts.address;
        const known = doc.nodes.find((n) => n.port > 0 && reachesListener(opts.address!, n));
        if (known !== undefined) throw new NodeChangeError(`ERR ${host}:${port} is ${known.id} (${known.host}:${known.port}) already, a node of this cluster`);
        const { busPort } = await prepareExternalNode(opts.address, this.clients(doc), this.ctx.commandTimeoutMs, this.ctx.log);
        record = { id, host, port, busPort, external: true };
      }
      const op = await this.ctx.beginOperation<AddNodeOperation>(
        { kind: 'add-node', nodeId: id, ...(opts.replicaOf === undefined ? {} : { replicaOf: opts.replicaOf }), step: 'start' },
        (d) => void d.nodes.push(record),
      );
      this.ctx.log.info({ node: id, replicaOf: opts.replicaOf, operation: op.id }, 'adding node');
      return this.finishOrRollBack(op);
    });
  }

  removeNode(id: string): Promise<void> {
    return this.serialized(async () => {
      const doc = this.ctx.topology();
      refuseStatic(doc);
      const pending = (doc.operations ?? []).find((op): op is RemoveNodeOperation => isRemoveNode(op) && op.nodes.some((n) => n.id === id));
      if (pending !== undefined) return this.runRemoval(pending); // an earlier call failed mid-way: finish it
      if (!doc.nodes.some((n) => n.id === id)) throw new NodeChangeError(`ERR unknown node ${id}`);
      const going = await this.removalPlan(doc, id);
      const op = await this.ctx.beginOperation<RemoveNodeOperation>({ kind: 'remove-node', nodes: going.map((m) => this.leavingEntry(m)), step: 'stop' });
      this.ctx.log.info({ nodes: going.map((m) => m.id), operation: op.id }, 'removing node');
      await this.runRemoval(op);
    });
  }

  /**
   * Finish (or roll back) the add-node and remove-node operations a previous process left,
   * then make every node forget the removed ones. Called by open before anything else runs.
   */
  resume(): Promise<void> {
    return this.serialized(async () => {
      for (const op of this.ctx.topology().operations ?? []) {
        if (isAddNode(op)) {
          this.ctx.log.warn({ node: op.nodeId, operation: op.id, step: op.step }, 'resuming an interrupted node addition');
          try {
            await this.finishOrRollBack(op);
          } catch (err) {
            if ((this.ctx.topology().operations ?? []).some((o) => o.id === op.id || o.id === rollbackId(op))) throw err;
            // Rolled back cleanly (finishOrRollBack logged why): the cluster is as it was before.
          }
        } else if (isRemoveNode(op)) {
          this.ctx.log.warn({ nodes: op.nodes.map((n) => n.id), operation: op.id, step: op.step }, 'resuming an interrupted node removal');
          await this.runRemoval(op);
        }
      }
      await this.forgetRemoved();
    });
  }

  /**
   * Tell every node that answers (or only `only`) to forget the removed nodes it still
   * lists. Never throws: what fails is logged and done again at the next occasion.
   */
  async forgetRemoved(only?: readonly NodeRecord[]): Promise<void> {
    const doc = this.ctx.topology();
    const ids = (doc.removedNodes ?? []).map((r) => r.redisId).filter((r): r is string => r !== undefined);
    if (ids.length === 0) return;
    try {
      await this.forgetOn(only ?? this.reachableCandidates(doc, new Set()), ids, 1);
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message }, 'could not make every node forget the removed nodes; will try again');
    }
  }

  // --- adding ---------------------------------------------------------------------------

  private async checkMaster(doc: TopologyDoc, masterId: string): Promise<void> {
    if (!doc.nodes.some((n) => n.id === masterId) || this.leaving.has(masterId)) throw new NodeChangeError(`ERR unknown node ${masterId}`);
    if (nodesUnderChange(doc).has(masterId)) throw new NodeChangeError(`ERR node ${masterId} is being added or removed`);
    const member = (await this.membership(doc)).get(masterId)!;
    if (member.role === 'replica') {
      throw new NodeChangeError(`ERR ${masterId} is a replica${member.masterId === undefined ? '' : ` of ${member.masterId}`}: a replica of a replica is not allowed; name a master`);
    }
    if (!member.answering) throw new NodeChangeError(`ERR master ${masterId} does not answer: a new replica could not sync from it`);
    if (member.role !== 'master') throw new NodeChangeError(`ERR ${masterId} is not a member of the cluster yet`);
  }

  /** The first id never used: m<N> for a master (a new shard number), <shard>r<K> for a replica. */
  private async newId(doc: TopologyDoc, replicaOf: string | undefined): Promise<string> {
    const taken = new Set([...doc.nodes.map((n) => n.id), ...(doc.removedNodes ?? []).map((r) => r.id)]);
    for (const name of await listDir(path.join(this.ctx.dataDir, NODES_DIR))) taken.add(name);
    for (const name of await listDir(path.join(this.ctx.dataDir, REMOVED_DIR))) taken.add(name.split('-')[0]);
    if (replicaOf === undefined) {
      for (let k = 0; ; k++) {
        const id = `m${k}`;
        if (![...taken].some((t) => t === id || t.startsWith(`${id}r`))) return id;
      }
    }
    const shard = /^m\d+/.exec(replicaOf)?.[0] ?? replicaOf;
    for (let k = 0; ; k++) if (!taken.has(`${shard}r${k}`)) return `${shard}r${k}`;
  }

  private async finishOrRollBack(op: AddNodeOperation): Promise<NodeRecord> {
    try {
      return await this.finishAdd(op);
    } catch (err) {
      this.ctx.log.error({ node: op.nodeId, operation: op.id, err: (err as Error).message }, 'node addition failed; rolling it back');
      const record = this.ctx.topology().nodes.find((n) => n.id === op.nodeId);
      if (record !== undefined) {
        // One save turns the addition into the removal of the new node: a crash from here on resumes the removal.
        const redisId = await redisIdFromDir(record.dataDir).catch((e: Error) => {
          this.ctx.log.warn({ node: record.id, err: e.message }, "the new node's nodes.conf is unreadable: peers that met it keep a line for it until forgotten by hand");
          return undefined;
        });
        const entry = this.leavingEntry({ id: record.id, redisId });
        const removal = { kind: 'remove-node', nodes: [entry], step: 'stop', id: rollbackId(op), startedAt: new Date().toISOString() } as RemoveNodeOperation;
        await this.ctx.update((d) => {
          d.operations = (d.operations ?? []).filter((o) => o.id !== op.id);
          d.operations.push(removal);
        });
        await this.runRemoval(removal);
      } else {
        await this.ctx.endOperation(op.id);
      }
      throw err;
    }
  }

  private async finishAdd(recorded: AddNodeOperation): Promise<NodeRecord> {
    const op = structuredClone(recorded); // the document's copy is frozen; progress is saved with saveOperation
    const o = this.formation();
    const doc = this.ctx.topology();
    const node = doc.nodes.find((n) => n.id === op.nodeId);
    if (node === undefined) throw new Error(`add-node ${op.id}: node ${op.nodeId} is not in the document`);
    const spec = { ...nodeSpec(node, doc.nodePassword), role: op.replicaOf === undefined ? ('master' as const) : ('replica' as const) };
    const previous = node.port > 0 ? { host: node.host, port: node.port, busPort: node.busPort, handle: node.handle } : undefined;
    const running = node.external === true ? { ...node, handle: undefined } : await this.ctx.exclusive(() => this.ctx.provider.start(spec, previous));
    op.step = 'meet';
    await this.ctx.saveOperation(op, (d) => {
      const r = d.nodes.find((n) => n.id === node.id)!;
      Object.assign(r, { host: running.host, port: running.port, busPort: running.busPort, handle: running.handle });
    });
    const placed: PlacedNode = { id: node.id, host: running.host, port: running.port, busPort: running.busPort };

    const members = await this.membership(this.ctx.topology());
    const others = this.ctx
      .topology()
      .nodes.filter((n) => n.id !== node.id && members.get(n.id)?.answering === true && members.get(n.id)?.role !== 'unknown' && !this.leaving.has(n.id))
      .map((n): PlacedNode => ({ id: n.id, host: n.host, port: n.port, busPort: n.busPort }));
    const silent = this.ctx.topology().nodes.filter((n) => n.id !== node.id && members.get(n.id)?.answering !== true).map((n) => n.id);
    if (silent.length > 0) this.ctx.log.warn({ node: node.id, notAnswering: silent }, 'nodes that do not answer will learn of the new node by gossip when they are back');
    if (others.length === 0) throw new Error(`no node of the cluster answers: ${node.id} cannot be met`);
    await meetNodes([...others, placed], o);

    if (op.replicaOf !== undefined) {
      const master = members.get(op.replicaOf);
      if (master?.redisId === undefined || master.role !== 'master' || !master.answering) {
        throw new Error(`${op.replicaOf} is no longer a master that answers (${master?.role ?? 'gone'}): ${node.id} cannot replicate it`);
      }
      op.step = 'replicate';
      await this.ctx.saveOperation(op);
      await attachReplica(placed, master.redisId, o, op.replicaOf);
      await waitReplicaInSync(placed, o, this.ctx.syncTimeoutMs);
    }
    // Usable once it knows who serves what (a replica's READONLY reads too): as many slots
    // assigned as a member knows of. (Checked last: a node that is still a master says
    // cluster_state:ok only 2 s after its start, a replica does not wait.)
    const assigned = Number((await o.clients.with(others[0], async (c) => parseInfo(String(await c.call('CLUSTER', 'INFO'))), o.commandTimeoutMs)).get('cluster_slots_assigned'));
    await waitClusterOk([placed], o, assigned);
    // Before it is used (slots moved onto it, or promoted): a node that cannot be prepared
    // is rolled back like any failed addition.
    await this.ctx.prepare(this.ctx.topology().nodes.find((n) => n.id === node.id)!, op.replicaOf === undefined ? 'added as a master' : `added as a replica of ${op.replicaOf}`);
    await this.ctx.endOperation(op.id);
    const record = this.ctx.topology().nodes.find((n) => n.id === node.id)!;
    this.ctx.log.info({ node: record.id, address: `${record.host}:${record.port}`, replicaOf: op.replicaOf }, 'node added');
    this.emit({ kind: 'added', node: record, ...(op.replicaOf === undefined ? {} : { replicaOf: op.replicaOf }) });
    return record;
  }

  // --- removing -------------------------------------------------------------------------

  /** The nodes that go when `id` is removed (its replicas too, for a master), or why it may not. */
  private async removalPlan(doc: TopologyDoc, id: string): Promise<Member[]> {
    const under = nodesUnderChange(doc);
    if (under.has(id)) throw new NodeChangeError(`ERR node ${id} is being added or removed`);
    const members = await this.membership(doc);
    const member = members.get(id)!;
    if (member.role !== 'master') return [member];
    const otherMasters = [...members.values()].filter((m) => m.role === 'master' && m.id !== id);
    if (otherMasters.length === 0) throw new NodeChangeError(`ERR ${id} is the last master: a cluster needs at least one`);
    if (member.slots > 0) {
      throw new NodeChangeError(`ERR ${id} still serves ${member.slots} hash slot${member.slots === 1 ? '' : 's'}: move them to the other masters first (REBALANCE)`);
    }
    // Its replicas go with it: they replicate a master that holds nothing and would be
    // left replicating nobody (replica migration is off: moves are the proxy's decisions).
    const replicas = [...members.values()].filter((m) => m.role === 'replica' && m.masterId === id);
    const busy = replicas.filter((r) => under.has(r.id));
    if (busy.length > 0) throw new NodeChangeError(`ERR replica ${busy[0].id} of ${id} is being added or removed`);
    return [...replicas, member];
  }

  private leavingEntry(m: { id: string; redisId: string | undefined }): RemoveNodeOperation['nodes'][number] {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return { id: m.id, ...(m.redisId === undefined ? {} : { redisId: m.redisId }), movedTo: path.join(this.ctx.dataDir, REMOVED_DIR, `${m.id}-${stamp}`) };
  }

  /** Every step is idempotent: a resumed removal runs them all again. */
  private async runRemoval(recorded: RemoveNodeOperation): Promise<void> {
    const op = structuredClone(recorded); // the document's copy is frozen; progress is saved with saveOperation
    const ids = new Set(op.nodes.map((n) => n.id));
    for (const id of ids) {
      this.leaving.add(id);
      this.emit({ kind: 'removing', id });
    }
    // What this proxy sent them is answered first (a write's WAIT on the master needs its
    // replica, which stops first): no client sees its request cut off.
    const before = this.ctx.topology();
    for (const n of op.nodes) {
      const node = before.nodes.find((r) => r.id === n.id);
      if (node !== undefined && node.port > 0) await this.ctx.drained(node.host, node.port);
    }
    for (const n of op.nodes) await this.ctx.exclusive(() => this.stopNode(n.id, n.redisId));
    // Its data has moved (the slots left it before the removal began): its container and volume can go.
    for (const n of op.nodes) await this.ctx.provider.discard?.(n.id);
    op.step = 'forget';
    await this.ctx.saveOperation(op);
    const redisIds = op.nodes.map((n) => n.redisId).filter((r): r is string => r !== undefined);
    await this.forgetOn(this.reachableCandidates(this.ctx.topology(), ids), redisIds, 2);
    op.step = 'move-dirs';
    await this.ctx.saveOperation(op);
    const doc = this.ctx.topology();
    const removed = await moveNodeDirs(
      op.nodes.map((n) => ({ ...n, dataDir: doc.nodes.find((r) => r.id === n.id)?.dataDir })),
      this.ctx.log,
    );
    await this.ctx.endOperation(op.id, (d) => dropFromDocument(d, ids, removed));
    for (const r of removed) {
      this.leaving.delete(r.id);
      this.ctx.log.info({ node: r.id, movedTo: r.movedTo }, 'node removed');
      this.emit({ kind: 'removed', id: r.id });
    }
  }

  /**
   * Stop the node whether or not this process runs it: one left running by a proxy that
   * was killed is adopted first (only when it is that node: its Redis id, or its dir).
   */
  private async stopNode(id: string, redisId: string | undefined): Promise<void> {
    const doc = this.ctx.topology();
    const node = doc.nodes.find((n) => n.id === id);
    if (node?.external === true) {
      // Not ours to stop: it leaves the cluster instead (and so does not gossip its way back).
      await releaseExternalNode(node, this.clients(doc), this.ctx.commandTimeoutMs, this.ctx.log);
      return;
    }
    await this.ctx.provider.stop(id, true);
    if (node === undefined || node.port <= 0) return;
    const running = await this.clients(doc).with(node, async (c) => ({
      redisId: String(await c.call('CLUSTER', 'MYID')),
      dir: await configGet(c, 'dir'),
    }), this.ctx.commandTimeoutMs).catch(() => undefined); // not running (or not answering: nothing we could stop through it)
    if (running === undefined) return;
    const sameDir = running.dir !== undefined && node.dataDir !== undefined && (await realpathOrSelf(running.dir)) === (await realpathOrSelf(node.dataDir));
    if (running.redisId !== redisId && !sameDir) return; // another node has its port now
    this.ctx.log.warn({ node: id, port: node.port }, 'a node being removed is still running (left by a previous proxy): adopting it to stop it');
    const spec = nodeSpec(node, doc.nodePassword);
    await this.ctx.provider.start(spec, { host: node.host, port: node.port, busPort: node.busPort, handle: node.handle });
    await this.ctx.provider.stop(id, true);
  }

  /** The nodes to tell: every node of the document but the ones leaving (those that do not answer are skipped). */
  private reachableCandidates(doc: TopologyDoc, leaving: ReadonlySet<string>): NodeRecord[] {
    return doc.nodes.filter((n) => n.port > 0 && !leaving.has(n.id) && !this.leaving.has(n.id));
  }

  /** CLUSTER FORGET of `redisIds` on the nodes of `on` that answer (forget-nodes.ts); the others are told by forgetRemoved once back. */
  private forgetOn(on: readonly NodeRecord[], redisIds: readonly string[], quietRounds: number): Promise<void> {
    const { clients, log, commandTimeoutMs, settleTimeoutMs } = this.formation();
    return forgetNodes(on, redisIds, { clients, log, commandTimeoutMs, settleTimeoutMs, quietRounds, unanswering: 'skip' });
  }

  // --- shared ---------------------------------------------------------------------------

  private membership(doc: TopologyDoc): Promise<Map<string, Member>> {
    return readMembership(doc.nodes, this.clients(doc), this.ctx.commandTimeoutMs);
  }

  /** Connections to `doc`'s nodes, with its password. */
  private clients(doc: TopologyDoc): ControlClients {
    return this.ctx.routes.as(doc.nodePassword);
  }

  private formation(): FormationOptions {
    return { clients: this.clients(this.ctx.topology()), log: this.ctx.log, commandTimeoutMs: this.ctx.commandTimeoutMs, settleTimeoutMs: this.ctx.settleTimeoutMs };
  }

  private emit(change: NodeChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.ctx.log.error({ err: (err as Error).message, change: change.kind }, 'node change listener failed');
      }
    }
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function rollbackId(op: AddNodeOperation): string {
  return `${op.id}-rollback`;
}

function refuseStatic(doc: TopologyDoc): void {
  if (doc.provider === 'static') throw new NodeChangeError("ERR the nodes of a static cluster are its owner's to add and remove");
}
