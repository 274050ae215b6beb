/**
 * The limits on what the proxy holds for its clients, and their syntax: --maxmemory-clients
 * (all clients together, CONFIG SET may change it) and the output buffer limit of
 * subscribed clients. Parsed here so that CONFIG SET and the command line read them alike.
 */
import { availableMemory, parseMemory } from '../ops/memory-size.js';

/** --maxmemory-clients: what all clients together may hold in the proxy before the biggest is evicted. */
export interface ClientMemoryCap {
  /** 0: no cap. */
  bytes: number;
  /** Given as a percentage of the memory available (CONFIG GET answers it so), else null. */
  percent: number | null;
}

/**
 * Redis's maxmemory-clients syntax: 0 (off), a size (64mb), or a percentage. Redis's
 * percentage is of maxmemory, the budget of the process; the proxy's budget is the memory
 * it may use at all, so here it is of that (availableMemory()).
 */
export function parseClientMemoryCap(text: string, available = availableMemory()): ClientMemoryCap {
  const pct = /^\s*(\d{1,3})\s*%\s*$/.exec(text);
  if (pct !== null) {
    const percent = Number(pct[1]);
    if (percent > 100) throw new Error(`--maxmemory-clients '${text}': a percentage must be 0..100`);
    return { bytes: Math.floor((available * percent) / 100), percent };
  }
  try {
    return { bytes: parseMemory(text), percent: null };
  } catch {
    throw new Error(`--maxmemory-clients '${text}': expected 0, a size (e.g. 256mb) or a percentage of the memory available (e.g. 5%)`);
  }
}

/** Redis's client-output-buffer-limit for one class of clients; 0 turns a limit off. */
export interface OutputBufferLimit {
  hardBytes: number;
  softBytes: number;
  softSeconds: number;
}

/** "<hard> <soft> <soft seconds>" as in redis.conf, e.g. "32mb 8mb 60". */
export function parseOutputBufferLimit(text: string): OutputBufferLimit {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 3 || !/^\d+$/.test(parts[2])) {
    throw new Error(`--client-output-buffer-limit-pubsub '${text}': expected "<hard> <soft> <soft seconds>", e.g. "32mb 8mb 60"`);
  }
  return { hardBytes: parseMemory(parts[0]), softBytes: parseMemory(parts[1]), softSeconds: Number(parts[2]) };
}
