/**
 * TrackingHub: client-side caching (CLIENT TRACKING) through the proxy.
 *
 * A node sends invalidations to the connection that read a key, and the proxy's
 * connections are shared by many clients: so the proxy keeps its own tracking table, as
 * Redis does (tracking.c), and hears every change from the nodes:
 *
 * - default mode (and OPTIN/OPTOUT with CLIENT CACHING): the keys a client reads are
 *   remembered when the read is sent, and again when its reply arrives (an invalidation
 *   between the two dropped the first entry, and the reply may hold the new value, which
 *   the client caches). Key → clients; one-shot: the entry goes when its invalidation is
 *   sent, as in Redis. At most tracking-table-max-keys keys (CONFIG, the proxy's own;
 *   1 000 000 by default, as Redis's): the oldest are invalidated to make room.
 * - BCAST: every change of a key under one of the client's prefixes (none: all keys).
 * - The changes: each master's InvalidationLinks connection hears every key modified on
 *   it, whoever changed it. A write through this proxy (a keyed command that is not
 *   read-only, EXEC, FLUSHALL/FLUSHDB) gets its reply only once every master's pushes of
 *   the changes answered so far have been routed (a PING on each link,
 *   one per event-loop turn for all the writes answered in it): the writer, told its SET
 *   is done, may tell a reader, whose cache must not answer with the old value then — the
 *   node's push travels on another connection and could be read after the write's reply.
 *   That costs a write one round trip to the masters — unless, when its reply comes, no
 *   BCAST client tracks and none of its keys is in the table: then nobody may hold them
 *   (a read is in the table from its sending on, and leaves it only by the invalidation
 *   the reader is sent), and there is no invalidation to wait for. That is the usual case
 *   even for a key a client holds: the node pushes the invalidation before it writes the
 *   reply, so the proxy has mostly routed it (and dropped the entry) by then. A write whose
 *   keys the command table cannot name (EVAL, FCALL) always waits.
 * - Order: an invalidation is queued at the tail of the client's replies, after the reply
 *   of any read it has in flight (that reply may be the old value).
 * - A master's link lost (failover, restart), or a new master's link ready: every
 *   tracking client gets a null invalidation (everything), as Redis sends on FLUSHALL —
 *   one, not one per master, unless some client read something since the last one.
 *
 * Wire formats are Redis's: RESP3 `>2 invalidate [keys]`; RESP2 with REDIRECT to a client
 * subscribed to anything, a `message` on `__redis__:invalidate` (Redis checks only that
 * the target is in Pub/Sub mode); a broken redirect tells a RESP3 client
 * `tracking-redir-broken <id>`.
 *
 * Clients that never turn tracking on pay one branch per request while nobody tracks;
 * while someone does, a write of a key some client may hold waits for that barrier.
 */
import type { RequestFrame } from '../../resp/frame.js';
import type { CommandInfo } from '../../commands/command-table.js';
import { CMD_BLOCKING, CMD_PUBSUB, CMD_READONLY, CMD_WRITE } from '../../commands/command-flags.js';
import { keyIndexes } from '../../commands/key-extraction.js';
import { encodeArrayHeader, encodeBulk, encodeInteger, NULL_BULK, NULL_RESP3 } from '../../resp/encode.js';
import { arrayElements, bulkBody } from '../../resp/reply-value.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import type { ClientLink } from '../datapath/client-link.js';
import type { Router } from '../datapath/router.js';
import type { ClientTracking, TrackingOptions } from './client-tracking.js';
import { InvalidationLinks, type InvalidationLinksOptions, type InvalidationOwner } from './invalidation-links.js';
import type { SlotMap } from '../../cluster/slot-map.js';

/** Redis's tracking-table-max-keys default. */
const DEFAULT_MAX_KEYS = 1_000_000;

const PUSH_HEAD = Buffer.from('>2\r\n$10\r\ninvalidate\r\n', 'latin1');
const MESSAGE_HEAD = Buffer.from('*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n', 'latin1');

/** A client as the hub sees it: a ClientSession. */
export interface TrackingClient extends ClientLink {
  readonly info: { tracking: ClientTracking | null };
  /** Its Pub/Sub state: a RESP2 redirect target must be subscribed to something. */
  readonly pubsub: { readonly active: boolean } | null;
  /** Write what is ready now, rather than at the end of the event-loop turn. */
  flush(): void;
}

/** Finds a connected client by id (CLIENT TRACKING REDIRECT). */
export type ClientLookup = (id: number) => TrackingClient | undefined;

