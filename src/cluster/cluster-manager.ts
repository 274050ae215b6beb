/**
 * ClusterManager: brings up the Redis Cluster described by data-dir/topology.json (creating
 * the document on first use), owns the data-dir lock, and stops the nodes it owns on
 * shutdown.
 *
 * open(): lock the data dir → load, convert (pre-cluster layout) or create the document (a
 * new one is persisted before any node starts, so a crash mid-start never leads to a second
 * cluster on the same dirs) → start/adopt every node → form the cluster the first time,
 * rejoin it afterwards → persist ports and handles. For the static provider: check that the
 * seeds are Redis Cluster nodes; the cluster is its owner's.
 *
 * Slots and roles are not kept here: they are the cluster's, read by the router's SlotMapSource.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { ControlClients, formatAddress, infoFields, type NodeAddress } from '../nodes/control-client.js';
import { handleLogFields, NodeStartError, type NodeProvider, type ProcessProbe } from '../nodes/provider.js';
import { formCluster, rejoinCluster, type FormationOptions, type PlacedNode } from './operations/cluster-formation.js';
import { DataDirLock } from './data-dir-lock.js';
import { readMembership, type Member } from './membership.js';
import { redisIdFromDir } from '../nodes/cluster-nodes.js';
import { NodeChanges, nodesUnderChange, type NodeChange } from './operations/node-changes.js';
import { dropFromDocument, moveNodeDirs } from './operations/node-retirement.js';
import { convertStandaloneLayout } from './topology/standalone-layout.js';
import { nodeSpec, retiringNodes, seedAddresses, type NodeRecord, type Operation, type OperationBase, type TopologyDoc } from './topology/topology.js';
import { buildManagedTopology, buildStaticTopology, generateNodePassword } from './topology/topology-builder.js';
import { TopologyStore, type DocumentStore } from './topology/topology-store.js';
import { NodePreparer, type PrepareRequest, type ScriptSource } from './operations/node-preparation.js';
import { withConfigPairs } from './node-config.js';
import { FUNCTION_KILL, SCRIPT_KILL, sendKill, type KillSender } from '../commands/script-kill.js';
import { NO_EVENTS, type ClusterEventBody, type ClusterEventRecorder } from '../status/cluster-events.js';

/** Bound on asking a node its role while stopping (a busy node would make the stop wait). */
const SHUTDOWN_PROBE_MS = 500;

export interface ClusterManagerOptions {
  dataDir: string;
  /** Layout of a new cluster; an existing topology.json wins over these (with a warning). */
  masters: number;
  replicas: number;
  provider: NodeProvider;
  /** Seed nodes of the static provider (`--node host:port`). */
  staticNodes?: { host: string; port: number }[];
  /** Password of the static nodes ('' or absent: none). Ignored by providers that run their own nodes: those get a generated one. */
  staticPassword?: string;
  log: Logger;
  /** Bound on each control-plane command. Default 2 s. */
  commandTimeoutMs?: number;
  /** The proxy's control-plane connections (its dial routes); the password is the document's. Default: nodes dialled as announced. */
  clients?: ControlClients;
  /** Bound on each wait for the cluster to settle (formation, rejoin, a node met or forgotten). Default 30 s. */
  settleTimeoutMs?: number;
  /** Bound on a new replica's first full sync (addNode). Default 120 s. */
  syncTimeoutMs?: number;
  /** The scripts the proxy knows, loaded on every node that joins or restarts (see node-preparation.ts). */
  scripts?: ScriptSource;
  /** Where the document lives; default data-dir/topology.json (etcd when proxies coordinate). */
  store?: DocumentStore;
  /** Told of every document persisted (the data plane's TopologyView follows it). */
  onDocument?: (doc: TopologyDoc) => void;
  /**
   * A leader taking over from another (--workers, --coordinator): a master that does not
   * answer but has a replica that does is not restarted here but left to the failover
   * monitor, which promotes the replica at once. A restarted master refuses writes for its
   * first 2 s (Redis's CLUSTER_WRITABLE_DELAY) and the rejoin waits for it; a promotion
   * takes a fraction of that. The old master is restarted afterwards, as a replica.
   */
  takeover?: boolean;
  /** Resolves once this proxy's requests to a node are answered (bounded): before a node being removed is stopped. Default: at once. */
  drained?: (host: string, port: number) => Promise<void>;
  /** The cluster's timeline: nodes added, removed and restarted. */
  events?: ClusterEventRecorder;
}

