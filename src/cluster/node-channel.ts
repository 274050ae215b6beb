/**
 * NodeChannel: a control-plane connection for bulk work (a slot migration sends tens of
 * thousands of commands): one pipelined BackendConnection (requests queued in one event-loop
 * turn go out in one write), each command a promise of its raw reply frame. Replies are
 * never thrown: an error is a `-…` frame (the node's, or the connection's own `-ERR` when
 * the node cannot be reached), for the caller to judge — see replyError.
 *
 * Why not the ioredis control client: per command it costs several times the CPU (argument
 * conversion, a socket write each), which on a 2-core machine was the migration's
 * bottleneck; and keys stay raw RESP here, so a batch from GETKEYSINSLOT goes into MIGRATE
 * without being decoded.
 */
import { BackendConnection } from '../backend/connection.js';
import type { Logger } from '../log.js';
import { formatAddress, type NodeAddress } from '../nodes/control-client.js';
import { encodeCommand } from '../resp/encode.js';

export class NodeChannel {
  private readonly conn: BackendConnection;

  constructor(
    readonly address: NodeAddress,
    password: string,
    log: Logger,
    timeoutMs: number,
  ) {
    this.conn = new BackendConnection(
      { id: `control ${formatAddress(address)}`, host: address.host, port: address.port, password },
      { connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs, reconnect: true, log },
    );
  }

  /** One command; resolves with its reply frame (errors included). */
  call(args: readonly (string | Buffer)[]): Promise<Buffer> {
    return this.send(encodeCommand(args));
  }

  /** A command already encoded as RESP. */
  send(raw: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      this.conn.send(raw, { deliver: resolve });
    });
  }

  close(): void {
    this.conn.close('migration over');
  }
}

/** The message of an error reply ("ERR …", "BUSYKEY …"), or undefined for any other reply. */
export function replyError(frame: Buffer): string | undefined {
  return frame[0] === 0x2d /* '-' */ ? frame.toString('latin1', 1, frame.length - 2) : undefined;
}

/** The reply, or an Error with the node's message. */
export function expectOk(frame: Buffer, what: string): Buffer {
  const err = replyError(frame);
  if (err !== undefined) throw new Error(`${what}: ${err}`);
  return frame;
}
