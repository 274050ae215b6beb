/**
 * One client's replies in request order: every request takes a ReplySlot at the tail;
 * replies move to the output from the head as the head fills, and the output is written
 * once per event-loop turn (the owner is the Flushable the scheduler calls). CLIENT REPLY
 * OFF and SKIP drop replies here. The session decides when to read, write and stall, from
 * the sizes kept here.
 */
import { Fifo } from '../../net/fifo.js';
import { unpinned } from '../../net/slab-reader.js';
import type { Flushable, FlushScheduler } from '../../net/flush-scheduler.js';
import type { SocketWriter } from '../../net/socket-writer.js';
import { ReplySlot, type SlotOwner } from './reply-slot.js';

/** CLIENT REPLY: on, off, or skip the next command's reply. */
export type ReplyMode = 'on' | 'off' | 'skip';

const MB = 1024 * 1024;
/** Owed replies × average reply size stays under this (the replies in flight for one client). */
const OWED_BYTES_BUDGET = 4 * MB;
/** Whatever the sizes, at least MIN_OWED and at most MAX_OWED replies may be owed. */
const MIN_OWED = 8;
const MAX_OWED = 32 * 1024;
/** Reply size assumed before any reply was seen: a new client may have 16 requests in flight. */
const INITIAL_REPLY_ESTIMATE = 256 * 1024;
/** What one owed request costs besides its reply (its slot and queue entry), for the account. */
const SLOT_BYTES = 64;
/** A client holding more than this is lagging: what is held for it is copied off large read slabs. */
const LAGGING = MB;

export class ReplyOrder {
  private readonly slots = new Fifo<ReplySlot>(64);
  /** Replies ready to be written, and their bytes. */
  private out: Buffer[] = [];
  private outBytes = 0;
  /** Bytes of filled slots waiting for an earlier reply (not yet in `out`). */
  private heldBytes = 0;
  /** Moving average of reply sizes (weight 1/8, integer), for the owed-replies bound. */
  private replyAvg = INITIAL_REPLY_ESTIMATE;
  /** Replies produced (slots opened + direct replies): whether a handler that threw had answered. */
  produced = 0;
  /** The slot of the last reply produced; null when that one went straight to the output. */
  lastSlot: ReplySlot | null = null;
  private mode: ReplyMode = 'on';
  /** The replies of the request being dispatched are dropped (CLIENT REPLY OFF/SKIP). */
  private silent = false;

  constructor(
    private readonly owner: SlotOwner & Flushable,
    /** The proxy's: the output is written once per event-loop turn, with every other connection's. */
    private readonly flush: FlushScheduler,
  ) {}

  /** Replies owed: slots not yet written. */
  get owed(): number {
    return this.slots.length;
  }

  /** Bytes of replies held behind an earlier one. */
  get held(): number {
    return this.heldBytes;
  }

  /** Bytes held or ready and not yet given to the socket. */
  get unwritten(): number {
    return this.heldBytes + this.outBytes;
  }

  /** What the account counts of the replies: held, ready, and the owed requests' own cost. */
  get accountBytes(): number {
    return this.heldBytes + this.outBytes + this.slots.length * SLOT_BYTES;
  }

  /** The owed replies' estimated bytes reach the budget (or their count the bounds): take no more requests. */
  overBudget(): boolean {
    const owed = this.slots.length;
    return owed >= MIN_OWED && (owed >= MAX_OWED || owed * this.replyAvg >= OWED_BYTES_BUDGET);
  }

  /** Below half the budget: requests may be taken again. */
  underHalfBudget(): boolean {
    const owed = this.slots.length;
    return owed < MIN_OWED || (owed < MAX_OWED / 2 && owed * this.replyAvg < OWED_BYTES_BUDGET / 2);
  }

  /** CLIENT REPLY: OFF and SKIP take effect from this very command (its own reply is not sent). */
  setMode(mode: ReplyMode): void {
    this.mode = mode;
    this.silent = mode !== 'on';
  }

  /** A request is about to be dispatched: SKIP covers it and ends, OFF covers it. */
  beginRequest(): void {
    if (this.mode === 'skip') this.mode = 'on';
    else this.silent = this.mode === 'off';
  }

  /** A new slot at the tail; a push slot (Pub/Sub) is sent under CLIENT REPLY OFF too. */
  open(push: boolean): ReplySlot {
    const slot = new ReplySlot(this.owner);
    slot.silent = push ? false : this.silent;
    this.slots.push(slot);
    this.produced++;
    this.lastSlot = slot;
    return slot;
  }

  /**
   * A reply now, in order: straight to the output when nothing earlier is owed, else held in
   * a filled slot. True when it was held (the account grew).
   */
  add(buf: Buffer, push: boolean): boolean {
    const silent = push ? false : this.silent;
    this.produced++;
    if (this.slots.length === 0) {
      this.lastSlot = null;
      if (!silent) this.queue(buf);
      return false;
    }
    const slot = new ReplySlot(this.owner);
    slot.silent = silent;
    slot.reply = buf;
    this.heldBytes += buf.length;
    this.slots.push(slot);
    this.lastSlot = slot;
    return true;
  }

  /** A reply of this size arrived (for the owed-replies bound), for a client gone meanwhile too. */
  measure(bytes: number): void {
    this.replyAvg += (bytes - this.replyAvg) >> 3;
  }

  /**
   * `slot` got its reply. True when it was the head: it and the filled ones after it went to
   * the output. False when it waits behind an earlier one (copied off its read slab when the
   * client lags: `socketBacklog` more bytes wait in the socket).
   */
  filled(slot: ReplySlot, socketBacklog: number): boolean {
    const slots = this.slots;
    if (slot !== slots.peek()) {
      if (this.heldBytes + socketBacklog > LAGGING) slot.reply = unpinned(slot.reply!);
      this.heldBytes += slot.reply!.length;
      return false;
    }
    for (let head = slots.peek(); head !== undefined && head.reply !== null; head = slots.peek()) {
      slots.shift();
      if (head !== slot) this.heldBytes -= head.reply.length;
      if (!head.silent) this.queue(head.reply);
    }
    return true;
  }

  /** Give what is ready to the socket, in one write. */
  writeTo(writer: SocketWriter): void {
    if (this.out.length === 0) return;
    const bufs = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    // Bytes the socket cannot take now stay in its buffer: not with whole read slabs behind them.
    if (writer.unsent > 0) for (let i = 0; i < bufs.length; i++) bufs[i] = unpinned(bufs[i]);
    writer.write(bufs, bytes);
  }

  /** The client is gone: drop every reply, owed or ready. */
  clear(): void {
    while (this.slots.shift() !== undefined);
    this.out = [];
    this.outBytes = 0;
    this.heldBytes = 0;
  }

  private queue(buf: Buffer): void {
    this.out.push(buf);
    this.outBytes += buf.length;
    this.flush.schedule(this.owner);
  }
}
