/**
 * The cluster's own Docker bridge network, and the fixed addresses of its nodes on it.
 *
 * A Redis Cluster node is known to its peers by the address it announces; a container
 * restarted with a new address would leave stale entries in every nodes.conf. So each node
 * container gets a fixed address, chosen once and kept in the proxy's document (the node
 * record's host), on a network created with a subnet of its own: the lower half of the
 * /24 for nodes (static), the upper half for Docker to hand out (recovery instances, a proxy
 * container joining the network), so the two never collide.
 */
import os from 'node:os';
import type Docker from 'dockerode';
import { isDockerNotFound } from './docker-errors.js';

/** Labels on everything the Docker provider creates. */
export const LABEL_CLUSTER = 'io.interface-hash-server.cluster';
export const LABEL_NODE = 'io.interface-hash-server.node';
export const LABEL_ROLE = 'io.interface-hash-server.role';

/** 10.231.X.0/24 subnets are tried in order until one overlaps nothing on this host. */
const SUBNET_PREFIX = [10, 231];
/** Node addresses: .2 (after the gateway) to .127; Docker's dynamic range: .128/25. */
const FIRST_STATIC = 2;
const LAST_STATIC = 127;

export interface NetworkInfo {
  name: string;
  /** e.g. "10.231.0.0/24" */
  subnet: string;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function parseCidr(cidr: string): { base: number; size: number } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const bits = Number(m[2]);
  const size = 2 ** (32 - bits);
  return { base: Math.floor(ipToInt(m[1]) / size) * size, size };
}

function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  return x.base < y.base + y.size && y.base < x.base + x.size;
}

/** True when `ip` is one of the node (static) addresses of `subnet`. */
export function isStaticAddress(subnet: string, ip: string): boolean {
  const net = parseCidr(subnet);
  if (!net || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  const offset = ipToInt(ip) - net.base;
  return offset >= FIRST_STATIC && offset <= LAST_STATIC;
}

/**
 * Find or create the network. An existing network is used if it is a bridge with a subnet
 * of its own (static addresses need one); a new one gets the first free 10.231.X.0/24.
 */
export async function ensureNetwork(docker: Docker, name: string, clusterId: string): Promise<NetworkInfo> {
  const existing = await inspectNetwork(docker, name);
  if (existing !== undefined) {
    const subnet = existing.IPAM?.Config?.find((c) => c.Subnet !== undefined && parseCidr(c.Subnet) !== undefined)?.Subnet;
    if (subnet === undefined) {
      throw new Error(`docker network ${name} has no IPv4 subnet of its own (nodes need fixed addresses): remove it or name another with --docker-network`);
    }
    return { name, subnet };
  }
  const taken = await takenSubnets(docker);
  for (let x = 0; x < 256; x++) {
    const subnet = `${SUBNET_PREFIX[0]}.${SUBNET_PREFIX[1]}.${x}.0/24`;
    if (taken.some((t) => overlaps(t, subnet))) continue;
    const base = `${SUBNET_PREFIX[0]}.${SUBNET_PREFIX[1]}.${x}`;
    try {
      await docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: { [LABEL_CLUSTER]: clusterId },
        IPAM: { Driver: 'default', Config: [{ Subnet: subnet, IPRange: `${base}.128/25`, Gateway: `${base}.1` }] },
      });
    } catch (err) {
      // Another daemon user took the subnet (or the name) meanwhile: look again.
      const again = await inspectNetwork(docker, name);
      if (again !== undefined) return ensureNetwork(docker, name, clusterId);
      if (/overlap|Pool/i.test((err as Error).message)) continue;
      throw err;
    }
    return { name, subnet };
  }
  throw new Error(`no free 10.231.X.0/24 subnet for docker network ${name}`);
}

async function inspectNetwork(docker: Docker, name: string): Promise<Docker.NetworkInspectInfo | undefined> {
  try {
    return (await docker.getNetwork(name).inspect()) as Docker.NetworkInspectInfo;
  } catch (err) {
    if (isDockerNotFound(err)) return undefined;
    throw err;
  }
}

/** Subnets of the other Docker networks and of this host's interfaces. */
async function takenSubnets(docker: Docker): Promise<string[]> {
  const subnets: string[] = [];
  for (const n of await docker.listNetworks()) for (const c of n.IPAM?.Config ?? []) if (c.Subnet !== undefined) subnets.push(c.Subnet);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && a.cidr !== null) subnets.push(a.cidr);
  }
  return subnets;
}

/**
 * Node addresses in use on the network: every container of this cluster (running or not:
 * a stopped one keeps its address) and whatever else is attached now. `claimed` are
 * addresses handed out in this process but maybe not on a container yet.
 */
export async function pickStaticAddress(docker: Docker, net: NetworkInfo, clusterId: string, claimed: ReadonlySet<string>): Promise<string> {
  const used = new Set(claimed);
  const ours = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CLUSTER}=${clusterId}`] } });
  for (const c of ours) {
    const endpoint = c.NetworkSettings?.Networks?.[net.name];
    if (endpoint?.IPAMConfig?.IPv4Address) used.add(endpoint.IPAMConfig.IPv4Address);
    if (endpoint?.IPAddress) used.add(endpoint.IPAddress);
  }
  const inspected = await inspectNetwork(docker, net.name);
  for (const c of Object.values(inspected?.Containers ?? {})) if (c.IPv4Address) used.add(c.IPv4Address.split('/')[0]);
  const base = parseCidr(net.subnet)!.base;
  for (let offset = FIRST_STATIC; offset <= LAST_STATIC; offset++) {
    const ip = intToIp(base + offset);
    if (!used.has(ip)) return ip;
  }
  throw new Error(`docker network ${net.name}: all ${LAST_STATIC - FIRST_STATIC + 1} node addresses of ${net.subnet} are in use`);
}
