/**
 * ProxyServer: the client-facing TCP listener. Accepts connections into its ClientRegistry,
 * gives their sessions a SessionHost, and builds the ProxyContext the commands it answers
 * itself see.
 */
import net from 'node:net';
import type { Logger } from '../log.js';
import type { RequestFrame } from '../resp/frame.js';
import type { ClientSession, SessionHost } from './session.js';
import { Dispatcher } from './dispatcher.js';
import type { Router } from './datapath/router.js';
import type { NodeAccess, ProxyContext, ProxySettings } from './context.js';
import type { Runtime } from '../net/runtime.js';
import { PubSubHub } from './modes/pubsub.js';
import { TrackingHub } from './modes/tracking-hub.js';
import type { ClientMemoryCap, OutputBufferLimit } from './limits.js';
import type { ClientMemory } from './client-memory.js';
import { RELEASE_CHECK_MS } from './client-memory.js';
import { ClientRegistry, type ProxyStats } from './client-registry.js';
import { CommandStats, OPS_SAMPLE_MS, OpsMeter } from '../ops/command-stats.js';
import type { ControlPlaneView } from './control-plane.js';
import type { AdminVerbTable } from '../commands/admin-verb-table.js';
import type { AclUsers } from '../auth/acl-users.js';
import type { NodeStatus } from '../status/node-status.js';
import type { TlsFiles } from '../net/tls-files.js';
import { TlsListener } from './tls-listener.js';
import type { SlotMap } from '../cluster/slot-map.js';

export interface ProxyServerOptions {
  host: string;
  port: number;
  /** Listen on `port` (default); false: on the TLS port only (--no-plain-port), and `port` reads 0 as Redis's does. */
  plain?: boolean;
  /** Share the port with other processes (--workers N; Linux SO_REUSEPORT). */
  reusePort?: boolean;
  maxClients: number;
  requirePass: string;
  /** The flush scheduler, fault reporter (its log), dropped-push count and dial routes it shares with its node connections. */
  runtime: Runtime;
  /** Password of the `admin` user, required for the admin verbs; '' lets every client run them. */
  adminPassword?: string;
  /** --users-file's users; absent: the users are `default` (requirePass) and `admin`. */
  users?: AclUsers;
  /** The admin verbs (src/admin/admin-verbs.ts); absent: they are unknown commands. */
  adminVerbs?: AdminVerbTable;
  maxBulkLen: number;
  /** --maxmemory-clients; absent: no cap. */
  maxmemoryClients?: ClientMemoryCap;
  clusterNodeId: string;
  version: string;
  log: Logger;
  /** The nodes, recoveries and migration as INFO shows them. */
  control: ControlPlaneView;
  /** Pub/Sub: the nodes' password, and the output buffer limit of subscribed clients. */
  pubsub: { nodePassword: string; connectTimeoutMs: number; commandTimeoutMs: number; outputLimit: OutputBufferLimit };
  /** Scripts, remembered CONFIG and the nodes' password (SCRIPT, FUNCTION, CONFIG). */
  nodes: NodeAccess;
  /** --tls-port and its certificate files; absent: no TLS port. */
  tls?: { port: number; files: TlsFiles };
}

/** What every session of this proxy reaches through its host: the dispatcher, the registry, the counters. */
class ProxySessionHost implements SessionHost {
  readonly maxBulkLen: number;
  readonly requirePass: string;
  readonly adminPassword: string;
  readonly users: AclUsers | null;
  readonly commandStats: CommandStats;
  readonly clientMemory: ClientMemory;
  readonly runtime: Runtime;
  /** The registry's, kept here too: counted for every request. */
  private readonly stats: ProxyStats;

  constructor(
    settings: ProxySettings,
    maxBulkLen: number,
    readonly log: Logger,
    private readonly dispatcher: Dispatcher,
    private readonly clients: ClientRegistry,
    commandStats: CommandStats,
    runtime: Runtime,
    /** CLIENT TRACKING: a client that leaves stops tracking. */
    private readonly tracking: TrackingHub,
  ) {
    this.maxBulkLen = maxBulkLen;
    this.runtime = runtime;
    this.requirePass = settings.requirePass;
    this.adminPassword = settings.adminPassword;
    this.users = settings.users;
    this.commandStats = commandStats;
    this.clientMemory = clients.memory;
    this.stats = clients.stats;
  }

  dispatch(session: ClientSession, frame: RequestFrame): void {
    this.dispatcher.dispatch(session, frame);
  }

  countCommand(): void {
    this.stats.totalCommands++;
  }

  sessionClosed(session: ClientSession): void {
    if (session.info.tracking?.on === true) this.tracking.disable(session);
    if (session.info.user !== null) this.users?.detach(session.info.user);
    this.clients.closed(session);
  }
}

export class ProxyServer {
  private readonly context: ProxyContext;
  private readonly settings: { -readonly [K in keyof ProxySettings]: ProxySettings[K] };
  private readonly clients: ClientRegistry;
  private readonly sessionHost: ProxySessionHost;
  private readonly opsSampler: NodeJS.Timeout;
  private readonly memoryChecker: NodeJS.Timeout;
  private readonly server: net.Server;
  private readonly tlsListener: TlsListener | null;

