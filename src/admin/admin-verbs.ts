/**
 * The admin verbs over RESP, for `redis-cli -p 6380 LIST` and friends:
 *   ADD MASTER [host:port] · ADD SLAVE|REPLICA <master> [host:port] · LIST (LS) ·
 *   REMOVE <node> · FAILOVER <master> [FORCE] · REBALANCE · REBALANCE LOAD [DRYRUN] · HOTKEYS [COUNT n] · BIGKEYS [COUNT n]
 * Parsing and replies only; what each does is ClusterAdmin's. HOTKEYS and BIGKEYS are this
 * process's own (its key sampler, ops/key-sampler.ts): they answer here, never on the leader. With --admin-password a
 * client must `AUTH admin <password>` first; data users get NOPERM, in Redis's words.
 * Replies come when the change is done (a REBALANCE may take a while: redis-cli waits).
 */
import { argString, type RequestFrame } from '../resp/frame.js';
import { encodeArray, encodeBulk, encodeError, encodeSimple } from '../resp/encode.js';
import type { AdminVerbClient, AdminVerbHandler, AdminVerbTable } from '../commands/admin-verb-table.js';
import { AdminError, parseNodeAddress } from './cluster-admin.js';
import { ADMIN_RPC_VERB, NoLeaderError, type AdminApi, type AdminRpcServer } from './admin-api.js';
import { listLines, type ClusterListing } from '../status/list-format.js';
import { loadRebalanceLines } from '../status/load-rebalance-report.js';
import { bigKeyLine, hotKeyLine } from '../status/key-lines.js';
import type { KeySampler } from '../ops/key-sampler.js';

type Verb = (admin: AdminApi, args: string[]) => Promise<Buffer>;

function usage(text: string): never {
  throw new AdminError(`syntax: ${text}`);
}

const list: Verb = async (admin, args) => {
  if (args.length !== 0) usage('LIST');
  return encodeListing(await admin.list());
};

/** FAILOVER <master> [FORCE]: FORCE for a master that is down (its replica takes over without it). */
const failover: Verb = async (admin, args) => {
  const force = args.length === 2 && args[1].toUpperCase() === 'FORCE';
  if (args.length !== 1 && !force) usage('FAILOVER <master id or host:port> [FORCE]');
  return encodeSimple(await admin.failover(args[0], force ? 'force' : 'planned'));
};

/** ADD MASTER [host:port] | ADD SLAVE|REPLICA <master> [host:port]. */
const add: Verb = async (admin, args) => {
  const what = args[0]?.toUpperCase();
  if (what === 'MASTER') {
    if (args.length > 2) usage('ADD MASTER [host:port]');
    return encodeSimple(await admin.addMaster(args.length === 2 ? parseNodeAddress(args[1]) : undefined));
  }
  if (what === 'SLAVE' || what === 'REPLICA') {
    if (args.length !== 2 && args.length !== 3) usage(`ADD ${what} <master id or host:port> [host:port]`);
    return encodeSimple(await admin.addReplica(args[1], args.length === 3 ? parseNodeAddress(args[2]) : undefined));
  }
  usage('ADD MASTER [host:port] | ADD SLAVE <master> [host:port] | ADD REPLICA <master> [host:port]');
};

/** REBALANCE (slot counts) | REBALANCE LOAD [DRYRUN] (ops/s per master; the plan's lines, as LIST's). */
const rebalance: Verb = async (admin, args) => {
  if (args.length === 0) return encodeSimple(await admin.rebalance());
  const words = args.map((a) => a.toUpperCase());
  if (words[0] !== 'LOAD' || args.length > 2 || (args.length === 2 && words[1] !== 'DRYRUN')) usage('REBALANCE [LOAD [DRYRUN]]');
  const report = await admin.rebalanceLoad(args.length === 2);
  return encodeArray(loadRebalanceLines(report).map((l) => encodeBulk(l)));
};

const remove: Verb = async (admin, args) => {
  if (args.length !== 1) usage('REMOVE <node id or host:port>');
  return encodeSimple(await admin.remove(args[0]));
};

/** The keys a verb lists per shard without COUNT. */
export const DEFAULT_KEY_COUNT = 10;

/** HOTKEYS/BIGKEYS' arguments: [COUNT n], n ≥ 1; the count, or the error reply (Redis's words). */
function keyCount(args: string[]): number | Buffer {
  if (args.length === 0) return DEFAULT_KEY_COUNT;
  if (args.length !== 2 || args[0].toUpperCase() !== 'COUNT') return encodeError('ERR syntax error');
  if (!/^-?[0-9]+$/.test(args[1])) return encodeError('ERR value is not an integer or out of range');
  const n = Number(args[1]);
  if (!Number.isSafeInteger(n)) return encodeError('ERR value is not an integer or out of range');
  if (n <= 0) return encodeError('ERR value is out of range, must be positive');
  return n;
}

/** A verb answered from this process's key sampler: its reply now, or an error. */
type KeyVerb = (keys: KeySampler, args: string[]) => Buffer;

const hotkeys: KeyVerb = (keys, args) => {
  const n = keyCount(args);
  return typeof n === 'number' ? encodeArray(keys.hotKeys(n).map((k) => encodeBulk(hotKeyLine(k)))) : n;
};

