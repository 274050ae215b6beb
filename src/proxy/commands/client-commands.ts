/**
 * CLIENT, for the proxy's own clients: each client connection of the proxy is a Redis
 * client as CLIENT LIST/INFO/KILL/PAUSE/UNBLOCK/REPLY describe it, in Redis 7.0's words
 * and line format. The nodes' clients (the proxy's pooled connections) are not shown.
 *
 * CLIENT SETINFO (Redis 7.2) is accepted though the nodes are 7.0: stock clients send it
 * on connect, and its lib-name/lib-ver show in CLIENT LIST as 7.2 prints them. NO-TOUCH
 * (7.2) is an unknown subcommand, as on the nodes. TRACKING, CACHING, GETREDIR and
 * TRACKINGINFO are Redis's, over the proxy's own tracking table (modes/tracking-hub.ts).
 */
import { argBuffer, argString, type RequestFrame } from '../../resp/frame.js';
import { encodeBulk, encodeError, encodeInteger, encodeNull, encodeVerbatim, OK } from '../../resp/encode.js';
import { CHANNEL, PATTERN, SHARD } from '../modes/pubsub.js';
import type { ClientSession } from '../session.js';
import type { HandlerEntry, ProxyContext } from '../context.js';
import { arityError, parseInteger, unknownSubcommand } from '../request-checks.js';
import { ClientTracking, parseTracking, setCaching } from '../modes/client-tracking.js';

const SYNTAX_ERROR = encodeError('ERR syntax error');
const BAD_NAME = encodeError('ERR Client names cannot contain spaces, newlines or special characters.');
const NOT_INTEGER = encodeError('ERR value is not an integer or out of range');

/** Redis allows client names of printable characters without spaces. */
export function validClientName(name: Buffer): boolean {
  for (const b of name) if (b < 0x21 || b > 0x7e) return false;
  return true;
}

export function setClientName(s: ClientSession, name: Buffer): Buffer {
  if (!validClientName(name)) return BAD_NAME;
  s.info.name = name.length === 0 ? null : Buffer.from(name);
  return OK;
}

/** A client's address (or the proxy's, `local`) as Redis prints it: ip:port, IPv4 without its IPv6 mapping. */
function addressOf(s: ClientSession, local: boolean): string {
  const ip = (local ? s.socket.localAddress : s.socket.remoteAddress) ?? '';
  const port = (local ? s.socket.localPort : s.socket.remotePort) ?? 0;
  return `${ip.startsWith('::ffff:') ? ip.slice(7) : ip}:${port}`;
}

/** The proxy's user a client is authenticated as: `admin` only where there is such a user. */
export function userOf(ctx: ProxyContext, s: ClientSession): string {
  if (s.info.user !== null) return s.info.user.name;
  return s.info.admin && s.authenticated && ctx.settings.adminPassword !== '' ? 'admin' : 'default';
}

/** Redis counts a client as 'pubsub' while it is subscribed to anything. */
function isSubscriber(c: ClientSession): boolean {
  return c.pubsub?.active === true;
}

/** Redis's CLIENT LIST line for one of the proxy's clients (7.2's field order, lib-name/lib-ver last). */
export function clientInfoLine(ctx: ProxyContext, s: ClientSession): string {
  const now = Date.now();
  const socket = s.socket;
  // The descriptor is not in Node's public API; -1 (Redis's value for a client without one) if absent.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  // Redis's order: P (subscribed), x (in MULTI), b (blocked), t/R/B (tracking), r (READONLY), e (no-evict).
  const subs = s.pubsub;
  const inMulti = s.tx?.inMulti === true;
  let flags = '';
  if (subs?.active === true) flags += 'P';
  if (inMulti) flags += 'x';
  if (s.blocked) flags += 'b';
  const tracking = s.info.tracking;
  if (tracking !== null) flags += tracking.listFlags;
  if (s.replication.readonlyMode) flags += 'r';
  if (s.info.noEvict) flags += 'e';
  const name = s.info.name?.toString('latin1') ?? '';
  return [
    `id=${s.id}`,
    `addr=${addressOf(s, false)}`,
    `laddr=${addressOf(s, true)}`,
    `fd=${fd}`,
    `name=${name}`,
    `age=${Math.floor((now - s.info.createdAt) / 1000)}`,
    `idle=${Math.floor((now - s.info.lastActiveAt) / 1000)}`,
    `flags=${flags === '' ? 'N' : flags}`,
    `db=0 sub=${subs?.sets[CHANNEL].size ?? 0} psub=${subs?.sets[PATTERN].size ?? 0} ssub=${subs?.sets[SHARD].size ?? 0} multi=${inMulti ? s.tx!.queued : -1}`,
    `qbuf=${s.queryBufferBytes} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=${s.retainedBytes} tot-mem=${s.memoryBytes}`,
    `events=r`,
    `cmd=${s.info.lastCommand?.name ?? 'NULL'}`,
    `user=${userOf(ctx, s)}`,
    `redir=${tracking?.on === true ? tracking.redirect : -1} resp=${s.protocol}`,
    `lib-name=${s.info.libName}`,
    `lib-ver=${s.info.libVersion}`,
  ].join(' ');
}

