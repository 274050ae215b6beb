/**
 * PubSubHub: Pub/Sub through the proxy, as a multiplexer.
 *
 * The proxy keeps few backend subscriber connections and fans what they receive out to
 * its clients, instead of one backend connection per subscribed client: 10 000 clients
 * on one channel would otherwise be 10 000 clients (and fds) on a node, whose maxclients
 * is 10 000 by default. Each channel, pattern or shard channel any client wants is one
 * *topic*, subscribed once on a node; a message is copied once off the read buffer and
 * the same bytes go to every subscriber (a second variant, made once, for RESP3 clients).
 *
 * - Channels and patterns: one connection, to any master. A Redis Cluster propagates
 *   PUBLISH to every node, so one node sees every message.
 * - Shard channels: one connection per master, each channel subscribed on the master of
 *   its slot (following MOVED). When the slot moves (failover, resharding), Redis 7.0
 *   tells the subscriber with an unsolicited `sunsubscribe`; the hub re-subscribes on the
 *   new owner and the clients are not told: to them the proxy is one Redis, whose shard
 *   channels do not move (a cluster client would re-subscribe on it, a plain client would
 *   just stop receiving).
 * - A lost backend connection (node killed, failover): its topics are re-subscribed on
 *   another node / the slot's new owner, with a growing pause; clients stay subscribed.
 *   Messages published while no node connection listened are lost, as in Redis.
 * - A node that cannot say anything (stopped, hung) is noticed two ways: its connection
 *   hears nothing, not even PING's reply, for --command-timeout; and sooner, the slot map
 *   (checked every PLACEMENT_CHECK_MS) stops naming it a serving master once it is failed
 *   over, or names another owner for a shard channel's slot.
 *
 * A client's SUBSCRIBE is confirmed once the topic is subscribed on a node, so a message
 * published after the client saw its confirmation reaches it. Replies and messages share
 * the session's ordered output (a message never overtakes an earlier confirmation).
 *
 * - Keyspace notifications are not relayed between nodes: KeyspaceFanIn hears them from
 *   every master for the patterns and `__keyspace@`/`__keyevent@` channels; the classic
 *   connection's own copies are dropped.
 *
 * Slow subscribers: the shared connections are never slowed down for one client. What a
 * client has not taken is bounded by --client-output-buffer-limit-pubsub, checked as each
 * message is added, as Redis does; past it the client is disconnected (one log line).
 */
import type { Logger } from '../../log.js';
import type { Runtime } from '../../net/runtime.js';
import type { OutputBufferLimit } from '../limits.js';
import { Fifo } from '../../net/fifo.js';
import { keySlot } from '../../cluster/key-slot.js';
import { UNASSIGNED, type SlotMap } from '../../cluster/slot-map.js';
import { SubscriberConnection, type SubscriberOwner } from '../../backend/subscriber-connection.js';
import type { BackendEndpoint } from '../../backend/connection.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import { arrayElements, bulkBody, bulkText } from '../../resp/reply-value.js';
import { encodeArray, encodeBulk, encodeInteger, NULL_BULK } from '../../resp/encode.js';
import { globMatch } from './glob-match.js';
import { Gather } from '../datapath/reply-slot.js';
import { isKeyspaceChannel, KeyspaceFanIn, patternMayMatchKeyspace, type FanInKind, type KeyspaceTarget } from './keyspace-fan-in.js';
import type { ClientLink } from '../datapath/client-link.js';
import type { Router } from '../datapath/router.js';

/** What a topic is: a channel (SUBSCRIBE), a pattern (PSUBSCRIBE) or a shard channel (SSUBSCRIBE). */
export const CHANNEL = 0;
export const PATTERN = 1;
export const SHARD = 2;
export type TopicKind = typeof CHANNEL | typeof PATTERN | typeof SHARD;

/** Redis's command (and confirmation) names per kind. */
export const SUBSCRIBE_NAME = ['subscribe', 'psubscribe', 'ssubscribe'] as const;
export const UNSUBSCRIBE_NAME = ['unsubscribe', 'punsubscribe', 'sunsubscribe'] as const;

/** Pause before re-subscribing after a loss or an error; doubles up to RETRY_CAP_MS. */
const RETRY_BASE_MS = 50;
const RETRY_CAP_MS = 1000;
/** How often the hub looks whether the slot map still agrees with where its topics are. */
const PLACEMENT_CHECK_MS = 250;

