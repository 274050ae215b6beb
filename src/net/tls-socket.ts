/**
 * Whether a socket is a TLS one, without loading node:tls (about 5 ms of a CLI one-shot's
 * start): a TLSSocket is `encrypted`, always, and a plain net.Socket has no such property.
 */
import type net from 'node:net';

export function isTlsSocket(socket: net.Socket): boolean {
  return (socket as net.Socket & { encrypted?: unknown }).encrypted === true;
}
