/**
 * Router: slot → shard → backend connection, for commands that carry keys.
 *
 * The hot path: find the key positions, hash each key's bytes in place, check they share
 * a slot, and forward the request's original bytes to the shard master's connection for
 * this client. Only the multi-key commands Redis Cluster clients expect a proxy to split
 * (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) are re-encoded, one part per master.
 */
import { bytesEqualIgnoreCase, type CommandInfo } from '../commands/command-table.js';
import { keyIndexes } from '../commands/key-extraction.js';
import { CMD_BLOCKING } from '../commands/command-flags.js';
import { keySlot } from '../cluster/key-slot.js';
import type { SlotMap } from '../cluster/slot-map.js';
import type { BackendPool } from '../backend/pool.js';
import type { ReplySink } from '../backend/reply-sink.js';
import type { RequestFrame } from '../resp/frame.js';
import { encodeError } from '../resp/encode.js';
import type { ClientSession } from './session.js';
import { splitterFor, splitByShard } from './multi-key.js';
import { runBlocking } from './blocking-call.js';

export const CROSSSLOT = encodeError("CROSSSLOT Keys in request don't hash to the same slot");

const BLOCK = Buffer.from('block');
const STREAMS = Buffer.from('streams');

/**
 * Whether a command flagged blocking will block this time. XREAD/XREADGROUP block only
 * with a BLOCK option (before STREAMS); without one they are ordinary reads and stay on
 * the shared pipeline. Every other blocking command (BLPOP, BLMOVE, ...) always may.
 */
function mayBlock(cmd: CommandInfo, frame: RequestFrame): boolean {
  if (cmd.name !== 'xread' && cmd.name !== 'xreadgroup') return true;
  const o = frame.offsets;
  for (let i = 1; i < frame.argc; i++) {
    if (bytesEqualIgnoreCase(frame.raw, o[2 * i], o[2 * i + 1], BLOCK)) return true;
    if (bytesEqualIgnoreCase(frame.raw, o[2 * i], o[2 * i + 1], STREAMS)) return false; // keys and ids follow
  }
  return false;
}

export class Router {
  /** Reused scratch space for key positions: the hot path allocates no array per request. */
  private readonly keyPositions: number[] = [];

  constructor(
    private readonly slotMap: SlotMap,
    private readonly pools: BackendPool[],
  ) {}

  get shardCount(): number {
    return this.pools.length;
  }

  get currentSlotMap(): SlotMap {
    return this.slotMap;
  }



  /** Send raw bytes to one shard on this session's connection. */
  sendToShard(session: ClientSession, shard: number, raw: Buffer, sink: ReplySink): void {
    const conn = this.pools[shard].connectionFor(session.id);
    if (!conn.send(raw, sink)) session.waitForBackend(conn);
  }

  /** Send to one shard's control connection (commands a busy node still reads: SCRIPT KILL). */
  sendToControl(shard: number, raw: Buffer, sink: ReplySink): void {
    this.pools[shard].controlConnection().send(raw, sink);
  }

  /** The shard a keyless request goes to: spread by session, stable for one client. */
  anyShard(session: ClientSession): number {
    return session.id % this.pools.length;
  }

  /** Route a command by its keys. */
  forward(session: ClientSession, frame: RequestFrame, cmd: CommandInfo): void {
    const keys = this.keyPositions;
    const n = keyIndexes(cmd, frame, keys);
    let shard: number;
    if (n <= 0) {
      // No keys found: a keyless form (EVAL with numkeys 0) or arguments Redis will reject
      // (bad numkeys, wrong arity). Any master gives the answer, in Redis's own words.
      shard = this.anyShard(session);
    } else {
      const offsets = frame.offsets;
      const raw = frame.raw;
      let i = keys[0];
      const slot = keySlot(raw, offsets[2 * i], offsets[2 * i + 1]);
      let sameSlot = true;
      for (let k = 1; k < n; k++) {
        i = keys[k];
        if (keySlot(raw, offsets[2 * i], offsets[2 * i + 1]) !== slot) {
          sameSlot = false;
          break;
        }
      }
      if (!sameSlot) {
        const splitter = splitterFor(cmd.name);
        if (splitter === undefined) {
          session.reply(CROSSSLOT);
          return;
        }
        splitByShard(this, session, frame, splitter, session.openSlot());
        return;
      }
      shard = this.slotMap.slotToShard[slot];
    }
    if ((cmd.flags & CMD_BLOCKING) !== 0 && mayBlock(cmd, frame)) {
      runBlocking(session, this.pools[shard], frame.raw);
      return;
    }
    const conn = this.pools[shard].connectionFor(session.id);
    if (!conn.send(frame.raw, session.openSlot())) session.waitForBackend(conn);
  }

  /** Shard of one key given as an argument index of a frame. */
  shardOfArg(frame: RequestFrame, argIndex: number): number {
    const o = frame.offsets;
    return this.slotMap.slotToShard[keySlot(frame.raw, o[2 * argIndex], o[2 * argIndex + 1])];
  }

  close(): void {
    for (const p of this.pools) p.close();
  }
}
