/**
 * CONFIG as a client of one big Redis expects it:
 * - SET of the allowed parameters (cluster/node-config.ts) goes to every node, masters and
 *   replicas, and is remembered in the proxy's document so a node that joins or restarts
 *   later, or every node after a proxy restart, gets it too (node-preparation.ts). Several
 *   pairs are all-or-nothing as in Redis: the proxy checks the names, one master checks
 *   the values (and applies them all or none), and only then do the others get them.
 *   Anything else is refused, saying why; a name Redis does not know gets Redis's error.
 * - GET is answered by one master, without the nodes' secrets, paths and addresses; `port`
 *   is the proxy's (the one the client connected to).
 * - maxmemory-clients is the proxy's own (its clients are the proxy's, not the nodes'):
 *   GET shows and SET changes --maxmemory-clients; the nodes keep theirs. So is
 *   tracking-table-max-keys (the proxy's tracking table, modes/tracking-hub.ts).
 * - RESETSTAT on every node, and of the proxy's own command statistics.
 * - REWRITE is accepted and does nothing: what it promises — the values set survive a
 *   restart — the proxy's document already does (the nodes' redis.conf is the proxy's).
 */
import { argString, type RequestFrame } from '../../resp/frame.js';
import { decodeReply, mapElements } from '../../resp/reply-value.js';
import { encodeBulk, encodeCommand, encodeError, encodeMap, OK } from '../../resp/encode.js';
import { configGetTreatment, configSetVerdict, refusedConfigError, unlistedConfigError } from '../../cluster/node-config.js';
import type { ClientSession } from '../session.js';
import { TransformSink } from '../datapath/reply-slot.js';
import type { HandlerEntry, ProxyContext } from '../context.js';
import { arityError, parseInteger, unknownSubcommand } from '../request-checks.js';
import { callOnNode, liveMasters, liveReplicas, mergeReachable, toEveryNode } from './every-node.js';
import { toReachableMaster } from './server-commands.js';
import { parseClientMemoryCap, type ClientMemoryCap } from '../limits.js';

function config(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const sub = argString(f, 1).toLowerCase();
  switch (sub) {
    case 'get':
      return configGet(ctx, s, f);
    case 'set':
      return configSet(ctx, s, f);
    case 'resetstat':
      // The proxy's own commandstats/errorstats/latencystats too: INFO shows those.
      ctx.commandStats.reset();
      return toEveryNode(ctx, s, f.raw, ['CONFIG', 'RESETSTAT'], mergeReachable(() => OK));
    case 'rewrite':
      return s.reply(OK);
    case 'help':
      return toReachableMaster(ctx, s, f.raw);
    default:
      return s.reply(encodeError(unknownSubcommand('config', argString(f, 1))));
  }
}

function configGet(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const filter = (reply: Buffer): Buffer => {
    const elems = mapElements(reply); // a map in RESP3, a flat array in RESP2
    if (elems === null) return reply; // an error: pass it on
    const kept: Buffer[] = [];
    for (let i = 0; i + 1 < elems.length; i += 2) {
      const name = decodeReply(elems[i]);
      const treatment = Buffer.isBuffer(name) ? configGetTreatment(name.toString('latin1')) : 'show';
      if (treatment === 'hide') continue;
      if (treatment === 'proxy-port') kept.push(elems[i], encodeBulk(String(ctx.settings.port)));
      else if (treatment === 'proxy-maxmemory-clients') kept.push(elems[i], encodeBulk(ctx.clients.memory.configValue));
      else if (treatment === 'proxy-tracking-table-max-keys') kept.push(elems[i], encodeBulk(String(ctx.tracking.maxKeys)));
      else kept.push(elems[i], elems[i + 1]);
    }
    return encodeMap(kept, s.protocol);
  };
  toReachableMaster(ctx, s, f.raw, new TransformSink(filter, s.openSlot(), ctx.runtime.faults));
}

function configSet(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const target = s.openSlot();
  void configSetReply(ctx, s, f).then((reply) => target.deliver(reply));
}

/** CONFIG SET's reply, once applied (or refused); also run by a transaction at EXEC. `f` must outlive the read buffer. */
export function configSetReply(ctx: ProxyContext, s: ClientSession, f: RequestFrame): Promise<Buffer> {
  // Pairs (the dispatcher checked there is at least one).
  if (f.argc % 2 !== 0) return Promise.resolve(encodeError(arityError('config|set')));
  return applyConfigSet(ctx, s, f).catch((err: Error) => encodeError(`ERR CONFIG SET failed: ${err.message}`));
}

