/**
 * Which arguments of a request are keys, as Redis 7.0 decides it
 * (db.c getKeysFromCommandWithSpecs: key specs first, the command's getkeys procedure
 * when a spec cannot say or the key flags vary).
 *
 *   const n = keyIndexes(cmd, frame, out);
 *
 * Result:
 *   n > 0          out[0..n) hold the argument indexes of the keys (argument 0 is the
 *                  command name), in Redis's order — the order COMMAND GETKEYS lists them.
 *                  Entries of `out` past n are stale; `out` is reused, never cleared.
 *   n === 0        the request has no keys and is well-formed as far as keys go: a keyless
 *                  command (PING, CONFIG GET), or EVAL/FCALL with numkeys 0.
 *   n === KEYS_INVALID (-1)
 *                  Redis will reject the request: wrong number of arguments, an unknown
 *                  subcommand (cmd is the container), a numkeys that is not an integer, is
 *                  negative or exceeds the arguments, numkeys 0 where a key is required
 *                  (ZUNION 0 ...), keys missing (XREAD without STREAMS).
 *                  The proxy can send it to any backend to get Redis's own error reply.
 *
 * Nothing here throws, and nothing allocates once `out` has grown to the largest key count.
 *
 * Deliberate difference from COMMAND GETKEYS: when a numkeys argument is not a strict
 * integer (`3abc`, `+3`, `03`, ` 3`) Redis's fallback procedures read it with atoi() and
 * report keys, and a numkeys beyond 2^31 is truncated to int; here both are KEYS_INVALID,
 * because the command itself rejects such a numkeys and the client should get that error
 * rather than a CROSSSLOT about keys that are not keys.
 */
import type { RequestFrame } from '../resp/frame.js';
import {
  arityOk,
  bytesEqualIgnoreCase,
  BS_INDEX,
  BS_KEYWORD,
  CMD_NO_MANDATORY_KEYS,
  FK_KEYNUM,
  FK_RANGE,
  KEY_INCOMPLETE,
  KEY_NOT_KEY,
  PROC_FIRST_ARG,
  PROC_GEORADIUS,
  PROC_MIGRATE,
  PROC_NUMKEYS,
  PROC_SORT,
  PROC_SORT_RO,
  PROC_XREAD,
  type CommandInfo,
  type KeysProc,
} from './command-table.js';

export const KEYS_INVALID = -1;

/**
 * Key argument indexes of `frame` (a request for `cmd`) into `out`; see the module comment.
 *
 * With `includeNotKeys`, arguments of NOT_KEY specs count as keys too: the channels of
 * sharded Pub/Sub (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE), which live in the slot of their
 * name. (Redis's GET_KEYSPEC_INCLUDE_NOT_KEYS.) Such a command without channels (a bare
 * SUNSUBSCRIBE) gives 0.
 */
export function keyIndexes(cmd: CommandInfo, frame: RequestFrame, out: number[], includeNotKeys = false): number {
  const argc = frame.argc;
  if (!arityOk(cmd, argc)) return KEYS_INVALID;
  // lookupCommand hands back the container itself only when the subcommand is unknown.
  if (cmd.subcommands !== null) return KEYS_INVALID;
  const withNotKeys = includeNotKeys && cmd.hasNotKeys;
  if (!cmd.hasKeys) {
    if (!withNotKeys) return 0;
    return Math.max(0, keysFromSpecs(cmd, frame, out, true));
  }

  // The common case, one key at a fixed place (what keysFromSpecs would find for it).
  const sole = cmd.soleKey;
  if (sole !== 0 && sole < argc) {
    out[0] = sole;
    return 1;
  }
  let n = KEYS_INVALID;
  if (cmd.useKeySpecs) n = keysFromSpecs(cmd, frame, out, withNotKeys);
  if (n < 0) {
    // Redis falls back to the getkeys procedure; without one it reports no keys.
    n = cmd.keysProc === null ? 0 : keysFromProc(cmd.keysProc, frame, out);
  }
  // A command that has keys but got none here is malformed, unless its keys are optional
  // (COMMAND GETKEYS: "Invalid arguments specified for command").
  if (n === 0 && (cmd.flags & CMD_NO_MANDATORY_KEYS) === 0) return KEYS_INVALID;
  return n;
}

/**
 * getKeysUsingKeySpecs: every spec that is not NOT_KEY contributes its keys. Returns -1 when
 * a spec cannot be applied (unknown type, out-of-range positions, bad numkeys, INCOMPLETE),
 * which makes the caller fall back to the getkeys procedure, as Redis does.
 */
