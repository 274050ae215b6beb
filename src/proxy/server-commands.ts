/**
 * Commands about the whole dataset, answered by asking every master (or one) and merging:
 * DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL/FLUSHDB, INFO, COMMAND, CONFIG GET, SCRIPT,
 * FUNCTION, LOLWUT.
 *
 * With a master that cannot be reached, each command does what its users would expect:
 * - an answer that would be wrong without that master fails with its error: DBSIZE,
 *   KEYS, SCAN (on reaching it), FLUSHALL/FLUSHDB, FUNCTION LOAD/DELETE/FLUSH/RESTORE
 *   (functions are persisted: a master that missed the change would differ when back);
 * - an answer the others give as well comes from the masters that are up: INFO (the
 *   missing masters are listed), RANDOMKEY, SCRIPT LOAD/FLUSH/EXISTS (the script cache is
 *   not persisted: a master that comes back has an empty one anyway, and clients fall
 *   back from NOSCRIPT to EVAL);
 * - a question any master can answer goes to the next one: COMMAND, CONFIG GET,
 *   FUNCTION LIST/DUMP/STATS, LOLWUT.
 */
import { argBuffer, argString, type RequestFrame } from '../resp/frame.js';
import { arrayElements, decodeReply, mapElements } from '../resp/reply-value.js';
import { encodeArray, encodeBulk, encodeCommand, encodeError, encodeInteger, encodeMap, encodeNull, encodeVerbatim, OK } from '../resp/encode.js';
import type { ClientSession } from './session.js';
import type { ReplySink } from '../backend/reply-sink.js';
import { isUnreachableReply } from '../backend/connection.js';
import { Gather, TransformSink } from './reply-slot.js';
import { arityError, type HandlerEntry, type ProxyContext } from './context.js';
import { renderInfo } from './info.js';
import { concatArrays, firstError, integerOf, sumIntegers, UNEXPECTED_REPLY } from './reply-merge.js';
import { SLOT_NOT_SERVED } from './router.js';
import { SLOT_COUNT } from '../cluster/topology.js';

const INFO_ALL_NODES = encodeCommand(['INFO']);

type Merge = (parts: Buffer[]) => Buffer;

/** Send `raw` to every master that serves slots; the merge sees every reply, errors included. */
export function fanoutParts(ctx: ProxyContext, s: ClientSession, raw: Buffer, merge: Merge): void {
  const masters = ctx.router.servingMasters;
  const gather = new Gather(masters.length, merge, s.openSlot());
  for (let i = 0; i < masters.length; i++) ctx.router.sendToMaster(s, masters[i], raw, gather.part(i));
}

/** Send `raw` to every master and merge the replies into one; any error (a master down too) is the answer. */
export function fanout(ctx: ProxyContext, s: ClientSession, raw: Buffer, merge: Merge): void {
  fanoutParts(ctx, s, raw, (parts) => firstError(parts) ?? merge(parts));
}

/** Like fanout, but masters that cannot be reached are left out, unless none can be. */
export function fanoutUp(ctx: ProxyContext, s: ClientSession, raw: Buffer, merge: Merge): void {
  fanoutParts(ctx, s, raw, (parts) => {
    const up = parts.filter((p) => !isUnreachableReply(p));
    if (up.length === 0) return parts[0];
    return firstError(up) ?? merge(up);
  });
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
const sameAsFirst = (parts: Buffer[]): Buffer => parts[0];

function dbsize(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc !== 1) return s.reply(encodeError(arityError('dbsize')));
  fanout(ctx, s, f.raw, sumIntegers);
}

function keys(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc !== 2) return s.reply(encodeError(arityError('keys')));
  fanout(ctx, s, f.raw, concatArrays);
}

function flush(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  fanout(ctx, s, f.raw, allOk);
}

function randomkey(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc !== 1) return s.reply(encodeError(arityError('randomkey')));
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
  if (f.argc < 2) return s.reply(encodeError(arityError('scan')));
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
  ctx.router.sendToMaster(s, master, encodeCommand(args), new TransformSink(rewrite, s.openSlot()));
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

/** CONFIG GET is answered by one master, minus the nodes' secrets. Nothing else of CONFIG. */
const SECRET_CONFIG = new Set(['requirepass', 'masterauth', 'masteruser']);

