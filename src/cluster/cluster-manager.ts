/**
 * ClusterManager: brings the cluster described by data-dir/topology.json up (creating the
 * topology on first use), owns the data-dir lock, and stops the nodes it owns on shutdown.
 *
 * open(): lock the data dir → load or create the topology (a new one is persisted before any
 * node starts, so a crash mid-start never leads to a second cluster on the same dirs) →
 * start/adopt masters, then replicas → make every node's role match the topology →
 * persist ports/handles (epoch+1 when anything changed).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { formatAddress, infoFields, withControlClient, type NodeAddress } from '../nodes/control-client.js';
import type { NodeProvider, NodeSpec } from '../nodes/provider.js';
import { DataDirLock } from './data-dir-lock.js';
import { describeReplication, ensureRole } from './node-role.js';
import { SlotMap } from './slot-map.js';
import type { NodeRecord, TopologyDoc } from './topology.js';
import { buildManagedTopology, buildStaticTopology, generateNodePassword } from './topology-builder.js';
import { TopologyStore } from './topology-store.js';

export interface ClusterManagerOptions {
  dataDir: string;
  /** Layout of a new cluster; an existing topology.json wins over these (with a warning). */
  masters: number;
  replicas: number;
  provider: NodeProvider;
  /** The nodes of the static provider (`--node host:port`). */
  staticNodes?: { host: string; port: number }[];
  /** Password of the static nodes ('' or absent: none). Ignored by providers that run their own nodes: those get a generated one. */
  staticPassword?: string;
  log: Logger;
  /** Bound on each control-plane command (role checks). Default 2 s. */
  commandTimeoutMs?: number;
}

export class ClusterManager {
  private doc: TopologyDoc;
  private map: SlotMap;
  private closed = false;

  private constructor(
    /** Absolute data dir. */
    readonly dataDir: string,
    private readonly lock: DataDirLock,
    private readonly provider: NodeProvider,
    private readonly log: Logger,
    doc: TopologyDoc,
  ) {
    this.doc = deepFreeze(doc);
    this.map = SlotMap.fromTopology(doc);
  }

  /** The current topology (frozen: build a new document to change it). */
  get topology(): TopologyDoc {
    return this.doc;
  }

  get slotMap(): SlotMap {
    return this.map;
  }

  static async open(opts: ClusterManagerOptions): Promise<ClusterManager> {
    const { log, provider } = opts;
    const dataDir = path.resolve(opts.dataDir);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const lock = await DataDirLock.acquire(dataDir, log);
    const store = new TopologyStore(dataDir);
    const started: string[] = [];
    try {
      const persisted = await store.load();
      let doc: TopologyDoc;
      if (persisted) {
        doc = reconcileWithOptions(persisted, opts, store.path);
      } else {
        doc = createTopology(opts, dataDir);
        await store.save(doc); // before any node starts: a crash from here on is recoverable
        log.info({ topology: store.path, masters: doc.shards.length, replicas: opts.replicas, provider: provider.kind }, 'new cluster topology created');
      }
      const up = await startNodes(doc, provider, log, opts.commandTimeoutMs ?? 2_000, started);
      if (JSON.stringify(up) !== JSON.stringify(doc)) {
        up.epoch = doc.epoch + 1;
        await store.save(up);
      }
      const manager = new ClusterManager(dataDir, lock, provider, log, up);
      log.info(
        { dataDir, epoch: up.epoch, masters: up.shards.length, nodes: up.nodes.map((n) => `${n.id}@${n.host}:${n.port}`) },
        'cluster up',
      );
      return manager;
    } catch (err) {
      if (provider.kind !== 'static') await stopAfterFailedOpen(provider, started, log);
      await lock.release();
      throw err;
    }
  }

