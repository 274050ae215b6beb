/**
 * The Pub/Sub commands, answered through the PubSubHub (src/proxy/modes/pubsub.ts):
 * (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB; and what a client in
 * subscribed mode may still run (RESP2, as Redis 7.0 restricts it).
 *
 * PUBLISH and SPUBLISH go to a node (the cluster spreads them), but their reply counts the
 * proxy's clients the message reached, as one Redis would: the nodes only see the hub's
 * one subscriber connection. PUBSUB answers from the hub for the same reason: the proxy's
 * clients are the cluster's clients (the nodes are not reachable except through it).
 */
import { argBuffer, argString, type RequestFrame } from '../../resp/frame.js';
import { encodeArray, encodeBulk, encodeError, encodeInteger } from '../../resp/encode.js';
import { arityOk, lookupCommand, type CommandInfo } from '../../commands/command-table.js';
import { TransformSink } from '../datapath/reply-slot.js';
import { CROSSSLOT } from '../datapath/router.js';
import { CHANNEL, ClientSubscriptions, confirmation, PATTERN, SHARD, UNSUBSCRIBE_NAME, type TopicKind } from '../modes/pubsub.js';
import type { ClientSession } from '../session.js';
import type { HandlerEntry, ProxyContext } from '../context.js';
import { arityError, unknownSubcommand } from '../request-checks.js';

/** What Redis 7.0 still runs for a RESP2 client in subscribed mode. */
const ALLOWED_WHEN_SUBSCRIBED = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'ping', 'quit', 'reset']);
const PONG = Buffer.from('pong');

/**
 * The reply for a request of a client in subscribed mode when Redis would not run the
 * command as usual (its error, or PING's array form); null when it runs as usual.
 */
export function subscribedModeReply(session: ClientSession, frame: RequestFrame, cmd: CommandInfo): Buffer | null {
  if (session.protocol !== 2 || session.pubsub === null || !session.pubsub.active) return null;
  if (!arityOk(cmd, frame.argc)) return encodeError(arityError(cmd.name));
  const top = cmd.container ?? cmd;
  if (top.name === 'ping') return encodeArray([encodeBulk(PONG), encodeBulk(frame.argc === 2 ? argBuffer(frame, 1) : '')]);
  if (ALLOWED_WHEN_SUBSCRIBED.has(top.name)) return null;
  return encodeError(`ERR Can't execute '${cmd.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`);
}

function subscriptionsOf(ctx: ProxyContext, s: ClientSession): ClientSubscriptions {
  return (s.pubsub ??= new ClientSubscriptions(s, ctx.pubsub));
}

/** Shard channels of one request must share a slot, as keys must (Redis Cluster's CROSSSLOT). */
function sameSlot(ctx: ProxyContext, f: RequestFrame): boolean {
  const slot = ctx.router.slotOfArg(f, 1);
  for (let i = 2; i < f.argc; i++) if (ctx.router.slotOfArg(f, i) !== slot) return false;
  return true;
}

function subscribeCommand(kind: TopicKind) {
  return (ctx: ProxyContext, s: ClientSession, f: RequestFrame): void => {
    if (kind === SHARD && !sameSlot(ctx, f)) return s.reply(CROSSSLOT);
    const client = subscriptionsOf(ctx, s);
    for (let i = 1; i < f.argc; i++) ctx.pubsub.subscribe(client, kind, argBuffer(f, i));
  };
}

function unsubscribeCommand(kind: TopicKind) {
  return (ctx: ProxyContext, s: ClientSession, f: RequestFrame): void => {
    if (kind === SHARD && f.argc > 2 && !sameSlot(ctx, f)) return s.reply(CROSSSLOT);
    const client = subscriptionsOf(ctx, s);
    if (f.argc > 1) {
      for (let i = 1; i < f.argc; i++) ctx.pubsub.unsubscribe(client, kind, argBuffer(f, i));
      return;
    }
    // No names: every one of this kind, or a confirmation with a nil name when there are none.
    const keys = [...client.sets[kind]];
    if (keys.length === 0) return s.push(confirmation(UNSUBSCRIBE_NAME[kind], null, client.count(kind), s.protocol));
    for (const key of keys) ctx.pubsub.unsubscribe(client, kind, Buffer.from(key, 'latin1'));
  };
}

