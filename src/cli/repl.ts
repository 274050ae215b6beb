/**
 * The interactive prompt (`ihs 127.0.0.1:6380> `) on a terminal: node:readline for line
 * editing and history (kept in a file between sessions when given one, as redis-cli keeps
 * ~/.rediscli_history). Commands run one at a time in the order typed; an error is printed
 * and the prompt comes back. exit, quit, Ctrl-D (end of input) and Ctrl-C leave. Input that
 * is not a terminal is piped-input.ts's.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import readline from 'node:readline';
import { runLine } from './input-line.js';
import type { ProxyConnection } from './proxy-connection.js';
import { targetName } from './server-target.js';

const HISTORY_SIZE = 1000;

export interface ReplOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Line editing and arrow keys: a terminal. */
  terminal: boolean;
  /** Where history is read from and written back to; undefined: this session only. */
  historyFile: string | undefined;
}

export async function runRepl(conn: ProxyConnection, o: ReplOptions): Promise<void> {
  const rl = readline.createInterface({
    input: o.input,
    output: o.output,
    terminal: o.terminal,
    prompt: `ihs ${targetName(conn.target)}> `,
    history: readHistory(o.historyFile),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
  });
  let left = false;
  // Ctrl-C leaves, as in redis-cli; closing the connection ends a command still waiting.
  rl.on('SIGINT', () => {
    left = true;
    o.output.write('\n');
    rl.close();
    conn.close();
  });
  const print = (text: string | undefined) => {
    if (text !== undefined) o.output.write(`${text}\n`);
  };
  // Input that ends (Ctrl-D; a stream given by a test) closes rl while lines read before its
  // end still run; each of them still gets its prompt. A closed readline's prompt() throws (Node 24): write the text.
  let closed = false;
  rl.on('close', () => {
    closed = true;
  });
  const prompt = () => (closed ? o.output.write(rl.getPrompt()) : rl.prompt());
  prompt();
  for await (const line of rl) {
    if (left) break; // Ctrl-C: lines still buffered are not run
    const outcome = await runLine(conn, line);
    if (outcome.kind === 'exit') {
      left = true;
      break;
    }
    print(outcome.kind === 'reply' ? outcome.text : outcome.error.message);
    if (!left) prompt();
  }
  // Ctrl-D (or the end of piped input) leaves the cursor after a prompt: end its line.
  if (!left) o.output.write('\n');
  rl.close();
  writeHistory(o.historyFile, rl);
}

function readHistory(file: string | undefined): string[] {
  if (file === undefined) return [];
  try {
    // The file is oldest first (as redis-cli's); readline wants the newest first.
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').reverse().slice(0, HISTORY_SIZE);
  } catch (err) {
    // None yet is the first session; anything else is said, and the session goes on without it.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') process.stderr.write(`ihs-cli: history not read from ${file}: ${(err as Error).message}\n`);
    return [];
  }
}

function writeHistory(file: string | undefined, rl: readline.Interface): void {
  if (file === undefined) return;
  // `history` is readline's public (if undeclared in @types/node) list, newest first.
  const { history } = rl as unknown as { history: string[] };
  try {
    writeFileSync(file, [...history].reverse().join('\n') + '\n', { mode: 0o600 });
  } catch (err) {
    process.stderr.write(`ihs-cli: history not saved to ${file}: ${(err as Error).message}\n`);
  }
}
