/**
 * ReplicaReads: keyed read-only commands served by the slot master's replicas
 * (--read-from, a client's READONLY; docs/replica-reads.md).
 *
 * Which reads: a single-slot command whose flags say readonly and none of write,
 * may-replicate, blocking, pubsub or noscript (no scripts), outside MULTI (a transaction
 * routes its own commands). Split multi-key reads (MGET over several slots) stay on the
 * masters. Which replica: one the lag monitor calls usable and whose connection is not
 * down, picked by client id among its master's replicas, so one client keeps reading from
 * one replica (its reads do not go back in time) while that one stays usable.
 *
 * A read sent to a replica that fails there — the connection lost or timed out, the node
 * loading, MOVED (no longer a replica of that slot's master), MASTERDOWN — goes to the
 * master instead, whatever the mode: a replica's trouble never reaches the client.
 *
 * Read your writes: every keyed write of a client is counted until answered and then
 * remembered (ClientReplication); its reads go to the master until the chosen replica caught up.
 */
import { CMD_BLOCKING, CMD_MAY_REPLICATE, CMD_NOSCRIPT, CMD_PUBSUB, CMD_READONLY, CMD_WRITE } from '../../commands/command-flags.js';
import type { CommandInfo } from '../../commands/command-table.js';
import type { BackendPool } from '../../backend/pool.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import { isBusyReply, isClusterError, isUnreachableReply } from '../../backend/connection.js';
import { addressKey, type SlotMap } from '../../cluster/slot-map.js';
import { encodeError } from '../../resp/encode.js';
import type { ClientLink } from './client-link.js';
import { ALL_SLOTS, type ClientReplication } from './client-replication.js';
import { MasterLag, ReplicaLag, ReplicaState, type ReadFrom, type ReplicaLagBound } from './replica-lag.js';

/** The flags a command may have to be read from a replica: readonly, and none of the others. */
const READ_MASK = CMD_READONLY | CMD_WRITE | CMD_MAY_REPLICATE | CMD_BLOCKING | CMD_PUBSUB | CMD_NOSCRIPT;

/** --read-from replica, no replica of the slot's master usable. */
const NO_REPLICA = encodeError("CLUSTERDOWN No replica of the slot's master can serve reads now (--read-from replica)");

/** Replica pools unused by the slot map are closed this long after (their reads in flight finish, or go to the master). */
const RETIRE_AFTER_MS = 30_000;

export interface ReplicaReadOptions {
  readFrom: ReadFrom;
  maxLag: ReplicaLagBound;
  /** A pool of READONLY connections to a replica (the router's PoolFactory's sibling). */
  makePool: (host: string, port: number) => BackendPool;
}

/** Where a read a replica could not serve goes: the slot's master (the router). */
export interface MasterFallback {
  sendToSlot(session: ClientLink, slot: number, raw: Buffer, sink: ReplySink): void;
}

/** Replies after which a read goes to the master instead: the replica's trouble, not the command's answer. */
function replicaTrouble(reply: Buffer): boolean {
  if (reply[0] !== 0x2d /* '-' */) return false;
  if (isUnreachableReply(reply) || isClusterError(reply) || isBusyReply(reply)) return true;
  const word = reply.toString('latin1', 1, Math.min(reply.length, 16));
  return word.startsWith('LOADING') || word.startsWith('MASTERDOWN') || word.startsWith('READONLY') || word.startsWith('ERR connection');
}

/** A read sent to a replica: its reply to the client, or the request to the master. */
class ReplicaRead implements ReplySink {
  constructor(
    private readonly owner: ReplicaReads,
    private readonly session: ClientLink,
    private readonly slot: number,
    private readonly raw: Buffer,
    private readonly sink: ReplySink,
  ) {}

  deliver(reply: Buffer): void {
    if (replicaTrouble(reply)) {
      this.owner.fellBack++;
      this.owner.fallback.sendToSlot(this.session, this.slot, this.raw, this.sink);
      return;
    }
    this.owner.served++;
    this.sink.deliver(reply);
  }
}

/** A write's reply: counted off the client's writes in flight, remembered with the epoch of the moment. */
class WriteAnswered implements ReplySink {
  constructor(
    private readonly lag: ReplicaLag,
    private readonly writes: ClientReplication,
    private readonly slot: number,
    private readonly sink: ReplySink,
  ) {}

  deliver(reply: Buffer): void {
    this.writes.answered(this.slot, this.lag.epoch, true);
    this.sink.deliver(reply);
  }
}

export class ReplicaReads {
  /** Reads a replica answered (INFO replica_reads). */
  served = 0;
  /** Reads sent to a replica that went to the master instead (INFO replica_reads_fell_back). */
  fellBack = 0;
  private readonly lag: ReplicaLag;
  /** Replica pools by host:port, and the timers of those the map stopped naming. */
  private readonly pools = new Map<string, BackendPool>();
  private readonly retiring = new Map<string, NodeJS.Timeout>();
  /** Each master's replicas (by the map's master index), as the lag monitor keeps them. */
  private byMaster: (readonly ReplicaState[])[] = [];
  /** Replica states by host:port, kept across maps (their lag and catch-up survive a refresh). */
  private readonly states = new Map<string, ReplicaState>();
  /** Each master's polls by host:port, kept across maps (their offset samples survive a refresh). */
  private readonly masterLags = new Map<string, MasterLag>();

