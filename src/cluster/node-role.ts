/**
 * Making a running node take the role the topology gives it: a master must not replicate
 * anything; a replica must replicate its shard's master at the master's current address.
 */
import {
  formatAddress,
  infoFields,
  withControlClient,
  type NodeAddress,
} from '../nodes/control-client.js';

export type DesiredRole = { role: 'master' } | { role: 'replica'; master: NodeAddress };

/** What the node was, and whether REPLICAOF had to be sent. */
export interface RoleCheck {
  before: string;
  changed: boolean;
}

/** The node's current role from INFO replication: "master" or "replica of host:port". */
export function describeReplication(info: Map<string, string>): string {
  if (info.get('role') === 'slave') return `replica of ${info.get('master_host')}:${info.get('master_port')}`;
  return info.get('role') ?? 'unknown';
}

export async function ensureRole(addr: NodeAddress, password: string, desired: DesiredRole, timeoutMs: number): Promise<RoleCheck> {
  return withControlClient(addr, password, timeoutMs, async (client) => {
    const info = await infoFields(client, 'replication');
    const before = describeReplication(info);
    const isReplica = info.get('role') === 'slave';
    if (desired.role === 'master') {
      if (!isReplica) return { before, changed: false };
      await client.call('REPLICAOF', 'NO', 'ONE');
      return { before, changed: true };
    }
    const wanted = desired.master;
    if (isReplica && info.get('master_host') === wanted.host && info.get('master_port') === String(wanted.port)) {
      return { before, changed: false };
    }
    const reply = await client.call('REPLICAOF', wanted.host, String(wanted.port));
    if (!String(reply).startsWith('OK')) {
      throw new Error(`REPLICAOF ${formatAddress(wanted)} on ${formatAddress(addr)} answered ${String(reply)}`);
    }
    return { before, changed: true };
  });
}
