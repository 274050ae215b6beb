/**
 * The nodes' own diagnostics and persistence, merged over every master serving slots as
 * one Redis would answer: SLOWLOG, LATENCY, MEMORY, LASTSAVE, SAVE/BGSAVE/BGREWRITEAOF,
 * WAIT (wait-call.ts) and the ACL subcommands that make sense for the proxy's users.
 *
 * Choices where one node's answer has no single cluster-wide equivalent:
 * - SLOWLOG GET: every master's entries, newest first, capped by count; the client field
 *   (a proxy connection's address on the node) is the node's address, to say where it ran.
 * - LATENCY LATEST: one row per event, the most recent sample of any master, and the
 *   highest max; HISTORY: the masters' samples by time. DOCTOR/GRAPH and MEMORY DOCTOR/
 *   MALLOC-STATS: each master's text under a `node host:port` line. HISTOGRAM: one master.
 * - MEMORY STATS: integer fields summed, the others (ratios, nested maps) from one master.
 * - LASTSAVE: the oldest of the masters' last saves, so a tool that waits for LASTSAVE to
 *   change after BGSAVE waits until every master has saved.
 */
import { argString, type RequestFrame } from '../../resp/frame.js';
import { arrayElements, decodeReply, mapElements } from '../../resp/reply-value.js';
import { encodeArray, encodeBulk, encodeError, encodeInteger, encodeMap, encodeVerbatim, OK, type Protocol } from '../../resp/encode.js';
import { commandByName } from '../../commands/command-table.js';
import type { ClientSession } from '../session.js';
import type { HandlerEntry, ProxyContext } from '../context.js';
import { arityError, parseInteger, unknownSubcommand } from '../request-checks.js';
import { fanout, fanoutParts, toReachableMaster } from './server-commands.js';
import { mergeReachable } from './every-node.js';
import { integerOf, sumIntegers, UNEXPECTED_REPLY } from '../datapath/reply-merge.js';
import { unsupportedMessage } from './unsupported.js';
import { userOf } from './client-commands.js';
import { aclWithUsers } from './acl-commands.js';
import { waitForReplicas } from '../modes/wait-call.js';

const NOT_INTEGER = encodeError('ERR value is not an integer or out of range');
const MEMORY_USAGE = commandByName('memory|usage')!;

function unknownSubcommandOf(container: string, f: RequestFrame): Buffer {
  return encodeError(unknownSubcommand(container, argString(f, 1)));
}

/** host:port of every master a fan-out goes to, in the order of its parts. */
function masterAddresses(ctx: ProxyContext): string[] {
  const map = ctx.router.slotMap;
  return ctx.router.servingMasters.map((i) => `${map.masters[i].host}:${map.masters[i].port}`);
}

/** A node's text reply: bulk, simple or (RESP3) verbatim string. */
function textOf(reply: Buffer): string | undefined {
  const v = decodeReply(reply);
  if (Buffer.isBuffer(v)) return v.toString('latin1'); // bytes as they are (the encoders write strings as latin1)
  return typeof v === 'string' ? v : undefined;
}

/**
 * Each master's text reply under a header line naming it (DOCTOR, GRAPH, MALLOC-STATS).
 * All parts, in the order of `addresses` (a master that cannot be reached has no text):
 * the reachable ones alone would shift the names.
 */
function perNodeText(ctx: ProxyContext, s: ClientSession, raw: Buffer): void {
  const addresses = masterAddresses(ctx);
  fanoutParts(ctx, s, raw, (parts) => {
    const texts: string[] = [];
    parts.forEach((p, i) => {
      const text = textOf(p);
      if (text !== undefined) texts.push(`node ${addresses[i]}:\n${text}`);
    });
    return texts.length === 0 ? mergeReachable(() => UNEXPECTED_REPLY)(parts) : encodeVerbatim(texts.join('\n'), s.protocol);
  });
}

// ---- SLOWLOG ----------------------------------------------------------------------------

