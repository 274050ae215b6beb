/**
 * A full garbage collection on demand.
 *
 * Reply buffers live outside the V8 heap (malloc'ed backing stores). After clients that
 * held a lot leave, their buffers are garbage, but V8 collects the old generation only
 * when the heap or the external memory it tracks keeps growing: a proxy that goes quiet
 * would keep them, and its RSS, for good. Node exposes no collection call without
 * `--expose-gc`; v8.setFlagsFromString turns it on at run time for contexts made
 * afterwards, which is where the function is taken from. Checked, not assumed: where this
 * does not yield a function, there is no forced collection (memory then stays until V8's
 * own next one) and the caller is told so.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type Collect = () => void;

let collect: Collect | null | undefined;

/** A function that runs a full collection, or null where this Node offers none. */
export function fullGc(): Collect | null {
  if (collect !== undefined) return collect;
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return (collect = global as Collect);
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn: unknown = vm.runInNewContext('gc');
    collect = typeof fn === 'function' ? (fn as Collect) : null;
  } catch {
    collect = null;
  } finally {
    // Only the one context made above gets it; code loaded later sees no global gc.
    v8.setFlagsFromString('--no-expose-gc');
  }
  return collect;
}
