/**
 * WriteLedger: a steady write load through the proxy that remembers every acknowledged
 * write, so a chaos test can say afterwards exactly what was lost.
 *
 * `clients` connections, each with `lanes` loops sending one request at a time (so each
 * connection has up to `lanes` requests in flight): SET of a key never written before
 * (keys spread over all slots), and every `counterEvery`-th request an INCR of the lane's
 * own counter. The clients are ioredis with no retries and no offline queue: a client that
 * retried on its own would hide the errors we want to count. A dropped connection is
 * opened again by the ledger (the proxy may be the thing that was killed).
 *
 * Recorded: every acknowledged write (key, value, slot, when), every error (when, what),
 * and how long each request waited; a request unanswered for longer than `hangMs` is a
 * hang. `verify()` reads every acknowledged key back through the proxy.
 *
 * Lost INCRs are found two ways: a counter read back below an acknowledged result, and a
 * counter whose acknowledged results went down during the run (increments acknowledged by
 * a master that died before its replica had them; the promoted replica counts again from
 * an older value).
 */
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { keySlot } from '../../src/cluster/key-slot.js';
import { sleep } from '../../src/nodes/wait.js';

export interface WriteLedgerOptions {
  port: number;
  /** Keys are `<prefix>:<client>.<lane>:<seq>`, counters `<prefix>:ctr:<client>.<lane>`; one prefix per ledger. */
  prefix: string;
  /** A request that waits longer than this (ms) is a hang. */
  hangMs: number;
  /** Connections (default 4). */
  clients?: number;
  /** Loops per connection, i.e. requests in flight per connection (default 4). */
  lanes?: number;
  /** Every n-th request of a lane is an INCR of its counter (default 4; 0: SET only). */
  counterEvery?: number;
  /** Pause between requests of a lane, ms (default 0: as fast as the proxy answers). */
  pauseMs?: number;
}

/** One acknowledged write. */
export interface AckedWrite {
  kind: 'set' | 'incr';
  key: string;
  /** The value SET, or the INCR's result. */
  value: string;
  slot: number;
  /** performance.now() when the request was sent and when its OK arrived. */
  sentAt: number;
  ackedAt: number;
}

export interface LedgerError {
  /** performance.now() when the error arrived. */
  at: number;
  /** 'SET key', 'INCR key' or 'connect'. */
  what: string;
  message: string;
}

/** A request that waited longer than `hangMs` (answered late, failed late, or timed out). */
export interface Hang {
  what: string;
  sentAt: number;
  waitedMs: number;
  outcome: string;
}

export interface LostWrite {
  write: AckedWrite;
  /** What was read back (null: the key is missing), or why the INCR counts as lost. */
  found: string | null;
}

export interface LedgerReport {
  /** Requests sent. */
  requests: number;
  /** Writes acknowledged (SET + INCR). */
  acked: number;
  /** Acknowledged writes missing afterwards. */
  lost: LostWrite[];
  /** Acknowledged SETs read back with another value: never acceptable. */
  wrongValue: LostWrite[];
  errors: LedgerError[];
  hangs: Hang[];
  maxLatencyMs: number;
}

const VERIFY_BATCH = 200;
const VERIFY_DEADLINE_MS = 20_000;
const RECONNECT_PAUSE_MS = 100;

/** An ioredis client on which every error is visible: no retries, no offline queue, no reconnect. */
export async function strictClient(port: number, commandTimeoutMs: number): Promise<Redis> {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: false,
    commandTimeout: commandTimeoutMs,
    retryStrategy: () => null,
  });
  c.on('error', () => {}); // every failure also rejects the command or connect that met it: recorded there
  try {
    await c.connect();
  } catch (err) {
    c.disconnect();
    throw err;
  }
  return c;
}

/** One client's connection: being opened, then open (`client`). */
interface Connection {
  opening: Promise<Redis | undefined>;
  client?: Redis;
}

export class WriteLedger {
  readonly writes: AckedWrite[] = [];
  readonly errors: LedgerError[] = [];
  readonly hangs: Hang[] = [];
  maxLatencyMs = 0;
  requests = 0;

