/**
 * SlotMigrator: moves hash slots and their keys between masters, online, with Redis
 * Cluster's own protocol (the proxy drives, Redis executes). For each slot:
 *   1. CLUSTER SETSLOT <slot> IMPORTING <source-id>  on the target
 *   2. CLUSTER SETSLOT <slot> MIGRATING <target-id>  on the source — from here the source
 *      answers -ASK for keys it no longer has, and the router follows it
 *   3. CLUSTER GETKEYSINSLOT + MIGRATE host port "" 0 <timeout> AUTH <pw> KEYS k1..kn, in
 *      batches of --migration-batch keys, until the source has none left
 *   4. CLUSTER SETSLOT <slot> NODE <target-id>  on the target (it bumps its config epoch),
 *      then the source, then every other master.
 *
 * The source of a slot is whoever serves it when the slot is moved (the cluster's slot
 * map), never the plan's idea of it: after a failover the owner is another node, and
 * MIGRATING/IMPORTING are not replicated — so a failed step re-reads the map, re-resolves
 * the target (a target that became a replica hands over to its new master), tells the
 * target who owns the slot now (a node importing a slot ignores the cluster's claims on
 * it) and starts the slot again from step 1. Every step is idempotent, so doing a slot
 * twice is harmless.
 *
 * Errors of MIGRATE:
 *   - a key deleted meanwhile: MIGRATE skips it (+NOKEY when none of the batch is left);
 *   - keys written meanwhile: a key the source has is served (and changed) there; one it
 *     has not goes to the target by -ASK. The drain loop runs until GETKEYSINSLOT is empty,
 *     and the source refuses SETSLOT NODE while it still holds keys ("… while I still hold
 *     keys …"): then the slot is drained again;
 *   - BUSYKEY: the target already has a key the source still has. With the slot MIGRATING,
 *     a key the source has is read and written only on the source, so the target's copy is
 *     one no client sees: a MIGRATE that timed out after the target stored the key (the
 *     source keeps a key until the target acknowledges it), or a failover that lost the DEL
 *     a MIGRATE had replicated. The source's copy is what clients read now: it is sent
 *     again with REPLACE. Copies that differed are logged with their key names and counted
 *     (keysReplaced), never replaced silently;
 *   - IOERR / timeouts / connection errors: the slot is retried (re-reading the map, see
 *     above) for up to SLOT_RETRY_BUDGET_MS before the migration fails.
 *
 * Throughput: a MIGRATE blocks its source until the target has stored the batch, so a
 * source moves one batch at a time, at a round trip each, and a slot holds few keys (500k
 * keys are ~30 a slot). So slots move in groups (GROUP_SIZE slots of one source and one
 * target): each step is sent for the whole group at once — one write, one round trip —
 * every MIGRATE goes out together with the slot's next GETKEYSINSLOT, several groups are
 * in flight (GROUPS_IN_FLIGHT), taken from the sources in turn so every source works at
 * once, and keys go from the GETKEYSINSLOT reply into MIGRATE as raw RESP (NodeClient).
 * A slot that fails a step leaves its group; the failed slots of a group are retried
 * together.
 *
 * Persistence: the plan is recorded in the document (a 'migrate-slots' operation) before
 * the first slot moves, and its progress (the slots not known to be done, as ranges) about
 * every PERSIST_INTERVAL_MS and when it stops. A proxy restarted mid-way (even after SIGKILL) calls
 * resume(): the remaining slots are moved — one moved after the last save only has its
 * ownership confirmed, and one left half-moved (MIGRATING/IMPORTING in nodes.conf)
 * finishes.
 *
 * One migration at a time: a second migrate() while one runs is refused with an error
 * (REBALANCE answers it to the admin), and so is one while an interrupted migration waits
 * in the document for resume().
 */
