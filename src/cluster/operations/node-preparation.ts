/**
 * Preparing a node before it serves traffic: the one hook every place a node joins or
 * comes back goes through (ClusterManager.open and restartNode, an added master or
 * replica, a replica about to be promoted).
 *
 * What a node needs that it cannot get from the cluster by itself:
 * - the parameters clients set (CONFIG SET, remembered in TopologyDoc.nodeConfig): a node
 *   starts from its generated redis.conf, which does not have them;
 * - the scripts the proxy knows (SCRIPT LOAD, EVAL): Redis keeps its script cache in memory
 *   only and never sends it to replicas;
 * - for a master, the function libraries: a replica gets them from its master's sync, but
 *   a new master (ADD MASTER) starts empty and a restarted one has what it had when it went
 *   down. The libraries of another master that answers are restored on it (FUNCTION DUMP →
 *   FUNCTION RESTORE ... FLUSH), so it has exactly the cluster's.
 */
import type { Logger } from '../../log.js';
import { formatAddress, infoFields, type ControlClient, type ControlClients, type NodeAddress } from '../../nodes/control-client.js';

/** The scripts the proxy knows (their bodies), to load on a node that joins. */
export interface ScriptSource {
  bodies(): Buffer[];
}

export interface NodePreparationOptions {
  /** Connections to the nodes, with their password now. */
  clients: ControlClients;
  /** The remembered CONFIG SET pairs, in order. */
  config(): readonly (readonly [string, string])[];
  /** The other nodes that may hold the cluster's function libraries. */
  peers(): NodeAddress[];
  scripts: ScriptSource | undefined;
  commandTimeoutMs: number;
  log: Logger;
}

export interface PrepareRequest extends NodeAddress {
  /** Our id of the node, for the log. */
  id: string;
}

/** Attempts before prepare gives up; a node just started may still be loading its AOF. */
const ATTEMPTS = 3;
const RETRY_MS = 300;

export class NodePreparer {
  constructor(private readonly o: NodePreparationOptions) {}

  /**
   * Apply remembered CONFIG and load scripts (and, for a master, when `functions`, the
   * cluster's function libraries) on `node`. Tried `attempts` times (default 3); rejects with the last
   * error when the node cannot be prepared (the caller decides whether the node is used).
   */
  async prepare(node: PrepareRequest, why: string, opts: { functions: boolean; attempts?: number }): Promise<void> {
    let lastError: Error | undefined;
    const attempts = opts.attempts ?? ATTEMPTS;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const applied = await this.prepareOnce(node, opts.functions);
        this.o.log.info({ node: node.id, address: formatAddress(node), why, ...applied }, 'node prepared');
        return;
      } catch (err) {
        lastError = err as Error;
        if (attempt < attempts) await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
    throw new Error(`node ${node.id} (${formatAddress(node)}) could not be prepared (${why}): ${lastError?.message}`);
  }

  private async prepareOnce(node: PrepareRequest, functions: boolean): Promise<{ config: number; scripts: number; functions: string }> {
    const pairs = this.o.config();
    const bodies = this.o.scripts?.bodies() ?? [];
    return this.control(node, async (c) => {
      // A node loading its AOF answers LOADING to everything but INFO: wait it out in the retries.
      const role = (await infoFields(c, 'replication')).get('role');
      if (pairs.length > 0) await c.call('CONFIG', 'SET', ...pairs.flat());
      await Promise.all(bodies.map((b) => c.call('SCRIPT', 'LOAD', b)));
      const libraries = functions && role === 'master' ? await this.copyFunctions(node, c) : `not copied (${role ?? 'unknown role'})`;
      return { config: pairs.length, scripts: bodies.length, functions: libraries };
    });
  }

  /** Restore the libraries of the first other master that answers; says what it did. */
  private async copyFunctions(node: PrepareRequest, c: ControlClient): Promise<string> {
    for (const peer of this.o.peers()) {
      if (peer.host === node.host && peer.port === node.port) continue;
      let dump: Buffer | undefined;
      try {
        dump = await this.control(peer, async (p) => ((await infoFields(p, 'replication')).get('role') === 'master' ? p.callBuffer('FUNCTION', 'DUMP') : undefined)) as Buffer | undefined;
      } catch (err) {
        this.o.log.debug({ peer: formatAddress(peer), err: (err as Error).message }, 'peer did not give its functions; trying another');
        continue;
      }
      if (dump === undefined) continue;
      const own = (await c.callBuffer('FUNCTION', 'DUMP')) as Buffer;
      if (own.equals(dump)) return `same as ${formatAddress(peer)}`;
      await c.call('FUNCTION', 'RESTORE', dump, 'FLUSH');
      return `restored from ${formatAddress(peer)}`;
    }
    return 'no other master answered: kept its own';
  }

  private control<T>(node: NodeAddress, fn: (c: ControlClient) => Promise<T>): Promise<T> {
    return this.o.clients.with(node, fn, this.o.commandTimeoutMs);
  }
}
