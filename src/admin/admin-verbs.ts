/**
 * The admin verbs over RESP, for `redis-cli -p 6380 LIST` and friends:
 *   ADD MASTER [host:port] · ADD SLAVE|REPLICA <master> [host:port] · LIST (LS) ·
 *   REMOVE <node> · FAILOVER <master> · REBALANCE
 * Parsing and replies only; what each does is ClusterAdmin's. With --admin-password a
 * client must `AUTH admin <password>` first; data users get NOPERM, in Redis's words.
 * Replies come when the change is done (a REBALANCE may take a while: redis-cli waits).
 */
import { argString, type RequestFrame } from '../resp/frame.js';
import { encodeArray, encodeBulk, encodeError, encodeSimple } from '../resp/encode.js';
import type { AdminVerbClient, AdminVerbHandler, AdminVerbTable } from '../commands/admin-verb-table.js';
import { AdminError, parseNodeAddress, type ClusterAdmin } from './cluster-admin.js';
import { listLines, type ClusterListing } from '../status/list-format.js';

type Verb = (admin: ClusterAdmin, args: string[]) => Promise<Buffer>;

function usage(text: string): never {
  throw new AdminError(`syntax: ${text}`);
}

const list: Verb = async (admin, args) => {
  if (args.length !== 0) usage('LIST');
  return encodeListing(await admin.list());
};

const failover: Verb = async (admin, args) => {
  if (args.length !== 1) usage('FAILOVER <master id or host:port>');
  return encodeSimple(await admin.failover(args[0]));
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

const rebalance: Verb = async (admin, args) => {
  if (args.length !== 0) usage('REBALANCE');
  return encodeSimple(await admin.rebalance());
};

const remove: Verb = async (admin, args) => {
  if (args.length !== 1) usage('REMOVE <node id or host:port>');
  return encodeSimple(await admin.remove(args[0]));
};

/** Verbs by upper-case name. */
const VERBS = new Map<string, Verb>([
  ['LIST', list],
  ['LS', list],
  ['FAILOVER', failover],
  ['ADD', add],
  ['REMOVE', remove],
  ['REBALANCE', rebalance],
]);

/** Run an admin verb for this client: permission, then the verb; the reply arrives in order. */
function run(admin: ClusterAdmin | undefined, s: AdminVerbClient, f: RequestFrame): void {
  const name = argString(f, 0).toUpperCase();
  const verb = VERBS.get(name);
  if (verb === undefined) return s.reply(encodeError(`ERR unknown admin verb '${name}'`));
  if (!s.admin) return s.reply(encodeError(`NOPERM this user has no permissions to run the '${name.toLowerCase()}' command`));
  if (admin === undefined) return s.reply(encodeError(`ERR ${name} is not available: this proxy runs without a cluster to manage`));
  const args: string[] = [];
  for (let i = 1; i < f.argc; i++) args.push(argString(f, i));
  const slot = s.openSlot();
  verb(admin, args).then(
    (reply) => slot.deliver(reply),
    (err: Error) => slot.deliver(encodeError(err instanceof AdminError ? `ERR ${err.message}` : `ERR ${name} failed: ${err.message}`)),
  );
}

/** The verbs for the proxy's dispatcher, run against `admin` (undefined: each answers that it is not available). */
export function adminVerbTable(admin: ClusterAdmin | undefined): AdminVerbTable {
  const handler: AdminVerbHandler = (client, frame) => run(admin, client, frame);
  return {
    overrides: new Map([['failover', handler]]),
    verb(frame) {
      const name = argString(frame, 0);
      return name.length <= 9 && VERBS.has(name.toUpperCase()) ? handler : undefined;
    },
  };
}

// --- LIST's reply -----------------------------------------------------------------------

/** LIST's lines (status/list-format.ts), one bulk string each. */
function encodeListing(listing: ClusterListing): Buffer {
  return encodeArray(listLines(listing).map((l) => encodeBulk(l)));
}
