/**
 * The admin verbs (ADD, LIST, FAILOVER, ...) as the proxy's dispatcher sees them: a table
 * the control plane builds (src/admin/admin-verbs.ts) and main.ts hands to the proxy. A
 * leaf, so that neither side imports the other.
 */
import type { RequestFrame } from '../resp/frame.js';

/** A client as an admin verb sees it: whether it may run one, and where its reply goes, in order. */
export interface AdminVerbClient {
  /** May run the admin verbs: `AUTH admin <password>`, or anyone without --admin-password. */
  readonly admin: boolean;
  /** Reply now, in order. */
  reply(buf: Buffer): void;
  /** A place in the client's reply order for a reply that comes later. */
  openSlot(): { deliver(reply: Buffer): void };
}

export type AdminVerbHandler = (client: AdminVerbClient, frame: RequestFrame) => void;

export interface AdminVerbTable {
  /** Admin verbs Redis also has a command of that name for (FAILOVER), by command-table name: routed by the command table. */
  readonly overrides: ReadonlyMap<string, AdminVerbHandler>;
  /** The admin verb that is not a Redis command (ADD, LIST, ...) named by the request's first word; undefined otherwise. */
  verb(frame: RequestFrame): AdminVerbHandler | undefined;
}
