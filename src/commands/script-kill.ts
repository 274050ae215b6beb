/**
 * The kill that stops a script or function a node runs: a script started by EVAL / EVALSHA
 * (and their _RO forms) is stopped by SCRIPT KILL, a function started by FCALL / FCALL_RO
 * by FUNCTION KILL. Every kill the proxy sends — for a timed-out request (BackendPool), a
 * node answering BUSY (ScriptKiller), a node being stopped (ClusterManager.shutdown) — is
 * sent and read here; only the connection it goes on is the caller's. Never on the hot path.
 */
import { encodeCommand } from '../resp/encode.js';
import { requestCommand } from './write-kind.js';

/** A kill command: its name (for logs), its arguments and its RESP bytes. */
export interface KillCommand {
  readonly name: 'SCRIPT KILL' | 'FUNCTION KILL';
  readonly args: readonly [container: 'SCRIPT' | 'FUNCTION', 'KILL'];
  readonly raw: Buffer;
}

export const SCRIPT_KILL: KillCommand = { name: 'SCRIPT KILL', args: ['SCRIPT', 'KILL'], raw: encodeCommand(['SCRIPT', 'KILL']) };
export const FUNCTION_KILL: KillCommand = { name: 'FUNCTION KILL', args: ['FUNCTION', 'KILL'], raw: encodeCommand(['FUNCTION', 'KILL']) };

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

/**
 * Sends the kill on the caller's connection; resolves to the reply as text: 'OK', or the
 * error's message (the node's, e.g. "NOTBUSY …", or the connection's). Never rejects.
 */
export type KillSender = (kill: KillCommand) => Promise<string>;

/**
 * How a node answered a kill:
 *   killed      the script or function is stopped
 *   not-busy    nothing ran (it ended meanwhile)
 *   unkillable  it wrote: only the end of the process stops it
 *   other-kind  BUSY naming the other kill (a function runs, not a script, or the reverse)
 *   failed      anything else (no answer, a refused connection, another error)
 */
export interface KillAnswer {
  outcome: 'killed' | 'not-busy' | 'unkillable' | 'other-kind' | 'failed';
  /** The reply as text. */
  said: string;
  /** For other-kind: the kill the node named. */
  named?: KillCommand;
}

/** Send one kill and read its answer. */
export async function sendKill(send: KillSender, kill: KillCommand): Promise<KillAnswer> {
  const said = await send(kill);
  if (said === 'OK') return { outcome: 'killed', said };
  if (said.startsWith('NOTBUSY')) return { outcome: 'not-busy', said };
  if (said.startsWith('UNKILLABLE')) return { outcome: 'unkillable', said };
  // "BUSY ... You can only call FUNCTION KILL ...": the other kind runs.
  const named = /\bFUNCTION KILL\b/.test(said) ? FUNCTION_KILL : /\bSCRIPT KILL\b/.test(said) ? SCRIPT_KILL : undefined;
  if (said.startsWith('BUSY') && named !== undefined && named !== kill) return { outcome: 'other-kind', said, named };
  return { outcome: 'failed', said };
}