  /** Stop every node this manager owns (masters first, so replicas get their last writes); release the lock. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const failures: Error[] = [];
    if (this.provider.kind !== 'static') {
      for (const role of ['master', 'replica'] as const) {
        const ids = this.doc.nodes.filter((n) => n.role === role).map((n) => n.id);
        const results = await Promise.allSettled(ids.map((id) => this.provider.stop(id, true)));
        for (const r of results) if (r.status === 'rejected') failures.push(r.reason as Error);
      }
    }
    await this.lock.release();
    if (failures.length > 0) {
      throw new AggregateError(failures, `cluster shutdown: ${failures.map((e) => e.message).join('; ')}`);
    }
    this.log.info({ dataDir: this.dataDir }, 'cluster stopped');
  }
}

function createTopology(opts: ClusterManagerOptions, dataDir: string): TopologyDoc {
  const kind = opts.provider.kind;
  if (kind === 'static') {
    if (opts.replicas > 0) opts.log.warn({ replicas: opts.replicas }, 'static nodes are all masters: --replicas is ignored');
    return buildStaticTopology(opts.staticNodes ?? [], opts.staticPassword ?? '');
  }
  return buildManagedTopology({ provider: kind, dataDir, masters: opts.masters, replicas: opts.replicas, nodePassword: generateNodePassword() });
}

/** The persisted topology wins over the options; say so when they disagree. */
function reconcileWithOptions(persisted: TopologyDoc, opts: ClusterManagerOptions, file: string): TopologyDoc {
  const kind = opts.provider.kind;
  if (persisted.provider !== kind) {
    throw new Error(`${file} belongs to a cluster of the ${persisted.provider} provider, not ${kind}: use the ${persisted.provider} provider or another data dir`);
  }
  const doc = structuredClone(persisted);
  if (kind === 'static') {
    const persistedNodes = doc.nodes.map((n) => `${n.host}:${n.port}`);
    const given = (opts.staticNodes ?? []).map((a) => `${a.host}:${a.port}`);
    if (given.length > 0 && given.join(',') !== persistedNodes.join(',')) {
      opts.log.warn({ topology: file, persisted: persistedNodes, given }, 'the persisted topology wins over the --node list');
    }
    if (opts.staticPassword !== undefined && opts.staticPassword !== doc.nodePassword) {
      opts.log.info('static node password changed; using the new one');
      doc.nodePassword = opts.staticPassword;
    }
    return doc;
  }
  const replicaCounts = [...new Set(doc.shards.map((s) => s.replicaIds.length))];
  if (doc.shards.length !== opts.masters || replicaCounts.some((c) => c !== opts.replicas)) {
    opts.log.warn(
      { topology: file, persisted: { masters: doc.shards.length, replicas: replicaCounts.join('/') }, given: { masters: opts.masters, replicas: opts.replicas } },
      'the persisted topology wins over --masters/--replicas',
    );
  }
  return doc;
}

/**
 * Start (or adopt) every node of `doc`: masters first, then their replicas. Returns the
 * document with the nodes' current addresses and handles; `started` collects the ids the
 * provider now owns (for cleanup when a later step fails).
 */
async function startNodes(doc: TopologyDoc, provider: NodeProvider, log: Logger, timeoutMs: number, started: string[]): Promise<TopologyDoc> {
  const next = structuredClone(doc);
  const byId = new Map(next.nodes.map((n) => [n.id, n]));
  const password = next.nodePassword;

  const startOne = async (node: NodeRecord, replicaOf?: NodeAddress): Promise<void> => {
    const spec: NodeSpec = { id: node.id, host: node.host, port: node.port, dataDir: node.dataDir ?? '', password, replicaOf };
    const previous = node.port > 0 ? { host: node.host, port: node.port, handle: node.handle } : undefined;
    const running = await provider.start(spec, previous);
    started.push(node.id);
    node.host = running.host;
    node.port = running.port;
    node.handle = running.handle;
    const addr = { host: running.host, port: running.port };
    if (provider.kind === 'static') {
      await requireMaster(node.id, addr, password, timeoutMs);
      return;
    }
    const check = await ensureRole(addr, password, replicaOf ? { role: 'replica', master: replicaOf } : { role: 'master' }, timeoutMs);
    if (check.changed) {
      log.warn({ node: node.id, was: check.before, now: replicaOf ? `replica of ${formatAddress(replicaOf)}` : 'master' }, 'node role corrected to match the topology');
    }
  };

  const masters = next.nodes.filter((n) => n.role === 'master');
  await settleAll(masters.map((m) => () => startOne(m)));
  const replicas = next.nodes.filter((n) => n.role === 'replica');
  await settleAll(
    replicas.map((r) => () => {
      const master = byId.get(r.masterId ?? '');
      if (!master) throw new Error(`replica ${r.id} names unknown master ${String(r.masterId)}`);
      return startOne(r, { host: master.host, port: master.port });
    }),
  );
  return next;
}

/** Run all tasks concurrently; when any fail, throw once all have settled (one error, or an AggregateError). */
async function settleAll(tasks: (() => Promise<void>)[]): Promise<void> {
  const results = await Promise.allSettled(tasks.map((task) => task()));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
  const distinct = [...new Set(failures)]; // e.g. every node failing on the same missing binary
  if (distinct.length === 1) throw distinct[0];
  if (distinct.length > 1) throw new AggregateError(distinct, `${distinct.length} nodes failed to start:\n${distinct.map((e) => e.message).join('\n')}`);
}

async function requireMaster(id: string, addr: NodeAddress, password: string, timeoutMs: number): Promise<void> {
  const info = await withControlClient(addr, password, timeoutMs, (c) => infoFields(c, 'replication'));
  if (info.get('role') !== 'master') {
    throw new Error(`static node ${id} at ${formatAddress(addr)} is a ${describeReplication(info)}: static nodes must be masters`);
  }
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
