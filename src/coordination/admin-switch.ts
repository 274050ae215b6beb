/**
 * AdminSwitch: the admin surfaces' one AdminApi, whatever this proxy's role. On the leader
 * each call runs on its ClusterAdmin; on a follower it is forwarded to the leader
 * (RemoteAdmin). It also serves the calls other proxies forward here (AdminRpcServer):
 * only while this proxy leads, else they are refused and the caller asks again.
 */
import { NOT_LEADER, NoLeaderError, type AdminApi, type AdminRpcServer, type FailoverMode } from '../admin/admin-api.js';
import { AdminError, describeNodes, type ClusterAdmin } from '../admin/cluster-admin.js';
import type { ControlClients, NodeAddress } from '../nodes/control-client.js';
import { readMembership } from '../cluster/membership.js';
import type { SlotMap } from '../cluster/slot-map.js';
import type { NodeStatus } from '../status/node-status.js';
import type { NodeRecord, TopologyDoc } from '../cluster/topology/topology.js';
import type { ClusterListing } from '../status/list-format.js';
import type { LoadRebalanceReport } from '../status/load-rebalance-report.js';
import type { CoordinationStatus } from './coordinator.js';
import type { RemoteAdmin } from './remote-admin.js';

/** The leader's parts a forwarded call may use. */
export interface LocalAdmin {
  admin: ClusterAdmin;
  rememberConfig(pairs: readonly (readonly [string, string])[]): Promise<void>;
}

export interface AdminSwitchOptions {
  /** The control plane's admin while this proxy leads; undefined on a follower. */
  local: () => LocalAdmin | undefined;
  remote: RemoteAdmin;
  /** The document the data plane follows (for node names on a follower). */
  topology: () => TopologyDoc;
  /** This proxy's coordination (undefined: a proxy alone, no footer). */
  coordination: () => CoordinationStatus | undefined;
  /** For LIST without a leader: the cluster's slot map now, and connections to its nodes. */
  slotMap: () => Promise<SlotMap>;
  clients: ControlClients;
  commandTimeoutMs: number;
}

export class AdminSwitch implements AdminApi, AdminRpcServer {
  constructor(private readonly o: AdminSwitchOptions) {}

  async list(): Promise<ClusterListing> {
    const local = this.o.local();
    const listing = local !== undefined ? await local.admin.list() : await this.o.remote.call<ClusterListing>('list', []).catch((err: Error) => this.listFromDocument(err));
    const c = this.o.coordination();
    if (c === undefined) return listing;
    // This proxy's own view: its role, not the leader's.
    return { ...listing, coordination: { role: c.role, leader: c.leader, proxies: c.proxies, workers: c.workers } };
  }

  failover(name: string, mode: FailoverMode = 'planned'): Promise<string> {
    // A planned one goes as it always did: a leader of the previous version understands it.
    return this.run('failover', mode === 'planned' ? [name] : [name, mode], (a) => a.failover(name, mode));
  }

  addMaster(address?: NodeAddress): Promise<string> {
    return this.run('addMaster', address === undefined ? [] : [address], (a) => a.addMaster(address));
  }

  addReplica(masterName: string, address?: NodeAddress): Promise<string> {
    return this.run('addReplica', address === undefined ? [masterName] : [masterName, address], (a) => a.addReplica(masterName, address));
  }

  rebalance(): Promise<string> {
    return this.run('rebalance', [], (a) => a.rebalance());
  }

  rebalanceLoad(dryRun: boolean): Promise<LoadRebalanceReport> {
    const local = this.o.local();
    if (local !== undefined) return local.admin.rebalanceLoad(dryRun);
    return this.o.remote.call<LoadRebalanceReport>('rebalanceLoad', [dryRun]);
  }

  remove(name: string): Promise<string> {
    return this.run('remove', [name], (a) => a.remove(name));
  }

  node(name: string): NodeRecord {
    const local = this.o.local();
    if (local !== undefined) return local.admin.node(name);
    const nodes = this.o.topology().nodes;
    const found = nodes.find((n) => n.id === name) ?? nodes.find((n) => `${n.host}:${n.port}` === name);
    if (found === undefined) throw new AdminError(`no node ${name} (known: ${nodes.map((n) => n.id).join(', ')})`);
    return found;
  }

