/**
 * ReplicaLag: how far each replica is behind its master, for replica reads
 * (docs/replica-reads.md).
 *
 * Every POLL_INTERVAL_MS one poll per master: `INFO replication` on the master (its
 * `master_repl_offset`), then, once it answered, on each of its replicas (their
 * `slave_repl_offset` and `master_link_status`). The replicas are asked after the master
 * answered, so a replica's offset is never older than the master's it is compared with.
 * The master's own INFO lists its replicas' offsets too, but those are what each replica
 * last acknowledged (REPLCONF ACK, once a second): a replica's own is current.
 *
 * From a poll, per replica:
 *   - lag in bytes: the master's latest offset minus the replica's last known one;
 *   - lag in ms: how long ago the master went past the replica's last known offset, from
 *     the master's recent samples (0 when the replica has all the master had). Both are
 *     worked out again at every tick from the master's latest sample, so a replica that
 *     stops answering while its master takes writes falls behind by the clock;
 *   - caughtUpEpoch: the poll's epoch when the replica's offset was at least the master's
 *     of the same poll. Polls are numbered by the tick that sent them (`epoch`): a write
 *     acknowledged during epoch E is on a replica whose caughtUpEpoch is > E, since that
 *     poll's master INFO ran after the write (read your writes, replica-reads.ts).
 *
 * A replica is `usable` when its link to the master is up, the slot map does not call it
 * failing, it answered a poll within SILENT_MS, and its lag is within the bound: worked out
 * once per tick, so a read only reads a field. A replica that stops answering (SIGSTOP, a
 * lost connection) is unusable within SILENT_MS whatever its last lag was.
 */
import type { BackendPool } from '../../backend/pool.js';
import { encodeCommand } from '../../resp/encode.js';
import { bulkText } from '../../resp/reply-value.js';

export const READ_FROM_MODES = ['master', 'prefer-replica', 'replica', 'any'] as const;
/** --read-from. */
export type ReadFrom = (typeof READ_FROM_MODES)[number];

/** --max-replica-lag: a time (ms) or a length of replication stream (bytes). */
export interface ReplicaLagBound {
  unit: 'ms' | 'bytes';
  limit: number;
}

/** Parse --max-replica-lag: 500ms, 1s, 2.5s (a time) or 64kb, 1mb, 1000b (bytes). */
export function parseReplicaLag(text: string): ReplicaLagBound {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|b|kb|mb|gb)\s*$/i.exec(text);
  if (m === null) throw new Error(`--max-replica-lag must be a time (500ms, 1s) or a size (64kb, 1mb), not '${text}'`);
  const n = Number(m[1]);
  const unit = m[2].toLowerCase();
  if (unit === 'ms') return { unit: 'ms', limit: n };
  if (unit === 's') return { unit: 'ms', limit: n * 1000 };
  const mult: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return { unit: 'bytes', limit: n * mult[unit] };
}

const INFO_REPLICATION = encodeCommand(['INFO', 'replication']);
export const POLL_INTERVAL_MS = 100;
/** A replica that answered no poll for this long is not used, whatever its last lag. */
const SILENT_MS = 1000;
/** Master offsets kept for the lag in ms: 64 polls, 6.4 s; a replica further behind has an unknown (infinite) lag. */
const SAMPLES = 64;

/** One replica as the monitor knows it; updated in place, read on every replica read. */
export class ReplicaState {
  /** May serve reads now (see the module comment). */
  usable = false;
  /** The slot map calls it failing. */
  failing = false;
  linkUp = false;
  offset = -1;
  lagBytes = Number.POSITIVE_INFINITY;
  lagMs = Number.POSITIVE_INFINITY;
  /** The last poll epoch whose master offset it had reached (0: none yet). */
  caughtUpEpoch = 0;
  lastAnswerAt = 0;
  polling = false;

  constructor(
    readonly address: string,
    /** Its pool: READONLY connections for reads, and the control connection the polls go on. */
    readonly pool: BackendPool,
  ) {}
}

/** One master's polls: its pool, its replicas, its recent offsets. */
export class MasterLag {
  polling = false;
  /** Ring of (time, master_repl_offset) samples; `count` filled, newest at `head - 1`. */
  private readonly times = new Float64Array(SAMPLES);
  private readonly offsets = new Float64Array(SAMPLES);
  private head = 0;
  private count = 0;

  /** Kept across slot maps (its samples with it); the pool and replicas are the latest map's. */
  constructor(
    public pool: BackendPool,
    public replicas: readonly ReplicaState[],
  ) {}

  sample(at: number, offset: number): void {
    this.times[this.head] = at;
    this.offsets[this.head] = offset;
    this.head = (this.head + 1) % SAMPLES;
    if (this.count < SAMPLES) this.count++;
  }