export class ClusterManager {
  private doc: TopologyDoc;
  private closed = false;
  /** Changes to the document and the nodes happen one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Nodes added and removed (persisted operations; see node-changes.ts). */
  private readonly changes: NodeChanges;
  /** Gets a node ready before it serves: remembered CONFIG, scripts, functions. */
  private readonly preparer: NodePreparer;
  /** Operations begun by this manager: with the time, what keeps their ids apart. */
  private operationsBegun = 0;
  /** Control-plane connections to this cluster's nodes, with the document's password. */
  readonly clients: ControlClients;

  private constructor(
    /** Absolute data dir. */
    readonly dataDir: string,
    private readonly lock: DataDirLock,
    private readonly store: DocumentStore,
    private readonly provider: NodeProvider,
    private readonly log: Logger,
    routes: ControlClients,
    private readonly commandTimeoutMs: number,
    settleTimeoutMs: number,
    syncTimeoutMs: number,
    doc: TopologyDoc,
    scripts: ScriptSource | undefined,
    private readonly onDocument: (doc: TopologyDoc) => void,
    private readonly events: ClusterEventRecorder,
    drained: (host: string, port: number) => Promise<void>,
  ) {
    this.doc = deepFreeze(doc);
    onDocument(this.doc);
    this.clients = routes.as(() => this.doc.nodePassword);
    this.preparer = new NodePreparer({
      clients: this.clients,
      config: () => this.doc.nodeConfig ?? [],
      peers: () => this.seedAddresses(),
      scripts,
      commandTimeoutMs,
      log,
    });
    this.changes = new NodeChanges({
      dataDir,
      provider,
      routes,
      log,
      commandTimeoutMs,
      settleTimeoutMs,
      syncTimeoutMs,
      topology: () => this.doc,
      update: (change) => this.update(change),
      beginOperation: (op, change) => this.beginOperation(op, change),
      saveOperation: (op, change) => this.saveOperation(op, change),
      endOperation: (id, change) => this.endOperation(id, change),
      exclusive: (work) => this.serialized(work),
      prepare: (node, why) => this.prepareNode(node, why),
      drained,
    });
    this.changes.subscribe((change) => this.events.record(changeEvent(change)));
  }

  /** The current document (frozen: build a new one to change it). */
  get topology(): TopologyDoc {
    return this.doc;
  }

  /** Password the nodes require. */
  get nodePassword(): string {
    return this.doc.nodePassword;
  }

  /** Where to ask the cluster for its view: every node we run, or the static seeds. */
  seedAddresses(): NodeAddress[] {
    return seedAddresses(this.doc);
  }

