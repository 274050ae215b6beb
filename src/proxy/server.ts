/**
 * ProxyServer: the client-facing TCP listener. Accepts connections (up to maxclients),
 * creates a ClientSession for each and owns the counters INFO reports.
 */
import net from 'node:net';
import type { Logger } from '../log.js';
import type { RequestFrame } from '../resp/frame.js';
import { encodeError } from '../resp/encode.js';
import { ClientSession, type SessionHost } from './session.js';
import { Dispatcher } from './dispatcher.js';
import type { Router } from './datapath/router.js';
import type { NodeAccess, ProxyContext, ProxyStats } from './context.js';
import type { MigrationProgress } from '../cluster/operations/slot-migration.js';
import { logFaults, setFaultReporter } from '../faults.js';
import type { ClusterAdmin } from '../admin/cluster-admin.js';
import { PubSubHub } from './modes/pubsub.js';
import type { ClientMemoryCap, OutputBufferLimit } from './limits.js';
import { ClientMemory, RELEASE_CHECK_MS } from './client-memory.js';
import { fullGc } from '../ops/full-gc.js';
import { ClientPause, type ClientRegistry } from './commands/client-commands.js';
import { CommandStats, OPS_SAMPLE_MS, OpsMeter } from '../ops/command-stats.js';
import type { NodeStatus } from '../status/node-status.js';
import type { RecoveryStatus } from '../status/recovery-status.js';

export interface ProxyServerOptions {
  host: string;
  port: number;
  maxClients: number;
  requirePass: string;
  /** Password of the `admin` user, required for the admin verbs; '' lets every client run them. */
  adminPassword?: string;
  /** The admin verbs' operations; absent: the verbs answer that they are not available. */
  admin?: ClusterAdmin;
  maxBulkLen: number;
  /** --maxmemory-clients; absent: no cap. */
  maxmemoryClients?: ClientMemoryCap;
  clusterNodeId: string;
  version: string;
  log: Logger;
  /** The nodes and their health (INFO); absent when the proxy does not watch them (static). */
  nodeStatus?: () => NodeStatus[];
  /** Promotions this proxy made (INFO # Nodes, as /metrics ihs_failovers_total); absent for a static cluster. */
  failoverCounts?: () => Readonly<{ automatic: number; planned: number }>;
  /** Shard recoveries (INFO # Recovery); absent for a static cluster. */
  recoveries?: () => RecoveryStatus[];
  /** The slot migration under way (INFO # Migration). */
  migration?: () => MigrationProgress | undefined;
  /** Pub/Sub: the nodes' password, and the output buffer limit of subscribed clients. */
  pubsub: { nodePassword: string; connectTimeoutMs: number; commandTimeoutMs: number; outputLimit: OutputBufferLimit };
  /** Scripts, remembered CONFIG and the nodes' password (SCRIPT, FUNCTION, CONFIG). */
  nodes: NodeAccess;
}

const MAX_CLIENTS_REACHED = encodeError('ERR max number of clients reached');

export class ProxyServer implements SessionHost, ProxyContext, ClientRegistry {
  readonly stats: ProxyStats = {
    startedAt: Date.now(),
    connectedClients: 0,
    totalConnections: 0,
    rejectedConnections: 0,
    totalCommands: 0,
    closedNetInputBytes: 0,
    closedNetOutputBytes: 0,
  };
  readonly requirePass: string;
  readonly adminPassword: string;
  readonly admin: ClusterAdmin | undefined;
  readonly maxClients: number;
  readonly maxBulkLen: number;
  readonly clusterNodeId: string;
  readonly version: string;
  readonly nodeStatus: (() => NodeStatus[]) | undefined;
  readonly failoverCounts: (() => Readonly<{ automatic: number; planned: number }>) | undefined;
  readonly recoveries: (() => RecoveryStatus[]) | undefined;
  readonly migration: (() => MigrationProgress | undefined) | undefined;
  readonly nodes: NodeAccess;
  readonly log: Logger;
  readonly pubsub: PubSubHub;
  readonly clients: ClientRegistry = this;
  readonly clientPause = new ClientPause();
  readonly commandStats = new CommandStats();
  readonly opsMeter = new OpsMeter();
  readonly clientMemory: ClientMemory;
  private readonly opsSampler: NodeJS.Timeout;
  private readonly memoryChecker: NodeJS.Timeout;
  port: number;