  /** The master's offset at the latest sample (-1: none yet). */
  get latest(): number {
    return this.count === 0 ? -1 : this.offsets[(this.head - 1 + SAMPLES) % SAMPLES];
  }

  /**
   * How long before `now` the master was last at or below `offset`: 0 when it still is;
   * Infinity beyond the samples. The sample after that one is when the master went past it.
   */
  lagMsAt(offset: number, now: number): number {
    for (let k = 1; k <= this.count; k++) {
      const i = (this.head - k + SAMPLES) % SAMPLES;
      if (this.offsets[i] <= offset) return k === 1 ? 0 : Math.max(0, now - this.times[(i + 1) % SAMPLES]);
    }
    return Number.POSITIVE_INFINITY;
  }
}

/** A field of an INFO reply as a number (NaN when absent). */
function infoNumber(text: string, field: string): number {
  const at = text.indexOf(`\r\n${field}:`);
  if (at === -1) return Number.NaN;
  const from = at + field.length + 3;
  return Number(text.slice(from, text.indexOf('\r\n', from)));
}

function infoField(text: string, field: string): string {
  const at = text.indexOf(`\r\n${field}:`);
  if (at === -1) return '';
  const from = at + field.length + 3;
  return text.slice(from, text.indexOf('\r\n', from));
}

export class ReplicaLag {
  /** The number of the latest tick: the epoch of the polls it sent. */
  epoch = 0;
  /** The lowest caughtUpEpoch among every replica of every master (a client-wide write is on all of them past it). */
  minCaughtUpEpoch = 0;
  private masters: readonly MasterLag[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly bound: ReplicaLagBound) {}

  /** The masters to poll from now on (a new slot map). */
  track(masters: readonly MasterLag[]): void {
    this.masters = masters;
    this.timer ??= setInterval(() => this.tick(), POLL_INTERVAL_MS);
    this.timer.unref();
  }

  private tick(): void {
    const now = Date.now();
    this.epoch++;
    let min = Number.POSITIVE_INFINITY;
    for (const m of this.masters) {
      for (const r of m.replicas) {
        r.usable = this.judge(m, r, now);
        if (r.caughtUpEpoch < min) min = r.caughtUpEpoch;
      }
      if (!m.polling && m.replicas.length > 0) this.poll(m, this.epoch);
    }
    this.minCaughtUpEpoch = min === Number.POSITIVE_INFINITY ? 0 : min;
  }

  /** Whether a replica may serve reads now; updates its lag from the master's latest sample. */
  private judge(m: MasterLag, r: ReplicaState, now: number): boolean {
    if (r.offset >= 0 && m.latest >= 0) {
      r.lagBytes = Math.max(0, m.latest - r.offset);
      r.lagMs = m.lagMsAt(r.offset, now);
    }
    if (r.failing || !r.linkUp || now - r.lastAnswerAt > SILENT_MS) return false;
    return this.bound.unit === 'ms' ? r.lagMs <= this.bound.limit : r.lagBytes <= this.bound.limit;
  }

  private poll(m: MasterLag, epoch: number): void {
    m.polling = true;
    m.pool.controlConnection().send(INFO_REPLICATION, {
      deliver: (reply: Buffer): void => {
        m.polling = false;
        if (reply[0] !== 0x24 /* '$' */) return; // an error, the connection lost: no sample
        const masterOffset = infoNumber(bulkText(reply), 'master_repl_offset');
        if (Number.isNaN(masterOffset)) return;
        m.sample(Date.now(), masterOffset);
        for (const r of m.replicas) if (!r.polling) this.pollReplica(m, r, epoch, masterOffset);
      },
    });
  }

  private pollReplica(m: MasterLag, r: ReplicaState, epoch: number, masterOffset: number): void {
    r.polling = true;
    r.pool.controlConnection().send(INFO_REPLICATION, {
      deliver: (reply: Buffer): void => {
        r.polling = false;
        if (reply[0] !== 0x24 /* '$' */) {
          r.linkUp = false;
          r.usable = false;
          return;
        }
        const text = bulkText(reply);
        const now = Date.now();
        r.lastAnswerAt = now;
        r.linkUp = infoField(text, 'role') === 'slave' && infoField(text, 'master_link_status') === 'up';
        const offset = infoNumber(text, 'slave_repl_offset');
        if (!r.linkUp || Number.isNaN(offset)) {
          r.usable = false;
          return;
        }
        r.offset = offset;
        if (offset >= masterOffset && epoch > r.caughtUpEpoch) r.caughtUpEpoch = epoch;
        if (!this.judge(m, r, now)) r.usable = false;
      },
    });
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.masters = [];
  }
}
