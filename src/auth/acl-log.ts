/**
 * ACL LOG: the last denials, newest first, as Redis 7.0 keeps them (acl.c addACLLogEntry):
 * a denial like a recent one (same reason, context, object and user, within 60 s) counts
 * on that entry instead of adding one; at most 128 entries.
 */
export type AclLogReason = 'command' | 'key' | 'channel' | 'auth';

export interface AclLogEntry {
  count: number;
  readonly reason: AclLogReason;
  /** 'toplevel', or 'multi' inside a transaction. */
  readonly context: string;
  readonly object: string;
  readonly username: string;
  /** When it last happened (ms since the epoch): age-seconds. */
  at: number;
  clientInfo: string;
}

const MAX_ENTRIES = 128;
const GROUP_WINDOW_MS = 60_000;

export class AclLog {
  private entries: AclLogEntry[] = [];

  add(reason: AclLogReason, context: string, object: string, username: string, clientInfo: string, now = Date.now()): void {
    const same = this.entries.find(
      (e) => e.reason === reason && e.context === context && e.object === object && e.username === username && now - e.at < GROUP_WINDOW_MS,
    );
    if (same !== undefined) {
      same.count++;
      same.at = now;
      same.clientInfo = clientInfo;
      this.entries = [same, ...this.entries.filter((e) => e !== same)];
      return;
    }
    this.entries.unshift({ count: 1, reason, context, object, username, at: now, clientInfo });
    if (this.entries.length > MAX_ENTRIES) this.entries.pop();
  }

  /** The newest `count` entries (all without a count). */
  newest(count = Infinity): readonly AclLogEntry[] {
    return this.entries.slice(0, count);
  }

  reset(): void {
    this.entries = [];
  }
}