  private readonly o: Required<WriteLedgerOptions>;
  private running = false;
  private readonly loops: Promise<void>[] = [];
  /** Per client index: its connection (being opened, or open). */
  private readonly conns: (Connection | undefined)[] = [];

  constructor(options: WriteLedgerOptions) {
    this.o = { clients: 4, lanes: 4, counterEvery: 4, pauseMs: 0, ...options };
  }

  /** The clock every time in the ledger is on. */
  static now(): number {
    return performance.now();
  }

  start(): this {
    if (this.running) throw new Error('the ledger is already running');
    this.running = true;
    for (let ci = 0; ci < this.o.clients; ci++) {
      for (let lane = 0; lane < this.o.lanes; lane++) this.loops.push(this.lane(ci, lane));
    }
    return this;
  }

  /** Stop sending; resolves once every request sent has been answered (or timed out). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops.splice(0));
    const conns = await Promise.all(this.conns.splice(0).map((e) => e?.opening));
    for (const c of conns) c?.disconnect();
  }

  /** Writes acknowledged in [from, to] (performance.now() times). */
  ackedBetween(from: number, to: number): AckedWrite[] {
    return this.writes.filter((w) => w.ackedAt >= from && w.ackedAt <= to);
  }

  /**
   * Read every acknowledged key back through the proxy (MGET in batches; the proxy splits
   * them by slot). A batch that fails is retried until VERIFY_DEADLINE_MS; then this throws:
   * a proxy that cannot serve the reads is a failure of its own, not a number of lost keys.
   */
  async verify(): Promise<LedgerReport> {
    if (this.running) throw new Error('stop() the ledger before verify()');
    const sets = new Map<string, AckedWrite>();
    const counters = new Map<string, AckedWrite[]>();
    for (const w of this.writes) {
      if (w.kind === 'set') sets.set(w.key, w);
      else {
        const acked = counters.get(w.key);
        if (acked === undefined) counters.set(w.key, [w]);
        else acked.push(w);
      }
    }
    const keys = [...sets.keys(), ...counters.keys()];
    const values = await readAll(this.o.port, keys);
    const lost: LostWrite[] = [];
    const wrongValue: LostWrite[] = [];
    for (const [key, w] of sets) {
      const found = values.get(key) ?? null;
      if (found === null) lost.push({ write: w, found });
      else if (found !== w.value) wrongValue.push({ write: w, found });
    }
    for (const [key, acked] of counters) lost.push(...lostIncrements(acked, values.get(key) ?? null));
    return {
      requests: this.requests,
      acked: this.writes.length,
      lost,
      wrongValue,
      errors: [...this.errors],
      hangs: [...this.hangs],
      maxLatencyMs: this.maxLatencyMs,
    };
  }

  private async lane(ci: number, lane: number): Promise<void> {
    const name = `${ci}.${lane}`;
    const counter = `${this.o.prefix}:ctr:${name}`;
    for (let seq = 0; this.running; seq++) {
      const c = await this.connection(ci);
      if (c === undefined) {
        await sleep(RECONNECT_PAUSE_MS);
        continue;
      }
      const incr = this.o.counterEvery > 0 && seq % this.o.counterEvery === this.o.counterEvery - 1;
      const key = incr ? counter : `${this.o.prefix}:${name}:${seq}`;
      const value = incr ? '' : `v${seq}-${Math.random().toString(36).slice(2, 10)}`;
      const what = `${incr ? 'INCR' : 'SET'} ${key}`;
      const sentAt = WriteLedger.now();
      this.requests++;
      let outcome: string;
      try {
        const reply = incr ? String(await c.incr(key)) : await c.set(key, value);
        const ackedAt = WriteLedger.now();
        if (!incr && reply !== 'OK') throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
        const w: AckedWrite = { kind: incr ? 'incr' : 'set', key, value: incr ? reply : value, slot: keySlot(Buffer.from(key)), sentAt, ackedAt };
        this.writes.push(w);
        outcome = 'OK';
      } catch (err) {
        outcome = (err as Error).message;
        this.errors.push({ at: WriteLedger.now(), what, message: outcome });
        // Anything but the server's own error reply means the connection is broken, even
        // while ioredis still says 'ready': its socket can be unwritable a turn before the
        // 'close' event updates the status, and ioredis then rejects every command at once
        // ("Stream isn't writeable"). Keeping it would spin this lane in microtasks only,
        // starving the event loop (no timer, no deadline, no close event) while the errors
        // pile up until the heap runs out.
        if ((err as Error).name !== 'ReplyError' || c.status !== 'ready') this.dropConnection(ci, c);
        await setImmediate();
      }
      const waited = WriteLedger.now() - sentAt;
      this.maxLatencyMs = Math.max(this.maxLatencyMs, waited);
      if (waited > this.o.hangMs) this.hangs.push({ what, sentAt, waitedMs: waited, outcome });
      if (this.o.pauseMs > 0) await sleep(this.o.pauseMs);
    }
  }

