/**
 * JSON schemas of the HTTP API: one definition per shape, used by fastify to validate
 * requests and serialize replies, and by @fastify/swagger for the OpenAPI document — so
 * the docs cannot drift from what the routes accept.
 *
 * Request bodies are strict (types, required fields, no other properties); nullable
 * fields use JSON Schema's type arrays, hence OpenAPI 3.1.
 */
import { NODE_HEALTH_STATES } from '../status/node-status.js';
import { CLUSTER_EVENT_KINDS } from '../status/cluster-events.js';

/** `{"error": "..."}`: every 4xx/5xx reply. */
export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string', description: 'what went wrong, in one line' } },
} as const;

/** Replies of a route that fails the usual ways, plus its own. */
export function errorReplies(...codes: number[]): Record<number, typeof errorSchema> {
  return Object.fromEntries(codes.map((code) => [code, { ...errorSchema, description: ERROR_MEANING[code] ?? 'error' }]));
}

const ERROR_MEANING: Record<number, string> = {
  400: 'the request is malformed: its body, query or parameters do not match the schema (an unknown field is named)',
  401: 'the route needs `Authorization: Bearer <password>`: --admin-password for the cluster routes (else --requirepass), --requirepass (or the admin password) for data',
  404: 'no such key, node or route (a node named in the body too)',
  406: "the value is not valid UTF-8, so a JSON string cannot carry it as it is: ask again with `?encoding=base64`",
  409: 'refused by the cluster as it is now (another change under way, the last master, a master that is down without force, ...): nothing was changed',
  413: 'the body is larger than the limit',
  415: 'the body is not JSON',
  502: 'the cluster answered with an error',
  503: 'the cluster cannot serve this now, or no proxy runs the control plane to make a change',
};

/** An address as `host:port`. */
const address = { type: 'string', pattern: '^[^\\s:]+:\\d{1,5}$', description: 'host:port, e.g. 127.0.0.1:7000' } as const;

/** How a value is written in JSON: the string itself (UTF-8), or its bytes in base64 (any bytes). */
export type ValueEncoding = 'utf8' | 'base64';

const encodingSchema = {
  type: 'string',
  enum: ['utf8', 'base64'],
  description: 'utf8 (default): the value is the string itself; base64: the value is its bytes in base64 (binary-safe)',
} as const;

/** One key to set (POST /hash/data). */
export const dataItemSchema = {
  type: 'object',
  required: ['key', 'value'],
  additionalProperties: false,
  properties: {
    key: { type: 'string', minLength: 1, description: 'the key (any Redis key but the empty string), as UTF-8' },
    value: { type: 'string', description: 'its value, as `encoding` says' },
    encoding: encodingSchema,
  },
} as const;

/** Items per POST /hash/data: the body limit bounds the bytes, this the round trips. */
export const MAX_DATA_ITEMS = 10_000;

export const dataBodySchema = {
  type: 'object',
  required: ['data'],
  additionalProperties: false,
  properties: { data: { type: 'array', minItems: 1, maxItems: MAX_DATA_ITEMS, items: dataItemSchema } },
} as const;

export interface DataBody {
  data: { key: string; value: string; encoding?: ValueEncoding }[];
}

/** GET /hash/data/{key}'s reply. */
export const keyValueSchema = {
  type: 'object',
  required: ['key', 'value'],
  additionalProperties: false,
  properties: {
    key: { type: 'string' },
    value: { type: 'string', description: 'the value: the string itself, or with `encoding: "base64"` its bytes in base64' },
    encoding: { type: 'string', enum: ['base64'], description: 'present (base64) when ?encoding=base64 was asked for' },
  },
} as const;

export const dataQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { encoding: { ...encodingSchema, description: 'base64: the value\'s bytes in base64, whatever they are; utf8 (default): the string, or 406 when the bytes are not UTF-8' } },
} as const;

export interface DataQuery {
  encoding?: ValueEncoding;
}

export const dataWrittenSchema = {
  type: 'object',
  required: ['written'],
  properties: { written: { type: 'integer', description: 'keys set (SET, through the proxy like any client)' } },
} as const;

export const keyParamsSchema = {
  type: 'object',
  required: ['key'],
  properties: { key: { type: 'string', minLength: 1 } },
} as const;

export const nodeParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, description: 'node id (m0, m0r1) or host:port' } },
} as const;

export const addClientSchema = {
  type: 'object',
  required: ['role'],
  additionalProperties: false,
  properties: {
    address: { ...address, description: 'an existing redis-server (cluster-enabled, empty) to add; absent: the proxy starts a new node' },
    role: { type: 'string', enum: ['master', 'slave', 'replica'], description: 'master, or slave/replica of master_address' },
    master_address: { type: 'string', minLength: 1, description: 'the master of a new replica: its node id (m0) or host:port' },
  },
} as const;

