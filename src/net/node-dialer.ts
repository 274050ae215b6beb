/**
 * How the proxy opens a socket to a Redis node: plain TCP, or TLS when the nodes serve TLS
 * only (--node-tls). Every connection to a node (backend pools, control clients, subscriber
 * connections, probes) dials here, through the runtime's DialMap routes.
 *
 * A plain socket reads through slab reads and is written through direct writes
 * (slab-reader.ts, socket-writer.ts): both work on the TCP handle itself. A TLS socket's
 * handle carries ciphertext, so it is read with 'data' events and written through its own
 * Writable; only connections to TLS nodes pay for that.
 */
import net from 'node:net';
import type { DialMap } from './dial-map.js';
import { slabReads } from './slab-reader.js';

/** What the proxy presents to and trusts of TLS nodes (PEM). */
export interface NodeTlsCredentials {
  /** The cluster's CA: the only issuer a node's certificate may have (undefined: the system's CAs). */
  ca: Buffer | undefined;
  /** The proxy's client certificate and key (the nodes run with tls-auth-clients yes); undefined: none shown (ihs-cli without --cert). */
  cert: Buffer | undefined;
  key: Buffer | undefined;
  /**
   * false: the certificate must chain to `ca` but need not name the address dialled. Only for
   * the proxy dialling its own TLS port on the loopback, whose certificate names the proxy's
   * public name, not 127.0.0.1.
   */
  checkName?: boolean;
  /**
   * Set: the certificate must chain to `ca` and carry this subject CN, instead of naming the
   * address dialled. For node containers, whose addresses are the Docker network's to give
   * (and may change when a container is made again) while the certificate is made once.
   */
  commonName?: string;
}

export interface NodeSocket {
  socket: net.Socket;
  /** The event after which the node may be spoken to: 'connect', or 'secureConnect' once the TLS handshake is done. */
  readyEvent: 'connect' | 'secureConnect';
  /** Whether the socket's handle takes direct writes (plain TCP only). */
  direct: boolean;
}

/** Open a socket to the node announced as host:port; its reads go to `onData`. */
export function dialNode(dial: DialMap, tlsCredentials: NodeTlsCredentials | null, host: string, port: number, onData: (chunk: Buffer) => void): NodeSocket {
  const address = dial.resolve(host, port);
  if (tlsCredentials === null) {
    return { socket: net.connect({ ...address, onread: slabReads(onData) }), readyEvent: 'connect', direct: true };
  }
  // Loaded when first needed: a plain dial (an ihs-cli one-shot) does not pay for node:tls.
  const tls = process.getBuiltinModule('node:tls');
  const socket = tls.connect({
    host: address.host,
    port: address.port,
    ca: tlsCredentials.ca,
    cert: tlsCredentials.cert,
    key: tlsCredentials.key,
    // Node certificates name the addresses the nodes listen on (IP SANs): no SNI for an IP.
    servername: net.isIP(address.host) === 0 ? address.host : undefined,
    ...(tlsCredentials.checkName === false ? { checkServerIdentity: () => undefined } : {}),
    ...(tlsCredentials.commonName === undefined ? {} : { checkServerIdentity: commonNameCheck(tlsCredentials.commonName) }),
  });
  socket.on('data', onData);
  return { socket, readyEvent: 'secureConnect', direct: false };
}

/** A checkServerIdentity that accepts exactly the certificates whose subject CN is `expected`. */
function commonNameCheck(expected: string): (host: string, cert: { subject?: Record<string, string | string[] | undefined> }) => Error | undefined {
  return (host, cert) => {
    const cn = cert.subject?.CN;
    return cn === expected ? undefined : new Error(`the node at ${host} presented a certificate for CN=${String(cn)}, not CN=${expected}`);
  };
}
