/**
 * Shard recovery: a master and all its replicas are down and the master cannot be started
 * again from its own dir (FailoverMonitor tried for --shard-recovery-timeout). Its slots go
 * to the surviving masters and its keys are restored from its AOF, in phases:
 *   load      the dead nodes are stopped for good; a copy of the master's AOF dir (a
 *             replica's when the master's cannot be loaded) under data-dir/recovery/<op>/,
 *             and a standalone recovery instance on it (RecoveryInstanceRunner)
 *   reassign  each survivor takes an even share of the slots: CLUSTER SETSLOT <slot> NODE
 *             <itself> and CLUSTER BUMPEPOCH on it (a config epoch above the dead master's,
 *             so its nodes.conf loses if it ever comes back), SETSLOT on the other masters
 *             too; until every live node agrees and the router's map names the new owners
 *   migrate   every key of the instance (SCAN), grouped by slot, MIGRATEd to its slot's new
 *             owner in batches, without REPLACE: a key written there meanwhile keeps its
 *             newer value (BUSYKEY; counted as skipped). TTLs travel with the keys.
 *   forget    the instance stopped; CLUSTER FORGET of the dead nodes on every live node;
 *             the dead nodes leave the document (with the operation, in one write), their
 *             dirs moved under the recovery dir (never deleted)
 * Requests for the dead slots wait the whole time (RequestGate.holdSlots, each at most the hold
 * bound, then CLUSTERDOWN); a slot's requests go on as soon as its keys are on their owner.
 *
 * The operation ('recover-shard') is persisted before each phase and after each chunk of
 * slots, and every step is idempotent (SETSLOT/BUMPEPOCH again, MIGRATE of what is still
 * in the instance — MIGRATE deletes what it moved, and the instance's AOF records that,
 * FORGET of what is still known), so a proxy killed mid-way resumes at its phase.
 * What cannot be recovered (no loadable AOF, keys that fail to migrate) is reported:
 * an error log line, the status (INFO # Recovery) and report.json in the recovery dir.
 */
import { exists } from '../nodes/files.js';
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { parseClusterNodes } from '../nodes/cluster-nodes.js';
import { forgetNodes } from '../cluster/operations/forget-nodes.js';
import { KeyMover, type KeyTarget } from '../cluster/operations/key-mover.js';
import { expectOk, replyError, type NodeClient } from '../nodes/node-client.js';
import { decodeReply } from '../resp/reply-value.js';
import { keySlot } from '../cluster/key-slot.js';
import type { OperationLedger } from '../cluster/operation-ledger.js';
import type { RequestGate } from '../cluster/request-gate.js';
import type { SlotMapSource } from '../cluster/slot-map-source.js';
import { countSlots, retiringNodes, type OperationBase, type SlotRange, type TopologyDoc } from '../cluster/topology/topology.js';
import type { NodeAddress } from '../nodes/control-client.js';
import { RecoveryLoadError, type RecoveryInstance, type RecoveryInstanceRunner } from '../nodes/recovery-instance.js';
import { AOF_DIR } from '../nodes/redis-conf.js';
import { sleep } from '../nodes/wait.js';
import type { KeyCounts, RecoveryPhase, RecoveryStatus } from '../status/recovery-status.js';
import type { ClusterEventRecorder } from '../status/cluster-events.js';

/** The persisted operation (TopologyDoc.operations). retiringNodes: the dead master and its replicas. */
export interface ShardRecoveryOperation extends OperationBase {
  kind: 'recover-shard';
  phase: RecoveryPhase;
  /** Our id of the dead master. */
  master: string;
  /** Redis Cluster node ids of the dead nodes (what CLUSTER FORGET needs). */
  redisIds: string[];
  /** The dead master's slots, [first, last] ranges. */
  slots: [number, number][];
  /** Who takes which slots: [first, last, our id of the survivor]. */
  assignment: SlotRange[];
  /** Redis Cluster node id of each survivor, by our id. */
  owners: Record<string, string>;
  /** Whose AOF to try, in order (our ids: the master first). */
  sources: string[];
  /** data-dir/recovery/<op id>: the AOF copies, the instance's files, the dead nodes' dirs at the end. */
  recoveryDir: string;
  /** The source whose AOF the instance runs on, once one loaded. */
  source?: string;
  instance?: RecoveryInstance;
  /** Why each source that was tried could not be loaded. */
  loadErrors: string[];
  keys: KeyCounts;
  /** Set when no key can be recovered (no AOF could be loaded); the slots are reassigned anyway. */
  unrecoverable?: string;
}

