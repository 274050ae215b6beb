/**
 * ClusterEventLog: what happened to the cluster lately, in order — every node state change,
 * failover, shard recovery, slot migration, node added, removed or restarted, admin change —
 * kept in a bounded ring so that the status page (GET /api/v1/events) shows recent history
 * after a refresh, and told to subscribers as it happens.
 *
 * A leaf, like node-status.ts: the control plane records into it through the small
 * ClusterEventRecorder, the HTTP side reads it, and neither imports the other. One log per
 * proxy process: on a follower (--workers, --coordinator) it holds what that process did,
 * which is nothing of the control plane's until it leads.
 *
 * Every event is recorded synchronously where the change is made, so a state that lasts a
 * few milliseconds (a replica killed and restarted at once) is in the log like any other.
 */
import type { NodeHealth } from './node-status.js';
import type { RecoveryPhase } from './recovery-status.js';

/** automatic: the master failed; planned: FAILOVER (no acknowledged write lost); forced: FAILOVER FORCE of a master that is down. */
export type FailoverHow = 'automatic' | 'planned' | 'forced';

export type MigrationPhase = 'started' | 'resumed' | 'finished' | 'stopped' | 'failed';

/** What happened, by kind (the fields each kind carries). */
export type ClusterEventBody =
  | { kind: 'node-state'; node: string; address: string; from: NodeHealth; to: NodeHealth; why: string }
  | { kind: 'node-restarted'; node: string; address: string; moved: boolean }
  | { kind: 'node-added'; node: string; address: string; replicaOf?: string }
  | { kind: 'node-removing'; node: string }
  | { kind: 'node-removed'; node: string }
  | { kind: 'failover'; master: string; promoted: string; how: FailoverHow; ms: number }
  | { kind: 'recovery'; id: string; master: string; phase: RecoveryPhase | 'started' | 'done'; slots: number; keysRecovered: number; unrecoverable?: string }
  | { kind: 'migration'; id: string; reason: string; phase: MigrationPhase; slots: number; slotsDone: number; keysMoved: number; error?: string }
  | { kind: 'admin'; verb: string; outcome: 'done' | 'refused' | 'failed'; result: string };

export type ClusterEventKind = ClusterEventBody['kind'];

export const CLUSTER_EVENT_KINDS: readonly ClusterEventKind[] = [
  'node-state',
  'node-restarted',
  'node-added',
  'node-removing',
  'node-removed',
  'failover',
  'recovery',
  'migration',
  'admin',
];

export type EventSeverity = 'info' | 'warn' | 'error';

/** An event as recorded: its body, when, how bad, and one line a person reads. */
export type ClusterEvent = ClusterEventBody & {
  /** `<stream>:<seq>`: what a reader sends back (Last-Event-ID, ?since=) to get only later events. */
  id: string;
  /** Position in this log, from 1. */
  seq: number;
  /** ISO time, milliseconds included. */
  at: string;
  severity: EventSeverity;
  text: string;
};

/** What producers see of the log. */
export interface ClusterEventRecorder {
  record(event: ClusterEventBody): void;
}

/** A recorder that keeps nothing (parts built without a log: unit tests, tools). */
export const NO_EVENTS: ClusterEventRecorder = { record: () => {} };

/** Events kept by default: hours of ordinary life, minutes of a flapping node. */
export const DEFAULT_EVENT_CAPACITY = 1000;

export interface EventsSince {
  events: ClusterEvent[];
  /** False when events after the one asked for were dropped from the ring (or it is of another stream): the reader missed some. */
  complete: boolean;
}

export class ClusterEventLog implements ClusterEventRecorder {
  /**
   * Names this log among the logs of other processes and runs: an id from another one
   * (a page that outlived a proxy restart) means "send everything", not "after seq N".
   */
  readonly stream: string;
  private readonly ring: ClusterEvent[] = [];
  private seq = 0;
  private readonly listeners = new Set<(event: ClusterEvent) => void>();

