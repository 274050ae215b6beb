/**
 * InvalidationLinks: one RESP3 connection per master that ran `CLIENT TRACKING ON BCAST`
 * (no prefix: every key), on which the master pushes `invalidate` for every key modified
 * on it — by any client of any proxy, by expiry, eviction, scripts, a slot migration's
 * MIGRATE or RESTORE — and a null key list when it is flushed. The TrackingHub routes
 * those keys to its clients.
 *
 * A link counts as ready once its node answered the CLIENT TRACKING: only from then on
 * is every change on the node heard. The owner is told when a link is lost (what changed
 * on the node meanwhile is not known) and when a link that was lost, or a link to a new
 * master, becomes ready: both are the moments the proxy's clients must forget all they
 * cached (see TrackingHub).
 *
 * The links follow the slot map: a master that appears gets a link, one that disappears
 * has its link closed (its keys moved away, with pushes for the keys the MIGRATE
 * deleted, or it was failed over, and its link's loss has been reported).
 */
import { BackendConnection, type BackendEndpoint, type ClusterErrorHandler } from '../../backend/connection.js';
import type { SlotMap } from '../../cluster/slot-map.js';
import type { Logger } from '../../log.js';
import type { Runtime } from '../../net/runtime.js';
import { encodeCommand } from '../../resp/encode.js';

const TRACKING_ON_BCAST = encodeCommand(['CLIENT', 'TRACKING', 'ON', 'BCAST']);
const PING = encodeCommand(['PING']);

/**
 * The callbacks waiting for one PING on every ready link. A node writes the `invalidate`
 * push of a change in the same event-loop turn as the reply of the command that made it,
 * and answers a PING sent after that reply in a later one: once every link answered, every
 * push of the changes answered before has been read and routed.
 */
class Barrier {
  readonly callbacks: (() => void)[] = [];
  /** PINGs not answered yet, plus one until the task that opened it ends. */
  remaining = 1;
  timer: NodeJS.Timeout | null = null;
  private finished = false;

  done(): void {
    if (--this.remaining === 0) this.finish();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const cb of this.callbacks) cb();
  }
}

/**
 * A barrier whose node does not answer within this long (stopped, hung, overloaded) is
 * given up on: every client forgets everything, and the writes it held get their replies.
 * A write elsewhere is not held for a node that is not answering.
 */
const BARRIER_TIMEOUT_MS = 1000;

export interface InvalidationLinksOptions {
  /** The nodes' requirepass ('' for none). */
  password: string;
  connectTimeoutMs: number;
  /** --command-timeout: a link whose node does not answer its PING this long is failed (and reconnected). */
  commandTimeoutMs: number;
  runtime: Runtime;
  log: Logger;
}

/** What the links tell the TrackingHub. */
export interface InvalidationOwner {
  /** An `invalidate` push from a master (its keys, or a null list: everything). */
  invalidationPush(frame: Buffer): void;
  /** A link was lost, or a link that must start from an empty cache is ready: every client forgets everything. */
  invalidateAll(): void;
  /** A link became ready (waiters for readiness may go on). */
  linkReady(): void;
}

/** One master's link. */
class Link implements ClusterErrorHandler {
  readonly conn: BackendConnection;
  ready = false;
  /** When ready, the clients must forget what they cached: it was lost before, or the master is new to tracking clients. */
  invalidateOnReady: boolean;
  /** Barriers waiting for it to be ready (a new master's link, making its first connection). */
  private readyWaiters: (() => void)[] = [];

  constructor(
    endpoint: BackendEndpoint,
    opts: InvalidationLinksOptions,
    private readonly owner: InvalidationOwner,
    invalidateOnReady: boolean,
  ) {
    this.invalidateOnReady = invalidateOnReady;
    this.conn = new BackendConnection(endpoint, {
      connectTimeoutMs: opts.connectTimeoutMs,
      // A node that stops answering the barrier's PINGs fails the link (its loss: every client forgets everything).
      commandTimeoutMs: opts.commandTimeoutMs,
      reconnect: true,
      log: opts.log,
      runtime: opts.runtime,
      protocol: 3,
      clusterErrors: this,
      onPush: (frame) => owner.invalidationPush(frame),
    });
  }

  onClusterError(): boolean {
    return false;
  }

