/**
 * Router: slot → master → backend connection, for commands that carry keys; and the
 * cluster's redirects, followed so that no client ever sees one.
 *
 * The hot path: find the key positions, hash each key's bytes in place, check they share
 * a slot, and forward the request's original bytes to the slot master's connection for
 * this client. Only the multi-key commands Redis Cluster clients expect a proxy to split
 * (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) are re-encoded, one part per slot.
 *
 * The slot map is the cluster's (SlotMapSource reads it from the nodes); the router only
 * patches a slot when a node answers MOVED, and asks for a refresh. Redirects:
 *   -MOVED slot host:port → that slot now goes there; the same bytes are sent again
 *   -ASK slot host:port   → ASKING + the same bytes on that node, this once
 *   -TRYAGAIN, -CLUSTERDOWN → the same bytes again after a short, growing pause, for at
 *                           most the retry budget (--failover-timeout: a restarted master
 *                           answers CLUSTERDOWN for its first 2 s, a failover takes a moment)
 * redirects bounded (MAX_ATTEMPTS), retries by time; past that the client gets Redis's own error (a
 * redirect's, which names an internal node, becomes a TRYAGAIN). A request sent again keeps its
 * connection index, so one client's requests to a node stay in order.
 *
 * -BUSY (a master runs a script or function past its busy-reply-threshold): Redis refused the
 * request without running it, and the failover side is told at once (it kills the script,
 * or fails the master over when the script wrote). While it says it is ending the busy
 * spell, the master is held (new requests wait, as for a failover) and the refused request
 * waits at the head of the held ones; when the hold ends, the same bytes go again — to the
 * slot's master of the moment, so after a failover to the new one. Only a request with
 * nothing behind it on its connection is sent again: one with more of a pipeline behind it
 * could be overtaken by a request that ran after the kill, so it gets Redis's BUSY, as do
 * requests when nobody will end the spell (--no-auto-failover). Only shared
 * connections carry this handler: a transaction's or a blocking command's connection, and the
 * control connection (SCRIPT KILL, FUNCTION KILL), hand their BUSY to the client as Redis would.
 *
 * A master whose connection is down (it died, and no failover holds its slots: e.g. a whole
 * shard lost, until its recovery starts) gets the same treatment as one being failed over:
 * its requests wait (hold) until a connection to it is back or the map moves its slots, at
 * most the retry budget, then get CLUSTERDOWN — never the connection's own error at once.
 */
import { bytesEqualIgnoreCase, type CommandInfo } from '../../commands/command-table.js';
import { keyIndexes } from '../../commands/key-extraction.js';
import { CMD_BLOCKING, CMD_READONLY, CMD_WRITE } from '../../commands/command-flags.js';
import { keySlot } from '../../cluster/key-slot.js';
import { addressKey, UNASSIGNED, type SlotMap } from '../../cluster/slot-map.js';
import type { BackendWatcher, RequestGate } from '../../cluster/request-gate.js';
import type { BackendPool } from '../../backend/pool.js';
import type { BackendConnection, BackendEndpoint, ClusterErrorHandler } from '../../backend/connection.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import { ProtocolError, type RequestFrame } from '../../resp/frame.js';
import { RequestScanner } from '../../resp/request-scanner.js';
import { lookupCommand } from '../../commands/command-table.js';
import { encodeError } from '../../resp/encode.js';
import type { ClientLink } from './client-link.js';
import { PoolRegistry, type PoolFactory } from './pool-registry.js';
import { SlotHolds } from './slot-holds.js';
import { MasterHolds, type HeldRequest } from './master-holds.js';
import { isRedirect, parseRedirect, Redirected, sendFollowUp, SLOT_MOVING, type FollowUp } from './redirects.js';
import { splitterFor, splitBySlot } from './multi-key.js';
import { runBlocking } from '../modes/blocking-call.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReplicaReads, type ReplicaReadOptions } from './replica-reads.js';
import { ALL_SLOTS } from './client-replication.js';
import type { SlotLoad } from '../../ops/slot-load.js';
import { RouteMeters } from '../../ops/route-meters.js';
import type { KeySampler, KeySample } from '../../ops/key-sampler.js';
import { SampledReply } from './sampled-reply.js';