function keysFromSpecs(cmd: CommandInfo, frame: RequestFrame, out: number[], includeNotKeys: boolean): number {
  const argc = frame.argc;
  const specs = cmd.keySpecs;
  let k = 0;
  for (let j = 0; j < specs.length; j++) {
    const spec = specs[j];
    if ((spec.flags & KEY_NOT_KEY) !== 0 && !includeNotKeys) continue;

    let first: number;
    if (spec.bsType === BS_INDEX) {
      first = spec.bsIndex;
    } else if (spec.bsType === BS_KEYWORD) {
      first = findKeyword(frame, spec.keyword, spec.startFrom);
      // Keyword absent: this spec has no keys in this request (an optional STORE ...).
      if (first === 0) continue;
    } else {
      return -1;
    }

    let last: number;
    let step: number;
    if (spec.fkType === FK_RANGE) {
      step = spec.keyStep;
      if (spec.lastKey >= 0) last = first + spec.lastKey;
      else if (spec.limit === 0) last = argc + spec.lastKey;
      else last = first + Math.trunc((argc - first) / spec.limit) + spec.lastKey;
    } else if (spec.fkType === FK_KEYNUM) {
      step = spec.keyStep;
      const numIdx = first + spec.keyNumIdx;
      if (numIdx >= argc) return -1;
      const numkeys = parseStrictInt(frame, numIdx);
      if (!(numkeys >= 0)) return -1; // NaN (not an integer) or negative
      first += spec.firstKey;
      last = first + numkeys - 1;
    } else {
      return -1;
    }

    // Out of bounds (too few arguments for the declared keys, or numkeys 0): a syntax
    // error as far as the spec can tell.
    if (last >= argc || last < first || first >= argc) return -1;
    for (let i = first; i <= last; i += step) out[k++] = i;
    if ((spec.flags & KEY_INCOMPLETE) !== 0) return -1;
  }
  return k;
}

/**
 * The index just after `keyword`, or 0 when it is not there. Searched as Redis does: a
 * positive `startFrom` searches forwards and never looks at the last argument (a keyword
 * there has no key after it); a negative one searches backwards from argc+startFrom down to
 * argument 1. (Redis 7.2 stops that backward search at argument 2. Only MIGRATE's KEYS uses
 * one, and that spec is INCOMPLETE, so MIGRATE's procedure has the last word either way.)
 */
function findKeyword(frame: RequestFrame, keyword: Uint8Array, startFrom: number): number {
  const argc = frame.argc;
  const off = frame.offsets;
  const raw = frame.raw;
  if (startFrom > 0) {
    for (let i = startFrom; i < argc - 1; i++) {
      if (bytesEqualIgnoreCase(raw, off[2 * i], off[2 * i + 1], keyword)) return i + 1;
    }
  } else {
    for (let i = argc + startFrom; i >= 1 && i < argc; i--) {
      if (bytesEqualIgnoreCase(raw, off[2 * i], off[2 * i + 1], keyword)) return i + 1;
    }
  }
  return 0;
}

/**
 * Argument i as an integer, parsed as strictly as Redis's string2ll (what the commands
 * themselves use for numkeys): optional '-', no '+', no leading zeros, no spaces, at most
 * 20 characters. NaN when it is not one. Values beyond 2^53 lose precision, which does not
 * matter here: they are compared with argument counts.
 */