/** The sessions CLIENT LIST [TYPE t] [ID id ...] names; an error reply when the options are wrong. */
function listed(ctx: ProxyContext, f: RequestFrame): ClientSession[] | Buffer {
  const all = [...ctx.clients.sessions()];
  if (f.argc === 2) return all;
  const opt = argString(f, 2).toLowerCase();
  if (opt === 'type' && f.argc === 4) {
    const type = argString(f, 3).toLowerCase();
    if (type === 'normal') return all.filter((c) => !isSubscriber(c));
    if (type === 'pubsub') return all.filter(isSubscriber);
    if (type === 'master' || type === 'replica' || type === 'slave') return [];
    return encodeError(`ERR Unknown client type '${argString(f, 3)}'`);
  }
  if (opt === 'id' && f.argc >= 4) {
    const ids = new Set<number>();
    for (let i = 3; i < f.argc; i++) {
      const id = parseInteger(argString(f, i));
      if (id === undefined || id <= 0) return encodeError('ERR Invalid client ID');
      ids.add(id);
    }
    return all.filter((s) => ids.has(s.id)).sort((a, b) => a.id - b.id);
  }
  return SYNTAX_ERROR;
}


/** CLIENT KILL addr (old form) or CLIENT KILL <filter> <value> ...: closes the matching clients. */
function kill(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const all = [...ctx.clients.sessions()];
  if (f.argc === 3) {
    // Old form: one client by address, itself included; an error when there is none.
    const addr = argString(f, 2);
    const victim = all.find((c) => addressOf(c, false) === addr);
    if (victim === undefined) return s.reply(encodeError('ERR No such client'));
    if (victim === s) return s.replyAndClose(OK);
    victim.destroy();
    return s.reply(OK);
  }
  if (f.argc % 2 !== 0) return s.reply(SYNTAX_ERROR);
  const tests: ((c: ClientSession) => boolean)[] = [];
  let skipMe = true;
  for (let i = 2; i < f.argc; i += 2) {
    const opt = argString(f, i).toLowerCase();
    const value = argString(f, i + 1);
    switch (opt) {
      case 'id': {
        const id = parseInteger(value);
        if (id === undefined || id <= 0) return s.reply(encodeError('ERR client-id should be greater than 0'));
        tests.push((c) => c.id === id);
        break;
      }
      case 'addr':
        tests.push((c) => addressOf(c, false) === value);
        break;
      case 'laddr':
        tests.push((c) => addressOf(c, true) === value);
        break;
      case 'user': {
        if (value !== 'default' && !(value === 'admin' && ctx.settings.adminPassword !== '')) return s.reply(encodeError(`ERR No such user '${value}'`));
        tests.push((c) => userOf(ctx, c) === value);
        break;
      }
      case 'type': {
        const type = value.toLowerCase();
        if (type === 'normal') tests.push((c) => !isSubscriber(c));
        else if (type === 'pubsub') tests.push(isSubscriber);
        else if (type === 'master' || type === 'replica' || type === 'slave') tests.push(() => false);
        else return s.reply(encodeError(`ERR Unknown client type '${value}'`));
        break;
      }
      case 'skipme': {
        const yes = value.toLowerCase();
        if (yes !== 'yes' && yes !== 'no') return s.reply(SYNTAX_ERROR);
        skipMe = yes === 'yes';
        break;
      }
      default:
        return s.reply(SYNTAX_ERROR);
    }
  }
  let killed = 0;
  let self = false;
  for (const c of all) {
    if (!tests.every((t) => t(c))) continue;
    if (c === s) {
      if (skipMe) continue;
      self = true;
    } else {
      c.destroy();
    }
    killed++;
  }
  // Redis closes the calling client after its reply when it killed itself.
  if (self) s.replyAndClose(encodeInteger(killed));
  else s.reply(encodeInteger(killed));
}

function pause(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const ms = parseInteger(argString(f, 2));
  if (ms === undefined) return s.reply(encodeError('ERR timeout is not an integer or out of range'));
  if (ms < 0) return s.reply(encodeError('ERR timeout is negative'));
  let mode: 'write' | 'all' = 'all';
  if (f.argc === 4) {
    const m = argString(f, 3).toLowerCase();
    if (m !== 'write' && m !== 'all') return s.reply(encodeError('ERR CLIENT PAUSE mode must be WRITE or ALL'));
    mode = m;
  } else if (f.argc > 4) {
    return s.reply(SYNTAX_ERROR);
  }
  ctx.clients.pause.pause(ms, mode);
  s.reply(OK);
}