export interface AddClientBody {
  address?: string;
  role: 'master' | 'slave' | 'replica';
  master_address?: string;
}

/** The reply of a change: ClusterAdmin's one-line report, as the RESP verb replies it. */
export const changeResultSchema = {
  type: 'object',
  required: ['result'],
  properties: { result: { type: 'string', description: 'what was done, in one line' } },
} as const;

export const failoverBodySchema = {
  type: 'object',
  required: ['master'],
  additionalProperties: false,
  properties: {
    master: { type: 'string', minLength: 1, description: 'the master to replace by its most up-to-date replica: node id or host:port' },
    force: {
      type: 'boolean',
      description:
        'true: FAILOVER <master> FORCE — the replica takes over without the master (CLUSTER FAILOVER FORCE, TAKEOVER if needed), for a master that is down; writes it acknowledged but had not replicated are lost. Default false: the planned, lossless switch, which needs the master up.',
    },
  },
} as const;

export interface FailoverBody {
  master: string;
  force?: boolean;
}

/** REBALANCE's body: absent or `{}` (slot counts), or `{"by": "load", "dryRun": true}` (REBALANCE LOAD [DRYRUN]). */
export const rebalanceBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    by: { type: 'string', enum: ['slots', 'load'], default: 'slots', description: 'slots: even the slot counts (REBALANCE); load: even the masters\' ops/s as this proxy counts them per slot (REBALANCE LOAD)' },
    dryRun: { type: 'boolean', default: false, description: 'with by=load: only the plan, nothing moved (REBALANCE LOAD DRYRUN)' },
  },
} as const;

export interface RebalanceBody {
  by?: 'slots' | 'load';
  dryRun?: boolean;
}

const loadPlanSchema = {
  type: 'object',
  description: 'REBALANCE LOAD: the plan (and, run, what it did)',
  required: ['dryRun', 'windowSeconds', 'processes', 'bounds', 'maxSlotsMoved', 'tolerance', 'masters', 'spreadBefore', 'spreadAfter', 'moves', 'slotsMoved', 'stopped'],
  properties: {
    dryRun: { type: 'boolean' },
    windowSeconds: { type: 'number', description: 'the time the ops/s cover' },
    processes: { type: 'integer', description: 'how many proxy processes counted the load (--workers: every worker that answered; else 1)' },
    bounds: {
      type: 'object',
      description: 'the slot-count rule: a move never takes a master below min or above max slots (half to 1.5x of an even share)',
      required: ['min', 'max'],
      properties: { min: { type: 'integer' }, max: { type: 'integer' } },
    },
    maxSlotsMoved: { type: 'integer' },
    tolerance: { type: 'number', description: 'the plan stops once the spread is at most this' },
    masters: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'opsBefore', 'opsAfter', 'slotsBefore', 'slotsAfter'],
        properties: { id: { type: 'string' }, opsBefore: { type: 'number' }, opsAfter: { type: 'number' }, slotsBefore: { type: 'integer' }, slotsAfter: { type: 'integer' } },
      },
    },
    spreadBefore: { type: 'number', description: '(max - min) / mean of the masters\' ops/s now' },
    spreadAfter: { type: 'number', description: 'the same after the moves' },
    moves: {
      type: 'array',
      items: {
        type: 'object',
        required: ['first', 'last', 'from', 'to', 'ops'],
        properties: { first: { type: 'integer' }, last: { type: 'integer' }, from: { type: 'string' }, to: { type: 'string' }, ops: { type: 'number' } },
      },
    },
    slotsMoved: { type: 'integer' },
    stopped: { type: 'string', description: 'why the plan ends where it does' },
    result: { type: 'string', description: 'what the migration did (absent in a dry run)' },
  },
} as const;

export const rebalanceResultSchema = {
  type: 'object',
  required: ['result'],
  properties: {
    result: { type: 'string', description: 'what was done, in one line' },
    plan: loadPlanSchema,
  },
} as const;

/** The body of a change that takes no arguments (REBALANCE, REMOVE): absent, or `{}`. */
export const emptyBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
  description: 'no fields: send no body, or {}',
} as const;

export const nodeSchema = {
  type: 'object',
  required: ['id', 'address', 'role', 'masterId', 'state', 'slots', 'keys', 'offset', 'lagBytes'],
  properties: {
    id: { type: 'string' },
    address: { type: 'string' },
    role: { type: 'string', enum: ['master', 'replica', 'unknown'] },
    masterId: { type: ['string', 'null'], description: "a replica's master (our id)" },
    state: { type: 'string', enum: [...NODE_HEALTH_STATES, 'unknown'] },
    slots: {
      type: 'array',
      description: 'slot ranges served (masters), inclusive',
      items: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 },
    },
    keys: { type: ['integer', 'null'], description: 'DBSIZE; null when the node did not answer' },
    offset: { type: ['integer', 'null'], description: 'replication offset' },
    lagBytes: { type: ['integer', 'null'], description: "replicas: bytes of the master's stream not received yet" },
    clusterState: { type: 'string', enum: ['ok', 'fail'], description: "the node's own CLUSTER INFO cluster_state as last read (fail: it answers CLUSTERDOWN); absent when not known" },
  },
} as const;