  private readonly server: net.Server;
  private readonly clientSessions = new Set<ClientSession>();
  private readonly dispatcher: Dispatcher;
  private nextId = 1;

  constructor(
    readonly router: Router,
    private readonly opts: ProxyServerOptions,
  ) {
    this.requirePass = opts.requirePass;
    this.adminPassword = opts.adminPassword ?? '';
    this.admin = opts.admin;
    this.maxClients = opts.maxClients;
    this.maxBulkLen = opts.maxBulkLen;
    this.clusterNodeId = opts.clusterNodeId;
    this.version = opts.version;
    this.nodeStatus = opts.nodeStatus;
    this.failoverCounts = opts.failoverCounts;
    this.recoveries = opts.recoveries;
    this.migration = opts.migration;
    this.nodes = opts.nodes;
    this.port = opts.port;
    this.log = opts.log;
    this.clientMemory = new ClientMemory(opts.maxmemoryClients ?? { bytes: 0, percent: null }, () => this.clientSessions, opts.log, fullGc());
    // Process-wide, like the flush scheduler that reports through it (the last server started wins).
    setFaultReporter(logFaults(opts.log));
    this.pubsub = new PubSubHub(router, {
      password: opts.pubsub.nodePassword,
      connectTimeoutMs: opts.pubsub.connectTimeoutMs,
      silenceLimitMs: opts.pubsub.commandTimeoutMs,
      outputLimit: opts.pubsub.outputLimit,
      log: opts.log,
    });
    this.dispatcher = new Dispatcher(this);
    this.opsSampler = setInterval(() => this.opsMeter.sample(this.stats.totalCommands), OPS_SAMPLE_MS);
    this.opsSampler.unref();
    this.memoryChecker = setInterval(() => this.clientMemory.checkRelease(), RELEASE_CHECK_MS);
    this.memoryChecker.unref();
    // pauseOnConnect: the session re-wraps the socket for slab reads before reading starts.
    this.server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        if (addr !== null && typeof addr === 'object') this.port = addr.port;
        this.opts.log.info({ host: this.opts.host, port: this.port }, 'proxy listening');
        resolve();
      });
    });
  }

  /** Stop accepting, close every client. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.clientPause.close();
      clearInterval(this.opsSampler);
      clearInterval(this.memoryChecker);
      this.server.close(() => resolve());
      for (const s of this.clientSessions) s.destroy();
      this.pubsub.close();
    });
  }

  sessions(): Iterable<ClientSession> {
    return this.clientSessions;
  }

  dispatch(session: ClientSession, frame: RequestFrame): void {
    this.dispatcher.dispatch(session, frame);
  }

  countCommand(): void {
    this.stats.totalCommands++;
  }

  sessionClosed(session: ClientSession): void {
    if (this.clientSessions.delete(session)) {
      this.stats.connectedClients--;
      this.stats.closedNetInputBytes += session.socket.bytesRead;
      this.stats.closedNetOutputBytes += session.socket.bytesWritten;
    }
    this.clientPause.forget(session);
  }

  private accept(socket: net.Socket): void {
    this.stats.totalConnections++;
    if (this.clientSessions.size >= this.maxClients) {
      this.stats.rejectedConnections++;
      socket.on('error', () => {});
      // It was accepted paused and will never read the client's FIN: close it once the
      // error is flushed, or it would linger half-open (and hold up server.close()).
      socket.end(MAX_CLIENTS_REACHED, () => socket.destroy());
      return;
    }
    const session = new ClientSession(this.nextId++, socket, this);
    this.clientSessions.add(session);
    this.stats.connectedClients++;
  }
}