/** What the failover side knows of a dead shard and the survivors. */
export interface DeadShard {
  master: { id: string; redisId: string };
  replicas: { id: string; redisId: string }[];
  slots: [number, number][];
  survivors: { id: string; redisId: string }[];
}

/** What a shard recovery needs of the cluster (ClusterManager provides it). */
export interface RecoveryCluster extends OperationLedger {
  /** Absolute data dir (the recovery dir goes under it). */
  readonly dataDir: string;
  /** Stop a node for good (no-op when it is not running). */
  stopNode(id: string): Promise<void>;
  /** Take nodes out of the document for good, their dirs moved under asideDir (ClusterManager.dropNodes). */
  dropNodes(ids: readonly string[], asideDir: string, change?: (doc: TopologyDoc) => void): Promise<TopologyDoc>;
}

export interface ShardRecoveryOptions {
  cluster: RecoveryCluster;
  gate: RequestGate;
  slotMaps: SlotMapSource;
  log: Logger;
  /** How the provider runs recovery instances; undefined: it cannot, keys are unrecoverable. */
  instances: RecoveryInstanceRunner | undefined;
  /** A request for a slot being recovered waits at most this long (then CLUSTERDOWN). */
  holdMs: number;
  commandTimeoutMs: number;
  /** Bound on the live nodes agreeing on the new owners. */
  settleTimeoutMs: number;
  /** The dead nodes are out of the cluster (stop watching them). */
  onRetired: (ids: readonly string[]) => void;
  /** The recovery is over and its dead nodes are gone (the failover side then gives masters left without a replica a new one). */
  onDone?: (op: ShardRecoveryOperation) => void;
  /** Called with each persisted step (a copy); a test may pause a recovery here. */
  onStep?: (op: ShardRecoveryOperation) => Promise<void> | void;
  /** The cluster's timeline: the recovery's start, phases and end. */
  events?: ClusterEventRecorder;
}

export const RECOVERY_DIR = 'recovery';
/** Slots whose keys are moved before their requests are let go and progress is persisted. */
const CHUNK_SLOTS = 256;
/** Keys per MIGRATE. */
const MIGRATE_BATCH = 200;
const MIGRATE_TIMEOUT_MS = 10_000;
const SCAN_COUNT = 1000;
const RETRY_MS = 1_000;
const POLL_MS = 50;
/** Keys named in report.json per kind of failure. */
const REPORT_SAMPLE = 100;

export class ShardRecoveries {
  private readonly statuses = new Map<string, RecoveryStatus>();
  private readonly running = new Set<string>();
  /** Keys that failed to migrate, by operation (a sample, for report.json). */
  private readonly failedKeys = new Map<string, string[]>();
  private closed = false;
  private readonly mover: KeyMover;

  constructor(private readonly o: ShardRecoveryOptions) {
    this.mover = new KeyMover({ password: o.cluster.nodePassword, timeoutMs: MIGRATE_TIMEOUT_MS, log: o.log });
  }

  /** Recoveries of this process and those resumed by it, newest last. */
  status(): RecoveryStatus[] {
    return [...this.statuses.values()];
  }

  /** Resume every recovery a previous proxy left under way. */
  resumeAll(): void {
    for (const op of this.o.cluster.operations) {
      if (!isShardRecovery(op)) continue;
      this.o.log.warn({ op: op.id, master: op.master, phase: op.phase }, 'resuming a shard recovery left under way');
      this.start(structuredClone(op));
    }
  }

