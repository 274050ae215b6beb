/**
 * Which requests write: the ones `--ack replica` holds until a replica has them.
 *
 * A write is a command Redis flags `write` (SET, DEL, FLUSHALL, FUNCTION LOAD, BLPOP, ...)
 * or one that runs a script that may write: EVAL, EVALSHA, FCALL (Redis 7.0 marks those
 * `may_replicate` internally but COMMAND INFO does not show it; their `_RO` forms are
 * read-only), or the EXEC that runs a transaction's queued commands. A read-only script sent with EVAL counts as a write: the proxy cannot know
 * what the script does, and waiting for a replica costs it only time.
 *
 * Works on the request's RESP bytes alone (`*N\r\n$L\r\nname\r\n...`: the only form that
 * reaches a backend, inline requests are re-encoded by the scanner), so the backend
 * connection can classify whatever it is given — a client's request, a split MSET part, a
 * fan-out FLUSHALL, a request re-sent after MOVED — without every sender saying which.
 */
import { COMMANDS, CMD_BLOCKING, CMD_WRITE, type CommandInfo } from './command-table.js';

/** Not a write: sent and answered as usual. */
export const NOT_WRITE = 0;
/** A write: its reply waits for a replica's acknowledgement. */
export const WRITE = 1;
/**
 * A write that may block (BLPOP, BLMOVE, XREADGROUP ... BLOCK): Redis 7.0 does not advance
 * the connection's replication offset when it serves a blocked client, so a WAIT right
 * after it must be preceded by another command that does.
 */
export const BLOCKING_WRITE = 2;

const SCRIPT_RUNNERS = ['eval', 'evalsha', 'fcall', 'exec'];

/** Every write command and subcommand, built once: the hot path asks a Set, not the flags. */
const WRITES: ReadonlySet<CommandInfo> = (() => {
  const writes = new Set<CommandInfo>();
  const consider = (cmd: CommandInfo): void => {
    if ((cmd.flags & CMD_WRITE) !== 0 || SCRIPT_RUNNERS.includes(cmd.name)) writes.add(cmd);
  };
  for (const cmd of COMMANDS.all()) {
    consider(cmd);
    for (const sub of cmd.subcommands?.all() ?? []) consider(sub);
  }
  return writes;
})();

/**
 * NOT_WRITE, WRITE or BLOCKING_WRITE for one request's bytes. Bytes that do not parse as a
 * RESP array of bulk strings count as a write: waiting for a replica is always safe.
 */
export function writeKind(raw: Buffer): number {
  const cmd = requestCommand(raw);
  if (cmd === null) return WRITE;
  if (cmd === undefined) return NOT_WRITE; // Redis answers "unknown command" and writes nothing
  if (!WRITES.has(cmd)) return NOT_WRITE;
  return (cmd.flags & CMD_BLOCKING) !== 0 ? BLOCKING_WRITE : WRITE;
}

/**
 * The command a request's RESP bytes name (its subcommand, for a container command):
 * undefined when Redis does not know it, null when the bytes are not a RESP array of bulk
 * strings (or its subcommand cannot be read).
 */
export function requestCommand(raw: Buffer): CommandInfo | undefined | null {
  if (raw.length < 4 || raw[0] !== 0x2a /* '*' */) return null;
  let p = 1;
  let argc = 0;
  for (; p < raw.length && raw[p] !== 0x0d; p++) argc = argc * 10 + raw[p] - 0x30;
  const name = bulkAt(raw, p + 2);
  if (name < 0) return null;
  const cmd = COMMANDS.find(raw, name, bulkEnd);
  if (cmd === undefined || cmd.subcommands === null || argc < 2) return cmd;
  const sub = bulkAt(raw, bulkEnd + 2);
  if (sub < 0) return null;
  return cmd.subcommands.find(raw, sub, bulkEnd) ?? cmd;
}

/** End of the bulk string found by the last bulkAt (one number, not an object per call). */
let bulkEnd = 0;

/** Start of the payload of the bulk string `$L\r\n...` at `p` (its end in `bulkEnd`), or -1. */
function bulkAt(raw: Buffer, p: number): number {
  if (p >= raw.length || raw[p] !== 0x24 /* '$' */) return -1;
  let len = 0;
  for (p++; p < raw.length && raw[p] !== 0x0d; p++) len = len * 10 + raw[p] - 0x30;
  const start = p + 2;
  bulkEnd = start + len;
  return bulkEnd + 2 <= raw.length ? start : -1;
}
