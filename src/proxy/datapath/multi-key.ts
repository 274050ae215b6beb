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
import { firstError, sumIntegers, UNEXPECTED_REPLY } from './reply-merge.js';

export interface Splitter {
  /** Arguments per key: 1 (MGET k1 k2), 2 (MSET k1 v1 k2 v2). */
  readonly step: number;
  /** Merge the parts' replies; `order[j]` = [part, index in part] of the client's j-th key. */
  merge(parts: Buffer[], order: Int32Array): Buffer;
}

const mergeValues: Splitter = {
  step: 1,
  merge(parts, order) {
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
  },
};

const mergeAllOk: Splitter = {
  step: 2,
  merge(parts) {
    return firstError(parts) ?? OK;
  },
};

const mergeSum: Splitter = {
  step: 1,
  merge(parts) {
    return firstError(parts) ?? sumIntegers(parts);
  },
};

const SPLITTERS = new Map<string, Splitter>([
  ['mget', mergeValues],
  ['mset', mergeAllOk],
  ['del', mergeSum],
  ['unlink', mergeSum],
  ['exists', mergeSum],
  ['touch', mergeSum],
]);

export function splitterFor(commandName: string): Splitter | undefined {
  return SPLITTERS.get(commandName);
}

/** What splitBySlot needs from the router. */
export interface SlotSender {
  slotOfArg(frame: RequestFrame, argIndex: number): number;
  sendToSlot(session: ClientLink, slot: number, raw: Buffer, sink: ReplySink): void;
  anyMaster(session: ClientLink): number;
  sendToMaster(session: ClientLink, master: number, raw: Buffer, sink: ReplySink): void;
}

export function splitBySlot(router: SlotSender, session: ClientLink, frame: RequestFrame, splitter: Splitter, sink: ReplySink): void {
  const step = splitter.step;
  const keyCount = (frame.argc - 1) / step;
  if (!Number.isInteger(keyCount) || keyCount < 1) {
    // Wrong arity: let a backend answer with Redis's own error, writing nothing anywhere.
    router.sendToMaster(session, router.anyMaster(session), frame.raw, sink);
    return;
  }
  const partOfSlot = new Map<number, number>();
  const partSlots: number[] = [];
  /** First argument index of each key, per part. */
  const partKeys: number[][] = [];
  const order = new Int32Array(keyCount * 2);
  for (let j = 0; j < keyCount; j++) {
    const argIndex = 1 + j * step;
    const slot = router.slotOfArg(frame, argIndex);
    let part = partOfSlot.get(slot);
    if (part === undefined) {
      part = partSlots.length;
      partOfSlot.set(slot, part);
      partSlots.push(slot);
      partKeys.push([]);
    }
    order[2 * j] = part;
    order[2 * j + 1] = partKeys[part].length;
    partKeys[part].push(argIndex);
  }
  const gather = new Gather(partSlots.length, (parts) => splitter.merge(parts, order), sink, session.runtime.faults);
  for (let p = 0; p < partSlots.length; p++) {
    router.sendToSlot(session, partSlots[p], encodePart(frame, partKeys[p], step), gather.part(p));
  }
}

/**
 * The command name plus `step` arguments from each of the given positions, encoded as a
 * RESP array straight from the request's bytes: one allocation per part.
 */
function encodePart(frame: RequestFrame, firstArgs: readonly number[], step: number): Buffer {
  const o = frame.offsets;
  const raw = frame.raw;
  const argc = 1 + firstArgs.length * step;
  let total = decimalLength(argc) + 3 + argSize(o[1] - o[0]);
  for (const a of firstArgs) for (let s = 0; s < step; s++) total += argSize(o[2 * (a + s) + 1] - o[2 * (a + s)]);
  const out = Buffer.allocUnsafe(total);
  out[0] = 0x2a; // '*'
  let p = writeDecimal(out, 1, argc);
  p = crlf(out, p);
  p = copyArg(out, p, raw, o[0], o[1]);
  for (const a of firstArgs) for (let s = 0; s < step; s++) p = copyArg(out, p, raw, o[2 * (a + s)], o[2 * (a + s) + 1]);
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

function copyArg(out: Buffer, p: number, raw: Buffer, start: number, end: number): number {
  out[p++] = 0x24; // '$'
  p = writeDecimal(out, p, end - start);
  p = crlf(out, p);
  p += raw.copy(out, p, start, end);
  return crlf(out, p);
}
