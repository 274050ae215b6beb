/**
 * Multi-key commands split across masters: MGET, MSET, DEL, UNLINK, EXISTS, TOUCH.
 *
 * Keys are grouped by the shard that owns them (not by slot: one master happily serves
 * several slots in one command), each group goes to its master as a command of its own,
 * and the replies are merged back in the client's key order. Any other multi-key
 * command whose keys span slots gets Redis Cluster's CROSSSLOT error (see Router).
 */
import type { RequestFrame } from '../resp/frame.js';
import { argBuffer } from '../resp/frame.js';
import { arrayElements } from '../resp/reply-value.js';
import { encodeArray, encodeCommand, OK } from '../resp/encode.js';
import type { ReplySink } from '../backend/reply-sink.js';
import type { ClientSession } from './session.js';
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

/** What splitByShard needs from the router. */
export interface ShardSender {
  shardOfArg(frame: RequestFrame, argIndex: number): number;
  sendToShard(session: ClientSession, shard: number, raw: Buffer, sink: ReplySink): void;
  anyShard(session: ClientSession): number;
}

export function splitByShard(
  router: ShardSender,
  session: ClientSession,
  frame: RequestFrame,
  splitter: Splitter,
  sink: ReplySink,
): void {
  const step = splitter.step;
  const keyCount = (frame.argc - 1) / step;
  if (!Number.isInteger(keyCount) || keyCount < 1) {
    // Wrong arity: let a backend answer with Redis's own error, writing nothing anywhere.
    router.sendToShard(session, router.anyShard(session), frame.raw, sink);
    return;
  }
  const partOfShard = new Map<number, number>();
  const partShards: number[] = [];
  const partArgs: number[][] = [];
  const order = new Int32Array(keyCount * 2);
  for (let j = 0; j < keyCount; j++) {
    const argIndex = 1 + j * step;
    const shard = router.shardOfArg(frame, argIndex);
    let part = partOfShard.get(shard);
    if (part === undefined) {
      part = partShards.length;
      partOfShard.set(shard, part);
      partShards.push(shard);
      partArgs.push([]);
    }
    order[2 * j] = part;
    order[2 * j + 1] = partArgs[part].length / step;
    for (let s = 0; s < step; s++) partArgs[part].push(argIndex + s);
  }
  if (partShards.length === 1) {
    // Several slots, one master: the original request works as it is.
    router.sendToShard(session, partShards[0], frame.raw, sink);
    return;
  }
  const name = argBuffer(frame, 0);
  const gather = new Gather(partShards.length, (parts) => splitter.merge(parts, order), sink);
  for (let p = 0; p < partShards.length; p++) {
    const args: Buffer[] = [name];
    for (const a of partArgs[p]) args.push(argBuffer(frame, a));
    router.sendToShard(session, partShards[p], encodeCommand(args), gather.part(p));
  }
}