export class TrackingHub implements InvalidationOwner {
  /** Key (latin1 string of its bytes) → default-mode clients that may have cached it. */
  private readonly table = new Map<string, Set<TrackingClient>>();
  /** Every client with tracking on. */
  private readonly clients = new Set<TrackingClient>();
  private readonly bcastClients = new Set<TrackingClient>();
  private readonly links: InvalidationLinks;
  /** CLIENT TRACKING ON replies waiting for every master's link to be ready. */
  private waiters: (() => void)[] = [];
  /** Scratch space for key positions. */
  private readonly keyPositions: number[] = [];
  /** Sessions pushed to during one routing pass, written at its end. */
  private readonly touched = new Set<TrackingClient>();
  /** CONFIG tracking-table-max-keys: keys remembered at most (0: no limit). */
  private keyLimit = DEFAULT_MAX_KEYS;
  /** Entries of all keys' client sets (INFO tracking_total_items). */
  private items = 0;
  /**
   * A tracking client sent a read since the last null invalidation: another one now is
   * news (without a read since, every client's cache is empty already). FLUSHALL through
   * the proxy is pushed by every master: the clients get one, as from one Redis.
   */
  private readSinceFlush = true;

  constructor(
    private readonly router: Router,
    private readonly lookup: ClientLookup,
    private readonly opts: InvalidationLinksOptions,
  ) {
    this.links = new InvalidationLinks(opts, this);
  }

  /** A new slot map (main.ts, after the router took it): invalidation links follow the masters. */
  follow(map: SlotMap): void {
    this.links.follow(map);
  }

  /** Some client tracks: keyed requests go through forward() (writes wait for the barrier, reads are remembered). */
  get active(): boolean {
    return this.clients.size > 0;
  }

  /** INFO tracking_clients. */
  get trackingClients(): number {
    return this.clients.size;
  }

  /** INFO tracking_total_keys. */
  get trackedKeys(): number {
    return this.table.size;
  }

  /** INFO tracking_total_items: key-client pairs remembered (a client counted once per key). */
  get trackedItems(): number {
    return this.items;
  }

  /** INFO tracking_total_prefixes: the distinct BCAST prefixes of the clients. */
  get trackedPrefixes(): number {
    const all = new Set<string>();
    for (const c of this.bcastClients) for (const p of c.info.tracking?.prefixes ?? []) all.add(p);
    return all.size;
  }

  /** CONFIG GET tracking-table-max-keys. */
  get maxKeys(): number {
    return this.keyLimit;
  }

  /** CONFIG SET tracking-table-max-keys: keys past it are invalidated and forgotten now. */
  setMaxKeys(n: number): void {
    this.keyLimit = n;
    this.evictOverLimit();
  }

  clientExists(id: number): boolean {
    return this.lookup(id) !== undefined;
  }

  /**
   * CLIENT TRACKING ON: answered (`done`) once every master's link is ready — a write in
   * between would go unheard — or after the connect timeout (a master down: its link's
   * readiness later makes every client forget what it cached).
   */
  enable(client: TrackingClient, state: ClientTracking, opts: TrackingOptions, done: () => void): void {
    state.enable(opts);
    // Its invalidations come from the masters: a read from a lagging replica could give it
    // a value older than an invalidation it already had, cached for good.
    client.replication.tracking = true;
    this.clients.add(client);
    this.readSinceFlush = true; // a client that cached before turning tracking on
    if (state.bcast) this.bcastClients.add(client);
    if (!this.links.isOpen) this.links.openFor(this.router.slotMap);
    if (this.links.allReady) {
      done();
      return;
    }
    let answered = false;
    const answer = (): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(answer, this.opts.connectTimeoutMs);
    timer.unref();
    this.waiters.push(answer);
  }

  /** CLIENT TRACKING OFF, RESET, or the client is gone. Its table entries go lazily (as in Redis). */
  disable(client: TrackingClient): void {
    client.info.tracking?.disable();
    client.replication.tracking = false;
    this.clients.delete(client);
    this.bcastClients.delete(client);
    if (this.clients.size === 0) {
      this.links.close();
      this.table.clear();
      this.items = 0;
    }
  }

  // --- the data path ---------------------------------------------------------------------

