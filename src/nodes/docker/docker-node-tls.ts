/**
 * --node-tls for node containers: a container sees only its own volume (/data), so each
 * node's dir gets a copy of the cluster's node certificate, key and CA (tls/, mode 0600: the
 * container runs as the proxy's own uid, and nobody else reads them), and its redis.conf
 * names them at their path inside the container. Copied at every start, so a node created
 * before the files changed (a given CA) serves the current ones.
 */
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { NodeTlsFiles } from '../node-tls.js';

const TLS_SUBDIR = 'tls';

/** Copy `files` into `dir`/tls/; the same files as seen by a container that mounts `dir` at `mountedAt`. */
export async function placeNodeTlsFiles(files: NodeTlsFiles, dir: string, mountedAt: string): Promise<NodeTlsFiles> {
  const into = path.join(dir, TLS_SUBDIR);
  await mkdir(into, { recursive: true, mode: 0o700 });
  const names = { caCertFile: 'ca.crt', certFile: 'node.crt', keyFile: 'node.key' } as const;
  for (const [field, name] of Object.entries(names) as Array<[keyof NodeTlsFiles, string]>) {
    const target = path.join(into, name);
    await copyFile(files[field], target);
    await chmod(target, 0o600);
  }
  const inside = path.posix.join(mountedAt, TLS_SUBDIR);
  return { caCertFile: `${inside}/${names.caCertFile}`, certFile: `${inside}/${names.certFile}`, keyFile: `${inside}/${names.keyFile}` };
}
