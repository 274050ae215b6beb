/**
 * The CLI's connection to the proxy (a one-shot NodeClient, RESP2): no retries, a short
 * connect timeout, AUTH sent by us so a refused password is one clear error. No command
 * timeout: an admin verb answers when its change is done (a REBALANCE may take minutes).
 * A connection that dropped (a proxy restarted under the prompt) is opened again by the
 * next command.
 */
import { readFileSync } from 'node:fs';
import { NodeClient, NodeConnectError } from '../nodes/node-client.js';
import { createRuntime, type Runtime } from '../net/runtime.js';
import { CliError } from './cli-error.js';
import { targetName, type ServerTarget, type TlsTarget } from './server-target.js';

const CONNECT_TIMEOUT_MS = 3000;

/** An error reply of the proxy (`-ERR ...`), its text as Redis gives it. */
export class ServerReplyError extends CliError {
  constructor(readonly reply: string) {
    super(`(error) ${reply}`);
  }
}

export class ProxyConnection {
  private client: NodeClient | undefined;

  constructor(readonly target: ServerTarget) {}

  /** Send one command; resolves with its reply (RESP2: strings, arrays, null, numbers). */
  async call(command: string, ...args: string[]): Promise<unknown> {
    const client = await this.connected();
    try {
      return await client.call(command, ...args);
    } catch (err) {
      throw asCliError(err as Error);
    }
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  private async connected(): Promise<NodeClient> {
    if (this.client?.isReady === true) return this.client;
    this.close();
    const client = new NodeClient(
      { host: this.target.host, port: this.target.port },
      { id: 'cli', password: '', timeoutMs: CONNECT_TIMEOUT_MS, commandTimeoutMs: 0, ...(this.target.tls === undefined ? {} : { runtime: tlsRuntime(this.target.tls) }) },
    );
    try {
      await client.connect();
    } catch (err) {
      client.close();
      throw new CliError(`cannot connect to ${targetName(this.target)}: ${err instanceof NodeConnectError ? err.reason : (err as Error).message}`);
    }
    const { username, password } = this.target;
    if (password !== undefined) {
      try {
        await (username === undefined ? client.call('AUTH', password) : client.call('AUTH', username, password));
      } catch (err) {
        client.close();
        throw new CliError(`AUTH${username === undefined ? '' : ` ${username}`} refused by ${targetName(this.target)}: ${(err as Error).message}`);
      }
    }
    this.client = client;
    return client;
  }
}

/** A runtime that dials over TLS with redis-cli's --cacert, --cert, --key (a file that cannot be read: CliError). */
function tlsRuntime(t: TlsTarget): Runtime {
  const read = (flag: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new CliError(`${flag} ${file}: ${(err as Error).message}`);
    }
  };
  return { ...createRuntime(), nodeTls: { ca: read('--cacert', t.caFile), cert: read('--cert', t.certFile), key: read('--key', t.keyFile) } };
}

function asCliError(err: Error): CliError {
  if (err.name === 'ReplyError') return new ServerReplyError(err.message);
  return new CliError(`connection lost: ${err.message}`);
}