function config(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc < 2) return s.reply(encodeError(arityError('config')));
  const sub = argString(f, 1).toLowerCase();
  if (sub !== 'get') {
    return s.reply(
      encodeError(`ERR CONFIG ${sub.toUpperCase()} is not supported by interface-hash-server: the nodes' configuration is managed by the proxy`),
    );
  }
  if (f.argc < 3) return s.reply(encodeError(arityError('config|get')));
  const proto = s.protocol;
  const filter = (reply: Buffer): Buffer => {
    const elems = mapElements(reply);
    if (elems === null) return reply;
    const kept: Buffer[] = [];
    for (let i = 0; i + 1 < elems.length; i += 2) {
      const name = decodeReply(elems[i]);
      if (Buffer.isBuffer(name) && SECRET_CONFIG.has(name.toString('latin1'))) continue;
      kept.push(elems[i], elems[i + 1]);
    }
    return encodeMap(kept, proto);
  };
  toReachableMaster(ctx, s, f.raw, new TransformSink(filter, s.openSlot()));
}

/**
 * SCRIPT KILL / FUNCTION KILL: to every master, on its control connection. Redis does not
 * read the connection that runs the script (nor anything pipelined behind it there), but
 * serves these on any other while busy. OK if a master killed something; otherwise the
 * first error that says more than NOTBUSY (UNKILLABLE, a master down), else NOTBUSY.
 */
function killScripts(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const masters = ctx.router.servingMasters;
  const gather = new Gather(masters.length, mergeKill, s.openSlot());
  for (let i = 0; i < masters.length; i++) ctx.router.sendToControl(masters[i], f.raw, gather.part(i));
}

const NOTBUSY = Buffer.from('-NOTBUSY ', 'latin1');

function mergeKill(parts: Buffer[]): Buffer {
  let notBusy: Buffer | undefined;
  let other: Buffer | undefined;
  for (const p of parts) {
    if (p[0] === 0x2b /* '+' */) return p;
    if (p.length >= NOTBUSY.length && p.compare(NOTBUSY, 0, NOTBUSY.length, 0, NOTBUSY.length) === 0) notBusy ??= p;
    else other ??= p;
  }
  return other ?? notBusy ?? UNEXPECTED_REPLY;
}

/** SCRIPT LOAD/FLUSH/EXISTS go to every master so EVALSHA works wherever its keys live. */
function script(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc < 2) return s.reply(encodeError(arityError('script')));
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'load':
    case 'flush':
      return fanoutUp(ctx, s, f.raw, sameAsFirst);
    case 'kill':
      return killScripts(ctx, s, f);
    case 'exists':
      // A script exists only if every master (that is up) has it.
      return fanoutUp(ctx, s, f.raw, (parts) => {
        const lists = parts.map(arrayElements);
        const first = lists[0];
        if (!first) return UNEXPECTED_REPLY;
        const merged: Buffer[] = [];
        for (let i = 0; i < first.length; i++) {
          const everywhere = lists.every((l) => l !== null && l[i] !== undefined && integerOf(l[i]) === 1);
          merged.push(encodeInteger(everywhere ? 1 : 0));
        }
        return encodeArray(merged);
      });
    case 'help':
      return toAnyMaster(ctx, s, f);
    default:
      return s.reply(encodeError(`ERR SCRIPT ${sub.toUpperCase()} is not supported by interface-hash-server`));
  }
}

/** FUNCTION libraries are kept identical on every master; reads come from one. */
function func(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc < 2) return s.reply(encodeError(arityError('function')));
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'load':
    case 'delete':
    case 'flush':
    case 'restore':
      return fanout(ctx, s, f.raw, sameAsFirst);
    case 'kill':
      return killScripts(ctx, s, f);
    case 'list':
    case 'dump':
    case 'stats':
    case 'help':
      return toAnyMaster(ctx, s, f);
    default:
      return s.reply(encodeError(`ERR FUNCTION ${sub.toUpperCase()} is not supported by interface-hash-server`));
  }
}

export const serverCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>([
  ['dbsize', { handler: dbsize }],
  ['keys', { handler: keys }],
  ['scan', { handler: scan }],
  ['randomkey', { handler: randomkey }],
  ['flushall', { handler: flush }],
  ['flushdb', { handler: flush }],
  ['info', { handler: info }],
  ['config', { handler: config }],
  ['script', { handler: script }],
  ['function', { handler: func }],
  ['command', { handler: toAnyMaster }],
  ['lolwut', { handler: toAnyMaster }],
]);
