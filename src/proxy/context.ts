/**
 * What the commands the proxy answers itself may see of the proxy: the router (to reach
 * masters), its settings and its counters. Handlers get this, a session and a frame.
 */
import type { RequestFrame } from '../resp/frame.js';
import type { Router } from './datapath/router.js';
import type { Runtime } from '../net/runtime.js';
import type { ClientSession } from './session.js';
import type { ClusterAdmin } from '../admin/cluster-admin.js';
import type { MigrationProgress } from '../cluster/operations/slot-migration.js';
import type { PubSubHub } from './modes/pubsub.js';
import type { ClientPause, ClientRegistry } from './commands/client-commands.js';
import type { CommandStats, OpsMeter } from '../ops/command-stats.js';
import type { ScriptRegistry } from './datapath/script-registry.js';
import type { ClientMemory } from './client-memory.js';
import type { NodeStatus } from '../status/node-status.js';
import type { RecoveryStatus } from '../status/recovery-status.js';

export interface ProxyStats {
  readonly startedAt: number;
  connectedClients: number;
  totalConnections: number;
  rejectedConnections: number;
  totalCommands: number;
  /** Bytes read from and written to clients that have disconnected (live ones: their sockets). */
  closedNetInputBytes: number;
  closedNetOutputBytes: number;
}

export interface ProxyContext {
  readonly router: Router;
  /** The proxy's flush scheduler, fault reporter, dropped-push count and dial routes. */
  readonly runtime: Runtime;
  readonly stats: ProxyStats;
  readonly requirePass: string;
  /** Password of the `admin` user ('' : every client may run the admin verbs). */
  readonly adminPassword: string;
  /** What the admin verbs do; undefined when the proxy was started without them. */
  readonly admin: ClusterAdmin | undefined;
  readonly maxClients: number;
  /** The proxy's node id in CLUSTER replies: 40 hex chars, stable for one data dir. */
  readonly clusterNodeId: string;
  /** Version string of this proxy. */
  readonly version: string;
  /** Port the proxy listens on. */
  readonly port: number;
  /** The nodes the proxy runs and their health; undefined when it does not watch them (static). */
  readonly nodeStatus: (() => NodeStatus[]) | undefined;
  readonly failoverCounts: (() => Readonly<{ automatic: number; planned: number }>) | undefined;
  /** Shard recoveries under way or done; undefined when the proxy does not run the nodes (static). */
  readonly recoveries: (() => RecoveryStatus[]) | undefined;
  /** The slot migration under way, if any (INFO # Migration); undefined when the proxy cannot migrate. */
  readonly migration: (() => MigrationProgress | undefined) | undefined;
  /** Pub/Sub: the proxy's subscriber connections to the nodes and its clients' subscriptions. */
  readonly pubsub: PubSubHub;
  /** The proxy's client connections (CLIENT LIST/KILL/UNBLOCK, INFO clients). */
  readonly clients: ClientRegistry;
  /** CLIENT PAUSE state: consulted by the dispatcher for every request. */
  readonly clientPause: ClientPause;
  /** Per-command counters (INFO commandstats/errorstats). */
  readonly commandStats: CommandStats;
  /** Requests per second, sampled (INFO instantaneous_ops_per_sec). */
  readonly opsMeter: OpsMeter;
  /** The bytes held for all clients, against --maxmemory-clients (INFO, CONFIG GET/SET maxmemory-clients). */
  readonly clientMemory: ClientMemory;
  /** What the commands about every node (SCRIPT, FUNCTION, CONFIG) need besides the router. */
  readonly nodes: NodeAccess;
}

/** Every node's shared state as the proxy keeps it: scripts, remembered CONFIG, the nodes' password. */
export interface NodeAccess {
  /** Scripts seen loaded or run: EVALSHA's NOSCRIPT retry, nodes that join later. */
  readonly scripts: ScriptRegistry;
  /** Persist CONFIG SET pairs (names resolved) so nodes that join later get them; rejects when the document cannot be written. */
  rememberConfig(pairs: readonly (readonly [string, string])[]): Promise<void>;
  /** Password the nodes require, for control connections to replicas. */
  readonly password: string;
  /** Bound on a control command to a node. */
  readonly commandTimeoutMs: number;
}

export type CommandHandler = (ctx: ProxyContext, session: ClientSession, frame: RequestFrame) => void;

export interface HandlerEntry {
  readonly handler: CommandHandler;
  /** May run before AUTH (AUTH, HELLO, QUIT). */
  readonly noAuth?: boolean;
}

/** An unknown subcommand of `container` (argument 1 of the request), in Redis's words. */
export function unknownSubcommand(container: string, sub: string): string {
  return `ERR unknown subcommand '${sub.slice(0, 128)}'. Try ${container.toUpperCase()} HELP.`;
}

/** An argument Redis reads as a 64-bit integer (at most 18 digits here: exact in a double); undefined when it is not one. */
export function parseInteger(text: string): number | undefined {
  return /^-?\d{1,18}$/.test(text) ? Number(text) : undefined;
}

/** Wrong number of arguments, in Redis's words. */
export function arityError(name: string): string {
  return `ERR wrong number of arguments for '${name}' command`;
}
