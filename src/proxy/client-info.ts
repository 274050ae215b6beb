/**
 * What CLIENT LIST and CLIENT INFO show of a client besides its connection and its replies:
 * set by AUTH, CLIENT SETNAME, SETINFO, NO-EVICT and TRACKING, and by its activity. Only
 * `tracking` is read on the way of a request to its node (one null check while it is off).
 */
import type { CommandInfo } from '../commands/command-table.js';
import type { AclUser } from '../auth/acl-user.js';
import type { ClientTracking } from './modes/client-tracking.js';

export class ClientInfo {
  /** CLIENT SETNAME; null: none. */
  name: Buffer | null = null;
  /** CLIENT SETINFO lib-name and lib-ver. */
  libName = '';
  libVersion = '';
  readonly createdAt = Date.now();
  /** May run the admin verbs (ADD, REMOVE, ...): `AUTH admin <password>`, or anyone without --admin-password. */
  admin: boolean;
  /** The --users-file user it is authenticated as (counted against its limits); null: no users file, or `admin`, or the legacy `default`. */
  user: AclUser | null = null;
  /** CLIENT NO-EVICT: never evicted for --maxmemory-clients (CLIENT LIST flags=e). */
  noEvict = false;
  /** The last command run (CLIENT LIST cmd=) and when the client last sent something (idle=). */
  lastCommand: CommandInfo | undefined;
  lastActiveAt = Date.now();
  /** Bytes held for this client as last reported to the host's ClientMemory (CLIENT LIST tot-mem). */
  memoryBytes = 0;
  /** CLIENT TRACKING (CLIENT LIST flags t/R/B and redir=); null: never turned on, the common case. */
  tracking: ClientTracking | null = null;

  constructor(admin: boolean) {
    this.admin = admin;
  }
}
