/**
 * TopologyStore: data-dir/topology.json. Saved atomically (temp file, fsync, rename, fsync
 * of the directory) with mode 0600 — it holds the node password. Validated on load.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { TopologyDoc } from './topology.js';
import type { StandaloneLayout } from './standalone-layout.js';
import { validateTopology } from './topology-validate.js';

export const TOPOLOGY_FILE = 'topology.json';

/** topology.json exists but cannot be used; the message says why and where. */
export class TopologyLoadError extends Error {
  override readonly name = 'TopologyLoadError';
}

/**
 * Where the document lives: this file, or etcd when proxies coordinate (see
 * coordination/etcd-document-store.ts). Every change is one save of the whole document.
 */
export interface DocumentStore {
  /** Where it is, for messages (a path, or etcd's key). */
  readonly location: string;
  /** The persisted document, undefined when there is none yet (see TopologyStore.load). */
  load(): Promise<TopologyDoc | StandaloneLayout | undefined>;
  /** Replace it; durable once this resolves. Rejects when it could not be (and nothing changed). */
  save(doc: TopologyDoc): Promise<void>;
}

export class TopologyStore implements DocumentStore {
  /** Absolute path of topology.json. */
  readonly path: string;

  constructor(readonly dataDir: string) {
    this.path = path.join(path.resolve(dataDir), TOPOLOGY_FILE);
  }

  get location(): string {
    return this.path;
  }

  /**
   * The persisted document, or undefined when there is none yet; a pre-cluster (format 1)
   * document comes back as a StandaloneLayout to convert. Throws TopologyLoadError when it is invalid.
   */
  async load(): Promise<TopologyDoc | StandaloneLayout | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return parseTopology(text, this.path);
  }

  /** Replace topology.json atomically; once this resolves the new document is durable. */
  async save(doc: TopologyDoc): Promise<void> {
    const tmp = `${this.path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      const file = await open(tmp, 'wx', 0o600);
      try {
        await file.writeFile(`${JSON.stringify(doc, null, 2)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch((cleanupErr: NodeJS.ErrnoException) => {
        if (cleanupErr.code !== 'ENOENT') throw new AggregateError([err, cleanupErr], `saving ${this.path} failed and its temp file ${tmp} could not be removed`);
      });
      throw err;
    }
    await syncDir(path.dirname(this.path));
  }
}

/**
 * A stored document's text, validated: the current document, or a pre-cluster (format 1)
 * layout to convert. Throws TopologyLoadError naming `location` when it is not usable.
 */
export function parseTopology(text: string, location: string): TopologyDoc | StandaloneLayout {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TopologyLoadError(`${location}: not valid JSON (${(err as Error).message})`);
  }
  const check = validateTopology(value);
  if (!check.ok) throw new TopologyLoadError(`${location} is invalid: ${check.problems.join('; ')}`);
  return check.kind === 'current' ? check.doc : check.layout;
}

/** fsync a directory so a rename in it is durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