  /** CONFIG SET's values, remembered in the document for nodes that start later: the leader writes it. */
  async rememberConfig(pairs: readonly (readonly [string, string])[]): Promise<void> {
    const local = this.o.local();
    if (local !== undefined) return local.rememberConfig(pairs);
    await this.o.remote.call<null>('rememberConfig', [pairs]);
  }

  /**
   * LIST on a follower that cannot ask the leader (none elected, etcd unreachable): the
   * shared document's nodes with roles from the nodes' own views and health as far as they
   * answer (no health monitor runs here), and the operations the journal records.
   */
  private async listFromDocument(why: Error): Promise<ClusterListing> {
    if (!(why instanceof NoLeaderError)) throw why;
    const doc = this.o.topology();
    const [map, members] = await Promise.all([this.o.slotMap(), readMembership(doc.nodes, this.o.clients, this.o.commandTimeoutMs)]);
    const statuses: NodeStatus[] = doc.nodes.map((n) => {
      const m = members.get(n.id);
      const known = m !== undefined && m.role !== 'unknown';
      return { id: n.id, host: n.host, port: n.port, role: m?.role ?? 'unknown', masterId: m?.masterId, state: known ? 'up' : 'failed' };
    });
    const operations = (doc.operations ?? []).map((op) => ({ kind: op.kind, id: op.id, progress: 'recorded (no leader is running it now)' }));
    return { nodes: await describeNodes(statuses, map, this.o.clients, this.o.commandTimeoutMs), operations };
  }

  /** A call another proxy forwarded: run here while this proxy leads. */
  async serveRpc(method: string, args: unknown[]): Promise<unknown> {
    const local = this.o.local();
    if (local === undefined) throw new NoLeaderError(`${NOT_LEADER} (any more)`);
    const { admin } = local;
    const text = (i: number): string => {
      if (typeof args[i] !== 'string') throw new AdminError(`${method}: argument ${i + 1} must be a string`);
      return args[i] as string;
    };
    const address = (i: number): NodeAddress | undefined => {
      const a = args[i];
      if (a === undefined) return undefined;
      if (typeof a !== 'object' || a === null || typeof (a as NodeAddress).host !== 'string' || typeof (a as NodeAddress).port !== 'number') {
        throw new AdminError(`${method}: argument ${i + 1} must be {host, port}`);
      }
      return { host: (a as NodeAddress).host, port: (a as NodeAddress).port };
    };
    switch (method) {
      case 'list':
        return admin.list();
      case 'failover':
        return admin.failover(text(0), failoverMode(args[1]));
      case 'addMaster':
        return admin.addMaster(address(0));
      case 'addReplica':
        return admin.addReplica(text(0), address(1));
      case 'rebalance':
        return admin.rebalance();
      case 'rebalanceLoad':
        if (typeof args[0] !== 'boolean') throw new AdminError(`${method}: argument 1 must be true (a dry run) or false`);
        return admin.rebalanceLoad(args[0]);
      case 'remove':
        return admin.remove(text(0));
      case 'rememberConfig':
        return local.rememberConfig(configPairs(args[0])).then(() => null);
      default:
        throw new AdminError(`unknown forwarded call '${method}'`);
    }
  }

  private async run(method: string, args: unknown[], here: (admin: ClusterAdmin) => Promise<string>): Promise<string> {
    const local = this.o.local();
    if (local !== undefined) return here(local.admin);
    return this.o.remote.call<string>(method, args);
  }
}

function failoverMode(value: unknown): FailoverMode {
  if (value === undefined || value === 'planned' || value === 'force') return value ?? 'planned';
  throw new AdminError(`failover: argument 2 must be 'planned' or 'force'`);
}

function configPairs(value: unknown): [string, string][] {
  if (!Array.isArray(value) || !value.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) {
    throw new AdminError('rememberConfig: expected [[name, value], ...]');
  }
  return value as [string, string][];
}
