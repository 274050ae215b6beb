/**
 * The cluster's redirects as a request meets them: -MOVED and -ASK name another node, and
 * what a client may be told of them (they name internal nodes). The Router decides where a
 * redirected request goes (Router.followUp); blocking calls follow redirects on their own
 * connection with the same rules.
 */
import { isClusterError, type BackendConnection, type BackendEndpoint } from '../../backend/connection.js';
import type { BackendPool } from '../../backend/pool.js';
import type { ReplySink } from '../../backend/reply-sink.js';
import { encodeCommand, encodeError } from '../../resp/encode.js';

/** A redirect still followed past the router's attempts (MAX_ATTEMPTS): the slot keeps moving. Redis's own reply would name an internal node. */
export const SLOT_MOVING = encodeError('TRYAGAIN The slot is moving between masters, try again later');
const ASKING = encodeCommand(['ASKING']);

/** Where a request goes after a cluster error, and how. */
export interface FollowUp {
  pool: BackendPool;
  /** Send ASKING first (an -ASK redirect: this once). */
  asking: boolean;
  /** Wait this long first (TRYAGAIN, CLUSTERDOWN). */
  delayMs: number;
}

/** What a blocking call needs to follow the cluster's redirects on its own connection. */
export interface RedirectFollower {
  followUp(reply: Buffer, from: BackendEndpoint, attempt: number, since: number): FollowUp | undefined;
}

/** A request the cluster redirected at least once: counts its attempts, passes the final reply on. */
export class Redirected implements ReplySink {
  attempts = 0;
  /** When the first cluster error came back: retries stop once the budget is spent. */
  readonly since = Date.now();
  constructor(readonly target: ReplySink) {}
  deliver(reply: Buffer): void {
    this.target.deliver(reply);
  }
}

/** Where the reply to an ASKING goes: nowhere (an error there shows up on the request after it). */
const DISCARD: ReplySink = { deliver() {} };

/**
 * Send a request where a FollowUp says, with ASKING first when it is an -ASK redirect: the
 * two go out in the same write, so nothing can come between them.
 */
export function sendFollowUp(conn: BackendConnection, asking: boolean, raw: Buffer, sink: ReplySink): void {
  if (asking) conn.send(ASKING, DISCARD);
  conn.send(raw, sink);
}

/** -MOVED or -ASK: a reply that names a node of the cluster. */
export function isRedirect(reply: Buffer): boolean {
  return reply[1] === 0x4d /* M */ || reply[1] === 0x41 /* A */;
}

/**
 * What a client may be told of a cluster error: MOVED/ASK name an internal node, so the
 * client gets the TRYAGAIN a slot still moving deserves; the others as Redis said them.
 */
export function clientClusterError(reply: Buffer): Buffer {
  return reply[0] === 0x2d /* '-' */ && isClusterError(reply) && isRedirect(reply) ? SLOT_MOVING : reply;
}

/** "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" → slot and address. */
export function parseRedirect(text: string): { slot: number; host: string; port: number } | undefined {
  const parts = text.split(' ');
  if (parts.length < 3) return undefined;
  const slot = Number(parts[1]);
  const at = parts[2].lastIndexOf(':');
  const port = Number(parts[2].slice(at + 1));
  if (!Number.isInteger(slot) || at < 0 || !Number.isInteger(port)) return undefined;
  return { slot, host: parts[2].slice(0, at), port };
}
