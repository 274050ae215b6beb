/**
 * Which proxy the CLI talks to, and as whom: `--server` or the env (CLUSTER_SERVER_URL, or
 * the study project's misspelled CLUSTER_SEVER_URL), as `host:port` or
 * `redis://[user:password@]host:port`; the password from `--password`, the URL or
 * CLUSTER_SERVER_PASSWORD, in that order. TLS with `--tls` or a `rediss://` URL, and
 * redis-cli's `--cacert`, `--cert`, `--key`.
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
  /** Over TLS with these files (read when connecting); undefined: plain. */
  tls: TlsTarget | undefined;
}

/** redis-cli's --cacert, --cert, --key (undefined: the system's CAs; no client certificate). */
export interface TlsTarget {
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
}

export interface TargetOptions {
  server?: string;
  user?: string;
  password?: string;
  tls?: boolean;
  cacert?: string;
  cert?: string;
  key?: string;
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
  return { host: parsed.host, port: parsed.port, username, password, tls: tlsTarget(o, parsed.tls === true) };
}

/** --cacert, --cert and --key mean TLS: given without it (or rediss://) they are a mistake, not silently plain. */
function tlsTarget(o: TargetOptions, byUrl: boolean): TlsTarget | undefined {
  const files = { caFile: nonEmpty(o.cacert), certFile: nonEmpty(o.cert), keyFile: nonEmpty(o.key) };
  const named = Object.entries({ '--cacert': files.caFile, '--cert': files.certFile, '--key': files.keyFile }).filter(([, v]) => v !== undefined);
  if (o.tls !== true && !byUrl) {
    if (named.length > 0) throw new CliError(`${named.map(([flag]) => flag).join(', ')} need --tls (or a rediss:// --server)`, USAGE_EXIT);
    return undefined;
  }
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) throw new CliError('--cert and --key go together', USAGE_EXIT);
  return files;
}

/** `host:port` for messages and the prompt. */
export function targetName(t: ServerTarget): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** `host:port`, `[v6]:port` or `redis[s]://[user:password@]host[:port]`; a string says what is wrong. */
function parseServer(text: string): { host: string; port: number; username?: string; password?: string; tls?: boolean } | string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return `'${text}' is not a URL`;
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return `'${text}': only redis:// and rediss:// URLs are supported`;
    if (url.hostname === '') return `'${text}' has no host`;
    const port = url.port === '' ? 6380 : Number(url.port);
    // A URL with only a password (redis://:pw@host) authenticates as the default user.
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port,
      username: nonEmpty(decodeURIComponent(url.username)),
      password: nonEmpty(decodeURIComponent(url.password)),
      tls: url.protocol === 'rediss:',
    };
  }
  const address = parseAddress(text);
  if (address === undefined) return `'${text}' is not an address: expected host:port or redis://[user:password@]host:port`;
  return { host: address.host.replace(/^\[(.*)\]$/, '$1'), port: address.port };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}