  constructor(
    private readonly capacity = DEFAULT_EVENT_CAPACITY,
    private readonly onListenerError: (err: Error) => void = () => {},
  ) {
    this.stream = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36).padStart(3, '0')}`;
  }

  record(body: ClusterEventBody): void {
    const seq = ++this.seq;
    const event: ClusterEvent = { ...body, id: `${this.stream}:${seq}`, seq, at: new Date().toISOString(), severity: severityOf(body), text: describeEvent(body) };
    this.ring.push(event);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err as Error);
      }
    }
  }

  /**
   * The events after `id` (an event id of this log), oldest first; all that are kept for
   * undefined, or for an id of another stream (another process or run) or of no stream.
   */
  since(id: string | undefined): EventsSince {
    const after = id === undefined || id === '' ? 0 : this.seqOf(id);
    const oldest = this.ring[0]?.seq ?? this.seq + 1;
    const from = after ?? 0;
    // Complete when the next event after the one asked for (or the very first) is still kept.
    return { events: this.ring.filter((e) => e.seq > from), complete: after !== undefined && from + 1 >= oldest };
  }

  /** Be told of every event from now on; returns the unsubscribe function. */
  subscribe(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The seq an id of this log names; undefined for another stream's, or one not of this form. */
  private seqOf(id: string): number | undefined {
    const colon = id.lastIndexOf(':');
    if (colon <= 0 || id.slice(0, colon) !== this.stream) return undefined;
    const seq = Number(id.slice(colon + 1));
    return Number.isSafeInteger(seq) && seq >= 0 && seq <= this.seq ? seq : undefined;
  }
}

/** How bad it is: what needs a person's eyes is error, what the proxy is handling warn. */
export function severityOf(e: ClusterEventBody): EventSeverity {
  switch (e.kind) {
    case 'node-state':
      if (e.to === 'failed' || e.to === 'stopped' || e.to === 'useless') return 'error';
      return e.to === 'up' || e.to === 'recovering' ? 'info' : 'warn';
    case 'failover':
      return e.how === 'planned' ? 'info' : 'warn';
    case 'recovery':
      return e.unrecoverable !== undefined || e.phase === 'started' ? 'error' : 'warn';
    case 'migration':
      return e.phase === 'failed' ? 'error' : 'info';
    case 'admin':
      return e.outcome === 'failed' ? 'error' : e.outcome === 'refused' ? 'warn' : 'info';
    case 'node-restarted':
      return 'warn';
    default:
      return 'info';
  }
}

/** One line for a person (the status page's timeline, the API's `text`). */
export function describeEvent(e: ClusterEventBody): string {
  switch (e.kind) {
    case 'node-state':
      return `${e.node} ${e.from} → ${e.to}: ${e.why}`;
    case 'node-restarted':
      return `${e.node} restarted at ${e.address}${e.moved ? ' (on new ports)' : ''}`;
    case 'node-added':
      return `${e.node} added at ${e.address} as ${e.replicaOf === undefined ? 'a master' : `a replica of ${e.replicaOf}`}`;
    case 'node-removing':
      return `${e.node} is being removed`;
    case 'node-removed':
      return `${e.node} removed`;
    case 'failover':
      if (e.how === 'planned') return `planned failover: ${e.promoted} took over from ${e.master} in ${e.ms} ms`;
      return `${e.master} failed over to ${e.promoted} in ${e.ms} ms${e.how === 'forced' ? ' (FAILOVER FORCE)' : ''}`;
    case 'recovery':
      if (e.phase === 'started') return `shard ${e.master} lost (master and replicas down): recovering its ${e.slots} slots onto the other masters`;
      if (e.phase === 'done') {
        return `shard ${e.master} recovered: ${e.keysRecovered} keys restored${e.unrecoverable === undefined ? '' : `; keys UNRECOVERABLE: ${e.unrecoverable}`}`;
      }
      return `recovery of shard ${e.master}: ${e.phase}`;
    case 'migration':
      return describeMigration(e);
    case 'admin':
      return `${e.verb}${e.outcome === 'done' ? '' : ` ${e.outcome}`}: ${e.result}`;
  }
}

function describeMigration(e: Extract<ClusterEventBody, { kind: 'migration' }>): string {
  switch (e.phase) {
    case 'started':
    case 'resumed':
      return `slot migration ${e.phase} (${e.reason}): ${e.slots - e.slotsDone} slots to move`;
    case 'finished':
      return `slot migration finished (${e.reason}): ${e.slotsDone} slots, ${e.keysMoved} keys moved`;
    case 'stopped':
      return `slot migration stopped at ${e.slotsDone}/${e.slots} slots; resumed on the next start`;
    case 'failed':
      return `slot migration failed at ${e.slotsDone}/${e.slots} slots: ${e.error ?? 'unknown error'}`;
  }
}