  constructor(
    readonly fallback: MasterFallback,
    private readonly opts: ReplicaReadOptions,
  ) {
    this.lag = new ReplicaLag(opts.maxLag);
  }

  get mode(): ReadFrom {
    return this.opts.readFrom;
  }

  /** The replicas of every master of `map` (poolOf: the masters' pools, by index) from now on. */
  setSlotMap(map: SlotMap, poolOf: readonly BackendPool[]): void {
    const used = new Set<string>();
    const masters: MasterLag[] = [];
    this.byMaster = map.masters.map((m, i) => {
      const replicas = m.replicas.map((route) => {
        const address = addressKey(route.host, route.port);
        used.add(address);
        let state = this.states.get(address);
        if (state === undefined) {
          state = new ReplicaState(address, this.poolAt(route.host, route.port, address));
          this.states.set(address, state);
        }
        state.failing = route.failing;
        if (route.failing) state.usable = false;
        return state;
      });
      const pool = poolOf[i];
      if (replicas.length > 0 && pool !== undefined) {
        let lag = this.masterLags.get(m.address);
        if (lag === undefined) this.masterLags.set(m.address, (lag = new MasterLag(pool, replicas)));
        lag.pool = pool;
        lag.replicas = replicas;
        masters.push(lag);
      }
      return replicas;
    });
    for (const address of this.masterLags.keys()) if (map.indexOfAddress(address) === -1) this.masterLags.delete(address);
    this.lag.track(masters);
    this.retireUnused(used);
  }

  private poolAt(host: string, port: number, address: string): BackendPool {
    const timer = this.retiring.get(address);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.retiring.delete(address);
    }
    let pool = this.pools.get(address);
    if (pool === undefined) {
      pool = this.opts.makePool(host, port);
      this.pools.set(address, pool);
    }
    return pool;
  }

  private retireUnused(used: ReadonlySet<string>): void {
    for (const [address, pool] of this.pools) {
      if (used.has(address) || this.retiring.has(address)) continue;
      const state = this.states.get(address);
      if (state !== undefined) state.usable = false;
      const timer = setTimeout(() => {
        this.retiring.delete(address);
        if (this.pools.get(address) !== pool) return;
        this.pools.delete(address);
        this.states.delete(address);
        pool.close();
      }, RETIRE_AFTER_MS);
      timer.unref();
      this.retiring.set(address, timer);
    }
  }

  /**
   * Send a read to a replica of `master` if this client's reads go to replicas and one may
   * serve it; true when it was sent (or answered: --read-from replica with none usable).
   * False: the master serves it, as without replica reads.
   */
  read(session: ClientLink, cmd: CommandInfo, slot: number, master: number, raw: Buffer, sink: ReplySink | undefined): boolean {
    const mode = session.replication.readonlyMode && this.opts.readFrom === 'master' ? 'prefer-replica' : this.opts.readFrom;
    if (mode === 'master' || (cmd.flags & READ_MASK) !== CMD_READONLY || session.replication.tracking) return false;
    const replicas = this.byMaster[master];
    if (replicas === undefined) return false;
    const n = replicas.length;
    const writes = session.replication;
    if (n === 0 || writes.pending > 0) return this.noReplica(mode, session, sink);
    // 'any': the master is one more choice, after the replicas.
    const first = session.id % (mode === 'any' ? n + 1 : n);
    if (first === n) return false;
    for (let i = 0; i < n; i++) {
      const replica = replicas[(first + i) % n];
      if (!replica.usable) continue;
      const conn = replica.pool.connectionFor(session.id, session.protocol);
      if (conn.isDown) continue;
      if (!writes.replicaHas(slot, replica, replicas, this.lag.minCaughtUpEpoch)) return false;
      if (!conn.send(raw, new ReplicaRead(this, session, slot, raw, sink ?? session.openSlot()))) session.waitForBackend(conn);
      return true;
    }
    return this.noReplica(mode, session, sink);
  }

  private noReplica(mode: ReadFrom, session: ClientLink, sink: ReplySink | undefined): boolean {
    if (mode !== 'replica' || session.replication.pending > 0) return false;
    (sink ?? session.openSlot()).deliver(NO_REPLICA);
    return true;
  }

  /** The sink for a write to `slot` (ALL_SLOTS: several) by this client: its reply is remembered for read your writes. */
  trackWrite(session: ClientLink, slot: number, sink: ReplySink): ReplySink {
    const writes = session.replication;
    writes.pending++;
    return new WriteAnswered(this.lag, writes, slot, sink);
  }

  /** A write this client's transaction ran on `slot` was answered now (EXEC: no later request is taken before its reply). */
  wrote(session: ClientLink, slot: number): void {
    session.replication.answered(slot < 0 ? ALL_SLOTS : slot, this.lag.epoch, false);
  }

  /** Each replica's address with its lag and whether it serves reads now (INFO, /metrics). */
  *replicas(): Generator<ReplicaState> {
    yield* this.states.values();
  }

  close(): void {
    this.lag.close();
    for (const t of this.retiring.values()) clearTimeout(t);
    this.retiring.clear();
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }
}
