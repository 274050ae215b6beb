import { parseArgs } from 'node:util';

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

/** The options of a bench that runs redis-benchmark at -P 1 and -P 16 in interleaved rounds. */
export interface RoundOptions {
  rounds: number;
  requestsP1: number;
  requestsP16: number;
  out: string;
}

/** `--rounds N --requests-p1 N --requests-p16 N --out FILE [--help]`, with this bench's defaults for the last two. */
export function parseRoundOptions(argv: string[], defaults: { requestsP16: number; out: string }): RoundOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      'requests-p1': { type: 'string', default: '50000' },
      'requests-p16': { type: 'string', default: String(defaults.requestsP16) },
      out: { type: 'string', default: defaults.out },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  return { rounds: Number(values.rounds), requestsP1: Number(values['requests-p1']), requestsP16: Number(values['requests-p16']), out: values.out };
}
