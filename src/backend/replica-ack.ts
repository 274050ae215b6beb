/**
 * `--ack replica`: a write's reply reaches the client only once a replica has the write.
 *
 * Per backend connection, the writes sent between two flushes form a batch (AckBatch).
 * When the batch is flushed, `WAIT 1 <timeout>` goes out in the same write, right after
 * it, so Redis answers it after the batch's replies: one WAIT per batch, not per command.
 * While a WAIT is in flight, writes flushed meanwhile stay in the open batch, and its WAIT
 * goes out when the first answers (AckOwner.waitAnswered): Redis runs one connection's
 * WAITs one after another, so a WAIT per flush with a replica missing would add up ack
 * timeouts; this way a write waits at most two.
 * WAIT waits for the connection's own replication offset, which Redis 7.0 sets to the
 * master's offset after every command, so it covers every write before it on the
 * connection. (Not after a blocked command it serves later: a batch with a blocking write
 * sends a PING first, which does set it.)
 *
 * Replies of the batch's writes are held (HeldReply) until WAIT answers:
 *   - WAIT counted a replica      → the held replies go on, in order;
 *   - WAIT counted none in time,
 *     or failed                   → each write gets -NOREPLICAS instead: it may have been
 *                                   applied on the master, only the replica did not confirm;
 *   - the connection was lost     → each gets the connection's own error, as every request
 *                                   in flight on it does.
 * An error reply passes at once (it acknowledges nothing). Replies of reads are not held at
 * all: they reach their client's reply queue as soon as they arrive, and wait there only
 * for the replies the client is owed before them.
 *
 * A write that the cluster redirected (MOVED/ASK/TRYAGAIN/CLUSTERDOWN) leaves its batch
 * (leaveBatch): the router sends it again, maybe to another node, where it is a write of
 * that connection's batch and acknowledged there; this batch's WAIT (which may fail: the
 * node that redirected it may be a replica now, or have none) has no say over it.
 */
import { encodeCommand, encodeError } from '../resp/encode.js';
import type { Faults } from '../faults.js';
import { isUnreachableReply } from './unreachable.js';
import type { ReplySink } from './reply-sink.js';

/** How writes are acknowledged, shared by all connections of a proxy (built once). */
export class AckPolicy {
  /** `WAIT 1 <timeout>`: at least one replica. */
  readonly wait: Buffer;
  /** Sent before the WAIT of a batch with a blocking write (see the module comment). */
  readonly ping = encodeCommand(['PING']);
  /** What a write gets when no replica confirmed it in time. */
  readonly timedOut: Buffer;

  constructor(readonly timeoutMs: number) {
    this.wait = encodeCommand(['WAIT', '1', String(timeoutMs)]);
    this.timedOut = encodeError(
      `NOREPLICAS Not enough good replicas to write: no replica acknowledged it within ${timeoutMs} ms (--ack replica); the master may have applied it`,
    );
  }

  /** The error for writes whose WAIT itself failed with `reply` (not an integer). */
  waitFailed(reply: Buffer): Buffer {
    const why = reply.toString('latin1', 1, Math.max(1, reply.length - 2));
    return encodeError(`NOREPLICAS Not enough good replicas to write: could not confirm a replica has it (${why}); the master may have applied it`);
  }
}

/** Where the reply to the PING before a WAIT goes: nowhere (only its effect on the offset matters). */
export const DISCARD_REPLY: ReplySink = { deliver() {} };

/** The connection a batch belongs to: told when the batch's WAIT has answered. */
export interface AckOwner {
  waitAnswered(): void;
  /** Where a held write's sink that throws is reported. */
  readonly faults: Faults;
}

/** The writes of one flushed batch; the sink of the WAIT that follows them. */
export class AckBatch implements ReplySink {
  private readonly held: HeldReply[] = [];
  /** Whether a PING must precede the WAIT (the batch has a blocking write). */
  blocking = false;

  constructor(
    private readonly policy: AckPolicy,
    private readonly owner: AckOwner,
  ) {}

  /** The sink to queue for a write instead of `target`: its reply is held until WAIT answers. */
  hold(target: ReplySink): ReplySink {
    const h = new HeldReply(target);
    this.held.push(h);
    return h;
  }

  /** WAIT's reply (or the connection's error when it could not answer). */
  deliver(reply: Buffer): void {
    const outcome = this.outcome(reply);
    for (const h of this.held) {
      try {
        h.settle(outcome);
      } catch (err) {
        this.owner.faults.report(err, 'delivering an acknowledged write');
      }
    }
    this.owner.waitAnswered();
  }

  /** null: acknowledged, the writes' own replies go on; otherwise the error each gets. */
  private outcome(reply: Buffer): Buffer | null {
    if (reply[0] === 0x3a /* ':' */) return reply.length > 3 && !(reply[1] === 0x30 && reply[2] === 0x0d) ? null : this.policy.timedOut;
    if (reply[0] === 0x2d /* '-' */ && isUnreachableReply(reply)) return reply;
    return this.policy.waitFailed(reply);
  }
}

/**
 * The sink to hand on for a request the cluster redirected: a held write's own target (it
 * leaves its batch, see the module comment); any other sink as it is.
 */
export function leaveBatch(sink: ReplySink): ReplySink {
  if (!(sink instanceof HeldReply)) return sink;
  sink.settle(null);
  return sink.target;
}

/** A write's sink while its batch's WAIT is outstanding. */
class HeldReply implements ReplySink {
  private reply: Buffer | null = null;
  /** Settled, or redirected past its batch: replies go straight on. */
  private passThrough = false;

  constructor(readonly target: ReplySink) {}

  deliver(reply: Buffer): void {
    if (this.passThrough || reply[0] === 0x2d /* '-' */) this.target.deliver(reply);
    else this.reply = reply;
  }

  /** The batch's WAIT answered: `error` null means acknowledged. */
  settle(error: Buffer | null): void {
    const reply = this.reply;
    this.reply = null;
    this.passThrough = true;
    if (reply !== null) this.target.deliver(error ?? reply);
  }
}
