/**
 * NodeClient: the one client the proxy uses outside its data path — the control plane's to
 * the nodes, and the CLI's and the HTTP data routes' to the proxy's own port — on a
 * pipelined BackendConnection (requests queued in one event-loop turn go out in one write).
 *
 * Two ways to use the replies:
 *  - raw frames (`send`, `callRaw`): never rejected; an error is a `-…` frame, the node's
 *    or the connection's own `-ERR` when the node cannot be reached (see replyError). For
 *    bulk work (a slot migration sends tens of thousands of commands, keys stay raw RESP
 *    from GETKEYSINSLOT into MIGRATE) and for health probes that judge every frame.
 *  - decoded replies (`call`, `callBuffer`, `batch`): what ioredis returned, which the
 *    control plane was written against — bulk → string (utf8) or Buffer, integer →
 *    number, array → array, nil → null, status → string; an error reply rejects with a
 *    ReplyError carrying the node's text ("LOADING …"), a connection failure with a plain
 *    Error, so callers can tell "the node said no" from "the node did not answer".
 *
 * A one-shot client (no `reconnect`) is done when its connection is; `connect()` waits for
 * the socket and the AUTH, and rejects with a NodeConnectError. A reconnecting one (bulk
 * channels, health probes) re-authenticates in the connection's own handshake each time.
 */
import { BackendConnection, isUnreachableReply, type ClusterErrorHandler, type ConnectionLog } from '../backend/connection.js';
import type { ReplySink } from '../backend/reply-sink.js';
import { withoutAddress } from '../backend/unreachable.js';
import type { Logger } from '../log.js';
import { createRuntime, type Runtime } from '../net/runtime.js';
import { encodeCommand } from '../resp/encode.js';
import { decodeReply, lineText, ReplyErrorValue, ReplyMapValue, type ReplyValue } from '../resp/reply-value.js';

export interface NodeAddress {
  host: string;
  port: number;
}

export function formatAddress(addr: NodeAddress): string {
  return `${addr.host}:${addr.port}`;
}

/** Could not connect, or the node refused our password; `reason` says why without the address (the message names it once). */
export class NodeConnectError extends Error {
  override readonly name = 'NodeConnectError';
  constructor(
    readonly address: NodeAddress,
    readonly reason: string,
  ) {
    super(`cannot reach redis at ${formatAddress(address)}: ${reason}`);
  }
}

/** The node's own error reply; `message` is its text ("ERR …", "BUSYKEY …"). */
export class ReplyError extends Error {
  override readonly name = 'ReplyError';
}

/** A decoded reply; errors appear only inside arrays (an EXEC's), as ReplyError. */
export type NodeReply = string | number | null | ReplyError | NodeReply[];
/** The same with bulk strings as Buffers (keys, FUNCTION DUMP). */
export type NodeBufferReply = Buffer | string | number | null | ReplyError | NodeBufferReply[];

export type NodeArg = string | Buffer;

export interface NodeClientOptions {
  /** The node's requirepass ('' for none). */
  password: string;
  /** Bounds connecting and (unless commandTimeoutMs says otherwise) each command. */
  timeoutMs: number;
  /** Bounds each command when it differs from connecting (a health probe's node timeout). */
  commandTimeoutMs?: number;
  /** Reconnect by itself after a drop (long-lived channels); otherwise done with its connection. */
  reconnect?: boolean;
  /** Where the connection's own events go (lost, refused); default: nowhere. */
  log?: Logger;
  /** The proxy's flush scheduler, fault reporter and dial routes; default: a runtime of its own (nodes dialled as announced). */
  runtime?: Runtime;
  /** How the connection names itself in logs. */
  id?: string;
}

/**
 * Where a client's connection events go when it is given no logger: nowhere. Plain no-ops
 * rather than a silent pino logger, so that importing this module does not load pino (the
 * CLI imports it, and a one-shot's start-up is most of its run).
 */
const QUIET: ConnectionLog = { debug: () => {}, warn: () => {}, error: () => {} };
const NOT_A_CLUSTER_HANDLER = () => false;

export class NodeClient {
  private readonly conn: BackendConnection;
  private closed = false;
  /** Settles once the first connect attempt has: true connected, false failed. */
  private readonly firstAttempt: Promise<boolean>;

  constructor(
    readonly address: NodeAddress,
    private readonly opts: NodeClientOptions,
  ) {
    let attempted: (ok: boolean) => void = () => {};
    this.firstAttempt = new Promise((resolve) => (attempted = resolve));
    // Only to learn when the connection is up or lost: redirects and BUSY reach the caller as they are.
    const events: ClusterErrorHandler = {
      onClusterError: NOT_A_CLUSTER_HANDLER,
      onConnectionLost: () => attempted(false),
      onConnectionReady: () => attempted(true),
    };
    const reconnect = opts.reconnect ?? false;
    const runtime = opts.runtime ?? createRuntime({ log: opts.log });
    this.conn = new BackendConnection(
      // A one-shot client sends its AUTH itself (connect()) to see the refusal; a reconnecting one re-sends it on every connect.
      { id: opts.id ?? `control ${formatAddress(address)}`, host: address.host, port: address.port, password: reconnect ? opts.password : '' },
      {
        connectTimeoutMs: opts.timeoutMs,
        commandTimeoutMs: opts.commandTimeoutMs ?? opts.timeoutMs,
        reconnect,
        log: opts.log ?? QUIET,
        clusterErrors: events,
        runtime,
        // A client given a log (health probes, slot-map reads, bulk channels) tells the
        // proxy's outage log; a quiet one-shot's failures are its caller's to report.
        outages: opts.log === undefined ? undefined : runtime.outages,
      },
    );
  }

