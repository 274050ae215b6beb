/**
 * Removing what the Docker provider made for one cluster: its node and recovery containers,
 * the nodes' named volumes and the network it created. Everything is found by the cluster's
 * label (LABEL_CLUSTER = the data dir's cluster id), never by name: a network named with
 * --docker-network that existed before the cluster carries no label of ours and stays, as
 * does a container that only looks like a node. The data dir itself is not touched here (a
 * node volume is a bind of its dir: removing the volume leaves the files).
 *
 * A cluster whose proxy still runs must not be removed under it; that is the caller's check
 * (the data dir's lock, docker-clean.ts).
 */
import type Docker from 'dockerode';
import { dockerMessage, isDockerConflict, isDockerNotFound, isDockerNotModified } from './docker-errors.js';
import { LABEL_CLUSTER } from './docker-network.js';

/** Names of a cluster's Docker resources. */
export interface DockerClusterResources {
  containers: string[];
  volumes: string[];
  networks: string[];
}

export interface DockerClusterRemoval {
  removed: DockerClusterResources;
  /** What could not be removed, in the engine's words (e.g. a network another container still uses). */
  problems: string[];
}

/** Seconds a running node container gets to flush its AOF on SIGTERM before SIGKILL, as the provider's stop. */
const STOP_TIMEOUT_S = 3;

function labelFilter(clusterId: string): { label: string[] } {
  return { label: [`${LABEL_CLUSTER}=${clusterId}`] };
}

interface Found {
  name: string;
  /** What the engine is asked to remove: the id where names may repeat (networks), else the name. */
  ref: string;
}

async function findClusterResources(docker: Docker, clusterId: string): Promise<Record<keyof DockerClusterResources, Found[]>> {
  const filters = labelFilter(clusterId);
  const [containers, volumes, networks] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listVolumes({ filters }),
    docker.listNetworks({ filters }),
  ]);
  return {
    containers: containers.map((c) => ({ name: (c.Names[0] ?? c.Id).replace(/^\//, ''), ref: c.Id })),
    volumes: (volumes.Volumes ?? []).map((v) => ({ name: v.Name, ref: v.Name })),
    networks: networks.map((n) => ({ name: n.Name, ref: n.Id })),
  };
}

/** The names of the cluster's containers (running or not), volumes and networks, by its label. */
export async function listClusterResources(docker: Docker, clusterId: string): Promise<DockerClusterResources> {
  const found = await findClusterResources(docker, clusterId);
  return { containers: found.containers.map((f) => f.name), volumes: found.volumes.map((f) => f.name), networks: found.networks.map((f) => f.name) };
}

/**
 * Remove the cluster's containers (a running one is stopped first: SIGTERM, so its AOF is
 * flushed into the data dir that stays), then its volumes (a volume in use cannot go), then
 * its networks. One that is gone meanwhile counts as removed; one the engine refuses is a
 * problem, and the rest is still tried.
 */
export async function removeClusterResources(docker: Docker, clusterId: string): Promise<DockerClusterRemoval> {
  const found = await findClusterResources(docker, clusterId);
  const removed: DockerClusterResources = { containers: [], volumes: [], networks: [] };
  const problems: string[] = [];
  const attempt = async (kind: keyof DockerClusterResources, { name }: Found, remove: () => Promise<unknown>): Promise<void> => {
    try {
      await remove();
      removed[kind].push(name);
    } catch (err) {
      if (isDockerNotFound(err)) removed[kind].push(name);
      else problems.push(`${kind.slice(0, -1)} ${name}: ${dockerMessage(err)}`);
    }
  };
  await Promise.all(
    found.containers.map((c) =>
      attempt('containers', c, async () => {
        const container = docker.getContainer(c.ref);
        try {
          await container.stop({ t: STOP_TIMEOUT_S });
        } catch (err) {
          if (!isDockerNotModified(err) && !isDockerConflict(err)) throw err; // 304: already stopped
        }
        await container.remove({ force: true });
      }),
    ),
  );
  await Promise.all(found.volumes.map((v) => attempt('volumes', v, () => docker.getVolume(v.ref).remove())));
  for (const n of found.networks) await attempt('networks', n, () => docker.getNetwork(n.ref).remove());
  return { removed, problems };
}
