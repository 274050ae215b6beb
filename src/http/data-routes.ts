/**
 * The study project's data routes: POST /api/v1/hash/data sets keys, GET
 * /api/v1/hash/data/{key} reads one — both through the proxy's RESP port (DataClient).
 * With --requirepass they need it as a bearer token, as RESP needs AUTH.
 *
 * Values are bytes: a JSON string carries them as UTF-8 text by default, or in base64
 * (`encoding`) for anything else. A value that is not UTF-8 asked for as text is refused
 * (406) rather than sent with its bytes replaced.
 */
import type { FastifyInstance } from 'fastify';
import type { RouteGuard } from './auth.js';
import type { DataClient } from './data-client.js';
import { HttpError } from './http-error.js';
import {
  dataBodySchema,
  dataQuerySchema,
  dataWrittenSchema,
  errorReplies,
  keyParamsSchema,
  keyValueSchema,
  type DataBody,
  type DataQuery,
} from './schemas.js';
import { valueBytes, valueText } from './value-encoding.js';

export interface DataRoutesOptions {
  data: DataClient;
  /** The --requirepass (and admin) bearer check. */
  guard: RouteGuard;
}

export function dataRoutes(app: FastifyInstance, o: DataRoutesOptions): void {
  const { onRequest, security } = o.guard;
  app.post<{ Body: DataBody }>(
    '/api/v1/hash/data',
    {
      onRequest,
      schema: {
        summary: 'Set keys',
        description:
          'SET each key to its value, through the proxy like any client (pipelined). A value is UTF-8 text, or with `"encoding": "base64"` its bytes in base64 (any bytes). ' +
          'On an error the keys before the failed one may be set.',
        tags: ['data'],
        security,
        body: dataBodySchema,
        response: { 200: dataWrittenSchema, ...errorReplies(400, 401, 413, 415, 502, 503) },
      },
    },
    async (request) => {
      const pairs = request.body.data.map(({ key, value, encoding = 'utf8' }, i) => {
        const bytes = valueBytes(value, encoding);
        if (bytes === undefined) throw new HttpError(400, `body/data/${i}/value is not base64 (its encoding says base64)`);
        return { key, value: bytes };
      });
      return { written: await o.data.setAll(pairs) };
    },
  );

  app.get<{ Params: { key: string }; Querystring: DataQuery }>(
    '/api/v1/hash/data/:key',
    {
      onRequest,
      schema: {
        summary: 'Get a key',
        description:
          'GET the key (URL-encode it in the path); 404 when it does not exist. The value comes as a string when it is valid UTF-8; ' +
          'any bytes come with `?encoding=base64` (the reply then says `"encoding": "base64"`). Without it, a value that is not UTF-8 is a 406, never a lossy string.',
        tags: ['data'],
        security,
        params: keyParamsSchema,
        querystring: dataQuerySchema,
        response: { 200: keyValueSchema, ...errorReplies(400, 401, 404, 406, 502, 503) },
      },
    },
    async (request) => {
      const { key } = request.params;
      const encoding = request.query.encoding ?? 'utf8';
      const bytes = await o.data.get(key);
      if (bytes === undefined) throw new HttpError(404, `no key '${key}'`);
      const value = valueText(bytes, encoding);
      if (value === undefined) throw new HttpError(406, `the value of '${key}' is not valid UTF-8 (${bytes.length} bytes): ask for it with ?encoding=base64`);
      return encoding === 'base64' ? { key, value, encoding } : { key, value };
    },
  );
}