function unblock(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const id = parseInteger(argString(f, 2));
  if (id === undefined) return s.reply(NOT_INTEGER);
  let withError = false;
  if (f.argc === 4) {
    const reason = argString(f, 3).toLowerCase();
    if (reason !== 'timeout' && reason !== 'error') return s.reply(encodeError('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR'));
    withError = reason === 'error';
  } else if (f.argc > 4) {
    return s.reply(SYNTAX_ERROR);
  }
  let target: ClientSession | undefined;
  for (const c of ctx.clients.sessions()) if (c.id === id) target = c;
  if (target === undefined) return s.reply(encodeInteger(0));
  const slot = s.openSlot();
  target.unblock(withError).then(
    (done) => slot.deliver(encodeInteger(done ? 1 : 0)),
    () => slot.deliver(encodeInteger(0)),
  );
}

/** The tracking state of a client that never turned tracking on (CLIENT TRACKINGINFO, GETREDIR). */
const NEVER_TRACKED = new ClientTracking();

/**
 * CLIENT TRACKING ON|OFF [options]: ON is answered once the proxy hears every master's
 * changes, and no later request of the client is taken before (a read sent earlier could
 * be cached with a change of it unheard).
 */
function tracking(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const hub = ctx.tracking;
  const parsed = parseTracking(f, s.info.tracking, (id) => hub.clientExists(id));
  if (Buffer.isBuffer(parsed)) return s.reply(parsed);
  if (parsed === 'off') {
    if (s.info.tracking?.on === true) hub.disable(s);
    return s.reply(OK);
  }
  const state = (s.info.tracking ??= new ClientTracking());
  const slot = s.openSlot();
  let cancelled = false;
  s.runExclusive({
    start(owner) {
      if (cancelled) return;
      hub.enable(s, state, parsed, () => {
        slot.deliver(OK);
        owner.exclusiveDone();
      });
    },
    cancel() {
      cancelled = true;
    },
  });
}

function onOff(s: ClientSession, f: RequestFrame, set: (on: boolean) => void): void {
  const v = argString(f, 2).toLowerCase();
  if (v !== 'on' && v !== 'off') return s.reply(SYNTAX_ERROR);
  set(v === 'on');
  s.reply(OK);
}

function client(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'setname':
      return s.reply(setClientName(s, argBuffer(f, 2)));
    case 'getname':
      return s.reply(s.info.name === null ? encodeNull(s.protocol) : encodeBulk(s.info.name));
    case 'id':
      return s.reply(encodeInteger(s.id));
    case 'setinfo': {
      // Redis 7.2's: not in the 7.0 command table, so its arity is checked here.
      if (f.argc !== 4) return s.reply(encodeError(arityError('client|setinfo')));
      const attr = argString(f, 2).toLowerCase();
      const value = argString(f, 3);
      if (/[^\x21-\x7e]/.test(value)) {
        return s.reply(encodeError(`ERR ${attr}: cannot contain spaces, newlines or special characters.`));
      }
      if (attr === 'lib-name') s.info.libName = value;
      else if (attr === 'lib-ver') s.info.libVersion = value;
      else return s.reply(encodeError(`ERR Unrecognized option '${argString(f, 2)}'`));
      return s.reply(OK);
    }
    case 'info':
      return s.reply(encodeVerbatim(clientInfoLine(ctx, s) + '\n', s.protocol));
    case 'list': {
      const clients = listed(ctx, f);
      if (Buffer.isBuffer(clients)) return s.reply(clients);
      return s.reply(encodeVerbatim(clients.map((c) => clientInfoLine(ctx, c) + '\n').join(''), s.protocol));
    }
    case 'kill':
      return kill(ctx, s, f);
    case 'pause':
      return pause(ctx, s, f);
    case 'unpause':
      ctx.clients.pause.unpause();
      return s.reply(OK);
    case 'unblock':
      return unblock(ctx, s, f);
    case 'reply': {
      const mode = argString(f, 2).toLowerCase();
      if (mode !== 'on' && mode !== 'off' && mode !== 'skip') return s.reply(SYNTAX_ERROR);
      s.setReplyMode(mode);
      if (mode === 'on') s.reply(OK);
      return;
    }
    case 'no-evict':
      return onOff(s, f, (on) => (s.info.noEvict = on));
    case 'getredir': {
      const state = s.info.tracking;
      return s.reply(encodeInteger(state?.on === true ? state.redirect : -1));
    }
    case 'trackinginfo':
      return s.reply((s.info.tracking ?? NEVER_TRACKED).info(s.protocol));
    case 'tracking':
      return tracking(ctx, s, f);
    case 'caching':
      return s.reply(setCaching(s.info.tracking, argString(f, 2)) ?? OK);
    case 'help':
      return ctx.router.sendToMaster(s, ctx.router.anyMaster(s), f.raw, s.openSlot());
    default:
      return s.reply(encodeError(unknownSubcommand('client', argString(f, 1))));
  }
}

export const clientCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>([['client', { handler: client }]]);