export const CROSSSLOT = encodeError("CROSSSLOT Keys in request don't hash to the same slot");
/** Redis Cluster's answer for a slot no master serves. */
export const SLOT_NOT_SERVED = encodeError('CLUSTERDOWN Hash slot not served');
/** Redis Cluster's answer when no master serves anything. */
const CLUSTER_DOWN = encodeError('CLUSTERDOWN The cluster is down');
/** A slot whose master is being failed over or whose shard is being recovered, to a request that cannot wait for it. */
const SLOT_IN_TRANSITION = encodeError("TRYAGAIN The slot's master is being failed over or its keys recovered, try again later");

/** keysSlot: the command has no keys (or none were found in its arguments). */
export const NO_KEYS = -1;
/** keysSlot: the command's keys hash to different slots. */
export const CROSS_SLOTS = -2;

/** Redirects and retries one request may take before the client gets the error. */
const MAX_ATTEMPTS = 16;
/** First pause before retrying a TRYAGAIN/CLUSTERDOWN; doubles each time up to RETRY_CAP_MS. */
const RETRY_BASE_MS = 10;
const RETRY_CAP_MS = 250;

const BLOCK = Buffer.from('block');
const STREAMS = Buffer.from('streams');

/**
 * Whether a command flagged blocking will block this time. XREAD/XREADGROUP block only
 * with a BLOCK option (before STREAMS); without one they are ordinary reads and stay on
 * the shared pipeline. Every other blocking command (BLPOP, BLMOVE, ...) always may.
 */
function mayBlock(cmd: CommandInfo, frame: RequestFrame): boolean {
  if (cmd.name !== 'xread' && cmd.name !== 'xreadgroup') return true;
  const o = frame.offsets;
  for (let i = 1; i < frame.argc; i++) {
    if (bytesEqualIgnoreCase(frame.raw, o[2 * i], o[2 * i + 1], BLOCK)) return true;
    if (bytesEqualIgnoreCase(frame.raw, o[2 * i], o[2 * i + 1], STREAMS)) return false; // keys and ids follow
  }
  return false;
}

/** Who refreshes the slot map when the router sees it is stale. */
export interface RefreshRequester {
  requestRefresh(): void;
}

export class Router implements ClusterErrorHandler, RequestGate {
  /** Reused scratch space for key positions: the hot path allocates no array per request. */
  private readonly keyPositions: number[] = [];
  private map: SlotMap;
  /** Pool of each master of `map`, by master index. */
  private poolOf: BackendPool[] = [];
  private readonly pools: PoolRegistry;
  /** Masters serving slots, in the order of their lowest slot (fan-out commands, SCAN). */
  private serving: number[] = [];
  /** Masters whose requests wait (failover, BUSY, connection down), and those waiting. */
  private readonly masterHolds = new MasterHolds((p) => this.resume(p), CLUSTER_DOWN);
  /** Slots whose requests wait (holdSlots), and those waiting. */
  private readonly slotHolds = new SlotHolds(CLUSTER_DOWN);
  /** slotHolds.held, at hand for every request. */
  private readonly slotHeld = this.slotHolds.held;
  /** Told of lost connections and BUSY masters (the failover side, through RequestGate). */
  private watcher: BackendWatcher | undefined;
  /**
   * Reads served by replicas (--read-from, READONLY): null while no client's reads go to
   * replicas, so that --read-from master costs one compare per request.
   */
  private replicas: ReplicaReads | null = null;
  private closed = false;

  constructor(
    map: SlotMap,
    makePool: PoolFactory,
    private readonly refresher: RefreshRequester,
    /** How long TRYAGAIN/CLUSTERDOWN are retried before the client gets them. */
    private readonly retryBudgetMs = 5_000,
    /** Replica reads (--read-from, --max-replica-lag); absent: READONLY changes nothing. */
    private readonly replicaOptions?: ReplicaReadOptions,
    /**
     * Requests per slot (REBALANCE LOAD plans from them: each keyed request, each part of a
     * split one) and hot and big keys (a sample of the keyed requests sent on).
     */
    private readonly meters = new RouteMeters(),
  ) {
    this.map = map;
    this.pools = new PoolRegistry(makePool, this, (address) => this.map.indexOfAddress(address) !== -1);
    this.setSlotMap(map);
    if (replicaOptions !== undefined && replicaOptions.readFrom !== 'master') this.startReplicaReads();
  }

