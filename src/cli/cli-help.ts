/**
 * The `help` text, written from the forms table (cli-forms.ts) the parser reads: every form
 * the CLI accepts is a line here, and nothing else is.
 */
import { COMMANDS, GLOBAL_OPTIONS, formText, type Flag } from './cli-forms.js';

const WIDTH = 96;
/** Where descriptions start; a longer form puts its description on the next line. */
const COLUMN = 30;

export const HELP = [
  'Commands (one-shot: ihs-cli [options] <command>; or at the ihs prompt):',
  ...COMMANDS.flatMap((spec) => spec.forms.map((form) => row(formText(spec, form), form.says ?? ''))),
  `Flags: ${flagPairs()}; a value starting with - as --key=-x.`,
  'Options (one-shot, before or after the command):',
  ...GLOBAL_OPTIONS.map((o) => row(`${flagNames(o.flag)}${o.flag.value === undefined ? '' : ` ${o.flag.value}`}`, o.says)),
  ...wrap('Without a command: the ihs prompt on a terminal; input that is not a terminal (a pipe, a file) runs one command a line, replies on stdout, errors on stderr, no prompt; exit code 0, or the first failed line\'s.', WIDTH, ''),
].join('\n');

/** `  form   description`, the description wrapped under its column. */
function row(form: string, says: string): string {
  const indent = ' '.repeat(COLUMN);
  const head = `  ${form}`;
  if (says === '') return head;
  const lines = wrap(says, WIDTH - COLUMN, indent);
  if (head.length + 2 > COLUMN) return [head, ...lines].join('\n');
  return [head.padEnd(COLUMN) + lines[0].slice(COLUMN), ...lines.slice(1)].join('\n');
}

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(indent + line);
  return lines;
}

function flagNames(f: Flag): string {
  return f.short === undefined ? `--${f.long}` : `-${f.short}, --${f.long}`;
}

/** `-k --key, -v --value, ...`: each command flag that has a short name, once. */
function flagPairs(): string {
  const flags = new Set(COMMANDS.flatMap((c) => c.forms.flatMap((f) => f.tokens.flatMap((t) => ('flag' in t && t.flag.short !== undefined ? [t.flag] : [])))));
  return [...flags].map((f) => `-${f.short} --${f.long}`).join(', ');
}