function parseStrictInt(frame: RequestFrame, i: number): number {
  const raw = frame.raw;
  let p = frame.offsets[2 * i];
  const end = frame.offsets[2 * i + 1];
  const len = end - p;
  if (len === 0 || len > 20) return NaN;
  if (len === 1 && raw[p] === 0x30) return 0;
  let negative = false;
  if (raw[p] === 0x2d) {
    negative = true;
    p++;
    if (p === end) return NaN;
  }
  if (raw[p] < 0x31 || raw[p] > 0x39) return NaN; // first digit 1-9
  let v = 0;
  for (; p < end; p++) {
    const d = raw[p] - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  if (v > 2 ** 63) return NaN; // does not fit a long long (2^63 - 1 is not a double: the nearest one)
  return negative ? -v : v;
}

function argIs(frame: RequestFrame, i: number, lower: Uint8Array): boolean {
  return bytesEqualIgnoreCase(frame.raw, frame.offsets[2 * i], frame.offsets[2 * i + 1], lower);
}

const LIMIT = Buffer.from('limit');
const GET = Buffer.from('get');
const BY = Buffer.from('by');
const STORE = Buffer.from('store');
const STOREDIST = Buffer.from('storedist');
const KEYS = Buffer.from('keys');
const AUTH = Buffer.from('auth');
const AUTH2 = Buffer.from('auth2');
const BLOCK = Buffer.from('block');
const COUNT = Buffer.from('count');
const GROUP = Buffer.from('group');
const NOACK = Buffer.from('noack');
const STREAMS = Buffer.from('streams');

/** Redis's getkeys procedures (db.c), on argument bytes. -1: the arguments are malformed. */
function keysFromProc(p: KeysProc, frame: RequestFrame, out: number[]): number {
  const argc = frame.argc;
  switch (p.kind) {
    case PROC_NUMKEYS: {
      // genericGetKeys: COMMAND [destkey] numkeys key [key ...] [options]
      if (p.keyCountOfs >= argc) return -1;
      const num = parseStrictInt(frame, p.keyCountOfs);
      if (!(num >= 0) || num > Math.trunc((argc - p.firstKeyOfs) / p.keyStep)) return -1;
      if (num === 0) return 0;
      let k = 0;
      for (let i = 0; i < num; i++) out[k++] = p.firstKeyOfs + i * p.keyStep;
      if (p.storeKeyOfs !== 0) out[k++] = p.storeKeyOfs;
      return k;
    }
    case PROC_SORT: {
      // sortGetKeys: the sorted key, and the last STORE's destination. Options are skipped
      // by their known argument counts (LIMIT 2, GET 1, BY 1); anything else is one word.
      // Like Redis, a STORE's argument is not skipped, so it is parsed as an option too.
      out[0] = 1;
      let store = 0;
      for (let i = 2; i < argc; i++) {
        if (argIs(frame, i, LIMIT)) i += 2;
        else if (argIs(frame, i, STORE) && i + 1 < argc) store = i + 1;
        else if (argIs(frame, i, GET) || argIs(frame, i, BY)) i += 1;
      }
      if (store === 0) return 1;
      out[1] = store;
      return 2;
    }
    case PROC_SORT_RO:
    case PROC_FIRST_ARG:
      out[0] = 1;
      return 1;
    case PROC_MIGRATE: {
      // migrateGetKeys: MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw]
      // [AUTH2 user pw] [KEYS key ...]. KEYS is only valid with an empty key argument.
      let first = 3;
      let num = 1;
      for (let i = 6; i < argc; i++) {
        if (argIs(frame, i, KEYS)) {
          if (frame.offsets[7] - frame.offsets[6] > 0) {
            num = 0; // syntax error: leave it to MIGRATE itself
          } else {
            first = i + 1;
            num = argc - first;
          }
          break;
        }
        // COPY and REPLACE take no argument; other unknown words are skipped one by one too.
        if (argIs(frame, i, AUTH)) i += 1;
        else if (argIs(frame, i, AUTH2)) i += 2;
      }
      for (let i = 0; i < num; i++) out[i] = first + i;
      return num;
    }
    case PROC_GEORADIUS: {
      // georadiusGetKeys: the key, and the last STORE/STOREDIST destination.
      let stored = -1;
      for (let i = 5; i < argc; i++) {
        if ((argIs(frame, i, STORE) || argIs(frame, i, STOREDIST)) && i + 1 < argc) {
          stored = i + 1;
          i++;
        }
      }
      out[0] = 1;
      if (stored === -1) return 1;
      out[1] = stored;
      return 2;
    }
    case PROC_XREAD: {
      // xreadGetKeys: skip the options before STREAMS; the keys are the first half of what
      // follows it (the second half are the IDs).
      let streamsPos = -1;
      for (let i = 1; i < argc; i++) {
        if (argIs(frame, i, BLOCK) || argIs(frame, i, COUNT)) i += 1;
        else if (argIs(frame, i, GROUP)) i += 2;
        else if (argIs(frame, i, NOACK)) continue;
        else if (argIs(frame, i, STREAMS)) {
          streamsPos = i;
          break;
        } else break;
      }
      if (streamsPos === -1) return -1;
      const rest = argc - streamsPos - 1;
      if (rest === 0 || rest % 2 !== 0) return -1;
      const num = rest / 2;
      for (let i = 0; i < num; i++) out[i] = streamsPos + 1 + i;
      return num;
    }
    default:
      return 0;
  }
}
