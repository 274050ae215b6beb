/**
 * KeyspaceFanIn: keyspace notifications (`__keyspace@<db>__:<key>`, `__keyevent@<db>__:<event>`)
 * of every master, for the Pub/Sub hub's patterns and keyspace channels.
 *
 * A Redis Cluster node publishes its keyspace notifications to its own subscribers only: unlike
 * PUBLISH, they are not sent over the cluster bus. The hub's one classic connection therefore
 * hears one master's events. The fan-in keeps one subscriber connection per serving master,
 * subscribes there every pattern and every keyspace channel clients want, and passes on from
 * them keyspace notifications only; the hub passes on everything else from its classic
 * connection and drops the keyspace notifications it hears there, so each reaches a client
 * once. (A client's own PUBLISH to a `__keyspace@...` channel reaches a subscriber once per
 * master: Redis cannot tell it from a notification either.)
 *
 * A client's (P)SUBSCRIBE is confirmed once every master confirmed it here too (whenReady), so
 * an event caused after the confirmation reaches it. A lost connection is made again after a
 * pause; events meanwhile are lost, as messages are when no node connection listens.
 */
import type { Logger } from '../../log.js';
import type { Runtime } from '../../net/runtime.js';
import { SubscriberConnection, type SubscriberOwner } from '../../backend/subscriber-connection.js';
import { arrayElements, bulkBody, bulkText } from '../../resp/reply-value.js';

/** Channels, patterns: the hub's TopicKind values this covers. */
export type FanInKind = 0 | 1;
const SUBSCRIBE = ['subscribe', 'psubscribe'] as const;
const UNSUBSCRIBE = ['unsubscribe', 'punsubscribe'] as const;
/** Pause before connecting again after a loss; doubles per loss up to RECONNECT_CAP_MS, reset by a confirmation. */
const RECONNECT_MS = 250;
const RECONNECT_CAP_MS = 5000;

/** Whether a channel name is one Redis publishes keyspace notifications on. */
export function isKeyspaceChannel(channel: Buffer): boolean {
  if (channel.length <= 11 || channel[0] !== 0x5f /* _ */ || channel[1] !== 0x5f) return false;
  const word = channel.toString('latin1', 2, 11);
  return word === 'keyspace@' || word === 'keyevent@';
}

const KEYSPACE_PREFIXES = ['__keyspace@', '__keyevent@'];

/**
 * Whether a glob pattern may match a keyspace notification's channel: its literal start
 * (up to its first `*`, `?`, `[` or `\\`) agrees with `__keyspace@` or `__keyevent@`. Only
 * those patterns are heard from every master: any other would bring each message published
 * in the cluster once per master, to be dropped.
 */
export function patternMayMatchKeyspace(pattern: Buffer): boolean {
  let end = 0;
  while (end < pattern.length && pattern[end] !== 0x2a && pattern[end] !== 0x3f && pattern[end] !== 0x5b && pattern[end] !== 0x5c) end++;
  const literal = pattern.toString('latin1', 0, end);
  return KEYSPACE_PREFIXES.some((p) => p.startsWith(literal) || literal.startsWith(p));
}

export interface KeyspaceTarget {
  /** A keyspace notification for the hub's topic `key` of `kind` (the node's frame, RESP2). */
  deliverKeyspace(kind: FanInKind, key: string, frame: Buffer): void;
}

export interface FanInOptions {
  password: string;
  connectTimeoutMs: number;
  silenceLimitMs: number;
  log: Logger;
  /** The proxy's fault reporter and dial routes. */
  runtime: Runtime;
  /** host:port of the masters serving slots now. */
  servingMasters(): { host: string; port: number }[];
}

/** One master's connection: what was sent and not yet answered, in order. */
class FanInLink {
  /** Topic ids (kind + key) of subscribes sent, or null for an unsubscribe: a few at a time. */
  readonly sent: (string | null)[] = [];
  constructor(readonly conn: SubscriberConnection) {}
  pending(id: string): boolean {
    return this.sent.includes(id);
  }
}

export class KeyspaceFanIn implements SubscriberOwner {
  /** Topic id → its kind and name: what every link subscribes. */
  private readonly topics = new Map<string, { kind: FanInKind; key: string; name: Buffer }>();
  private readonly links = new Map<string, FanInLink>();
  private readonly byConn = new Map<SubscriberConnection, FanInLink>();
  /** Confirmations waiting for every link to confirm a topic. */
  private waiters = new Map<string, (() => void)[]>();
  private reconnect: NodeJS.Timeout | null = null;
  /** Losses since a link last confirmed something (the pause, and one log line per outage). */
  private losses = 0;
  private closed = false;

  constructor(
    private readonly target: KeyspaceTarget,
    private readonly opts: FanInOptions,
  ) {}

  /** Subscribe a topic on every master (the hub's first subscriber of it). */
  add(kind: FanInKind, key: string, name: Buffer): void {
    const id = topicId(kind, key);
    if (this.topics.has(id)) return;
    this.topics.set(id, { kind, key, name });
    if (this.links.size === 0) this.reconcile();
    for (const link of this.links.values()) subscribeOn(link, id, kind, name);
  }

