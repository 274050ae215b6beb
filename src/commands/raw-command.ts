/**
 * The shape of the generated command table (redis-commands.ts): COMMAND INFO of
 * redis-server, kept close to Redis's own vocabulary so it can be checked against
 * `COMMAND INFO` and the Redis docs by eye.
 */
import type { CommandFlagName, KeySpecFlagName } from './command-flags.js';

/** Where the search for a key spec's keys starts. */
export type RawBeginSearch =
  /** Keys start at a fixed argument index. */
  | { readonly type: 'index'; readonly index: number }
  /**
   * Keys start right after `keyword` (compared case-insensitively), searched from argument
   * `startfrom`; a negative `startfrom` counts from the end and searches backwards.
   */
  | { readonly type: 'keyword'; readonly keyword: string; readonly startfrom: number }
  /** Not expressible as a spec: the command's getkeys procedure finds them. */
  | { readonly type: 'unknown' };

/** How many keys follow the begin-search position. */
export type RawFindKeys =
  /**
   * Keys from the start position up to `lastkey` (relative to the start; negative: relative
   * to the end of the arguments), every `keystep`-th argument. With `limit` > 0 and
   * lastkey -1, only the first 1/limit of the remaining arguments (XREAD STREAMS k1 k2 id1 id2).
   */
  | { readonly type: 'range'; readonly lastkey: number; readonly keystep: number; readonly limit: number }
  /**
   * The argument at start+`keynumidx` is the number of keys; the first key is at
   * start+`firstkey`, then every `keystep`-th argument (EVAL script numkeys k1 k2 ...).
   */
  | { readonly type: 'keynum'; readonly keynumidx: number; readonly firstkey: number; readonly keystep: number }
  | { readonly type: 'unknown' };

export interface RawKeySpec {
  readonly flags: readonly KeySpecFlagName[];
  readonly bs: RawBeginSearch;
  readonly fk: RawFindKeys;
}

export interface RawCommand {
  /** Lowercase; a subcommand is named `container|sub` as Redis names it (`object|encoding`). */
  readonly name: string;
  /**
   * Redis arity, counting the command name (and for a subcommand, the container name too):
   * n > 0 means exactly n arguments, -n means at least n.
   */
  readonly arity: number;
  readonly flags: readonly CommandFlagName[];
  /** The legacy (first key, last key, step) triple of COMMAND INFO. */
  readonly keys: readonly [number, number, number];
  readonly keySpecs: readonly RawKeySpec[];
  /** For a container command (OBJECT, CONFIG, XINFO, ...): its subcommands. */
  readonly subcommands?: readonly RawCommand[];
}
