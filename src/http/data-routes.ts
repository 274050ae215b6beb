/**
 * The study project's data routes: POST /api/v1/hash/data sets keys, GET
 * /api/v1/hash/data/{key} reads one — both through the proxy's RESP port (DataClient).
 * With --requirepass they need it as a bearer token, as RESP needs AUTH.
 */
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { DataClient } from './data-client.js';
import { HttpError } from './http-error.js';
import { bearer, dataBodySchema, dataWrittenSchema, errorReplies, keyParamsSchema, keyValueSchema, type DataBody } from './schemas.js';

export interface DataRoutesOptions {
  data: DataClient;
  /** The --requirepass (and admin) bearer check. */
  guard: onRequestAsyncHookHandler;
  /** Whether the guard asks for anything (documented in the OpenAPI document only then). */
  guarded: boolean;
}

export function dataRoutes(app: FastifyInstance, o: DataRoutesOptions): void {
  const security = o.guarded ? bearer : undefined;
  app.post<{ Body: DataBody }>(
    '/api/v1/hash/data',
    {
      onRequest: o.guard,
      schema: {
        summary: 'Set keys',
        description: 'SET each key to its value, through the proxy like any client (pipelined). On an error the keys before the failed one may be set.',
        tags: ['data'],
        security,
        body: dataBodySchema,
        response: { 200: dataWrittenSchema, ...errorReplies(400, 401, 413, 415, 502, 503) },
      },
    },
    async (request) => ({ written: await o.data.setAll(request.body.data) }),
  );

  app.get<{ Params: { key: string } }>(
    '/api/v1/hash/data/:key',
    {
      onRequest: o.guard,
      schema: {
        summary: 'Get a key',
        description: 'GET the key (URL-encode it in the path); 404 when it does not exist.',
        tags: ['data'],
        security,
        params: keyParamsSchema,
        response: { 200: keyValueSchema, ...errorReplies(401, 404, 502, 503) },
      },
    },
    async (request) => {
      const { key } = request.params;
      const value = await o.data.get(key);
      if (value === undefined) throw new HttpError(404, `no key '${key}'`);
      return { key, value };
    },
  );
}