  /** The client's open connection; opens one when there is none (undefined: could not, error recorded). */
  private connection(ci: number): Promise<Redis | undefined> {
    let entry = this.conns[ci];
    if (entry === undefined) {
      // Long enough that the proxy's own bound (--failover-timeout) answers first; a
      // request that needs this one is a hang by any measure.
      const commandTimeout = this.o.hangMs * 2;
      const opened: Connection = {
        opening: strictClient(this.o.port, commandTimeout).then(
          (c) => (opened.client = c),
          (err: Error) => {
            this.errors.push({ at: WriteLedger.now(), what: 'connect', message: err.message });
            if (this.conns[ci] === opened) this.conns[ci] = undefined;
            return undefined;
          },
        ),
      };
      this.conns[ci] = entry = opened;
    }
    return entry.opening.then((c) => {
      if (c === undefined || c.status === 'ready') return c;
      this.dropConnection(ci, c);
      return this.connection(ci);
    });
  }

  /** Forget a connection that broke (unless another lane has replaced it already). */
  private dropConnection(ci: number, c: Redis): void {
    c.disconnect();
    if (this.conns[ci]?.client === c) this.conns[ci] = undefined;
  }
}

/**
 * The acknowledged INCRs of one counter that are not in its final value: walking the
 * results in the order they were acknowledged, a result not above the previous ones means
 * those at or above it were lost (the counter went back); at the end, every result above
 * the value read back was lost.
 */
function lostIncrements(acked: AckedWrite[], found: string | null): LostWrite[] {
  const lost: LostWrite[] = [];
  const standing: AckedWrite[] = [];
  for (const w of [...acked].sort((a, b) => a.ackedAt - b.ackedAt)) {
    while (standing.length > 0 && Number(standing[standing.length - 1].value) >= Number(w.value)) {
      lost.push({ write: standing.pop()!, found: `a later INCR answered ${w.value}` });
    }
    standing.push(w);
  }
  const final = found === null ? 0 : Number(found);
  for (const w of standing) if (Number(w.value) > final) lost.push({ write: w, found });
  return lost;
}

/** key → value (null: missing) for every key, read through the proxy. */
async function readAll(port: number, keys: string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const deadline = WriteLedger.now() + VERIFY_DEADLINE_MS;
  let c: Redis | undefined;
  try {
    for (let i = 0; i < keys.length; i += VERIFY_BATCH) {
      const batch = keys.slice(i, i + VERIFY_BATCH);
      for (;;) {
        try {
          c ??= await strictClient(port, 10_000);
          const values = await c.mget(...batch);
          batch.forEach((k, j) => out.set(k, values[j] ?? null));
          break;
        } catch (err) {
          if (WriteLedger.now() > deadline) throw new Error(`verify: reading the acknowledged keys back failed for ${VERIFY_DEADLINE_MS} ms: ${(err as Error).message}`, { cause: err });
          if (c !== undefined && c.status !== 'ready') {
            c.disconnect();
            c = undefined;
          }
          await sleep(200);
        }
      }
    }
  } finally {
    c?.disconnect();
  }
  return out;
}
