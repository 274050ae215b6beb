/**
 * The errors a backend connection makes up when its node could not be reached — as
 * opposed to the node's own answers. Callers that can ask another node, do without this
 * one, or must report an unknown outcome as it is (an acknowledged write whose WAIT was
 * lost) tell them apart with isUnreachableReply; every such error is worded by
 * unreachableMessage, so the two cannot drift apart.
 */
/** What went wrong, in the words the client gets after `ERR ` (and before `: <why>`). */
export type Unreachable = 'cannot connect to backend' | 'connection to backend lost' | 'backend unavailable';

const UNREACHABLE: readonly Unreachable[] = ['cannot connect to backend', 'connection to backend lost', 'backend unavailable'];

/** The error text for an unreachable node: `ERR <what>: <why>` (why names no address). */
export function unreachableMessage(what: Unreachable, why: string): string {
  return `ERR ${what}: ${why}`;
}

const UNREACHABLE_PREFIXES = UNREACHABLE.map((what) => Buffer.from(`-${unreachableMessage(what, '')}`, 'latin1'));

/** Whether a reply is one of the errors connection.ts makes up when the node could not be reached. */
export function isUnreachableReply(reply: Buffer): boolean {
  if (reply[0] !== 0x2d /* '-' */) return false;
  for (const p of UNREACHABLE_PREFIXES) {
    if (reply.length >= p.length && reply.compare(p, 0, p.length, 0, p.length) === 0) return true;
  }
  return false;
}

/**
 * A message without the node address at its end ("connect ECONNREFUSED 127.0.0.1:7001" →
 * "connect ECONNREFUSED", "MOVED 3999 127.0.0.1:7001" → "MOVED 3999"): clients are told
 * what happened, never where inside the cluster; the address goes to the log.
 */
export function withoutAddress(text: string): string {
  return text.replace(/ \S*:\d+$/, '');
}