  /** Record the recovery of a dead shard (persisted before anything else happens) and start it. */
  async begin(shard: DeadShard): Promise<void> {
    if (shard.survivors.length === 0) throw new Error(`no master is left to take the slots of ${shard.master.id}`);
    const survivors = [...shard.survivors].sort((a, b) => a.id.localeCompare(b.id));
    const dead = [shard.master, ...shard.replicas];
    const recorded = await this.o.cluster.beginOperation<ShardRecoveryOperation>({
      kind: 'recover-shard',
      phase: 'load',
      retiringNodes: dead.map((n) => n.id),
      master: shard.master.id,
      redisIds: dead.map((n) => n.redisId),
      slots: shard.slots,
      assignment: spreadEvenly(shard.slots, survivors.map((s) => s.id)),
      owners: Object.fromEntries(survivors.map((s) => [s.id, s.redisId])),
      sources: dead.map((n) => n.id),
      recoveryDir: '', // named after the operation's id, set (and persisted) by its first phase
      loadErrors: [],
      keys: { recovered: 0, skipped: 0, failed: 0, foreign: 0 },
    });
    const op = structuredClone(recorded);
    this.o.log.error(
      { op: op.id, master: op.master, dead: op.retiringNodes, slots: countSlots(op.slots), to: op.assignment.map(([a, b, id]) => `${a}-${b}:${id}`) },
      'shard lost (master and replicas down, master cannot start): recovering its slots and keys onto the other masters',
    );
    this.recordEvent(op, 'started');
    this.start(op);
  }

  close(): void {
    this.closed = true;
  }

  private start(op: ShardRecoveryOperation): void {
    if (this.running.has(op.id)) return;
    this.running.add(op.id);
    this.o.onRetired(op.retiringNodes ?? []);
    this.track(op);
    void this.run(op).finally(() => this.running.delete(op.id));
  }

  /** Each phase until done; a failed step is logged and tried again (every step is idempotent). */
  private async run(op: ShardRecoveryOperation): Promise<void> {
    const started = Date.now();
    // Until its keys are on their new owner, nothing may read or write a dead slot.
    if (op.phase !== 'forget') this.o.gate.holdSlots(slotsOf(op.slots), this.o.holdMs);
    while (!this.closed) {
      try {
        switch (op.phase) {
          case 'load':
            await this.load(op);
            break;
          case 'reassign':
            await this.reassign(op);
            break;
          case 'migrate':
            await this.migrate(op);
            break;
          case 'forget':
            await this.forget(op, Date.now() - started);
            return;
        }
      } catch (err) {
        if (this.closed) return;
        this.o.log.error({ op: op.id, phase: op.phase, err: (err as Error).message }, 'shard recovery step failed; trying again');
        await sleep(RETRY_MS);
      }
    }
  }

  // --- load: a recovery instance on a copy of the AOF ---------------------------------------

  private async load(op: ShardRecoveryOperation): Promise<void> {
    if (op.recoveryDir === '') op.recoveryDir = path.join(this.o.cluster.dataDir, RECOVERY_DIR, op.id);
    // Stopped for good (a restart of one may still be under way): the AOF copied below must not change.
    for (const id of op.retiringNodes ?? []) await this.o.cluster.stopNode(id);
    const runner = this.o.instances;
    op.loadErrors = [];
    if (runner === undefined) {
      op.loadErrors.push(`the ${this.o.cluster.topology.provider} provider cannot run recovery instances`);
    } else {
      for (const source of op.sources) {
        const dir = path.join(op.recoveryDir, source);
        const problem = await this.copyAof(op, source, dir);
        if (problem !== undefined) {
          op.loadErrors.push(`${source}: ${problem}`);
          continue;
        }
        try {
          op.instance = await runner.start(dir, this.o.cluster.nodePassword);
          op.source = source;
          break;
        } catch (err) {
          if (!(err instanceof RecoveryLoadError)) throw err;
          op.loadErrors.push(`${source}: ${err.message}`);
          this.o.log.error({ op: op.id, source, err: err.message }, 'the AOF of a dead node could not be loaded; trying the next');
        }
      }
    }
    if (op.instance === undefined) {
      op.unrecoverable = `no AOF of the dead shard could be loaded (${op.loadErrors.join('; ')})`;
      this.o.log.error({ op: op.id, master: op.master, reason: op.unrecoverable }, 'shard keys UNRECOVERABLE: its slots are given to the other masters empty');
    }
    op.phase = 'reassign';
    await this.save(op);
  }