  /**
   * Route a keyed command (as Router.forward, `sink` included) while some client tracks:
   * its reads remembered for its client, its writes answered after the barrier.
   */
  forward(client: TrackingClient, frame: RequestFrame, cmd: CommandInfo, sink?: ReplySink): void {
    const flags = cmd.flags;
    const state = client.info.tracking;
    // Whatever is not read-only may change its keys: writes, and EVAL/FCALL (flagged neither).
    const writes = (flags & CMD_READONLY) === 0;
    if (state?.on === true && !writes) this.readSinceFlush = true;
    const reads = state !== null && (flags & CMD_READONLY) !== 0 && state.remembersRead;
    // A blocking command's reply comes on a connection of its own (no sink can be given): the
    // node's push covers it. Shard channels are keys to the command table, not to tracking.
    if ((!writes && !reads) || (flags & (CMD_BLOCKING | CMD_PUBSUB)) !== 0) {
      this.router.forward(client, frame, cmd, sink);
      return;
    }
    if (writes) {
      // A write's keys, to see at its reply whether anyone may hold them (the module comment).
      const keys = (flags & CMD_WRITE) !== 0 && this.bcastClients.size === 0 ? this.keysOf(cmd, frame) : null;
      this.router.forward(client, frame, cmd, new WriteBarrier(this, sink ?? client.openSlot(), keys));
      return;
    }
    const keys = this.keysOf(cmd, frame);
    if (keys.length === 0) {
      this.router.forward(client, frame, cmd, sink);
      return;
    }
    this.remember(client, keys);
    this.router.forward(client, frame, cmd, new ReadRemembered(this, client, keys, sink ?? client.openSlot()));
  }

  private keysOf(cmd: CommandInfo, frame: RequestFrame): string[] {
    const positions = this.keyPositions;
    const n = keyIndexes(cmd, frame, positions);
    const keys: string[] = new Array(Math.max(n, 0));
    const o = frame.offsets;
    for (let k = 0; k < n; k++) {
      const i = positions[k];
      keys[k] = frame.raw.toString('latin1', o[2 * i], o[2 * i + 1]);
    }
    return keys;
  }

  /** A default-mode client may cache these keys. */
  remember(client: TrackingClient, keys: readonly string[]): void {
    if (client.info.tracking?.on !== true || client.info.tracking.bcast) return;
    for (const key of keys) {
      let set = this.table.get(key);
      if (set === undefined) {
        set = new Set();
        this.table.set(key, set);
      }
      if (!set.has(client)) {
        set.add(client);
        this.items++;
      }
    }
    if (this.keyLimit > 0 && this.table.size > this.keyLimit) this.evictOverLimit();
  }

  /**
   * Over the limit: the oldest keys' clients are told to forget them, and they are
   * forgotten (Redis's trackingLimitUsedSlots evicts random keys the same way).
   */
  private evictOverLimit(): void {
    if (this.keyLimit === 0) return;
    while (this.table.size > this.keyLimit) {
      const oldest = this.table.keys().next().value;
      if (oldest === undefined) break;
      this.invalidateKeys([oldest], false);
    }
    this.flushTouched();
  }

  /** No BCAST client tracks and no default-mode client may hold any of these keys: a write of them has nobody to invalidate. */
  nobodyMayHold(keys: readonly string[]): boolean {
    if (this.bcastClients.size > 0 || keys.length === 0) return false;
    for (const key of keys) if (this.table.has(key)) return false;
    return true;
  }

  /** A sink that passes its reply on after the barrier (a command the proxy fans out that changes keys: FLUSHALL). */
  afterPushes(sink: ReplySink): ReplySink {
    return this.active ? new WriteBarrier(this, sink) : sink;
  }

  /**
   * A write through the proxy was answered: the writer gets its reply once the masters'
   * pushes of it have been routed (a reader it tells next must not find the old value).
   */
  writeAnswered(deliver: () => void): void {
    this.links.afterPushes(deliver);
  }

  // --- what the nodes say ------------------------------------------------------------------

  invalidationPush(frame: Buffer): void {
    const parts = arrayElements(frame);
    if (parts === null || parts.length !== 2 || bulkBody(parts[0]).toString('latin1') !== 'invalidate') return;
    const body = parts[1];
    if (body[0] === 0x5f /* '_' */ || body[1] === 0x2d /* '-' */) {
      this.invalidateAll();
      return;
    }
    const keys = arrayElements(body);
    if (keys === null) return;
    this.invalidateKeys(
      keys.map((k) => bulkBody(k).toString('latin1')),
      true,
    );
    this.flushTouched();
  }

