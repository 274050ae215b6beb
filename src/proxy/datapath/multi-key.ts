/**
 * Multi-key commands split across slots: MGET, MSET, DEL, UNLINK, EXISTS, TOUCH.
 *
 * A Redis Cluster node refuses keys of different slots in one command even when it serves
 * them all, so keys are grouped by slot; each group goes to its slot's master as a command
 * of its own (the groups for one master leave in the same write: writes are flushed once
 * per event-loop turn), and the replies are merged back in the client's key order. Any
 * other multi-key command whose keys span slots gets Redis Cluster's CROSSSLOT error
 * (see Router).
 */
import type { RequestFrame } from '../../resp/frame.js';
import { arrayElements } from '../../resp/reply-value.js';
import { decimalLength, encodeArray, OK, writeDecimal } from '../../resp/encode.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import type { ClientLink } from './client-link.js';
import { Gather } from './reply-slot.js';
import { firstError, integerOf, sumReply, UNEXPECTED_REPLY } from './reply-merge.js';

/**
 * How the parts' replies become the client's one. MGET needs each part's values in their
 * place (`values`); MSET needs only "no part failed" (`ok`), DEL and the like a sum
 * (`sum`): those two tally replies as they come, on one sink for all parts.
 */
export interface Splitter {
  /** Arguments per key: 1 (MGET k1 k2), 2 (MSET k1 v1 k2 v2). */
  readonly step: number;
  readonly merge: 'values' | 'ok' | 'sum';
}

const SPLITTERS = new Map<string, Splitter>([
  ['mget', { step: 1, merge: 'values' }],
  ['mset', { step: 2, merge: 'ok' }],
  ['del', { step: 1, merge: 'sum' }],
  ['unlink', { step: 1, merge: 'sum' }],
  ['exists', { step: 1, merge: 'sum' }],
  ['touch', { step: 1, merge: 'sum' }],
]);

export function splitterFor(commandName: string): Splitter | undefined {
  return SPLITTERS.get(commandName);
}

/** What splitBySlot needs from the router. */
export interface SlotSender {
  slotOfArg(frame: RequestFrame, argIndex: number): number;
  sendToSlot(session: ClientLink, slot: number, raw: Buffer, sink: ReplySink): void;
  /** Count one part sent to `slot` (the slot load REBALANCE LOAD plans from). */
  countPart(slot: number): void;
  anyMaster(session: ClientLink): number;
  sendToMaster(session: ClientLink, master: number, raw: Buffer, sink: ReplySink): void;
}

/**
 * Grouping keys by slot without a Map per request: partOfSlot[slot] is valid only while
 * slotStamp[slot] equals the current request's stamp, so nothing is cleared between
 * requests. Used only while grouping, which calls out to nothing (sending may re-enter
 * splitBySlot through a reply delivered at once).
 */
const slotStamp = new Uint32Array(16384);
const partOfSlot = new Int32Array(16384);
let stamp = 0;
/** Per key: its part; per part: its slot, key count, then fill position; keys by part. Reused, grown on demand. */
let scratch = new Int32Array(4 * 64);
/** A request with more keys than this gets scratch of its own, not kept (one huge MGET must not pin it). */
const SCRATCH_KEEP = 4096;

const ERROR_BYTE = 0x2d; // '-'

export function splitBySlot(router: SlotSender, session: ClientLink, frame: RequestFrame, splitter: Splitter, sink: ReplySink): void {
  const step = splitter.step;
  const keyCount = (frame.argc - 1) / step;
  if (!Number.isInteger(keyCount) || keyCount < 1) {
    // Wrong arity: let a backend answer with Redis's own error, writing nothing anywhere.
    router.sendToMaster(session, router.anyMaster(session), frame.raw, sink);
    return;
  }
  let work = scratch;
  if (work.length < 4 * keyCount) {
    work = new Int32Array(4 * keyCount);
    if (keyCount <= SCRATCH_KEEP) scratch = work;
  }
  // work[0, k): each key's part; [k, 2k): each part's slot; [2k, 3k): each part's key
  // count, then its next free place in [3k, 4k), where key numbers are grouped by part.
  const K = keyCount;
  if (++stamp === 0xffffffff) {
    slotStamp.fill(0);
    stamp = 1;
  }
  let parts = 0;
  for (let j = 0; j < K; j++) {
    const slot = router.slotOfArg(frame, 1 + j * step);
    if (slotStamp[slot] !== stamp) {
      slotStamp[slot] = stamp;
      partOfSlot[slot] = parts;
      work[K + parts] = slot;
      work[2 * K + parts] = 0;
      parts++;
    }
    const p = partOfSlot[slot];
    work[j] = p;
    work[2 * K + p]++;
  }
  // Counts → each part's first place.
  for (let p = 0, at = 3 * K; p < parts; p++) {
    const n = work[2 * K + p];
    work[2 * K + p] = at;
    at += n;
  }
  for (let j = 0; j < K; j++) work[work[2 * K + work[j]]++] = j;
  // Now work[2k + p] is where part p's keys end (and part p + 1's begin).
  // MGET's merge puts each value back in its key's place: order[2j] = part, order[2j + 1] = index in it.
  const order = splitter.merge === 'values' ? new Int32Array(2 * K) : null;
  // Encode every part before sending any (a send may re-enter this function and reuse `work`).
  const raws: Buffer[] = new Array(parts);
  const slots: number[] = new Array(parts);
  for (let p = 0, from = 3 * K; p < parts; p++) {
    const to = work[2 * K + p];
    raws[p] = encodePart(frame, work, from, to, step);
    slots[p] = work[K + p];
    router.countPart(slots[p]);
    if (order !== null) {
      for (let at = from; at < to; at++) {
        order[2 * work[at]] = p;
        order[2 * work[at] + 1] = at - from;
      }
    }
    from = to;
  }
  if (order !== null) {
    const gather = new Gather(parts, (replies) => mergeValues(replies, order), sink, session.runtime.faults);
    for (let p = 0; p < parts; p++) router.sendToSlot(session, slots[p], raws[p], gather.part(p));
  } else {
    const tally = new Tally(parts, splitter.merge === 'sum', sink);
    for (let p = 0; p < parts; p++) router.sendToSlot(session, slots[p], raws[p], tally);
  }
}

