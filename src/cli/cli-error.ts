/** A failure the CLI reports as one line: its message, and the exit code of a one-shot run. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = FAILURE_EXIT,
  ) {
    super(message);
  }
}

/** The server refused the command, or could not be reached. */
export const FAILURE_EXIT = 1;
/** The command line itself is wrong (as most Unix tools do). */
export const USAGE_EXIT = 2;
