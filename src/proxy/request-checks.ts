/** Redis's checks of a request's arguments, and its words when they fail: shared by the commands the proxy answers itself and its modes. */

/** An unknown subcommand of `container` (argument 1 of the request), in Redis's words. */
export function unknownSubcommand(container: string, sub: string): string {
  return `ERR unknown subcommand '${sub.slice(0, 128)}'. Try ${container.toUpperCase()} HELP.`;
}

/** An argument Redis reads as a 64-bit integer (at most 18 digits here: exact in a double); undefined when it is not one. */
export function parseInteger(text: string): number | undefined {
  return /^-?\d{1,18}$/.test(text) ? Number(text) : undefined;
}

/** Wrong number of arguments, in Redis's words. */
export function arityError(name: string): string {
  return `ERR wrong number of arguments for '${name}' command`;
}
