/**
 * The client-side TLS of the proxy (--tls-port, --http-tls): the certificate files read into
 * a secure context, and what --tls-auth-clients asks of a client's certificate. The files
 * are read again on every reload (SIGHUP), so a renewed certificate needs no restart.
 */
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import type { NodeTlsCredentials } from './node-dialer.js';

/** Redis's tls-auth-clients: yes = a client certificate is required, optional = checked when given, no = not asked for. */
export type TlsAuthClients = 'no' | 'optional' | 'yes';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA that client certificates must chain to; '' = none (only with authClients 'no': the configuration checks). */
  caCertFile: string;
  authClients: TlsAuthClients;
}

/** The certificate, key and CA as a secure context's options; throws (naming the file) when one cannot be read. */
export function readSecureContext(files: TlsFiles): tls.SecureContextOptions {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read the TLS ${what} ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  const options: tls.SecureContextOptions = { cert: read('certificate', files.certFile), key: read('key', files.keyFile) };
  if (files.caCertFile !== '') options.ca = read('CA certificate', files.caCertFile);
  return options;
}

/**
 * What the server asks of clients' certificates. With `optional` a certificate is asked for
 * but the handshake does not fail without one; one that is given and does not verify is
 * refused after the handshake (see refusesPeer), as Redis does.
 */
export function clientCertOptions(files: TlsFiles): Pick<tls.TlsOptions, 'requestCert' | 'rejectUnauthorized'> {
  if (files.authClients === 'no') return { requestCert: false, rejectUnauthorized: false };
  return { requestCert: true, rejectUnauthorized: files.authClients === 'yes' };
}

/** A handshake that completed but must not be served: `optional` and a certificate given that did not verify. */
export function refusesPeer(files: TlsFiles, socket: tls.TLSSocket): string | null {
  if (files.authClients !== 'optional' || socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0) return null; // none given: allowed
  return String(socket.authorizationError ?? 'the client certificate does not verify');
}

/** What the proxy presents when it is a client of its own TLS port (--no-plain-port): --tls-client-* files, or the server's. */
export interface OwnClientFiles {
  certFile: string;
  keyFile: string;
  /** The CA the proxy's certificate chains to ('' = the system's CAs). */
  caCertFile: string;
}

/**
 * The credentials to dial the proxy's own TLS port with; throws (naming the file) when one
 * cannot be read. The port's certificate must chain to the CA but need not name the
 * loopback address it is dialled at.
 */
export function ownClientCredentials(files: OwnClientFiles): NodeTlsCredentials {
  const { cert, key, ca } = readSecureContext({ certFile: files.certFile, keyFile: files.keyFile, caCertFile: files.caCertFile, authClients: 'no' });
  return { cert: cert as Buffer, key: key as Buffer, ca: ca as Buffer | undefined, checkName: false };
}
