/**
 * Commands about the whole dataset, answered by asking every master (or one) and merging:
 * DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL/FLUSHDB, INFO, COMMAND, CONFIG GET, SCRIPT,
 * FUNCTION, LOLWUT.
 */
import { argBuffer, argString, type RequestFrame } from '../resp/frame.js';
import { arrayElements, decodeReply } from '../resp/reply-value.js';
import { encodeArray, encodeBulk, encodeCommand, encodeError, encodeInteger, NULL_BULK, OK } from '../resp/encode.js';
import type { ClientSession } from './session.js';
import { Gather, TransformSink } from './reply-slot.js';
import { arityError, type HandlerEntry, type ProxyContext } from './context.js';
import { renderInfo } from './info.js';
import { concatArrays, firstError, integerOf, sumIntegers, UNEXPECTED_REPLY } from './reply-merge.js';
import { SLOT_NOT_SERVED } from './router.js';
import { SLOT_COUNT } from '../cluster/topology.js';

const INFO_ALL_NODES = encodeCommand(['INFO']);

/** Send `raw` to every master that serves slots and merge the replies into one. */
export function fanout(ctx: ProxyContext, s: ClientSession, raw: Buffer, merge: (parts: Buffer[]) => Buffer): void {
  const masters = ctx.router.servingMasters;
  const gather = new Gather(masters.length, (parts) => firstError(parts) ?? merge(parts), s.openSlot());
  for (let i = 0; i < masters.length; i++) ctx.router.sendToMaster(s, masters[i], raw, gather.part(i));
}

/** Forward the request as it is to one master (the one this client uses for keyless work). */
function toAnyMaster(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  ctx.router.sendToMaster(s, ctx.router.anyMaster(s), f.raw, s.openSlot());
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
  fanout(ctx, s, f.raw, (parts) => {
    const found = parts.filter((p) => p[0] === 0x24 /* '$' */ && p[1] !== 0x2d /* not $-1 */);
    return found.length === 0 ? NULL_BULK : found[Math.floor(Math.random() * found.length)];
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

function info(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sections: string[] = [];
  for (let i = 1; i < f.argc; i++) sections.push(argString(f, i).toLowerCase());
  fanout(ctx, s, INFO_ALL_NODES, (parts) => {
    const texts = parts.map((p) => {
      const v = decodeReply(p);
      return Buffer.isBuffer(v) ? v.toString('latin1') : '';
    });
    return encodeBulk(renderInfo(ctx, texts, sections));
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
  const filter = (reply: Buffer): Buffer => {
    const elems = arrayElements(reply);
    if (elems === null) return reply;
    const kept: Buffer[] = [];
    for (let i = 0; i + 1 < elems.length; i += 2) {
      const name = decodeReply(elems[i]);
      if (Buffer.isBuffer(name) && SECRET_CONFIG.has(name.toString('latin1'))) continue;
      kept.push(elems[i], elems[i + 1]);
    }
    return encodeArray(kept);
  };
  ctx.router.sendToMaster(s, ctx.router.anyMaster(s), f.raw, new TransformSink(filter, s.openSlot()));
}

/** SCRIPT LOAD/FLUSH/EXISTS go to every master so EVALSHA works wherever its keys live. */
function script(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc < 2) return s.reply(encodeError(arityError('script')));
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'load':
    case 'flush':
      return fanout(ctx, s, f.raw, sameAsFirst);
    case 'exists':
      // A script exists only if every master has it.
      return fanout(ctx, s, f.raw, (parts) => {
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
