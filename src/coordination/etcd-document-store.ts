/**
 * EtcdDocumentStore: the topology document (with its operation journal, `operations`) in
 * etcd, one key per cluster, so whichever proxy leads next reads what the last one wrote.
 *
 * A save is a transaction, not last-writer-wins: it succeeds only if
 *  - this proxy still holds the leadership it was elected with (the leader key's create
 *    revision is the one it created; a leader whose lease expired is fenced off), and
 *  - the document is the revision this proxy last read or wrote (nobody wrote in between).
 * Otherwise nothing is written and the save rejects: the caller's change did not happen.
 *
 * The data dir keeps a copy (topology.json, written after each save) so that it still
 * describes its nodes to a proxy started without --coordinator; an etcd with no document
 * yet imports that file (a single proxy moving to coordination keeps its cluster).
 */
import type { Etcd3 } from 'etcd3';
import type { TopologyDoc } from '../cluster/topology/topology.js';
import type { StandaloneLayout } from '../cluster/topology/standalone-layout.js';
import { parseTopology, type DocumentStore, type TopologyStore } from '../cluster/topology/topology-store.js';

/** The leadership a save must still hold: the leader key and the create revision this proxy got. */
export interface Fence {
  key: string;
  createRevision: string;
}

/** The save was refused: this proxy no longer leads, or another wrote the document first. */
export class FencedSaveError extends Error {
  override readonly name = 'FencedSaveError';
}

export class EtcdDocumentStore implements DocumentStore {
  /** The document's mod revision as last read or written ('0': it does not exist). */
  private revision = '0';

  constructor(
    private readonly etcd: Etcd3,
    private readonly key: string,
    /** The leadership this proxy holds now; undefined when it does not lead. */
    private readonly fence: () => Fence | undefined,
    /** The data dir's copy. */
    private readonly mirror: TopologyStore,
  ) {}

  get location(): string {
    return `etcd key ${this.key}`;
  }

  async load(): Promise<TopologyDoc | StandaloneLayout | undefined> {
    const res = await this.etcd.get(this.key).exec();
    const kv = res.kvs[0];
    if (kv === undefined) {
      this.revision = '0';
      return this.mirror.load(); // a data dir from before coordination: imported on the first save
    }
    this.revision = String(kv.mod_revision);
    return parseTopology(kv.value.toString('utf8'), this.location);
  }

  async save(doc: TopologyDoc): Promise<void> {
    const fence = this.fence();
    if (fence === undefined) throw new FencedSaveError(`${this.location} not saved: this proxy is not the control-plane leader`);
    const text = JSON.stringify(doc, null, 2);
    const res = await this.etcd
      .if(fence.key, 'Create', '==', fence.createRevision)
      .and(this.key, 'Mod', '==', this.revision)
      .then(this.etcd.put(this.key).value(text))
      .commit();
    if (!res.succeeded) {
      throw new FencedSaveError(`${this.location} not saved: this proxy lost the leadership, or another proxy wrote the document since revision ${this.revision}`);
    }
    this.revision = String(res.header.revision);
    await this.mirror.save(doc);
  }
}