  static async open(opts: ClusterManagerOptions): Promise<ClusterManager> {
    const { log, provider } = opts;
    const commandTimeoutMs = opts.commandTimeoutMs ?? 2_000;
    const routes = opts.clients ?? new ControlClients({ timeoutMs: commandTimeoutMs });
    const dataDir = path.resolve(opts.dataDir);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const lock = await DataDirLock.acquire(dataDir, log);
    const store = opts.store ?? new TopologyStore(dataDir);
    const started: string[] = [];
    let manager: ClusterManager;
    try {
      const persisted = await store.load();
      let doc: TopologyDoc;
      if (persisted === undefined) {
        doc = createTopology(opts, dataDir);
        await store.save(doc); // before any node starts: a crash from here on is recoverable
        log.info({ topology: store.location, masters: opts.masters, replicas: opts.replicas, provider: provider.kind }, 'new cluster topology created');
      } else if (persisted.format === 1) {
        if (provider.kind !== 'process') throw new Error(`${store.location} holds a pre-cluster layout of the process provider: start with --provider process to convert it`);
        doc = await convertStandaloneLayout(persisted, log, routes, commandTimeoutMs);
        await store.save(doc);
      } else {
        doc = reconcileWithOptions(persisted, opts, store.location);
      }
      const settleTimeoutMs = opts.settleTimeoutMs ?? 30_000;
      const formation: FormationOptions = { clients: routes.as(doc.nodePassword), log, commandTimeoutMs, settleTimeoutMs };
      // Nodes an interrupted addition or removal is about are left to its resumption below:
      // a node being removed must not be started again.
      const underChange = nodesUnderChange(doc);
      let up: TopologyDoc;
      if (provider.kind === 'static') {
        await checkSeeds(doc, routes.as(doc.nodePassword), commandTimeoutMs);
        up = doc;
      } else {
        // Nodes an operation is about (being added, removed, or retired by a recovery) are left
        // to it; on a takeover, dead masters are left to the failover monitor.
        const dead = opts.takeover === true && doc.formed ? await deadMastersWithReplicas(doc, routes.as(doc.nodePassword), commandTimeoutMs) : [];
        if (dead.length > 0) log.warn({ nodes: dead }, 'masters down at takeover: left to the failover monitor (their replicas take over)');
        const skip = new Set([...underChange, ...retiringNodes(doc), ...dead]);
        const { doc: placedDoc, failed } = await startNodes(doc, provider, routes, started, skip);
        up = placedDoc;
        // A formed cluster serves with the nodes that start (the failover side deals with the
        // others: a replica takes over, or the shard is recovered); forming needs them all.
        if (failed.size > 0 && (!up.formed || failed.size === up.nodes.length - skip.size)) throw joinErrors([...failed.values()]);
        for (const [id, err] of failed) log.error({ node: id, err: err.message }, 'node could not be started; serving without it');
        const placed: PlacedNode[] = up.nodes
          .filter((n) => !failed.has(n.id) && !skip.has(n.id))
          .map((n) => ({ id: n.id, host: n.host, port: n.port, busPort: n.busPort, replicaOf: n.formedAsReplicaOf }));
        if (!up.formed) {
          await store.save(up); // ports first: a crash mid-formation restarts on the same ports
          await formCluster(placed, up.initialSlots, formation);
          up.formed = true;
        } else {
          await rejoinCluster(placed, formation);
        }
      }
      if (JSON.stringify(up) !== JSON.stringify(persisted)) await store.save(up);
      manager = new ClusterManager(dataDir, lock, store, provider, log, routes, commandTimeoutMs, settleTimeoutMs, opts.syncTimeoutMs ?? 120_000, up, opts.scripts, opts.onDocument ?? (() => {}), opts.events ?? NO_EVENTS, opts.drained ?? (() => Promise.resolve()));
    } catch (err) {
      if (provider.kind !== 'static') await stopAfterFailedOpen(provider, started, log);
      provider.close?.();
      await lock.release();
      throw err;
    }
    if (provider.kind !== 'static') {
      try {
        await manager.changes.resume();
      } catch (err) {
        log.error({ err: (err as Error).message }, 'an interrupted node addition or removal could not be finished nor rolled back; it stays recorded for the next start');
        await manager.shutdown().catch((e: Error) => log.error({ err: e.message }, 'cluster shutdown after a failed open failed'));
        throw err;
      }
    }
    const nodes = manager.topology.nodes;
    log.info({ dataDir, provider: provider.kind, nodes: nodes.map((n) => `${n.id}@${n.host}:${n.port}`) }, 'cluster up');
    return manager;
  }

