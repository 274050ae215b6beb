/**
 * Control-plane connections to Redis nodes: short-lived NodeClients, no retries, every
 * step bounded. Used to probe, adopt and configure nodes — never for user traffic (that
 * goes through src/backend).
 */
import { formatAddress, NodeClient, NodeConnectError, type NodeAddress } from './node-client.js';
import { withTimeout } from './wait.js';
import type { Runtime } from '../net/runtime.js';
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

/**
 * The proxy's runtime, for control clients: they dial through its routes (the Docker
 * provider's published ports) and report faults to its log. Set by main(); undefined:
 * each client has a runtime of its own (nodes dialled as announced).
 */
let controlRuntime: Runtime | undefined;

export function setControlRuntime(runtime: Runtime | undefined): void {
  controlRuntime = runtime;
}

/** A one-shot control client, connecting now; its connect() rejects with a NodeConnectError. */
function controlClient(addr: NodeAddress, password: string, timeoutMs: number): ControlClient {
  return new NodeClient(addr, { password, timeoutMs, runtime: controlRuntime });
}

/**
 * A reconnecting client for a long job that judges raw frames (slot migration, health
 * probes, slot maps): it re-authenticates on every reconnect, and never rejects.
 */
export function openNodeChannel(addr: NodeAddress, opts: { password: string; timeoutMs: number; commandTimeoutMs?: number; log: Logger; id?: string }): NodeClient {
  return new NodeClient(addr, { ...opts, reconnect: true, runtime: controlRuntime });
}

/**
 * Connect (AUTH with `password` unless empty), run `fn`, always disconnect.
 * Each command is bounded by `timeoutMs`, and so is the whole call (`fn` included).
 */
export async function withControlClient<T>(
  addr: NodeAddress,
  password: string,
  timeoutMs: number,
  fn: (client: ControlClient) => Promise<T>,
): Promise<T> {
  const client = controlClient(addr, password, timeoutMs);
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
 * A connected control client for a long job (many commands, each bounded by `timeoutMs`,
 * the whole not bounded); the caller closes it.
 */
export async function openControlClient(addr: NodeAddress, password: string, timeoutMs: number): Promise<ControlClient> {
  const client = controlClient(addr, password, timeoutMs);
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
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

/** PING the node with the password; never throws. */
export async function probeNode(addr: NodeAddress, password: string, timeoutMs: number): Promise<NodeProbe> {
  try {
    await withControlClient(addr, password, timeoutMs, (c) => c.call('PING'));
    return { state: 'ready' };
  } catch (err) {
    const reason = err instanceof NodeConnectError ? err.reason : (err as Error).message;
    if (classifyAuthError(reason)) return { state: 'auth-refused', reason };
    if (reason.startsWith('LOADING')) return { state: 'loading' };
    if (err instanceof NodeConnectError) return { state: 'unreachable', reason };
    return { state: 'error', reason };
  }
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
