/**
 * External nodes: a redis-server someone else runs, added by address (`ADD MASTER
 * host:port`, `ADD SLAVE <master> host:port`). The proxy makes it a member and routes to
 * it, watches it and fails it over like the others, but never starts, stops or restarts
 * it, and has no dir of its own for it (no AOF to recover a lost shard from).
 *
 * It must be a fresh cluster node: `cluster-enabled yes`, alone (it knows no other node),
 * empty, a master. Its password becomes the cluster's: a node without one is given it
 * (CONFIG SET requirepass and masterauth, and CONFIG REWRITE when it runs from a config
 * file); a node that requires another password is refused.
 */
import type { Logger } from '../log.js';
import { configGet, formatAddress, infoFields, parseInfo, type ControlClient, type ControlClients, type NodeAddress } from '../nodes/control-client.js';
import { NodeChangeError } from './operations/node-change-error.js';

export interface ExternalNodeCheck {
  /** Its cluster bus port (cluster-port, or port + 10000). */
  busPort: number;
}

/**
 * Check that `addr` can join the cluster as a new node and give it the cluster's password.
 * Refusals (NodeChangeError, in Redis's words) change nothing on the node. `clients` holds the cluster's password.
 */
export async function prepareExternalNode(addr: NodeAddress, clients: ControlClients, timeoutMs: number, log: Logger): Promise<ExternalNodeCheck> {
  const where = formatAddress(addr);
  const password = clients.password;
  const probe = await clients.probe(addr, timeoutMs);
  if (probe.state === 'unreachable' || probe.state === 'error') throw new NodeChangeError(`ERR cannot reach ${where}: ${probe.reason}`);
  if (probe.state === 'loading') throw new NodeChangeError(`ERR ${where} is still loading its data: try again when it answers`);
  // Ours is not its password: it may have none yet.
  const auth = probe.state === 'auth-refused' ? '' : password;
  return clients.as(auth).with(addr, async (c) => {
    try {
      await c.call('PING');
    } catch (err) {
      throw new NodeChangeError(
        `ERR ${where} requires a password other than the cluster's (${(err as Error).message}): start it without requirepass (the proxy sets the cluster's) or with the cluster's`,
      );
    }
    if ((await infoFields(c, 'cluster')).get('cluster_enabled') !== '1') {
      throw new NodeChangeError(`ERR ${where} is not a cluster node (cluster-enabled no): start it with cluster-enabled yes`);
    }
    const known = Number(parseInfo(String(await c.call('CLUSTER', 'INFO'))).get('cluster_known_nodes'));
    if (known > 1) throw new NodeChangeError(`ERR ${where} already knows ${known - 1} other node(s): it belongs to another cluster (CLUSTER RESET HARD it first)`);
    const keys = Number(await c.call('DBSIZE'));
    if (keys > 0) throw new NodeChangeError(`ERR ${where} holds ${keys} keys: a node added to the cluster must be empty`);
    if ((await infoFields(c, 'replication')).get('role') !== 'master') throw new NodeChangeError(`ERR ${where} replicates another node: it must be a master`);
    const busPort = Number(await configGet(c, 'cluster-port'));
    // (A client that offers a password to a node without one is let in: ask the node.)
    if ((await configGet(c, 'requirepass')) === '') await adoptPassword(c, password, where, log);
    return { busPort: busPort > 0 ? busPort : addr.port + 10000 };
  }, timeoutMs);
}

/** The cluster's password on a node that has none: for clients (requirepass) and for its replication (masterauth). */
async function adoptPassword(c: ControlClient, password: string, where: string, log: Logger): Promise<void> {
  if (password === '') return;
  await c.call('CONFIG', 'SET', 'masterauth', password);
  await c.call('CONFIG', 'SET', 'requirepass', password); // the connection stays authenticated
  try {
    await c.call('CONFIG', 'REWRITE');
  } catch (err) {
    log.warn(
      { node: where, err: (err as Error).message },
      "the cluster's password could not be written to the external node's config file: give it requirepass and masterauth again if it restarts",
    );
  }
}

/**
 * An external node leaves the cluster: CLUSTER RESET HARD, so it forgets the others (and
 * they, told to forget it, do not hear of it again). A replica's copy of the data goes with
 * it. Resolves false when it does not answer (it then still lists the others: a node that
 * comes back is told to forget it too, like any removed node).
 */
export async function releaseExternalNode(addr: NodeAddress, clients: ControlClients, timeoutMs: number, log: Logger): Promise<boolean> {
  try {
    await clients.with(addr, async (c) => {
      if ((await infoFields(c, 'replication')).get('role') === 'master' && Number(await c.call('DBSIZE')) > 0) {
        throw new Error('it still holds keys');
      }
      await c.call('CLUSTER', 'RESET', 'HARD');
    }, timeoutMs);
    log.info({ node: formatAddress(addr) }, 'external node reset: it left the cluster');
    return true;
  } catch (err) {
    log.warn({ node: formatAddress(addr), err: (err as Error).message }, 'external node not reset (it keeps its old view of the cluster)');
    return false;
  }
}
