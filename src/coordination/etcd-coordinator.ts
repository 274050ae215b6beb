/**
 * EtcdCoordinator: proxies on any hosts naming the same etcd and --cluster-name elect one
 * control-plane leader. Keys, under /interface-hash-server/<cluster-name>/:
 *   leader          {id, peer} of the leader, attached to its lease
 *   proxies/<id>    each proxy's ProxyRecord, attached to its own lease
 *   topology        the document and its operation journal (EtcdDocumentStore)
 *
 * Each proxy holds one lease of --leader-ttl seconds, renewed every third of it. Every
 * POLL it reads the leader key; when there is none it tries to create it with its lease in
 * a transaction (Create == 0: one winner). The winner starts the control plane.
 *
 * A leader stops acting before anybody else can be elected: once its last successful
 * renewal is older than the TTL minus a margin (etcd unreachable, the process stalled),
 * it calls becomeFollower itself — etcd expires the lease only a TTL after that renewal,
 * so the old leader has stopped before the new one starts. Its document saves are fenced
 * in etcd besides (EtcdDocumentStore), for a leader that stalls past even that.
 */
import { hostname } from 'node:os';
import { Etcd3, isRecoverableError, type Lease } from 'etcd3';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, noop } from 'cockatiel';
import type { Logger } from '../log.js';
import type { NodeAddress } from '../nodes/control-client.js';
import { TopologyStore } from '../cluster/topology/topology-store.js';
import type { CoordinationStatus, Coordinator, ProxyRecord, Role, RoleListener } from './coordinator.js';
import { EtcdDocumentStore, type Fence } from './etcd-document-store.js';

/** A leader stops this long before its lease could expire in etcd. */
const STOP_MARGIN_MS = 700;

export interface EtcdCoordinatorOptions {
  /** 'host:port' of each etcd endpoint. */
  endpoints: string[];
  clusterName: string;
  ttlSeconds: number;
  proxyId: string;
  /** Worker processes on this host (for status only). */
  workers: number;
  dataDir: string;
  log: Logger;
}

interface LeaderRecord {
  id: string;
  peer: NodeAddress;
}

