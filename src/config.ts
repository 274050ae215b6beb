/**
 * Configuration: flags > environment (IHS_*) > config file (--config, JSON) > defaults.
 * `--help` lists every option; this file is the one place options are defined.
 */
import { availableParallelism } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseMemory } from './ops/memory-size.js';
import { parseClientMemoryCap, parseOutputBufferLimit, type ClientMemoryCap, type OutputBufferLimit } from './proxy/limits.js';
import type { TlsFiles } from './net/tls-files.js';
import { parseReplicaLag, READ_FROM_MODES, type ReadFrom, type ReplicaLagBound } from './proxy/datapath/replica-lag.js';

// Re-exported: the option parsers are read from the configuration's module (config and client-memory tests).
export { parseClientMemoryCap, parseMemory };

export interface Config {
  port: number;
  bind: string;
  /** The TLS client port beside --port (0: any free port); undefined: none. */
  tlsPort: number | undefined;
  /** Whether --port listens; false (--no-plain-port, with --tls-port): clients connect over TLS only. */
  plainPort: boolean;
  /** The certificate files of --tls-port and --http-tls (certFile '' when neither is on). */
  tls: TlsFiles;
  /** What the proxy presents as a client of its own TLS port (--tls-client-cert-file, else --tls-cert-file). */
  tlsClient: { certFile: string; keyFile: string };
  /** The HTTP API over HTTPS with the --tls-cert-file certificate. */
  httpTls: boolean;
  provider: 'process' | 'docker' | 'static';
  masters: number;
  replicas: number;
  dataDir: string;
  node: string[];
  nodePassword: string;
  /** The nodes serve TLS only; every connection of the proxy to them speaks TLS (process provider). */
  nodeTls: boolean;
  /** A CA (PEM cert and key) that signs the nodes' and the proxy's certificates instead of the proxy's own; '' = the proxy's own. */
  nodeTlsCaCertFile: string;
  nodeTlsCaKeyFile: string;
  redisServer: string;
  redisImage: string;
  /** '' = ihs-<cluster id>. */
  dockerNetwork: string;
  dockerNodeAccess: 'auto' | 'published' | 'network';
  requirepass: string;
  adminPassword: string;
  /** ACL users (src/auth/acl-rules.ts); '': none, the users are `default` (--requirepass) and `admin`. */
  usersFile: string;
  maxclients: number;
  protoMaxBulkLen: number;
  poolSize: number;
  maxBlockingClients: number;
  connectTimeout: number;
  commandTimeout: number;
  slotMapRefresh: number;
  /** Hot and big keys: sample about one keyed request in this many; 0: off (ops/key-sampler.ts). */
  hotkeysSampleRate: number;
  nodeTimeout: number;
  /** ms a node may stay busy (script, long command) before it is failed over. */
  busyTimeout: number;
  failoverTimeout: number;
  autoFailover: boolean;
  shardRecoveryTimeout: number;
  clusterNodeTimeout: number;
  migrationBatch: number;
  ack: 'master' | 'replica';
  ackTimeout: number;
  /** Where keyed read-only commands go: masters only (default), replicas first, replicas only, or both. */
  readFrom: ReadFrom;
  /** How far behind its master a replica may be and still serve reads. */
  maxReplicaLag: ReplicaLagBound;
  logLevel: string;
  logPretty: boolean | undefined;
  /** The HTTP API's port; 0: no HTTP API. */
  httpPort: number;
  httpBind: string;
  clientOutputBufferLimitPubsub: OutputBufferLimit;
  maxmemoryClients: ClientMemoryCap;
  /** Processes serving the port on this host (reusePort); 1: this process alone. */
  workers: number;
  /** etcd endpoints ('host:port') the proxies of one cluster coordinate through; empty: none. */
  coordinator: string[];
  /** Name under which proxies sharing an etcd find each other (one cluster per name). */
  clusterName: string;
  /** Seconds the control-plane leader's etcd lease lives without renewal. */
  leaderTtl: number;
}

