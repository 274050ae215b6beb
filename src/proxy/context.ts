/**
 * What the commands the proxy answers itself may see of the proxy: the router (to reach
 * masters), its settings and its counters. Handlers get this, a session and a frame.
 */
import type { RequestFrame } from '../resp/frame.js';
import type { Router } from './datapath/router.js';
import type { Runtime } from '../net/runtime.js';
import type { ClientSession } from './session.js';
import type { PubSubHub } from './modes/pubsub.js';
import type { TrackingHub } from './modes/tracking-hub.js';
import type { CommandStats, OpsMeter } from '../ops/command-stats.js';
import type { ScriptRegistry } from './datapath/script-registry.js';
import type { ClientRegistry } from './client-registry.js';
import type { ControlPlaneView } from './control-plane.js';
import type { AclUsers } from '../auth/acl-users.js';
import type { ControlClients } from '../nodes/control-client.js';

export interface ProxyContext {
  readonly router: Router;
  /** The proxy's flush scheduler, fault reporter, dropped-push count and dial routes. */
  readonly runtime: Runtime;
  /** Who the proxy is and whom it lets in. */
  readonly settings: ProxySettings;
  /** What INFO shows of the control plane (nodes, recoveries, migration). */
  readonly control: ControlPlaneView;
  /** The proxy's client connections (CLIENT LIST/KILL/UNBLOCK/PAUSE, INFO clients, maxmemory-clients). */
  readonly clients: ClientRegistry;
  /** Pub/Sub: the proxy's subscriber connections to the nodes and its clients' subscriptions. */
  readonly pubsub: PubSubHub;
  /** Client-side caching: the proxy's tracking table and its invalidation connections to the masters. */
  readonly tracking: TrackingHub;
  /** Per-command counters (INFO commandstats/errorstats). */
  readonly commandStats: CommandStats;
  /** Requests per second, sampled (INFO instantaneous_ops_per_sec). */
  readonly opsMeter: OpsMeter;
  /** What the commands about every node (SCRIPT, FUNCTION, CONFIG) need besides the router. */
  readonly nodes: NodeAccess;
}

/** The proxy's identity and passwords, fixed at start (the port once it listens). */
export interface ProxySettings {
  readonly requirePass: string;
  /** Password of the `admin` user ('' : every client may run the admin verbs). */
  readonly adminPassword: string;
  /** --users-file's users, or null: the users are `default` (requirePass) and `admin`. */
  readonly users: AclUsers | null;
  readonly maxClients: number;
  /** The proxy's node id in CLUSTER replies: 40 hex chars, stable for one data dir. */
  readonly clusterNodeId: string;
  /** Version string of this proxy. */
  readonly version: string;
  /** Port the proxy listens on: the one it got once listening, where 0 was asked for. */
  readonly port: number;
}

/** Every node's shared state as the proxy keeps it: scripts, remembered CONFIG, control connections. */
export interface NodeAccess {
  /** Scripts seen loaded or run: EVALSHA's NOSCRIPT retry, nodes that join later. */
  readonly scripts: ScriptRegistry;
  /** Persist CONFIG SET pairs (names resolved) so nodes that join later get them; rejects when the document cannot be written. */
  rememberConfig(pairs: readonly (readonly [string, string])[]): Promise<void>;
  /** Control connections to the nodes (replicas included), with their password and the proxy's routes. */
  readonly clients: ControlClients;
  /** Bound on a control command to a node. */
  readonly commandTimeoutMs: number;
}

export type CommandHandler = (ctx: ProxyContext, session: ClientSession, frame: RequestFrame) => void;

export interface HandlerEntry {
  readonly handler: CommandHandler;
  /** May run before AUTH (AUTH, HELLO, QUIT). */
  readonly noAuth?: boolean;
}