import type { Logger } from '../../log.js';
import { formatAddress, type NodeAddress } from '../../nodes/control-client.js';
import { sleep } from '../../nodes/wait.js';
import { decodeReply } from '../../resp/reply-value.js';
import { parseClusterNodes } from '../../nodes/cluster-nodes.js';
import { expectOk, replyError, type NodeClient } from '../../nodes/node-client.js';
import { decodeKeys, keyBatch, KeyMover, type KeyBatch } from './key-mover.js';
import type { OperationLedger } from '../operation-ledger.js';
import { addressKey, UNASSIGNED, type SlotMap } from '../slot-map.js';
import type { SlotMapSource } from '../slot-map-source.js';
import { countSlots, SLOT_COUNT, type Operation, type OperationBase } from '../topology/topology.js';
import type { ClusterEventRecorder, MigrationPhase } from '../../status/cluster-events.js';

/** Slots first..last (inclusive) go to the master `to` (our node id, e.g. "m3"; or host:port for a node the document does not know). */
export interface SlotMove {
  first: number;
  last: number;
  to: string;
}

export interface MigrationProgress {
  id: string;
  reason: string;
  slotsTotal: number;
  slotsDone: number;
  keysMoved: number;
  /** The slot started last. */
  current?: { slot: number; from: string; to: string };
  startedAt: string;
}

export interface MigrationReport {
  id: string;
  reason: string;
  slotsTotal: number;
  slotsDone: number;
  /** Keys MIGRATE acknowledged (keys deleted while their batch was on its way included). */
  keysMoved: number;
  /** Keys the target already had with another value (see BUSYKEY in the module comment). */
  keysReplaced: number;
  elapsedMs: number;
  keysPerSecond: number;
  /** close() stopped it between batches: the operation stays in the document for resume(). */
  interrupted: boolean;
}

/** The persisted form of a migration (TopologyDoc.operations). */
export interface MigrateSlotsOperation extends OperationBase {
  kind: 'migrate-slots';
  reason: string;
  /** The whole plan. */
  moves: SlotMove[];
  /** The slots of the plan not known to be done (slots done since the last save may be among them). */
  remaining: SlotMove[];
  /** Progress across restarts. */
  slotsTotal: number;
  slotsDone: number;
  keysMoved: number;
}

export function isMigrateSlots(op: Operation): op is MigrateSlotsOperation {
  return op.kind === 'migrate-slots';
}

export interface SlotMigratorOptions {
  cluster: OperationLedger;
  slotMaps: SlotMapSource;
  log: Logger;
  /** Keys per MIGRATE (--migration-batch). */
  batchSize: number;
  /** MIGRATE's own timeout; every command to a node is bounded by three times it. */
  commandTimeoutMs: number;
  /** The cluster's timeline: each migration's start and end. */
  events?: ClusterEventRecorder;
}

/** Groups moved at once (see Throughput in the module comment). */
const GROUPS_IN_FLIGHT = 8;
/** Slots of one source and target whose steps share one pipeline. */
const GROUP_SIZE = 128;
/** Progress is saved at most this often (a resumed run redoes at most this much, cheaply: see resume()). */
const PERSIST_INTERVAL_MS = 500;
/** How long one slot is retried (failovers take a few seconds) before the migration fails. */
const SLOT_RETRY_BUDGET_MS = 30_000;
const RETRY_BASE_MS = 50;
const RETRY_CAP_MS = 1_000;
/** A source that keeps getting keys after its drain (SETSLOT NODE refused) is drained at most this often. */
const MAX_FINAL_DRAINS = 10;

/** A master as resolved for one step: its Redis Cluster id and address. */
interface ClusterNode {
  redisId: string;
  host: string;
  port: number;
  address: string;
}

/** close() was called: stop between batches. */
class MigrationInterrupted extends Error {
  override readonly name = 'MigrationInterrupted';
}

/** An error no retry can fix (a bad plan, an unknown node). */
class MigrationPlanError extends Error {
  override readonly name = 'MigrationPlanError';
}

/** One migration being run: the persisted operation plus what only this process knows. */
interface Run {
  op: MigrateSlotsOperation;
  /** The operation's remaining slots, flattened, and each one's target. */
  slots: Int32Array;
  tos: string[];
  done: Uint8Array;
  slotsDone: number;
  keysMoved: number;
  keysReplaced: number;
  current: MigrationProgress['current'];
  startedAtMs: number;
  failure: Error | undefined;
  /** Called once per slot done (saves progress now and then). */
  onDone: (i: number) => void;
}

