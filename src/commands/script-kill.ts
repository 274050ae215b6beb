/**
 * The kill that stops what a request left running on a node: a script started by EVAL /
 * EVALSHA (and their _RO forms) is stopped by SCRIPT KILL, a function started by FCALL /
 * FCALL_RO by FUNCTION KILL. Asked only after a request timed out, never on the hot path.
 */
import { encodeCommand } from '../resp/encode.js';
import { requestCommand } from './write-kind.js';

/** A kill command: its name (for logs) and its RESP bytes. */
export interface KillCommand {
  readonly name: 'SCRIPT KILL' | 'FUNCTION KILL';
  readonly raw: Buffer;
}

const SCRIPT_KILL: KillCommand = { name: 'SCRIPT KILL', raw: encodeCommand(['SCRIPT', 'KILL']) };
const FUNCTION_KILL: KillCommand = { name: 'FUNCTION KILL', raw: encodeCommand(['FUNCTION', 'KILL']) };

const KILLS: ReadonlyMap<string, KillCommand> = new Map([
  ['eval', SCRIPT_KILL],
  ['evalsha', SCRIPT_KILL],
  ['eval_ro', SCRIPT_KILL],
  ['evalsha_ro', SCRIPT_KILL],
  ['fcall', FUNCTION_KILL],
  ['fcall_ro', FUNCTION_KILL],
]);

/** SCRIPT KILL or FUNCTION KILL for a request (RESP bytes) that runs a script or function; undefined for any other. */
export function killCommandFor(raw: Buffer): KillCommand | undefined {
  const cmd = requestCommand(raw);
  return cmd === null || cmd === undefined ? undefined : KILLS.get(cmd.name);
}
