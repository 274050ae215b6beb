/**
 * Which node parameters a client may change through the proxy (CONFIG SET), and which it
 * may see (CONFIG GET).
 *
 * An explicit allow-list: a parameter is applied to every node (masters and replicas) and
 * remembered in the proxy's document (TopologyDoc.nodeConfig) only when changing it on every
 * node is what a client of one big Redis means by it. Everything else is refused with the
 * reason; a name Redis does not know gets Redis's own error (asked of a node).
 */

/** Why each class of parameters may be set: shown nowhere, kept next to the names it covers. */
const ALLOWED_CLASSES: readonly { why: string; names: readonly string[] }[] = [
  {
    why: 'encoding thresholds: how a node lays out a value in memory; the data and its placement are the same',
    names: [
      'hash-max-listpack-entries',
      'hash-max-listpack-value',
      'list-max-listpack-size',
      'list-compress-depth',
      'set-max-intset-entries',
      'zset-max-listpack-entries',
      'zset-max-listpack-value',
      'stream-node-max-bytes',
      'stream-node-max-entries',
      'hll-sparse-max-bytes',
    ],
  },
  {
    why: 'script limits: every master runs the scripts its keys need',
    names: ['busy-reply-threshold'],
  },
  {
    why: 'memory and eviction: each node evicts its own keys (maxmemory is per node, as in any Redis Cluster)',
    names: [
      'maxmemory',
      'maxmemory-policy',
      'maxmemory-samples',
      'maxmemory-eviction-tenacity',
      'lfu-log-factor',
      'lfu-decay-time',
      'active-expire-effort',
      'lazyfree-lazy-eviction',
      'lazyfree-lazy-expire',
      'lazyfree-lazy-server-del',
      'lazyfree-lazy-user-del',
      'lazyfree-lazy-user-flush',
      'activerehashing',
      'hz',
      'dynamic-hz',
    ],
  },
  {
    why: 'observability: what each node records about itself (keyspace events, slow log, latency monitor)',
    names: [
      'notify-keyspace-events',
      'slowlog-log-slower-than',
      'slowlog-max-len',
      'latency-monitor-threshold',
      'latency-tracking',
      'latency-tracking-info-percentiles',
    ],
  },
];

const ALLOWED = new Set(ALLOWED_CLASSES.flatMap((c) => c.names));

const PERSISTENCE_REASON = 'persistence is set by the proxy so a restarted node loses nothing (AOF, appendfsync everysec)';

/**
 * Persistence parameters a client may set because no value of them can lose a write the
 * node acknowledged: what the proxy promises rests on the AOF (appendonly yes, fsync every
 * second), which Redis loads in preference to an RDB file. RDB snapshots (`save`, their
 * format, `stop-writes-on-bgsave-error`, which only refuses writes) and when or how the AOF
 * is rewritten are beside that promise. Left refused: `no-appendfsync-on-rewrite` (no fsync
 * during a rewrite), `aof-load-truncated` (a node that cannot start), `rdb-key-save-delay`
 * (a test knob that stalls every full sync of a replica).
 */
const PERSISTENCE_ALLOWED: readonly string[] = [
  'save',
  'rdbcompression',
  'rdbchecksum',
  'rdb-save-incremental-fsync',
  'stop-writes-on-bgsave-error',
  'auto-aof-rewrite-percentage',
  'auto-aof-rewrite-min-size',
  'aof-rewrite-incremental-fsync',
  'aof-use-rdb-preamble',
];

/** Parameters where only some values keep the promise: those values (lower case). */
const PERSISTENCE_ALLOWED_VALUES: ReadonlyMap<string, readonly string[]> = new Map([
  ['appendonly', ['yes']],
  ['appendfsync', ['always', 'everysec']],
]);

/** Old names Redis 7.0 still accepts for allowed parameters → the name they are remembered under. */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['hash-max-ziplist-entries', 'hash-max-listpack-entries'],
  ['hash-max-ziplist-value', 'hash-max-listpack-value'],
  ['list-max-ziplist-size', 'list-max-listpack-size'],
  ['zset-max-ziplist-entries', 'zset-max-listpack-entries'],
  ['zset-max-ziplist-value', 'zset-max-listpack-value'],
  ['lua-time-limit', 'busy-reply-threshold'],
]);

