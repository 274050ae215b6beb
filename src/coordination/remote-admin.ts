/**
 * RemoteAdmin: a follower's admin calls, run by the leader. Each call is one connection to
 * the leader's peer listener (a RESP port of its own, see ProxyServer.listenPeer), with the
 * admin's credentials, and one `IHS-ADMIN <method> <JSON arguments>`; the reply is JSON.
 *
 * A refusal by the leader's admin comes back as an AdminError with the leader's words; a
 * leader that cannot be reached, or that goes away before it answers, as a NoLeaderError
 * (the verb may or may not have run: a new leader finishes what the old one recorded).
 */
import { ADMIN_RPC_VERB, NOT_LEADER, NoLeaderError } from '../admin/admin-api.js';
import { AdminError } from '../admin/cluster-admin.js';
import { formatAddress, NodeClient, NodeConnectError, ReplyError, type NodeAddress } from '../nodes/node-client.js';
import { proxyDialRuntime, type Runtime } from '../net/runtime.js';

/** A change through the leader may take long (a REBALANCE moves keys for minutes). */
const CALL_TIMEOUT_MS = 24 * 3600_000;

export interface RemoteAdminOptions {
  /** The leader's peer listener now (undefined: no leader), and its id for messages. */
  leader: () => { id: string; peer: NodeAddress } | undefined;
  /** Why there is no leader (for the error), when leader() is undefined. */
  noLeaderReason: () => string;
  /** The AUTH arguments the leader wants: ['admin', password], [password] or none. */
  auth: readonly string[];
  connectTimeoutMs: number;
  runtime: Runtime;
}

export class RemoteAdmin {
  constructor(private readonly o: RemoteAdminOptions) {}

  async call<T>(method: string, args: readonly unknown[]): Promise<T> {
    const leader = this.o.leader();
    if (leader === undefined) throw new NoLeaderError(`no proxy runs the control plane now (${this.o.noLeaderReason()}): try again shortly`);
    const client = new NodeClient(leader.peer, {
      password: '',
      timeoutMs: this.o.connectTimeoutMs,
      commandTimeoutMs: CALL_TIMEOUT_MS,
      runtime: proxyDialRuntime(this.o.runtime),
      id: `leader ${leader.id}`,
    });
    const where = `the leader proxy ${leader.id} (${formatAddress(leader.peer)})`;
    try {
      await client.connect();
      if (this.o.auth.length > 0) await client.call('AUTH', ...this.o.auth);
      const reply = await client.call(ADMIN_RPC_VERB, method, JSON.stringify(args));
      if (typeof reply !== 'string') throw new Error(`${where} answered ${method} with ${typeof reply}, not JSON`);
      return JSON.parse(reply) as T;
    } catch (err) {
      if (err instanceof ReplyError) {
        const text = err.message.replace(/^ERR /, '');
        // It stopped leading since we looked: as if there were no leader (ask again).
        if (text.startsWith(NOT_LEADER)) throw new NoLeaderError(`${where}: ${text}; try again shortly`, { cause: err });
        // The leader's own refusal keeps its words; anything else says where it happened.
        if (!text.startsWith(`${method} failed:`) && !err.message.startsWith('NOPERM')) throw new AdminError(text, { cause: err });
        throw new Error(`${where}: ${text}`, { cause: err });
      }
      if (err instanceof NodeConnectError) throw new NoLeaderError(`${where} cannot be reached (${err.reason}): try again shortly`, { cause: err });
      throw new NoLeaderError(`${where} did not answer ${method} (${(err as Error).message}); a change it began is finished by the next leader (LIST shows it)`, { cause: err });
    } finally {
      client.close();
    }
  }
}
