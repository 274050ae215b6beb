/**
 * Whether two host:port name the same listener on this machine, as far as an address an
 * operator types can tell: `localhost`, `127.0.0.1` (any 127.x), `::1` and the machine's
 * own interface addresses are all this machine, and a listener bound to `0.0.0.0` / `::`
 * answers on every one of them. No DNS look-up: a name other than `localhost` is compared
 * as written (a node is added by the address the nodes will use, which is what we compare).
 */
import os from 'node:os';
import type { NodeAddress } from './control-client.js';

const UNSPECIFIED = new Set(['0.0.0.0', '::', '[::]', '']);

function bare(host: string): string {
  const h = host.toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h.startsWith('::ffff:') ? h.slice(7) : h;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether `host` (as typed) is an address of this machine. */
export function isThisMachine(host: string): boolean {
  const h = bare(host);
  if (isLoopback(h) || UNSPECIFIED.has(h)) return true;
  return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((i) => bare(i.address) === h));
}

/**
 * Whether a connection to `target` would reach the listener bound at `listener`: same
 * port, and the same host — loopback names counting as one, and a listener on an
 * unspecified address (0.0.0.0, ::) covering every address of this machine.
 */
export function reachesListener(target: NodeAddress, listener: NodeAddress): boolean {
  if (target.port !== listener.port) return false;
  const t = bare(target.host);
  const l = bare(listener.host);
  if (t === l) return true;
  if (UNSPECIFIED.has(l)) return isThisMachine(t);
  if (isLoopback(t) && isLoopback(l)) return true;
  return UNSPECIFIED.has(t) && isThisMachine(l);
}