/** MGET: the parts' values, each back in its key's place. */
function mergeValues(parts: Buffer[], order: Int32Array): Buffer {
  const err = firstError(parts);
  if (err) return err;
  const elems: (Buffer[] | null)[] = parts.map(arrayElements);
  const out: Buffer[] = new Array(order.length / 2);
  for (let j = 0; j < out.length; j++) {
    const part = elems[order[2 * j]];
    const e = part?.[order[2 * j + 1]];
    if (e === undefined) return UNEXPECTED_REPLY;
    out[j] = e;
  }
  return encodeArray(out);
}

/**
 * One sink for every part of an MSET (`+OK` unless a part failed) or a DEL-like sum: it
 * counts replies as they arrive and keeps no part. An error reply wins (the first to
 * arrive); a part that is not an integer where a sum is due makes the reply an error.
 */
class Tally implements ReplySink {
  private sum = 0;
  private failure: Buffer | null = null;

  constructor(
    private remaining: number,
    private readonly sums: boolean,
    private readonly target: ReplySink,
  ) {}

  deliver(reply: Buffer): void {
    if (reply[0] === ERROR_BYTE) {
      if (this.failure === null || this.failure === UNEXPECTED_REPLY) this.failure = reply;
    } else if (this.sums && this.failure === null) {
      const n = integerOf(reply);
      if (Number.isNaN(n)) this.failure = UNEXPECTED_REPLY;
      else this.sum += n;
    }
    if (--this.remaining === 0) this.target.deliver(this.failure ?? (this.sums ? sumReply(this.sum) : OK));
  }
}

/**
 * The command name plus `step` arguments for each key number in keys[from, to), encoded
 * as a RESP array straight from the request's bytes: one allocation per part.
 */
function encodePart(frame: RequestFrame, keys: Int32Array, from: number, to: number, step: number): Buffer {
  const o = frame.offsets;
  const raw = frame.raw;
  const argc = 1 + (to - from) * step;
  let total = decimalLength(argc) + 3 + argSize(o[1] - o[0]);
  for (let k = from; k < to; k++) {
    const first = 1 + keys[k] * step;
    for (let a = first; a < first + step; a++) total += argSize(o[2 * a + 1] - o[2 * a]);
  }
  const out = Buffer.allocUnsafe(total);
  out[0] = 0x2a; // '*'
  let p = writeDecimal(out, 1, argc);
  p = crlf(out, p);
  p = copyArg(out, p, raw, o[0], o[1]);
  for (let k = from; k < to; k++) {
    const first = 1 + keys[k] * step;
    for (let a = first; a < first + step; a++) p = copyArg(out, p, raw, o[2 * a], o[2 * a + 1]);
  }
  return out;
}

function argSize(len: number): number {
  return decimalLength(len) + len + 5; // $<len>\r\n<bytes>\r\n
}

function crlf(out: Buffer, p: number): number {
  out[p] = 0x0d;
  out[p + 1] = 0x0a;
  return p + 2;
}

const SHORT_COPY = 64;

function copyArg(out: Buffer, p: number, raw: Buffer, start: number, end: number): number {
  out[p++] = 0x24; // '$'
  p = writeDecimal(out, p, end - start);
  p = crlf(out, p);
  // Keys and values are mostly short: a byte loop beats Buffer#copy, which makes a view of
  // the source range for every copy.
  if (end - start <= SHORT_COPY) for (let i = start; i < end; i++) out[p++] = raw[i];
  else p += raw.copy(out, p, start, end);
  return crlf(out, p);
}
