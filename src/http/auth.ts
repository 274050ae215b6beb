/**
 * Bearer tokens for the HTTP API, the HTTP side of RESP's AUTH: a route guarded by a
 * password needs `Authorization: Bearer <password>`; an empty password guards nothing
 * (as --requirepass '' and --admin-password '' do on RESP).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

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
 * An onRequest hook (before the body is read or checked) letting through requests that carry one of `passwords` (the non-empty ones)
 * as their bearer token; 401 with a JSON error otherwise. No non-empty password: open.
 */
export function requireBearer(what: string, ...passwords: string[]): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const accepted = passwords.filter((p) => p !== '');
  return async (request, reply) => {
    if (accepted.length === 0) return;
    const token = bearerToken(request);
    if (token !== undefined && accepted.some((p) => samePassword(token, p))) return;
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send({ error: token === undefined ? `${what} needs Authorization: Bearer <password>` : `${what}: wrong password` });
  };
}
