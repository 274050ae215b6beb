/**
 * Errors of the Docker Engine API as dockerode reports them (an Error with the HTTP status
 * in `statusCode`, the engine's message in `json.message`).
 */

function statusOf(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** No such container, volume, network or image. */
export function isDockerNotFound(err: unknown): boolean {
  return statusOf(err) === 404;
}

/** The container is already in the asked state (started, stopped). */
export function isDockerNotModified(err: unknown): boolean {
  return statusOf(err) === 304;
}

/** A conflict: e.g. killing a container that is not running, a name already in use. */
export function isDockerConflict(err: unknown): boolean {
  return statusOf(err) === 409;
}

/** The engine's own words, without dockerode's "(HTTP code 500) server error - " prefix. */
export function dockerMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json !== undefined && json !== null && typeof json.message === 'string') return json.message;
  return (err as Error).message;
}
