/**
 * ACL for a proxy started with --users-file (without one: node-commands.ts). The users are
 * the file's, plus `admin` (--admin-password) and, when the file has no `default`, the
 * `default` of --requirepass. WHOAMI, USERS, LIST, DRYRUN and LOG answer from them as Redis
 * 7.0 would; CAT, GENPASS and HELP are the same on any node; what would change users is
 * refused: they are the file's.
 */
import { argBuffer, argString, type RequestFrame } from '../../resp/frame.js';
import { encodeArray, encodeBulk, encodeDouble, encodeError, encodeInteger, encodeMap, OK } from '../../resp/encode.js';
import { arityOk, lookupCommand } from '../../commands/command-table.js';
import type { AclUsers } from '../../auth/acl-users.js';
import { sha256Hex } from '../../auth/acl-user.js';
import type { AclLogEntry } from '../../auth/acl-log.js';
import type { ClientSession } from '../session.js';
import type { ProxyContext } from '../context.js';
import { parseInteger, unknownSubcommand } from '../request-checks.js';
import { toReachableMaster } from './server-commands.js';
import { unsupportedMessage } from './unsupported.js';
import { userOf } from './client-commands.js';

const USERS_ARE_THE_FILES = 'the users are those of --users-file (and --requirepass, --admin-password), not set by ACL';

/** The users ACL USERS and ACL LIST show: the file's, `admin` if there is one, the legacy `default` if the file has none. */
function userLines(ctx: ProxyContext, users: AclUsers): Map<string, string> {
  const lines = new Map<string, string>();
  for (const u of users.all()) lines.set(u.name, u.describe());
  const { adminPassword, requirePass } = ctx.settings;
  if (adminPassword !== '') lines.set('admin', `user admin on #${sha256Hex(adminPassword)} ~* &* +@all`);
  if (!lines.has('default')) lines.set('default', `user default on ${requirePass === '' ? 'nopass' : `#${sha256Hex(requirePass)}`} ~* &* +@all`);
  return new Map([...lines].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** ACL DRYRUN user command [arg ...], in Redis 7.0's words. */
function dryRun(users: AclUsers, f: RequestFrame): Buffer {
  const name = argString(f, 2);
  const user = users.get(name);
  // `admin` and the legacy `default` may run everything.
  if (user === undefined) return name === 'admin' || name === 'default' ? OK : encodeError(`ERR User '${name}' not found`);
  // The command and its arguments as a request of their own: the same bytes, from argument 3.
  const sub: RequestFrame = { raw: f.raw, argc: f.argc - 3, offsets: f.offsets.slice(6), inline: false };
  const cmd = lookupCommand(sub);
  if (cmd === undefined || cmd.subcommands !== null) return encodeError(`ERR Command '${argString(f, 3)}' not found`);
  if (!arityOk(cmd, sub.argc)) return encodeError(`ERR wrong number of arguments for '${cmd.name}' command`);
  const denial = user.check(cmd, sub);
  if (denial === null) return OK;
  if (denial.reason === 'command') return encodeBulk(`This user has no permissions to run the '${denial.object}' command`);
  return encodeBulk(`This user has no permissions to access the '${denial.object}' ${denial.reason}`);
}

function logEntry(e: AclLogEntry, s: ClientSession, now: number): Buffer {
  return encodeMap(
    [
      encodeBulk('count'),
      encodeInteger(e.count),
      encodeBulk('reason'),
      encodeBulk(e.reason),
      encodeBulk('context'),
      encodeBulk(e.context),
      encodeBulk('object'),
      encodeBulk(e.object),
      encodeBulk('username'),
      encodeBulk(e.username),
      encodeBulk('age-seconds'),
      encodeDouble((now - e.at) / 1000, s.protocol),
      encodeBulk('client-info'),
      encodeBulk(e.clientInfo),
    ],
    s.protocol,
  );
}

/** ACL LOG [count | RESET]. */
function log(users: AclUsers, s: ClientSession, f: RequestFrame): Buffer {
  if (f.argc > 3) return encodeError('ERR syntax error');
  if (f.argc === 3) {
    const arg = argString(f, 2);
    if (arg.toLowerCase() === 'reset') {
      users.log.reset();
      return OK;
    }
    const count = parseInteger(arg);
    if (count === undefined || count < 0) return encodeError('ERR value is out of range, must be positive');
    const now = Date.now();
    return encodeArray(users.log.newest(count).map((e) => logEntry(e, s, now)));
  }
  const now = Date.now();
  return encodeArray(users.log.newest(10).map((e) => logEntry(e, s, now)));
}

export function aclWithUsers(ctx: ProxyContext, users: AclUsers, s: ClientSession, f: RequestFrame): void {
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'whoami':
      return s.reply(encodeBulk(userOf(ctx, s)));
    case 'users':
      return s.reply(encodeArray([...userLines(ctx, users).keys()].map((u) => encodeBulk(u))));
    case 'list':
      return s.reply(encodeArray([...userLines(ctx, users).values()].map((l) => encodeBulk(l))));
    case 'dryrun':
      return s.reply(dryRun(users, f));
    case 'log':
      return s.reply(log(users, s, f));
    case 'cat':
    case 'genpass':
    case 'help':
      return toReachableMaster(ctx, s, f.raw);
    case 'getuser':
    case 'setuser':
    case 'deluser':
    case 'save':
    case 'load':
      return s.reply(encodeError(unsupportedMessage(`acl ${sub}`, USERS_ARE_THE_FILES)));
    default:
      return s.reply(encodeError(unknownSubcommand('ACL', argBuffer(f, 1).toString('latin1'))));
  }
}
