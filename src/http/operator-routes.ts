/**
 * The operator's routes outside /api/v1: GET /healthz (for load balancers and probes),
 * GET /metrics (when the metrics part is given) and the status page's static files at /.
 * All open, even with --admin-password: probes and Prometheus scrapers carry no token, and
 * the page asks for the token itself before it reads the topology (GET /api/v1/cluster).
 *
 * The status page lives in src/http/public/ (flat: index.html, its scripts and styles); the
 * build copies it next to the compiled module (dist/http/public/), so `./public/` relative
 * to this module is right under tsx (src/) and node (dist/) alike. Each file present at
 * start is one route, so the router knows every path (a wrong method is a 405, not a 404).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Health } from './cluster-view.js';
import { healthSchema } from './schemas.js';

/** What serves GET /metrics (the metrics part builds it; prom-client's register fits). */
export interface MetricsSource {
  contentType: string;
  render(): Promise<string>;
}

export const DEFAULT_PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** A file name of the public dir: no path separators, no dot files (so no '..'). */
const PUBLIC_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export interface OperatorRoutesOptions {
  health: () => Health;
  metrics: MetricsSource | undefined;
  publicDir: string;
}

export async function operatorRoutes(app: FastifyInstance, o: OperatorRoutesOptions): Promise<void> {
  app.get('/healthz', {
    schema: {
      summary: 'Health',
      description:
        "200 when every slot has a reachable master (Redis's cluster_state:ok), 503 with the reason otherwise. " +
        'Open, even with --admin-password: load balancers and probes carry no token, and it shows only ok or the count of slots without a master.',
      tags: ['operator'],
      response: { 200: healthSchema, 503: healthSchema },
    },
  }, async (_request, reply) => {
    const health = o.health();
    return reply.code(health.status === 'ok' ? 200 : 503).send(health);
  });

  const metrics = o.metrics;
  if (metrics !== undefined) {
    app.get('/metrics', {
      schema: {
        summary: 'Prometheus metrics',
        description:
          'Open, even with --admin-password: Prometheus scrapers carry no token. It does show the topology in its labels (node ids, addresses, roles, states, slots per master), ' +
          'so with --admin-password keep --http-bind on an interface only trusted hosts reach.',
        tags: ['operator'],
        produces: [metrics.contentType],
      },
    }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  }

  const sendPublic = async (name: string, reply: FastifyReply) => {
    let body: Buffer;
    try {
      body = await readFile(path.join(o.publicDir, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') return reply.callNotFound(); // the JSON 404 of any unknown route
      throw err;
    }
    return reply.type(CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(body);
  };
  const hide = { schema: { hide: true } };
  const names = await publicFiles(o.publicDir);
  if (names.includes('index.html')) app.get('/', hide, async (_request, reply) => sendPublic('index.html', reply));
  for (const name of names) app.get(`/${name}`, hide, async (_request, reply) => sendPublic(name, reply));
  // Asked for by browsers (and tools) whatever the page links: the same icon, an SVG.
  if (names.includes('favicon.svg') && !names.includes('favicon.ico')) app.get('/favicon.ico', hide, async (_request, reply) => sendPublic('favicon.svg', reply));
}

/** The public dir's files (none when it is missing); read at request time, so an edited one is served as it is now. */
async function publicFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() && PUBLIC_NAME.test(e.name)).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