/**
 * The RESP3 form of a Pub/Sub frame the nodes send in RESP2: the same array as a push
 * (`>3` instead of `*3`). The seam for RESP3 clients (session.protocol 3).
 */
export function asPush(frame: Buffer): Buffer {
  const push = Buffer.from(frame);
  push[0] = 0x3e; // '>'
  return push;
}

/** A (un)subscribe confirmation as Redis sends it: kind, channel (nil when there was none), count. */
export function confirmation(kind: string, name: Buffer | null, count: number, protocol: 2 | 3): Buffer {
  const frame = encodeArray([encodeBulk(kind), name === null ? NULL_BULK : encodeBulk(name), encodeInteger(count)]);
  return protocol === 3 ? asPush(frame) : frame;
}

/** One channel, pattern or shard channel that some clients want, subscribed once on a node. */
class Topic {
  readonly subscribers = new Set<ClientSubscriptions>();
  /** The node connection it is subscribed on (or being subscribed); null while it has none. */
  link: SubscriberConnection | null = null;
  /** The node confirmed the subscription on `link`. */
  active = false;
  /** Confirmations of clients that joined while the topic was not active yet. */
  waiting: { slot: ReplySink; reply: Buffer }[] = [];
  /** Errors or losses since it was last confirmed (for the pause and for following MOVED). */
  retries = 0;
  /** When the first of those happened (the router's retry budget counts from there). */
  since = 0;
  retry: NodeJS.Timeout | null = null;
  /** The name's hash slot (what a shard channel is placed by). */
  readonly slot: number;

  constructor(
    readonly kind: TopicKind,
    readonly key: string,
    /** Its own copy of the name (the request's bytes may be a view of a large read slab). */
    readonly name: Buffer,
  ) {
    this.slot = keySlot(name);
  }
}

/** A command sent on a subscriber connection, whose one reply (confirmation or error) is owed. */
interface Sent {
  command: string;
  key: string;
  /** The topic it subscribes (null for an unsubscribe). */
  topic: Topic | null;
}

class Link {
  readonly sent = new Fifo<Sent>(16);
  readonly topics = new Set<Topic>();
}

/** One client's channels, patterns and shard channels (session.pubsub). */
export class ClientSubscriptions {
  /** Keys (the names' bytes as latin1) per kind: CHANNEL, PATTERN, SHARD. */
  readonly sets: [Set<string>, Set<string>, Set<string>] = [new Set(), new Set(), new Set()];
  /** When its retained output went over the soft limit (0: it is not over). */
  overSoftSince = 0;
  /** Disconnected for its output buffer: nothing more is added for it. */
  dropped = false;

  constructor(
    readonly session: ClientLink,
    private readonly hub: PubSubHub,
  ) {}

  /** In subscribed mode: subscribed to anything at all. */
  get active(): boolean {
    return this.sets[CHANNEL].size + this.sets[PATTERN].size + this.sets[SHARD].size > 0;
  }

  /** The count Redis puts in a confirmation: channels + patterns, or shard channels. */
  count(kind: TopicKind): number {
    return kind === SHARD ? this.sets[SHARD].size : this.sets[CHANNEL].size + this.sets[PATTERN].size;
  }

  /** Leave everything (RESET, or the client is gone). */
  leaveAll(): void {
    for (const kind of [CHANNEL, PATTERN, SHARD] as const) {
      for (const key of this.sets[kind]) this.hub.leave(this, kind, key);
      this.sets[kind].clear();
    }
  }
}

export interface PubSubOptions {
  /** The nodes' requirepass ('' for none). */
  password: string;
  connectTimeoutMs: number;
  /** A node connection that hears nothing (PINGs included) for this long is lost. */
  silenceLimitMs: number;
  outputLimit: OutputBufferLimit;
  log: Logger;
  /** The proxy's fault reporter and dial routes. */
  runtime: Runtime;
}

export class PubSubHub implements SubscriberOwner, KeyspaceTarget {
  private readonly topics: [Map<string, Topic>, Map<string, Topic>, Map<string, Topic>] = [new Map(), new Map(), new Map()];
  /** The connection channels and patterns are subscribed on; made on first use. */
  private classic: SubscriberConnection | null = null;
  /** Losses of the classic connection since it last confirmed something (picks the next master, the pause). */
  private classicRetries = 0;
  /** Shard-channel connections by node address. */
  private readonly shardLinks = new Map<string, SubscriberConnection>();
  private readonly links = new Map<SubscriberConnection, Link>();
  private closed = false;
  /** The slot map placement was last checked against. */
  private checkedMap: SlotMap;
  private readonly placementTimer: NodeJS.Timeout;
  private readonly keyspace: KeyspaceFanIn;

