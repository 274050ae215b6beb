/**
 * Test certificates made with the openssl CLI: a CA, server certificates for 127.0.0.1 and
 * localhost signed by it, and a client certificate; a second CA whose certificates the
 * first does not vouch for.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface KeyPair {
  cert: string;
  key: string;
}

export interface TestCerts {
  dir: string;
  ca: string;
  server: KeyPair;
  /** Another server certificate of the same CA (a renewal, for reload tests). */
  server2: KeyPair;
  client: KeyPair;
  /** A client certificate of another CA. */
  stranger: KeyPair;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await execFileP('/usr/bin/openssl', args, { cwd: dir, timeout: 30_000 });
}

async function caIn(dir: string, name: string): Promise<KeyPair> {
  const pair = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', pair.key, '-out', pair.cert]);
  return pair;
}

async function signedBy(dir: string, ca: KeyPair, name: string, extensions: string): Promise<KeyPair> {
  const pair = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', pair.key, '-out', csr]);
  await openssl(dir, ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', pair.cert]);
  return pair;
}

export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-tls-'));
  const ca = await caIn(dir, 'ca');
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  const other = await caIn(dir, 'other-ca');
  return {
    dir,
    ca: ca.cert,
    server: await signedBy(dir, ca, 'server', serverExt),
    server2: await signedBy(dir, ca, 'server2', serverExt),
    client: await signedBy(dir, ca, 'client', clientExt),
    stranger: await signedBy(dir, other, 'stranger', clientExt),
  };
}
