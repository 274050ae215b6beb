/**
 * Redis commands the proxy refuses, and why. Each gets an `-ERR` naming the command and
 * the reason, never a hang. Keyless commands not listed here and not answered by the
 * proxy get a generic refusal from the dispatcher.
 */

const NOT_YET_PUBSUB = 'Pub/Sub is not supported through the proxy yet';
const NODE_ADMIN = 'the Redis nodes are managed by the proxy, not by its clients';
const SINGLE_NODE = 'it would act on a single backend node, not on the cluster';

export const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['subscribe', NOT_YET_PUBSUB],
  ['psubscribe', NOT_YET_PUBSUB],
  ['ssubscribe', NOT_YET_PUBSUB],
  ['unsubscribe', NOT_YET_PUBSUB],
  ['punsubscribe', NOT_YET_PUBSUB],
  ['sunsubscribe', NOT_YET_PUBSUB],
  ['publish', NOT_YET_PUBSUB],
  ['spublish', NOT_YET_PUBSUB],
  ['pubsub', NOT_YET_PUBSUB],
  ['monitor', SINGLE_NODE],
  ['sync', NODE_ADMIN],
  ['psync', NODE_ADMIN],
  ['replconf', NODE_ADMIN],
  ['replicaof', NODE_ADMIN],
  ['slaveof', NODE_ADMIN],
  ['shutdown', NODE_ADMIN],
  ['debug', NODE_ADMIN],
  ['module', NODE_ADMIN],
  ['acl', NODE_ADMIN],
  ['save', NODE_ADMIN],
  ['bgsave', NODE_ADMIN],
  ['bgrewriteaof', NODE_ADMIN],
  ['lastsave', SINGLE_NODE],
  ['latency', SINGLE_NODE],
  ['slowlog', SINGLE_NODE],
  ['memory', SINGLE_NODE],
  ['wait', 'replication is managed by the proxy'],
  ['migrate', 'it would move keys out of the cluster behind the proxy\'s back'],
  ['move', 'the cluster has only database 0'],
  ['swapdb', 'the cluster has only database 0'],
]);

/**
 * Redis Cluster's own wording for the commands it refuses because of databases; clients
 * written against a cluster expect exactly these.
 */
export const CLUSTER_MODE_ERRORS: ReadonlyMap<string, string> = new Map([
  ['move', 'ERR MOVE is not allowed in cluster mode'],
  ['swapdb', 'ERR SWAPDB is not allowed in cluster mode'],
]);

export function unsupportedMessage(name: string, reason: string): string {
  return `ERR '${name.toUpperCase()}' is not supported by interface-hash-server: ${reason}`;
}
