/**
 * Commands about the whole dataset, answered by asking every master (or one) and merging:
 * DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL/FLUSHDB, INFO, COMMAND, LOLWUT. (SCRIPT and
 * FUNCTION: script-commands.ts; CONFIG: config-commands.ts.)
 *
 * With a master that cannot be reached, each command does what its users would expect:
 * - an answer that would be wrong without that master fails with its error: DBSIZE,
 *   KEYS, SCAN (on reaching it), FLUSHALL/FLUSHDB;
 * - an answer the others give as well comes from the masters that are up: INFO (the
 *   missing masters are listed), RANDOMKEY;
 * - a question any master can answer goes to the next one: COMMAND, LOLWUT.
 */
import { argBuffer, argString, type RequestFrame } from '../../resp/frame.js';
import { arrayElements, decodeReply } from '../../resp/reply-value.js';
import { encodeArray, encodeBulk, encodeCommand, encodeError, encodeNull, encodeVerbatim, OK } from '../../resp/encode.js';
import type { ClientSession } from '../session.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import { isUnreachableReply } from '../../backend/connection.js';
import { TransformSink } from '../datapath/reply-slot.js';
import { type HandlerEntry, type ProxyContext } from '../context.js';
import { renderInfo } from './info.js';
import { concatArrays, firstError, sumIntegers } from '../datapath/reply-merge.js';
import { SLOT_NOT_SERVED } from '../datapath/router.js';
import { SLOT_COUNT } from '../../cluster/topology/topology.js';
import { mergeReachable, toMasters } from './every-node.js';

const INFO_ALL_NODES = encodeCommand(['INFO']);

type Merge = (parts: Buffer[]) => Buffer;

/** Send `raw` to every master that serves slots; the merge sees every reply, errors included. */
export function fanoutParts(ctx: ProxyContext, s: ClientSession, raw: Buffer, merge: Merge): void {
  toMasters(ctx, s, ctx.router.servingMasters, raw, merge);
}

/** Send `raw` to every master and merge the replies into one; any error (a master down too) is the answer. */
export function fanout(ctx: ProxyContext, s: ClientSession, raw: Buffer, merge: Merge): void {
  fanoutParts(ctx, s, raw, (parts) => firstError(parts) ?? merge(parts));
}

/** Like fanout, but masters that cannot be reached are left out, unless none can be. */
export function fanoutUp(ctx: ProxyContext, s: ClientSession, raw: Buffer, merge: Merge): void {
  fanoutParts(ctx, s, raw, mergeReachable(merge));
}

/**
 * Sends a request to one master and, while the master it went to cannot be reached, to
 * the next one: for questions every master answers alike.
 */
class FirstReachable implements ReplySink {
  private tried = 1;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly session: ClientSession,
    private readonly raw: Buffer,
    /** Position in the router's serving masters. */
    private position: number,
    private readonly target: ReplySink,
  ) {}

  deliver(reply: Buffer): void {
    const masters = this.ctx.router.servingMasters;
    if (isUnreachableReply(reply) && this.tried < masters.length) {
      this.tried++;
      this.position = (this.position + 1) % masters.length;
      this.ctx.router.sendToMaster(this.session, masters[this.position], this.raw, this);
      return;
    }
    this.target.deliver(reply);
  }
}

/** Send `raw` to a master that can be reached, starting with the one this client uses for keyless work. */
export function toReachableMaster(ctx: ProxyContext, s: ClientSession, raw: Buffer, target: ReplySink = s.openSlot()): void {
  const master = ctx.router.anyMaster(s);
  const position = Math.max(0, ctx.router.servingMasters.indexOf(master));
  ctx.router.sendToMaster(s, master, raw, new FirstReachable(ctx, s, raw, position, target));
}

/** Forward the request as it is to one master (any: they all answer alike). */
function toAnyMaster(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  toReachableMaster(ctx, s, f.raw);
}

const allOk = (): Buffer => OK;

function dbsize(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  fanout(ctx, s, f.raw, sumIntegers);
}

function keys(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  fanout(ctx, s, f.raw, concatArrays);
}

function flush(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  // Answered once the masters' null invalidations have reached the tracking clients (tracking-hub.ts).
  toMasters(ctx, s, ctx.router.servingMasters, f.raw, (parts) => firstError(parts) ?? allOk(), ctx.tracking.afterPushes(s.openSlot()));
}

