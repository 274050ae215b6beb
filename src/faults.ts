/**
 * Faults: exceptions caught on the data path (a handler, a reply merge, a flush). Each is
 * a bug in the proxy, not bad input; it must cost one request an `-ERR`, never the process
 * (every other client would lose its connection and its in-flight requests).
 *
 * The reporter is process-wide, like the flush scheduler that also reports through it:
 * the proxy server points it at its logger. Reports are rate-limited so a bug hit by every
 * request costs a log line a second, not one per request.
 */
import type { Logger } from './log.js';
import { encodeError } from './resp/encode.js';

export type FaultReporter = (err: Error, where: string, suppressed: number) => void;

const toStderr: FaultReporter = (err, where, suppressed) => {
  process.stderr.write(`interface-hash-server: internal error in ${where} (${suppressed} similar suppressed): ${err.stack ?? err.message}\n`);
};

let reporter: FaultReporter = toStderr;

/** At most this many reports per window; the rest are counted and mentioned in the next. */
const REPORTS_PER_WINDOW = 10;
const WINDOW_MS = 1000;
let windowStart = 0;
let reportsInWindow = 0;
let suppressed = 0;

/** Route fault reports to `fn`; returns the previous reporter (tests restore it). */
export function setFaultReporter(fn: FaultReporter): FaultReporter {
  const previous = reporter;
  reporter = fn;
  return previous;
}

/** A reporter that logs one pino line per fault. */
export function logFaults(log: Logger): FaultReporter {
  return (err, where, skipped) => log.error({ err, where, suppressed: skipped }, 'internal error on the data path');
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Report a caught exception (rate-limited). Never throws. */
export function reportFault(err: unknown, where: string): void {
  const now = Date.now();
  if (now - windowStart >= WINDOW_MS) {
    windowStart = now;
    reportsInWindow = 0;
  }
  if (reportsInWindow >= REPORTS_PER_WINDOW) {
    suppressed++;
    return;
  }
  reportsInWindow++;
  const skipped = suppressed;
  suppressed = 0;
  try {
    reporter(asError(err), where, skipped);
  } catch {
    // A failing logger must not turn a contained fault into an escaped one.
  }
}

/** Report the fault and return the `-ERR` the affected request gets instead of its reply. */
export function faultReply(err: unknown, where: string): Buffer {
  reportFault(err, where);
  return encodeError(`ERR internal error in interface-hash-server (${where}): ${asError(err).message}`);
}
