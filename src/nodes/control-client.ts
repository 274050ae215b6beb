/**
 * Control-plane connections to Redis nodes (ioredis): short-lived, no retries, no offline
 * queue, every step bounded. Used to probe, adopt and configure nodes — never for user
 * traffic (that goes through src/backend).
 */
import { Redis } from 'ioredis';
import { dialAddress } from './dial-map.js';
import { withTimeout } from './wait.js';

export interface NodeAddress {
  host: string;
  port: number;
}

export function formatAddress(addr: NodeAddress): string {
  return `${addr.host}:${addr.port}`;
}

/** Could not connect, or the node refused our password. */
/** "host:port" → the address; undefined when it is not one (no host, a port that is not 1..65535 in digits). */
export function parseAddress(text: string): NodeAddress | undefined {
  const at = text.lastIndexOf(':');
  const digits = text.slice(at + 1);
  const port = Number(digits);
  if (at <= 0 || !/^\d+$/.test(digits) || port < 1 || port > 65535) return undefined;
  return { host: text.slice(0, at), port };
}

export class NodeConnectError extends Error {
  override readonly name = 'NodeConnectError';
  constructor(
    readonly address: NodeAddress,
    readonly reason: string,
  ) {
    super(`cannot reach redis at ${formatAddress(address)}: ${reason}`);
  }
}

export type ControlClient = Redis;

/** A control client, not connected yet; `connect` rejects with a NodeConnectError. */
function createControlClient(addr: NodeAddress, password: string, timeoutMs: number): { client: ControlClient; connect(): Promise<void> } {
  const client = new Redis({
    ...dialAddress(addr.host, addr.port),
    password: password === '' ? undefined : password,
    protocol: 2,
    lazyConnect: true,
    enableReadyCheck: false, // we want to see LOADING ourselves
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    disableClientInfo: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => {
    lastError = err; // reported through the rejected connect/command below
  });
  return {
    client,
    async connect() {
      try {
        await client.connect();
      } catch (err) {
        throw new NodeConnectError(addr, (lastError ?? (err as Error)).message);
      }
    },
  };
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
  const { client, connect } = createControlClient(addr, password, timeoutMs);
  const run = async (): Promise<T> => {
    await connect();
    return fn(client);
  };
  try {
    return await withTimeout(run(), timeoutMs * 2, `redis at ${formatAddress(addr)} did not answer within ${timeoutMs * 2} ms`);
  } finally {
    client.disconnect();
  }
}

/**
 * A connected control client for a long job (many commands, each bounded by `timeoutMs`,
 * the whole not bounded); the caller disconnects it.
 */
export async function openControlClient(addr: NodeAddress, password: string, timeoutMs: number): Promise<ControlClient> {
  const { client, connect } = createControlClient(addr, password, timeoutMs);
  try {
    await connect();
  } catch (err) {
    client.disconnect();
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
    await withControlClient(addr, password, timeoutMs, (c) => c.ping());
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
  return parseInfo(await client.info(section));
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
  const reply = (await client.config('GET', name)) as string[];
  return reply.length >= 2 ? reply[1] : undefined;
}