export function parseConfig(argv: string[] = hideBin(process.argv)): Config {
  const parsed = yargs(argv)
    .scriptName('interface-hash-server')
    .usage('$0 [options]\n\nA Redis-Cluster-like proxy: one RESP port in front of sharded, replicated Redis nodes.')
    .env('IHS')
    .config('config', 'JSON config file (keys as the long option names)')
    .option('port', { alias: 'p', type: 'number', default: 6380, describe: 'port the proxy listens on (0: any free port)' })
    .option('bind', { type: 'string', default: '127.0.0.1', describe: 'address the proxy listens on' })
    .option('tls-port', { type: 'number', describe: 'a TLS port for clients, beside --port (0: any free port; default: none)' })
    .option('plain-port', {
      type: 'boolean',
      default: true,
      describe: 'listen on --port (plain RESP); --no-plain-port with --tls-port: TLS only, as Redis\'s port 0 (which here means any free port)',
    })
    .option('tls-cert-file', { type: 'string', default: '', describe: 'certificate (PEM) of --tls-port and --http-tls; read again on SIGHUP' })
    .option('tls-key-file', { type: 'string', default: '', describe: 'private key (PEM) of --tls-cert-file; read again on SIGHUP' })
    .option('tls-ca-cert-file', { type: 'string', default: '', describe: 'CA certificate (PEM) that client certificates must chain to (--tls-auth-clients yes or optional); read again on SIGHUP' })
    .option('tls-client-cert-file', {
      type: 'string',
      default: '',
      describe: "with --no-plain-port: the certificate (PEM) the proxy presents when it is a client of its own TLS port (the HTTP data routes, ihs-healthcheck), as Redis's tls-client-cert-file (default: --tls-cert-file)",
    })
    .option('tls-client-key-file', { type: 'string', default: '', describe: 'private key (PEM) of --tls-client-cert-file' })
    .option('tls-auth-clients', {
      choices: ['no', 'optional', 'yes'] as const,
      default: 'yes' as const,
      describe: "client certificates on --tls-port, as Redis's tls-auth-clients: yes = required, optional = verified when given, no = not asked for",
    })
    .option('http-tls', { type: 'boolean', default: false, describe: 'serve the HTTP API and status page over HTTPS with --tls-cert-file and --tls-key-file' })
    .option('provider', {
      choices: ['process', 'docker', 'static'] as const,
      default: 'process' as const,
      describe:
        'who runs the Redis nodes: process = local redis-server processes the proxy starts and owns; docker = containers of --redis-image the proxy starts and owns (Docker socket or DOCKER_HOST); static = existing nodes given with --node',
    })
    .option('masters', { type: 'number', default: 3, describe: 'masters to create (process/docker provider, new data dir only)' })
    .option('replicas', { type: 'number', default: 1, describe: 'replicas per master (process/docker provider, new data dir only)' })
    .option('data-dir', { type: 'string', default: './data', describe: 'where the topology and the nodes\' data live' })
    .option('node', { type: 'string', array: true, default: [] as string[], describe: 'an existing Redis master host:port (static provider; repeatable)' })
    .option('node-password', { type: 'string', default: '', describe: 'password of the static nodes' })
    .option('node-tls', {
      type: 'boolean',
      default: false,
      describe:
        'nodes serve TLS only (port 0, tls-port, tls-replication, tls-cluster, tls-auth-clients yes) with certificates of a cluster CA made in <data-dir>/node-tls (openssl CLI); the proxy speaks TLS to them (process and docker providers)',
    })
    .option('node-tls-ca-cert-file', { type: 'string', default: '', describe: 'with --node-tls: a CA certificate (PEM) to sign the nodes\' and the proxy\'s certificates with instead of a CA of the proxy\'s own' })
    .option('node-tls-ca-key-file', { type: 'string', default: '', describe: 'with --node-tls-ca-cert-file: that CA\'s private key (PEM, unencrypted)' })
    .option('redis-server', { type: 'string', default: 'redis-server', describe: 'redis-server binary for the process provider' })
    .option('redis-image', { type: 'string', default: 'redis:7', describe: 'image of the Redis nodes (docker provider; never pulled by the proxy: docker pull it, or make docker-images for ihs-redis:local)' })
    .option('docker-network', { type: 'string', default: '', describe: "the cluster's bridge network (docker provider; created when missing; default ihs-<cluster id>)" })
    .option('docker-node-access', {
      choices: ['auto', 'published', 'network'] as const,
      default: 'auto' as const,
      describe:
        'how the proxy reaches docker nodes: published = through each node\'s port published on 127.0.0.1 (proxy on the host); network = at their address on the cluster network, which a proxy in a container joins; auto = network inside a container, else published',
    })
    .option('requirepass', { type: 'string', default: '', describe: 'password clients must AUTH with (empty: none)' })
    .option('admin-password', {
      type: 'string',
      default: '',
      describe: 'password of the admin user: the admin verbs (ADD, LIST, REMOVE, FAILOVER, REBALANCE) then need AUTH admin <password> (empty: any client may run them)',
    })
    .option('users-file', {
      type: 'string',
      default: '',
      describe: "ACL users, one 'user <name> <rules>' line each in Redis's ACL syntax (plus proxy-maxclients=N, proxy-max-ops=N); see README 'Users and ACL' (empty: none)",
    })
    .option('maxclients', { type: 'number', default: 10000, describe: 'refuse clients beyond this many' })
    .option('proto-max-bulk-len', { type: 'string', default: '512mb', describe: 'largest bulk string a client may send' })
    .option('client-output-buffer-limit-pubsub', {
      type: 'string',
      default: '32mb 8mb 60',
      describe: 'a Pub/Sub client holding more unread output than <hard>, or more than <soft> for <seconds>, is disconnected (Redis\'s client-output-buffer-limit pubsub; 0 turns a limit off)',
    })
    .option('maxmemory-clients', {
      type: 'string',
      default: '256mb',
      describe:
        "what all clients together may hold in the proxy (replies not yet taken, requests buffered): above it the client holding most is disconnected (Redis's maxmemory-clients; CLIENT NO-EVICT on exempts a client); a size, a percentage of the memory available to the proxy (e.g. 5%), or 0 for no cap",
    })
    .option('pool-size', { type: 'number', default: 2, describe: 'shared pipelined connections per master' })
    .option('max-blocking-clients', {
      type: 'number',
      default: 2000,
      describe: 'blocking commands (BLPOP, XREAD BLOCK, ...) waiting and transactions (MULTI, WATCH) under way at once per master, each on a connection of its own; more get an error',
    })
    .option('connect-timeout', { type: 'number', default: 2000, describe: 'ms to wait for a backend connection' })
    .option('command-timeout', { type: 'number', default: 10000, describe: 'ms a backend may take to answer before its connection is failed (blocking commands excepted)' })
    .option('slot-map-refresh', { type: 'number', default: 1000, describe: 'ms between reads of the cluster\'s slot map (it is also read at once after a MOVED or a lost connection)' })
    .option('hotkeys-sample-rate', {
      type: 'number',
      default: 128,
      describe: 'hot and big keys (HOTKEYS, BIGKEYS, /api/v1/hotkeys): sample about one keyed request in this many (1: every one); 0 turns sampling off',
    })
    .option('node-timeout', { type: 'number', default: 1000, describe: 'ms without an answer to PING before the proxy asks what the node does: a process that exited or is stopped counts as failed at once (the proxy then restarts it or fails its master over); a busy one waits up to --busy-timeout' })
    .option('busy-timeout', {
      type: 'number',
      default: 30000,
      describe:
        'ms a node may stay busy (a script or function past busy-reply-threshold, a long command) before it counts as failed and is failed over; a busy script is killed (SCRIPT/FUNCTION KILL) at its first BUSY answer, one that wrote (UNKILLABLE) is failed over at once',
    })
    .option('failover-timeout', { type: 'number', default: 5000, describe: 'ms requests for a failed master\'s slots wait for the switch before they fail' })
    .option('auto-failover', { type: 'boolean', default: true, describe: 'restart failed nodes and fail masters over to their replicas (process/docker provider); --no-auto-failover only watches (INFO # Nodes), e.g. for maintenance' })
    .option('shard-recovery-timeout', {
      type: 'number',
      default: 10000,
      describe:
        'ms a master whose replicas are all down too may stay unable to start before its slots and keys (from its AOF) are moved to the other masters (process/docker provider)',
    })
    .option('cluster-node-timeout', { type: 'number', default: 5000, describe: 'cluster-node-timeout of the nodes the proxy runs (process/docker provider)' })
    .option('migration-batch', { type: 'number', default: 1000, describe: 'keys per MIGRATE when slots move between masters (resharding, REBALANCE)' })
    .option('ack', {
      choices: ['master', 'replica'] as const,
      default: 'master' as const,
      describe:
        'when a write is acknowledged: master = once the master has it (Redis\'s asynchronous replication); replica = once at least one replica has it too (one WAIT per batch of writes per backend connection)',
    })
    .option('ack-timeout', {
      type: 'number',
      default: 1000,
      describe:
        'ms a write waits for a replica with --ack replica before the client gets -NOREPLICAS (the write may have been applied on the master); the default matches --node-timeout, after which a silent replica counts as failed anyway',
    })
    .option('read-from', {
      choices: READ_FROM_MODES,
      default: 'master' as const,
      describe:
        "where keyed read-only commands go: master = the slot's master; prefer-replica = a usable replica of it, else the master; replica = a usable replica only (-CLUSTERDOWN when none is); any = the master and its usable replicas, spread by client. A client's READONLY makes its reads prefer-replica; READWRITE returns it to this. See docs/replica-reads.md",
    })
    .option('max-replica-lag', {
      type: 'string',
      default: '1s',
      describe: 'how far behind its master a replica may be and still serve reads: a time (500ms, 1s) or bytes of replication stream (64kb, 1mb)',
    })
    .option('http-port', { type: 'number', default: 8888, describe: 'port of the HTTP API (/api/v1, its docs at /api/v1/docs), /healthz, /metrics and the status page at / (0: no HTTP server)' })
    .option('http-bind', { type: 'string', default: '127.0.0.1', describe: 'address the HTTP API listens on' })
    .option('workers', {
      type: 'string',
      default: '1',
      describe: 'processes serving the port on this host (Linux reusePort; each a full data plane); one of them runs the control plane, the others hand admin verbs to it; auto = one per core',
    })
    .option('coordinator', {
      type: 'string',
      default: '',
      describe:
        'etcd://host:port[,host:port...]: proxies on any hosts naming the same etcd and --cluster-name elect one control-plane leader (failover, recovery, resharding, membership); the topology document and operation journal live in etcd',
    })
    .option('cluster-name', { type: 'string', default: 'default', describe: 'which cluster this proxy serves among those coordinated through one etcd (--coordinator)' })
    .option('leader-ttl', { type: 'number', default: 3, describe: 'seconds the control-plane leader\'s etcd lease lives without renewal (--coordinator): a dead leader is replaced after about this long' })
    .option('log-level', { choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', describe: 'log level' })
    .option('log-pretty', { type: 'boolean', describe: 'pretty logs (default: when stdout is a terminal)' })
    .strict()
    // A flag given twice takes its last value (as in most CLIs) — except --node, which is a list.
    .middleware((a) => {
      for (const [key, value] of Object.entries(a)) {
        if (Array.isArray(value) && key !== 'node' && key !== '_') a[key] = value[value.length - 1];
      }
    }, true)
    .check((a) => {
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error('--port must be 0..65535');
      if (!a['plain-port'] && a['tls-port'] === undefined) throw new Error('--no-plain-port needs --tls-port: clients would have no port at all');
      if ((a['tls-client-cert-file'] === '') !== (a['tls-client-key-file'] === '')) throw new Error('--tls-client-cert-file and --tls-client-key-file go together');
      checkTls(a['tls-port'], a['http-tls'], a['tls-cert-file'], a['tls-key-file'], a['tls-ca-cert-file'], a['tls-auth-clients']);
      if (!Number.isInteger(a['http-port']) || a['http-port'] < 0 || a['http-port'] > 65535) throw new Error('--http-port must be 0..65535 (0: no HTTP API)');
      if (!Number.isInteger(a.masters) || a.masters < 1 || a.masters > 1000) throw new Error('--masters must be 1..1000');
      if (!Number.isInteger(a.replicas) || a.replicas < 0 || a.replicas > 10) throw new Error('--replicas must be 0..10');
      if (!Number.isInteger(a['hotkeys-sample-rate']) || a['hotkeys-sample-rate'] < 0 || a['hotkeys-sample-rate'] > 1_000_000) throw new Error('--hotkeys-sample-rate must be 0..1000000 (0: off)');
      if (!Number.isInteger(a['pool-size']) || a['pool-size'] < 1 || a['pool-size'] > 64) throw new Error('--pool-size must be 1..64');
      if (!Number.isInteger(a.maxclients) || a.maxclients < 1) throw new Error('--maxclients must be a positive integer');
      if (!Number.isInteger(a['max-blocking-clients']) || a['max-blocking-clients'] < 0) {
        throw new Error('--max-blocking-clients must be an integer >= 0');
      }
      if (!Number.isInteger(a['busy-timeout']) || a['busy-timeout'] < 1) throw new Error('--busy-timeout must be a positive integer (ms)');
      if (!Number.isInteger(a['shard-recovery-timeout']) || a['shard-recovery-timeout'] < 0) throw new Error('--shard-recovery-timeout must be an integer >= 0 (ms)');
      if (!Number.isInteger(a['migration-batch']) || a['migration-batch'] < 1 || a['migration-batch'] > 100_000) throw new Error('--migration-batch must be 1..100000');
      if (!Number.isInteger(a['ack-timeout']) || a['ack-timeout'] < 1) throw new Error('--ack-timeout must be a positive integer (ms)');
      if (a.ack === 'replica' && a['ack-timeout'] >= a['command-timeout']) {
        throw new Error(`--ack-timeout (${a['ack-timeout']} ms) must be less than --command-timeout (${a['command-timeout']} ms): the WAIT would be cut off`);
      }
      if (a.ack === 'replica' && a.provider !== 'static' && a.replicas === 0) {
        throw new Error('--ack replica needs at least one replica per master; --replicas 0 gives none');
      }
      if (a.provider === 'static' && a.node.length === 0) throw new Error('--provider static needs at least one --node host:port');
      if (parseWorkers(String(a.workers)) > 1 && a['plain-port'] && a.port === 0) throw new Error('--workers needs a fixed --port: with 0 each worker would listen on a port of its own');
      if (parseWorkers(String(a.workers)) > 1 && a['tls-port'] === 0) throw new Error('--workers needs a fixed --tls-port: with 0 each worker would listen on a port of its own');
      parseCoordinator(a.coordinator);
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(a['cluster-name'])) throw new Error('--cluster-name must be 1..64 letters, digits, dots, dashes or underscores');
      if (!Number.isInteger(a['leader-ttl']) || a['leader-ttl'] < 2 || a['leader-ttl'] > 60) throw new Error('--leader-ttl must be 2..60 (seconds)');
      if (a['node-tls'] && a.provider === 'static') throw new Error('--node-tls needs --provider process or docker (the static provider\'s nodes are the user\'s to configure; the proxy cannot make them serve TLS)');
      if ((a['node-tls-ca-cert-file'] === '') !== (a['node-tls-ca-key-file'] === '')) throw new Error('--node-tls-ca-cert-file and --node-tls-ca-key-file go together');
      if (a['node-tls-ca-cert-file'] !== '' && !a['node-tls']) throw new Error('--node-tls-ca-cert-file needs --node-tls');
      parseMemory(a['proto-max-bulk-len']);
      parseReplicaLag(a['max-replica-lag']);
      parseOutputBufferLimit(a['client-output-buffer-limit-pubsub']);
      parseClientMemoryCap(a['maxmemory-clients']);
      return true;
    })
    .help()
    .version(false)
    // Bad input is an error value for the caller (main prints it; tests assert on it),
    // not a help dump and an exit from deep inside parsing.
    .fail((msg, err) => {
      throw err ?? new Error(`${msg} (see --help)`);
    })
    .parseSync();

  return {
    port: parsed.port,
    bind: parsed.bind,
    tlsPort: parsed['tls-port'],
    plainPort: parsed['plain-port'],
    tls: { certFile: parsed['tls-cert-file'], keyFile: parsed['tls-key-file'], caCertFile: parsed['tls-ca-cert-file'], authClients: parsed['tls-auth-clients'] },
    tlsClient: {
      certFile: parsed['tls-client-cert-file'] === '' ? parsed['tls-cert-file'] : parsed['tls-client-cert-file'],
      keyFile: parsed['tls-client-key-file'] === '' ? parsed['tls-key-file'] : parsed['tls-client-key-file'],
    },
    httpTls: parsed['http-tls'],
    provider: parsed.provider,
    masters: parsed.masters,
    replicas: parsed.replicas,
    dataDir: parsed['data-dir'],
    node: parsed.node.map(String),
    nodePassword: parsed['node-password'],
    nodeTls: parsed['node-tls'],
    nodeTlsCaCertFile: parsed['node-tls-ca-cert-file'],
    nodeTlsCaKeyFile: parsed['node-tls-ca-key-file'],
    redisServer: parsed['redis-server'],
    redisImage: parsed['redis-image'],
    dockerNetwork: parsed['docker-network'],
    dockerNodeAccess: parsed['docker-node-access'],
    requirepass: parsed.requirepass,
    adminPassword: parsed['admin-password'],
    usersFile: parsed['users-file'],
    maxclients: parsed.maxclients,
    protoMaxBulkLen: parseMemory(parsed['proto-max-bulk-len']),
    poolSize: parsed['pool-size'],
    maxBlockingClients: parsed['max-blocking-clients'],
    connectTimeout: parsed['connect-timeout'],
    commandTimeout: parsed['command-timeout'],
    slotMapRefresh: parsed['slot-map-refresh'],
    hotkeysSampleRate: parsed['hotkeys-sample-rate'],
    nodeTimeout: parsed['node-timeout'],
    busyTimeout: parsed['busy-timeout'],
    failoverTimeout: parsed['failover-timeout'],
    autoFailover: parsed['auto-failover'],
    shardRecoveryTimeout: parsed['shard-recovery-timeout'],
    clusterNodeTimeout: parsed['cluster-node-timeout'],
    migrationBatch: parsed['migration-batch'],
    ack: parsed.ack,
    ackTimeout: parsed['ack-timeout'],
    readFrom: parsed['read-from'],
    maxReplicaLag: parseReplicaLag(parsed['max-replica-lag']),
    logLevel: parsed['log-level'],
    clientOutputBufferLimitPubsub: parseOutputBufferLimit(parsed['client-output-buffer-limit-pubsub']),
    maxmemoryClients: parseClientMemoryCap(parsed['maxmemory-clients']),
    logPretty: parsed['log-pretty'],
    httpPort: parsed['http-port'],
    httpBind: parsed['http-bind'],
    workers: parseWorkers(String(parsed.workers)),
    coordinator: parseCoordinator(parsed.coordinator),
    clusterName: parsed['cluster-name'],
    leaderTtl: parsed['leader-ttl'],
  };
}

/** The TLS options make sense together: a port needs a certificate, asking for client certificates needs a CA. */
function checkTls(port: number | undefined, httpTls: boolean, cert: string, key: string, ca: string, authClients: string): void {
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Error('--tls-port must be 0..65535');
  const using = port !== undefined ? '--tls-port' : httpTls ? '--http-tls' : undefined;
  if (using === undefined) return;
  if (cert === '' || key === '') throw new Error(`${using} needs --tls-cert-file and --tls-key-file`);
  if (port !== undefined && authClients !== 'no' && ca === '') {
    throw new Error(`--tls-auth-clients ${authClients} needs --tls-ca-cert-file (the CA client certificates must chain to); --tls-auth-clients no asks for none`);
  }
}

/** --workers: a count (1..64) or auto (one per core). */
export function parseWorkers(text: string): number {
  if (text === 'auto') return Math.max(1, Math.min(64, availableParallelism()));
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < 1 || n > 64) throw new Error(`--workers must be 1..64 or auto, not '${text}'`);
  return n;
}

/** --coordinator etcd://host:port[,host:port...] → ['host:port', ...]; '' → []. */
export function parseCoordinator(text: string): string[] {
  if (text === '') return [];
  const m = /^etcd:\/\/(.+)$/.exec(text);
  if (m === null) throw new Error(`--coordinator must be etcd://host:port[,host:port...], not '${text}'`);
  return m[1].split(',').map((endpoint) => {
    const at = endpoint.lastIndexOf(':');
    const port = Number(endpoint.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--coordinator: '${endpoint}' is not host:port`);
    return endpoint;
  });
}