function slowlog(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'get': {
      if (f.argc > 3) return s.reply(encodeError(arityError('slowlog|get')));
      let count = 10;
      if (f.argc === 3) {
        const n = parseInteger(argString(f, 2));
        if (n === undefined) return s.reply(NOT_INTEGER);
        count = n;
        if (count < -1) return s.reply(encodeError('ERR count should be greater than or equal to -1'));
      }
      const addresses = masterAddresses(ctx);
      return fanout(ctx, s, f.raw, (parts) => mergeSlowlog(parts, addresses, count));
    }
    case 'len':
      return fanout(ctx, s, f.raw, sumIntegers);
    case 'reset':
      return fanout(ctx, s, f.raw, () => OK);
    case 'help':
      return toReachableMaster(ctx, s, f.raw);
    default:
      return s.reply(unknownSubcommandOf('SLOWLOG', f));
  }
}

/** Entries of every master, newest first (then by id), at most `count` (-1: all). */
function mergeSlowlog(parts: Buffer[], addresses: string[], count: number): Buffer {
  const entries: { time: number; id: number; fields: Buffer[] }[] = [];
  for (let i = 0; i < parts.length; i++) {
    const list = arrayElements(parts[i]);
    if (list === null) return UNEXPECTED_REPLY;
    for (const entry of list) {
      const fields = arrayElements(entry);
      if (fields === null || fields.length < 4) return UNEXPECTED_REPLY;
      if (fields.length >= 5) fields[4] = encodeBulk(addresses[i]);
      entries.push({ time: integerOf(fields[1]), id: integerOf(fields[0]), fields });
    }
  }
  entries.sort((a, b) => b.time - a.time || b.id - a.id);
  const kept = count === -1 ? entries : entries.slice(0, count);
  return encodeArray(kept.map((e) => encodeArray(e.fields)));
}

// ---- LATENCY ----------------------------------------------------------------------------

function latency(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'latest':
      return fanout(ctx, s, f.raw, mergeLatest);
    case 'history':
      return fanout(ctx, s, f.raw, mergeHistory);
    case 'reset':
      return fanout(ctx, s, f.raw, sumIntegers);
    case 'doctor':
    case 'graph':
      return perNodeText(ctx, s, f.raw);
    case 'histogram':
    case 'help':
      return toReachableMaster(ctx, s, f.raw);
    default:
      return s.reply(unknownSubcommandOf('LATENCY', f));
  }
}

/** LATEST rows [event, time, latest, max]: one per event, latest from the newest sample, the highest max. */
function mergeLatest(parts: Buffer[]): Buffer {
  const rows = new Map<string, { time: number; latest: number; max: number; name: Buffer }>();
  for (const p of parts) {
    const list = arrayElements(p);
    if (list === null) return UNEXPECTED_REPLY;
    for (const row of list) {
      const f = arrayElements(row);
      if (f === null || f.length !== 4) return UNEXPECTED_REPLY;
      const event = f[0].toString('latin1');
      const time = integerOf(f[1]);
      const latest = integerOf(f[2]);
      const max = integerOf(f[3]);
      const seen = rows.get(event);
      if (seen === undefined) rows.set(event, { time, latest, max, name: f[0] });
      else {
        if (time > seen.time) Object.assign(seen, { time, latest });
        seen.max = Math.max(seen.max, max);
      }
    }
  }
  return encodeArray([...rows.values()].map((r) => encodeArray([r.name, encodeInteger(r.time), encodeInteger(r.latest), encodeInteger(r.max)])));
}

/** HISTORY samples [time, latency] of every master, oldest first. */
function mergeHistory(parts: Buffer[]): Buffer {
  const samples: { time: number; raw: Buffer }[] = [];
  for (const p of parts) {
    const list = arrayElements(p);
    if (list === null) return UNEXPECTED_REPLY;
    for (const sample of list) {
      const f = arrayElements(sample);
      if (f === null || f.length !== 2) return UNEXPECTED_REPLY;
      samples.push({ time: integerOf(f[0]), raw: sample });
    }
  }
  samples.sort((a, b) => a.time - b.time);
  return encodeArray(samples.map((x) => x.raw));
}

// ---- MEMORY -----------------------------------------------------------------------------

function memory(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'usage':
      return ctx.router.forward(s, f, MEMORY_USAGE);
    case 'stats':
      return fanout(ctx, s, f.raw, (parts) => mergeMemoryStats(parts, s.protocol));
    case 'doctor':
    case 'malloc-stats':
      return perNodeText(ctx, s, f.raw);
    case 'purge':
      return fanout(ctx, s, f.raw, () => OK);
    case 'help':
      return toReachableMaster(ctx, s, f.raw);
    default:
      return s.reply(unknownSubcommandOf('MEMORY', f));
  }
}

