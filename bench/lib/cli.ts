/**
 * The command line of a bench script: options parsed, or the exit code when there is
 * nothing to run (--help printed: 0; a bad option printed with the help: 2).
 */
export function optionsOrExitCode<T>(parse: (argv: string[]) => T | 'help', help: string, argv = process.argv.slice(2)): T | number {
  let opts: T | 'help';
  try {
    opts = parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${help}\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  return opts;
}
