/**
 * The bytes the proxy holds for all its clients together, against --maxmemory-clients,
 * with Redis 7's client eviction semantics: while the total is above the cap, the client
 * holding most is disconnected (clients with CLIENT NO-EVICT on are never chosen), and
 * each eviction is counted (INFO stats evicted_clients, /metrics).
 *
 * Sessions report changes of their own usage as deltas (integer adds on the hot path); the
 * search for the biggest client happens only when the cap is crossed. Eviction runs in a
 * microtask, after the read or flush that crossed the cap: never inside a session's own
 * reply handling, and a burst read in one callback is looked at once.
 *
 * Bytes the clients let go of are garbage that V8 may not collect while the proxy is quiet
 * (see ops/full-gc.ts): checkRelease(), run every few seconds, asks for one full collection
 * after the total has fallen to a quarter of a peak of at least RELEASE_MIN, or after
 * evictions let go of RELEASE_MIN (clients that keep coming keep the total near the cap,
 * while what the evicted ones held waits for a collection).
 */
import type { Logger } from '../log.js';
import type { ClientMemoryCap } from './limits.js';

/** A client as eviction sees it. */
export interface EvictableClient {
  readonly id: number;
  /** Bytes held for it now, as last reported to the account. */
  readonly memoryBytes: number;
  /** CLIENT NO-EVICT on. */
  readonly noEvict: boolean;
  /** Disconnect it now; its bytes leave the account before this returns. */
  evict(): void;
}

/** A peak below this leaves too little garbage to be worth a full collection. */
const RELEASE_MIN = 32 * 1024 * 1024;
/** How long crossing the cap goes unexamined after a scan found no client to evict. */
const NOTHING_EVICTABLE_PAUSE_MS = 100;
/** The least time between two full collections asked for by checkRelease(). */
const MIN_COLLECT_INTERVAL_MS = 30_000;
/** How often the server calls checkRelease(). */
export const RELEASE_CHECK_MS = 2000;

export class ClientMemory {
  /** Bytes held for every client together. */
  total = 0;
  /** Clients disconnected for the cap since the start (INFO evicted_clients). */
  evicted = 0;
  /** Bytes all clients together may hold (0: no cap). */
  private cap: number;
  /** The highest total since the last collection asked for. */
  private peak = 0;
  /** Bytes the clients evicted since the last collection held. */
  private evictedBytes = 0;
  private checkQueued = false;
  /** Until then (performance.now()), crossing the cap is not looked at: nobody could be evicted last time. */
  private quietUntil = 0;
  /** When checkRelease() last asked for a collection (performance.now(); never: long ago). */
  private lastCollect = -MIN_COLLECT_INTERVAL_MS;
  private readonly checkBound = () => this.enforce();

  /**
   * @param setting --maxmemory-clients (CONFIG SET may change it)
   * @param clients the clients to choose from when the cap is crossed
   * @param collect a full garbage collection (ops/full-gc.ts), null where there is none
   */
  constructor(
    private setting: ClientMemoryCap,
    private readonly clients: () => Iterable<EvictableClient>,
    private readonly log: Logger,
    private readonly collect: (() => void) | null = null,
  ) {
    this.cap = setting.bytes;
  }

  get capBytes(): number {
    return this.cap;
  }

  /** The setting as CONFIG GET maxmemory-clients shows it: bytes, or the percentage given. */
  get configValue(): string {
    return this.setting.percent === null ? String(this.setting.bytes) : `${this.setting.percent}%`;
  }

  /** A client's usage changed by `delta` bytes. */
  add(delta: number): void {
    this.total += delta;
    if (delta <= 0) return;
    if (this.total > this.peak) this.peak = this.total;
    if (this.total > this.cap && this.cap > 0 && !this.checkQueued && performance.now() >= this.quietUntil) {
      this.checkQueued = true;
      queueMicrotask(this.checkBound);
    }
  }

  /** Clients let go of most of a large peak: have their bytes collected (and returned) now. */
  checkRelease(): void {
    if (this.collect === null) return;
    const fell = this.peak >= RELEASE_MIN && this.total <= this.peak / 4;
    if (!fell && this.evictedBytes < RELEASE_MIN) return;
    // A full collection stops every client for its length: not more often than this.
    if (performance.now() - this.lastCollect < MIN_COLLECT_INTERVAL_MS) return;
    this.lastCollect = performance.now();
    const peak = this.peak;
    this.peak = this.total;
    this.evictedBytes = 0;
    const started = performance.now();
    this.collect();
    this.log.debug({ peak, total: this.total, ms: Math.round(performance.now() - started) }, 'full collection after clients let go of their memory');
  }

  /** Change the cap (CONFIG SET maxmemory-clients); a lower one takes effect at once. */
  setCap(setting: ClientMemoryCap): void {
    this.setting = setting;
    this.cap = setting.bytes;
    // Not now: the client that sent CONFIG SET is inside its own dispatch, and may be the one to go.
    if (this.cap > 0 && this.total > this.cap && !this.checkQueued) {
      this.checkQueued = true;
      queueMicrotask(this.checkBound);
    }
  }

  /** Evict the biggest clients until the total is within the cap, or none may be evicted. */
  private enforce(): void {
    this.checkQueued = false;
    while (this.cap > 0 && this.total > this.cap) {
      let biggest: EvictableClient | null = null;
      for (const c of this.clients()) {
        if (!c.noEvict && c.memoryBytes > 0 && (biggest === null || c.memoryBytes > biggest.memoryBytes)) biggest = c;
      }
      if (biggest === null) {
        // Over the cap with nobody to evict (all CLIENT NO-EVICT): not one scan of every
        // client per read or flush from now on; looked at again a little later.
        this.quietUntil = performance.now() + NOTHING_EVICTABLE_PAUSE_MS;
        return;
      }
      this.evicted++;
      this.log.warn({ client: biggest.id, bytes: biggest.memoryBytes, total: this.total, cap: this.cap }, 'client evicted: clients hold more than --maxmemory-clients');
      const before = this.total;
      this.evictedBytes += biggest.memoryBytes;
      biggest.evict();
      // A client that did not give its bytes back would be chosen again for ever.
      if (this.total >= before) return;
    }
  }
}
