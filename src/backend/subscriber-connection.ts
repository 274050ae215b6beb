/**
 * SubscriberConnection: one connection to a Redis node in Pub/Sub mode, owned by the
 * Pub/Sub hub (src/proxy/modes/pubsub.ts).
 *
 * Unlike a BackendConnection it is not request/reply: the node pushes messages whenever
 * they are published, and confirmations of (un)subscriptions arrive among them. So every
 * frame goes to the owner as it comes, and the owner tells them apart. It never
 * reconnects by itself: where the subscriptions go after a loss (another node, the slot's
 * new owner) is the hub's decision, so a lost connection is reported once and stays closed.
 *
 * Commands are rare (one per channel joined or left), so they are written at once.
 *
 * A node that stops answering (SIGSTOP, a hung host) closes nothing, and a subscriber
 * connection may legitimately receive nothing for hours; so it PINGs the node and counts
 * as lost once nothing at all came for `silenceLimitMs`. The PING's reply (`pong` in
 * subscribed mode) reaches the owner like any frame; it confirms nothing the owner sent.
 *
 * Reaching its node, losing it and failing to reach it are told to the proxy's outage log
 * (runtime.outages), which writes one line per outage of the node, not one per connection.
 */
import type net from 'node:net';
import type { Logger } from '../log.js';
import { ReplyScanner } from '../resp/reply-scanner.js';
import { ProtocolError } from '../resp/frame.js';
import { encodeCommand } from '../resp/encode.js';
import type { BackendEndpoint } from './connection.js';
import type { Runtime } from '../net/runtime.js';
import { withoutAddress } from './unreachable.js';
import { dialNode } from '../net/node-dialer.js';

export interface SubscriberOwner {
  /** One frame from the node: a message, a confirmation, or the error of a command. */
  onFrame(conn: SubscriberConnection, frame: Buffer): void;
  /** The connection is gone (it could not connect, the node dropped it, or it was bad); called once. */
  onLost(conn: SubscriberConnection, why: string): void;
}

export interface SubscriberOptions {
  connectTimeoutMs: number;
  /** Nothing received for this long (PINGs unanswered included): the node is gone. 0: never. */
  silenceLimitMs: number;
  log: Logger;
  /** The proxy's fault reporter and dial routes. */
  runtime: Runtime;
}

const PING = encodeCommand(['PING']);

export class SubscriberConnection {
  private readonly socket: net.Socket;
  private readonly scanner = new ReplyScanner();
  /** Replies still owed to our own AUTH, which precede every frame for the owner. */
  private handshakeReplies = 0;
  private lastError = '';
  private closed = false;
  /** The node accepted the connection and our AUTH: counted open by the outage log. */
  private reached = false;
  private lastHeardAt = Date.now();
  private watchdog: NodeJS.Timeout | null = null;

  constructor(
    readonly endpoint: BackendEndpoint,
    private readonly owner: SubscriberOwner,
    private readonly opts: SubscriberOptions,
  ) {
    const { socket, readyEvent } = dialNode(opts.runtime.dial, opts.runtime.nodeTls, endpoint.host, endpoint.port, (chunk) => this.onData(chunk));
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.setTimeout(opts.connectTimeoutMs, () => socket.destroy(new Error(`connect timed out after ${opts.connectTimeoutMs} ms`)));
    socket.once(readyEvent, () => {
      socket.setTimeout(0);
      this.lastHeardAt = Date.now();
      if (endpoint.password === '') this.markReached();
    });
    if (opts.silenceLimitMs > 0) {
      this.watchdog = setInterval(() => this.checkSilence(), Math.max(50, opts.silenceLimitMs / 4));
      this.watchdog.unref();
    }
    socket.on('error', (err) => {
      this.lastError = err.message;
    });
    socket.on('close', () => this.lost(this.lastError || 'connection closed'));
    // Written before the connection is up: the socket sends it first once it is.
    if (endpoint.password !== '') {
      this.handshakeReplies = 1;
      socket.write(encodeCommand(['AUTH', endpoint.password]));
    }
  }

  get address(): string {
    return `${this.endpoint.host}:${this.endpoint.port}`;
  }

  /** Send one command (SUBSCRIBE ch, PUNSUBSCRIBE p, ...); its reply comes through onFrame. */
  send(args: readonly (Buffer | string)[]): void {
    if (!this.closed) this.socket.write(encodeCommand(args));
  }

  /** Close without telling the owner (it let go of this connection). */
  close(): void {
    if (!this.closed && this.reached) this.opts.runtime.outages.closed(this.endpoint);
    this.reached = false;
    this.closed = true;
    this.stopWatchdog();
    this.socket.destroy();
  }

  private checkSilence(): void {
    if (this.closed || this.socket.connecting) return;
    const silent = Date.now() - this.lastHeardAt;
    if (silent < this.opts.silenceLimitMs) {
      this.socket.write(PING);
      return;
    }
    // A silent node is an outage like a closed connection: the outage log says so, once per node.
    this.lastError = `nothing received for ${silent} ms (PING unanswered)`;
    this.socket.destroy();
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastHeardAt = Date.now();
    this.scanner.feed(chunk);
    try {
      for (let frame = this.scanner.next(); frame !== null; frame = this.scanner.next()) {
        if (frame instanceof ProtocolError) {
          this.fail(`bad reply from node: ${frame.message}`);
          return;
        }
        if (this.handshakeReplies > 0) {
          this.handshakeReplies--;
          if (frame[0] === 0x2d /* '-' */) {
            this.fail(`handshake refused: ${frame.toString('latin1', 1, frame.length - 2)}`);
            return;
          }
          if (this.handshakeReplies === 0) this.markReached();
          continue;
        }
        this.owner.onFrame(this, frame);
        if (this.closed) return;
      }
    } catch (err) {
      // A bug on the proxy's side: which frame is whose is unknown now, so the connection goes
      // (the owner re-subscribes elsewhere); the process and the other clients stay.
      this.opts.runtime.faults.report(err, `reading Pub/Sub frames from ${this.endpoint.id}`);
      this.fail('internal error reading Pub/Sub frames');
    }
  }

  private fail(why: string): void {
    this.lastError = why;
    this.opts.log.error({ node: this.endpoint.id, err: why }, 'Pub/Sub connection to a node failed');
    this.socket.destroy();
  }

  private markReached(): void {
    this.reached = true;
    this.opts.runtime.outages.reached(this.endpoint);
  }

  private lost(why: string): void {
    this.stopWatchdog();
    if (this.closed) return;
    if (this.reached) this.opts.runtime.outages.lost(this.endpoint, withoutAddress(why));
    else this.opts.runtime.outages.failed(this.endpoint, withoutAddress(why));
    this.reached = false;
    this.closed = true;
    this.owner.onLost(this, why);
  }
}