/** Reply with the number of the proxy's subscriptions reached, once the node has taken the message. */
function countedBy(ctx: ProxyContext, kind: typeof CHANNEL | typeof SHARD, channel: Buffer, s: ClientSession): TransformSink {
  return new TransformSink((reply) => (reply[0] === 0x3a /* ':' */ ? encodeInteger(ctx.pubsub.receivers(kind, channel)) : reply), s.openSlot(), ctx.runtime.faults);
}

function publish(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const channel = Buffer.from(argBuffer(f, 1));
  // On the node the proxy's channel subscriptions are on, when it is a master: its subscribers
  // get the message at once, as on one Redis. Any other node relays it over the cluster bus,
  // later — after the publisher has its reply, and slowly for large messages.
  const at = ctx.pubsub.classicAddress;
  const master = at === null ? -1 : ctx.router.slotMap.indexOfAddress(at);
  ctx.router.sendToMaster(s, master === -1 ? ctx.router.anyMaster(s) : master, f.raw, countedBy(ctx, CHANNEL, channel, s));
}

function spublish(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const channel = Buffer.from(argBuffer(f, 1));
  ctx.router.sendToSlot(s, ctx.router.slotOfArg(f, 1), f.raw, countedBy(ctx, SHARD, channel, s));
}

function pubsub(ctx: ProxyContext, s: ClientSession, f: RequestFrame): void {
  const cmd = lookupCommand(f);
  if (cmd === undefined || cmd.container === null) return s.reply(encodeError(unknownSubcommand('pubsub', argString(f, 1))));
  const hub = ctx.pubsub;
  switch (cmd.name) {
    case 'pubsub|channels':
    case 'pubsub|shardchannels': {
      if (f.argc > 3) return s.reply(encodeError(`ERR unknown subcommand or wrong number of arguments for '${argString(f, 1)}'. Try PUBSUB HELP.`));
      const kind = cmd.name === 'pubsub|channels' ? CHANNEL : SHARD;
      return s.reply(encodeArray(hub.activeNames(kind, f.argc === 3 ? argBuffer(f, 2) : null).map((name) => encodeBulk(name))));
    }
    case 'pubsub|numsub':
    case 'pubsub|shardnumsub': {
      const kind = cmd.name === 'pubsub|numsub' ? CHANNEL : SHARD;
      const parts: Buffer[] = [];
      for (let i = 2; i < f.argc; i++) {
        const channel = argBuffer(f, i);
        parts.push(encodeBulk(channel), encodeInteger(hub.subscriberCount(kind, channel)));
      }
      return s.reply(encodeArray(parts));
    }
    case 'pubsub|numpat':
      return s.reply(encodeInteger(hub.patternCount));
    default:
      // PUBSUB HELP: Redis's own text.
      return ctx.router.sendToMaster(s, ctx.router.anyMaster(s), f.raw, s.openSlot());
  }
}

export const pubsubCommands: ReadonlyMap<string, HandlerEntry> = new Map<string, HandlerEntry>([
  ['subscribe', { handler: subscribeCommand(CHANNEL) }],
  ['psubscribe', { handler: subscribeCommand(PATTERN) }],
  ['ssubscribe', { handler: subscribeCommand(SHARD) }],
  ['unsubscribe', { handler: unsubscribeCommand(CHANNEL) }],
  ['punsubscribe', { handler: unsubscribeCommand(PATTERN) }],
  ['sunsubscribe', { handler: unsubscribeCommand(SHARD) }],
  ['publish', { handler: publish }],
  ['spublish', { handler: spublish }],
  ['pubsub', { handler: pubsub }],
]);
