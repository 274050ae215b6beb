/**
 * Memory sizes as the proxy's options give them (Redis's syntax), and the memory the
 * process may use: read by the configuration and by the client limits alike.
 */
import os from 'node:os';

/** Memory the process may use: its cgroup's limit when it has one, else the machine's. */
export function availableMemory(): number {
  const total = os.totalmem();
  const limit = process.constrainedMemory();
  // Without a limit Node reports 0 or a huge sentinel (2^64): the machine's memory then.
  return limit > 0 && limit < total ? limit : total;
}

/** Parse Redis-style memory sizes: 512mb, 1gb, 100k, 1024. */
export function parseMemory(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+)\s*(b|k|kb|m|mb|g|gb)?\s*$/i.exec(value);
  if (!m) throw new Error(`not a size: '${value}' (use e.g. 512mb, 64kb, 1048576)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult: Record<string, number> = { b: 1, k: 1000, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };
  return n * mult[unit];
}
