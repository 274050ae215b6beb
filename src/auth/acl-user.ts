/**
 * One ACL user as the proxy enforces it: enabled or not, its password hashes, the commands
 * it may run, the keys and channels it may touch, and the proxy's own per-user limits.
 * `check` answers whether a request may run, in Redis 7.0's order (acl.c,
 * ACLCheckAllUserCommandPerm): the command first, then every key, then every channel.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { argBuffer, type RequestFrame } from '../resp/frame.js';
import { BS_INDEX, CMD_NO_AUTH, commandByIndex, FK_RANGE, commandEntryCount, KEY_ACCESS, KEY_DELETE, KEY_INSERT, KEY_NOT_KEY, KEY_UPDATE, type CommandInfo } from '../commands/command-table.js';
import { keyIndexes, KEYS_INVALID } from '../commands/key-extraction.js';
import { globMatch } from './glob.js';
import { ACL_CATEGORIES } from './acl-categories.js';

/** Which kinds of access a key pattern grants: `~` both, `%R~` read, `%W~` write. */
export const KEY_READ = 1;
export const KEY_WRITE = 2;

export interface KeyPattern {
  readonly pattern: Buffer;
  /** KEY_READ | KEY_WRITE */
  readonly access: number;
  /** How ACL LIST writes it back: `~app:*`, `%R~app:*`. */
  readonly text: string;
}

/** Why a request was refused, as ACL LOG names the reason, and the refused object. */
export type AclDenial =
  | { readonly reason: 'command'; readonly object: string }
  | { readonly reason: 'key'; readonly object: string }
  | { readonly reason: 'channel'; readonly object: string };

/** The proxy's limits of one user (its extension to the rule line: `proxy-maxclients=`, `proxy-max-ops=`). */
export interface UserLimits {
  /** Connections authenticated as the user at once; 0: no limit. */
  readonly maxClients: number;
  /** Requests per second over all its connections; 0: no limit. */
  readonly maxOpsPerSecond: number;
}

export interface AclUserDefinition {
  readonly name: string;
  readonly enabled: boolean;
  readonly nopass: boolean;
  /** SHA-256 of each password, lowercase hex. */
  readonly passwordHashes: readonly string[];
  /** Indexed by CommandInfo.index: may run. */
  readonly allowed: readonly boolean[];
  readonly allKeys: boolean;
  readonly keys: readonly KeyPattern[];
  readonly allChannels: boolean;
  readonly channels: readonly Buffer[];
  /** The command rules as written, in order (ACL LIST shows them back). */
  readonly commandRules: readonly string[];
  readonly limits: UserLimits;
}

/** Commands whose arguments from `first` on (to `last`, -1: the end) are channels; `literal`: patterns compared as they are (PSUBSCRIBE). */
interface ChannelArgs {
  readonly first: number;
  readonly last: number;
  readonly literal: boolean;
}

const CHANNEL_ARGS: ReadonlyMap<string, ChannelArgs> = new Map([
  ['publish', { first: 1, last: 1, literal: false }],
  ['spublish', { first: 1, last: 1, literal: false }],
  ['subscribe', { first: 1, last: -1, literal: false }],
  ['ssubscribe', { first: 1, last: -1, literal: false }],
  ['psubscribe', { first: 1, last: -1, literal: true }],
]);

