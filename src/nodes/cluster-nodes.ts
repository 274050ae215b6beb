/**
 * CLUSTER NODES, parsed: one node's view of the cluster. Every line names a node, its
 * address, flags, master, config epoch and (for masters) the slots it serves, e.g.
 *   07c3… 127.0.0.1:30004@31004,host4 master - 0 1426238317239 4 connected 0-5460 [93->-e7d1…]
 * Migration markers ("[slot->-id]", "[slot-<-id]") are skipped: the proxy follows ASK instead.
 * A node's nodes.conf is the same format: redisIdFromDir reads a node's own id from it.
 */
import path from 'node:path';
import { readOptional } from './files.js';
import { CLUSTER_CONFIG_FILE } from './redis-conf.js';

export interface ClusterNodeLine {
  id: string;
  /** '' when the node's address is not known yet (noaddr, early handshake). */
  host: string;
  port: number;
  busPort: number;
  flags: ReadonlySet<string>;
  /** Master's id for a replica; undefined for a master. */
  masterId: string | undefined;
  configEpoch: number;
  connected: boolean;
  /** [first, last] pairs of served slots (masters only). */
  slots: number[];
}

export function parseClusterNodes(text: string): ClusterNodeLine[] {
  const lines: ClusterNodeLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const f = line.split(' ');
    if (f.length < 8) throw new Error(`CLUSTER NODES: malformed line '${line.slice(0, 200)}'`);
    const [id, address, flagText, master, , , epochText, linkState] = f;
    const at = address.indexOf('@');
    const hostPort = at === -1 ? address : address.slice(0, at);
    const busText = at === -1 ? '0' : address.slice(at + 1).split(',')[0];
    const colon = hostPort.lastIndexOf(':');
    const slots: number[] = [];
    for (let i = 8; i < f.length; i++) {
      const s = f[i];
      if (s.startsWith('[')) continue;
      const dash = s.indexOf('-');
      const first = Number(dash === -1 ? s : s.slice(0, dash));
      const last = Number(dash === -1 ? s : s.slice(dash + 1));
      if (!Number.isInteger(first) || !Number.isInteger(last)) throw new Error(`CLUSTER NODES: bad slot range '${s}'`);
      slots.push(first, last);
    }
    lines.push({
      id,
      host: colon <= 0 ? '' : hostPort.slice(0, colon),
      port: Number(hostPort.slice(colon + 1)) || 0,
      busPort: Number(busText) || 0,
      flags: new Set(flagText.split(',')),
      masterId: master === '-' ? undefined : master,
      configEpoch: Number(epochText) || 0,
      connected: linkState === 'connected',
      slots,
    });
  }
  return lines;
}

export function isMaster(line: ClusterNodeLine): boolean {
  return line.flags.has('master');
}

/** Flagged as failing (by this viewer, or by the cluster's majority). */
export function isFailing(line: ClusterNodeLine): boolean {
  return line.flags.has('fail') || line.flags.has('fail?');
}

/**
 * The Redis id a node's own nodes.conf gives it (its `myself` line), or undefined when it
 * has none yet. Readable while the node is down: how a dead node is found in its peers' views.
 */
export async function redisIdFromDir(dataDir: string | undefined): Promise<string | undefined> {
  if (dataDir === undefined || dataDir === '') return undefined;
  const text = await readOptional(path.join(dataDir, CLUSTER_CONFIG_FILE));
  if (text === undefined) return undefined;
  // nodes.conf is CLUSTER NODES plus a closing "vars ..." line.
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('vars '));
  return parseClusterNodes(lines.join('\n')).find((l) => l.flags.has('myself'))?.id;
}