  /**
   * Stop every node this manager owns — masters first, so their replicas get the last
   * writes (a replica stopped first would make its master wait for it) — and release the
   * lock. Idempotent.
   *
   * A node busy in a script or function does not act on SIGTERM until the script ends (if
   * ever): every node is sent SCRIPT KILL and FUNCTION KILL first (read by a busy node once
   * its busy-reply-threshold has passed; then the SIGTERM acts and the AOF is flushed as
   * usual), and the provider's SIGTERM is bounded (a few seconds), then SIGKILL. SIGKILL
   * loses no acknowledged write: Redis writes the AOF before it answers (fsync is what
   * everysec defers, and a process kill does not undo a write()) — unless the disk is too
   * slow for everysec, when Redis holds the write back up to 2 s, its documented window.
   * The busy script's own effects, never acknowledged, are dropped.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.changes.idle(); // a node being added is stopped too
    await this.queue; // a restart under way finishes first, so its node is stopped too
    const failures: Error[] = [];
    if (this.provider.kind !== 'static') {
      const kills = this.doc.nodes.map((n) => this.killRunningScripts(n));
      // A busy node answers nothing for a while: its role is not worth waiting long for.
      const roles = await Promise.all(this.doc.nodes.map((n) => this.roleOf(n, Math.min(this.commandTimeoutMs, SHUTDOWN_PROBE_MS))));
      void Promise.all(kills);
      for (const wave of ['master', 'replica'] as const) {
        const ids = this.doc.nodes.filter((_, i) => (roles[i] === 'slave' ? 'replica' : 'master') === wave).map((n) => n.id);
        const results = await Promise.allSettled(ids.map((id) => this.provider.stop(id, true)));
        for (const r of results) if (r.status === 'rejected') failures.push(r.reason as Error);
      }
    }
    this.provider.close?.();
    await this.lock.release();
    if (failures.length > 0) {
      throw new AggregateError(failures, `cluster shutdown: ${failures.map((e) => e.message).join('; ')}`);
    }
    this.log.info({ dataDir: this.dataDir }, 'cluster stopped');
  }

  /** Told when a node the provider runs exits without being asked to. */
  set onUnexpectedExit(fn: (id: string) => void) {
    this.provider.onUnexpectedExit = fn;
  }

  /** Told when the provider has a hint that a node may be unwell (Docker: oom, unhealthy). */
  set onSuspect(fn: (id: string) => void) {
    this.provider.onSuspect = fn;
  }

  /** What the node's process is doing, from its provider (unknown where the provider cannot see it). */
  probeProcess(id: string): Promise<ProcessProbe> {
    return this.provider.probe?.(id) ?? Promise.resolve({ kind: 'unknown', reason: `the ${this.provider.kind} provider cannot see a node's process` });
  }

  /**
   * Start a node again from its own dir (same config, same nodes.conf: it rejoins the
   * cluster as what it was, and Redis makes a former master a replica of whoever took its
   * slots). A process that is still there but stopped answering (SIGSTOP, hung) is killed
   * first. Persists its new pid and ports; a node back on other ports is met again there.
   */
  restartNode(id: string): Promise<NodeRecord> {
    return this.serialized(async () => {
      if (this.closed) throw new Error(`node ${id}: the cluster is shutting down`);
      if (this.changes.isLeaving(id)) throw new Error(`node ${id} is being removed`);
      const index = this.doc.nodes.findIndex((n) => n.id === id);
      if (index === -1) throw new Error(`unknown node ${id}`);
      const node = this.doc.nodes[index];
      if (node.external === true) throw new NodeStartError(`node ${id} at ${node.host}:${node.port} is run by its owner (added by address): the proxy cannot start it`);
      const spec = nodeSpec(node, this.doc.nodePassword);
      await this.provider.stop(id, false);
      const running = await this.provider.start(spec, { host: node.host, port: node.port, busPort: node.busPort, handle: node.handle });
      const next = structuredClone(this.doc) as TopologyDoc;
      const record = next.nodes[index];
      const moved = record.port !== running.port || record.busPort !== running.busPort;
      Object.assign(record, { host: running.host, port: running.port, busPort: running.busPort, handle: running.handle });
      await this.store.save(next);
      this.doc = deepFreeze(next);
      this.onDocument(this.doc);
      if (moved) await this.meetFromAnother(record);
      // It may have been down while a node was removed: its nodes.conf still lists that one.
      await this.changes.forgetRemoved([record]);
      // It is in the cluster again whatever this says: a node that cannot be prepared is
      // logged and serves as it is (NOSCRIPT is retried with the script's body; the next
      // restart or CONFIG SET applies the rest), rather than being stopped with its data.
      await this.prepareNode(record, 'restarted').catch((err: Error) => this.log.error({ node: id, err: err.message }, 'restarted node serves without the remembered CONFIG, scripts or functions'));
      this.log.info({ node: id, port: running.port, ...handleLogFields(this.provider.kind, running.handle), moved }, 'node restarted');
      this.events.record({ kind: 'node-restarted', node: id, address: `${record.host}:${record.port}`, moved });
      return record;
    });
  }