  constructor(
    private readonly router: Router,
    private readonly opts: PubSubOptions,
  ) {
    this.keyspace = new KeyspaceFanIn(this, {
      password: opts.password,
      connectTimeoutMs: opts.connectTimeoutMs,
      silenceLimitMs: opts.silenceLimitMs,
      log: opts.log,
      runtime: opts.runtime,
      servingMasters: () => router.servingMasters.map((i) => router.slotMap.masters[i]),
    });
    this.checkedMap = router.slotMap;
    this.placementTimer = setInterval(() => this.checkPlacement(), PLACEMENT_CHECK_MS);
    this.placementTimer.unref();
  }

  // --- what clients do ----------------------------------------------------------------

  /** The client subscribes to one channel/pattern/shard channel; its confirmation goes out once the topic is live. */
  subscribe(client: ClientSubscriptions, kind: TopicKind, name: Buffer): void {
    const session = client.session;
    const key = name.toString('latin1');
    const set = client.sets[kind];
    if (set.has(key)) {
      session.push(confirmation(SUBSCRIBE_NAME[kind], name, client.count(kind), session.protocol));
      return;
    }
    set.add(key);
    const reply = confirmation(SUBSCRIBE_NAME[kind], name, client.count(kind), session.protocol);
    let topic = this.topics[kind].get(key);
    const isNew = topic === undefined;
    if (topic === undefined) {
      topic = new Topic(kind, key, Buffer.from(name));
      this.topics[kind].set(key, topic);
    }
    topic.subscribers.add(client);
    const fanIn = keyspaceKind(kind, name);
    if (fanIn === null) {
      if (topic.active) session.push(reply);
      else topic.waiting.push({ slot: session.openPushSlot(), reply });
    } else {
      // Confirmed once both the classic connection and every master's keyspace link have it.
      const both = new Gather(2, (parts) => parts[0], session.openPushSlot(), this.opts.runtime.faults);
      if (topic.active) both.part(0).deliver(reply);
      else topic.waiting.push({ slot: both.part(0), reply });
      if (isNew) this.keyspace.add(fanIn, key, topic.name);
      this.keyspace.whenReady(fanIn, key, () => both.part(1).deliver(reply));
    }
    // Placed once the client waits on it: a topic that cannot be placed now releases its waiters.
    if (isNew) this.place(topic);
  }

  deliverKeyspace(kind: FanInKind, key: string, frame: Buffer): void {
    this.fanOut(this.topics[kind].get(key), frame);
  }

  /** The client unsubscribes from one channel/pattern/shard channel (subscribed or not: Redis confirms either way). */
  unsubscribe(client: ClientSubscriptions, kind: TopicKind, name: Buffer): void {
    const key = name.toString('latin1');
    if (client.sets[kind].delete(key)) this.leave(client, kind, key);
    client.session.push(confirmation(UNSUBSCRIBE_NAME[kind], name, client.count(kind), client.session.protocol));
  }

  /** The client no longer wants the topic; the last one out unsubscribes it on the node. */
  leave(client: ClientSubscriptions, kind: TopicKind, key: string): void {
    const topic = this.topics[kind].get(key);
    if (topic === undefined || !topic.subscribers.delete(client) || topic.subscribers.size > 0) return;
    this.topics[kind].delete(key);
    const fanIn = keyspaceKind(kind, topic.name);
    if (fanIn !== null) this.keyspace.remove(fanIn, key);
    this.releaseWaiting(topic);
    if (topic.retry !== null) clearTimeout(topic.retry);
    topic.retry = null;
    const conn = topic.link;
    topic.link = null;
    if (conn === null) return;
    const link = this.links.get(conn);
    if (link === undefined) return;
    link.topics.delete(topic);
    link.sent.push({ command: UNSUBSCRIBE_NAME[kind], key, topic: null });
    conn.send([UNSUBSCRIBE_NAME[kind], topic.name]);
  }

  /** How many client subscriptions a PUBLISH (or SPUBLISH) of `channel` reaches: Redis's reply to it. */
  receivers(kind: typeof CHANNEL | typeof SHARD, channel: Buffer): number {
    let n = this.topics[kind].get(channel.toString('latin1'))?.subscribers.size ?? 0;
    if (kind === CHANNEL) for (const p of this.topics[PATTERN].values()) if (globMatch(p.name, channel)) n += p.subscribers.size;
    return n;
  }