/** Why slots of a group failed a step, by index into Run.slots. */
type Failures = Map<number, string>;

export class SlotMigrator {
  private run: Run | undefined;
  /** Set synchronously by migrate()/resume() so a second caller sees the first at once. */
  private busy: Promise<MigrationReport> | undefined;
  private closed = false;
  private readonly channels = new Map<string, NodeClient>();
  private targets = new Map<string, Promise<ClusterNode>>();
  private map: SlotMap | undefined;
  private readonly mover: KeyMover;

  constructor(private readonly o: SlotMigratorOptions) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`migration batch must be a positive integer, not ${o.batchSize}`);
    // The password never changes once the cluster is open.
    this.mover = new KeyMover({ password: o.cluster.nodePassword, timeoutMs: o.commandTimeoutMs, log: o.log });
  }

  /**
   * Move the slots of `moves` to their targets with their keys. Refused (rejects at once)
   * while another migration runs or an interrupted one waits for resume(). Resolves with a
   * report (interrupted: true when close() stopped it); rejects when a slot could not be
   * moved within the retry budget — the operation then stays in the document for resume().
   */
  migrate(moves: SlotMove[], reason: string): Promise<MigrationReport> {
    if (this.closed) return Promise.reject(new Error('ERR the slot migrator is shutting down'));
    const refusal = this.refusal();
    if (refusal !== undefined) return Promise.reject(new Error(refusal));
    let plan: SlotMove[];
    try {
      plan = validatePlan(moves);
      for (const to of new Set(plan.map((m) => m.to))) addressOfId(this.o.cluster, to); // an unknown target is refused before anything is recorded
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const work = (async () => {
      const op = await this.o.cluster.beginOperation<MigrateSlotsOperation>({
        kind: 'migrate-slots',
        reason,
        moves: plan,
        remaining: plan,
        slotsTotal: planSlots(plan),
        slotsDone: 0,
        keysMoved: 0,
      });
      return this.execute(op, 'started');
    })();
    return this.track(work);
  }

  /**
   * Finish every 'migrate-slots' operation left in the document (a proxy stopped or killed
   * mid-way); waits for a migration already running here. Rejects like migrate().
   */
  async resume(): Promise<void> {
    if (this.busy !== undefined) {
      await this.busy;
      return;
    }
    for (const op of this.o.cluster.operations.filter(isMigrateSlots)) {
      if (this.closed) return;
      const report = await this.track(this.execute(structuredClone(op), 'resumed'));
      if (report.interrupted) return;
    }
  }

  /** The migration running here (undefined before its operation is recorded, and after it ends). */
  progress(): MigrationProgress | undefined {
    const r = this.run;
    if (r === undefined) return undefined;
    return {
      id: r.op.id,
      reason: r.op.reason,
      slotsTotal: r.op.slotsTotal,
      slotsDone: r.slotsDone,
      keysMoved: r.keysMoved,
      current: r.current,
      startedAt: r.op.startedAt,
    };
  }

  /** Stop between batches (shutdown); the persisted operation is resumed on the next start. */
  close(): void {
    this.closed = true;
  }

  /** Settles once no migration runs here (after close(): once the running one has stopped). */
  async idle(): Promise<void> {
    await this.busy?.catch(() => undefined);
  }

  private refusal(): string | undefined {
    if (this.busy !== undefined) {
      const p = this.progress();
      return `ERR a slot migration is already in progress${p === undefined ? '' : ` (${p.id}, ${p.reason}: ${p.slotsDone}/${p.slotsTotal} slots)`}`;
    }
    const waiting = this.o.cluster.operations.find(isMigrateSlots);
    if (waiting !== undefined) return `ERR an interrupted slot migration (${waiting.id}, ${waiting.reason}) must be resumed first`;
    return undefined;
  }

  private track(work: Promise<MigrationReport>): Promise<MigrationReport> {
    const tracked = work.finally(() => {
      if (this.busy === tracked) this.busy = undefined;
    });
    this.busy = tracked;
    return tracked;
  }

  private async execute(op: MigrateSlotsOperation, how: 'started' | 'resumed'): Promise<MigrationReport> {
    const { slots, tos } = flatten(op.remaining);
    let persisting: Promise<void> = Promise.resolve();
    let persistedAt = Date.now();
    const persist = (): Promise<void> => {
      persisting = persisting.then(() => this.persistProgress(run));
      return persisting;
    };
    const run: Run = {
      op,
      slots,
      tos,
      done: new Uint8Array(slots.length),
      slotsDone: op.slotsDone,
      keysMoved: op.keysMoved,
      keysReplaced: 0,
      current: undefined,
      startedAtMs: Date.now(),
      failure: undefined,
      onDone: (i) => {
        run.done[i] = 1;
        run.slotsDone++;
        if (Date.now() - persistedAt >= PERSIST_INTERVAL_MS) {
          persistedAt = Date.now();
          void persist().catch(() => undefined); // a failed save surfaces at the final one below
        }
      },
    };
    this.run = run;
    const keysAtStart = op.keysMoved;
    this.o.log.info({ operation: op.id, reason: op.reason, slots: op.slotsTotal, remaining: slots.length }, `slot migration ${how}`);
    let ended = false;
    const record = (phase: MigrationPhase, error?: string): void => {
      ended = phase !== how;
      this.o.events?.record({
        kind: 'migration',
        id: op.id,
        reason: op.reason,
        phase,
        slots: op.slotsTotal,
        slotsDone: run.slotsDone,
        keysMoved: run.keysMoved,
        ...(error === undefined ? {} : { error }),
      });
    };
    record(how);
    try {
      this.map = await this.o.slotMaps.refresh();
      const groups = this.groupsBySourceInTurn(run);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < groups.length && !this.closed && run.failure === undefined) {
          const group = groups[next++];
          try {
            // The whole group at once; the slots that failed a step, again until they move or the budget is spent.
            const failures = await this.moveSlots(run, group);
            if (failures.size > 0) await this.retryFailed(run, failures);
          } catch (err) {
            if (!(err instanceof MigrationInterrupted)) run.failure ??= err as Error;
            return;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(GROUPS_IN_FLIGHT, groups.length) }, worker));
      await persisting.catch(() => undefined);
      const elapsedMs = Date.now() - run.startedAtMs;
      const report: MigrationReport = {
        id: op.id,
        reason: op.reason,
        slotsTotal: op.slotsTotal,
        slotsDone: run.slotsDone,
        keysMoved: run.keysMoved,
        keysReplaced: run.keysReplaced,
        elapsedMs,
        keysPerSecond: elapsedMs > 0 ? Math.round(((run.keysMoved - keysAtStart) * 1000) / elapsedMs) : 0,
        interrupted: false,
      };
      if (run.failure !== undefined) {
        await persist();
        this.o.log.error({ operation: op.id, slotsDone: run.slotsDone, slots: op.slotsTotal, err: run.failure.message }, 'slot migration failed; it stays recorded and is resumed on the next start');
        record('failed', run.failure.message);
        throw run.failure;
      }
      if (run.done.includes(0)) {
        await persist();
        this.o.log.info({ operation: op.id, slotsDone: run.slotsDone, slots: op.slotsTotal }, 'slot migration stopped; it is resumed on the next start');
        record('stopped');
        return { ...report, interrupted: true };
      }
      await this.o.cluster.endOperation(op.id);
      this.o.log.info(
        { operation: op.id, reason: op.reason, slots: op.slotsTotal, keys: report.keysMoved, replaced: report.keysReplaced, ms: elapsedMs, keysPerSecond: report.keysPerSecond },
        'slot migration finished',
      );
      record('finished');
      this.o.slotMaps.requestRefresh();
      return report;
    } catch (err) {
      if (!ended) record('failed', (err as Error).message);
      throw err;
    } finally {
      if (this.run === run) this.run = undefined;
      for (const c of this.channels.values()) c.close('migration over');
      this.channels.clear();
      this.targets = new Map();
    }
  }

  /** Record how far the run got: the slots not done yet, as ranges. */
  private async persistProgress(run: Run): Promise<void> {
    if (run.slotsDone === run.op.slotsDone && run.keysMoved === run.op.keysMoved) return;
    const remaining: SlotMove[] = [];
    for (let i = 0; i < run.slots.length; i++) {
      if (run.done[i] === 1) continue;
      const slot = run.slots[i];
      const last = remaining[remaining.length - 1];
      if (last !== undefined && last.to === run.tos[i] && last.last === slot - 1) last.last = slot;
      else remaining.push({ first: slot, last: slot, to: run.tos[i] });
    }
    run.op = { ...run.op, remaining, slotsDone: run.slotsDone, keysMoved: run.keysMoved };
    await this.o.cluster.saveOperation(run.op);
  }

  /**
   * The run's slots (indexes) in groups of up to GROUP_SIZE with one source (by the map)
   * and one target, in slot order; the groups of the sources taken in turn.
   */
  private groupsBySourceInTurn(run: Run): number[][] {
    const bySource = new Map<string, { to: string; slots: number[] }[]>();
    for (let i = 0; i < run.slots.length; i++) {
      const source = this.ownerOf(run.slots[i])?.redisId ?? '';
      let groups = bySource.get(source);
      if (groups === undefined) bySource.set(source, (groups = []));
      const last = groups[groups.length - 1];
      if (last !== undefined && last.to === run.tos[i] && last.slots.length < GROUP_SIZE) last.slots.push(i);
      else groups.push({ to: run.tos[i], slots: [i] });
    }
    const lists = [...bySource.values()];
    const total = lists.reduce((n, g) => n + g.length, 0);
    const order: number[][] = [];
    for (let k = 0; order.length < total; k++) {
      for (const g of lists) if (k < g.length) order.push(g[k].slots);
    }
    return order;
  }

  /**
   * Slots of one group that failed a step (a node down, a failover under way): re-read the
   * cluster and move them again, with a growing pause, until they all move or
   * SLOT_RETRY_BUDGET_MS is spent (then the migration fails with the last reason).
   */
  private async retryFailed(run: Run, firstFailures: Failures): Promise<void> {
    const started = Date.now();
    let failures = firstFailures;
    for (let attempt = 1; failures.size > 0; attempt++) {
      const [i, message] = failures.entries().next().value as [number, string];
      const delayMs = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
      if (Date.now() - started + delayMs > SLOT_RETRY_BUDGET_MS) {
        throw new Error(`slot ${run.slots[i]} could not be moved to ${run.tos[i]} within ${SLOT_RETRY_BUDGET_MS} ms (${attempt} attempts): ${message}`);
      }
      this.o.log.warn({ operation: run.op.id, slots: failures.size, slot: run.slots[i], to: run.tos[i], attempt, err: message }, 'slot move step failed; re-reading the cluster and trying again');
      this.targets = new Map(); // a target may have failed over
      await sleep(delayMs);
      if (this.closed) throw new MigrationInterrupted('closed');
      try {
        this.map = await this.o.slotMaps.refresh();
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'slot map refresh failed during a migration; keeping the last one');
      }
      failures = await this.moveSlots(run, [...failures.keys()], true);
    }
  }

  /**
   * Steps 1–4 (module comment) for slots with one target, each step sent for all of them at
   * once. Returns the slots that failed a step and why; the others are done (run.onDone).
   */
  private async moveSlots(run: Run, group: number[], retry = false): Promise<Failures> {
    const failures: Failures = new Map();
    const to = run.tos[group[0]];
    let target: ClusterNode;
    try {
      target = await this.resolveTarget(to);
    } catch (err) {
      if (err instanceof MigrationPlanError) throw err;
      for (const i of group) failures.set(i, `target ${to}: ${(err as Error).message}`);
      return failures;
    }
    const bySource = new Map<string, { source: ClusterNode; slots: number[] }>();
    for (const i of group) {
      const source = this.ownerOf(run.slots[i]);
      if (source === undefined) {
        failures.set(i, `slot ${run.slots[i]} is not served by any master`);
        continue;
      }
      let entry = bySource.get(source.redisId);
      if (entry === undefined) bySource.set(source.redisId, (entry = { source, slots: [] }));
      entry.slots.push(i);
    }
    for (const { source, slots } of bySource.values()) {
      run.current = { slot: run.slots[slots[0]], from: this.idOf(source), to };
      const done =
        source.redisId === target.redisId
          ? await this.confirmOwner(run, slots, target, failures) // moved already (a resumed run, an old map)
          : await this.moveFromSource(run, slots, source, target, failures, retry);
      await this.tellOtherMasters(run, done, target, [target, source]);
      for (const i of done) run.onDone(i);
    }
    return failures;
  }

  /** Slots the target serves already: make sure it says so itself (SETSLOT NODE). Returns those done. */
  private async confirmOwner(run: Run, slots: number[], target: ClusterNode, failures: Failures): Promise<number[]> {
    return this.step(run, slots, this.channel(target), (slot) => ['CLUSTER', 'SETSLOT', slot, 'NODE', target.redisId], `SETSLOT NODE on ${target.address}`, failures);
  }

  private async moveFromSource(run: Run, slots: number[], source: ClusterNode, target: ClusterNode, failures: Failures, retry: boolean): Promise<number[]> {
    const t = this.channel(target);
    const s = this.channel(source);
    if (retry) {
      // After a failover of the source the target may not know the new owner: a node
      // importing a slot ignores claims on it, and when the old source came back as a
      // replica the slot was left unassigned in the target's view (RESTORE then gets
      // CLUSTERDOWN). SETSLOT NODE <source> on the target tells it; its IMPORTING stays.
      // Only for slots the fresh map gives to the source: one the target had taken would
      // be the target's in the map (its bumped epoch wins).
      await this.step(run, slots, t, (slot) => ['CLUSTER', 'SETSLOT', slot, 'NODE', source.redisId], `SETSLOT NODE (the owner) on ${target.address}`, failures, () => true);
    }
    // 1. IMPORTING on the target. "already the owner": the target took the slot before a
    // restart (the map was older); the source may still list keys: drain it all the same.
    const owned = new Set<number>();
    let live = await this.step(run, slots, t, (slot) => ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.redisId], `SETSLOT IMPORTING on ${target.address}`, failures, (i, err) => {
      if (!/already the owner/i.test(err)) return false;
      owned.add(i);
      return true;
    });
    // 2. MIGRATING on the source: from now on it sends clients to the target for keys it has not.
    const migrating = await this.step(run, live.filter((i) => !owned.has(i)), s, (slot) => ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.redisId], `SETSLOT MIGRATING on ${source.address}`, failures);
    live = [...migrating, ...live.filter((i) => owned.has(i))];
    const done: number[] = [];
    for (let round = 1; live.length > 0; round++) {
      // 3. The keys, then 4. the owner: the target first, then the source.
      live = await this.drain(run, live, s, target, failures);
      live = await this.step(run, live, t, (slot) => ['CLUSTER', 'SETSLOT', slot, 'NODE', target.redisId], `SETSLOT NODE on ${target.address}`, failures);
      const again: number[] = [];
      done.push(
        ...(await this.step(run, live, s, (slot) => ['CLUSTER', 'SETSLOT', slot, 'NODE', target.redisId], `SETSLOT NODE on ${source.address}`, failures, (i, err) => {
          // Keys reached the source after its last GETKEYSINSLOT: move them too (the target, owner now, takes them).
          if (!/still hold keys/i.test(err) || round >= MAX_FINAL_DRAINS) return false;
          again.push(i);
          return true;
        })).filter((i) => !again.includes(i)),
      );
      live = again;
    }
    return done;
  }

  /**
   * Send one command per slot to a node, all at once; returns the slots whose reply was not
   * an error. An error goes to `failures` unless `tolerate` takes it (returns true).
   */
  private async step(
    run: Run,
    slots: number[],
    node: NodeClient,
    command: (slot: string) => string[],
    what: string,
    failures: Failures,
    tolerate?: (i: number, err: string) => boolean,
  ): Promise<number[]> {
    const replies = await Promise.all(slots.map((i) => node.callRaw(command(String(run.slots[i])))));
    return slots.filter((i, k) => {
      const err = replyError(replies[k]);
      if (err === undefined || tolerate?.(i, err) === true) return true;
      failures.set(i, `${what}: ${err}`);
      return false;
    });
  }

  /**
   * MIGRATE every key of the slots to the target, in batches, until the source lists none:
   * each slot's MIGRATE goes out with its next GETKEYSINSLOT, every slot's in one write.
   * Returns the slots drained; a slot whose MIGRATE failed goes to `failures`.
   */
  private async drain(run: Run, slots: number[], s: NodeClient, target: ClusterNode, failures: Failures): Promise<number[]> {
    const batch = String(this.o.batchSize);
    const getKeys = (i: number) => s.callRaw(['CLUSTER', 'GETKEYSINSLOT', String(run.slots[i]), batch]);
    const keysOf = new Map<number, KeyBatch>();
    const first = await Promise.all(slots.map(getKeys));
    slots.forEach((i, k) => this.takeKeys(keysOf, i, first[k], failures));
    for (;;) {
      const pending = [...keysOf].filter(([, b]) => b.count > 0);
      if (pending.length === 0) break;
      if (this.closed) throw new MigrationInterrupted('closed');
      const sent = pending.map(([i, b]) => [this.mover.send(s, target, b), getKeys(i)] as const);
      for (let k = 0; k < pending.length; k++) {
        const [i, keys] = pending[k];
        const migrated = await sent[k][0];
        const next = await sent[k][1];
        const err = replyError(migrated);
        if (err !== undefined && /BUSYKEY/.test(err)) {
          run.keysReplaced += await this.mover.replaceBusyKeys(run.slots[i], s, target, this.channel(target), decodeKeys(keys.reply));
        } else if (err !== undefined) {
          failures.set(i, `MIGRATE from ${s.address.host}:${s.address.port}: ${err}`);
          keysOf.delete(i);
          continue;
        }
        if (err !== undefined || migrated.toString('latin1', 1, 3) === 'OK') run.keysMoved += keys.count; // +NOKEY: all gone meanwhile
        this.takeKeys(keysOf, i, next, failures);
      }
    }
    return slots.filter((i) => !failures.has(i));
  }

  /** A GETKEYSINSLOT reply into `keysOf`, or the slot into `failures`. */
  private takeKeys(keysOf: Map<number, KeyBatch>, i: number, reply: Buffer, failures: Failures): void {
    const err = replyError(reply);
    if (err !== undefined) {
      failures.set(i, `GETKEYSINSLOT: ${err}`);
      keysOf.delete(i);
      return;
    }
    keysOf.set(i, keyBatch(reply));
  }

  /** SETSLOT NODE on every serving master not in `skip`; one that does not take it learns the owner by gossip (the target's bumped epoch). */
  private async tellOtherMasters(run: Run, slots: number[], target: ClusterNode, skip: ClusterNode[]): Promise<void> {
    if (slots.length === 0) return;
    const others = this.mastersNow().filter((m) => !skip.some((n) => n.redisId === m.redisId));
    await Promise.all(
      others.map(async (m) => {
        const ignored: Failures = new Map();
        await this.step(run, slots, this.channel(m), (slot) => ['CLUSTER', 'SETSLOT', slot, 'NODE', target.redisId], `SETSLOT NODE on ${m.address}`, ignored);
        for (const err of new Set(ignored.values())) this.o.log.debug({ node: m.address, err }, 'a master did not take SETSLOT NODE; it learns the owner by gossip');
      }),
    );
  }

  /** Serving masters of the current map with their Redis ids. */
  private mastersNow(): ClusterNode[] {
    return (this.map?.masters ?? []).filter((m) => m.nodeId !== '' && m.host !== '' && !m.failing).map((m) => ({ redisId: m.nodeId, host: m.host, port: m.port, address: m.address }));
  }

  /** Who serves the slot according to the last map read. */
  private ownerOf(slot: number): ClusterNode | undefined {
    const map = this.map;
    if (map === undefined) return undefined;
    const idx = map.slotToMaster[slot];
    if (idx === UNASSIGNED) return undefined;
    const m = map.masters[idx];
    if (m.nodeId === '' || m.host === '') return undefined;
    return { redisId: m.nodeId, host: m.host, port: m.port, address: m.address };
  }

  /**
   * The node a plan's `to` means now: the document's node (or host:port) if it is a master;
   * if it has become a replica (its shard failed over), its master.
   */
  private resolveTarget(to: string): Promise<ClusterNode> {
    let known = this.targets.get(to);
    if (known === undefined) {
      known = this.lookUpTarget(to);
      known.catch(() => this.targets.delete(to));
      this.targets.set(to, known);
    }
    return known;
  }

  private async lookUpTarget(to: string): Promise<ClusterNode> {
    const addr = addressOfId(this.o.cluster, to);
    const reply = decodeReply(expectOk(await this.channel(addr).callRaw(['CLUSTER', 'NODES']), `CLUSTER NODES on ${formatAddress(addr)}`));
    if (!Buffer.isBuffer(reply)) throw new Error(`${to}: unexpected CLUSTER NODES reply`);
    const view = parseClusterNodes(reply.toString('latin1'));
    const me = view.find((l) => l.flags.has('myself'));
    if (me === undefined) throw new Error(`${to}: CLUSTER NODES without a myself line`);
    if (me.flags.has('master')) return { redisId: me.id, host: addr.host, port: addr.port, address: addressKey(addr.host, addr.port) };
    const master = view.find((l) => l.id === me.masterId);
    if (master === undefined || master.host === '') throw new Error(`${to} is a replica of a master it cannot name yet`);
    this.o.log.info({ to, master: formatAddress(master) }, 'migration target is a replica now (failed over): moving to its master');
    return { redisId: master.id, host: master.host, port: master.port, address: addressKey(master.host, master.port) };
  }

  /** Our id for a node (doc id, or host:port). */
  private idOf(node: ClusterNode): string {
    return this.o.cluster.topology.nodes.find((n) => n.host === node.host && n.port === node.port)?.id ?? node.address;
  }

  /** The pipelined connection to a node for this run, opened on first use (it reconnects by itself). */
  private channel(addr: NodeAddress): NodeClient {
    const key = addressKey(addr.host, addr.port);
    let c = this.channels.get(key);
    if (c === undefined) {
      c = this.o.cluster.clients.channel({ host: addr.host, port: addr.port }, { timeoutMs: this.o.commandTimeoutMs * 3, log: this.o.log });
      this.channels.set(key, c);
    }
    return c;
  }
}

