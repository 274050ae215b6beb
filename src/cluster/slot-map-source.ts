/**
 * SlotMapSource: reads the cluster's slot map from the nodes themselves and hands each new
 * one to the router. Refreshes periodically, and soon after anyone asks (a MOVED, a lost
 * backend connection, a CLUSTERDOWN) — at most one query round at a time, the asks in
 * between coalesced into one more round.
 *
 * A round sends CLUSTER NODES to every master of the current map and every seed, over
 * small connections of its own (never behind user traffic), and merges the answers by
 * config epoch (SlotMap.fromViews). Nothing here is held only in this process: any number
 * of proxies reading the same nodes route the same way.
 */
import type { Logger } from '../log.js';
import { encodeCommand } from '../resp/encode.js';
import { decodeReply } from '../resp/reply-value.js';
import { replyError } from '../nodes/node-client.js';
import type { ControlClients, NodeAddress, NodeClient } from '../nodes/control-client.js';
import { parseClusterNodes, type ClusterNodeLine } from '../nodes/cluster-nodes.js';
import { addressKey, SlotMap } from './slot-map.js';

export interface SlotMapSourceOptions {
  /** Where to ask besides the current masters: the nodes the proxy runs, or the static seeds. */
  seeds: () => NodeAddress[];
  /** The nodes' password and the proxy's routes. */
  clients: ControlClients;
  log: Logger;
  /** Gets every new map. */
  onMap: (map: SlotMap) => void;
  /** Periodic refresh; 0 disables. */
  intervalMs: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

const CLUSTER_NODES = encodeCommand(['CLUSTER', 'NODES']);
/** Asks closer together than this share one round. */
const MIN_GAP_MS = 50;
/**
 * Once one node has answered, a round waits at most this long for the others: a node that
 * keeps its connection but answers nothing (stopped, hung) must not delay the map that a
 * failover is waiting for. Its late answer is simply not used.
 */
const VIEW_GRACE_MS = 300;

export class SlotMapSource {
  private readonly conns = new Map<string, NodeClient>();
  private current: SlotMap | undefined;
  private running: Promise<SlotMap> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private lastRoundAt = 0;
  private closed = false;

  constructor(private readonly opts: SlotMapSourceOptions) {}

  get map(): SlotMap | undefined {
    return this.current;
  }

  /** One round now (or join the running one); rejects when no node gave a usable view. */
  refresh(): Promise<SlotMap> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
      this.lastRoundAt = Date.now();
      if (this.again && !this.closed) {
        this.again = false;
        this.requestRefresh();
      }
    });
    return this.running;
  }

  /** Ask for a refresh soon; never throws (a failed round is logged, the old map stays). */
  requestRefresh(): void {
    if (this.closed) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    const wait = Math.max(0, this.lastRoundAt + MIN_GAP_MS - Date.now());
    const run = () => {
      this.refresh().catch((err: Error) => this.opts.log.warn({ err: err.message }, 'slot map refresh failed; keeping the current map'));
    };
    if (wait === 0) run();
    else setTimeout(run, wait).unref();
  }

  start(): void {
    if (this.opts.intervalMs <= 0 || this.timer !== null) return;
    this.timer = setInterval(() => this.requestRefresh(), this.opts.intervalMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }

  private async round(): Promise<SlotMap> {
    const targets = new Map<string, NodeAddress>();
    for (const m of this.current?.masters ?? []) if (m.host !== '') targets.set(m.address, m);
    for (const s of this.opts.seeds()) targets.set(addressKey(s.host, s.port), s);
    const answers = await withGrace([...targets].map(([key, addr]) => this.viewOf(key, addr)), VIEW_GRACE_MS);
    const views: ClusterNodeLine[][] = [];
    const problems: string[] = [];
    for (const a of answers) {
      if (Array.isArray(a)) views.push(a);
      else problems.push(a);
    }
    // Connections to nodes that are neither masters nor seeds any more are dropped after
    // the new map is known (below), so a removed node does not keep a socket forever.
    if (views.length === 0) throw new Error(`no node answered CLUSTER NODES: ${problems.join('; ')}`);
    const map = SlotMap.fromViews(views);
    if (this.closed) return map;
    const previous = this.current;
    this.current = map;
    if (previous === undefined || changed(previous, map)) {
      this.opts.log.info({ masters: map.masters.map((m) => `${m.address}${m.failing ? ' (failing)' : ''}`), epoch: map.epoch }, 'slot map updated');
    }
    this.opts.onMap(map);
    const keep = new Set([...map.masters.map((m) => m.address), ...this.opts.seeds().map((s) => addressKey(s.host, s.port))]);
    for (const [key, conn] of this.conns) {
      if (!keep.has(key)) {
        conn.close();
        this.conns.delete(key);
      }
    }
    return map;
  }

  /** One node's CLUSTER NODES, or why not. */
  private viewOf(key: string, addr: NodeAddress): Promise<ClusterNodeLine[] | string> {
    let conn = this.conns.get(key);
    if (conn === undefined) {
      conn = this.opts.clients.channel(addr, {
        id: `control ${key}`,
        timeoutMs: this.opts.connectTimeoutMs,
        commandTimeoutMs: this.opts.commandTimeoutMs,
        log: this.opts.log,
      });
      this.conns.set(key, conn);
    }
    return conn.send(CLUSTER_NODES).then((reply) => {
      const message = replyError(reply);
      if (message !== undefined) return /cluster support disabled/i.test(message) ? `${key} is not a Redis Cluster node (${message})` : `${key}: ${message}`;
      const text = decodeReply(reply);
      if (!Buffer.isBuffer(text)) return `${key}: unexpected CLUSTER NODES reply`;
      try {
        const lines = parseClusterNodes(text.toString('latin1'));
        // A node that has never met another does not know its own address (":port" in
        // its own line, e.g. a one-master cluster): it is where we just reached it.
        for (const line of lines) if (line.flags.has('myself') && line.host === '') line.host = addr.host;
        return lines;
      } catch (err) {
        return `${key}: ${(err as Error).message}`;
      }
    });
  }
}

/**
 * Every answer, but no later than `graceMs` after the first view came in; those still
 * missing then are reported as such.
 */
function withGrace(pending: Promise<ClusterNodeLine[] | string>[], graceMs: number): Promise<(ClusterNodeLine[] | string)[]> {
  return new Promise((resolve) => {
    const answers: (ClusterNodeLine[] | string | undefined)[] = new Array(pending.length);
    let left = pending.length;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      resolve(answers.map((a) => a ?? `no answer within ${graceMs} ms of the first node's`));
    };
    if (left === 0) return finish();
    pending.forEach((p, i) =>
      void p.then((a) => {
        if (answers[i] !== undefined || left === 0) return;
        answers[i] = a;
        if (--left === 0) return finish();
        if (Array.isArray(a) && timer === undefined) {
          timer = setTimeout(() => {
            left = 0;
            finish();
          }, graceMs);
          timer.unref();
        }
      }),
    );
  });
}

function changed(a: SlotMap, b: SlotMap): boolean {
  if (a.masters.length !== b.masters.length) return true;
  for (let i = 0; i < a.masters.length; i++) {
    if (a.masters[i].address !== b.masters[i].address || a.masters[i].failing !== b.masters[i].failing) return true;
  }
  for (let s = 0; s < a.slotToMaster.length; s++) if (a.slotToMaster[s] !== b.slotToMaster[s]) return true;
  return false;
}
