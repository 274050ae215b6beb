/**
 * Masters whose requests wait instead of failing (Router.hold): one being failed over, one
 * whose busy script is being ended (BUSY), or one whose connection is down. A hold ends
 * when released (its requests go where the map says then) or after its bound (they get the
 * `expired` reply, Redis Cluster's retryable CLUSTERDOWN).
 */
import type { BackendConnection } from '../../backend/connection.js';
import type { BackendPool } from '../../backend/pool.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import type { ClientLink } from './client-link.js';

/** A request parked while its slot's master is failed over. */
export interface Parked {
  slot: number;
  raw: Buffer;
  sink: ReplySink;
  session: ClientLink;
  /** When it was parked: its wait is bounded from then on, also if it waits on for its slot. */
  since: number;
}

/** A request a busy master refused (BUSY), waiting for the hold to end to be sent again. */
export interface RefusedWhileBusy {
  raw: Buffer;
  sink: ReplySink;
  since: number;
  /** The connection that got the BUSY: the request goes again on its index, to its slot's master of the moment. */
  busyFrom: BackendConnection;
}

export type HeldRequest = Parked | RefusedWhileBusy;

export class MasterHolds {
  /** Requests waiting for each held master, by its pool. */
  private readonly waiting = new Map<BackendPool, HeldRequest[]>();
  /** When each hold stops waiting. */
  private readonly timers = new Map<BackendPool, NodeJS.Timeout>();
  /** Holds taken because the pool's connection is down (not a failover's): a reconnection ends them. */
  private readonly down = new Set<BackendPool>();

  /**
   * @param resume where a waiting request goes when its hold is released (not timed out)
   * @param expired the reply of a request whose hold timed out
   */
  constructor(
    private readonly resume: (request: HeldRequest) => void,
    private readonly expired: Buffer,
  ) {}

  /** Hold `pool` for at most `maxWaitMs`; `whileDown`: because its connection is down. */
  hold(pool: BackendPool, maxWaitMs: number, whileDown = false): void {
    if (whileDown) this.down.add(pool);
    pool.held = true;
    this.waiting.set(pool, []);
    const timer = setTimeout(() => this.release(pool, true), maxWaitMs);
    timer.unref();
    this.timers.set(pool, timer);
  }

  /** A failover takes over the hold of a pool held while down: a reconnection no longer ends it. */
  adopt(pool: BackendPool): void {
    this.down.delete(pool);
  }

  /** Whether `pool` is held because its connection is down. */
  heldWhileDown(pool: BackendPool): boolean {
    return this.down.has(pool);
  }

  /** The held pools (a pool may be released while iterating). */
  pools(): IterableIterator<BackendPool> {
    return this.waiting.keys();
  }

  /** Wait behind the requests already waiting. */
  park(pool: BackendPool, request: HeldRequest): void {
    this.waiting.get(pool)?.push(request);
  }

  /** Wait ahead of every request waiting (a BUSY request: those came after it was sent). */
  parkFirst(pool: BackendPool, request: HeldRequest): void {
    this.waiting.get(pool)?.unshift(request);
  }

  /**
   * Stop holding: the switch is done (or the master answers again), and the waiting requests
   * are resumed; or the wait timed out, and they get the expired reply instead of waiting on
   * for a master that is not back.
   */
  release(pool: BackendPool, timedOut = false): void {
    const waiting = this.waiting.get(pool);
    if (waiting === undefined) return;
    pool.held = false;
    this.waiting.delete(pool);
    this.down.delete(pool);
    clearTimeout(this.timers.get(pool));
    this.timers.delete(pool);
    for (const p of waiting) {
      if (timedOut) p.sink.deliver(this.expired);
      else this.resume(p);
    }
  }
}