  constructor(
    readonly router: Router,
    private readonly opts: ProxyServerOptions,
  ) {
    this.settings = {
      requirePass: opts.requirePass,
      adminPassword: opts.adminPassword ?? '',
      users: opts.users ?? null,
      maxClients: opts.maxClients,
      clusterNodeId: opts.clusterNodeId,
      version: opts.version,
      port: opts.plain === false ? 0 : opts.port,
    };
    const clients = new ClientRegistry(opts.maxClients, opts.maxmemoryClients ?? { bytes: 0, percent: null }, opts.log);
    this.clients = clients;
    const pubsub = new PubSubHub(router, {
      password: opts.pubsub.nodePassword,
      connectTimeoutMs: opts.pubsub.connectTimeoutMs,
      silenceLimitMs: opts.pubsub.commandTimeoutMs,
      outputLimit: opts.pubsub.outputLimit,
      runtime: opts.runtime,
      log: opts.log,
    });
    const tracking = new TrackingHub(router, (id) => clients.byId(id), {
      password: opts.pubsub.nodePassword,
      connectTimeoutMs: opts.pubsub.connectTimeoutMs,
      commandTimeoutMs: opts.pubsub.commandTimeoutMs,
      runtime: opts.runtime,
      log: opts.log,
    });
    const context: ProxyContext = {
      router,
      tracking,
      runtime: opts.runtime,
      settings: this.settings,
      control: opts.control,
      clients,
      pubsub,
      commandStats: new CommandStats(),
      opsMeter: new OpsMeter(),
      nodes: opts.nodes,
    };
    this.context = context;
    const dispatcher = new Dispatcher(context, opts.adminVerbs);
    this.sessionHost = new ProxySessionHost(this.settings, opts.maxBulkLen, opts.log, dispatcher, clients, context.commandStats, opts.runtime, tracking);
    this.opsSampler = setInterval(() => context.opsMeter.sample(clients.stats.totalCommands), OPS_SAMPLE_MS);
    this.opsSampler.unref();
    this.memoryChecker = setInterval(() => clients.memory.checkRelease(), RELEASE_CHECK_MS);
    this.memoryChecker.unref();
    // pauseOnConnect: the session re-wraps the socket for slab reads before reading starts.
    this.server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => clients.admit(socket, this.sessionHost));
    // TLS sockets are served as they come from the handshake (no pause: it must read to shake hands).
    this.tlsListener =
      opts.tls === undefined
        ? null
        : new TlsListener(
            { host: opts.host, port: opts.tls.port, reusePort: opts.reusePort === true, files: opts.tls.files, log: opts.log },
            (socket) => clients.admit(socket, this.sessionHost),
          );
  }

  // What the HTTP API, /metrics and the tests read of the proxy.

  /** The plain port once listening; 0 when there is none (--no-plain-port). */
  get port(): number {
    return this.settings.port;
  }

  /** The TLS port once listening; undefined without --tls-port. */
  get tlsPort(): number | undefined {
    return this.tlsListener?.port;
  }

  /** Read the TLS certificate files again (SIGHUP): new connections get them, open ones keep theirs. Null: done (or no TLS port). */
  reloadTls(): Error | null {
    return this.tlsListener?.reload() ?? null;
  }

  get runtime(): Runtime {
    return this.opts.runtime;
  }

  /** --users-file's users (their usage: INFO Users, /metrics), or null. */
  get users(): AclUsers | null {
    return this.settings.users;
  }

  get requirePass(): string {
    return this.settings.requirePass;
  }

  get version(): string {
    return this.settings.version;
  }

  get stats(): ProxyStats {
    return this.clients.stats;
  }

  get clientMemory(): ClientMemory {
    return this.clients.memory;
  }

  get commandStats(): CommandStats {
    return this.context.commandStats;
  }

  get opsMeter(): OpsMeter {
    return this.context.opsMeter;
  }

  get pubsub(): PubSubHub {
    return this.context.pubsub;
  }

  get nodeStatus(): (() => NodeStatus[]) | undefined {
    return this.context.control.nodeStatus;
  }

  /** A new slot map, taken by the router: client-side caching follows the masters. */
  followSlotMap(map: SlotMap): void {
    this.context.tracking.follow(map);
  }

  /** Clients with CLIENT TRACKING on (INFO tracking_clients). */
  get trackingClients(): number {
    return this.context.tracking.trackingClients;
  }

  sessions(): Iterable<ClientSession> {
    return this.clients.sessions();
  }

  /** Bytes read from and written to clients since start (INFO's total_net_*_bytes). */
  netBytes(): { input: number; output: number } {
    return this.clients.netBytes();
  }

  /** Listen on the plain port (unless it is off), then on the TLS port (when there is one). */
  async listen(): Promise<void> {
    if (this.opts.plain !== false) await this.listenPlain();
    if (this.tlsListener === null) return;
    try {
      await this.tlsListener.listen();
    } catch (err) {
      await new Promise((resolve) => this.server.close(resolve));
      throw err;
    }
  }

  private listenPlain(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      // reusePort (--workers N): every worker listens on the one port; the kernel spreads connections.
      this.server.listen({ port: this.opts.port, host: this.opts.host, reusePort: this.opts.reusePort === true }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        if (addr !== null && typeof addr === 'object') this.settings.port = addr.port;
        this.opts.log.info({ host: this.opts.host, port: this.port }, 'proxy listening');
        resolve();
      });
    });
  }

  /**
   * A connection accepted by another listener of this proxy (the peer listener other proxies
   * forward admin verbs to), served like one on the client port. The listener must pause
   * sockets on connect, as this one does.
   */
  accept(socket: net.Socket): void {
    this.clients.admit(socket, this.sessionHost);
  }

  /** Stop accepting, close every client. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.clients.pause.close();
      clearInterval(this.opsSampler);
      clearInterval(this.memoryChecker);
      const tlsClosed = this.tlsListener?.close() ?? Promise.resolve();
      // Called at once (with an error to ignore) when the plain port never listened.
      this.server.close(() => void tlsClosed.then(() => resolve()));
      this.clients.destroyAll();
      this.context.pubsub.close();
      this.context.tracking.close();
    });
  }
}