/** CONFIG SET as described above; resolves to the reply. */
async function applyConfigSet(ctx: ProxyContext, s: ClientSession, f: RequestFrame): Promise<Buffer> {
  const pairs: [string, string][] = [];
  const seen = new Set<string>();
  let clientCap: ClientMemoryCap | undefined;
  let trackingMaxKeys: number | undefined;
  for (let i = 2; i < f.argc; i += 2) {
    const given = argString(f, i);
    if (given.toLowerCase() === 'tracking-table-max-keys') {
      if (trackingMaxKeys !== undefined) return encodeError(`ERR CONFIG SET failed (possibly related to argument '${given}') - duplicate parameter`);
      const n = parseInteger(argString(f, i + 1));
      if (n === undefined) return encodeError(`ERR CONFIG SET failed (possibly related to argument '${given}') - argument couldn't be parsed into an integer`);
      if (n < 0) return encodeError(`ERR CONFIG SET failed (possibly related to argument '${given}') - argument must be between 0 and 9223372036854775807 inclusive`);
      trackingMaxKeys = n;
      continue;
    }
    if (given.toLowerCase() === 'maxmemory-clients') {
      if (clientCap !== undefined) return encodeError(`ERR CONFIG SET failed (possibly related to argument '${given}') - duplicate parameter`);
      try {
        clientCap = parseClientMemoryCap(argString(f, i + 1));
      } catch {
        return encodeError(`ERR CONFIG SET failed (possibly related to argument '${given}') - argument must be a memory or percent value`);
      }
      continue;
    }
    const verdict = configSetVerdict(given, argString(f, i + 1));
    if (verdict.kind === 'refused') return encodeError(refusedConfigError(given, verdict.reason));
    if (verdict.kind === 'other') return (await redisKnows(ctx, s, given)) ? encodeError(unlistedConfigError(given)) : encodeError(`ERR Unknown option or number of arguments for CONFIG SET - '${given}'`);
    if (seen.has(verdict.name)) return encodeError(`ERR CONFIG SET failed (possibly related to argument '${given}') - duplicate parameter`);
    seen.add(verdict.name);
    pairs.push([verdict.name, argString(f, i + 1)]);
  }
  if (pairs.length === 0) {
    if (clientCap !== undefined) ctx.clients.memory.setCap(clientCap);
    if (trackingMaxKeys !== undefined) ctx.tracking.setMaxKeys(trackingMaxKeys);
    return OK;
  }
  const masters = liveMasters(ctx);
  if (masters.length === 0) return encodeError('CLUSTERDOWN The cluster is down');
  // One master checks the values (Redis applies all of them or none, in its own words).
  const args = ['CONFIG', 'SET', ...pairs.flat()];
  const raw = encodeCommand(args);
  const first = await sendToMaster(ctx, s, masters[0], raw);
  if (first[0] !== 0x2b /* '+' */) return first;
  // Remembered before the others get it: a node that misses it (down, or the proxy stops
  // now) gets it when it is prepared again.
  await ctx.nodes.rememberConfig(pairs);
  const rest = await Promise.all([
    ...masters.slice(1).map((m) => sendToMaster(ctx, s, m, raw)),
    ...liveReplicas(ctx).map((r) => callOnNode(ctx, r, args)),
  ]);
  // The nodes took theirs (all or none, on the first master): the proxy's goes with them.
  if (clientCap !== undefined) ctx.clients.memory.setCap(clientCap);
  if (trackingMaxKeys !== undefined) ctx.tracking.setMaxKeys(trackingMaxKeys);
  return mergeReachable(() => OK)([first, ...rest]);
}

/** Whether the nodes have a parameter of this name (CONFIG GET of it is not empty). */
async function redisKnows(ctx: ProxyContext, s: ClientSession, name: string): Promise<boolean> {
  const reply = await new Promise<Buffer>((resolve) => toReachableMaster(ctx, s, encodeCommand(['CONFIG', 'GET', name]), { deliver: resolve }));
  const elems = mapElements(reply);
  return elems === null || elems.length > 0; // an error: do not claim Redis lacks it
}

function sendToMaster(ctx: ProxyContext, s: ClientSession, master: number, raw: Buffer): Promise<Buffer> {
  return new Promise((resolve) => ctx.router.sendToMaster(s, master, raw, { deliver: resolve }));
}

export const configCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>([['config', { handler: config }]]);
