/**
 * The status page's live routes:
 *   GET /api/v1/events   text/event-stream: the cluster's timeline (ClusterEventLog) — the
 *                        events kept first, then each one as it happens — and each new
 *                        metrics sample. Every timeline event has an id; a reader that
 *                        reconnects with it (Last-Event-ID, or ?since=) gets only the later
 *                        ones, so nothing is lost across a reconnect.
 *   GET /api/v1/history  JSON: the samples of the last 15 minutes (MetricsHistory).
 * Both show the topology (node ids, states, roles), so they take the topology guard: the
 * token LIST needs on RESP (auth.ts). A browser's EventSource cannot send that header, so
 * the page reads the stream with fetch().
 *
 * The stream's messages (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 *   event: hello          data: {"stream", "complete", "intervalMs"} — first; complete is
 *                         false when events after the id asked for were dropped from the ring
 *   event: cluster-event  id: <stream>:<seq>   data: one ClusterEvent
 *   event: sample         data: one MetricsSample (no id: samples are not replayed; the
 *                         history route has them)
 *   ': keep-alive' comments between.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ClusterEventLog } from '../status/cluster-events.js';
import type { MetricsHistory } from '../status/metrics-history.js';
import type { RouteGuard } from './auth.js';
import { clusterEventSchema, errorReplies, eventsQuerySchema, historySchema } from './schemas.js';

export interface StatusRoutesOptions {
  events: ClusterEventLog;
  history: MetricsHistory;
  /** The topology guard (auth.ts). */
  guard: RouteGuard;
}

/** A comment this often: an idle stream stays open through proxies, and a dead reader is noticed. */
const KEEPALIVE_MS = 15_000;
/** A reader this far behind is cut off; it reconnects with its last id and misses nothing of the timeline. */
const MAX_BUFFERED_BYTES = 1 << 20;
/** What a browser's EventSource waits before it reconnects. */
const RETRY_MS = 1_000;

export function statusRoutes(app: FastifyInstance, o: StatusRoutesOptions): void {
  const { onRequest: guard, security } = o.guard;
  const streams = new Set<ServerResponse>();
  // A stream never ends by itself: the server's close ends them, or it would wait for them forever.
  app.addHook('preClose', (done) => {
    for (const res of streams) res.end();
    done();
  });

  app.get<{ Querystring: { since?: string } }>('/api/v1/events', {
    onRequest: guard,
    schema: {
      summary: "The cluster's timeline, live (server-sent events)",
      description:
        'text/event-stream. First `hello`, then every `cluster-event` kept (node state changes, failovers, shard recoveries, slot migrations, nodes added, removed and restarted, admin changes) and each new one as it happens, and a `sample` every few seconds (as GET /api/v1/history has them). ' +
        'Reconnect with the last event id as the Last-Event-ID header (or ?since=) to get only the later events. Each event\'s data is JSON: ' +
        JSON.stringify(Object.keys(clusterEventSchema.properties)),
      tags: ['cluster'],
      security,
      querystring: eventsQuerySchema,
      response: {
        200: { description: 'the stream (never ends by itself)', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        ...errorReplies(400, 401),
      },
    },
  }, (request, reply) => {
    const header = request.headers['last-event-id'];
    const lastId = (Array.isArray(header) ? header[0] : header) ?? request.query.since;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Nothing between here and the reader may hold the stream back (nginx buffers otherwise).
      'x-accel-buffering': 'no',
    });
    // HEAD: the headers a GET gets, and the end. Node sends a HEAD's headers only with its
    // end, so a stream that never ends would leave the client waiting for them forever.
    if (request.method === 'HEAD') {
      res.end();
      return;
    }
    res.socket?.setNoDelay(true);
    const send = (message: string): void => {
      if (res.writableEnded) return;
      res.write(message);
      if (res.writableLength > MAX_BUFFERED_BYTES) res.end();
    };
    // The backlog and the subscriptions in one turn: no event falls between them.
    const { events, complete } = o.events.since(lastId);
    send(`retry: ${RETRY_MS}\n\n`);
    send(message('hello', JSON.stringify({ stream: o.events.stream, complete, intervalMs: o.history.intervalMs })));
    for (const e of events) send(message('cluster-event', JSON.stringify(e), e.id));
    const unsubscribeEvents = o.events.subscribe((e) => send(message('cluster-event', JSON.stringify(e), e.id)));
    const unsubscribeSamples = o.history.subscribe((s) => send(message('sample', JSON.stringify(s))));
    const keepalive = setInterval(() => send(': keep-alive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    streams.add(res);
    res.on('close', () => {
      clearInterval(keepalive);
      unsubscribeEvents();
      unsubscribeSamples();
      streams.delete(res);
    });
  });

  app.get('/api/v1/history', {
    onRequest: guard,
    schema: {
      summary: 'The last 15 minutes of load, latency and memory',
      description:
        "One sample every few seconds: the proxy's commands per second and the p50/p99 of its calls in the interval (every command merged), each master's commands per second and used memory. What the status page charts.",
      tags: ['cluster'],
      security,
      response: { 200: historySchema, ...errorReplies(401) },
    },
  }, async () => ({ intervalMs: o.history.intervalMs, windowMs: o.history.windowMs, samples: o.history.samples() }));
}

/** One server-sent event. `data` is JSON: one line, so one data field. */
function message(event: string, data: string, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}