  /** Copy the node's AOF dir to dir/appendonlydir (once: a copy in place is complete). Returns why not, when it cannot. */
  private async copyAof(op: ShardRecoveryOperation, source: string, dir: string): Promise<string | undefined> {
    if (await exists(path.join(dir, AOF_DIR))) return undefined;
    const node = this.o.cluster.topology.nodes.find((n) => n.id === source);
    if (node?.dataDir === undefined) return 'no data dir known';
    const from = path.join(node.dataDir, AOF_DIR);
    if (!(await exists(from))) return `no AOF (${from} does not exist)`;
    // Copied next to its place and renamed into it: a copy cut short by a crash is never used.
    const partial = `${dir}.partial`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true, mode: 0o700 });
    await cp(from, path.join(partial, AOF_DIR), { recursive: true });
    await rename(partial, dir);
    this.o.log.info({ op: op.id, source, from, to: dir }, 'AOF copied for recovery');
    return undefined;
  }

  // --- reassign: the survivors take the slots with a newer epoch ---------------------------

  private async reassign(op: ShardRecoveryOperation): Promise<void> {
    const clients = this.o.cluster.clients;
    const nodes = this.liveNodes();
    const ownerOf = ownerBySlot(op.assignment);
    for (const [ourId, redisId] of Object.entries(op.owners)) {
      const owner = nodes.find((n) => n.id === ourId);
      if (owner === undefined) throw new Error(`survivor ${ourId} is not in the document`);
      const mine = op.assignment.filter(([, , id]) => id === ourId);
      await clients.with(owner, async (c) => {
        const setslots: string[][] = [];
        for (const [first, last] of mine) for (let s = first; s <= last; s++) setslots.push(['CLUSTER', 'SETSLOT', String(s), 'NODE', redisId]);
        checkPipeline(await c.batch(setslots), `SETSLOT on ${ourId}`);
        // A config epoch newer than every other (the dead master's included): the claim wins everywhere.
        await c.call('CLUSTER', 'BUMPEPOCH');
      }, this.o.commandTimeoutMs);
    }
    // The other masters learn it at once instead of from gossip (replicas refuse SETSLOT; they follow).
    await Promise.all(
      nodes.map(async (n) => {
        if (op.owners[n.id] !== undefined) return;
        try {
          await clients.with(n, async (c) => {
            const setslots: string[][] = [];
            for (let s = 0; s < ownerOf.length; s++) if (ownerOf[s] !== undefined) setslots.push(['CLUSTER', 'SETSLOT', String(s), 'NODE', op.owners[ownerOf[s]!]]);
            await c.batch(setslots); // a replica's "only with masters" errors are expected
          }, this.o.commandTimeoutMs);
        } catch (err) {
          this.o.log.debug({ node: n.id, err: (err as Error).message }, 'SETSLOT on a bystander failed; it learns from gossip');
        }
      }),
    );
    await this.waitAgreed(op, nodes, ownerOf);
    await this.waitRouted(op, ownerOf);
    op.phase = 'migrate';
    await this.save(op);
  }

  /** Every live node names the new owner of every dead slot, with an epoch above the dead master's. */
  private async waitAgreed(op: ShardRecoveryOperation, nodes: readonly LiveNode[], ownerOf: (string | undefined)[]): Promise<void> {
    const deadline = Date.now() + this.o.settleTimeoutMs;
    let last: string;
    for (;;) {
      last = await this.disagreement(op, nodes, ownerOf).catch((err: Error) => err.message);
      if (last === '') return;
      if (Date.now() > deadline) throw new Error(`the nodes do not agree on the new owners after ${this.o.settleTimeoutMs} ms: ${last}`);
      await sleep(POLL_MS * 2);
    }
  }

  private async disagreement(op: ShardRecoveryOperation, nodes: readonly LiveNode[], ownerOf: (string | undefined)[]): Promise<string> {
    const deadIds = new Set(op.redisIds);
    for (const n of nodes) {
      const lines = parseClusterNodes(String(await this.o.cluster.clients.with(n, (c) => c.call('CLUSTER', 'NODES'), this.o.commandTimeoutMs)));
      const owner = new Array<string | undefined>(ownerOf.length);
      for (const l of lines) for (let i = 0; i < l.slots.length; i += 2) owner.fill(l.id, l.slots[i], l.slots[i + 1] + 1);
      for (let s = 0; s < ownerOf.length; s++) {
        if (ownerOf[s] !== undefined && owner[s] !== op.owners[ownerOf[s]!]) return `${n.id} says slot ${s} is served by ${owner[s] ?? 'nobody'}`;
      }
      const deadEpoch = Math.max(0, ...lines.filter((l) => deadIds.has(l.id)).map((l) => l.configEpoch));
      for (const [ourId, redisId] of Object.entries(op.owners)) {
        const epoch = lines.find((l) => l.id === redisId)?.configEpoch ?? 0;
        if (epoch <= deadEpoch) return `${n.id} knows ${ourId} with config epoch ${epoch}, not above the dead master's ${deadEpoch}`;
      }
    }
    return '';
  }

  /** The router's map names the new owners (so the released requests go there). */
  private async waitRouted(op: ShardRecoveryOperation, ownerOf: (string | undefined)[]): Promise<void> {
    const deadline = Date.now() + this.o.settleTimeoutMs;
    for (;;) {
      const map = await this.o.slotMaps.refresh().catch(() => undefined);
      if (map !== undefined) {
        let wrong = -1;
        for (let s = 0; s < ownerOf.length && wrong === -1; s++) {
          if (ownerOf[s] === undefined) continue;
          const m = map.masters[map.slotToMaster[s]];
          if (m === undefined || m.nodeId !== op.owners[ownerOf[s]!]) wrong = s;
        }
        if (wrong === -1) return;
        if (Date.now() > deadline) throw new Error(`the slot map does not name the new owner of slot ${wrong} after ${this.o.settleTimeoutMs} ms`);
      }
      await sleep(POLL_MS);
    }
  }

  // --- migrate: every key to its slot's new owner --------------------------------------------

  private async migrate(op: ShardRecoveryOperation): Promise<void> {
    const instance = op.instance;
    if (instance === undefined) {
      this.o.gate.releaseSlots(slotsOf(op.slots));
      op.phase = 'forget';
      await this.save(op);
      return;
    }
    const src = this.o.cluster.clients.channel(instance, { timeoutMs: MIGRATE_TIMEOUT_MS * 3, log: this.o.log });
    const started = Date.now();
    const before = op.keys.recovered + op.keys.skipped;
    try {
      const ownerOf = ownerBySlot(op.assignment);
      const bySlot = await this.keysBySlot(op, src, ownerOf);
      const nodes = this.liveNodes();
      for (const [first, last, ourId] of op.assignment) {
        const owner = nodes.find((n) => n.id === ourId);
        if (owner === undefined) throw new Error(`survivor ${ourId} is not in the document`);
        for (let from = first; from <= last; from += CHUNK_SLOTS) {
          if (this.closed) return;
          const to = Math.min(last, from + CHUNK_SLOTS - 1);
          const keys: Buffer[] = [];
          for (let s = from; s <= to; s++) keys.push(...(bySlot.get(s) ?? []));
          for (let i = 0; i < keys.length; i += MIGRATE_BATCH) await this.migrateBatch(op, src, { ...owner, address: `${owner.host}:${owner.port}` }, keys.slice(i, i + MIGRATE_BATCH));
          this.o.gate.releaseSlots(range(from, to));
          await this.save(op);
        }
      }
    } finally {
      src.close('migration over');
    }
    const moved = op.keys.recovered + op.keys.skipped - before;
    const ms = Date.now() - started;
    this.o.log.info({ op: op.id, keys: moved, ms, keysPerSecond: Math.round((moved * 1000) / Math.max(1, ms)) }, 'keys of the dead shard migrated');
    const failed = op.keys.failed;
    if (failed > 0) {
      this.o.log.error({ op: op.id, failed, sample: this.failedKeys.get(op.id)?.slice(0, 10) }, 'keys of the dead shard could NOT be recovered (they stay in the recovery instance\'s AOF)');
    }
    op.phase = 'forget';
    await this.save(op);
  }

  /** Every key left in the instance, by slot; keys outside the dead master's slots are counted and left alone. */
  private async keysBySlot(op: ShardRecoveryOperation, src: NodeClient, ownerOf: (string | undefined)[]): Promise<Map<number, Buffer[]>> {
    const bySlot = new Map<number, Buffer[]>();
    let foreign = 0;
    let cursor = '0';
    do {
      const [next, keys] = scanReply(await src.callRaw(['SCAN', cursor, 'COUNT', String(SCAN_COUNT)]));
      cursor = next.toString('latin1');
      for (const key of keys) {
        const slot = keySlot(key);
        if (ownerOf[slot] === undefined) {
          foreign++;
          continue;
        }
        let list = bySlot.get(slot);
        if (list === undefined) bySlot.set(slot, (list = []));
        list.push(key);
      }
    } while (cursor !== '0');
    if (foreign > 0) this.o.log.warn({ op: op.id, keys: foreign }, 'keys in the dead master\'s AOF outside its slots: not restored');
    op.keys.foreign = foreign;
    return bySlot;
  }

  /**
   * MIGRATE … KEYS without REPLACE (KeyMover). MIGRATE deletes each key it moved from the
   * instance; on an error it names only the first, so the keys still there are then tried
   * one by one: BUSYKEY = the owner has a newer value (skipped, and dropped from the
   * instance so a resumed recovery does not count it again); anything else, after retries,
   * failed.
   */
  private async migrateBatch(op: ShardRecoveryOperation, src: NodeClient, owner: KeyTarget, keys: Buffer[]): Promise<void> {
    const err = replyError(await this.mover.send(src, owner, keys));
    if (err === undefined) {
      op.keys.recovered += keys.length; // NOKEY (all expired meanwhile) is not an error either
      return;
    }
    this.o.log.debug({ op: op.id, err }, 'MIGRATE batch reported an error; moving its keys one by one');
    const left = await Promise.all(keys.map(async (k) => expectOk(await src.callRaw(['EXISTS', k]), 'EXISTS on the recovery instance')));
    for (let i = 0; i < keys.length; i++) {
      if (decodeReply(left[i]) !== 1) {
        op.keys.recovered++;
        continue;
      }
      const outcome = await this.mover.moveOne(src, owner, keys[i]);
      if (outcome === 'moved') op.keys.recovered++;
      else if (outcome === 'busy') {
        op.keys.skipped++;
        expectOk(await src.callRaw(['DEL', keys[i]]), 'DEL on the recovery instance');
      } else {
        op.keys.failed++;
        const sample = this.failedKeys.get(op.id) ?? [];
        if (sample.length < REPORT_SAMPLE) sample.push(`${JSON.stringify(keys[i].toString('utf8'))}: ${outcome}`);
        this.failedKeys.set(op.id, sample);
      }
    }
  }

  // --- forget: out of the cluster and out of the document ------------------------------------

  private async forget(op: ShardRecoveryOperation, ranMs: number): Promise<void> {
    const dir = op.source === undefined ? undefined : path.join(op.recoveryDir, op.source);
    if (op.instance !== undefined && dir !== undefined) await this.o.instances?.stop(dir, op.instance);
    // Every live node, each round at once (forget-nodes.ts); one that does not answer fails the step, tried again.
    await forgetNodes(this.liveNodes(), op.redisIds, {
      clients: this.o.cluster.clients,
      commandTimeoutMs: this.o.commandTimeoutMs,
      settleTimeoutMs: this.o.settleTimeoutMs,
      log: this.o.log,
      quietRounds: 1,
      unanswering: 'fail',
    });
    const done: RecoveryStatus = { ...this.track(op), phase: 'done', ms: ranMs };
    // The report first (ending the operation below is the last step), the status once it is true: the dead nodes are gone.
    await writeFile(path.join(op.recoveryDir, 'report.json'), `${JSON.stringify({ ...done, loadErrors: op.loadErrors, failedKeys: this.failedKeys.get(op.id) ?? [] }, null, 2)}\n`, { mode: 0o600 });
    await this.o.cluster.dropNodes(op.retiringNodes ?? [], path.join(op.recoveryDir, 'nodes'), (doc: TopologyDoc) => {
      doc.operations = (doc.operations ?? []).filter((o) => o.id !== op.id);
    });
    this.statuses.set(op.id, done);
    this.recordEvent(op, 'done');
    this.o.onDone?.(op);
    const level = op.unrecoverable !== undefined || op.keys.failed > 0 ? 'error' : 'warn';
    this.o.log[level](
      { op: op.id, master: op.master, ms: ranMs, keys: op.keys, keysPerSecond: Math.round((op.keys.recovered * 1000) / Math.max(1, ranMs)), unrecoverable: op.unrecoverable },
      'shard recovery done',
    );
  }

  // --- bookkeeping ------------------------------------------------------------------------------

  private async save(op: ShardRecoveryOperation): Promise<void> {
    const phase = this.statuses.get(op.id)?.phase;
    await this.o.cluster.saveOperation(op);
    this.track(op);
    if (phase !== op.phase) this.recordEvent(op, op.phase);
    await this.o.onStep?.(structuredClone(op));
  }

  private recordEvent(op: ShardRecoveryOperation, phase: RecoveryPhase | 'started' | 'done'): void {
    this.o.events?.record({
      kind: 'recovery',
      id: op.id,
      master: op.master,
      phase,
      slots: countSlots(op.slots),
      keysRecovered: op.keys.recovered,
      ...(op.unrecoverable === undefined ? {} : { unrecoverable: op.unrecoverable }),
    });
  }

  private track(op: ShardRecoveryOperation): RecoveryStatus {
    const status: RecoveryStatus = {
      id: op.id,
      master: op.master,
      phase: op.phase,
      slots: countSlots(op.slots),
      source: op.source,
      keys: { ...op.keys },
      unrecoverable: op.unrecoverable,
      startedAt: op.startedAt,
      ms: undefined,
    };
    this.statuses.set(op.id, status);
    return status;
  }

  /** The nodes still in the cluster, where they run now. */
  private liveNodes(): LiveNode[] {
    const doc = this.o.cluster.topology;
    const retiring = retiringNodes(doc);
    return doc.nodes.filter((n) => n.port > 0 && !retiring.has(n.id)).map((n) => ({ id: n.id, host: n.host, port: n.port }));
  }
}

