/**
 * Input that is not a terminal (`echo 'get foo' | ihs-cli`, `ihs-cli < commands.txt`): the
 * lines run one after another as at the prompt, but quietly, as redis-cli runs piped input:
 * no prompt, each reply on stdout. An error is one line on stderr, as a one-shot's, and the
 * next line still runs; quit (or exit) ends early. The exit code is 0, or the first failed
 * line's (1: refused or unreachable, 2: a bad line). redis-cli exits 0 after failed piped
 * lines; this CLI's one-shots exit 1 on a refusal (as redis-cli -e does), and a file of
 * commands is a script whose caller should learn that a line failed.
 */
import readline from 'node:readline';
import { runLine } from './input-line.js';
import type { ProxyConnection } from './proxy-connection.js';

export interface PipedStreams {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
}

/** Run every line of `s.input`; resolves with the exit code. */
export async function runPipedLines(conn: ProxyConnection, s: PipedStreams): Promise<number> {
  const rl = readline.createInterface({ input: s.input, terminal: false, crlfDelay: Infinity });
  let exitCode = 0;
  try {
    for await (const line of rl) {
      const outcome = await runLine(conn, line);
      if (outcome.kind === 'exit') break;
      if (outcome.kind === 'failed') {
        s.errors.write(`${outcome.error.message}\n`);
        if (exitCode === 0) exitCode = outcome.error.exitCode;
      } else if (outcome.text !== undefined) {
        s.output.write(`${outcome.text}\n`);
      }
    }
  } finally {
    rl.close();
  }
  return exitCode;
}
