/**
 * How a proxy reaches its node containers when --docker-node-access is `auto`.
 *
 * `network` when it can dial them at their addresses on the cluster network: it runs in a
 * container of this very engine (found by its hostname, Docker's default being the container
 * id; the provider makes it join the network), or on the engine's own host, whose bridges are
 * interfaces of this one. Otherwise `published` (Docker Desktop's VM, rootless Docker, a
 * remote DOCKER_HOST): each node's client port published on 127.0.0.1. That port is served
 * by docker-proxy, a userland copy of every byte: through it, SETs through the proxy ran at
 * 0.65x of the process provider's, dialled at their address at 0.94x
 * (bench/results/docker-set-gap.md).
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type Docker from 'dockerode';
import { isDockerNotFound } from './docker-errors.js';
import type { NodeAccess } from './docker-provider.js';

/** The Linux routing table; a host without one routes to no Docker bridge. */
const ROUTE_TABLE = '/proc/net/route';

export async function detectNodeAccess(docker: Docker): Promise<NodeAccess> {
  // (/.dockerenv is no proof of being a container of *this* engine: the host itself may be a container of another.)
  try {
    await docker.getContainer(os.hostname()).inspect();
    return 'network';
  } catch (err) {
    if (!isDockerNotFound(err)) throw err;
  }
  return (await bridgesAreLocal(docker)) ? 'network' : 'published';
}

/**
 * The engine's default bridge is an interface of this host, routing its subnet: the engine
 * runs here, in this network namespace, and so do the bridges of the networks it makes.
 * (The routing table, not the interfaces' addresses: a bridge without a running container
 * is down, and Node lists only interfaces that are up.)
 */
async function bridgesAreLocal(docker: Docker): Promise<boolean> {
  let bridge: Docker.NetworkInspectInfo;
  try {
    bridge = (await docker.getNetwork('bridge').inspect()) as Docker.NetworkInspectInfo;
  } catch (err) {
    if (isDockerNotFound(err)) return false; // a daemon run without its default bridge
    throw err;
  }
  const iface = bridge.Options?.['com.docker.network.bridge.name'] ?? 'docker0';
  const subnets = (bridge.IPAM?.Config ?? []).flatMap((c) => (c.Subnet === undefined ? [] : [c.Subnet]));
  let table: string;
  try {
    table = await readFile(ROUTE_TABLE, 'utf8');
  } catch {
    return false; // not Linux: the engine is in a VM (Docker Desktop) or elsewhere
  }
  return routesSubnet(table, iface, subnets);
}

/** True when /proc/net/route's `table` has a route through `iface` to one of the IPv4 `subnets` ("172.17.0.0/16"). */
export function routesSubnet(table: string, iface: string, subnets: readonly string[]): boolean {
  const wanted = new Set(subnets.map(subnetKey).filter((k) => k !== undefined));
  for (const line of table.split('\n').slice(1)) {
    const [name, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (name !== iface || destination === undefined || mask === undefined) continue;
    const key = `${hexToIp(destination)}/${hexToIp(mask)}`;
    if (wanted.has(key)) return true;
  }
  return false;
}

/** Destination and Mask: the address's 4 bytes read as one number in host order, in hex. */
function hexToIp(hex: string): string {
  const n = parseInt(hex, 16);
  const shifts = os.endianness() === 'LE' ? [0, 8, 16, 24] : [24, 16, 8, 0];
  return shifts.map((shift) => (n >>> shift) & 0xff).join('.');
}

/** "172.17.0.0/16" → "172.17.0.0/255.255.0.0"; undefined when not IPv4 CIDR. */
function subnetKey(cidr: string): string | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const bits = Number(m[2]);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return `${m[1]}/${[24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join('.')}`;
}
