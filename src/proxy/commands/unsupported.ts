/**
 * Redis commands the proxy refuses, and why. Each gets an `-ERR` naming the command and
 * the reason, never a hang. Keyless commands not listed here and not answered by the
 * proxy get a generic refusal from the dispatcher.
 */

const REPLICATION = 'the replication between the nodes is managed by the proxy';
const NODES_RUN_BY_PROXY = 'the Redis nodes are run by the proxy: stop the proxy to stop them';

export const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['monitor', "it would show one node's commands, not the cluster's (the proxy does not merge the nodes' streams)"],
  ['sync', REPLICATION],
  ['psync', REPLICATION],
  ['replconf', REPLICATION],
  ['replicaof', REPLICATION],
  ['slaveof', REPLICATION],
  ['shutdown', NODES_RUN_BY_PROXY],
  ['debug', "it acts on one node's internals (DEBUG RELOAD, SEGFAULT, SLEEP ... would take a node down or stall it behind the proxy's back)"],
  ['module', 'a module would have to be loaded on every node, and on every node that joins later'],
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
