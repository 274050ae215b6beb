/**
 * Sending one command to every node of the cluster — masters and replicas — for the state
 * Redis keeps per node and clients expect to be the cluster's: the script cache (SCRIPT
 * LOAD/FLUSH) and parameters (CONFIG SET/RESETSTAT).
 *
 * Masters get the request on this session's connections, so a client's next request (an
 * EVALSHA pipelined behind SCRIPT LOAD) reaches each master after it. Replicas serve no
 * client of the proxy until promoted; they get it on a control connection. Nodes flagged
 * failing are left out: they are prepared when they come back (node-preparation.ts).
 */
import type { ReplySink } from '../../backend/reply-sink.js';
import { isUnreachableReply } from '../../backend/connection.js';
import { unreachableMessage, withoutAddress } from '../../backend/unreachable.js';
import { encodeBulk, encodeError, encodeInteger, OK } from '../../resp/encode.js';
import { NodeConnectError, type NodeAddress } from '../../nodes/control-client.js';
import type { ClientSession } from '../session.js';
import type { ProxyContext } from '../context.js';
import { Gather } from '../datapath/reply-slot.js';
import { firstError } from '../datapath/reply-merge.js';

/** Masters by index (serving or not: a master just added gets slots later), but those flagged failing. */
export function liveMasters(ctx: ProxyContext): number[] {
  const masters = ctx.router.slotMap.masters;
  const live: number[] = [];
  for (let i = 0; i < masters.length; i++) if (!masters[i].failing && masters[i].nodeId !== '') live.push(i);
  return live;
}

/** Replicas not flagged failing. */
export function liveReplicas(ctx: ProxyContext): NodeAddress[] {
  return ctx.router.slotMap.masters.flatMap((m) => m.replicas.filter((r) => !r.failing).map((r) => ({ host: r.host, port: r.port })));
}

/**
 * Run one command on a node over a control connection; its reply as a frame: the node's
 * error as it said it, "cannot connect to backend" (an unreachable reply) when it could not
 * be reached, else OK, a bulk string or an integer (what these commands answer).
 */
export async function callOnNode(ctx: ProxyContext, node: NodeAddress, args: readonly (string | Buffer)[]): Promise<Buffer> {
  try {
    const value = await ctx.nodes.clients.with(node, (c) => c.call(String(args[0]), ...args.slice(1)), ctx.nodes.commandTimeoutMs);
    if (typeof value === 'number') return encodeInteger(value);
    if (value === 'OK') return OK;
    if (typeof value === 'string' || Buffer.isBuffer(value)) return encodeBulk(value);
    return OK;
  } catch (err) {
    // The client is told what failed, not which internal node (the health monitor logs that).
    if (err instanceof NodeConnectError) return encodeError(unreachableMessage('cannot connect to backend', withoutAddress(err.reason)));
    const message = (err as Error).message;
    // A node's own error keeps its code (ERR, WRONGTYPE ...); a timeout is the proxy's.
    return encodeError(/^[A-Z]+ /.test(message) ? message : `ERR backend node: ${withoutAddress(message)}`);
  }
}

/**
 * Send a command to every live master (`raw`, on this session's connections) and every live
 * replica (`args`, on control connections); `merge` gets the masters' replies then the
 * replicas', unreachable ones included (see mergeReachable).
 */
export function toEveryNode(
  ctx: ProxyContext,
  s: ClientSession,
  raw: Buffer,
  args: readonly (string | Buffer)[],
  merge: (parts: Buffer[]) => Buffer,
  target: ReplySink = s.openSlot(),
): void {
  const masters = liveMasters(ctx);
  const replicas = liveReplicas(ctx);
  const gather = new Gather(masters.length + replicas.length, merge, target, ctx.runtime.faults);
  masters.forEach((m, i) => ctx.router.sendToMaster(s, m, raw, gather.part(i)));
  replicas.forEach((r, i) => {
    const part = gather.part(masters.length + i);
    void callOnNode(ctx, r, args).then((reply) => part.deliver(reply));
  });
}

/** Send `raw` to these masters (indexes in the slot map) on this session's connections; `merge` gets their replies in that order, unreachable ones included. */
export function toMasters(
  ctx: ProxyContext,
  s: ClientSession,
  masters: readonly number[],
  raw: Buffer,
  merge: (parts: Buffer[]) => Buffer,
  target: ReplySink = s.openSlot(),
): void {
  const gather = new Gather(masters.length, merge, target, ctx.runtime.faults);
  for (let i = 0; i < masters.length; i++) ctx.router.sendToMaster(s, masters[i], raw, gather.part(i));
}

/** Send `raw` to every live master; `merge` gets their replies, unreachable ones included. */
export function toEveryMaster(ctx: ProxyContext, s: ClientSession, raw: Buffer, merge: (parts: Buffer[]) => Buffer, target: ReplySink = s.openSlot()): void {
  toMasters(ctx, s, liveMasters(ctx), raw, merge, target);
}

/**
 * The merge of node state changes: nodes that could not be reached are left out (they are
 * prepared when they come back); the first error of a node that answered is the answer;
 * else `ok` of the replies (the first one's, by default). No node at all → CLUSTERDOWN.
 */
export function mergeReachable(ok: (parts: Buffer[]) => Buffer = (parts) => parts[0]): (parts: Buffer[]) => Buffer {
  return (parts) => {
    const up = parts.filter((p) => !isUnreachableReply(p));
    if (up.length === 0) return parts[0] ?? NO_NODE;
    return firstError(up) ?? ok(up);
  };
}

const NO_NODE = encodeError('CLUSTERDOWN The cluster is down');
