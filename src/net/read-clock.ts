/**
 * One clock read per socket read, shared by every reply handled in it.
 *
 * Command latency (INFO commandstats/latencystats, /metrics) needs a time at each request
 * and each reply. performance.now() costs ~40 ns, and at -P 16 the proxy spends ~2 µs of
 * CPU per request: two reads per request would cost ~4% of throughput. A backend read
 * carries many replies, so it takes the time once (begin) and every reply delivered
 * during it uses that (now); outside a read (timers, control connections, promises that
 * settle later) now() reads the clock itself, so a reply is never stamped with a stale time.
 */
let current = 0;
let inRead = false;

/** A socket read starts: replies delivered until end() are stamped with this time. */
export function beginRead(): void {
  current = performance.now();
  inRead = true;
}

export function endRead(): void {
  inRead = false;
}

/** Milliseconds (performance.now() scale): the current read's time, or the clock's. */
export function readTime(): number {
  return inRead ? current : performance.now();
}
