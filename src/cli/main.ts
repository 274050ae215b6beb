/**
 * ihs-cli: one-shot (`ihs-cli set -k foo -v bar`) or, with no command, the interactive
 * prompt on a terminal and the lines of any other input run quietly. One-shot output goes to
 * stdout; an error is one line on stderr and a non-zero exit code (1: refused or
 * unreachable, 2: a bad command line). The prompt and piped input are imported only when
 * used: a one-shot's start-up is most of its time (bench/results/cli-startup.md).
 */
import os from 'node:os';
import path from 'node:path';
import { parseCommandLine } from './cli-args.js';
import { CliError } from './cli-error.js';
import { runCommand } from './commands.js';
import { ProxyConnection } from './proxy-connection.js';
import { resolveTarget } from './server-target.js';

/** Run the CLI on `argv` (without node and the script); resolves with the exit code. */
export async function cliMain(argv: string[]): Promise<number> {
  let conn: ProxyConnection | undefined;
  try {
    const { target, command } = parseCommandLine(argv);
    conn = new ProxyConnection(resolveTarget(target));
    if (command !== undefined) {
      const out = await runCommand(conn, command);
      if (out !== undefined) process.stdout.write(`${out}\n`);
      return 0;
    }
    if (process.stdin.isTTY !== true) {
      const { runPipedLines } = await import('./piped-input.js');
      return await runPipedLines(conn, { input: process.stdin, output: process.stdout, errors: process.stderr });
    }
    const { runRepl } = await import('./repl.js');
    // Line editing needs the terminal on both sides; `ihs-cli | tee log` still gets the prompt.
    const terminal = process.stdout.isTTY === true;
    await runRepl(conn, {
      input: process.stdin,
      output: process.stdout,
      terminal,
      historyFile: terminal ? path.join(os.homedir(), '.ihs_cli_history') : undefined,
    });
    return 0;
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return err.exitCode;
  } finally {
    conn?.close();
  }
}
