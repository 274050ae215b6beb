/** The admin LIST verb's reply, parsed: one line per node (`id addr role master state key=value...`). */
import type { Redis } from 'ioredis';

export interface ListedNode {
  id: string;
  address: string;
  role: string;
  /** The master's id for a replica, '-' for a master. */
  master: string;
  state: string;
  fields: Map<string, string>;
}

/** Node lines only (operation lines — migrations, recoveries — are left out). */
export function parseList(lines: string[]): ListedNode[] {
  return lines
    .filter((l) => /^\S+ \S+:\d+ /.test(l))
    .map((l) => {
      const [id, address, role, master, state, ...rest] = l.split(' ');
      return { id, address, role, master, state, fields: new Map(rest.map((kv) => kv.split('=') as [string, string])) };
    });
}

export async function listNodes(r: Redis): Promise<ListedNode[]> {
  return parseList((await r.call('LIST')) as string[]);
}

/** One node as the JSON surfaces give it (`ihs-cli ls --json`, GET /api/v1/clients and /cluster). */
export interface NodeJson {
  id: string;
  address: string;
  role: string;
  masterId: string | null;
  state: string;
  slots: [number, number][];
  keys: number | null;
  offset: number | null;
  lagBytes: number | null;
}
