/**
 * RequestGate: what the control plane (failover, shard recovery) may do to client requests
 * while it changes the cluster under them — make them wait for a master or for slots, let
 * them go, read the map they are routed by — and how it hears of what the data path meets
 * on the backends. Defined here, below both planes, so the control plane never imports the
 * proxy and the proxy's Router can declare that it implements it.
 */
import type { SlotMap } from './slot-map.js';

/** What the data path tells the control plane about the backends it talks to. */
export interface BackendWatcher {
  /** A connection to the node at host:port dropped (the health monitor looks at once). */
  backendLost(host: string, port: number): void;
  /**
   * A master answered a request BUSY; true when the proxy is ending that busy spell
   * (killing the script or failing the master over), so the request is worth sending again.
   */
  backendBusy(host: string, port: number): boolean;
}

export interface RequestGate {
  /** The map requests are routed by now. */
  readonly slotMap: SlotMap;
  /** Requests for the master at host:port wait, at most maxWaitMs, for it or its successor. */
  hold(host: string, port: number, maxWaitMs: number): void;
  /** The master at host:port is released (its waiting requests go where the map says now). */
  releaseAddress(host: string, port: number): void;
  /** Requests for these slots wait (each at most maxWaitMs) until releaseSlots. */
  holdSlots(slots: Iterable<number>, maxWaitMs: number): void;
  releaseSlots(slots: Iterable<number>): void;
  /**
   * Resolves once none of this proxy's requests is in flight to the node at host:port (or
   * after maxWaitMs): a node about to be stopped first answers what it was sent — the WAITs
   * of --ack replica included — so no client sees its request cut off.
   */
  drained(host: string, port: number, maxWaitMs: number): Promise<void>;
  /** Register the one watcher of backend events (a later one replaces it). */
  watchBackends(watcher: BackendWatcher): void;
}
