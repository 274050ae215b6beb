/**
 * The command table: request → CommandInfo (name, arity, flags, how to find its keys).
 *
 * `lookupCommand` runs for every request, so it works on the name's bytes where they sit
 * in the request: a case-folding hash of the bytes picks a bucket, then a case-insensitive
 * byte compare confirms the entry. No string is built, nothing is lowercased, nothing is
 * cached per spelling (so there is no cache to bound), and no allocation happens.
 *
 * Naming: `CommandInfo.name` is Redis's own lowercase name: `get`, and for a subcommand
 * `container|sub` (`object|encoding`, `xinfo|stream`), as COMMAND INFO and ACL name them.
 */
import type { RequestFrame } from '../resp/frame.js';
import { commandFlagBits, keySpecFlagBits, KEY_INCOMPLETE, KEY_NOT_KEY, KEY_VARIABLE_FLAGS } from './command-flags.js';
import type { RawCommand, RawKeySpec } from './raw-command.js';
import { REDIS_COMMANDS } from './redis-commands.js';

export * from './command-flags.js';
export { REDIS_VERSION } from './redis-commands.js';

// ---- Key specs, flattened for the hot path ----

export const BS_INDEX = 0;
export const BS_KEYWORD = 1;
export const BS_UNKNOWN = 2;

export const FK_RANGE = 0;
export const FK_KEYNUM = 1;
export const FK_UNKNOWN = 2;

/**
 * One key spec with every field present (one object shape for all specs, so the
 * extraction loop stays monomorphic). Fields that do not apply to the spec's type are 0.
 */
export interface KeySpec {
  /** KEY_* bits. */
  readonly flags: number;
  /** BS_INDEX | BS_KEYWORD | BS_UNKNOWN */
  readonly bsType: number;
  /** BS_INDEX: the argument index of the first key. */
  readonly bsIndex: number;
  /** BS_KEYWORD: the keyword, lowercase ASCII bytes (compared case-insensitively). */
  readonly keyword: Uint8Array;
  /** BS_KEYWORD: where the search starts; negative counts from the end, searching backwards. */
  readonly startFrom: number;
  /** FK_RANGE | FK_KEYNUM | FK_UNKNOWN */
  readonly fkType: number;
  /** FK_RANGE: last key relative to the first (>= 0) or to the end of the arguments (< 0). */
  readonly lastKey: number;
  /** FK_RANGE / FK_KEYNUM: distance between keys (>= 1). */
  readonly keyStep: number;
  /** FK_RANGE with lastKey -1: keys are the first 1/limit of the remaining arguments. */
  readonly limit: number;
  /** FK_KEYNUM: index of the numkeys argument, relative to the begin-search position. */
  readonly keyNumIdx: number;
  /** FK_KEYNUM: index of the first key, relative to the begin-search position. */
  readonly firstKey: number;
}

// ---- Redis's getkeys procedures ----

/**
 * Commands whose key specs cannot express every form (INCOMPLETE or 'unknown' specs,
 * numkeys forms whose spec fails on 0 keys) or whose key flags vary (VARIABLE_FLAGS) have a
 * C procedure in Redis that finds the keys instead (db.c, `*GetKeys`). Which procedure a
 * command uses is not visible in COMMAND INFO, so it is listed here, from Redis 7.0's
 * command JSON files (`get_keys_function`).
 */
export const PROC_NONE = 0;
/** genericGetKeys(storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep): numkeys forms. */
export const PROC_NUMKEYS = 1;
export const PROC_SORT = 2;
export const PROC_SORT_RO = 3;
export const PROC_MIGRATE = 4;
export const PROC_GEORADIUS = 5;
export const PROC_XREAD = 6;
/** setGetKeys / bitfieldGetKeys: the key is always argument 1 (only its flags vary). */
export const PROC_FIRST_ARG = 7;

export interface KeysProc {
  /** PROC_* */
  readonly kind: number;
  /** PROC_NUMKEYS: index of the destination key (0: none), of numkeys, of the first key; key step. */
  readonly storeKeyOfs: number;
  readonly keyCountOfs: number;
  readonly firstKeyOfs: number;
  readonly keyStep: number;
}