export class EtcdCoordinator implements Coordinator {
  readonly mode = 'etcd' as const;
  readonly proxyId: string;
  readonly store: EtcdDocumentStore;
  private readonly etcd: Etcd3;
  private readonly prefix: string;
  private readonly lease: LeaseKeeper;
  /** Our leader key and its create revision while we lead; undefined: we follow. */
  private fence: Fence | undefined;
  /** What the last poll saw: who leads, how many proxies are registered, why etcd failed ('' when it did not). */
  private seen: { leader: LeaderRecord | undefined; proxies: number; problem: string } = { leader: undefined, proxies: 0, problem: 'not started' };
  /** This proxy's record, and what to call when its role changes (start()). */
  private self: { record: ProxyRecord; roles: RoleListener | undefined } | undefined;
  /** Role changes, one at a time. */
  private changes: Promise<void> = Promise.resolve();
  /** No campaign before this time (after a leadership we could not take up). */
  private campaignAfter = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: EtcdCoordinatorOptions) {
    this.proxyId = o.proxyId;
    this.prefix = `/interface-hash-server/${o.clusterName}/`;
    this.etcd = new Etcd3({
      hosts: o.endpoints.map((e) => `http://${e}`),
      dialTimeout: 1000,
      // A call to an etcd that is down fails within a poll or two, not after gRPC's minutes.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + Math.max(1000, this.pollMs * 2) }),
      faultHandling: {
        // The client's default waits 5 s after a failure before it tries etcd again: healing
        // would resume that much later after etcd is back. Each poll is our retry.
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
        global: noop,
      },
    });
    this.store = new EtcdDocumentStore(this.etcd, `${this.prefix}topology`, () => this.fence, new TopologyStore(o.dataDir));
    this.lease = new LeaseKeeper(this.etcd, o.ttlSeconds, `${this.prefix}proxies/${o.proxyId}`, o.log, () => {
      if (this.role === 'leader') void this.demote('the etcd lease was lost');
    });
  }

  private get role(): Role {
    return this.fence === undefined ? 'follower' : 'leader';
  }

  /** Polls: several per TTL, so a dead leader is replaced soon after its lease expires. */
  private get pollMs(): number {
    return Math.min(500, (this.o.ttlSeconds * 1000) / 6);
  }

  /** Whether this proxy leads right now (asked by the control plane before each step). */
  get leading(): boolean {
    return this.role === 'leader';
  }

  /**
   * Take part: register `self` with a lease, then poll. Resolves after the first poll, so
   * the caller knows whether it leads before it starts serving.
   */
  async start(self: ProxyRecord, roles: RoleListener): Promise<void> {
    this.self = { record: self, roles };
    await this.lease.register(self).catch((err: Error) => this.o.log.warn({ err: err.message }, 'could not register this proxy in etcd yet'));
    await this.poll();
    await this.changes;
    this.schedule();
  }

  /** The role the first poll gives, before the data plane is up: a new cluster is created by its leader. */
  async initialRole(self: ProxyRecord): Promise<Role> {
    this.self = { record: self, roles: undefined };
    await this.poll();
    return this.role;
  }

  status(): CoordinationStatus {
    return {
      mode: 'etcd',
      role: this.role,
      leader: this.seen.leader?.id ?? '',
      proxies: this.seen.proxies,
      workers: this.o.workers,
      unavailable: this.seen.problem !== '' ? `etcd at ${this.o.endpoints.join(',')} cannot be reached (${this.seen.problem})` : this.seen.leader === undefined ? 'no leader elected yet' : '',
    };
  }

  leaderPeer(): NodeAddress | undefined {
    return this.role === 'leader' ? undefined : this.seen.leader?.peer;
  }


  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.changes;
    if (this.role === 'leader') await this.demote('stopping');
    await this.changes;
    // Revoking the lease deletes the leader key and our registration at once: the next
    // leader need not wait out the TTL.
    await this.lease.revoke();
    this.etcd.close();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule());
    }, this.pollMs);
  }

  private async poll(): Promise<void> {
    // A leader that cannot renew stops first, whatever else happens in this poll.
    if (this.role === 'leader' && this.lease.sinceRenewal > this.o.ttlSeconds * 1000 - STOP_MARGIN_MS) {
      this.o.log.error({ renewedMsAgo: this.lease.sinceRenewal }, 'etcd lease not renewed in time: stopping the control plane');
      await this.demote('the etcd lease could not be renewed');
    }
    try {
      const leaseId = await this.lease.ensure(this.self?.record);
      const res = await this.etcd.get(`${this.prefix}leader`).exec();
      const kv = res.kvs[0];
      this.seen.leader = kv === undefined ? undefined : parseLeader(kv.value.toString('utf8'));
      if (kv !== undefined && this.role === 'leader' && String(kv.create_revision) !== this.fence?.createRevision) {
        await this.demote('another proxy holds the leader key');
      }
      if (kv !== undefined && this.role === 'follower' && this.seen.leader?.id === this.proxyId) {
        // Our own leader key, though we do not lead: a leadership given up while etcd could
        // not be reached (the key could not be deleted then), and our lease outlived the
        // outage. Nobody can be elected while it stands: delete it, once the step-down under
        // way (if any) has stopped the control plane.
        await this.changes;
        const key = `${this.prefix}leader`;
        await this.etcd.if(key, 'Create', '==', String(kv.create_revision)).then(this.etcd.delete().key(key)).commit();
        this.o.log.warn('deleted the leader key of a leadership this proxy had given up');
        this.seen.leader = undefined;
      }
      if (kv === undefined && this.role === 'follower' && Date.now() >= this.campaignAfter && !this.closed) await this.campaign(leaseId);
      this.seen.proxies = Number((await this.etcd.getAll().prefix(`${this.prefix}proxies/`).count()) ?? 0);
      if (this.seen.problem !== '') this.o.log.info('etcd reachable again');
      this.seen.problem = '';
    } catch (err) {
      // The client's circuit breaker says only that it stopped trying: keep the cause it saw.
      const message = (err as Error).message;
      const cause = /circuit breaker/i.test(message) && this.seen.problem !== '' && this.seen.problem !== 'not started' ? this.seen.problem : message;
      if (this.seen.problem !== cause) this.o.log.warn({ etcd: this.o.endpoints.join(','), err: cause }, 'etcd cannot be reached');
      this.seen.problem = cause;
      // Whoever led may be stopping right now (it cannot renew either): nobody to forward to.
      if (this.role === 'follower') this.seen.leader = undefined;
    }
  }

  private async campaign(leaseId: string): Promise<void> {
    if (this.self === undefined) return;
    const key = `${this.prefix}leader`;
    const value = JSON.stringify({ id: this.proxyId, peer: this.self.record.peer } satisfies LeaderRecord);
    const res = await this.etcd.if(key, 'Create', '==', 0).then(this.etcd.put(key).value(value).lease(leaseId)).commit();
    if (!res.succeeded) return;
    this.fence = { key, createRevision: String(res.header.revision) };
    this.seen.leader = { id: this.proxyId, peer: this.self.record.peer };
    this.o.log.info({ proxy: this.proxyId, cluster: this.o.clusterName }, 'elected control-plane leader');
    const roles = this.self.roles;
    if (roles === undefined) return; // initialRole(): the caller starts the control plane itself
    this.changes = this.changes.then(async () => {
      try {
        await roles.becomeLeader();
      } catch (err) {
        this.o.log.error({ err: (err as Error).message }, 'could not start the control plane; giving the leadership up');
        this.campaignAfter = Date.now() + 2 * this.o.ttlSeconds * 1000;
        // Step down within this change: demote() would queue a change after this one, which
        // waits for this one to end (it never would, and the leader key would stay ours).
        if (this.role === 'leader') await this.stepDown('the control plane could not start')();
      }
    });
    await this.changes;
  }

  /** Stop leading: the control plane stops first, then the leader key goes (if etcd answers). */
  private demote(reason: string): Promise<void> {
    if (this.role !== 'leader') return this.changes;
    this.changes = this.changes.then(this.stepDown(reason));
    return this.changes;
  }

  /** Give the leadership up at once; returns the rest, to run as a role change: stop the control plane, delete the leader key. */
  private stepDown(reason: string): () => Promise<void> {
    const fence = this.fence;
    this.fence = undefined;
    this.seen.leader = undefined;
    const roles = this.self?.roles;
    return async () => {
      this.o.log.warn({ reason }, 'no longer the control-plane leader');
      await roles?.becomeFollower(reason);
      if (fence === undefined) return;
      await this.etcd
        .if(fence.key, 'Create', '==', fence.createRevision)
        .then(this.etcd.delete().key(fence.key))
        .commit()
        .catch(() => undefined); // etcd unreachable: the key goes with our lease
    };
  }
}

