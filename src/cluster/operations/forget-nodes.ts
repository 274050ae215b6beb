/**
 * CLUSTER FORGET of nodes that left the cluster for good (removed, or retired by a shard
 * recovery), on the nodes that stay. FORGET bans an id for 60 s only, so every node is told
 * in the same round — none can re-learn it from another meanwhile — and rounds go on until
 * none lists any of the ids.
 */
import type { Logger } from '../../log.js';
import type { ControlClients, NodeAddress } from '../../nodes/control-client.js';
import { sleep } from '../../nodes/wait.js';
import { parseClusterNodes } from '../../nodes/cluster-nodes.js';

export interface ForgetOptions {
  /** Connections to the nodes, with their password. */
  clients: ControlClients;
  commandTimeoutMs: number;
  /** Past this, with a node still listing one of the ids, forgetNodes rejects. */
  settleTimeoutMs: number;
  log: Logger;
  /** Rounds in a row that must find none listing any id (more than one: an id gossiped back meanwhile is caught). */
  quietRounds: number;
  /**
   * How a node that does not answer counts: 'skip' (forgetRemoved tells it when it is
   * back) or 'fail' (the caller tries the whole step again later).
   */
  unanswering: 'skip' | 'fail';
}

const POLL_MS = 100;

/**
 * CLUSTER FORGET each of `redisIds` on every node of `on` that lists it, round after round
 * until `quietRounds` rounds in a row find none listing any.
 */
export async function forgetNodes(on: readonly (NodeAddress & { id: string })[], redisIds: readonly string[], o: ForgetOptions): Promise<void> {
  if (redisIds.length === 0 || on.length === 0) return;
  const deadline = Date.now() + o.settleTimeoutMs;
  let quiet = 0;
  while (quiet < o.quietRounds) {
    const listed = await Promise.all(
      on.map(async (n) => {
        try {
          return await o.clients.with(n, async (c) => {
            const known = new Set(parseClusterNodes(String(await c.call('CLUSTER', 'NODES'))).map((l) => l.id));
            const stale = redisIds.filter((id) => known.has(id));
            for (const id of stale) {
              await c.call('CLUSTER', 'FORGET', id);
              o.log.info({ on: n.id, forgot: id }, 'cluster forget');
            }
            return stale.length;
          }, o.commandTimeoutMs);
        } catch (err) {
          const message = (err as Error).message;
          if (/can't forget my master/i.test(message)) throw new Error(`${n.id} replicates a node being removed: ${message}`, { cause: err });
          if ((err as Error).name === 'ReplyError') {
            o.log.warn({ node: n.id, err: message }, 'cluster forget refused; trying again');
            return 1; // still listed
          }
          if (o.unanswering === 'fail') throw err;
          o.log.debug({ node: n.id, err: message }, 'node not told to forget (does not answer)');
          return 0;
        }
      }),
    );
    quiet = listed.every((count) => count === 0) ? quiet + 1 : 0;
    if (quiet >= o.quietRounds) return;
    if (Date.now() > deadline) throw new Error(`nodes still list ${redisIds.join(', ')} after ${o.settleTimeoutMs} ms of CLUSTER FORGET`);
    await sleep(POLL_MS);
  }
}
