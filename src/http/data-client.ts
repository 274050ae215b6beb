/**
 * DataClient: the HTTP API's keys go through the proxy's own RESP port, as any client's
 * do. One path for data: routing, MOVED/ASK, requests held while a master fails over,
 * --ack replica, --requirepass and INFO's counters all apply to an HTTP write exactly as
 * to a redis-cli one, with no second entry into the router to keep in step with it. The
 * cost, a loopback hop per request, does not matter for an admin-scale API.
 */
import { NodeClient } from '../nodes/node-client.js';

export interface DataClientOptions {
  /** Where the proxy listens (a wildcard bind is reached on the loopback). */
  host: string;
  port: number;
  /** --requirepass ('' = none). */
  password: string;
  /** Longer than the proxy's own --failover-timeout: a held request is answered, not cut off here. */
  commandTimeoutMs: number;
}

/** An error reply of the cluster (WRONGTYPE, CLUSTERDOWN, ...). */
export class DataReplyError extends Error {
  override readonly name = 'DataReplyError';

  /** The cluster cannot serve the key now (as opposed to refusing the request). */
  get unavailable(): boolean {
    return /^(?:.*?: )?(CLUSTERDOWN|TRYAGAIN|NOREPLICAS|LOADING|MASTERDOWN)/.test(this.message);
  }
}

/** The proxy's port did not answer (closing, connection lost, timed out). */
export class DataUnreachableError extends Error {
  override readonly name = 'DataUnreachableError';
}

export class DataClient {
  private readonly client: NodeClient;

  constructor(o: DataClientOptions) {
    // The proxy is in this process: a lost connection is its restart or shutdown; it reconnects by itself.
    this.client = new NodeClient(
      { host: o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host, port: o.port },
      { id: 'http data', password: o.password, timeoutMs: o.commandTimeoutMs, reconnect: true },
    );
  }

  /** GET; undefined when the key does not exist. */
  async get(key: string): Promise<string | undefined> {
    const value = (await replyErrors(this.client.call('GET', key))) as string | null;
    return value ?? undefined;
  }

  /** SET each pair, pipelined; rejects with the first failure (the pairs before it may be set). */
  async setAll(pairs: { key: string; value: string }[]): Promise<number> {
    const results = await this.client.batch(pairs.map(({ key, value }) => ['SET', key, value]));
    for (let i = 0; i < results.length; i++) {
      const [err] = results[i];
      if (err !== null) throw asDataError(err, `SET ${pairs[i].key}`);
    }
    return results.length;
  }

  close(): void {
    this.client.close();
  }
}

async function replyErrors<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw asDataError(err as Error);
  }
}

/** NodeClient marks the cluster's own error replies as ReplyError; everything else is a transport failure. */
function asDataError(err: Error, context?: string): Error {
  const message = context === undefined ? err.message : `${context}: ${err.message}`;
  return err.name === 'ReplyError' ? new DataReplyError(message) : new DataUnreachableError(`the proxy did not answer: ${message}`);
}
