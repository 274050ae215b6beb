/**
 * KeyMover: the one way keys go from a node to another — MIGRATE … KEYS on a pipelined
 * NodeClient to the source, the keys as raw RESP where they come from a GETKEYSINSLOT
 * reply. Used by the slot migration (a cluster master, keys by GETKEYSINSLOT) and the shard
 * recovery (a standalone recovery instance, keys by SCAN). MIGRATE deletes from the source
 * each key it moved, so what is still there after an error is what is left to move.
 *
 * MIGRATE is sent without REPLACE: a key the target has already is refused (BUSYKEY), and
 * what happens to it is the caller's policy —
 *   replaceBusyKeys  the source's copy wins (a slot MIGRATING: the source's copy is the
 *                    one clients read); copies that differed are logged and counted
 *   moveOne          the target's copy wins ('busy': a key written there meanwhile keeps
 *                    its newer value; the caller drops the source's)
 */
import type { Logger } from '../../log.js';
import { formatAddress, type NodeAddress } from '../../nodes/control-client.js';
import { sleep } from '../../nodes/wait.js';
import { encodeCommand } from '../../resp/encode.js';
import { decodeReply, lineText } from '../../resp/reply-value.js';
import { expectOk, replyError, type NodeClient } from '../../nodes/node-client.js';

/** Where the keys go: an address, named in logs by `address`. */
export interface KeyTarget extends NodeAddress {
  address: string;
}

/** Keys to MIGRATE: how many, and their bulk strings as raw RESP (a GETKEYSINSLOT reply's elements). */
export interface KeyBatch {
  count: number;
  /** The reply's elements ("$3\r\nfoo\r\n…"): MIGRATE's last arguments as they are. */
  elements: Buffer;
  reply: Buffer;
}

export interface KeyMoverOptions {
  /** The nodes' password ('' for none): MIGRATE authenticates on the target with it. */
  password: string;
  /** MIGRATE's own timeout. */
  timeoutMs: number;
  log: Logger;
}

/** Key names logged per BUSYKEY conflict. */
const LOGGED_KEYS = 10;
/** Tries of one key's MIGRATE (moveOne) before it counts as failed. */
const KEY_TRIES = 3;

export class KeyMover {
  constructor(private readonly o: KeyMoverOptions) {}

  /** MIGRATE of a batch (without REPLACE); resolves to the reply frame (+OK, +NOKEY when none was left, or the error). */
  send(source: NodeClient, target: KeyTarget, keys: KeyBatch | readonly Buffer[]): Promise<Buffer> {
    const fixed = this.migrateArgs(target, false);
    if (!('elements' in keys)) return source.callRaw([...fixed, ...keys]);
    // The keys copied from GETKEYSINSLOT's reply as they are, behind the encoded arguments.
    const encoded = encodeCommand(fixed);
    const body = encoded.subarray(encoded.indexOf(0x0a) + 1);
    return source.send(Buffer.concat([Buffer.from(`*${fixed.length + keys.count}\r\n`, 'latin1'), body, keys.elements]));
  }

  /**
   * The target already has some of `keys` that the source still has, and the source's copies
   * are the ones clients read: find them, log those whose values differ, and send the
   * source's copies again with REPLACE. `t` is the channel to the target, which only imports
   * the slot (hence ASKING). Returns how many differed.
   */
  async replaceBusyKeys(slot: number, source: NodeClient, target: KeyTarget, t: NodeClient, keys: Buffer[]): Promise<number> {
    const onSource = await Promise.all(keys.map((k) => source.callRaw(['DUMP', k])));
    const onTarget = await Promise.all(
      keys.map((k) => {
        void t.callRaw(['ASKING']);
        return t.callRaw(['DUMP', k]);
      }),
    );
    const busy: Buffer[] = [];
    const differing: string[] = [];
    keys.forEach((key, k) => {
      const a = dumpValue(onSource[k]);
      const b = dumpValue(onTarget[k]);
      if (a === undefined || b === undefined) return;
      busy.push(key);
      if (!a.equals(b)) differing.push(key.toString('latin1'));
    });
    if (busy.length === 0) return 0;
    const reply = expectOk(await source.callRaw([...this.migrateArgs(target, true), ...busy]), `MIGRATE REPLACE from ${formatAddress(source.address)}`);
    this.o.log.warn(
      { slot, target: target.address, keys: busy.length, differing: differing.length, examples: differing.slice(0, LOGGED_KEYS), reply: lineText(reply) },
      "target already had keys the source still served: the source's copies (the ones clients read) replaced them",
    );
    return differing.length;
  }

  /** One key's MIGRATE, tried a few times unless BUSYKEY (the target's copy wins): moved, busy, or the last error. */
  async moveOne(source: NodeClient, target: KeyTarget, key: Buffer): Promise<'moved' | 'busy' | string> {
    let last = '';
    for (let attempt = 0; attempt < KEY_TRIES; attempt++) {
      const err = replyError(await this.send(source, target, [key]));
      if (err === undefined) return 'moved';
      last = err;
      if (/BUSYKEY/.test(last)) return 'busy';
      await sleep(100 * (attempt + 1));
    }
    return last;
  }

  /** MIGRATE's arguments before the keys. */
  private migrateArgs(target: NodeAddress, replace: boolean): string[] {
    const args = ['MIGRATE', target.host, String(target.port), '', '0', String(this.o.timeoutMs)];
    if (replace) args.push('REPLACE');
    if (this.o.password !== '') args.push('AUTH', this.o.password);
    args.push('KEYS');
    return args;
  }
}

/** A GETKEYSINSLOT reply ("*n\r\n" + n bulk strings) split into its count and elements. */
export function keyBatch(reply: Buffer): KeyBatch {
  const eol = reply.indexOf(0x0a);
  const count = Number(reply.toString('latin1', 1, eol - 1));
  if (reply[0] !== 0x2a /* '*' */ || !Number.isInteger(count) || count < 0) throw new Error('GETKEYSINSLOT: unexpected reply');
  return { count, elements: reply.subarray(eol + 1), reply };
}

/** The keys of a GETKEYSINSLOT reply, decoded. */
export function decodeKeys(reply: Buffer): Buffer[] {
  const keys = decodeReply(reply);
  if (!Array.isArray(keys) || !keys.every(Buffer.isBuffer)) throw new Error('GETKEYSINSLOT: unexpected reply');
  return keys as Buffer[];
}

/** A DUMP reply: the serialized value, or undefined when the key is not there (nil, or -ASK from a migrating source). */
function dumpValue(reply: Buffer): Buffer | undefined {
  const err = replyError(reply);
  if (err !== undefined) {
    if (err.startsWith('ASK ')) return undefined;
    throw new Error(`DUMP: ${err}`);
  }
  const value = decodeReply(reply);
  return Buffer.isBuffer(value) ? value : undefined;
}