/** Refused parameters, by what they would break. A prefix ends with '-' or '*'. */
const REFUSED_CLASSES: readonly { reason: string; names: readonly string[] }[] = [
  {
    reason: "the nodes' password is the proxy's own (clients authenticate with the proxy's --requirepass)",
    names: ['requirepass', 'masterauth', 'masteruser', 'aclfile', 'acllog-max-len', 'acl-pubsub-default'],
  },
  {
    reason: "the proxy places each node's files in its own dir under --data-dir",
    names: ['dir', 'dbfilename', 'logfile', 'pidfile', 'appendfilename', 'appenddirname', 'unixsocket', 'unixsocketperm', 'syslog-*'],
  },
  {
    reason: 'the proxy chooses where nodes listen; clients reach the cluster only through the proxy',
    names: ['port', 'bind', 'bind-source-addr', 'tls-*', 'protected-mode', 'tcp-backlog', 'tcp-keepalive'],
  },
  {
    reason: 'replication and cluster membership are run by the proxy (failover, ADD, REMOVE)',
    names: ['replicaof', 'slaveof', 'replica-*', 'slave-*', 'repl-*', 'min-replicas-*', 'min-slaves-*', 'masterauth', 'cluster-*'],
  },
  {
    reason: PERSISTENCE_REASON,
    names: ['appendonly', 'appendfsync', 'no-appendfsync-on-rewrite', 'auto-aof-rewrite-*', 'aof-*', 'rdb*'],
  },
  {
    reason: "the nodes' connections are the proxy's pooled connections: this limit is the proxy's own option (--maxclients, --proto-max-bulk-len, the client idle timeout)",
    names: ['timeout', 'maxclients', 'proto-max-bulk-len', 'client-output-buffer-limit', 'client-query-buffer-limit'],
  },
  {
    reason: "the proxy reads the nodes' logs and runs them as it started them",
    names: ['loglevel', 'daemonize', 'supervised', 'enable-*', 'oom-score-adj*', 'io-threads*', 'jemalloc-bg-thread', 'disable-thp'],
  },
];

function matches(pattern: string, name: string): boolean {
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

export type ConfigSetVerdict =
  /** Applied to every node and remembered, under `name` (the alias resolved). */
  | { kind: 'allowed'; name: string }
  /** Refused, with why. */
  | { kind: 'refused'; reason: string }
  /** Not one the proxy knows: refused if Redis knows it, Redis's unknown-option error if not. */
  | { kind: 'other' };

/** What CONFIG SET of `name` (any case) to `value` may do through the proxy. */
export function configSetVerdict(name: string, value: string): ConfigSetVerdict {
  const lower = name.toLowerCase();
  const canonical = ALIASES.get(lower) ?? lower;
  if (ALLOWED.has(canonical) || PERSISTENCE_ALLOWED.includes(lower)) return { kind: 'allowed', name: canonical };
  const keeping = PERSISTENCE_ALLOWED_VALUES.get(lower);
  if (keeping !== undefined) {
    return keeping.includes(value.toLowerCase()) ? { kind: 'allowed', name: lower } : { kind: 'refused', reason: PERSISTENCE_REASON };
  }
  for (const c of REFUSED_CLASSES) if (c.names.some((p) => matches(p, lower))) return { kind: 'refused', reason: c.reason };
  return { kind: 'other' };
}

/** The error for a refused parameter. */
export function refusedConfigError(name: string, reason: string): string {
  return `ERR CONFIG SET '${name}' is not allowed through interface-hash-server: ${reason}`;
}

/** The error for a parameter Redis knows that is in no allowed class. */
export function unlistedConfigError(name: string): string {
  return (
    `ERR CONFIG SET '${name}' is not allowed through interface-hash-server: ` +
    'only data and tuning parameters (encodings, eviction, script limits, slowlog, latency, keyspace events) are applied to every node'
  );
}

/**
 * What CONFIG GET shows of a node parameter: `hide` (a secret, or a path or address of
 * one node that means nothing to a client of the proxy), or `proxy-*` (the proxy's own
 * value is what a client expects: the port it connected to, the proxy's client memory cap,
 * the size of the proxy's tracking table).
 */
export function configGetTreatment(name: string): 'show' | 'hide' | 'proxy-port' | 'proxy-maxmemory-clients' | 'proxy-tracking-table-max-keys' {
  const lower = name.toLowerCase();
  if (lower === 'port') return 'proxy-port';
  if (lower === 'maxmemory-clients') return 'proxy-maxmemory-clients';
  // The proxy keeps the tracking table of its clients (the nodes track only its BCAST connections).
  if (lower === 'tracking-table-max-keys') return 'proxy-tracking-table-max-keys';
  if (HIDDEN.some((p) => matches(p, lower))) return 'hide';
  return 'show';
}

const HIDDEN: readonly string[] = [
  'requirepass',
  'masterauth',
  'masteruser',
  'aclfile',
  'dir',
  'dbfilename',
  'logfile',
  'pidfile',
  'appendfilename',
  'appenddirname',
  'unixsocket',
  'unixsocketperm',
  'bind',
  'bind-source-addr',
  'tls-*',
  'cluster-config-file',
  'cluster-announce-*',
  'cluster-port',
  'replicaof',
  'slaveof',
];

/** The pairs remembered so far with `pairs` applied: a name set again moves to the end (the order they are applied in later). */
export function withConfigPairs(remembered: readonly (readonly [string, string])[], pairs: readonly (readonly [string, string])[]): [string, string][] {
  const changed = new Set(pairs.map(([n]) => n));
  return [...remembered.filter(([n]) => !changed.has(n)).map(([n, v]): [string, string] => [n, v]), ...pairs.map(([n, v]): [string, string] => [n, v])];
}