  /** A client sent READONLY: replica reads start (their lag monitor, replica pools) if they had not. */
  startReplicaReads(): void {
    if (this.replicas !== null || this.replicaOptions === undefined || this.closed) return;
    this.replicas = new ReplicaReads(this, this.replicaOptions);
    this.replicas.setSlotMap(this.map, this.poolOf);
  }

  /** Replica reads, once started (INFO, /metrics). */
  get replicaReads(): ReplicaReads | null {
    return this.replicas;
  }

  /**
   * The sink for a write's final reply when something before it may answer first and send
   * the write again (EVALSHA's NOSCRIPT retry): remembered when that reply comes (read your
   * writes). `sink` itself without replica reads.
   */
  trackWrite(session: ClientLink, slot: number, sink: ReplySink): ReplySink {
    return this.replicas === null ? sink : this.replicas.trackWrite(session, slot < 0 ? ALL_SLOTS : slot, sink);
  }

  /** A transaction's EXEC on `slot` (NO_KEYS: a keyless one) was answered: its reads see it (read your writes). */
  transactionWrote(session: ClientLink, slot: number): void {
    this.replicas?.wrote(session, slot);
  }

  /** Requests per slot, as counted for REBALANCE LOAD. */
  get slotLoad(): SlotLoad {
    return this.meters.slots;
  }

  /** This process's sample of hot and big keys. */
  get keySampler(): KeySampler {
    return this.meters.keys;
  }