  /** Connected now (a one-shot client whose connection dropped stays closed: make another). */
  get isReady(): boolean {
    return this.conn.isReady;
  }

  /** Wait until connected (and, for a one-shot client, authenticated); rejects with a NodeConnectError. */
  async connect(): Promise<void> {
    // The error names the address once (NodeConnectError's own); the socket's message repeats it at its end.
    if (!(await this.firstAttempt)) throw new NodeConnectError(this.address, withoutAddress(this.conn.failure));
    if (this.opts.reconnect === true || this.opts.password === '') return;
    const reply = await this.callRaw(['AUTH', Buffer.from(this.opts.password)]);
    const refused = replyError(reply);
    if (refused !== undefined) throw new NodeConnectError(this.address, refused);
  }

  /** A command already encoded as RESP; resolves with its reply frame (errors included). */
  send(raw: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      this.conn.send(raw, { deliver: resolve });
    });
  }

  /**
   * The same, its frame handed to `sink` as it is read (no promise, no microtask); a sink
   * that throws is reported as a fault like any on the data path.
   */
  sendTo(raw: Buffer, sink: ReplySink): void {
    this.conn.send(raw, sink);
  }

  /** One command (strings as latin1, like the data path); resolves with its reply frame. */
  callRaw(args: readonly NodeArg[]): Promise<Buffer> {
    return this.send(encodeCommand(args));
  }

  /** One command (strings as utf8), its reply decoded with bulk strings as strings. */
  async call(...args: NodeArg[]): Promise<NodeReply> {
    return this.decoded(await this.callRaw(utf8(args)), false) as NodeReply;
  }

  /** One command, its reply decoded with bulk strings as Buffers. */
  async callBuffer(...args: NodeArg[]): Promise<NodeBufferReply> {
    return this.decoded(await this.callRaw(utf8(args)), true);
  }

  /**
   * Commands sent in one write; each one's outcome as [error, null] or [null, reply], in
   * order (an error does not stop the rest).
   */
  batch(commands: readonly (readonly NodeArg[])[]): Promise<[Error | null, NodeReply][]> {
    return Promise.all(
      commands.map((args) =>
        this.call(...args).then(
          (reply): [null, NodeReply] => [null, reply],
          (err: Error): [Error, null] => [err, null],
        ),
      ),
    );
  }

  /** Close for good; whatever is in flight fails. */
  close(reason = 'connection closed by the proxy'): void {
    this.closed = true;
    this.conn.close(reason);
  }

  private decoded(frame: Buffer, buffers: boolean): NodeBufferReply {
    const value = toNodeReply(decodeReply(frame), buffers);
    if (!(value instanceof ReplyError)) return value;
    // The connection's own errors (unreachable, closed by us) are not the peer's answer. The
    // text alone cannot tell: a proxy relays the same words from its own backends, over a
    // connection that is still up. When the connection fails it is no longer ready by the time
    // its failed requests' promises are read here.
    if (this.closed || (isUnreachableReply(frame) && !this.conn.isReady)) throw new Error(value.message);
    throw value;
  }
}

/** Strings as utf8 bytes, as ioredis sent them (CONFIG SET values, script bodies). */
function utf8(args: readonly NodeArg[]): NodeArg[] {
  return args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a));
}

function toNodeReply(v: ReplyValue, buffers: boolean): NodeBufferReply {
  if (v === null || typeof v === 'number') return v;
  // decodeReply reads status and error lines as latin1 (byte-exact); ioredis gave them as utf8.
  if (typeof v === 'string') return utf8Text(v);
  if (Buffer.isBuffer(v)) return buffers ? v : v.toString('utf8');
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof ReplyErrorValue) return new ReplyError(utf8Text(v.message));
  if (v instanceof ReplyMapValue) return v.entries.flatMap(([k, val]) => [toNodeReply(k, buffers), toNodeReply(val, buffers)]);
  return v.map((item) => toNodeReply(item, buffers));
}

function utf8Text(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

/** The message of an error reply ("ERR …", "BUSYKEY …"), or undefined for any other reply. */
export function replyError(frame: Buffer): string | undefined {
  return frame[0] === 0x2d /* '-' */ ? lineText(frame) : undefined;
}

/** The reply, or an Error with the node's message. */
export function expectOk(frame: Buffer, what: string): Buffer {
  const err = replyError(frame);
  if (err !== undefined) throw new Error(`${what}: ${err}`);
  return frame;
}