function proc(kind: number, storeKeyOfs = 0, keyCountOfs = 0, firstKeyOfs = 0, keyStep = 0): KeysProc {
  return { kind, storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep };
}

const NUMKEYS_AT_1 = proc(PROC_NUMKEYS, 0, 1, 2, 1); // ZUNION numkeys key ...
const NUMKEYS_AT_2 = proc(PROC_NUMKEYS, 0, 2, 3, 1); // EVAL script numkeys key ...
const STORE_NUMKEYS = proc(PROC_NUMKEYS, 1, 2, 3, 1); // ZUNIONSTORE dest numkeys key ...

const KEYS_PROCS: ReadonlyMap<string, KeysProc> = new Map([
  ['zunionstore', STORE_NUMKEYS],
  ['zinterstore', STORE_NUMKEYS],
  ['zdiffstore', STORE_NUMKEYS],
  ['zunion', NUMKEYS_AT_1],
  ['zinter', NUMKEYS_AT_1],
  ['zdiff', NUMKEYS_AT_1],
  ['zintercard', NUMKEYS_AT_1],
  ['sintercard', NUMKEYS_AT_1],
  ['lmpop', NUMKEYS_AT_1],
  ['zmpop', NUMKEYS_AT_1],
  ['blmpop', NUMKEYS_AT_2],
  ['bzmpop', NUMKEYS_AT_2],
  ['eval', NUMKEYS_AT_2],
  ['evalsha', NUMKEYS_AT_2],
  ['eval_ro', NUMKEYS_AT_2],
  ['evalsha_ro', NUMKEYS_AT_2],
  ['fcall', NUMKEYS_AT_2],
  ['fcall_ro', NUMKEYS_AT_2],
  ['sort', proc(PROC_SORT)],
  ['sort_ro', proc(PROC_SORT_RO)],
  ['migrate', proc(PROC_MIGRATE)],
  ['georadius', proc(PROC_GEORADIUS)],
  ['georadiusbymember', proc(PROC_GEORADIUS)],
  ['xread', proc(PROC_XREAD)],
  ['xreadgroup', proc(PROC_XREAD)],
  ['set', proc(PROC_FIRST_ARG)],
  ['bitfield', proc(PROC_FIRST_ARG)],
]);

// ---- CommandInfo ----

/** A command as the proxy sees it; see CommandEntry for the fields. */
export type CommandInfo = CommandEntry;

/** Whether a request with `argc` arguments (name included) satisfies the command's arity. */
export function arityOk(cmd: CommandInfo, argc: number): boolean {
  return cmd.arity >= 0 ? argc === cmd.arity : argc >= -cmd.arity;
}

// ---- Case-insensitive lookup on bytes ----

/** ASCII lowercase of one byte (what strcasecmp compares in the C locale). */
function fold(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

/** FNV-1a over the case-folded bytes: equal for every spelling of the same name. */
function foldedHash(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ fold(buf[i]), 0x01000193);
  return h;
}

/** Whether buf[start, end) equals `lower` (lowercase ASCII) ignoring ASCII case. */
export function bytesEqualIgnoreCase(buf: Uint8Array, start: number, end: number, lower: Uint8Array): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if (fold(buf[start + i]) !== lower[i]) return false;
  }
  return true;
}

interface NameEntry {
  /** The lookup key: the command name, or for a subcommand the part after '|', lowercase. */
  readonly key: Uint8Array;
  readonly info: CommandInfo;
}

/**
 * Commands (or one container's subcommands) by name, found from raw bytes: a fixed array
 * of buckets indexed by the folded hash (cheaper than a Map keyed by a 32-bit number,
 * which is a heap number past 2^30), each holding the few names with that hash.
 */
export class CommandNameTable {
  private static readonly BUCKETS = 1024; // > 4x the largest table (~240 commands)
  private readonly buckets: (NameEntry[] | undefined)[] = new Array<NameEntry[] | undefined>(CommandNameTable.BUCKETS).fill(undefined);
  private readonly entries: CommandInfo[] = [];

