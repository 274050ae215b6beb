/**
 * Faults: exceptions caught on the data path (a handler, a reply merge, a flush). Each is
 * a bug in the proxy, not bad input; it must cost one request an `-ERR`, never the process
 * (every other client would lose its connection and its in-flight requests).
 *
 * Each proxy has its own Faults (see net/runtime.ts), pointed at its logger: two proxies
 * in one process report to their own logs. Reports are rate-limited so a bug hit by every
 * request costs a log line a second, not one per request.
 */
import type { Logger } from './log.js';
import { encodeError } from './resp/encode.js';

export type FaultReporter = (err: Error, where: string, suppressed: number) => void;

const toStderr: FaultReporter = (err, where, suppressed) => {
  process.stderr.write(`interface-hash-server: internal error in ${where} (${suppressed} similar suppressed): ${err.stack ?? err.message}\n`);
};

/** At most this many reports per window; the rest are counted and mentioned in the next. */
const REPORTS_PER_WINDOW = 10;
const WINDOW_MS = 1000;

/** A reporter that logs one pino line per fault. */
export function logFaults(log: Logger): FaultReporter {
  return (err, where, skipped) => log.error({ err, where, suppressed: skipped }, 'internal error on the data path');
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class Faults {
  private windowStart = 0;
  private reportsInWindow = 0;
  private suppressed = 0;

  /** @param reporter where reports go (default: stderr) */
  constructor(private reporter: FaultReporter = toStderr) {}

  /** Route reports to `fn`; returns the previous reporter (tests restore it). */
  setReporter(fn: FaultReporter): FaultReporter {
    const previous = this.reporter;
    this.reporter = fn;
    return previous;
  }

  /** Report a caught exception (rate-limited). Never throws. */
  report(err: unknown, where: string): void {
    const now = Date.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now;
      this.reportsInWindow = 0;
    }
    if (this.reportsInWindow >= REPORTS_PER_WINDOW) {
      this.suppressed++;
      return;
    }
    this.reportsInWindow++;
    const skipped = this.suppressed;
    this.suppressed = 0;
    try {
      this.reporter(asError(err), where, skipped);
    } catch {
      // A failing logger must not turn a contained fault into an escaped one.
    }
  }

  /** Report the fault and return the `-ERR` the affected request gets instead of its reply. */
  reply(err: unknown, where: string): Buffer {
    this.report(err, where);
    return encodeError(`ERR internal error in interface-hash-server (${where}): ${asError(err).message}`);
  }
}