export const operationSchema = {
  type: 'object',
  required: ['kind', 'id', 'progress'],
  properties: {
    kind: { type: 'string', description: 'admin-change (the admin change running: ADD, REMOVE, FAILOVER, REBALANCE), migration, recovery' },
    id: { type: 'string', description: 'one word: the operation id, or for an admin-change its verb and node (ADD-MASTER, REMOVE-m1)' },
    progress: { type: 'string', description: 'key=value words, e.g. step="starting the new master" for an admin-change' },
  },
} as const;

export const clientsSchema = {
  type: 'object',
  required: ['nodes', 'operations'],
  properties: { nodes: { type: 'array', items: nodeSchema }, operations: { type: 'array', items: operationSchema } },
} as const;

/** The cluster's health as the status page's header states it (clusterCondition in cluster-view.ts). */
export const conditionSchema = {
  type: 'object',
  required: ['status', 'reasons'],
  properties: {
    status: {
      type: 'string',
      enum: ['ok', 'degraded', 'down'],
      description: 'down: some slots have no serving master (their keys answer CLUSTERDOWN); degraded: every slot is served, but a node is down or suspect, a master has lost its replica, or a shard is being recovered; ok otherwise',
    },
    reasons: { type: 'array', items: { type: 'string' }, description: 'why not ok, worst first (empty when ok)' },
  },
} as const;

export const clusterSchema = {
  type: 'object',
  required: ['nodes', 'operations', 'stats', 'coordination', 'health'],
  properties: {
    nodes: { type: 'array', items: nodeSchema },
    health: conditionSchema,
    operations: { type: 'array', items: operationSchema },
    coordination: {
      type: 'object',
      description: 'who runs the control plane among the proxies serving this cluster (INFO # Coordination)',
      required: ['mode', 'role', 'leader', 'proxies', 'workers', 'unavailable'],
      properties: {
        mode: { type: 'string', enum: ['single', 'workers', 'etcd'], description: 'single: this proxy alone; workers: --workers N on this host; etcd: --coordinator' },
        role: { type: 'string', enum: ['leader', 'follower'], description: 'whether this proxy process runs the control plane' },
        leader: { type: 'string', description: "the leader's proxy id ('' while there is none, or for a proxy alone)" },
        proxies: { type: 'integer', description: 'proxy processes serving this cluster that this one knows of' },
        workers: { type: 'integer', description: 'worker processes serving the port on this host' },
        unavailable: { type: 'string', description: "why no admin change can be made now ('' when one can)" },
      },
    },
    stats: {
      type: 'object',
      required: ['opsPerSec', 'totalCommands', 'connectedClients', 'failovers'],
      properties: {
        opsPerSec: { type: 'integer', description: 'instantaneous_ops_per_sec of INFO' },
        totalCommands: { type: 'integer', description: 'commands the proxy processed since it started' },
        connectedClients: { type: 'integer', description: 'RESP clients connected now' },
        failovers: { type: 'integer', description: 'replicas this proxy process promoted' },
      },
    },
  },
} as const;

export const healthSchema = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['ok', 'fail'] },
    error: { type: 'string', description: 'why not ok' },
  },
} as const;

/** Security requirement of the routes that need a bearer token. */
export const bearer = [{ bearerAuth: [] }];

/** One event of the cluster's timeline (status/cluster-events.ts): the common fields, and those of its kind. */
export const clusterEventSchema = {
  type: 'object',
  required: ['id', 'seq', 'at', 'kind', 'severity', 'text'],
  additionalProperties: true,
  properties: {
    id: { type: 'string', description: '<stream>:<seq>; sent back as Last-Event-ID or ?since=, only later events come' },
    seq: { type: 'integer', description: 'position in this proxy process\'s log, from 1' },
    at: { type: 'string', format: 'date-time' },
    kind: { type: 'string', enum: [...CLUSTER_EVENT_KINDS] },
    severity: { type: 'string', enum: ['info', 'warn', 'error'] },
    text: { type: 'string', description: 'the event in one line' },
    node: { type: 'string', description: 'node-*: the node (our id)' },
    address: { type: 'string' },
    from: { type: 'string', enum: [...NODE_HEALTH_STATES], description: 'node-state: the state it left' },
    to: { type: 'string', enum: [...NODE_HEALTH_STATES], description: 'node-state: the state it entered' },
    why: { type: 'string', description: 'node-state: the evidence' },
    master: { type: 'string', description: 'failover, recovery: the master replaced or lost' },
    promoted: { type: 'string', description: 'failover: the replica that took over' },
    how: { type: 'string', enum: ['automatic', 'planned', 'forced'], description: 'failover: the master failed (automatic), FAILOVER (planned), FAILOVER FORCE of a master that is down (forced)' },
    phase: { type: 'string', description: 'recovery: started, load, reassign, migrate, forget, done; migration: started, resumed, finished, stopped, failed' },
    verb: { type: 'string', description: 'admin: the change (ADD MASTER, REMOVE m2, ...)' },
    outcome: { type: 'string', enum: ['done', 'refused', 'failed'] },
  },
} as const;

