/**
 * HttpServer: the proxy's HTTP side on --http-port — the API v1 (data and cluster routes),
 * its OpenAPI document and docs, /healthz, /metrics and the status page — on fastify.
 *
 * Every reply that is not a success is `{"error": "..."}` with a 4xx/5xx status: schema
 * failures 400 (an unknown field named), a missing or wrong bearer token 401, unknown
 * routes, keys and nodes 404 (a node named in a body too), a method the path does not
 * have 405 (with Allow), a value that is not UTF-8 asked for as text 406, a change the
 * admin refuses (AdminError) 409, a body over the limit 413, not JSON 415, an error reply
 * of the cluster 502, a cluster that cannot serve 503 (also: no control-plane leader to
 * make a change, NoLeaderError).
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest, type FastifySchemaValidationError } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { AdminError } from '../admin/cluster-admin.js';
import { NoLeaderError, type AdminApi } from '../admin/admin-api.js';
import type { CoordinationStatus } from '../status/coordination-status.js';
import type { Logger } from '../log.js';
import type { ProxyServer } from '../proxy/server.js';
import { adminRoutes } from './admin-routes.js';
import { dataGuard, topologyGuard } from './auth.js';
import { clusterHealth } from './cluster-view.js';
import { DataClient, DataReplyError, DataUnreachableError } from './data-client.js';
import { dataRoutes } from './data-routes.js';
import { HttpError } from './http-error.js';
import { absentBodyIsEmpty, documentOptionalBodies } from './optional-body.js';
import { DEFAULT_PUBLIC_DIR, operatorRoutes, type MetricsSource } from './operator-routes.js';
import { statusRoutes } from './status-routes.js';
import { slotLoadRoutes } from './slot-load-routes.js';
import { keyRoutes } from './key-routes.js';
import type { KeySampler } from '../ops/key-sampler.js';
import type { ClusterEventLog } from '../status/cluster-events.js';
import type { MetricsHistory } from '../status/metrics-history.js';
import type tls from 'node:tls';
import { readSecureContext, type OwnClientFiles, type TlsFiles } from '../net/tls-files.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface HttpServerOptions {
  host: string;
  /** 0: any free port (see `port` once listening). */
  port: number;
  /** Where the RESP server listens (--bind). */
  proxyHost: string;
  /** --no-plain-port: the data routes dial the proxy's TLS port presenting these files. */
  proxyTls?: OwnClientFiles;
  /** The RESP server: its port and --requirepass for data, its counters, its router's slot map for health. */
  proxy: ProxyServer;
  admin: AdminApi;
  /** --admin-password: the bearer token of changes (and of data, like the admin user on RESP). */
  adminPassword: string;
  /** Per data request; longer than --failover-timeout so a held request is answered by the proxy. */
  dataTimeoutMs: number;
  /** Replicas promoted by this process (the metrics part's counter); 0 without one. */
  failovers?: () => number;
  /** Who leads the control plane (GET /api/v1/cluster). */
  coordination: () => CoordinationStatus;
  /** The cluster's timeline (GET /api/v1/events). */
  events: ClusterEventLog;
  /** The last minutes' samples (GET /api/v1/history, and live over /api/v1/events). */
  history: MetricsHistory;
  /** Hot and big keys (GET /api/v1/hotkeys, /api/v1/bigkeys), when given. */
  keys?: KeySampler;
  /** Share the port with the other workers (--workers N). */
  reusePort?: boolean;
  /** GET /metrics, when given. */
  metrics?: MetricsSource;
  /** The status page's files (default: public/ next to this module). */
  publicDir?: string;
  bodyLimit?: number;
  /** --http-tls: HTTPS with these files' certificate (client certificates are not asked for). */
  tls?: TlsFiles;
  version: string;
  log: Logger;
}

export class HttpServer {
  private constructor(
    readonly app: FastifyInstance,
    private readonly data: DataClient,
    readonly port: number,
    private readonly tls: TlsFiles | undefined,
  ) {}

