/**
 * Commands about the client's own connection, answered by the proxy without a backend:
 * PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET, READONLY/READWRITE/ASKING, TIME (CLIENT: client-commands.ts).
 */
import { timingSafeEqual } from 'node:crypto';
import { argBuffer, argString, type RequestFrame } from '../../resp/frame.js';
import {
  EMPTY_ARRAY,
  encodeArray,
  encodeBulk,
  encodeError,
  encodeInteger,
  encodeMap,
  encodeSimple,
  OK,
  PONG,
  type Protocol,
} from '../../resp/encode.js';
import { mayAdminister } from '../../auth/acl-user.js';
import type { ClientSession } from '../session.js';
import type { HandlerEntry, ProxyContext } from '../context.js';
import { arityError } from '../request-checks.js';
import { clientInfoLine, setClientName } from './client-commands.js';

const NOAUTH_HELLO = encodeError(
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
);
const WRONGPASS = encodeError('WRONGPASS invalid username-password pair or user is disabled.');
const NOPROTO = encodeError('NOPROTO unsupported protocol version');
const RESET = encodeSimple('RESET');
function sameSecret(want: string, given: Buffer): boolean {
  const w = Buffer.from(want);
  return w.length === given.length && timingSafeEqual(w, given);
}

/**
 * AUTH [user] pass; returns the reply. Users: `default` (--requirepass) runs data
 * commands; `admin` (--admin-password) runs everything, the admin verbs included; with
 * --users-file, its users too (authUser), and wrong passwords are throttled per address.
 */
function authenticate(ctx: ProxyContext, session: ClientSession, user: string, pass: Buffer): Buffer {
  const users = ctx.settings.users;
  if (users === null) return authLegacy(ctx, session, user, pass);
  const address = session.socket.remoteAddress ?? '';
  const wait = users.throttle.blockedFor(address);
  if (wait > 0) return encodeError(`ERR too many wrong passwords from this address: AUTH is refused for ${wait} more seconds`);
  const reply = users.get(user) === undefined ? authLegacy(ctx, session, user, pass) : authUser(ctx, session, user, pass);
  if (reply === WRONGPASS) {
    users.throttle.failed(address);
    users.log.add('auth', 'toplevel', 'AUTH', user, clientInfoLine(ctx, session));
  }
  return reply;
}

/** AUTH as a --users-file user: its password, then its proxy-maxclients. */
function authUser(ctx: ProxyContext, session: ClientSession, name: string, pass: Buffer): Buffer {
  const users = ctx.settings.users;
  const user = users?.get(name);
  if (users === null || user === undefined || !user.passwordOpens(pass)) return WRONGPASS;
  const previous = session.info.user;
  if (previous !== user) {
    if (!users.attach(user)) return encodeError(`ERR max number of clients reached for user '${name}' (proxy-maxclients ${user.def.limits.maxClients})`);
    if (previous !== null) users.detach(previous);
    session.info.user = user;
  }
  session.authenticated = true;
  session.info.admin = mayAdminister(ctx.settings.adminPassword, user);
  return OK;
}

/** Leaves the --users-file user it was (a successful AUTH as `admin` or the legacy `default`). */
function leaveUser(ctx: ProxyContext, session: ClientSession): void {
  if (session.info.user !== null) ctx.settings.users?.detach(session.info.user);
  session.info.user = null;
}

function authLegacy(ctx: ProxyContext, session: ClientSession, user: string, pass: Buffer): Buffer {
  if (user === 'admin' && ctx.settings.adminPassword !== '') {
    if (!sameSecret(ctx.settings.adminPassword, pass)) return WRONGPASS;
    leaveUser(ctx, session);
    session.authenticated = true;
    session.info.admin = true;
    return OK;
  }
  if (ctx.settings.requirePass === '') {
    if (user === 'default') {
      return encodeError(
        'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      );
    }
    return WRONGPASS;
  }
  if (user !== 'default' || !sameSecret(ctx.settings.requirePass, pass)) return WRONGPASS;
  leaveUser(ctx, session);
  session.authenticated = true;
  session.info.admin = ctx.settings.adminPassword === '';
  return OK;
}

function ping(_ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc === 1) s.reply(PONG);
  else if (f.argc === 2) s.reply(encodeBulk(argBuffer(f, 1)));
  else s.reply(encodeError(arityError('ping')));
}

function echo(_ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  s.reply(encodeBulk(argBuffer(f, 1)));
}

function quit(_ctx: ProxyContext, s: ClientSession): void {
  s.replyAndClose(OK);
}

function select(_ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const db = argString(f, 1);
  if (!/^-?\d+$/.test(db)) return s.reply(encodeError('ERR value is not an integer or out of range'));
  if (Number(db) !== 0) return s.reply(encodeError('ERR SELECT is not allowed in cluster mode'));
  s.reply(OK);
}

function auth(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc === 2) s.reply(authenticate(ctx, s, 'default', argBuffer(f, 1)));
  else if (f.argc === 3) s.reply(authenticate(ctx, s, argString(f, 1), argBuffer(f, 2)));
  else s.reply(encodeError('ERR syntax error'));
}