  /** Every tracking client forgets everything: a null invalidation, as Redis sends on FLUSHALL. */
  invalidateAll(): void {
    if (!this.readSinceFlush) return;
    this.readSinceFlush = false;
    this.table.clear();
    this.items = 0;
    for (const client of this.clients) this.send(client, null);
    this.flushTouched();
  }

  linkReady(): void {
    if (!this.links.allReady) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  // --- sending -------------------------------------------------------------------------------

  /**
   * These keys changed. Default-mode entries are one-shot; BCAST clients get the keys
   * under their prefixes. Who wrote is not known (the nodes see the proxy's shared
   * connections): NOLOOP clients are told of their own changes too.
   */
  private invalidateKeys(keys: readonly string[], bcastToo: boolean): void {
    for (const key of keys) {
      const set = this.table.get(key);
      if (set === undefined) continue;
      this.table.delete(key);
      this.items -= set.size;
      for (const client of set) {
        const state = client.info.tracking;
        if (state === null || !state.on || state.bcast) continue;
        this.send(client, [key]);
      }
    }
    if (!bcastToo || this.bcastClients.size === 0) return;
    for (const client of this.bcastClients) {
      const state = client.info.tracking!;
      // Redis sends one message per prefix with the keys under it.
      for (const prefix of state.prefixes) {
        const under = keys.filter((k) => k.startsWith(prefix));
        if (under.length > 0) this.send(client, under);
      }
    }
  }

  /** One invalidation (null: everything) to a tracking client, or to its redirect target. */
  private send(client: TrackingClient, keys: readonly string[] | null): void {
    const state = client.info.tracking;
    if (state === null) return;
    let target: TrackingClient = client;
    let redirected = false;
    if (state.redirect !== 0) {
      const found = this.lookup(state.redirect);
      if (found === undefined) {
        state.brokenRedirect = true;
        if (client.protocol === 3) this.pushTo(client, Buffer.concat([Buffer.from('>2\r\n$21\r\ntracking-redir-broken\r\n', 'latin1'), encodeInteger(state.redirect)]));
        return;
      }
      target = found;
      redirected = true;
    }
    let head: Buffer;
    if (target.protocol === 3) head = PUSH_HEAD;
    else if (redirected && target.pubsub?.active === true) head = MESSAGE_HEAD;
    else return; // RESP2 without a subscribed redirect target: nothing can be sent, as in Redis
    // A flush's null is in the protocol of the client that tracks (Redis's shared.null[c->resp]).
    const body = keys === null ? (client.protocol === 3 ? NULL_RESP3 : NULL_BULK) : keysArray(keys);
    this.pushTo(target, Buffer.concat([head, body]));
  }

  private pushTo(target: TrackingClient, frame: Buffer): void {
    target.push(frame);
    this.touched.add(target);
  }

  /**
   * Write the invalidations out now: before the reply of the write that caused them, which
   * is only queued (it is written at the end of this event-loop turn, with the rest).
   */
  private flushTouched(): void {
    for (const client of this.touched) client.flush();
    this.touched.clear();
  }

  close(): void {
    this.links.close();
    for (const w of this.waiters) w();
    this.waiters = [];
  }
}

function keysArray(keys: readonly string[]): Buffer {
  const parts: Buffer[] = [encodeArrayHeader(keys.length)];
  for (const k of keys) parts.push(encodeBulk(Buffer.from(k, 'latin1')));
  return Buffer.concat(parts);
}

/** A write's reply: held until the pushes of its changes have been routed (see writeAnswered). */
class WriteBarrier implements ReplySink {
  constructor(
    private readonly hub: TrackingHub,
    private readonly sink: ReplySink,
    /** The write's keys; null: it always waits (keys unknown, or a BCAST client tracked when it was sent). */
    private readonly keys: readonly string[] | null = null,
  ) {}

  deliver(reply: Buffer): void {
    if (this.keys !== null && this.hub.nobodyMayHold(this.keys)) this.sink.deliver(reply);
    else this.hub.writeAnswered(() => this.sink.deliver(reply));
  }
}

/** A read's reply: its keys are remembered again (see the module comment), then the reader gets it. */
class ReadRemembered implements ReplySink {
  constructor(
    private readonly hub: TrackingHub,
    private readonly reader: TrackingClient,
    private readonly keys: readonly string[],
    private readonly sink: ReplySink,
  ) {}

  deliver(reply: Buffer): void {
    this.hub.remember(this.reader, this.keys);
    this.sink.deliver(reply);
  }
}

