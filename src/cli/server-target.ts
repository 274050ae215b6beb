/**
 * Which proxy the CLI talks to, and as whom: `--server` or the env (CLUSTER_SERVER_URL, or
 * the study project's misspelled CLUSTER_SEVER_URL), as `host:port` or
 * `redis://[user:password@]host:port`; the password from `--password`, the URL or
 * CLUSTER_SERVER_PASSWORD, in that order.
 */
import { parseAddress } from '../nodes/control-client.js';
import { CliError, USAGE_EXIT } from './cli-error.js';

export const DEFAULT_SERVER = 'localhost:6380';

export interface ServerTarget {
  host: string;
  port: number;
  /** `AUTH <username> <password>` when set (`admin` for the admin user); `AUTH <password>` otherwise. */
  username: string | undefined;
  password: string | undefined;
}

export interface TargetOptions {
  server?: string;
  user?: string;
  password?: string;
}

/** Flags win over the env; a bad address is a usage error naming where it came from. */
export function resolveTarget(o: TargetOptions, env: NodeJS.ProcessEnv = process.env): ServerTarget {
  const [text, source] =
    o.server !== undefined
      ? [o.server, '--server']
      : env.CLUSTER_SERVER_URL
        ? [env.CLUSTER_SERVER_URL, 'CLUSTER_SERVER_URL']
        : env.CLUSTER_SEVER_URL
          ? [env.CLUSTER_SEVER_URL, 'CLUSTER_SEVER_URL']
          : [DEFAULT_SERVER, 'the default'];
  const parsed = parseServer(text);
  if (typeof parsed === 'string') throw new CliError(`${source}: ${parsed}`, USAGE_EXIT);
  const username = nonEmpty(o.user) ?? parsed.username;
  const password = nonEmpty(o.password) ?? parsed.password ?? nonEmpty(env.CLUSTER_SERVER_PASSWORD);
  if (username !== undefined && password === undefined) throw new CliError(`user ${username} needs a password (--password or CLUSTER_SERVER_PASSWORD)`, USAGE_EXIT);
  return { host: parsed.host, port: parsed.port, username, password };
}

/** `host:port` for messages and the prompt. */
export function targetName(t: ServerTarget): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** `host:port`, `[v6]:port` or `redis://[user:password@]host[:port]`; a string says what is wrong. */
function parseServer(text: string): Omit<ServerTarget, 'username' | 'password'> & { username?: string; password?: string } | string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return `'${text}' is not a URL`;
    }
    if (url.protocol !== 'redis:') return `'${text}': only redis:// URLs are supported`;
    if (url.hostname === '') return `'${text}' has no host`;
    const port = url.port === '' ? 6380 : Number(url.port);
    // A URL with only a password (redis://:pw@host) authenticates as the default user.
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port,
      username: nonEmpty(decodeURIComponent(url.username)),
      password: nonEmpty(decodeURIComponent(url.password)),
    };
  }
  const address = parseAddress(text);
  if (address === undefined) return `'${text}' is not an address: expected host:port or redis://[user:password@]host:port`;
  return { host: address.host.replace(/^\[(.*)\]$/, '$1'), port: address.port };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}