/**
 * HELLO [protover [AUTH user pass] [SETNAME name]], in Redis's order: every option is read
 * first, then AUTH is tried, then the name checked, then the protocol switched; the reply
 * (the proxy's own fields) is a map in the protocol the client speaks from now on.
 */
function hello(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  let protocol: Protocol = s.protocol;
  let i = 1;
  if (f.argc >= 2) {
    const ver = argString(f, 1);
    if (!/^-?\d+$/.test(ver)) return s.reply(encodeError('ERR Protocol version is not an integer or out of range'));
    if (ver !== '2' && ver !== '3') return s.reply(NOPROTO);
    protocol = ver === '2' ? 2 : 3;
    i = 2;
  }
  let credentials: { user: string; pass: Buffer } | null = null;
  let setName: Buffer | null = null;
  for (; i < f.argc; i++) {
    const opt = argString(f, i).toLowerCase();
    if (opt === 'auth' && i + 2 < f.argc) {
      credentials = { user: argString(f, i + 1), pass: argBuffer(f, i + 2) };
      i += 2;
    } else if (opt === 'setname' && i + 1 < f.argc) {
      setName = argBuffer(f, i + 1);
      i += 1;
    } else {
      return s.reply(encodeError(`ERR Syntax error in HELLO option '${argString(f, i)}'`));
    }
  }
  if (credentials !== null) {
    const r = authenticate(ctx, s, credentials.user, credentials.pass);
    if (r !== OK) return s.reply(r);
  }
  if (!s.authenticated) return s.reply(NOAUTH_HELLO);
  if (setName !== null) {
    const named = setClientName(s, setName);
    if (named !== OK) return s.reply(named);
  }
  s.changeProtocol(
    protocol,
    encodeMap(
      [
        encodeBulk('server'),
        encodeBulk('redis'),
        encodeBulk('version'),
        encodeBulk(ctx.settings.version),
        encodeBulk('proto'),
        encodeInteger(protocol),
        encodeBulk('id'),
        encodeInteger(s.id),
        encodeBulk('mode'),
        encodeBulk('cluster'),
        encodeBulk('role'),
        encodeBulk('master'),
        encodeBulk('modules'),
        EMPTY_ARRAY,
      ],
      protocol,
    ),
  );
}

function reset(ctx: ProxyContext, s: ClientSession): void {
  s.pubsub?.leaveAll();
  s.tx?.end(); // RESET discards MULTI and unwatches, as in Redis
  if (s.info.tracking?.on === true) ctx.tracking.disable(s); // and turns tracking off
  s.info.name = null;
  s.info.libName = s.info.libVersion = '';
  // RESET turns CLIENT REPLY back on (its own reply is sent) and NO-EVICT off, as Redis does.
  s.setReplyMode('on');
  s.info.noEvict = false;
  s.replication.readonlyMode = false; // RESET sets READWRITE, as in Redis
  resetUser(ctx, s);
  s.info.admin = mayAdminister(ctx.settings.adminPassword, s.info.user);
  s.changeProtocol(2, RESET);
}

/** RESET: back to who a new connection is (the users file's `on nopass` default user, or --requirepass's rule). */
function resetUser(ctx: ProxyContext, s: ClientSession): void {
  leaveUser(ctx, s);
  const users = ctx.settings.users;
  const initial = users?.defaultUser;
  if (users === null || initial === undefined) {
    s.authenticated = ctx.settings.requirePass === '';
    return;
  }
  const opens = initial.def.enabled && initial.def.nopass && users.attach(initial);
  if (opens) s.info.user = initial;
  s.authenticated = opens;
}

function ok(_ctx: ProxyContext, s: ClientSession): void {
  s.reply(OK);
}

/** READONLY: this connection's keyed reads may be served by replicas (as Redis Cluster lets a READONLY connection read from a replica). */
function readonly(ctx: ProxyContext, s: ClientSession): void {
  s.replication.readonlyMode = true;
  ctx.router.startReplicaReads();
  s.reply(OK);
}

/** READWRITE: back to --read-from. */
function readwrite(_ctx: ProxyContext, s: ClientSession): void {
  s.replication.readonlyMode = false;
  s.reply(OK);
}

function time(_ctx: ProxyContext, s: ClientSession): void {
  // Wall clock with microseconds (1.7e15 µs fits a double exactly).
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  s.reply(encodeArray([encodeBulk(String(Math.floor(micros / 1e6))), encodeBulk(String(micros % 1e6))]));
}

export const connectionCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>([
  ['ping', { handler: ping }],
  ['echo', { handler: echo }],
  ['quit', { handler: quit, noAuth: true }],
  ['select', { handler: select }],
  ['auth', { handler: auth, noAuth: true }],
  ['hello', { handler: hello, noAuth: true }],
  ['reset', { handler: reset, noAuth: true }],
  // READONLY/READWRITE: replica reads for this connection (docs/replica-reads.md). ASKING: the proxy follows ASK itself.
  ['readonly', { handler: readonly }],
  ['readwrite', { handler: readwrite }],
  ['asking', { handler: ok }],
  ['time', { handler: time }],
]);
