/**
 * The users of a proxy started with --users-file: looked up by AUTH, with the ACL log, the
 * wrong-password throttle and each user's usage against its limits (proxy-maxclients,
 * proxy-max-ops), which INFO's `# Users` section and /metrics show.
 */
import { readFileSync } from 'node:fs';
import { AclUser } from './acl-user.js';
import { parseUsersFile } from './acl-rules.js';
import { AclLog } from './acl-log.js';
import { AuthThrottle, DEFAULT_THROTTLE, type ThrottleSettings } from './auth-throttle.js';

/** One user's figures: connections now, requests, refusals by limit. */
export interface UserUsage {
  clients: number;
  commands: number;
  rejectedMaxClients: number;
  rejectedMaxOps: number;
  /** The current one-second window of proxy-max-ops. */
  windowStart: number;
  windowOps: number;
}

export class AclUsers {
  readonly log = new AclLog();
  readonly throttle: AuthThrottle;
  private readonly byName = new Map<string, AclUser>();
  private readonly usage = new Map<AclUser, UserUsage>();

  constructor(users: readonly AclUser[], throttle: ThrottleSettings = DEFAULT_THROTTLE) {
    for (const u of users) {
      this.byName.set(u.name, u);
      this.usage.set(u, { clients: 0, commands: 0, rejectedMaxClients: 0, rejectedMaxOps: 0, windowStart: 0, windowOps: 0 });
    }
    this.throttle = new AuthThrottle(throttle);
  }

  /** Reads and parses the file; throws with the file's name and the line on a mistake (at start-up). */
  static fromFile(path: string, throttle?: ThrottleSettings): AclUsers {
    const parsed = parseUsersFile(readFileSync(path, 'utf8'));
    if (!parsed.ok) throw new Error(`--users-file ${path}: ${parsed.error}`);
    return new AclUsers(
      parsed.users.map((d) => new AclUser(d)),
      throttle,
    );
  }

  get(name: string): AclUser | undefined {
    return this.byName.get(name);
  }

  /** The file's `default` user, if it has one: what a new connection is (authenticated when it is `on nopass`). */
  get defaultUser(): AclUser | undefined {
    return this.byName.get('default');
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  all(): AclUser[] {
    return this.names().map((n) => this.byName.get(n) as AclUser);
  }

  usageOf(user: AclUser): UserUsage {
    const u = this.usage.get(user);
    if (u === undefined) throw new Error(`acl: user '${user.name}' is not of this proxy`);
    return u;
  }

  /** A connection becomes `user`; false (and counted) when that would pass its proxy-maxclients. */
  attach(user: AclUser): boolean {
    const u = this.usageOf(user);
    const max = user.def.limits.maxClients;
    if (max > 0 && u.clients >= max) {
      u.rejectedMaxClients++;
      return false;
    }
    u.clients++;
    return true;
  }

  detach(user: AclUser): void {
    this.usageOf(user).clients--;
  }

  /** One request of `user`; false (and counted) when it passes its proxy-max-ops in this second. */
  admitRequest(user: AclUser, now = Date.now()): boolean {
    const u = this.usageOf(user);
    const max = user.def.limits.maxOpsPerSecond;
    if (max > 0) {
      const second = Math.floor(now / 1000);
      if (second !== u.windowStart) {
        u.windowStart = second;
        u.windowOps = 0;
      }
      if (u.windowOps >= max) {
        u.rejectedMaxOps++;
        return false;
      }
      u.windowOps++;
    }
    u.commands++;
    return true;
  }
}
