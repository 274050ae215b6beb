/**
 * Commands about the client's own connection, answered by the proxy without a backend:
 * PING, ECHO, QUIT, SELECT, HELLO, AUTH, CLIENT, RESET, READONLY/READWRITE/ASKING, TIME.
 */
import { timingSafeEqual } from 'node:crypto';
import { argBuffer, argString, type RequestFrame } from '../resp/frame.js';
import { encodeArray, encodeBulk, encodeError, encodeInteger, encodeSimple, NULL_BULK, OK, PONG } from '../resp/encode.js';
import type { ClientSession } from './session.js';
import { arityError, type HandlerEntry, type ProxyContext } from './context.js';

const NOAUTH_HELLO = encodeError(
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
);
const WRONGPASS = encodeError('WRONGPASS invalid username-password pair or user is disabled.');
const NOPROTO = encodeError('NOPROTO unsupported protocol version');

function sameSecret(want: string, given: Buffer): boolean {
  const w = Buffer.from(want);
  return w.length === given.length && timingSafeEqual(w, given);
}

/**
 * AUTH [user] pass; returns the reply. Users: `default` (--requirepass) runs data
 * commands; `admin` (--admin-password) runs everything, the admin verbs included.
 */
function authenticate(ctx: ProxyContext, session: ClientSession, user: string, pass: Buffer): Buffer {
  if (user === 'admin' && ctx.adminPassword !== '') {
    if (!sameSecret(ctx.adminPassword, pass)) return WRONGPASS;
    session.authenticated = true;
    session.admin = true;
    return OK;
  }
  if (ctx.requirePass === '') {
    if (user === 'default') {
      return encodeError(
        'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      );
    }
    return WRONGPASS;
  }
  if (user !== 'default' || !sameSecret(ctx.requirePass, pass)) return WRONGPASS;
  session.authenticated = true;
  session.admin = ctx.adminPassword === '';
  return OK;
}

/** Redis allows client names of printable characters without spaces. */
function validClientName(name: Buffer): boolean {
  for (const b of name) if (b < 0x21 || b > 0x7e) return false;
  return true;
}
const BAD_NAME = encodeError('ERR Client names cannot contain spaces, newlines or special characters.');

function ping(_ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc === 1) s.reply(PONG);
  else if (f.argc === 2) s.reply(encodeBulk(argBuffer(f, 1)));
  else s.reply(encodeError(arityError('ping')));
}

function echo(_ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc !== 2) s.reply(encodeError(arityError('echo')));
  else s.reply(encodeBulk(argBuffer(f, 1)));
}

function quit(_ctx: ProxyContext, s: ClientSession): void {
  s.replyAndClose(OK);
}

function select(_ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc !== 2) return s.reply(encodeError(arityError('select')));
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

/** HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 only for now. */
function hello(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  let i = 1;
  if (f.argc >= 2) {
    const ver = argString(f, 1);
    if (!/^-?\d+$/.test(ver)) return s.reply(encodeError('ERR Protocol version is not an integer or out of range'));
    if (ver !== '2') return s.reply(NOPROTO);
    i = 2;
  }
  let setName: Buffer | null = null;
  for (; i < f.argc; i++) {
    const opt = argString(f, i).toLowerCase();
    if (opt === 'auth' && i + 2 < f.argc) {
      const r = authenticate(ctx, s, argString(f, i + 1), argBuffer(f, i + 2));
      if (r !== OK) return s.reply(r);
      i += 2;
    } else if (opt === 'setname' && i + 1 < f.argc) {
      setName = argBuffer(f, i + 1);
      if (!validClientName(setName)) return s.reply(BAD_NAME);
      i += 1;
    } else {
      return s.reply(encodeError(`ERR Syntax error in HELLO option '${argString(f, i)}'`));
    }
  }
  if (!s.authenticated) return s.reply(NOAUTH_HELLO);
  if (setName !== null) s.name = setName.length === 0 ? null : Buffer.from(setName);
  s.reply(
    encodeArray([
      encodeBulk('server'),
      encodeBulk('redis'),
      encodeBulk('version'),
      encodeBulk(ctx.version),
      encodeBulk('proto'),
      encodeInteger(2),
      encodeBulk('id'),
      encodeInteger(s.id),
      encodeBulk('mode'),
      encodeBulk('cluster'),
      encodeBulk('role'),
      encodeBulk('master'),
      encodeBulk('modules'),
      encodeArray([]),
    ]),
  );
}

function client(_ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc < 2) return s.reply(encodeError(arityError('client')));
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'setname': {
      if (f.argc !== 3) return s.reply(encodeError(arityError('client|setname')));
      const name = argBuffer(f, 2);
      if (!validClientName(name)) return s.reply(BAD_NAME);
      s.name = name.length === 0 ? null : Buffer.from(name);
      return s.reply(OK);
    }
    case 'getname':
      return s.reply(s.name === null ? NULL_BULK : encodeBulk(s.name));
    case 'id':
      return s.reply(encodeInteger(s.id));
    case 'setinfo': {
      if (f.argc !== 4) return s.reply(encodeError(arityError('client|setinfo')));
      const attr = argString(f, 2).toLowerCase();
      const value = argString(f, 3);
      if (/[\s]/.test(value) || /[^\x21-\x7e]/.test(value)) {
        return s.reply(encodeError(`ERR ${attr}: cannot contain spaces, newlines or special characters.`));
      }
      if (attr === 'lib-name') s.libName = value;
      else if (attr === 'lib-ver') s.libVersion = value;
      else return s.reply(encodeError(`ERR Unrecognized option '${argString(f, 2)}'`));
      return s.reply(OK);
    }
    case 'info':
      return s.reply(encodeBulk(clientInfoLine(s) + '\n'));
    default:
      return s.reply(
        encodeError(`ERR CLIENT ${sub.toUpperCase()} is not supported by interface-hash-server: clients are multiplexed over shared backend connections`),
      );
  }
}

function clientInfoLine(s: ClientSession): string {
  const addr = `${s.socket.remoteAddress ?? ''}:${s.socket.remotePort ?? 0}`;
  const age = Math.floor((Date.now() - s.createdAt) / 1000);
  const name = s.name?.toString('latin1') ?? '';
  return `id=${s.id} addr=${addr} age=${age} db=0 name=${name} lib-name=${s.libName} lib-ver=${s.libVersion}`;
}

function reset(ctx: ProxyContext, s: ClientSession): void {
  s.tx?.end(); // RESET discards MULTI and unwatches, as in Redis
  s.name = null;
  s.libName = s.libVersion = '';
  s.authenticated = ctx.requirePass === '';
  s.admin = ctx.adminPassword === '';
  s.reply(encodeSimple('RESET'));
}

function ok(_ctx: ProxyContext, s: ClientSession): void {
  s.reply(OK);
}

function time(_ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  if (f.argc !== 1) return s.reply(encodeError(arityError('time')));
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
  ['client', { handler: client }],
  ['reset', { handler: reset, noAuth: true }],
  // Cluster-mode clients send these to replicas/migrating nodes; through the proxy they are no-ops.
  ['readonly', { handler: ok }],
  ['readwrite', { handler: ok }],
  ['asking', { handler: ok }],
  ['time', { handler: time }],
]);