  /** RequestGate: polled, every 10 ms (a node is stopped rarely, and a pool has no "idle" event). */
  async drained(host: string, port: number, maxWaitMs: number): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    while (!this.closed && (this.pools.find(host, port)?.pendingCount ?? 0) > 0 && Date.now() < deadline) await sleep(10);
  }

  /** RequestGate: one watcher; a later one replaces it. */
  watchBackends(watcher: BackendWatcher): void {
    this.watcher = watcher;
  }

  get slotMap(): SlotMap {
    return this.map;
  }

  /** Every node's pool (masters', and retiring ones' until closed), by host:port: for /metrics. */
  get backendPools(): ReadonlyMap<string, BackendPool> {
    return this.pools.all;
  }

  /** Take a new map from the cluster: pools for new masters, retirement for unused ones. */
  setSlotMap(map: SlotMap): void {
    if (this.closed) return;
    this.map = map;
    this.poolOf = map.masters.map((m) => this.pools.at(m.host, m.port));
    this.serving = map.servingMasters();
    // A held master whose slots now belong to others: its parked requests go there.
    for (const pool of this.masterHolds.pools()) {
      if (!this.serving.some((i) => this.poolOf[i] === pool)) this.masterHolds.release(pool);
    }
    this.pools.retireUnused(new Set(map.masters.map((m) => m.address)));
    this.replicas?.setSlotMap(map, this.poolOf);
  }

  /** Send to a master's control connection (commands a busy node still reads: SCRIPT KILL). */
  sendToControl(master: number, raw: Buffer, sink: ReplySink): void {
    const pool = this.poolOf[master];
    if (pool === undefined) sink.deliver(CLUSTER_DOWN);
    else pool.controlConnection().send(raw, sink);
  }

  // --- failover: requests wait for the new master -----------------------------------------

  /**
   * The master at host:port is failing and being replaced: requests for its slots wait
   * (at most `maxWaitMs`) instead of failing, and go to whoever serves the slot once the
   * map says so. Requests already sent to it are not touched (their outcome is unknown).
   */
  hold(host: string, port: number, maxWaitMs: number): void {
    const pool = this.pools.find(host, port);
    if (pool === undefined || this.closed) return;
    // Held already because its connection is down: it is the failover's hold now (released
    // by it, not by a reconnection), with the bound its waiting requests already have.
    if (pool.held) {
      this.masterHolds.adopt(pool);
      return;
    }
    this.masterHolds.hold(pool, maxWaitMs);
  }

  /**
   * The connection a request was to go on is down: the pool is held (as for a failover)
   * until a connection to it is ready again, the map moves its slots away, or the retry
   * budget has passed — then the waiting requests get CLUSTERDOWN.
   */
  private holdWhileDown(pool: BackendPool): void {
    if (pool.held || this.closed) return;
    this.masterHolds.hold(pool, this.retryBudgetMs, true);
  }

  /** A held master's request, its hold released: where the map says now. */
  private resume(p: HeldRequest): void {
    if ('busyFrom' in p) {
      this.resendAfterBusy(p.raw, p.sink, p.busyFrom, p.since);
      return;
    }
    // The slot may be held now (its shard's keys being recovered): it waits on for it,
    // within the bound it has had since it was first parked.
    if (this.slotHeld[p.slot] === 1) this.slotHolds.park(p.session, p.slot, p.raw, p.sink, p.since);
    else this.sendToSlot(p.session, p.slot, p.raw, p.sink);
  }

  /** Release the master at host:port, if held: the switch is done, or the master answers again. */
  releaseAddress(host: string, port: number): void {
    const pool = this.pools.find(host, port);
    if (pool !== undefined) this.masterHolds.release(pool);
  }

  /**
   * Requests for these slots wait — whichever master serves them — until releaseSlots: a
   * shard is being recovered and its keys are not all on their new owners yet, so a read
   * would miss them and a write could be undone by the recovered value. Each request waits
   * at most `maxWaitMs`, then gets CLUSTERDOWN (retryable) while the slot stays held.
   */
  holdSlots(slots: Iterable<number>, maxWaitMs: number): void {
    if (this.closed) return;
    this.slotHolds.hold(slots, maxWaitMs);
  }

  /** These slots' requests go where the map says now (it must name their new owners). */
  releaseSlots(slots: Iterable<number>): void {
    this.slotHolds.release(slots, (p, slot) => this.sendToSlot(p.session, slot, p.raw, p.sink));
  }

  private park(pool: BackendPool, slot: number, raw: Buffer, sink: ReplySink, session: ClientLink): void {
    this.masterHolds.park(pool, { slot, raw, sink, session, since: Date.now() });
  }

  // --- keyless and fan-out work ----------------------------------------------------------

  /** Masters that serve slots, in the order of their lowest slot. */
  get servingMasters(): readonly number[] {
    return this.serving;
  }

  /** Send raw bytes to one master on this session's connection. */
  sendToMaster(session: ClientLink, master: number, raw: Buffer, sink: ReplySink): void {
    const pool = this.poolOf[master];
    if (pool === undefined) {
      this.refresher.requestRefresh();
      sink.deliver(CLUSTER_DOWN);
      return;
    }
    const conn = pool.connectionFor(session.id, session.protocol);
    if (!conn.send(raw, sink)) session.waitForBackend(conn);
  }

  /** The pool of one master of the current map (undefined when there is no such master). */
  poolOfMaster(master: number): BackendPool | undefined {
    return this.poolOf[master];
  }

  /**
   * The master a keyless request goes to: spread by session, stable for one client — but
   * while that one is held (being failed over) or the session's connection to it is down,
   * the next serving master that is not: any master answers a keyless request, so it need
   * not wait for, or fail with, one that is gone.
   */
  anyMaster(session: ClientLink): number {
    const n = this.serving.length;
    if (n === 0) return 0;
    const first = session.id % n;
    for (let i = 0; i < n; i++) {
      const master = this.serving[(first + i) % n];
      const pool = this.poolOf[master];
      if (pool !== undefined && !pool.held && !pool.connectionFor(session.id, session.protocol).isDown) return master;
    }
    return this.serving[first];
  }

  // --- keyed commands --------------------------------------------------------------------

  /** The slot of a command's keys: NO_KEYS when none are found, CROSS_SLOTS when they hash to different slots. */
  keysSlot(cmd: CommandInfo, frame: RequestFrame): number {
    const keys = this.keyPositions;
    const n = keyIndexes(cmd, frame, keys);
    if (n === 0) return NO_KEYS;
    const offsets = frame.offsets;
    const raw = frame.raw;
    let i = keys[0];
    const slot = keySlot(raw, offsets[2 * i], offsets[2 * i + 1]);
    for (let k = 1; k < n; k++) {
      i = keys[k];
      if (keySlot(raw, offsets[2 * i], offsets[2 * i + 1]) !== slot) return CROSS_SLOTS;
    }
    return slot;
  }

  /**
   * Route a command by its keys. Its reply goes to `sink` when given (a handler that looks
   * at the reply first: EVALSHA's NOSCRIPT retry), else to a new slot of the session.
   * (`sink ?? session.openSlot()` at each exit, not a closure: this runs for every request.)
   */
  forward(session: ClientLink, frame: RequestFrame, cmd: CommandInfo, sink?: ReplySink): void {
    const slot = this.keysSlot(cmd, frame);
    if (slot >= 0) this.meters.slots.hit(slot);
    else if (slot === CROSS_SLOTS) {
      const splitter = splitterFor(cmd.name);
      if (splitter === undefined) (sink ?? session.openSlot()).deliver(CROSSSLOT);
      else if (this.replicas !== null && (cmd.flags & CMD_READONLY) === 0) splitBySlot(this, session, frame, splitter, this.replicas.trackWrite(session, ALL_SLOTS, sink ?? session.openSlot()));
      else splitBySlot(this, session, frame, splitter, sink ?? session.openSlot());
      return;
    }
    if (slot !== NO_KEYS && this.slotHeld[slot] === 1) {
      // A blocking command would wait on the shared pipeline once released: it gets the
      // retryable error at once instead.
      if ((cmd.flags & CMD_BLOCKING) !== 0 && mayBlock(cmd, frame)) (sink ?? session.openSlot()).deliver(CLUSTER_DOWN);
      else this.slotHolds.park(session, slot, frame.raw, sink ?? session.openSlot());
      return;
    }
    const replicas = this.replicas;
    if (replicas !== null && slot !== NO_KEYS) {
      if (replicas.read(session, cmd, slot, this.map.slotToMaster[slot], frame.raw, sink)) return;
      // (A blocking command's reply goes to its own connection's sink, never to this one.)
      if (((cmd.flags & CMD_READONLY) === 0 || (cmd.flags & CMD_WRITE) !== 0) && (cmd.flags & CMD_BLOCKING) === 0) {
        sink = replicas.trackWrite(session, slot, sink ?? session.openSlot());
      }
    }
    // No keys found (NO_KEYS): a keyless form (EVAL with numkeys 0) or arguments Redis will reject
    // (bad numkeys, wrong arity). Any master gives the answer, in Redis's own words.
    const pool = this.masterPool(session, slot);
    if (pool === undefined) {
      (sink ?? session.openSlot()).deliver(SLOT_NOT_SERVED);
      return;
    }
    if (pool.held && slot !== NO_KEYS) {
      this.park(pool, slot, frame.raw, sink ?? session.openSlot(), session);
      return;
    }
    const conn = pool.connectionFor(session.id, session.protocol);
    if ((cmd.flags & CMD_BLOCKING) !== 0 && mayBlock(cmd, frame)) {
      // Its dedicated connection would fail to connect: the retryable error at once, as for a held slot.
      if (conn.isDown) (sink ?? session.openSlot()).deliver(CLUSTER_DOWN);
      else runBlocking(session, pool, frame.raw, this);
      return;
    }
    if (conn.isDown && slot !== NO_KEYS) {
      this.holdWhileDown(pool);
      this.park(pool, slot, frame.raw, sink ?? session.openSlot(), session);
      return;
    }
    if ((cmd.flags & CMD_WRITE) !== 0) session.replication.lastWritePool = pool; // WAIT asks this master's replicas
    let out: ReplySink;
    if (sink === undefined) {
      // The sample rides on the client's own reply slot: the connections' sinks stay of one kind.
      const replySlot = session.openSlot();
      if (slot !== NO_KEYS && this.meters.keys.due()) replySlot.sample = this.sample(frame, pool);
      out = replySlot;
    } else {
      out = slot !== NO_KEYS && this.meters.keys.due() ? new SampledReply(this.sample(frame, pool), sink) : sink;
    }
    if (!conn.send(frame.raw, out)) session.waitForBackend(conn);
  }

  /** A request the key sampler picked: its first key counted (keyPositions as keysSlot left them); its reply is counted with what this returns. */
  private sample(frame: RequestFrame, pool: BackendPool): KeySample {
    const i = this.keyPositions[0];
    const o = frame.offsets;
    return this.meters.keys.requested(pool.endpoint, frame.raw, o[2 * i], o[2 * i + 1], frame.raw.length);
  }

  /**
   * The pool of the master serving `slot` (NO_KEYS: the session's keyless master), for a
   * connection of its own (a transaction); or the error a request for the slot gets now,
   * when no master serves it or its master is being failed over or its shard recovered.
   */
  poolForSlot(session: ClientLink, slot: number): BackendPool | Buffer {
    const pool = this.masterPool(session, slot);
    if (pool === undefined) return SLOT_NOT_SERVED;
    if (pool.held || (slot !== NO_KEYS && this.slotHeld[slot] === 1)) return SLOT_IN_TRANSITION;
    if (pool.connectionFor(session.id, session.protocol).isDown) return CLUSTER_DOWN;
    return pool;
  }

  /**
   * The pool of the master serving `slot` (NO_KEYS: the session's keyless master);
   * undefined, with a map refresh asked for, when no master serves it.
   */
  private masterPool(session: ClientLink, slot: number): BackendPool | undefined {
    const master = slot === NO_KEYS ? this.anyMaster(session) : this.map.slotToMaster[slot];
    if (master !== UNASSIGNED && master < this.poolOf.length) return this.poolOf[master];
    this.refresher.requestRefresh();
    return undefined;
  }

  /** One part of a split multi-key request goes to `slot` (SlotSender). */
  countPart(slot: number): void {
    this.meters.slots.hit(slot);
  }

  /** Slot of one key given as an argument index of a frame. */
  slotOfArg(frame: RequestFrame, argIndex: number): number {
    const o = frame.offsets;
    return keySlot(frame.raw, o[2 * argIndex], o[2 * argIndex + 1]);
  }

  /** Send raw bytes to the master serving `slot`, on this session's connection. */
  sendToSlot(session: ClientLink, slot: number, raw: Buffer, sink: ReplySink): void {
    if (this.slotHeld[slot] === 1) {
      this.slotHolds.park(session, slot, raw, sink);
      return;
    }
    const pool = this.masterPool(session, slot);
    if (pool === undefined) {
      sink.deliver(SLOT_NOT_SERVED);
      return;
    }
    if (pool.held) {
      this.park(pool, slot, raw, sink, session);
      return;
    }
    const conn = pool.connectionFor(session.id, session.protocol);
    if (conn.isDown) {
      this.holdWhileDown(pool);
      this.park(pool, slot, raw, sink, session);
      return;
    }
    if (!conn.send(raw, sink)) session.waitForBackend(conn);
  }

  // --- the cluster's redirects -----------------------------------------------------------

  onClusterError(reply: Buffer, raw: Buffer, sink: ReplySink, from: BackendConnection): boolean {
    const request = sink instanceof Redirected ? sink : new Redirected(sink);
    const next = this.followUp(reply, from.endpoint, ++request.attempts, request.since);
    if (next === undefined) {
      if (!isRedirect(reply)) return false; // the client gets Redis's error
      request.deliver(SLOT_MOVING);
      return true;
    }
    const index = from.index;
    const resend = (): void => sendFollowUp(next.pool.sharedConnection(index, from.protocol), next.asking, raw, request);
    if (next.delayMs === 0) resend();
    else setTimeout(resend, next.delayMs).unref();
    return true;
  }

  onBusy(_reply: Buffer, raw: Buffer, sink: ReplySink, from: BackendConnection): boolean {
    if (this.closed || this.watcher?.backendBusy(from.endpoint.host, from.endpoint.port) !== true) return false;
    // Requests behind it on this connection may run after the kill, before it would go again.
    if (from.pendingCount > 0) return false;
    const pool = this.pools.find(from.endpoint.host, from.endpoint.port);
    if (pool === undefined) return false;
    if (!pool.held) this.masterHolds.hold(pool, this.retryBudgetMs);
    // Ahead of every parked request: those came after it was sent.
    this.masterHolds.parkFirst(pool, { raw, sink, since: Date.now(), busyFrom: from });
    return true;
  }

  /**
   * A request that met BUSY, its master's hold over: to its slot's master of the moment (the
   * same node unless it was failed over; a keyless one to the same node), on the connection
   * index it had. Held again meanwhile (the next spell, a failover): it waits at the head again.
   */
  private resendAfterBusy(raw: Buffer, sink: ReplySink, from: BackendConnection, since: number): void {
    const slot = requestSlot(this, raw);
    const master = slot === NO_KEYS ? this.map.indexOfAddress(addressKey(from.endpoint.host, from.endpoint.port)) : this.map.slotToMaster[slot];
    const pool = master === UNASSIGNED || master === -1 ? undefined : this.poolOf[master];
    const conn = pool?.sharedConnection(from.index, from.protocol);
    if (this.closed || pool === undefined || conn === undefined || Date.now() - since > this.retryBudgetMs) {
      sink.deliver(CLUSTER_DOWN);
      return;
    }
    if (pool.held) this.masterHolds.parkFirst(pool, { raw, sink, since, busyFrom: from });
    else conn.send(raw, sink);
  }

  /**
   * Where a request that got this cluster error (-MOVED, -ASK, -TRYAGAIN, -CLUSTERDOWN)
   * from `from` goes next, on its `attempt`-th try; undefined when the client should get
   * the error (too many attempts, an unreadable redirect, the router closed). A MOVED
   * updates the slot's entry and asks for a fresh map.
   */
  followUp(reply: Buffer, from: BackendEndpoint, attempt: number, since: number): FollowUp | undefined {
    if (this.closed || attempt > MAX_ATTEMPTS) return undefined;
    const text = reply.toString('latin1', 1, reply.length - 2);
    if (text.startsWith('MOVED ') || text.startsWith('ASK ')) {
      const target = parseRedirect(text);
      if (target === undefined) return undefined;
      // A node that does not know its own address answers "MOVED slot :port".
      const host = target.host === '' ? from.host : target.host;
      const pool = this.pools.at(host, target.port);
      if (text[0] === 'A') return { pool, asking: true, delayMs: 0 };
      const master = this.map.moveSlot(target.slot, host, target.port);
      if (master >= this.poolOf.length) this.poolOf[master] = pool;
      this.refresher.requestRefresh();
      return { pool, asking: false, delayMs: 0 };
    }
    // TRYAGAIN (a multi-key request during a slot migration) or CLUSTERDOWN (a failover
    // under way): the same node, a little later.
    if (text.startsWith('CLUSTERDOWN')) this.refresher.requestRefresh();
    const delayMs = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
    if (Date.now() - since + delayMs > this.retryBudgetMs) return undefined;
    return { pool: this.pools.at(from.host, from.port), asking: false, delayMs };
  }

  onConnectionLost(from: BackendConnection): void {
    if (this.closed) return;
    this.refresher.requestRefresh();
    this.watcher?.backendLost(from.endpoint.host, from.endpoint.port);
  }

  onConnectionReady(from: BackendConnection): void {
    const pool = this.pools.find(from.endpoint.host, from.endpoint.port);
    if (pool !== undefined && this.masterHolds.heldWhileDown(pool)) this.masterHolds.release(pool);
  }

  close(): void {
    this.closed = true;
    this.meters.close();
    for (const pool of [...this.masterHolds.pools()]) this.masterHolds.release(pool);
    this.slotHolds.close();
    this.pools.close();
    this.replicas?.close();
  }
}

/**
 * The slot of a request's keys from its RESP bytes (NO_KEYS when it has none, or they span
 * slots: a split part never does). Parses the request again: only for the rare request sent
 * again after a BUSY, never on the hot path.
 */
function requestSlot(router: Router, raw: Buffer): number {
  const scanner = new RequestScanner();
  scanner.feed(raw);
  const frame = scanner.next();
  if (frame === null || frame instanceof ProtocolError) return NO_KEYS;
  const cmd = lookupCommand(frame);
  if (cmd === undefined) return NO_KEYS;
  const slot = router.keysSlot(cmd, frame);
  return slot === CROSS_SLOTS ? NO_KEYS : slot;
}
