/**
 * HOTKEYS' and BIGKEYS' lines: one per key, readable in redis-cli and split-able by
 * scripts — the one place they are written (the admin verbs) and read back (ihs-cli, the
 * tests), as LIST's are (list-format.ts). The key comes last, so that one with spaces in
 * it is still the rest of the line:
 *   HOTKEYS  `<shard> <address> ops_per_sec=N share=P% key=<key>`
 *   BIGKEYS  `<shard> <address> read_bytes_per_sec=N written_bytes_per_sec=N largest_reply=N largest_request=N key=<key>`
 * Shards in name order; each shard's keys hottest (biggest) first.
 */

export interface HotKey {
  /** The key, its bytes read as UTF-8. */
  key: string;
  /** The shard's name (its master's node id, e.g. m0) and its master's address. */
  shard: string;
  address: string;
  /** Estimated requests per second naming it (as their first key). */
  opsPerSec: number;
  /** Its share of the shard's sampled requests, 0..1. */
  share: number;
}

export interface BigKey {
  key: string;
  shard: string;
  address: string;
  /** Estimated bytes per second of its replies (read by clients) and of its requests (written by clients). */
  readPerSec: number;
  writtenPerSec: number;
  /** The largest reply and request seen for it while it was tracked, bytes. */
  largestReply: number;
  largestRequest: number;
}

export function hotKeyLine(k: HotKey): string {
  return `${k.shard} ${k.address} ops_per_sec=${Math.round(k.opsPerSec)} share=${(k.share * 100).toFixed(1)}% key=${k.key}`;
}

export function bigKeyLine(k: BigKey): string {
  return `${k.shard} ${k.address} read_bytes_per_sec=${Math.round(k.readPerSec)} written_bytes_per_sec=${Math.round(k.writtenPerSec)} largest_reply=${k.largestReply} largest_request=${k.largestRequest} key=${k.key}`;
}

const HOT_LINE = /^(\S+) (\S+) ops_per_sec=(\d+) share=([\d.]+)% key=(.*)$/s;
const BIG_LINE = /^(\S+) (\S+) read_bytes_per_sec=(\d+) written_bytes_per_sec=(\d+) largest_reply=(\d+) largest_request=(\d+) key=(.*)$/s;

/** A HOTKEYS line read back (rates rounded as written); undefined when it is not one. */
export function parseHotKeyLine(line: string): HotKey | undefined {
  const m = HOT_LINE.exec(line);
  if (m === null) return undefined;
  return { shard: m[1], address: m[2], opsPerSec: Number(m[3]), share: Number(m[4]) / 100, key: m[5] };
}

/** A BIGKEYS line read back; undefined when it is not one. */
export function parseBigKeyLine(line: string): BigKey | undefined {
  const m = BIG_LINE.exec(line);
  if (m === null) return undefined;
  return { shard: m[1], address: m[2], readPerSec: Number(m[3]), writtenPerSec: Number(m[4]), largestReply: Number(m[5]), largestRequest: Number(m[6]), key: m[7] };
}
