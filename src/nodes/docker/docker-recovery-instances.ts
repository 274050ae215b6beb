/**
 * The Docker provider's recovery instances: a standalone redis-server container (same image
 * as the nodes, cluster support off) on the copy of a dead node's AOF that shard recovery
 * made under the data dir, bound at /data. It runs on the cluster network, so its MIGRATEs
 * reach the new owners at their cluster addresses; a proxy on the host reaches it through a
 * port published on 127.0.0.1 (dial-map.ts), as it reaches the nodes.
 */
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from '../../log.js';
import type { ControlClients } from '../control-client.js';
import { dockerMessage } from './docker-errors.js';
import { LABEL_CLUSTER, LABEL_ROLE } from './docker-network.js';
import { CONTAINER_DATA_DIR, CONTAINER_PORT, inspectContainer, ownerIds, publishedPort, routeTo, type DockerProvider, type NodeAccess } from './docker-provider.js';
import type { DialMap } from '../../net/dial-map.js';
import { tailFile } from '../log-tail.js';
import { PortAllocator } from '../ports.js';
import { writePrivateFile } from '../process/process-provider.js';
import { RECOVERY_CONF_FILE, RecoveryLoadError, renderRecoveryConf, type RecoveryInstance, type RecoveryInstanceRunner } from '../recovery-instance.js';
import { REDIS_LOG_FILE } from '../redis-conf.js';
import { sleep } from '../wait.js';

const POLL_MS = 100;
const PORT_KEY = `${CONTAINER_PORT}/tcp`;

export interface DockerRecoveryInstancesOptions {
  docker: Docker;
  provider: DockerProvider;
  image: string;
  clusterId: string;
  access: NodeAccess;
  /** Where the proxy's sockets learn the route to an instance's published port (access `published`). */
  dial: DialMap;
  log: Logger;
  /** Bound on loading the AOF. Default 120 s. */
  startTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** The proxy's control-plane connections, dialling through `dial` (the password is the one start() is given). */
  clients: ControlClients;
}

export class DockerRecoveryInstances implements RecoveryInstanceRunner {
  private readonly ports = new PortAllocator('127.0.0.1');
  private readonly startTimeoutMs: number;
  private readonly clients: ControlClients;

  constructor(private readonly o: DockerRecoveryInstancesOptions) {
    this.startTimeoutMs = o.startTimeoutMs ?? 120_000;
    this.clients = o.clients.within(o.commandTimeoutMs ?? 2_000);
  }

  private containerName(dirReal: string): string {
    const tag = createHash('sha1').update(dirReal).digest('hex').slice(0, 8);
    return this.o.provider.containerName(`recovery-${path.basename(dirReal)}-${tag}`);
  }

  async start(dir: string, password: string): Promise<RecoveryInstance> {
    const net = await this.o.provider.ensureNetwork();
    const dirReal = await realpath(dir);
    const name = this.containerName(dirReal);
    const existing = await this.inspect(name);
    if (existing?.State.Running === true) {
      const ip = this.routeTo(existing, net.name);
      const probe = await this.clients.as(password).probe({ host: ip, port: CONTAINER_PORT });
      if (probe.state === 'ready' || probe.state === 'loading') return this.waitLoaded(existing, dir, password, net.name, 'adopted');
    }
    // Never two on one AOF: whatever is left of an earlier attempt goes first.
    if (existing !== undefined) await this.docker.getContainer(existing.Id).remove({ force: true });
    const tls = await this.o.provider.placeTls(dir);
    await writePrivateFile(path.join(dir, RECOVERY_CONF_FILE), renderRecoveryConf(CONTAINER_DATA_DIR, CONTAINER_PORT, password, '0.0.0.0', tls));
    const hostPort = this.o.access === 'published' ? await this.ports.pick() : undefined;
    let info: Docker.ContainerInspectInfo;
    try {
      const container = await this.docker.createContainer({
        name,
        Image: this.o.image,
        Cmd: ['redis-server', `${CONTAINER_DATA_DIR}/${RECOVERY_CONF_FILE}`],
        User: ownerIds(),
        Labels: { [LABEL_CLUSTER]: this.o.clusterId, [LABEL_ROLE]: 'recovery' },
        ExposedPorts: { [PORT_KEY]: {} },
        HostConfig: {
          Binds: [`${dirReal}:${CONTAINER_DATA_DIR}`],
          NetworkMode: net.name,
          RestartPolicy: { Name: 'no' },
          PortBindings: hostPort === undefined ? {} : { [PORT_KEY]: [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] },
        },
      });
      await container.start();
      info = await container.inspect();
    } catch (err) {
      if (hostPort !== undefined) this.ports.release(hostPort);
      throw new RecoveryLoadError(`recovery container for ${dir}: ${dockerMessage(err)}`);
    }
    this.routeTo(info, net.name);
    return this.waitLoaded(info, dir, password, net.name, 'started');
  }

  async stop(dir: string, instance: RecoveryInstance): Promise<void> {
    const info = await this.inspect(instance.handle);
    if (info === undefined) return;
    const container = this.docker.getContainer(info.Id);
    if (info.State.Running) await container.stop({ t: 15 }); // SIGTERM: the AOF keeps exactly what was not migrated
    await container.remove({ force: true });
    this.o.dial.delete(instance.host, instance.port);
    const port = publishedPort(info);
    if (port !== undefined) this.ports.release(port);
    this.o.log.info({ dir, container: info.Name }, 'recovery instance stopped');
  }

  private get docker(): Docker {
    return this.o.docker;
  }

  private async waitLoaded(info: Docker.ContainerInspectInfo, dir: string, password: string, network: string, how: string): Promise<RecoveryInstance> {
    const ip = this.routeTo(info, network);
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      const probe = await this.clients.as(password).probe({ host: ip, port: CONTAINER_PORT });
      if (probe.state === 'ready') break;
      const state = (await this.inspect(info.Id))?.State;
      if (state === undefined || !state.Running) {
        throw new RecoveryLoadError(`recovery container in ${dir} exited with code ${state?.ExitCode ?? '?'} before answering: ${await tailFile(path.join(dir, REDIS_LOG_FILE))}`);
      }
      if (Date.now() > deadline) {
        await this.docker.getContainer(info.Id).remove({ force: true });
        throw new Error(`recovery container in ${dir} did not finish loading within ${this.startTimeoutMs} ms; removed it`);
      }
      await sleep(POLL_MS);
    }
    this.o.log.info({ dir, container: info.Name, ip }, `recovery instance ${how}`);
    return { host: ip, port: CONTAINER_PORT, handle: info.Id };
  }

  private routeTo(info: Docker.ContainerInspectInfo, network: string): string {
    const route = routeTo(info, network, this.o.access, this.o.dial, this.ports);
    if (typeof route !== 'string') throw new RecoveryLoadError(`recovery ${route.problem}`);
    return route;
  }

  private inspect(nameOrId: string): Promise<Docker.ContainerInspectInfo | undefined> {
    return inspectContainer(this.docker, nameOrId);
  }
}
