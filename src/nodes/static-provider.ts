/**
 * StaticProvider: existing Redis nodes given as `--node host:port`. It never starts, stops
 * or reconfigures anything: start() only checks that the node answers PING with the
 * password. Static nodes are all masters.
 */
import type { Logger } from '../log.js';
import { ControlClients, formatAddress, type NodeProbe } from './control-client.js';
import type { NodeProvider, NodeSpec, PreviousPlacement, RunningNode } from './provider.js';
import { sleep } from './wait.js';

export interface StaticProviderOptions {
  log: Logger;
  /** How long a node may stay unreachable or LOADING before start() fails. Default 5 s. */
  readyTimeoutMs?: number;
  /** Bound on each control-plane command. Default 2 s. */
  commandTimeoutMs?: number;
  /** The proxy's control-plane routes (each node's password is its spec's). Default: nodes dialled as announced. */
  clients?: ControlClients;
}

export class StaticNodeError extends Error {
  override readonly name = 'StaticNodeError';
}

export class StaticProvider implements NodeProvider {
  readonly kind = 'static' as const;
  private readonly log: Logger;
  private readonly readyTimeoutMs: number;
  private readonly clients: ControlClients;

  constructor(opts: StaticProviderOptions) {
    this.log = opts.log;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 5_000;
    this.clients = (opts.clients ?? new ControlClients()).within(opts.commandTimeoutMs ?? 2_000);
  }

  /** The node's address is `spec.host`/`spec.port` (or `previous`); nothing is started. */
  async start(spec: NodeSpec, previous?: PreviousPlacement): Promise<RunningNode> {
    const host = spec.host ?? previous?.host;
    const port = spec.port > 0 ? spec.port : previous?.port;
    if (host === undefined || port === undefined || port <= 0) {
      throw new StaticNodeError(`static node ${spec.id} has no address (host:port)`);
    }
    const addr = { host, port };
    const deadline = Date.now() + this.readyTimeoutMs;
    let probe: NodeProbe;
    for (;;) {
      probe = await this.clients.as(spec.password).probe(addr);
      if (probe.state === 'ready') break;
      if (probe.state === 'auth-refused') {
        throw new StaticNodeError(`static node ${spec.id} at ${formatAddress(addr)} refused the password: ${probe.reason}`);
      }
      if (Date.now() >= deadline) {
        const why = 'reason' in probe ? probe.reason : probe.state;
        throw new StaticNodeError(`static node ${spec.id} at ${formatAddress(addr)} is not ready after ${this.readyTimeoutMs} ms: ${why}`);
      }
      await sleep(100);
    }
    this.log.info({ node: spec.id, address: formatAddress(addr) }, 'static node answers');
    return { id: spec.id, host, port, busPort: 0, handle: formatAddress(addr) };
  }

  /** Static nodes are not ours to stop. */
  async stop(): Promise<void> {}

  async stopAll(): Promise<void> {}
}
