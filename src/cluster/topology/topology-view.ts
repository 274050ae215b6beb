/**
 * TopologyView: the document as the data plane reads it (where the nodes are, their
 * password), whichever proxy writes it. The leader's ClusterManager hands it every document
 * it saves; a follower reads the store every so often (follow()) — the nodes' addresses
 * change only when the leader restarts one elsewhere or adds/removes one, and the slot map
 * itself always comes from the cluster (SlotMapSource), not from here.
 */
import type { Logger } from '../../log.js';
import { seedAddresses, type TopologyDoc } from './topology.js';
import type { DocumentStore } from './topology-store.js';

export class TopologyView {
  private doc: TopologyDoc | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters: ((doc: TopologyDoc) => void)[] = [];

  /** The current document; throws before there is one (the data plane starts after it). */
  get topology(): TopologyDoc {
    if (this.doc === undefined) throw new Error('no topology document yet');
    return this.doc;
  }

  get nodePassword(): string {
    return this.topology.nodePassword;
  }

  /** The id of the node at host:port in the current document (undefined: none, or no document yet). */
  nodeIdAt(host: string, port: number): string | undefined {
    return this.doc?.nodes.find((n) => n.host === host && n.port === port)?.id;
  }

  seedAddresses(): { host: string; port: number }[] {
    return this.doc === undefined ? [] : seedAddresses(this.doc);
  }

  /** A document the leader saved, or a follower read. */
  set(doc: TopologyDoc): void {
    this.doc = doc;
    if (!doc.formed) return;
    for (const w of this.waiters.splice(0)) w(doc);
  }

  /** Resolves with the first formed document (a follower waits for the leader to create the cluster). */
  formed(): Promise<TopologyDoc> {
    if (this.doc?.formed === true) return Promise.resolve(this.doc);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Read `store` now and then every `intervalMs` until unfollow(). A read that fails (the
   * store unreachable) keeps the last document: the nodes did not move because the store
   * cannot be read.
   */
  follow(store: DocumentStore, intervalMs: number, log: Logger): void {
    this.unfollow();
    let failing = false;
    const read = async (): Promise<void> => {
      try {
        const doc = await store.load();
        if (doc !== undefined && doc.format !== 1) this.set(doc);
        if (failing) log.info({ store: store.location }, 'topology document readable again');
        failing = false;
      } catch (err) {
        if (!failing) log.warn({ store: store.location, err: (err as Error).message }, 'cannot read the topology document; following the last one read');
        failing = true;
      }
    };
    const tick = (): void => {
      void read().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  unfollow(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