export const eventsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { since: { type: 'string', description: 'an event id: only later events are sent (the same as the Last-Event-ID header, which wins)' } },
} as const;

/** One sample of GET /api/v1/history (status/metrics-history.ts). */
export const metricsSampleSchema = {
  type: 'object',
  required: ['t', 'opsPerSec', 'p50Us', 'p99Us', 'calls', 'masters'],
  properties: {
    t: { type: 'integer', description: 'when, ms since the epoch' },
    opsPerSec: { type: 'integer', description: 'commands the proxy processed per second over the interval' },
    p50Us: { type: ['number', 'null'], description: 'median request → reply time of the calls answered in the interval, µs (null: none)' },
    p99Us: { type: ['number', 'null'], description: '99th percentile of the same, µs' },
    calls: { type: 'integer', description: 'calls answered in the interval' },
    masters: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'opsPerSec', 'usedMemory'],
        properties: {
          id: { type: 'string' },
          opsPerSec: { type: ['integer', 'null'], description: 'its total_commands_processed per second over the interval (null: no answer, or restarted)' },
          usedMemory: { type: ['integer', 'null'], description: 'INFO used_memory, bytes' },
        },
      },
    },
  },
} as const;

export const historySchema = {
  type: 'object',
  required: ['intervalMs', 'windowMs', 'samples'],
  properties: {
    intervalMs: { type: 'integer', description: 'time between samples' },
    windowMs: { type: 'integer', description: 'how far back samples are kept' },
    samples: { type: 'array', items: metricsSampleSchema, description: 'oldest first' },
  },
} as const;

/** ?count= of GET /api/v1/hotkeys and /bigkeys (a string: query values are not coerced). */
export const keyCountQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { count: { type: 'string', pattern: '^[1-9][0-9]{0,5}$', description: 'keys per shard, 1..999999 (default 10)' } },
} as const;

const sampleFields = {
  sampleRate: { type: 'integer', description: 'about one keyed request in this many is sampled (--hotkeys-sample-rate; 0: sampling off, the lists are empty)' },
} as const;

/** GET /api/v1/hotkeys (status/key-lines.ts HotKey). */
export const hotKeysSchema = {
  type: 'object',
  required: ['sampleRate', 'keys'],
  properties: {
    ...sampleFields,
    keys: {
      type: 'array',
      description: "each shard's hottest keys, hottest first; shards by name",
      items: {
        type: 'object',
        required: ['key', 'shard', 'address', 'opsPerSec', 'share'],
        properties: {
          key: { type: 'string', description: 'the key (its bytes as UTF-8)' },
          shard: { type: 'string', description: "the shard: its master's node id (e.g. m0)" },
          address: { type: 'string', description: "its master's host:port" },
          opsPerSec: { type: 'number', description: 'estimated requests per second naming it (as their first key), over the last ~10 s' },
          share: { type: 'number', description: "its share of the shard's sampled requests, 0..1" },
        },
      },
    },
  },
} as const;

/** GET /api/v1/bigkeys (status/key-lines.ts BigKey). */
export const bigKeysSchema = {
  type: 'object',
  required: ['sampleRate', 'keys'],
  properties: {
    ...sampleFields,
    keys: {
      type: 'array',
      description: "each shard's keys with the most bytes per second (replies and requests), biggest first; shards by name",
      items: {
        type: 'object',
        required: ['key', 'shard', 'address', 'readPerSec', 'writtenPerSec', 'largestReply', 'largestRequest'],
        properties: {
          key: { type: 'string' },
          shard: { type: 'string' },
          address: { type: 'string' },
          readPerSec: { type: 'number', description: 'estimated bytes per second of its replies (what clients read), over the last ~10 s' },
          writtenPerSec: { type: 'number', description: 'estimated bytes per second of its requests (what clients write)' },
          largestReply: { type: 'integer', description: 'the largest reply seen for it, bytes (RESP framing included)' },
          largestRequest: { type: 'integer', description: 'the largest request seen for it, bytes' },
        },
      },
    },
  },
} as const;