  /** Active channels (or shard channels), optionally matching a glob pattern: PUBSUB CHANNELS/SHARDCHANNELS. */
  activeNames(kind: typeof CHANNEL | typeof SHARD, pattern: Buffer | null): Buffer[] {
    const out: Buffer[] = [];
    for (const t of this.topics[kind].values()) if (pattern === null || globMatch(pattern, t.name)) out.push(t.name);
    return out;
  }

  /** Clients subscribed to this channel (or shard channel): PUBSUB NUMSUB/SHARDNUMSUB. */
  subscriberCount(kind: typeof CHANNEL | typeof SHARD, channel: Buffer): number {
    return this.topics[kind].get(channel.toString('latin1'))?.subscribers.size ?? 0;
  }

  /** Distinct patterns subscribed: PUBSUB NUMPAT. */
  get patternCount(): number {
    return this.topics[PATTERN].size;
  }

  /** Backend subscriber connections open now (tests, INFO). */
  get connectionCount(): number {
    return this.links.size;
  }

  /** host:port of the node channels and patterns are subscribed on (null: none yet). */
  get classicAddress(): string | null {
    return this.classic?.address ?? null;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.placementTimer);
    this.keyspace.close();
    for (const map of this.topics) {
      for (const t of map.values()) if (t.retry !== null) clearTimeout(t.retry);
    }
    for (const conn of this.links.keys()) conn.close();
    this.links.clear();
    this.shardLinks.clear();
    this.classic = null;
  }

  // --- the node connections ------------------------------------------------------------

  onFrame(conn: SubscriberConnection, frame: Buffer): void {
    const link = this.links.get(conn);
    if (link === undefined) return;
    if (frame[0] === 0x2d /* '-' */) {
      const sent = link.sent.shift();
      if (sent?.topic != null) this.subscribeFailed(sent.topic, conn, frame);
      return;
    }
    const parts = arrayElements(frame);
    if (parts === null || parts.length < 3) return; // PING's reply: nothing to do
    const kind = bulkText(parts[0]);
    switch (kind) {
      case 'message':
        if (isKeyspaceChannel(bulkBody(parts[1]))) return; // KeyspaceFanIn's, from every master
        return this.fanOut(this.topics[CHANNEL].get(bulkText(parts[1])), frame);
      case 'pmessage':
        if (isKeyspaceChannel(bulkBody(parts[2]))) return;
        return this.fanOut(this.topics[PATTERN].get(bulkText(parts[1])), frame);
      case 'smessage':
        return this.fanOut(this.topics[SHARD].get(bulkText(parts[1])), frame);
    }
    const key = bulkText(parts[1]);
    const head = link.sent.peek();
    if (head !== undefined && head.command === kind && head.key === key) {
      link.sent.shift();
      if (head.topic !== null) this.confirmed(head.topic, conn);
    } else if (kind === 'sunsubscribe') {
      // Not ours: the node no longer serves the channel's slot (failover, resharding).
      const topic = this.topics[SHARD].get(key);
      if (topic !== undefined && topic.link === conn) {
        this.opts.log.info({ node: conn.endpoint.id, channel: key }, 'shard channel moved with its slot: re-subscribing on the new owner');
        this.unlink(topic, link);
        this.place(topic);
      }
    }
  }

  onLost(conn: SubscriberConnection, why: string): void {
    const link = this.links.get(conn);
    this.links.delete(conn);
    if (link === undefined) return;
    if (this.shardLinks.get(conn.address) === conn) this.shardLinks.delete(conn.address);
    if (this.classic === conn) this.classic = null;
    if (link.topics.size > 0) {
      // A node's outage has its own line (runtime.outages); this one per connection and retry would repeat it.
      const level = this.opts.runtime.outages.isDown(conn.endpoint) ? 'debug' : 'warn';
      this.opts.log[level]({ node: conn.endpoint.id, err: why, topics: link.topics.size }, 'Pub/Sub connection to a node lost: re-subscribing elsewhere');
    }
    for (const topic of [...link.topics]) {
      this.unlink(topic, link);
      // The clients stay subscribed: their confirmations need not wait for the next node.
      this.releaseWaiting(topic);
      this.retryLater(topic);
    }
  }

  /**
   * A new slot map: the classic connection leaves a node that is no longer a serving master
   * or is failing (when another one is not); a shard connection to a node that serves no
   * slots any more (failed over) is given up; a shard channel whose slot is owned elsewhere
   * moves there. Redis would announce the last with `sunsubscribe`, but not when the old
   * owner is stopped or cut off.
   */
  private checkPlacement(): void {
    const map = this.router.slotMap;
    if (map === this.checkedMap || this.closed) return;
    this.checkedMap = map;
    this.keyspace.reconcile();
    const serving = new Set<string>();
    let anyHealthy = false;
    for (const i of this.router.servingMasters) {
      serving.add(map.masters[i].address);
      if (!map.masters[i].failing) anyHealthy = true;
    }
    const classic = this.classic;
    if (classic !== null) {
      const i = map.indexOfAddress(classic.address);
      if (!serving.has(classic.address) || (anyHealthy && map.masters[i].failing)) this.giveUp(classic, 'no longer a healthy serving master');
    }
    for (const [conn, link] of [...this.links]) {
      if (conn === classic) continue;
      if (!serving.has(conn.address)) {
        this.giveUp(conn, 'no longer a serving master');
        continue;
      }
      for (const topic of [...link.topics]) {
        const owner = map.slotToMaster[topic.slot];
        if (owner === UNASSIGNED || map.masters[owner].address === conn.address) continue;
        link.sent.push({ command: UNSUBSCRIBE_NAME[SHARD], key: topic.key, topic: null });
        conn.send([UNSUBSCRIBE_NAME[SHARD], topic.name]);
        this.unlink(topic, link);
        this.place(topic);
      }
    }
  }

  /** Stop using a connection whose node is not to be trusted any more: its topics go elsewhere. */
  private giveUp(conn: SubscriberConnection, why: string): void {
    conn.close();
    this.onLost(conn, why);
  }

  /** Subscribe a topic on the node it belongs on now. */
  private place(topic: Topic): void {
    if (this.closed) return;
    if (topic.kind === SHARD) {
      const map = this.router.slotMap;
      const master = map.slotToMaster[topic.slot];
      const route = master === UNASSIGNED ? undefined : map.masters[master];
      if (route === undefined) {
        this.releaseWaiting(topic);
        this.retryLater(topic);
        return;
      }
      this.subscribeOn(this.shardLink(route.host, route.port), topic);
      return;
    }
    const conn = this.classicLink();
    if (conn === null) {
      this.releaseWaiting(topic);
      this.retryLater(topic);
    } else {
      this.subscribeOn(conn, topic);
    }
  }

  private subscribeOn(conn: SubscriberConnection, topic: Topic): void {
    const link = this.links.get(conn)!;
    topic.link = conn;
    topic.active = false;
    link.topics.add(topic);
    link.sent.push({ command: SUBSCRIBE_NAME[topic.kind], key: topic.key, topic });
    conn.send([SUBSCRIBE_NAME[topic.kind], topic.name]);
  }

  private confirmed(topic: Topic, conn: SubscriberConnection): void {
    if (topic.link !== conn) return; // left or moved meanwhile
    topic.active = true;
    topic.retries = 0;
    if (topic.kind !== SHARD) this.classicRetries = 0;
    this.releaseWaiting(topic);
  }

  /**
   * A node refused a subscription: a shard channel follows MOVED (and waits out TRYAGAIN,
   * CLUSTERDOWN) where the router says; anything else is tried again after a pause. The
   * clients' confirmations go out meanwhile: they stay subscribed whatever the node said.
   */
  private subscribeFailed(topic: Topic, conn: SubscriberConnection, error: Buffer): void {
    if (topic.link !== conn) return;
    const link = this.links.get(conn);
    if (link !== undefined) this.unlink(topic, link);
    if (topic.retries++ === 0) topic.since = Date.now();
    const next = topic.kind === SHARD ? this.router.followUp(error, conn.endpoint, topic.retries, topic.since) : undefined;
    if (next !== undefined) {
      const { host, port } = next.pool.endpoint;
      const go = (): void => {
        topic.retry = null;
        if (this.topics[SHARD].get(topic.key) === topic && topic.link === null) this.subscribeOn(this.shardLink(host, port), topic);
      };
      if (next.delayMs === 0) go();
      else topic.retry = setTimeout(go, next.delayMs).unref();
      return;
    }
    this.opts.log.warn({ node: conn.endpoint.id, channel: topic.key, err: error.toString('latin1', 1, error.length - 2) }, 'a node refused a Pub/Sub subscription: retrying');
    this.releaseWaiting(topic);
    this.retryLater(topic);
  }

  private unlink(topic: Topic, link: Link): void {
    link.topics.delete(topic);
    topic.link = null;
    topic.active = false;
  }

  /** Place the topic again after a pause that grows with its failures (the map may catch up meanwhile). */
  private retryLater(topic: Topic): void {
    if (this.closed || topic.retry !== null) return;
    const delay = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(topic.retries++, 10));
    topic.retry = setTimeout(() => {
      topic.retry = null;
      if (this.topics[topic.kind].get(topic.key) === topic && topic.link === null) this.place(topic);
    }, delay).unref();
  }

  private releaseWaiting(topic: Topic): void {
    const waiting = topic.waiting;
    topic.waiting = [];
    for (const w of waiting) w.slot.deliver(w.reply);
  }

  /**
   * The classic connection, to a master serving slots, not failing if there is one (the
   * next one after each loss); null when none is known.
   */
  private classicLink(): SubscriberConnection | null {
    if (this.classic !== null) return this.classic;
    const serving = this.router.servingMasters;
    const masters = this.router.slotMap.masters;
    if (serving.length === 0) return null;
    const start = this.classicRetries++;
    let route = masters[serving[start % serving.length]];
    for (let k = 0; k < serving.length && route.failing; k++) route = masters[serving[(start + k) % serving.length]];
    this.classic = this.connect(route.host, route.port);
    return this.classic;
  }

  private shardLink(host: string, port: number): SubscriberConnection {
    const address = `${host}:${port}`;
    let conn = this.shardLinks.get(address);
    if (conn === undefined) {
      conn = this.connect(host, port);
      this.shardLinks.set(address, conn);
    }
    return conn;
  }

  private connect(host: string, port: number): SubscriberConnection {
    const endpoint: BackendEndpoint = { id: `${host}:${port}`, host, port, password: this.opts.password };
    const conn = new SubscriberConnection(endpoint, this, { connectTimeoutMs: this.opts.connectTimeoutMs, silenceLimitMs: this.opts.silenceLimitMs, log: this.opts.log, runtime: this.opts.runtime });
    this.links.set(conn, new Link());
    return conn;
  }

  // --- fan-out -----------------------------------------------------------------------------

  private fanOut(topic: Topic | undefined, frame: Buffer): void {
    if (topic === undefined || topic.subscribers.size === 0) return;
    // One copy, off the read buffer: every subscriber holds the same bytes, and holding them does not pin a chunk.
    const resp2 = Buffer.from(frame);
    let resp3: Buffer | null = null;
    for (const client of topic.subscribers) {
      if (client.dropped) continue;
      const session = client.session;
      if (session.protocol === 3) session.push((resp3 ??= asPush(resp2)));
      else session.push(resp2);
      this.enforceLimit(client);
    }
  }

  /** Redis's client-output-buffer-limit for pubsub clients: past the hard limit, or over the soft one for too long, it goes. */
  private enforceLimit(client: ClientSubscriptions): void {
    const { hardBytes, softBytes, softSeconds } = this.opts.outputLimit;
    const bytes = client.session.retainedBytes;
    let over: string | null = null;
    if (hardBytes > 0 && bytes >= hardBytes) over = 'hard';
    else if (softBytes > 0 && bytes >= softBytes) {
      const now = Date.now();
      if (client.overSoftSince === 0) client.overSoftSince = now;
      if (now - client.overSoftSince >= softSeconds * 1000) over = 'soft';
    } else {
      client.overSoftSince = 0;
    }
    if (over === null) return;
    const socket = client.session.socket;
    this.opts.log.warn(
      { client: client.session.id, addr: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`, retainedBytes: bytes, limit: over },
      'Pub/Sub client closed for overcoming of output buffer limits',
    );
    client.dropped = true;
    client.leaveAll();
    client.session.destroy();
  }
}

/** Whether KeyspaceFanIn must hear a topic too, and as what: patterns and channels that may name a keyspace notification's channel. */
function keyspaceKind(kind: TopicKind, name: Buffer): FanInKind | null {
  if (kind === PATTERN) return patternMayMatchKeyspace(name) ? PATTERN : null;
  if (kind === CHANNEL && isKeyspaceChannel(name)) return CHANNEL;
  return null;
}
