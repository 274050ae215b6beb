/**
 * A stand-in for the proxy's HTTP server in the status page test: serves the page's files
 * (src/http/public/) and GET /api/v1/cluster built from a running proxy in this process —
 * ClusterAdmin.list() and the proxy server's own stats — in the JSON the HTTP API answers.
 * The one place the test gets its server from: the real HTTP server replaces it at merge.
 * With --admin-password the cluster route wants it as a bearer token, as admin routes do.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { RunningProxy } from '../../src/main.js';
import type { ClusterListing } from '../../src/admin/cluster-admin.js';

export const PUBLIC_DIR = fileURLToPath(new URL('../../src/http/public/', import.meta.url));

/** The only paths served from PUBLIC_DIR: nothing else of the tree is reachable. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/status.js': { file: 'status.js', type: 'text/javascript; charset=utf-8' },
  '/status.css': { file: 'status.css', type: 'text/css; charset=utf-8' },
};

/** GET /api/v1/cluster: LIST's nodes and operations, and the proxy's figures. */
export interface ClusterJson extends ClusterListing {
  stats: { opsPerSec: number; totalCommands: number; connectedClients: number; failovers: number };
}

export async function clusterJson(proxy: RunningProxy): Promise<ClusterJson> {
  const admin = proxy.server.admin;
  if (admin === undefined) throw new Error('this proxy has no admin module');
  const listing = await admin.list();
  const { stats, opsMeter } = proxy.server;
  // failovers: promotions done by this process, counted by the metrics part of issue 9 (not merged here).
  return { ...listing, stats: { opsPerSec: opsMeter.perSecond, totalCommands: stats.totalCommands, connectedClients: stats.connectedClients, failovers: 0 } };
}

export interface StatusServer {
  /** http://127.0.0.1:port/ */
  url: string;
  close(): Promise<void>;
}

export async function startStatusServer(proxy: RunningProxy): Promise<StatusServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const reply = (status: number, type: string, body: string | Buffer): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, 'application/json', JSON.stringify({ error: `${req.method} is not allowed` }));
    if (path === '/api/v1/cluster') {
      // As the HTTP API's admin routes: --admin-password as a bearer token.
      const password = proxy.server.adminPassword;
      if (password !== '' && req.headers.authorization !== `Bearer ${password}`) return reply(401, 'application/json', JSON.stringify({ error: 'the admin password is required (Authorization: Bearer)' }));
      clusterJson(proxy).then(
        // The contract has null where LIST has nothing (undefined would drop the field).
        (body) => reply(200, 'application/json', JSON.stringify(body, (_k, v: unknown) => (v === undefined ? null : v))),
        (err: Error) => reply(500, 'application/json', JSON.stringify({ error: err.message })),
      );
      return;
    }
    const file = FILES[path];
    if (file === undefined) return reply(404, 'application/json', JSON.stringify({ error: `${path} not found` }));
    readFile(PUBLIC_DIR + file.file).then(
      (data) => reply(200, file.type, data),
      (err: Error) => reply(500, 'application/json', JSON.stringify({ error: err.message })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        server.closeAllConnections(); // the page's keep-alive connection would hold close() open
      }),
  };
}
