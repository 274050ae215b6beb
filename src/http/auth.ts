/**
 * Bearer tokens for the HTTP API, the HTTP side of RESP's AUTH: a route guarded by a
 * password needs `Authorization: Bearer <password>`; an empty password guards nothing
 * (as --requirepass '' and --admin-password '' do on RESP).
 *
 * Two rules, the RESP port's own:
 *   data       --requirepass, or the admin's password (the admin user runs data commands
 *              too); open without --requirepass, as RESP needs no AUTH then.
 *   topology   whatever LIST needs on RESP: the admin's password with --admin-password
 *              (data users get NOPERM there), else --requirepass (AUTH <password> makes a
 *              client the admin then), else open. Reads of the nodes and every change.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { bearer } from './schemas.js';

/** A route's access check and the OpenAPI security requirement that documents it. */
export interface RouteGuard {
  /** An onRequest hook: runs before the body is read or checked. */
  onRequest: onRequestAsyncHookHandler;
  /** undefined when the guard lets every request through (nothing to document). */
  security: typeof bearer | undefined;
}

/** Every request let through (no password set). */
const OPEN: RouteGuard = { onRequest: async () => undefined, security: undefined };

/** The bearer token of a request, or undefined when it has none. */
function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1];
}

/** Compared in constant time: the token is a password. */
function samePassword(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A guard letting through requests that carry one of `passwords` (the non-empty ones) as
 * their bearer token; 401 with a JSON error naming `which` password otherwise. No
 * non-empty password: open.
 */
export function requireBearer(which: string, ...passwords: string[]): RouteGuard {
  const accepted = passwords.filter((p) => p !== '');
  if (accepted.length === 0) return OPEN;
  return {
    security: bearer,
    async onRequest(request, reply) {
      const token = bearerToken(request);
      if (token !== undefined && accepted.some((p) => samePassword(token, p))) return;
      const route = `${request.method} ${request.url.split('?')[0]}`;
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: token === undefined ? `${route} needs Authorization: Bearer <${which}>` : `${route}: wrong password (it needs ${which})` });
    },
  };
}

/** The data routes' guard (keys): as RESP's data commands. */
export function dataGuard(adminPassword: string, requirePass: string): RouteGuard {
  // Without --requirepass data is open even with an admin password, as on RESP.
  return requirePass === '' ? OPEN : requireBearer('--requirepass', requirePass, adminPassword);
}

/**
 * The guard of everything that shows or changes the cluster's topology (nodes, addresses,
 * roles, operations): as RESP's LIST and the other admin verbs. Built once per server;
 * every route that reveals the topology — the node listings, and any stream or history of
 * them — must take it, so the HTTP port never shows what LIST refuses to show.
 */
export function topologyGuard(adminPassword: string, requirePass: string): RouteGuard {
  if (adminPassword !== '') return requireBearer('--admin-password', adminPassword);
  return requireBearer('--requirepass', requirePass);
}