  add(key: string, info: CommandInfo): void {
    const bytes = Buffer.from(key.toLowerCase(), 'latin1');
    const slot = foldedHash(bytes, 0, bytes.length) & (CommandNameTable.BUCKETS - 1);
    const bucket = this.buckets[slot];
    if (bucket) bucket.push({ key: bytes, info });
    else this.buckets[slot] = [{ key: bytes, info }];
    this.entries.push(info);
  }

  /** The entry named buf[start, end), any case. */
  find(buf: Uint8Array, start: number, end: number): CommandInfo | undefined {
    const bucket = this.buckets[foldedHash(buf, start, end) & (CommandNameTable.BUCKETS - 1)];
    if (bucket === undefined) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i];
      if (bytesEqualIgnoreCase(buf, start, end, e.key)) return e.info;
    }
    return undefined;
  }

  /** The entry with this name, any case (for code and tests, not the request path). */
  get(name: string): CommandInfo | undefined {
    const bytes = Buffer.from(name, 'latin1');
    return this.find(bytes, 0, bytes.length);
  }

  all(): readonly CommandInfo[] {
    return this.entries;
  }
}

// ---- Building the table from the generated data ----

function buildKeySpec(raw: RawKeySpec, command: string): KeySpec {
  const bs = raw.bs;
  const fk = raw.fk;
  const keyStep = fk.type === 'unknown' ? 0 : fk.keystep;
  // A step < 1 would never advance through the arguments; the data must not have one.
  if (fk.type !== 'unknown' && keyStep < 1) throw new Error(`command table: ${command} has a key spec with keystep ${keyStep}`);
  if (fk.type === 'range' && (fk.limit < 0 || (fk.limit > 0 && fk.lastkey !== -1))) {
    throw new Error(`command table: ${command} has a range key spec with limit ${fk.limit} and lastkey ${fk.lastkey}`);
  }
  return {
    flags: keySpecFlagBits(raw.flags),
    bsType: bs.type === 'index' ? BS_INDEX : bs.type === 'keyword' ? BS_KEYWORD : BS_UNKNOWN,
    bsIndex: bs.type === 'index' ? bs.index : 0,
    keyword: Buffer.from(bs.type === 'keyword' ? bs.keyword.toLowerCase() : '', 'latin1'),
    startFrom: bs.type === 'keyword' ? bs.startfrom : 0,
    fkType: fk.type === 'range' ? FK_RANGE : fk.type === 'keynum' ? FK_KEYNUM : FK_UNKNOWN,
    lastKey: fk.type === 'range' ? fk.lastkey : 0,
    keyStep,
    limit: fk.type === 'range' ? fk.limit : 0,
    keyNumIdx: fk.type === 'keynum' ? fk.keynumidx : 0,
    firstKey: fk.type === 'keynum' ? fk.firstkey : 0,
  };
}

/** A command built from its generated entry (a class: one object shape for every command). */
export class CommandEntry {
  /** Lowercase Redis name; `container|sub` for a subcommand. */
  readonly name: string;
  /** Redis arity, counting the name (and the container's name for a subcommand): n exact, -n at least n. */
  readonly arity: number;
  /** CMD_* bits. */
  readonly flags: number;
  readonly keySpecs: readonly KeySpec[];
  /** Redis's getkeys procedure for this command, or null. */
  readonly keysProc: KeysProc | null;
  /**
   * Whether key extraction starts with the key specs (Redis: the command has a spec that is
   * not NOT_KEY, and none with VARIABLE_FLAGS); otherwise it goes straight to `keysProc`.
   */
  readonly useKeySpecs: boolean;
  /** Whether the command can have key arguments at all (Redis's doesCommandHaveKeys). */
  readonly hasKeys: boolean;
  /**
   * Whether some key spec is NOT_KEY: arguments that are not keys but hash to a slot like
   * one (the channels of SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE).
   */
  readonly hasNotKeys: boolean;
  /**
   * The argument index of the command's one key when its key specs say exactly that (one
   * spec, a fixed index, one key: GET, SET, HGET, INCR ...); 0 otherwise. Key extraction
   * takes it without walking the specs.
   */
  readonly soleKey: number;
  /** For a subcommand: its container (OBJECT for `object|encoding`); otherwise null. */
  readonly container: CommandEntry | null;
  /** For a container command: its subcommands, looked up by argument 1; otherwise null. */
  readonly subcommands: CommandNameTable | null;
  /** The generated entry this was built from (COMMAND INFO data). */
  readonly raw: RawCommand;
  /** Dense index of this entry among all commands and subcommands (per-command counters: INFO commandstats). */
  readonly index: number;