  /**
   * Change the document: `change` edits a private copy, which is persisted (atomically)
   * before it becomes the current document. Serialized with every other change, so a
   * change never works on a stale copy. Resolves to the new document.
   */
  update(change: (doc: TopologyDoc) => void): Promise<TopologyDoc> {
    return this.serialized(async () => {
      if (this.closed) throw new Error('the cluster is shutting down');
      const next = structuredClone(this.doc) as TopologyDoc;
      change(next);
      await this.store.save(next);
      this.doc = deepFreeze(next);
      this.onDocument(this.doc);
      return this.doc;
    });
  }

  /**
   * Get a node ready before it serves traffic: the remembered CONFIG SET values, the
   * scripts the proxy knows and, for a master, the cluster's function libraries (see
   * node-preparation.ts). Rejects when the node could not be prepared in `attempts` tries.
   */
  prepareNode(node: NodeRecord, why: string, attempts?: number): Promise<void> {
    return this.preparer.prepare(node, why, { functions: true, attempts });
  }

  /**
   * The same without the function libraries: for nodes that all come up together (the
   * proxy's start), whose libraries are the ones they persisted.
   */
  prepareStartedNode(node: PrepareRequest, why: string): Promise<void> {
    // One try: a node that does not answer now would hold up the proxy's start.
    return this.preparer.prepare(node, why, { functions: false, attempts: 1 });
  }

  /** The node parameters set through the proxy (CONFIG SET), in the order they are applied. */
  get nodeConfig(): readonly (readonly [string, string])[] {
    return this.doc.nodeConfig ?? [];
  }

  /** Remember CONFIG SET pairs (names resolved, see node-config.ts) for nodes that join later. */
  async rememberConfig(pairs: readonly (readonly [string, string])[]): Promise<void> {
    await this.update((doc) => {
      doc.nodeConfig = withConfigPairs(doc.nodeConfig ?? [], pairs);
    });
  }

  /**
   * Add a node: an empty master (no slots: moving slots onto it is REBALANCE's), or with
   * `replicaOf` (our id of a master) a replica of it, returned once it is in sync. Started
   * by the provider in a new dir under the data dir, with an id never used before; met by
   * every node that answers. Persisted as an 'add-node' operation before the node starts
   * (see node-changes.ts). Rejects with NodeChangeError, changing nothing, for an unknown
   * master, a replica named as master, or a master that does not answer.
   */
  addNode(opts: { replicaOf?: string; address?: NodeAddress } = {}): Promise<NodeRecord> {
    return this.changes.addNode(opts);
  }

  /**
   * Remove a node, running or dead: stopped, forgotten by every node that answers, its dir
   * moved to data-dir/removed/, its record moved to `removedNodes`. A master must serve no
   * slots and not be the last master; its replicas are removed with it. Persisted as a
   * 'remove-node' operation; calling it again after a failure finishes that one.
   */
  removeNode(id: string): Promise<void> {
    return this.changes.removeNode(id);
  }

  /** Every node as the cluster sees it now (role, its master, slots), by our ids. */
  membership(): Promise<Map<string, Member>> {
    return readMembership(this.doc.nodes, this.clients, this.commandTimeoutMs);
  }

  /** Be told of nodes added and removed (e.g. to watch them); returns the unsubscribe function. */
  onNodeChange(listener: (change: NodeChange) => void): () => void {
    return this.changes.subscribe(listener);
  }

  /**
   * Tell the nodes that answer to forget removed nodes they still list (a node that was down
   * during a removal gossips them back otherwise). Never throws.
   */
  forgetRemovedNodes(): Promise<void> {
    return this.changes.forgetRemoved();
  }

  /** Operations under way (persisted; see TopologyDoc.operations). */
  get operations(): readonly Operation[] {
    return this.doc.operations ?? [];
  }

