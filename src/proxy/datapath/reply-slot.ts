/**
 * Reply slots keep a client's replies in request order.
 *
 * Every request a client sends gets a slot at the tail of its session's queue; a slot is
 * filled whenever its answer arrives (from any backend, in any order) and replies are
 * written out from the head while the head is filled.
 */
import type { ReplySink } from '../../backend/reply-sink.js';
import type { CommandInfo } from '../../commands/command-table.js';
import type { Faults } from '../../faults.js';
import type { KeySample } from '../../ops/key-sampler.js';

/**
 * When a batch of requests arrived (performance.now() ms), shared by their reply slots: a
 * pointer per slot rather than a number each (a double field is a heap box per object).
 */
export interface RequestTime {
  readonly at: number;
}

export interface SlotOwner {
  slotFilled(slot: ReplySlot): void;
}

export class ReplySlot implements ReplySink {
  reply: Buffer | null = null;
  /** Not sent to the client (CLIENT REPLY OFF/SKIP): kept in its place only for the order. */
  silent = false;
  /** The command whose request → reply time is recorded when the reply comes in (null: not timed). */
  timed: CommandInfo | null = null;
  /** When its request arrived. */
  requestTime: RequestTime | null = null;
  /** Its request was sampled for the hot and big keys (ops/key-sampler.ts): the reply's size is counted there. */
  sample: KeySample | null = null;
  constructor(private readonly owner: SlotOwner) {}

  /**
   * The first reply wins. A second one arrives only for a slot the proxy already failed
   * (its request's handler threw after sending it on): the client got the -ERR, and its
   * later replies must stay in order, so the late answer is dropped.
   */
  deliver(reply: Buffer): void {
    if (this.reply !== null) return;
    this.reply = reply;
    if (this.sample !== null) this.sample.replied(reply.length);
    this.owner.slotFilled(this);
  }
}

/**
 * Collects the replies of several sub-requests (a split MGET, a command sent to every
 * master) and delivers one merged reply when the last one arrives.
 */
export class Gather {
  private readonly parts: Buffer[];
  private remaining: number;

  constructor(
    count: number,
    private readonly merge: (parts: Buffer[]) => Buffer,
    private readonly target: ReplySink,
    private readonly faults: Faults,
  ) {
    this.parts = new Array(count);
    this.remaining = count;
    if (count === 0) target.deliver(this.merged());
  }

  /** The sink for part i. */
  part(i: number): ReplySink {
    return new GatherPart(this, i);
  }

  partDone(i: number, reply: Buffer): void {
    this.parts[i] = reply;
    if (--this.remaining === 0) this.target.deliver(this.merged());
  }

  /** A merge that throws (a reply it did not expect) costs this request an -ERR, not the process. */
  private merged(): Buffer {
    try {
      return this.merge(this.parts);
    } catch (err) {
      return this.faults.reply(err, 'merging replies');
    }
  }
}

class GatherPart implements ReplySink {
  constructor(
    private readonly gather: Gather,
    private readonly index: number,
  ) {}
  deliver(reply: Buffer): void {
    this.gather.partDone(this.index, reply);
  }
}

/** Applies a transformation to a single reply before passing it on (e.g. SCAN's cursor). */
export class TransformSink implements ReplySink {
  constructor(
    private readonly transform: (reply: Buffer) => Buffer,
    private readonly target: ReplySink,
    private readonly faults: Faults,
  ) {}
  deliver(reply: Buffer): void {
    let out: Buffer;
    try {
      out = this.transform(reply);
    } catch (err) {
      out = this.faults.reply(err, 'rewriting a reply');
    }
    this.target.deliver(out);
  }
}
