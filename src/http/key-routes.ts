/**
 * Hot and big keys over HTTP: GET /api/v1/hotkeys and /api/v1/bigkeys, what HOTKEYS and
 * BIGKEYS answer on RESP (from this process's key sampler, ops/key-sampler.ts), as JSON.
 * They name keys and the shards' masters' addresses: the topology guard, the token
 * LIST (and HOTKEYS) need on RESP (auth.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { KeySampler } from '../ops/key-sampler.js';
import type { RouteGuard } from './auth.js';
import { bigKeysSchema, errorReplies, hotKeysSchema, keyCountQuerySchema } from './schemas.js';

/** Keys per shard without ?count= (as HOTKEYS without COUNT). */
const DEFAULT_COUNT = 10;

export interface KeyRoutesOptions {
  keys: KeySampler;
  /** The topology guard (auth.ts). */
  guard: RouteGuard;
}

export function keyRoutes(app: FastifyInstance, o: KeyRoutesOptions): void {
  const { onRequest, security } = o.guard;
  const count = (q: { count?: string }): number => (q.count === undefined ? DEFAULT_COUNT : Number(q.count));
  app.get<{ Querystring: { count?: string } }>('/api/v1/hotkeys', {
    onRequest,
    schema: {
      summary: 'Hot keys: the keys of each shard with the most requests per second',
      description: 'As HOTKEYS [COUNT n] on the RESP port: estimated from a sample of the keyed requests this proxy process routed (--hotkeys-sample-rate); with --workers, of the worker that answers.',
      tags: ['cluster'],
      security,
      querystring: keyCountQuerySchema,
      response: { 200: hotKeysSchema, ...errorReplies(400, 401) },
    },
  }, async (request) => ({ sampleRate: o.keys.every, keys: o.keys.hotKeys(count(request.query)) }));
  app.get<{ Querystring: { count?: string } }>('/api/v1/bigkeys', {
    onRequest,
    schema: {
      summary: 'Big keys: the keys of each shard with the most bytes per second read and written',
      description: 'As BIGKEYS [COUNT n] on the RESP port: bytes of replies and requests per key, estimated from the same sample as /api/v1/hotkeys, and the largest reply and request seen per key.',
      tags: ['cluster'],
      security,
      querystring: keyCountQuerySchema,
      response: { 200: bigKeysSchema, ...errorReplies(400, 401) },
    },
  }, async (request) => ({ sampleRate: o.keys.every, keys: o.keys.bigKeys(count(request.query)) }));
}
