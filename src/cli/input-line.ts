/**
 * One line of input run — typed at the prompt or piped: split into words as redis-cli splits
 * them, parsed, sent. The prompt and piped input differ only in what they print of it.
 */
import { parsePromptWords } from './cli-args.js';
import { CliError } from './cli-error.js';
import { runCommand } from './commands.js';
import { splitWords } from './line-words.js';
import type { ProxyConnection } from './proxy-connection.js';

export type LineOutcome =
  /** What to print: '' an empty value, undefined nothing (an empty line). */
  | { kind: 'reply'; text: string | undefined }
  | { kind: 'failed'; error: CliError }
  /** exit or quit: no more lines. */
  | { kind: 'exit' };

export async function runLine(conn: ProxyConnection, line: string): Promise<LineOutcome> {
  try {
    const words = splitWords(line);
    if (words.length === 0) return { kind: 'reply', text: undefined };
    const command = parsePromptWords(words);
    if (command.kind === 'exit') return { kind: 'exit' };
    return { kind: 'reply', text: await runCommand(conn, command) };
  } catch (err) {
    if (err instanceof CliError) return { kind: 'failed', error: err };
    throw err;
  }
}