interface LiveNode extends NodeAddress {
  id: string;
}

/** A SCAN reply: the next cursor and the keys. */
function scanReply(frame: Buffer): [Buffer, Buffer[]] {
  const reply = decodeReply(expectOk(frame, 'SCAN on the recovery instance'));
  if (!Array.isArray(reply) || !Buffer.isBuffer(reply[0]) || !Array.isArray(reply[1]) || !reply[1].every(Buffer.isBuffer)) throw new Error('SCAN: unexpected reply');
  return [reply[0], reply[1] as Buffer[]];
}

/** Split the slots into contiguous shares of (nearly) equal size, one per owner, in order. */
export function spreadEvenly(ranges: readonly [number, number][], owners: readonly string[]): SlotRange[] {
  const slots = ranges.flatMap(([a, b]) => range(a, b));
  const out: SlotRange[] = [];
  owners.forEach((owner, i) => {
    const share = slots.slice(Math.floor((i * slots.length) / owners.length), Math.floor(((i + 1) * slots.length) / owners.length));
    for (let j = 0; j < share.length; j++) {
      const first = share[j];
      while (j + 1 < share.length && share[j + 1] === share[j] + 1) j++;
      out.push([first, share[j], owner]);
    }
  });
  return out;
}

/** slot → our id of its new owner (undefined: not a dead slot). */
function ownerBySlot(assignment: readonly SlotRange[]): (string | undefined)[] {
  const owner = new Array<string | undefined>(16384);
  for (const [first, last, id] of assignment) owner.fill(id, first, last + 1);
  return owner;
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

function slotsOf(ranges: readonly [number, number][]): number[] {
  return ranges.flatMap(([a, b]) => range(a, b));
}

function checkPipeline(results: [Error | null, unknown][] | null, what: string): void {
  const failure = (results ?? []).find(([err]) => err !== null);
  if (failure) throw new Error(`${what}: ${failure[0]!.message}`);
}

function isShardRecovery(op: OperationBase): op is ShardRecoveryOperation {
  return op.kind === 'recover-shard';
}
