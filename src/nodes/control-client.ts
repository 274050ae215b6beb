/**
 * Control-plane connections to Redis nodes: short-lived NodeClients, no retries, every
 * step bounded. Used to probe, adopt and configure nodes — never for user traffic (that
 * goes through src/backend).
 */
import { formatAddress, NodeClient, NodeConnectError, type NodeAddress } from './node-client.js';
import { withTimeout } from './wait.js';
import { createRuntime, type Runtime } from '../net/runtime.js';
import type { Logger } from '../log.js';

export { formatAddress, NodeConnectError, type NodeAddress, type NodeClient } from './node-client.js';

/** "host:port" → the address; undefined when it is not one (no host, a port that is not 1..65535 in digits). */
export function parseAddress(text: string): NodeAddress | undefined {
  const at = text.lastIndexOf(':');
  const digits = text.slice(at + 1);
  const port = Number(digits);
  if (at <= 0 || !/^\d+$/.test(digits) || port < 1 || port > 65535) return undefined;
  return { host: text.slice(0, at), port };
}

export type ControlClient = NodeClient;

/** A password fixed now, or read at each connect: the cluster's is the topology document's, which a copy could outlive. */
export type PasswordSource = string | (() => string);

export interface ControlClientsOptions {
  /** The nodes' requirepass ('' for none); default ''. */
  password?: PasswordSource;
  /** The proxy's runtime: its dial routes (the Docker provider's published ports) and fault log. Default: one runtime for all of these clients, nodes dialled as announced. */
  runtime?: Runtime;
  /** Bounds connecting and each command unless a call says otherwise; default 2 s. */
  timeoutMs?: number;
}

/**
 * The control-plane connections of one proxy: what they share — the password, the routes
 * they dial through, the timeout — held here and not in module state, so that two proxies
 * in one process never dial through each other's routes.
 */
export class ControlClients {
  private readonly passwordSource: PasswordSource;
  readonly runtime: Runtime;
  readonly timeoutMs: number;

  constructor(o: ControlClientsOptions = {}) {
    this.passwordSource = o.password ?? '';
    // Made once here when not given: every client of this set shares it, not one each.
    this.runtime = o.runtime ?? createRuntime();
    this.timeoutMs = o.timeoutMs ?? 2_000;
  }

  /** Read at each call: the source may be a getter. */
  get password(): string {
    return typeof this.passwordSource === 'string' ? this.passwordSource : this.passwordSource();
  }

  /** The same routes and timeout with another password (a node's own spec, a node being adopted). */
  as(password: PasswordSource): ControlClients {
    return new ControlClients({ password, runtime: this.runtime, timeoutMs: this.timeoutMs });
  }

  /** The same routes and password with another default timeout. */
  within(timeoutMs: number): ControlClients {
    return new ControlClients({ password: this.passwordSource, runtime: this.runtime, timeoutMs });
  }

  /**
   * Connect (AUTH unless the password is empty), run `fn`, always disconnect.
   * Each command is bounded by `timeoutMs`, and the whole call (`fn` included) by twice that.
   */
  async with<T>(addr: NodeAddress, fn: (client: ControlClient) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    const client = this.client(addr, timeoutMs);
    const run = async (): Promise<T> => {
      await client.connect();
      return fn(client);
    };
    try {
      return await withTimeout(run(), timeoutMs * 2, `redis at ${formatAddress(addr)} did not answer within ${timeoutMs * 2} ms`);
    } finally {
      client.close();
    }
  }

  /**
   * A reconnecting client for a long job that judges raw frames (slot migration, health
   * probes, slot maps): it re-authenticates on every reconnect, and never rejects.
   */
  channel(addr: NodeAddress, opts: { timeoutMs: number; commandTimeoutMs?: number; log: Logger; id?: string }): NodeClient {
    return new NodeClient(addr, { ...opts, password: this.password, reconnect: true, runtime: this.runtime });
  }

  /** PING the node; never throws. */
  async probe(addr: NodeAddress, timeoutMs = this.timeoutMs): Promise<NodeProbe> {
    try {
      await this.with(addr, (c) => c.call('PING'), timeoutMs);
      return { state: 'ready' };
    } catch (err) {
      const reason = err instanceof NodeConnectError ? err.reason : (err as Error).message;
      if (classifyAuthError(reason)) return { state: 'auth-refused', reason };
      if (reason.startsWith('LOADING')) return { state: 'loading' };
      if (err instanceof NodeConnectError) return { state: 'unreachable', reason };
      return { state: 'error', reason };
    }
  }

  /** A one-shot client, not yet connected; its connect() rejects with a NodeConnectError. */
  private client(addr: NodeAddress, timeoutMs: number): ControlClient {
    return new NodeClient(addr, { password: this.password, timeoutMs, runtime: this.runtime });
  }
}

/** What a node looks like from the control plane right now. */
export type NodeProbe =
  | { state: 'ready' }
  | { state: 'loading' }
  | { state: 'unreachable'; reason: string }
  | { state: 'auth-refused'; reason: string }
  | { state: 'error'; reason: string };

const AUTH_ERROR = /^(NOAUTH|WRONGPASS|ERR AUTH|ERR invalid password)/;

export function classifyAuthError(message: string): boolean {
  return AUTH_ERROR.test(message);
}

/** `INFO <section>` as field → value. */
export async function infoFields(client: ControlClient, section: string): Promise<Map<string, string>> {
  return parseInfo(String(await client.call('INFO', section)));
}

export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** `CONFIG GET <name>` → the value, or undefined when the parameter is unknown. */
export async function configGet(client: ControlClient, name: string): Promise<string | undefined> {
  const reply = (await client.call('CONFIG', 'GET', name)) as string[];
  return reply.length >= 2 ? reply[1] : undefined;
}