/**
 * This proxy's etcd lease: granted when there is none (at start, after it was lost), renewed
 * by the client every third of its TTL, and carrying the proxy's registration. It knows
 * when etcd last confirmed it: a leader must stop before that is a TTL ago.
 */
class LeaseKeeper {
  private lease: Lease | undefined;
  /** When etcd last confirmed the lease (grant or keepalive); 0: never. */
  private renewedAt = 0;
  /** What is registered with it (again with each new lease). */
  private record: ProxyRecord | undefined;

  constructor(
    private readonly etcd: Etcd3,
    private readonly ttlSeconds: number,
    /** Where this proxy's record goes, with the lease. */
    private readonly registrationKey: string,
    private readonly log: Logger,
    /** Told when etcd says the lease is gone. */
    private readonly onLost: () => void,
  ) {}

  /** Milliseconds since etcd last confirmed the lease. */
  get sinceRenewal(): number {
    return Date.now() - this.renewedAt;
  }

  /** The lease (granted now, and `record` registered with it, when there is none); its id. */
  async ensure(record = this.record): Promise<string> {
    if (this.lease !== undefined && !this.lease.revoked()) return this.lease.grant();
    const lease = this.etcd.lease(this.ttlSeconds);
    lease.on('keepaliveSucceeded', () => {
      if (this.lease === lease) this.renewedAt = Date.now();
    });
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      this.log.warn({ err: err.message }, 'etcd lease lost');
      this.lease = undefined;
      this.onLost();
    });
    let id: string;
    try {
      id = await lease.grant();
    } catch (err) {
      lease.release();
      throw err;
    }
    this.renewedAt = Date.now();
    this.lease = lease;
    this.record = record;
    await this.register(record);
    return id;
  }

  /** (Re-)register this proxy's record with the lease (now that its ports are known). */
  async register(record: ProxyRecord | undefined): Promise<void> {
    this.record = record;
    if (record !== undefined) await this.lease?.put(this.registrationKey).value(JSON.stringify(record));
  }

  /** Give the lease back: its keys (leadership, registration) go at once. */
  async revoke(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await lease?.revoke().catch((err: Error) => this.log.warn({ err: err.message }, 'could not revoke the etcd lease; it expires by itself'));
  }
}

function parseLeader(text: string): LeaderRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<LeaderRecord>;
    if (typeof v.id === 'string' && typeof v.peer?.host === 'string' && typeof v.peer.port === 'number') return { id: v.id, peer: v.peer };
  } catch {
    // not ours: treated as no leader record (the key still blocks the election until it expires)
  }
  return undefined;
}

/** A proxy id unique among the proxies of a cluster: host, pid, and a random part. */
export function newProxyId(): string {
  return `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
}