  constructor(raw: RawCommand, container: CommandInfo | null) {
    this.index = ENTRIES.length;
    ENTRIES.push(this);
    this.name = raw.name;
    this.arity = raw.arity;
    this.flags = commandFlagBits(raw.flags);
    this.keySpecs = raw.keySpecs.map((s) => buildKeySpec(s, raw.name));
    this.keysProc = KEYS_PROCS.get(raw.name) ?? null;
    const hasRealKeySpec = this.keySpecs.some((s) => (s.flags & KEY_NOT_KEY) === 0);
    const hasVariableFlags = this.keySpecs.some((s) => (s.flags & KEY_VARIABLE_FLAGS) !== 0);
    this.useKeySpecs = hasRealKeySpec && !hasVariableFlags;
    this.hasKeys = this.keysProc !== null || hasRealKeySpec;
    this.hasNotKeys = this.keySpecs.some((s) => (s.flags & KEY_NOT_KEY) !== 0);
    const only = this.keySpecs.length === 1 ? this.keySpecs[0] : undefined;
    const simple = only !== undefined && this.useKeySpecs && only.bsType === BS_INDEX && only.fkType === FK_RANGE && only.lastKey === 0;
    // (SET and BITFIELD skip the specs, their key flags vary, for a procedure that always names argument 1.)
    const firstArgProc = !this.useKeySpecs && this.keysProc?.kind === PROC_FIRST_ARG;
    this.soleKey = simple && (only.flags & (KEY_NOT_KEY | KEY_INCOMPLETE)) === 0 ? only.bsIndex : firstArgProc ? 1 : 0;
    this.container = container;
    this.raw = raw;
    if (raw.subcommands && raw.subcommands.length > 0) {
      const subs = new CommandNameTable();
      for (const sub of raw.subcommands) {
        const bar = sub.name.indexOf('|');
        subs.add(bar >= 0 ? sub.name.slice(bar + 1) : sub.name, new CommandEntry(sub, this));
      }
      this.subcommands = subs;
    } else {
      this.subcommands = null;
    }
  }
}

/** Every CommandEntry (commands and subcommands), by index: per-command counter arrays are this long. */
const ENTRIES: CommandEntry[] = [];

export function commandEntryCount(): number {
  return ENTRIES.length;
}

export function commandByIndex(index: number): CommandInfo {
  return ENTRIES[index];
}

function buildTable(raws: readonly RawCommand[]): CommandNameTable {
  const table = new CommandNameTable();
  for (const raw of raws) table.add(raw.name, new CommandEntry(raw, null));
  return table;
}

/** Every top-level Redis command, by name. */
export const COMMANDS: CommandNameTable = buildTable(REDIS_COMMANDS);

/**
 * The command a request invokes: looked up by argument 0, any case; for a container
 * command (OBJECT, CONFIG, XINFO, ...) the subcommand named by argument 1. An unknown
 * subcommand, or a container sent without one, gives the container's own entry (its
 * `subcommands` is non-null), so the caller can report it. Unknown command: undefined.
 */
export function lookupCommand(frame: RequestFrame): CommandInfo | undefined {
  if (frame.argc === 0) return undefined;
  const off = frame.offsets;
  const cmd = COMMANDS.find(frame.raw, off[0], off[1]);
  if (cmd === undefined || cmd.subcommands === null || frame.argc < 2) return cmd;
  return cmd.subcommands.find(frame.raw, off[2], off[3]) ?? cmd;
}

/**
 * A command by name, any case: `get`, `OBJECT`, or `object|encoding` for a subcommand.
 * For code and tests; the request path uses lookupCommand.
 */
export function commandByName(name: string): CommandInfo | undefined {
  const bar = name.indexOf('|');
  if (bar < 0) return COMMANDS.get(name);
  return COMMANDS.get(name.slice(0, bar))?.subcommands?.get(name.slice(bar + 1));
}
