/**
 * Command flags and key-spec flags, as redis-server 7.0 names them in COMMAND INFO,
 * and the bits the proxy tests them with.
 *
 * The generated table (redis-commands.ts) spells flags by name so it stays readable and
 * diffable; command-table.ts turns the names into these bitmasks once, at load.
 */

// ---- Command flags (COMMAND INFO element 3) ----
export const CMD_WRITE = 1 << 0;
export const CMD_READONLY = 1 << 1;
export const CMD_DENYOOM = 1 << 2;
export const CMD_MODULE = 1 << 3;
export const CMD_ADMIN = 1 << 4;
export const CMD_PUBSUB = 1 << 5;
export const CMD_NOSCRIPT = 1 << 6;
export const CMD_BLOCKING = 1 << 7;
export const CMD_LOADING = 1 << 8;
export const CMD_STALE = 1 << 9;
export const CMD_SKIP_MONITOR = 1 << 10;
export const CMD_SKIP_SLOWLOG = 1 << 11;
export const CMD_ASKING = 1 << 12;
export const CMD_FAST = 1 << 13;
export const CMD_NO_AUTH = 1 << 14;
export const CMD_MAY_REPLICATE = 1 << 15;
export const CMD_NO_MANDATORY_KEYS = 1 << 16;
export const CMD_NO_ASYNC_LOADING = 1 << 17;
export const CMD_NO_MULTI = 1 << 18;
export const CMD_MOVABLE_KEYS = 1 << 19;
export const CMD_ALLOW_BUSY = 1 << 20;
export const CMD_MODULE_NO_CLUSTER = 1 << 21;

/** Flag name (as in COMMAND INFO) → bit. */
export const COMMAND_FLAG_BITS = {
  write: CMD_WRITE,
  readonly: CMD_READONLY,
  denyoom: CMD_DENYOOM,
  module: CMD_MODULE,
  admin: CMD_ADMIN,
  pubsub: CMD_PUBSUB,
  noscript: CMD_NOSCRIPT,
  blocking: CMD_BLOCKING,
  loading: CMD_LOADING,
  stale: CMD_STALE,
  skip_monitor: CMD_SKIP_MONITOR,
  skip_slowlog: CMD_SKIP_SLOWLOG,
  asking: CMD_ASKING,
  fast: CMD_FAST,
  no_auth: CMD_NO_AUTH,
  may_replicate: CMD_MAY_REPLICATE,
  no_mandatory_keys: CMD_NO_MANDATORY_KEYS,
  no_async_loading: CMD_NO_ASYNC_LOADING,
  no_multi: CMD_NO_MULTI,
  movablekeys: CMD_MOVABLE_KEYS,
  allow_busy: CMD_ALLOW_BUSY,
  module_no_cluster: CMD_MODULE_NO_CLUSTER,
} as const;

export type CommandFlagName = keyof typeof COMMAND_FLAG_BITS;

// ---- Key-spec flags (COMMAND INFO key specs, "flags") ----
/** Read-only: reads the value but does not modify it. */
export const KEY_RO = 1 << 0;
/** Read-write: modifies the value in place. */
export const KEY_RW = 1 << 1;
/** Overwrite: replaces the value without reading it. */
export const KEY_OW = 1 << 2;
/** Remove: deletes the key. */
export const KEY_RM = 1 << 3;
export const KEY_ACCESS = 1 << 4;
export const KEY_UPDATE = 1 << 5;
export const KEY_INSERT = 1 << 6;
export const KEY_DELETE = 1 << 7;
/** Not a key (e.g. a channel-like argument that must still hash like a key). */
export const KEY_NOT_KEY = 1 << 8;
/** The spec may miss keys: the command's getkeys procedure is authoritative. */
export const KEY_INCOMPLETE = 1 << 9;
/** The flags depend on the arguments (SET ... GET, BITFIELD): use the getkeys procedure. */
export const KEY_VARIABLE_FLAGS = 1 << 10;

export const KEY_SPEC_FLAG_BITS = {
  RO: KEY_RO,
  RW: KEY_RW,
  OW: KEY_OW,
  RM: KEY_RM,
  access: KEY_ACCESS,
  update: KEY_UPDATE,
  insert: KEY_INSERT,
  delete: KEY_DELETE,
  not_key: KEY_NOT_KEY,
  incomplete: KEY_INCOMPLETE,
  variable_flags: KEY_VARIABLE_FLAGS,
} as const;

export type KeySpecFlagName = keyof typeof KEY_SPEC_FLAG_BITS;

/** Bitmask of a list of flag names. */
export function commandFlagBits(names: readonly CommandFlagName[]): number {
  let bits = 0;
  for (const n of names) bits |= COMMAND_FLAG_BITS[n];
  return bits;
}

export function keySpecFlagBits(names: readonly KeySpecFlagName[]): number {
  let bits = 0;
  for (const n of names) bits |= KEY_SPEC_FLAG_BITS[n];
  return bits;
}
