/**
 * The cluster's TLS material for --node-tls: a CA, one certificate every node serves with
 * (and presents to the nodes it dials: replication, the cluster bus, MIGRATE), and one the
 * proxy presents to the nodes (they run with tls-auth-clients yes). Made with the openssl
 * CLI on the first start with --node-tls, in <data-dir>/node-tls/, every file mode 0600,
 * and kept from then on. The CA is the proxy's own, or the one the user gives
 * (--node-tls-ca-cert-file, --node-tls-ca-key-file), which then signs the two certificates.
 *
 * The certificates name 127.0.0.1 and localhost: the process provider's nodes listen there.
 * Node containers (the docker provider) listen on addresses the Docker network gives; the
 * proxy checks their certificate's CN (NODE_COMMON_NAME) instead.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { NodeTlsCredentials } from '../net/node-dialer.js';
import { exists } from './files.js';

const execFileAsync = promisify(execFile);

export const NODE_TLS_DIR = 'node-tls';
const OPENSSL = 'openssl';
/** The subject CN of the certificate every node serves with. */
export const NODE_COMMON_NAME = 'interface-hash-server node';
const DAYS = '3650';
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** The files a node's redis.conf names (absolute paths). */
export interface NodeTlsFiles {
  caCertFile: string;
  certFile: string;
  keyFile: string;
}

export interface NodeTls {
  files: NodeTlsFiles;
  /** What the proxy trusts and presents when it dials a node. */
  client: NodeTlsCredentials;
}

/** A CA the user gives instead of the proxy's own. */
export interface GivenCa {
  certFile: string;
  keyFile: string;
}

export class NodeTlsError extends Error {
  override readonly name = 'NodeTlsError';
}

/** Where the nodes' TLS files of `dataDir` are (made by ensureNodeTls). */
export function nodeTlsFiles(dataDir: string): NodeTlsFiles {
  const dir = path.resolve(dataDir, NODE_TLS_DIR);
  return { caCertFile: path.join(dir, 'ca.crt'), certFile: path.join(dir, 'node.crt'), keyFile: path.join(dir, 'node.key') };
}

/** The cluster's TLS material in `dataDir`, made on the first call (signed by `givenCa` when set). */
export async function ensureNodeTls(dataDir: string, givenCa?: GivenCa): Promise<NodeTls> {
  const dir = path.resolve(dataDir, NODE_TLS_DIR);
  if (!(await exists(path.join(dir, 'proxy.key')))) await create(dir, givenCa);
  const files = nodeTlsFiles(dataDir);
  const [ca, cert, key] = await Promise.all([readFile(files.caCertFile), readFile(path.join(dir, 'proxy.crt')), readFile(path.join(dir, 'proxy.key'))]);
  return { files, client: { ca, cert, key } };
}

/**
 * Made in a dir of its own and renamed into place: proxies started together (--workers) may
 * all make one, and the first rename wins (the others find the dir there and use it).
 */
async function create(dir: string, givenCa: GivenCa | undefined): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
  const work = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(work, { mode: 0o700 });
  try {
    const at = (name: string): string => path.join(work, name);
    if (givenCa === undefined) {
      await openssl(['req', '-x509', ...KEY, '-keyout', at('ca.key'), '-out', at('ca.crt'), '-days', DAYS, '-subj', '/CN=interface-hash-server cluster CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    } else {
      await copyFile(givenCa.certFile, at('ca.crt'));
    }
    const caKey = givenCa === undefined ? at('ca.key') : givenCa.keyFile;
    await writeFile(at('leaf.ext'), 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n', { mode: 0o600 });
    for (const [name, cn] of [['node', NODE_COMMON_NAME], ['proxy', 'interface-hash-server proxy']] as const) {
      await openssl(['req', ...KEY, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', `/CN=${cn}`]);
      await openssl(['x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.crt'), '-CAkey', caKey, '-set_serial', `0x${randomSerial()}`,
        '-days', DAYS, '-extfile', at('leaf.ext'), '-out', at(`${name}.crt`)]);
      await rm(at(`${name}.csr`));
    }
    await rm(at('leaf.ext'));
    for (const name of ['ca.crt', 'node.crt', 'node.key', 'proxy.crt', 'proxy.key', ...(givenCa === undefined ? ['ca.key'] : [])]) await chmod(at(name), 0o600);
    try {
      await rename(work, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function randomSerial(): string {
  return Array.from({ length: 16 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync(OPENSSL, args, { timeout: 30_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'openssl is not installed (--node-tls needs the openssl CLI)' : (e.stderr ?? e.message).trim();
    throw new NodeTlsError(`making the cluster's TLS certificates failed: ${why}`);
  }
}