  /** --http-tls: read the certificate files again for new connections (SIGHUP); an error keeps the current ones. Null: done (or plain HTTP). */
  reloadTls(): Error | null {
    if (this.tls === undefined) return null;
    try {
      // With the https option, fastify's server is an https.Server: a tls.Server.
      (this.app.server as unknown as tls.Server).setSecureContext(readSecureContext(this.tls));
      return null;
    } catch (err) {
      return err as Error;
    }
  }

  /** Build the routes and listen; rejects (nothing left open) when the port cannot be bound. */
  static async start(o: HttpServerOptions): Promise<HttpServer> {
    // The https option makes fastify's server an https.Server; the routes are the same (its types differ only in the server's).
    const https = o.tls === undefined ? null : readSecureContext(o.tls);
    const data = new DataClient({
      host: o.proxyHost,
      ...(o.proxyTls === undefined ? { port: o.proxy.port } : { port: o.proxy.tlsPort ?? 0, tls: o.proxyTls }),
      password: o.proxy.requirePass,
      commandTimeoutMs: o.dataTimeoutMs,
      runtime: o.proxy.runtime,
    });
    const app = Fastify({
      ...(https === null ? {} : { https }),
      bodyLimit: o.bodyLimit ?? DEFAULT_BODY_LIMIT,
      // Requests are not logged one by one (as RESP commands are not); errors are, below.
      logger: false,
      ajv: {
        // Refuse what does not match instead of bending it to fit: an extra property or a
        // number where a string belongs is the client's mistake to hear about.
        customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
      },
      schemaErrorFormatter: validationError,
    });
    try {
      await build(app, o, data);
      // reusePort reaches net.Server#listen (fastify passes its options on; its types lag).
      await app.listen({ host: o.host, port: o.port, reusePort: o.reusePort === true } as { host: string; port: number });
    } catch (err) {
      data.close();
      await app.close();
      throw err;
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : o.port;
    o.log.info({ host: o.host, port, tls: o.tls !== undefined }, 'HTTP API listening');
    return new HttpServer(app, data, port, o.tls);
  }

  private closing: Promise<void> | undefined;

  /** Stop listening; requests under way finish first. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.app.close();
      this.data.close();
    })();
    return this.closing;
  }
}

async function build(app: FastifyInstance, o: HttpServerOptions, data: DataClient): Promise<void> {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = errorStatus(err);
    if (status >= 500 && !(err instanceof DataReplyError)) o.log.error({ method: request.method, url: request.url, err: err.message }, 'HTTP request failed');
    return reply.code(status).send({ error: errorMessage(err) });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const allowed = allowedMethods(app, request);
    if (allowed.length === 0) return reply.code(404).send({ error: `no route ${request.method} ${path}` });
    return reply
      .code(405)
      .header('allow', allowed.join(', '))
      .send({ error: `${request.method} is not allowed on ${path}: it takes ${allowed.join(', ')}` });
  });

  // JSON only: fastify would hand a text/plain body to the schema as a string.
  app.removeContentTypeParser('text/plain');
  app.addHook('preValidation', absentBodyIsEmpty);
  await app.register(swagger, {
    transformObject: documentOptionalBodies,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'interface-hash-server HTTP API',
        version: o.version,
        description:
          'Keys and cluster administration of the proxy. Data goes through the proxy like any client\'s; cluster changes are the admin verbs of the RESP port (ADD, LIST, REMOVE, FAILOVER, REBALANCE).\n\n' +
          'Access is the RESP port\'s: the cluster routes (reads of the nodes included) need the token LIST needs there — `Authorization: Bearer <--admin-password>`, else `<--requirepass>` when only that is set; ' +
          'the data routes need --requirepass (or the admin password) when it is set. /healthz, /metrics, these docs and the status page\'s files are open (probes and scrapers carry no token; /metrics shows node addresses, see there).\n\n' +
          'Every error is `{"error": "..."}`. On any path, a method it does not have is a 405 with an `Allow` header (HEAD is allowed wherever GET is); an unknown path is a 404. ' +
          'A body field a route does not know is a 400 naming it, also on routes that take no body fields.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'cluster routes: --admin-password (else --requirepass); data: --requirepass or --admin-password' },
        },
      },
      tags: [
        { name: 'data', description: 'keys' },
        { name: 'cluster', description: 'nodes, topology and changes' },
        { name: 'operator', description: 'health and metrics' },
      ],
    },
  });
  // The UI's assets are served from the package itself (no CDN): the docs work offline.
  await app.register(swaggerUi, { routePrefix: '/api/v1/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });

  // One access rule per kind of route, built once, the RESP port's (auth.ts). Every route
  // that shows the topology — node ids, addresses, roles, operations; a listing, a stream
  // or a history of them — must take `topology`, so that HTTP never shows a user what
  // LIST refuses them on RESP. Only /healthz, /metrics, the docs and the page's files stay open.
  const topology = topologyGuard(o.adminPassword, o.proxy.requirePass);
  dataRoutes(app, { data, guard: dataGuard(o.adminPassword, o.proxy.requirePass) });
  adminRoutes(app, {
    admin: o.admin,
    stats: () => ({
      opsPerSec: o.proxy.opsMeter.perSecond,
      totalCommands: o.proxy.stats.totalCommands,
      connectedClients: o.proxy.stats.connectedClients,
      failovers: o.failovers?.() ?? 0,
    }),
    coordination: o.coordination,
    guard: topology,
  });
  statusRoutes(app, { events: o.events, history: o.history, guard: topology });
  slotLoadRoutes(app, { load: o.proxy.router.slotLoad, slotMap: () => o.proxy.router.slotMap, guard: topology });
  if (o.keys !== undefined) keyRoutes(app, { keys: o.keys, guard: topology });
  await operatorRoutes(app, {
    health: () => clusterHealth(o.proxy.router.slotMap, o.proxy.nodeStatus?.()),
    metrics: o.metrics,
    publicDir: o.publicDir ?? DEFAULT_PUBLIC_DIR,
  });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/**
 * The methods the router has for the request's path (HEAD wherever GET is: fastify adds
 * it); none when it has the request's own — its handler found nothing (a file gone): a 404.
 */
function allowedMethods(app: FastifyInstance, request: FastifyRequest): string[] {
  const url = request.url.split('?')[0];
  const has = (method: string) => app.findRoute({ method: method as (typeof METHODS)[number], url }) !== null;
  return has(request.method) ? [] : METHODS.filter(has);
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * fastify's validation message ("body/data/0/value must be string"), naming the field an
 * additionalProperties error is about: Ajv's own words leave it out.
 */
function validationError(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const text = errors.map((e) => {
    const extra = e.keyword === 'additionalProperties' ? (e.params as { additionalProperty?: unknown }).additionalProperty : undefined;
    return `${dataVar}${e.instancePath} ${e.message ?? 'is not valid'}${typeof extra === 'string' ? `: '${extra}'` : ''}`;
  });
  return new Error(text.join(', '));
}

function errorStatus(err: FastifyError): number {
  if (err instanceof HttpError) return err.statusCode;
  if (err instanceof AdminError) return 409;
  if (err instanceof NoLeaderError) return 503;
  if (err instanceof DataReplyError) return err.unavailable ? 503 : 502;
  if (err instanceof DataUnreachableError) return 503;
  if (err.validation !== undefined) return 400;
  // fastify's own (body too large 413, not JSON 415, bad JSON 400): its status is right.
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return err.statusCode;
  return 500;
}

/** fastify's validation messages already name the part and the field: "body/data/0/key must be string". */
function errorMessage(err: FastifyError): string {
  if (err instanceof DataReplyError) return `the cluster answered: ${err.message}`;
  return err.message;
}
