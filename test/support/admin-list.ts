/** The admin LIST verb's reply, parsed: one line per node (`id addr role master state key=value...`). */
import type { Redis } from 'ioredis';
import { splitNodeLine, type NodeLine } from '../../src/status/list-format.js';

export type ListedNode = NodeLine;

/** Node lines only (operation lines — migrations, recoveries — are left out). */
export function parseList(lines: string[]): ListedNode[] {
  return lines.map(splitNodeLine).filter((n): n is NodeLine => n !== undefined);
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