  /** Record an operation before its first step (with `change` to the document in the same save); returns it with its id. */
  async beginOperation<T extends OperationBase>(op: Omit<T, 'id' | 'startedAt'>, change?: (doc: TopologyDoc) => void): Promise<T> {
    const full = { ...op, id: `op-${Date.now()}-${++this.operationsBegun}`, startedAt: new Date().toISOString() } as T;
    await this.update((doc) => {
      (doc.operations ??= []).push(full);
      change?.(doc);
    });
    return full;
  }

  /** Replace a recorded operation (its progress) by id, with `change` to the document in the same save. */
  async saveOperation(op: Operation, change?: (doc: TopologyDoc) => void): Promise<void> {
    await this.update((doc) => {
      const ops = doc.operations ?? [];
      const i = ops.findIndex((o) => o.id === op.id);
      if (i === -1) throw new Error(`operation ${op.id} is not recorded`);
      ops[i] = structuredClone(op);
      change?.(doc);
    });
  }

  /** The operation is over (done or rolled back), with `change` to the document in the same save. */
  async endOperation(id: string, change?: (doc: TopologyDoc) => void): Promise<void> {
    await this.update((doc) => {
      doc.operations = (doc.operations ?? []).filter((o) => o.id !== id);
      change?.(doc);
    });
  }

  /** Stop a node (SIGKILL; no-op when it is not running), after any restart of it under way. */
  stopNode(id: string): Promise<void> {
    return this.serialized(() => this.provider.stop(id, false));
  }

  /**
   * Take nodes out of the proxy's cluster for good: each is stopped (if running), its dir
   * moved under `asideDir` (kept, never deleted), and it leaves the document — in the same
   * atomic write as `change` (e.g. ending the operation that retired them). Forgetting
   * them in the cluster (CLUSTER FORGET) is the caller's. A dir already moved is skipped,
   * so a step interrupted by a crash is simply done again.
   */
  dropNodes(ids: readonly string[], asideDir: string, change: (doc: TopologyDoc) => void = () => {}): Promise<TopologyDoc> {
    return this.serialized(async () => {
      if (this.closed) throw new Error('the cluster is shutting down');
      const dropped = this.doc.nodes.filter((n) => ids.includes(n.id));
      for (const n of dropped) {
        await this.provider.stop(n.id, false);
        await this.provider.discard?.(n.id);
      }
      const leaving = await Promise.all(dropped.map(async (n) => ({ id: n.id, redisId: await redisIdFromDir(n.dataDir), dataDir: n.dataDir, movedTo: path.join(asideDir, n.id) })));
      const removed = await moveNodeDirs(leaving, this.log);
      const next = structuredClone(this.doc) as TopologyDoc;
      // Like a removal: the ids are never given again, and formation-only references go.
      dropFromDocument(next, new Set(ids), removed);
      change(next);
      await this.store.save(next);
      this.doc = deepFreeze(next);
      this.onDocument(this.doc);
      this.log.warn({ nodes: ids }, 'nodes removed from the cluster');
      return this.doc;
    });
  }

  /**
   * Let go of the data dir without stopping anything: the nodes (and whatever else runs)
   * stay up for the next proxy to adopt — what a proxy killed with SIGKILL leaves behind,
   * for tests of resuming. Idempotent.
   */
  async detach(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    this.provider.close?.();
    await this.lock.release();
  }

