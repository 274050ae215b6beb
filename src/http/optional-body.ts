/**
 * A body none of whose fields is required may be left out (REBALANCE's and DELETE's, which
 * have no fields): it is then the empty one, `{}`, and the route's schema checks a body that
 * was sent like any other — so a field it does not know is refused even there. fastify
 * would refuse the absent body ("body must be object"), and @fastify/swagger marks every
 * request body required; this module makes both say the rule above.
 */
import type { FastifyRequest } from 'fastify';
import type { SwaggerTransformObject } from '@fastify/swagger';

/** True for an object schema without required properties. */
function mayBeAbsent(schema: unknown): boolean {
  if (typeof schema !== 'object' || schema === null) return false;
  const s = schema as { type?: unknown; required?: unknown };
  return s.type === 'object' && (!Array.isArray(s.required) || s.required.length === 0);
}

/** A preValidation hook for every route: an absent body that may be absent becomes `{}`. */
export async function absentBodyIsEmpty(request: FastifyRequest): Promise<void> {
  if (request.body === undefined && mayBeAbsent(request.routeOptions.schema?.body)) request.body = {};
}

interface OperationDoc {
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
}

/** The OpenAPI document's transform: such bodies are documented as optional. */
export const documentOptionalBodies: SwaggerTransformObject = (document) => {
  if (!('openapiObject' in document)) return document.swaggerObject;
  const api = document.openapiObject;
  for (const operations of Object.values(api.paths ?? {})) {
    for (const operation of Object.values(operations ?? {}) as OperationDoc[]) {
      const body = operation?.requestBody;
      if (body?.content !== undefined && Object.values(body.content).every((media) => mayBeAbsent(media.schema))) body.required = false;
    }
  }
  return api;
};