const bigkeys: KeyVerb = (keys, args) => {
  const n = keyCount(args);
  return typeof n === 'number' ? encodeArray(keys.bigKeys(n).map((k) => encodeBulk(bigKeyLine(k)))) : n;
};

const KEY_VERBS = new Map<string, KeyVerb>([
  ['HOTKEYS', hotkeys],
  ['BIGKEYS', bigkeys],
]);

/** Verbs by upper-case name. */
const VERBS = new Map<string, Verb>([
  ['LIST', list],
  ['LS', list],
  ['FAILOVER', failover],
  ['ADD', add],
  ['REMOVE', remove],
  ['REBALANCE', rebalance],
]);

/** The admin verbs' names (IHS-ADMIN, the leaders' call, aside): what the auth scan tries as a data user. */
export const ADMIN_VERB_NAMES: readonly string[] = [...VERBS.keys(), ...KEY_VERBS.keys()];

/** Run an admin verb for this client: permission, then the verb; the reply arrives in order. */
function run(admin: AdminApi | undefined, rpc: AdminRpcServer | undefined, keys: KeySampler | undefined, s: AdminVerbClient, f: RequestFrame): void {
  const name = argString(f, 0).toUpperCase();
  if (name === ADMIN_RPC_VERB && rpc !== undefined) return runRpc(rpc, s, f);
  const verb = VERBS.get(name);
  const keyVerb = KEY_VERBS.get(name);
  if (verb === undefined && keyVerb === undefined) return s.reply(encodeError(`ERR unknown admin verb '${name}'`));
  // Key names are data, shard addresses topology: the admin's, as LIST.
  if (!s.admin) return s.reply(encodeError(`NOPERM this user has no permissions to run the '${name.toLowerCase()}' command`));
  const args: string[] = [];
  for (let i = 1; i < f.argc; i++) args.push(argString(f, i));
  if (keyVerb !== undefined) {
    if (keys === undefined) return s.reply(encodeError(`ERR ${name} is not available: this proxy samples no keys`));
    return s.reply(keyVerb(keys, args));
  }
  if (verb === undefined) return; // unreachable: one of the two maps has it
  if (admin === undefined) return s.reply(encodeError(`ERR ${name} is not available: this proxy runs without a cluster to manage`));
  const slot = s.openSlot();
  verb(admin, args).then(
    (reply) => slot.deliver(reply),
    (err: Error) => slot.deliver(encodeError(err instanceof AdminError || err instanceof NoLeaderError ? `ERR ${err.message}` : `ERR ${name} failed: ${err.message}`)),
  );
}

/**
 * `IHS-ADMIN <method> <JSON arguments>`: a follower proxy's call, run here (the leader);
 * the result as a JSON bulk string. An admin's refusal keeps its words; the caller tells
 * it from a failure by the `ERR <method> failed:` prefix.
 */
function runRpc(rpc: AdminRpcServer, s: AdminVerbClient, f: RequestFrame): void {
  if (!s.admin) return s.reply(encodeError(`NOPERM this user has no permissions to run the '${ADMIN_RPC_VERB.toLowerCase()}' command`));
  if (f.argc !== 3) return s.reply(encodeError(`ERR syntax: ${ADMIN_RPC_VERB} <method> <JSON array of arguments>`));
  const method = argString(f, 1);
  let args: unknown;
  try {
    args = JSON.parse(argString(f, 2));
  } catch (err) {
    return s.reply(encodeError(`ERR ${ADMIN_RPC_VERB}: arguments are not JSON (${(err as Error).message})`));
  }
  if (!Array.isArray(args)) return s.reply(encodeError(`ERR ${ADMIN_RPC_VERB}: arguments must be a JSON array`));
  const slot = s.openSlot();
  rpc.serveRpc(method, args).then(
    (result) => slot.deliver(encodeBulk(JSON.stringify(result ?? null))),
    (err: Error) => slot.deliver(encodeError(err instanceof AdminError || err instanceof NoLeaderError ? `ERR ${err.message}` : `ERR ${method} failed: ${err.message}`)),
  );
}

/**
 * The verbs for the proxy's dispatcher, run against `admin` (undefined: each answers that
 * it is not available); with `rpc`, also the calls other proxies forward to this one;
 * HOTKEYS and BIGKEYS from `keys`, this process's sample.
 */
export function adminVerbTable(admin: AdminApi | undefined, rpc?: AdminRpcServer, keys?: KeySampler): AdminVerbTable {
  const handler: AdminVerbHandler = (client, frame) => run(admin, rpc, keys, client, frame);
  return {
    overrides: new Map([['failover', handler]]),
    verb(frame) {
      const word = argString(frame, 0);
      if (word.length > 9) return undefined; // no verb is longer (IHS-ADMIN is 9)
      const name = word.toUpperCase();
      return VERBS.has(name) || KEY_VERBS.has(name) || (rpc !== undefined && name === ADMIN_RPC_VERB) ? handler : undefined;
    },
  };
}

// --- LIST's reply -----------------------------------------------------------------------

/** LIST's lines (status/list-format.ts), one bulk string each. */
function encodeListing(listing: ClusterListing): Buffer {
  return encodeArray(listLines(listing).map((l) => encodeBulk(l)));
}
