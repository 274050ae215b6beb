/** A node change refused before anything changed; the message is the reply, in Redis's words ("ERR ..."). */
export class NodeChangeError extends Error {
  override readonly name = 'NodeChangeError';
}