/** Where a plan's `to` is: the document's node of that id, or a host:port. */
function addressOfId(cluster: OperationLedger, to: string): NodeAddress {
  const node = cluster.topology.nodes.find((n) => n.id === to);
  if (node !== undefined) {
    if (node.port <= 0) throw new MigrationPlanError(`ERR node ${to} has no address yet`);
    return { host: node.host, port: node.port };
  }
  const colon = to.lastIndexOf(':');
  const port = Number(to.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new MigrationPlanError(`ERR unknown node '${to}'`);
  return { host: to.slice(0, colon), port };
}

/** Check the plan: ranges in 0..16383, every slot at most once, a target each. */
function validatePlan(moves: readonly SlotMove[]): SlotMove[] {
  const seen = new Uint8Array(SLOT_COUNT);
  for (const m of moves) {
    if (!Number.isInteger(m.first) || !Number.isInteger(m.last) || m.first < 0 || m.last >= SLOT_COUNT || m.first > m.last) {
      throw new MigrationPlanError(`ERR invalid slot range ${m.first}-${m.last}`);
    }
    if (typeof m.to !== 'string' || m.to === '') throw new MigrationPlanError(`ERR slots ${m.first}-${m.last} have no target`);
    for (let s = m.first; s <= m.last; s++) {
      if (seen[s] === 1) throw new MigrationPlanError(`ERR slot ${s} is moved twice in one plan`);
      seen[s] = 1;
    }
  }
  return moves.map((m) => ({ first: m.first, last: m.last, to: m.to }));
}

/** How many slots a plan moves. */
export function planSlots(moves: readonly SlotMove[]): number {
  return countSlots(moves.map((m) => [m.first, m.last] as const));
}

function flatten(moves: readonly SlotMove[]): { slots: Int32Array; tos: string[] } {
  const slots = new Int32Array(planSlots(moves));
  const tos: string[] = new Array(slots.length);
  let i = 0;
  for (const m of moves) {
    for (let s = m.first; s <= m.last; s++, i++) {
      slots[i] = s;
      tos[i] = m.to;
    }
  }
  return { slots, tos };
}
