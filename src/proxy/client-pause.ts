import type { RequestFrame } from '../resp/frame.js';
import { CMD_MAY_REPLICATE, CMD_WRITE, type CommandInfo } from '../commands/command-table.js';

/** A client as CLIENT PAUSE sees it: a request of its own can be held and run later. */
export interface PausableClient {
  /** Hold `frame` (and take no later request) until resume(). */
  postpone(frame: RequestFrame): void;
  /** Run the held request, then take requests again. */
  resume(): void;
}

/**
 * CLIENT PAUSE: while active, the commands it covers (all, or those that write) wait in
 * their session, which takes no later request meanwhile, as redis-server postpones them.
 */
export class ClientPause {
  private mode: 'write' | 'all' | undefined;
  private until = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiting = new Set<PausableClient>();

  pause(ms: number, mode: 'write' | 'all'): void {
    // A second pause extends, never shortens, and ALL wins over WRITE (as Redis merges them).
    const until = Date.now() + ms;
    this.mode = this.mode === 'all' ? 'all' : mode;
    if (until <= this.until && this.timer !== undefined) return;
    this.until = until;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.unpause(), ms);
    this.timer.unref();
  }

  unpause(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.mode = undefined;
    this.until = 0;
    const sessions = [...this.waiting];
    this.waiting.clear();
    for (const s of sessions) s.resume();
  }

  /** Whether `cmd` must wait now; if so, the session holds `frame` until the pause ends. */
  holds(session: PausableClient, cmd: CommandInfo, frame: RequestFrame): boolean {
    if (this.mode === undefined) return false;
    if (this.mode === 'write' && (cmd.flags & (CMD_WRITE | CMD_MAY_REPLICATE)) === 0) return false;
    session.postpone(frame);
    this.waiting.add(session);
    return true;
  }

  forget(session: PausableClient): void {
    this.waiting.delete(session);
  }

  close(): void {
    clearTimeout(this.timer);
    this.waiting.clear();
  }
}