  /** The topic's last subscriber left. */
  remove(kind: FanInKind, key: string): void {
    const id = topicId(kind, key);
    const t = this.topics.get(id);
    if (t === undefined) return;
    this.topics.delete(id);
    for (const link of this.links.values()) {
      link.sent.push(null);
      link.conn.send([UNSUBSCRIBE[kind], t.name]);
    }
    this.release(id);
    if (this.topics.size === 0) this.closeLinks();
  }

  /** Call `ready` once every master confirmed the topic (at once when none is pending). */
  whenReady(kind: FanInKind, key: string, ready: () => void): void {
    const id = topicId(kind, key);
    if (![...this.links.values()].some((l) => l.pending(id))) return ready();
    const list = this.waiters.get(id);
    if (list === undefined) this.waiters.set(id, [ready]);
    else list.push(ready);
  }

  /**
   * Links to exactly the serving masters: new ones subscribe every topic, those to a node
   * that serves no slots any more go. Called on a new slot map and after a loss.
   */
  reconcile(): void {
    if (this.closed || this.topics.size === 0) return;
    const want = new Map(this.opts.servingMasters().map((m) => [`${m.host}:${m.port}`, m]));
    for (const [address, link] of [...this.links]) {
      if (want.has(address)) continue;
      link.conn.close();
      this.dropLink(link);
    }
    for (const [address, m] of want) {
      if (this.links.has(address)) continue;
      const conn = new SubscriberConnection({ id: address, host: m.host, port: m.port, password: this.opts.password }, this, {
        connectTimeoutMs: this.opts.connectTimeoutMs,
        silenceLimitMs: this.opts.silenceLimitMs,
        log: this.opts.log,
        runtime: this.opts.runtime,
      });
      const link = new FanInLink(conn);
      this.links.set(address, link);
      this.byConn.set(conn, link);
      for (const [id, t] of this.topics) subscribeOn(link, id, t.kind, t.name);
    }
  }

  close(): void {
    this.closed = true;
    if (this.reconnect !== null) clearTimeout(this.reconnect);
    this.closeLinks();
    this.topics.clear();
  }

  onFrame(conn: SubscriberConnection, frame: Buffer): void {
    const link = this.byConn.get(conn);
    if (link === undefined) return;
    if (frame[0] === 0x2d /* '-' */) {
      // A (P)SUBSCRIBE the node refused (BUSY, LOADING): not in effect, so this link is made
      // again, with every topic, as after a lost connection.
      link.conn.close();
      this.onLost(conn, `subscription refused: ${frame.toString('latin1', 1, Math.min(frame.length - 2, 200))}`);
      return;
    }
    const parts = arrayElements(frame);
    if (parts === null || parts.length < 3) return; // PING's reply
    const what = bulkText(parts[0]);
    if (what === 'message' || what === 'pmessage') {
      const channel = bulkBody(parts[what === 'message' ? 1 : 2]);
      if (!isKeyspaceChannel(channel)) return; // the hub's classic connection passes those on
      const kind: FanInKind = what === 'message' ? 0 : 1;
      const key = bulkText(parts[1]);
      if (this.topics.has(topicId(kind, key))) this.target.deliverKeyspace(kind, key, frame);
      return;
    }
    const id = link.sent.shift();
    this.losses = 0;
    if (id != null) this.checkReady(id);
  }

  onLost(conn: SubscriberConnection, why: string): void {
    const link = this.byConn.get(conn);
    if (link === undefined) return;
    // A node's outage has its own line (runtime.outages): this one only for a loss that is not part of one.
    if (this.losses === 0 && !this.opts.runtime.outages.isDown(conn.endpoint)) this.opts.log.warn({ node: conn.endpoint.id, err: why }, 'keyspace notification connection to a node lost: connecting again');
    this.dropLink(link);
    if (this.reconnect === null && !this.closed) {
      const delay = Math.min(RECONNECT_CAP_MS, RECONNECT_MS * 2 ** Math.min(this.losses++, 10));
      this.reconnect = setTimeout(() => {
        this.reconnect = null;
        this.reconcile();
      }, delay).unref();
    }
  }

  private dropLink(link: FanInLink): void {
    this.links.delete(link.conn.address);
    this.byConn.delete(link.conn);
    for (const id of [...this.waiters.keys()]) this.checkReady(id);
  }

  private closeLinks(): void {
    for (const link of this.links.values()) link.conn.close();
    this.links.clear();
    this.byConn.clear();
    for (const id of [...this.waiters.keys()]) this.release(id);
  }

  private checkReady(id: string): void {
    if (!this.waiters.has(id)) return;
    for (const link of this.links.values()) if (link.pending(id)) return;
    this.release(id);
  }

  private release(id: string): void {
    const list = this.waiters.get(id);
    this.waiters.delete(id);
    for (const ready of list ?? []) ready();
  }
}

function topicId(kind: FanInKind, key: string): string {
  return `${kind}:${key}`;
}

function subscribeOn(link: FanInLink, id: string, kind: FanInKind, name: Buffer): void {
  link.sent.push(id);
  link.conn.send([SUBSCRIBE[kind], name]);
}