function randomkey(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const proto = s.protocol;
  fanoutUp(ctx, s, f.raw, (parts) => {
    // A key is a bulk string; no key is $-1 from a RESP2 connection, _ from a RESP3 one.
    const found = parts.filter((p) => p[0] === 0x24 /* '$' */ && p[1] !== 0x2d /* not $-1 */);
    return found.length === 0 ? encodeNull(proto) : found[Math.floor(Math.random() * found.length)];
  });
}

/**
 * SCAN over all masters, one after the other, in the order of their lowest slot. The
 * proxy's cursor says where it is by a slot, not by a master's index (indexes change with
 * the map): cursor = backendCursor * 16384 + the lowest slot of the master being scanned.
 * Cursor 0 starts at the master of the lowest slots; a master's final 0 continues at the
 * next master's lowest slot; "0" again ends the iteration. A failover keeps the slots, so
 * an iteration goes on through it on the promoted replica.
 */
const SCAN_SLOT_SPACE = BigInt(SLOT_COUNT);

function scan(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const text = argString(f, 1);
  if (!/^\d+$/.test(text) || text.length > 30) return s.reply(encodeError('ERR invalid cursor'));
  const cursor = BigInt(text);
  const map = ctx.router.slotMap;
  const serving = ctx.router.servingMasters;
  if (serving.length === 0) return s.reply(SLOT_NOT_SERVED);
  const firstSlots = serving.map((m) => map.firstSlotOf(m));
  const slot = cursor === 0n ? firstSlots[0] : Number(cursor % SCAN_SLOT_SPACE);
  const master = map.slotToMaster[slot];
  const position = serving.indexOf(master);
  if (position === -1) return s.reply(encodeError('ERR invalid cursor'));
  const args: Buffer[] = [argBuffer(f, 0), Buffer.from(String(cursor / SCAN_SLOT_SPACE))];
  for (let i = 2; i < f.argc; i++) args.push(argBuffer(f, i));
  const rewrite = (reply: Buffer): Buffer => {
    const elems = arrayElements(reply);
    if (elems === null || elems.length !== 2) return reply; // an error: pass it on
    const next = decodeReply(elems[0]);
    const backendNext = Buffer.isBuffer(next) ? BigInt(next.toString('latin1')) : 0n;
    let proxyNext: bigint;
    if (backendNext !== 0n) proxyNext = backendNext * SCAN_SLOT_SPACE + BigInt(firstSlots[position]);
    else if (position + 1 < serving.length) proxyNext = BigInt(firstSlots[position + 1]);
    else proxyNext = 0n;
    // Cursor 0 means "done": a next master whose lowest slot is 0 cannot happen (it would be first).
    return encodeArray([encodeBulk(String(proxyNext)), elems[1]]);
  };
  ctx.router.sendToMaster(s, master, encodeCommand(args), new TransformSink(rewrite, s.openSlot(), ctx.runtime.faults));
}

/**
 * INFO answers whatever masters are down: clients check INFO on connect (ioredis's ready
 * check), so an error here would lock every new client out, not only from the dead
 * master's keys. The masters that did not answer are listed in the Cluster section.
 */
function info(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sections: string[] = [];
  for (let i = 1; i < f.argc; i++) sections.push(argString(f, i).toLowerCase());
  const proto = s.protocol;
  fanoutParts(ctx, s, INFO_ALL_NODES, (parts) => {
    const texts = parts.map((p) => {
      if (p[0] === 0x2d /* '-' */) return null;
      const v = decodeReply(p);
      return Buffer.isBuffer(v) ? v.toString('latin1') : null;
    });
    return encodeVerbatim(renderInfo(ctx, texts, sections), proto);
  });
}

export const serverCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>([
  ['dbsize', { handler: dbsize }],
  ['keys', { handler: keys }],
  ['scan', { handler: scan }],
  ['randomkey', { handler: randomkey }],
  ['flushall', { handler: flush }],
  ['flushdb', { handler: flush }],
  ['info', { handler: info }],
  ['command', { handler: toAnyMaster }],
  ['lolwut', { handler: toAnyMaster }],
]);
