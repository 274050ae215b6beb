/**
 * The router's pools, one per node by host:port: made on first use, kept while the slot
 * map names the node, closed RETIRE_AFTER_MS after it stopped naming it (requests already
 * on them finish; a node named again meanwhile keeps its pool).
 */
import { addressKey } from '../../cluster/slot-map.js';
import type { BackendPool } from '../../backend/pool.js';
import type { ClusterErrorHandler } from '../../backend/connection.js';

/** Makes the pool for one node (the router owns and closes it). */
export type PoolFactory = (host: string, port: number, clusterErrors: ClusterErrorHandler) => BackendPool;

/** A pool no master uses any more is closed this long after the map stopped naming it. */
const RETIRE_AFTER_MS = 30_000;

export class PoolRegistry {
  /** Every pool, by host:port. */
  private readonly pools = new Map<string, BackendPool>();
  private readonly retiring = new Map<string, NodeJS.Timeout>();

  /**
   * @param clusterErrors handles the cluster errors of every pool's requests (the router)
   * @param inMap whether the slot map of the moment names this address: a retiring pool it names again is kept
   */
  constructor(
    private readonly makePool: PoolFactory,
    private readonly clusterErrors: ClusterErrorHandler,
    private readonly inMap: (address: string) => boolean,
  ) {}

  /** Every node's pool (masters', and retiring ones' until closed), by host:port. */
  get all(): ReadonlyMap<string, BackendPool> {
    return this.pools;
  }

  /** The pool for a node, if it has one. */
  find(host: string, port: number): BackendPool | undefined {
    return this.pools.get(addressKey(host, port));
  }

  /** The pool for a node, made on first use; one retiring is kept. */
  at(host: string, port: number): BackendPool {
    const address = addressKey(host, port);
    let pool = this.pools.get(address);
    if (pool === undefined) {
      pool = this.makePool(host, port, this.clusterErrors);
      this.pools.set(address, pool);
    }
    const timer = this.retiring.get(address);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.retiring.delete(address);
    }
    return pool;
  }

  /** Retire every pool whose address is not in `used` (the new map's masters). */
  retireUnused(used: ReadonlySet<string>): void {
    for (const [address, pool] of this.pools) {
      if (used.has(address) || this.retiring.has(address)) continue;
      const timer = setTimeout(() => {
        this.retiring.delete(address);
        if (this.inMap(address) || this.pools.get(address) !== pool) return;
        this.pools.delete(address);
        pool.close();
      }, RETIRE_AFTER_MS);
      timer.unref();
      this.retiring.set(address, timer);
    }
  }

  close(): void {
    for (const t of this.retiring.values()) clearTimeout(t);
    this.retiring.clear();
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }
}