  onConnectionReady(): void {
    this.conn.send(TRACKING_ON_BCAST, {
      deliver: (reply) => {
        if (reply[0] !== 0x2b /* '+' */) return; // the node refused (or the link dropped again): retried on the next connect
        this.ready = true;
        if (this.invalidateOnReady) this.owner.invalidateAll();
        this.invalidateOnReady = false;
        this.releaseWaiters();
        this.owner.linkReady();
      },
    });
  }

  /**
   * Whether a barrier should wait for this link to become ready: it is connecting for the
   * first time (a new master's link: a write answered by that master before the link hears
   * it would go unheard). One whose node is down is not waited for: its loss has had every
   * client forget everything, and the map will move its slots.
   */
  get worthWaitingFor(): boolean {
    return !this.ready && !this.conn.isDown && this.conn.connectionState !== 'closed';
  }

  whenReady(cb: () => void): void {
    this.readyWaiters.push(cb);
  }

  private releaseWaiters(): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w();
  }

  onConnectionLost(): void {
    const wasReady = this.ready;
    this.ready = false;
    this.invalidateOnReady = true;
    if (wasReady) this.owner.invalidateAll();
  }

  close(): void {
    this.ready = false;
    this.conn.close();
    this.releaseWaiters();
  }
}

export class InvalidationLinks {
  /** By master address (host:port). */
  private readonly links = new Map<string, Link>();
  private open = false;
  /** The barrier the replies read in this event-loop turn join (its PINGs are written at the turn's end). */
  private barrier: Barrier | null = null;

  constructor(
    private readonly opts: InvalidationLinksOptions,
    private readonly owner: InvalidationOwner,
  ) {}

  /** Whether the links are open (some client tracks). */
  get isOpen(): boolean {
    return this.open;
  }

  /** Every master of the map has a ready link. */
  get allReady(): boolean {
    for (const link of this.links.values()) if (!link.ready) return false;
    return true;
  }

  /** Open a link to every master of `map` (the first tracking client). */
  openFor(map: SlotMap): void {
    this.open = true;
    this.follow(map, false);
  }

  /**
   * The slot map changed: links for new masters (whose readiness makes the clients forget
   * what they cached: a failover's new master may lack what the old one had, and changes
   * before its link was ready went unheard), closed for masters gone.
   */
  follow(map: SlotMap, newMastersInvalidate = true): void {
    if (!this.open) return;
    const wanted = new Set<string>();
    for (const m of map.masters) {
      wanted.add(m.address);
      if (this.links.has(m.address)) continue;
      const endpoint: BackendEndpoint = { id: m.nodeId || m.address, host: m.host, port: m.port, password: this.opts.password };
      this.links.set(m.address, new Link(endpoint, this.opts, this.owner, newMastersInvalidate));
    }
    for (const [address, link] of this.links) {
      if (wanted.has(address)) continue;
      link.close();
      this.links.delete(address);
    }
  }

  /**
   * Call `done` once every ready link has delivered the pushes of every change whose reply
   * the proxy has read already (see Barrier). A link that fails meanwhile has every client
   * forget everything first. Without a ready link, at once.
   */
  afterPushes(done: () => void): void {
    const barrier = this.barrier ?? this.openBarrier();
    barrier.callbacks.push(done);
  }

  private openBarrier(): Barrier {
    const barrier = new Barrier();
    for (const link of this.links.values()) {
      if (!link.ready) {
        if (link.worthWaitingFor) {
          barrier.remaining++;
          link.whenReady(() => barrier.done());
        }
        continue;
      }
      barrier.remaining++;
      link.conn.send(PING, {
        deliver: (reply) => {
          if (reply[0] === 0x2d /* '-' */) this.owner.invalidateAll(); // the link failed: what it did not deliver is unknown
          barrier.done();
        },
      });
    }
    if (barrier.remaining > 1) {
      barrier.timer = setTimeout(() => {
        this.owner.invalidateAll();
        barrier.finish();
      }, BARRIER_TIMEOUT_MS);
      barrier.timer.unref();
    }
    this.barrier = barrier;
    // Replies read in this event-loop turn join it: its PINGs are written at the end of the
    // turn (the flush scheduler's setImmediate), after every one of them was read. It closes
    // in that same check phase, before the next turn reads anything.
    setImmediate(() => {
      this.barrier = null;
      barrier.done();
    });
    return barrier;
  }

  /** The last tracking client left: no link is needed. */
  close(): void {
    this.open = false;
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}