  /** CLUSTER MEET the node at its (new) address from the first other node that answers. */
  private async meetFromAnother(node: NodeRecord): Promise<void> {
    for (const other of this.doc.nodes) {
      if (other.id === node.id || other.port <= 0) continue;
      try {
        await this.clients.with(
          other,
          (c) => c.call('CLUSTER', 'MEET', node.host, String(node.port), String(node.busPort)),
          this.commandTimeoutMs,
        );
        return;
      } catch (err) {
        this.log.debug({ via: other.id, err: (err as Error).message }, 'cluster meet failed; trying another node');
      }
    }
    this.log.warn({ node: node.id }, 'no node answered to meet a node back on another port');
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The node's role right now ('master', 'slave'), or 'unknown' when it does not answer. */
  /**
   * SIGKILL every node at once (a second Ctrl-C while shutdown() waits): nothing left
   * running. The lock stays until the process exits; the next start adopts nothing and
   * starts the nodes from their dirs (their AOFs hold every acknowledged write).
   */
  async killNodes(): Promise<void> {
    this.closed = true;
    await this.provider.killAll?.();
  }

  /** SCRIPT KILL and FUNCTION KILL on a node (a busy one reads them once past busy-reply-threshold). Never throws. */
  private async killRunningScripts(node: NodeRecord): Promise<void> {
    if (node.port <= 0) return;
    try {
      await this.clients.with(node, async (c) => {
        const send: KillSender = (kill) => c.call(...kill.args).then(String, (err: Error) => err.message);
        for (const kill of [SCRIPT_KILL, FUNCTION_KILL]) {
          // NOTBUSY is the usual answer; UNKILLABLE (it wrote) leaves it to the SIGKILL.
          const { outcome } = await sendKill(send, kill);
          if (outcome === 'killed') this.log.warn({ node: node.id, command: kill.name }, 'stopping: killed the script the node was running');
        }
      }, this.commandTimeoutMs);
    } catch {
      // Down already, or still busy past the bound: the provider's SIGTERM/SIGKILL deals with it.
    }
  }

  private async roleOf(node: NodeAddress, timeoutMs = this.commandTimeoutMs): Promise<string> {
    if (node.port <= 0) return 'unknown';
    try {
      return await this.clients.with(node, async (c) => (await infoFields(c, 'replication')).get('role') ?? 'unknown', timeoutMs);
    } catch {
      return 'unknown'; // down already: nothing to order
    }
  }
}

/** A node added or removed, as the timeline tells it. */
function changeEvent(change: NodeChange): ClusterEventBody {
  if (change.kind === 'added') {
    const n = change.node;
    return { kind: 'node-added', node: n.id, address: `${n.host}:${n.port}`, ...(change.replicaOf === undefined ? {} : { replicaOf: change.replicaOf }) };
  }
  return { kind: change.kind === 'removing' ? 'node-removing' : 'node-removed', node: change.id };
}

function createTopology(opts: ClusterManagerOptions, dataDir: string): TopologyDoc {
  const kind = opts.provider.kind;
  if (kind === 'static') return buildStaticTopology(opts.staticNodes ?? [], opts.staticPassword ?? '');
  return buildManagedTopology({ provider: kind, dataDir, masters: opts.masters, replicas: opts.replicas, nodePassword: generateNodePassword() });
}

/** The persisted document wins over the options; say so when they disagree. */
function reconcileWithOptions(persisted: TopologyDoc, opts: ClusterManagerOptions, file: string): TopologyDoc {
  const kind = opts.provider.kind;
  if (persisted.provider !== kind) {
    throw new Error(`${file} belongs to a cluster of the ${persisted.provider} provider, not ${kind}: use the ${persisted.provider} provider or another data dir`);
  }
  const doc = structuredClone(persisted);
  if (kind === 'static') {
    // The seeds given now are where to look; the cluster itself says the rest.
    const given = buildStaticTopology(opts.staticNodes ?? [], opts.staticPassword ?? doc.nodePassword);
    if (doc.nodeConfig !== undefined) given.nodeConfig = doc.nodeConfig; // CONFIG SET values are ours, not the seeds'
    if (opts.staticPassword !== undefined && opts.staticPassword !== doc.nodePassword) opts.log.info('static node password changed; using the new one');
    return given;
  }
  const masters = doc.nodes.filter((n) => n.formedAsReplicaOf === undefined).length;
  const replicas = doc.nodes.length - masters;
  if (masters !== opts.masters || replicas !== opts.masters * opts.replicas) {
    opts.log.warn(
      { topology: file, persisted: { nodes: doc.nodes.length }, given: { masters: opts.masters, replicas: opts.replicas } },
      'the persisted cluster wins over --masters/--replicas',
    );
  }
  return doc;
}

/**
 * Start (or adopt) every node of `doc` but those in `skip`. Returns the document with the
 * nodes' current addresses and handles, and the nodes that could not be started with why;
 * `started` collects the ids the provider now owns (for cleanup when a later step fails).
 */
async function startNodes(
  doc: TopologyDoc,
  provider: NodeProvider,
  routes: ControlClients,
  started: string[],
  skip: ReadonlySet<string>,
): Promise<{ doc: TopologyDoc; failed: Map<string, Error> }> {
  const next = structuredClone(doc);
  const failed = new Map<string, Error>();
  await Promise.all(
    next.nodes.filter((n) => !skip.has(n.id)).map(async (node) => {
      const spec = nodeSpec(node, next.nodePassword);
      const previous = node.port > 0 ? { host: node.host, port: node.port, busPort: node.busPort, handle: node.handle } : undefined;
      try {
        if (node.external === true) {
          // Its owner runs it: is it there?
          await routes.as(next.nodePassword).with(node, (c) => c.call('PING'), 2_000);
          return;
        }
        const running = await provider.start(spec, previous);
        started.push(node.id);
        node.host = running.host;
        node.port = running.port;
        node.busPort = running.busPort;
        node.handle = running.handle;
      } catch (err) {
        failed.set(node.id, err as Error);
      }
    }),
  );
  return { doc: next, failed };
}

/**
 * Masters that do not answer while a replica of theirs does (by the cluster's own views):
 * a new leader fails them over rather than restarting them (see ClusterManagerOptions.takeover).
 */
async function deadMastersWithReplicas(doc: TopologyDoc, clients: ControlClients, timeoutMs: number): Promise<string[]> {
  const members = [...(await readMembership(doc.nodes, clients, Math.min(timeoutMs, 500))).values()];
  return members
    .filter((m) => m.role === 'master' && !m.answering && m.slots > 0 && members.some((r) => r.role === 'replica' && r.masterId === m.id && r.answering))
    .map((m) => m.id);
}

/**
 * The static provider's seeds: at least one must answer, and every one that answers must
 * be a Redis Cluster node (a standalone Redis behind a cluster front end would silently
 * get keys it does not own).
 */
async function checkSeeds(doc: TopologyDoc, clients: ControlClients, timeoutMs: number): Promise<void> {
  const problems: string[] = [];
  let reachable = 0;
  for (const seed of doc.nodes) {
    const addr = { host: seed.host, port: seed.port };
    const probe = await clients.probe(addr, timeoutMs);
    if (probe.state === 'auth-refused') throw new Error(`static node ${formatAddress(addr)} refused the password: ${probe.reason}`);
    if (probe.state !== 'ready') {
      problems.push(`${formatAddress(addr)}: ${'reason' in probe ? probe.reason : probe.state}`);
      continue;
    }
    const enabled = await clients.with(addr, async (c) => (await infoFields(c, 'cluster')).get('cluster_enabled'), timeoutMs);
    if (enabled !== '1') {
      throw new Error(
        `static node ${formatAddress(addr)} is not a Redis Cluster node (cluster support disabled): --provider static fronts an existing Redis Cluster (cluster-enabled yes)`,
      );
    }
    reachable++;
  }
  if (reachable === 0) throw new Error(`no static seed node answers: ${problems.join('; ')}`);
}

/** One error for several nodes' failures (the same one once: e.g. every node failing on a missing binary). */
function joinErrors(errors: Error[]): Error {
  const distinct = [...new Map(errors.map((e) => [e.message, e])).values()];
  if (distinct.length === 1) return distinct[0];
  return new AggregateError(distinct, `${distinct.length} nodes failed to start:\n${distinct.map((e) => e.message).join('\n')}`);
}

/** Cleanup after a failed open: stop what was started; failures are logged (the open error is what the caller sees). */
async function stopAfterFailedOpen(provider: NodeProvider, ids: string[], log: Logger): Promise<void> {
  const results = await Promise.allSettled(ids.map((id) => provider.stop(id, true)));
  results.forEach((r, i) => {
    if (r.status === 'rejected') log.error({ node: ids[i], err: r.reason as Error }, 'could not stop node after a failed open');
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