/** MEMORY STATS: name/value pairs; integer values summed over masters, others from the first. */
function mergeMemoryStats(parts: Buffer[], protocol: Protocol): Buffer {
  const lists = parts.map(mapElements);
  const first = lists[0];
  if (first === null || first === undefined) return UNEXPECTED_REPLY;
  const out = [...first];
  for (let i = 1; i < out.length; i += 2) {
    if (Number.isNaN(integerOf(out[i]))) continue;
    let sum = 0;
    for (const l of lists) {
      const n = l !== null ? integerOf(l[i] ?? Buffer.alloc(0)) : NaN;
      sum += Number.isNaN(n) ? 0 : n;
    }
    out[i] = encodeInteger(sum);
  }
  return encodeMap(out, protocol);
}

// ---- persistence ------------------------------------------------------------------------

function lastsave(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  fanout(ctx, s, f.raw, (parts) => {
    const times = parts.map(integerOf);
    if (times.some(Number.isNaN)) return UNEXPECTED_REPLY;
    return encodeInteger(Math.min(...times));
  });
}

/** SAVE, BGSAVE, BGREWRITEAOF: on every master; the first error if one failed, else its reply. */
function persist(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  fanout(ctx, s, f.raw, (parts) => parts[0]);
}

function wait(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const replicas = parseInteger(argString(f, 1));
  const timeout = parseInteger(argString(f, 2));
  if (replicas === undefined) return s.reply(NOT_INTEGER);
  if (timeout === undefined) return s.reply(encodeError('ERR timeout is not an integer or out of range'));
  if (timeout < 0) return s.reply(encodeError('ERR timeout is negative'));
  waitForReplicas(ctx, s, replicas, timeout);
}

// ---- ACL --------------------------------------------------------------------------------

const ACL_USERS_ARE_THE_PROXYS = "the proxy's users are set by its --requirepass and --admin-password options, not by ACL";

/**
 * ACL, for the proxy's two users: WHOAMI and USERS describe them; CAT, GENPASS and HELP
 * are the same on any node; what would read or change the nodes' users is refused (those
 * are the proxy's own connections, not its clients).
 */
function acl(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const users = ctx.settings.users;
  if (users !== null) return aclWithUsers(ctx, users, s, f);
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'whoami':
      return s.reply(encodeBulk(userOf(ctx, s)));
    case 'users':
      return s.reply(encodeArray((ctx.settings.adminPassword === '' ? ['default'] : ['admin', 'default']).map((u) => encodeBulk(u))));
    case 'cat':
    case 'genpass':
    case 'help':
      return toReachableMaster(ctx, s, f.raw);
    case 'list':
    case 'getuser':
    case 'setuser':
    case 'deluser':
    case 'dryrun':
    case 'save':
    case 'load':
    case 'log':
      return s.reply(encodeError(unsupportedMessage(`acl ${sub}`, ACL_USERS_ARE_THE_PROXYS)));
    default:
      return s.reply(unknownSubcommandOf('ACL', f));
  }
}

/** ROLE: the proxy is the master its clients see (its nodes' roles: INFO # Nodes). */
const ROLE_MASTER = encodeArray([encodeBulk('master'), encodeInteger(0), encodeArray([])]);

function role(_ctx: ProxyContext, s: ClientSession): void {
  s.reply(ROLE_MASTER);
}

export const nodeCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>([
  ['slowlog', { handler: slowlog }],
  ['latency', { handler: latency }],
  ['memory', { handler: memory }],
  ['acl', { handler: acl }],
  ['lastsave', { handler: lastsave }],
  ['save', { handler: persist }],
  ['bgsave', { handler: persist }],
  ['bgrewriteaof', { handler: persist }],
  ['wait', { handler: wait }],
  ['role', { handler: role }],
  // A self-test of the HyperLogLog code: the same on any node.
  ['pfselftest', { handler: (ctx, s, f) => toReachableMaster(ctx, s, f.raw) }],
]);
