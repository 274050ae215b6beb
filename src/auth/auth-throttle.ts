/**
 * Wrong passwords, counted per source address: after `maxFailures` within `windowMs`, AUTH
 * (and HELLO ... AUTH) from that address is answered with an error without looking at the
 * password until the window that began with its first failure has passed. A right
 * password does not clear the count: guessing between known-good logins gains nothing.
 */
export interface ThrottleSettings {
  readonly maxFailures: number;
  readonly windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = { maxFailures: 10, windowMs: 60_000 };

interface Window {
  startedAt: number;
  failures: number;
}

export class AuthThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly settings: ThrottleSettings = DEFAULT_THROTTLE) {}

  /** Seconds until `address` may try again; 0: it may now. */
  blockedFor(address: string, now = Date.now()): number {
    const w = this.current(address, now);
    if (w === undefined || w.failures < this.settings.maxFailures) return 0;
    return Math.max(1, Math.ceil((w.startedAt + this.settings.windowMs - now) / 1000));
  }

  failed(address: string, now = Date.now()): void {
    const w = this.current(address, now);
    if (w === undefined) this.windows.set(address, { startedAt: now, failures: 1 });
    else w.failures++;
  }

  /** The address's window if it is still open (an expired one is dropped: the map holds only recent failures). */
  private current(address: string, now: number): Window | undefined {
    const w = this.windows.get(address);
    if (w !== undefined && now - w.startedAt >= this.settings.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }
}
