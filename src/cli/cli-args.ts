/**
 * The CLI's command line: a one-shot (`ihs-cli [options] get -k foo`) or a line typed at the
 * prompt (`get -k foo`), read against the forms of cli-forms.ts into a CliCommand value;
 * running it is commands.ts's job. Flags: `-k KEY`, `--key KEY`, `--key=KEY` (a value that
 * starts with `-` needs the `=`); `--` ends them. Written here rather than with yargs: the
 * forms table is the whole grammar, and a one-shot does not load yargs's 45 modules (the
 * largest part of its start-up, bench/results/cli-startup.md).
 */
import { CACERT, CERT, COMMANDS, GLOBAL_OPTIONS, HELP_FLAG, PASSWORD, SERVER, TLS_FLAG, TLS_KEY, USER, tokenText, usage, type CliCommand, type CommandSpec, type Flag, type Form, type Token } from './cli-forms.js';
import type { TargetOptions } from './server-target.js';

export type { CliCommand };

export interface CommandLine {
  target: TargetOptions;
  /** Undefined: no command given, run the prompt (or the piped lines). */
  command: CliCommand | undefined;
}

/** The flags given: undefined for one given without a value (`get -k`); a switch's is 'true'. */
type GivenFlags = Map<Flag, string | undefined>;

/** One-shot command line (process.argv without node and the script): connection options, before or after the command, and the command if any. */
export function parseCommandLine(argv: string[]): CommandLine {
  const globals = GLOBAL_OPTIONS.map((o) => o.flag);
  const afterCommand = GLOBAL_OPTIONS.filter((o) => o.beforeCommand !== true).map((o) => o.flag);
  const given: GivenFlags = new Map();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    // After `--` every word is the command's (a key named --help); a `--` before the command only ends the options.
    if (argv[i] === '--') {
      rest.push(...argv.slice(rest.length === 0 ? i + 1 : i));
      break;
    }
    const match = matchFlag(argv[i], rest.length === 0 ? globals : afterCommand);
    if (match === undefined || match === 'unknown') rest.push(argv[i]);
    else i = take(match, argv, i, given, undefined);
  }
  const text = (flag: Flag) => {
    const v = given.get(flag);
    return given.has(flag) ? (v ?? '') : undefined;
  };
  const target: TargetOptions = {
    server: text(SERVER),
    password: text(PASSWORD),
    user: text(USER),
    tls: given.has(TLS_FLAG),
    cacert: text(CACERT),
    cert: text(CERT),
    key: text(TLS_KEY),
  };
  if (given.has(HELP_FLAG)) return { target, command: { kind: 'help' } };
  return { target, command: rest.length === 0 ? undefined : parsePromptWords(rest) };
}

/** One line typed at the prompt (or piped), split into words; a one-shot's words after its options. */
export function parsePromptWords(words: string[]): CliCommand {
  const [name, ...args] = words;
  if (matchFlag(name, []) !== undefined) return usage(`unknown option '${name}'`);
  const spec = COMMANDS.find((c) => c.names.includes(name));
  if (spec === undefined) return usage(`unknown command '${name}' (try help)`);
  const flags = [...new Set(spec.forms.flatMap(formFlags))];
  const given: GivenFlags = new Map();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    const match = matchFlag(args[i], flags);
    if (match === 'unknown') usage(`${name}: unknown option '${args[i]}'`);
    if (match === undefined) positional.push(args[i]);
    else i = take(match, args, i, given, name);
  }
  return fitForm(spec, name, given, positional);
}

interface FlagMatch {
  flag: Flag;
  /** The value after `=` in `--key=foo`. */
  inline: string | undefined;
}

/** `--key`, `--key=v`, `-k`, `-k=v` among `flags`; 'unknown' for another flag-like word; undefined for a plain word (`-` alone is one). */
function matchFlag(word: string, flags: readonly Flag[]): FlagMatch | 'unknown' | undefined {
  if (!word.startsWith('-') || word.length < 2) return undefined;
  const long = word.startsWith('--');
  const body = word.slice(long ? 2 : 1);
  const eq = body.indexOf('=');
  const name = eq < 0 ? body : body.slice(0, eq);
  const flag = flags.find((f) => (long ? f.long : f.short) === name);
  return flag === undefined ? 'unknown' : { flag, inline: eq < 0 ? undefined : body.slice(eq + 1) };
}

/** Record a flag found at `args[i]` (and its value, the next word unless that is flag-like); returns the index of the last word used. */
function take(m: FlagMatch, args: string[], i: number, given: GivenFlags, command: string | undefined): number {
  const where = command === undefined ? '' : `${command}: `;
  const name = m.flag.short !== undefined ? `-${m.flag.short}` : `--${m.flag.long}`;
  if (given.has(m.flag)) usage(`${where}${name} given more than once`);
  if (m.flag.value === undefined) {
    if (m.inline !== undefined) usage(`${where}${name} takes no value`);
    given.set(m.flag, 'true');
    return i;
  }
  if (m.inline !== undefined) {
    given.set(m.flag, m.inline);
    return i;
  }
  const next = args[i + 1];
  if (next === undefined || matchFlag(next, []) !== undefined) {
    given.set(m.flag, undefined);
    return i;
  }
  given.set(m.flag, next);
  return i + 1;
}

/** The first form the words fit; else an error naming what is missing or too much. */
function fitForm(spec: CommandSpec, name: string, given: GivenFlags, positional: string[]): CliCommand {
  const candidates = spec.forms.filter((f) => [...given.keys()].every((flag) => formFlags(f).includes(flag)));
  const admitting = candidates.filter((f) => positional.length <= formWords(f).length);
  for (const form of admitting) {
    if (firstMissing(form, given, positional) === undefined) return form.build(formValues(form, given, positional));
  }
  if (admitting.length > 0) {
    const missing = firstMissing(admitting[0], given, positional)!;
    const what = 'flag' in missing ? `${tokenText({ ...missing, optional: false })}${missing.hint === undefined ? '' : ` (${missing.hint})`}` : missing.word;
    return usage(`${name}: missing ${what}`);
  }
  if (candidates.length > 0) {
    const most = Math.max(...candidates.map((f) => formWords(f).length));
    return usage(`${name}: unexpected argument '${positional[most]}'`);
  }
  return usage(`${name}: ${[...given.keys()].map((f) => `--${f.long}`).join(' with ')} is not a form of ${name} (try help)`);
}

/** The token of `form` the words leave out, if any. */
function firstMissing(form: Form, given: GivenFlags, positional: string[]): Token | undefined {
  let words = 0;
  for (const t of form.tokens) {
    if ('word' in t) {
      if (words++ >= positional.length) return t;
    } else if (!given.has(t.flag)) {
      if (t.optional !== true) return t;
    } else if (given.get(t.flag) === undefined && t.valueOptional !== true) {
      return t;
    }
  }
  return undefined;
}

function formValues(form: Form, given: GivenFlags, positional: string[]): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {};
  let words = 0;
  for (const t of form.tokens) {
    if ('word' in t) values[t.name] = positional[words++];
    else if (given.has(t.flag)) values[t.flag.long] = given.get(t.flag) ?? '';
  }
  return values;
}

function formFlags(form: Form): Flag[] {
  return form.tokens.flatMap((t) => ('flag' in t ? [t.flag] : []));
}

function formWords(form: Form): Token[] {
  return form.tokens.filter((t) => 'word' in t);
}