export function sha256Hex(secret: Buffer | string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export class AclUser {
  /** Reused for every check: key argument indexes. */
  private readonly keyArgs: number[] = [];

  constructor(readonly def: AclUserDefinition) {}

  get name(): string {
    return this.def.name;
  }

  /**
   * May it run the proxy's admin verbs (ADD, REMOVE, FAILOVER, REBALANCE, LIST) when there is
   * no --admin-password? They are not Redis commands, so no rule names them: they change the
   * cluster as CLUSTER and CONFIG do, so a user needs what those need, every @admin command.
   */
  get administers(): boolean {
    this.administersMemo ??= everyCommand().every((c) => ACL_CATEGORIES.get(c.name)?.includes('admin') !== true || this.def.allowed[c.index] === true);
    return this.administersMemo;
  }

  private administersMemo: boolean | undefined;

  /** Does `pass` open this user (enabled, and nopass or one of its passwords)? */
  passwordOpens(pass: Buffer): boolean {
    if (!this.def.enabled) return false;
    if (this.def.nopass) return true;
    const given = Buffer.from(sha256Hex(pass), 'hex');
    let ok = false;
    for (const h of this.def.passwordHashes) ok = timingSafeEqual(Buffer.from(h, 'hex'), given) || ok;
    return ok;
  }

  /** null: the request may run; else what refused it. */
  check(cmd: CommandInfo, frame: RequestFrame): AclDenial | null {
    const def = this.def;
    if ((cmd.flags & CMD_NO_AUTH) === 0 && def.allowed[cmd.index] !== true) return { reason: 'command', object: cmd.name };
    if (!def.allKeys && cmd.hasKeys) {
      const out = this.keyArgs;
      const n = keyIndexes(cmd, frame, out);
      if (n !== KEYS_INVALID) {
        for (let i = 0; i < n; i++) {
          const key = argBuffer(frame, out[i]);
          if (!this.keyAllowed(key, keyAccessNeeded(cmd, frame, out[i]))) return { reason: 'key', object: key.toString('latin1') };
        }
      }
    }
    const channels = CHANNEL_ARGS.get(cmd.name);
    if (channels !== undefined && !def.allChannels) {
      const last = channels.last === -1 ? frame.argc - 1 : Math.min(channels.last, frame.argc - 1);
      for (let i = channels.first; i <= last; i++) {
        const channel = argBuffer(frame, i);
        if (!this.channelAllowed(channel, channels.literal)) return { reason: 'channel', object: channel.toString('latin1') };
      }
    }
    return null;
  }

  private keyAllowed(key: Buffer, need: number): boolean {
    for (const k of this.def.keys) if ((k.access & need) === need && globMatch(k.pattern, key)) return true;
    return false;
  }

  private channelAllowed(channel: Buffer, literal: boolean): boolean {
    for (const c of this.def.channels) if (literal ? c.equals(channel) : globMatch(c, channel)) return true;
    return false;
  }

  /** The user as ACL LIST writes it: `user <name> on|off #<sha256>... ~keys &channels <command rules>`. */
  describe(): string {
    const d = this.def;
    const parts = ['user', d.name, d.enabled ? 'on' : 'off'];
    if (d.nopass) parts.push('nopass');
    for (const h of d.passwordHashes) parts.push(`#${h}`);
    if (d.allKeys) parts.push('~*');
    else for (const k of d.keys) parts.push(k.text);
    if (d.allChannels) parts.push('&*');
    else {
      parts.push('resetchannels');
      for (const c of d.channels) parts.push(`&${c.toString('latin1')}`);
    }
    // Redis starts a user's command rules from -@all unless they start from +@all.
    if (d.commandRules[0] !== '+@all' && d.commandRules[0] !== '-@all') parts.push('-@all');
    parts.push(...d.commandRules);
    return parts.join(' ');
  }
}

/** The access a key spec's flags ask for, as Redis 7.0 reads them (acl.c ACLSelectorCheckKey): ACCESS read, INSERT/DELETE/UPDATE write; neither (EXISTS): any matching pattern. */
function specNeed(flags: number): number {
  return ((flags & KEY_ACCESS) !== 0 ? KEY_READ : 0) | ((flags & (KEY_INSERT | KEY_DELETE | KEY_UPDATE)) !== 0 ? KEY_WRITE : 0);
}

/**
 * The access the key at argument `at` needs: its key spec's flags. A key is matched to a spec
 * of a fixed index and range (LMOVE's source and destination, SINTERSTORE's destination and
 * sources, MSET's keys); a key found otherwise (keyword specs, numkeys) gets what the
 * command's other specs ask together. SET and BITFIELD, whose flags vary, as their getkeys
 * procedures decide (db.c setGetKeys, bitfieldGetKeys).
 */
function keyAccessNeeded(cmd: CommandInfo, frame: RequestFrame, at: number): number {
  if (cmd.name === 'set') {
    for (let i = 3; i < frame.argc; i++) if (argBuffer(frame, i).toString('latin1').toLowerCase() === 'get') return KEY_READ | KEY_WRITE;
    return KEY_WRITE;
  }
  if (cmd.name === 'bitfield') {
    for (let i = 2; i < frame.argc; i++) {
      const op = argBuffer(frame, i).toString('latin1').toLowerCase();
      if (op === 'set' || op === 'incrby') return KEY_READ | KEY_WRITE;
    }
    return KEY_READ;
  }
  let matched = 0;
  let found = false;
  let others = 0;
  let all = 0;
  for (const spec of cmd.keySpecs) {
    if ((spec.flags & KEY_NOT_KEY) !== 0) continue;
    const need = specNeed(spec.flags);
    all |= need;
    if (spec.bsType !== BS_INDEX || spec.fkType !== FK_RANGE || spec.limit !== 0) {
      others |= need;
      continue;
    }
    const first = spec.bsIndex;
    const last = spec.lastKey >= 0 ? first + spec.lastKey : frame.argc + spec.lastKey;
    if (at >= first && at <= last && (at - first) % spec.keyStep === 0) {
      matched |= need;
      found = true;
    }
  }
  return found ? matched : others !== 0 ? others : all;
}

/** Every command and subcommand of the table, for rules that name many at once. */
export function everyCommand(): CommandInfo[] {
  const all: CommandInfo[] = [];
  for (let i = 0; i < commandEntryCount(); i++) all.push(commandByIndex(i));
  return all;
}

/**
 * May a client authenticated as `user` (null: `default` of --requirepass) run the admin
 * verbs? Only the `admin` user with --admin-password (set where it authenticates);
 * without one, anyone but a --users-file user whose rules do not allow the @admin commands.
 */
export function mayAdminister(adminPassword: string, user: AclUser | null): boolean {
  return adminPassword === '' && (user === null || user.administers);
}
