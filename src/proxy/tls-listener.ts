/**
 * TlsListener: the proxy's TLS port (--tls-port), beside the plain one. Each connection is
 * served like one on the plain port once its handshake is done; the certificate can be
 * replaced while it listens (reload(): connections already open keep the one they began with).
 */
import tls from 'node:tls';
import type net from 'node:net';
import type { Logger } from '../log.js';
import { clientCertOptions, readSecureContext, refusesPeer, type TlsFiles } from '../net/tls-files.js';

export interface TlsListenerOptions {
  host: string;
  /** 0: any free port (see `port` once listening). */
  port: number;
  reusePort: boolean;
  files: TlsFiles;
  log: Logger;
}

export class TlsListener {
  private readonly server: tls.Server;
  private boundPort: number;
  /** Every TCP connection under a TLS one, until it closes: close() must not wait out a handshake that never ends. */
  private readonly connections = new Set<net.Socket>();

  /** Reads the certificate files now: a file that cannot be read is an error at start. */
  constructor(
    private readonly o: TlsListenerOptions,
    admit: (socket: net.Socket) => void,
  ) {
    this.boundPort = o.port;
    this.server = tls.createServer({ ...readSecureContext(o.files), ...clientCertOptions(o.files) }, (socket) => {
      const refused = refusesPeer(o.files, socket);
      if (refused !== null) {
        o.log.debug({ reason: refused, addr: socket.remoteAddress }, 'TLS client certificate refused');
        socket.destroy();
        return;
      }
      admit(socket);
    });
    this.server.on('connection', (raw: net.Socket) => {
      this.connections.add(raw);
      raw.once('close', () => this.connections.delete(raw));
    });
    // A failed handshake (no certificate, a plain-text client) is the client's problem, as in Redis: one debug line.
    this.server.on('tlsClientError', (err, socket) => {
      o.log.debug({ err: err.message, addr: socket.remoteAddress }, 'TLS handshake failed');
    });
  }

  get port(): number {
    return this.boundPort;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port: this.o.port, host: this.o.host, reusePort: this.o.reusePort }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        if (addr !== null && typeof addr === 'object') this.boundPort = addr.port;
        this.o.log.info({ host: this.o.host, port: this.boundPort }, 'proxy listening (TLS)');
        resolve();
      });
    });
  }

  /**
   * Read the certificate files again and use them for new connections. A file that cannot
   * be read or does not make a context keeps the current one: the error is returned.
   */
  reload(): Error | null {
    try {
      this.server.setSecureContext(readSecureContext(this.o.files));
      return null;
    } catch (err) {
      return err as Error;
    }
  }

  /** Stop listening and drop every connection, those still shaking hands too (served ones are being closed with the proxy anyway). */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const raw of this.connections) raw.destroy();
    return closed;
  }
}
