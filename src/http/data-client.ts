/**
 * DataClient: the HTTP API's keys go through the proxy's own RESP port, as any client's
 * do. One path for data: routing, MOVED/ASK, requests held while a master fails over,
 * --ack replica, --requirepass and INFO's counters all apply to an HTTP write exactly as
 * to a redis-cli one, with no second entry into the router to keep in step with it. The
 * cost, a loopback hop per request, does not matter for an admin-scale API.
 */
import { proxyDialRuntime, type Runtime } from '../net/runtime.js';
import { ownClientCredentials, type OwnClientFiles } from '../net/tls-files.js';
import { NodeClient } from '../nodes/node-client.js';

export interface DataClientOptions {
  /** Where the proxy listens (a wildcard bind is reached on the loopback). */
  host: string;
  /** The plain port, or the TLS port when `tls` is given. */
  port: number;
  /** --no-plain-port: dial the TLS port with these files (read at each new connection: a reloaded certificate is used). */
  tls?: OwnClientFiles;
  /** --requirepass ('' = none). */
  password: string;
  /** Longer than the proxy's own --failover-timeout: a held request is answered, not cut off here. */
  commandTimeoutMs: number;
  /** The proxy's runtime: faults to its log, writes flushed with its own. */
  runtime: Runtime;
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
  /** Made at the first data request: an idle proxy has no client of its own (INFO, CLIENT LIST, --maxclients). */
  private client: NodeClient | undefined;

  constructor(private readonly o: DataClientOptions) {}

  /** GET: the value's bytes as stored (not decoded: it may be any bytes); undefined when the key does not exist. */
  async get(key: string): Promise<Buffer | undefined> {
    const value = (await this.once((c) => c.callBuffer('GET', key))) as Buffer | null;
    return value ?? undefined;
  }

  /** SET each pair, pipelined; rejects with the first failure (the pairs before it may be set). */
  async setAll(pairs: { key: string; value: Buffer }[]): Promise<number> {
    const results = await this.once(async (c) => {
      const outcomes = await c.batch(pairs.map(({ key, value }) => ['SET', key, value]));
      // A lost connection fails every SET still in flight: the whole batch goes again.
      const lost = outcomes.find(([err]) => err !== null && err.name !== 'ReplyError');
      if (lost?.[0]) throw lost[0];
      return outcomes;
    });
    for (let i = 0; i < results.length; i++) {
      const [err] = results[i];
      if (err !== null) throw asDataError(err, `SET ${pairs[i].key}`);
    }
    return results.length;
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  /**
   * Run `work` on the client; when the connection to the proxy's port failed (its restart,
   * a command timeout), once more on a new connection, which waits for the port instead
   * of failing while the old one backs off. SET and GET may run twice: both are idempotent.
   */
  private async once<T>(work: (c: NodeClient) => Promise<T>): Promise<T> {
    try {
      return await work(this.connection());
    } catch (err) {
      if ((err as Error).name === 'ReplyError') throw asDataError(err as Error);
      this.close();
      return work(this.connection()).catch((again: Error) => {
        throw asDataError(again);
      });
    }
  }

  private connection(): NodeClient {
    const o = this.o;
    // The proxy is in this process: a lost connection is its restart or shutdown; it reconnects by itself.
    this.client ??= new NodeClient(
      { host: loopback(o.host), port: o.port },
      { id: 'http data', password: o.password, timeoutMs: o.commandTimeoutMs, reconnect: true, runtime: this.dialRuntime() },
    );
    return this.client;
  }

  /** Plain, or over TLS with the certificate files as they are now (an unreadable file: DataUnreachableError). */
  private dialRuntime(): Runtime {
    const o = this.o;
    if (o.tls === undefined) return proxyDialRuntime(o.runtime);
    try {
      return { ...o.runtime, nodeTls: ownClientCredentials(o.tls) };
    } catch (err) {
      throw new DataUnreachableError(`the proxy's TLS port cannot be dialled: ${(err as Error).message}`);
    }
  }
}

function loopback(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/** NodeClient marks the cluster's own error replies as ReplyError; everything else is a transport failure. */
function asDataError(err: Error, context?: string): Error {
  const message = context === undefined ? err.message : `${context}: ${err.message}`;
  return err.name === 'ReplyError' ? new DataReplyError(message) : new DataUnreachableError(`the proxy did not answer: ${message}`);
}
