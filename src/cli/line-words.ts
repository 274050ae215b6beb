/**
 * A line typed at the prompt split into words the way redis-cli splits them (its
 * sdssplitargs): spaces separate, "double quotes" take \n \r \t \b \a \\ \" and \xHH
 * escapes, 'single quotes' only \'; a closing quote must end the word.
 */
import { CliError, USAGE_EXIT } from './cli-error.js';

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' };

export function splitWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  for (;;) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) return words;
    let word = '';
    let quote: '"' | "'" | undefined;
    for (;;) {
      const c = line[i];
      if (quote === undefined) {
        if (c === undefined || /\s/.test(c)) break;
        if (c === '"' || c === "'") quote = c;
        else word += c;
        i++;
        continue;
      }
      if (c === undefined) throw invalid('unbalanced quotes');
      if (quote === '"' && c === '\\' && line[i + 1] === 'x' && /^[0-9a-f]{2}$/i.test(line.slice(i + 2, i + 4))) {
        word += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
        i += 4;
      } else if (c === '\\' && i + 1 < line.length && (quote === '"' || line[i + 1] === "'")) {
        const next = line[i + 1];
        word += quote === '"' ? (ESCAPES[next] ?? next) : next;
        i += 2;
      } else if (c === quote) {
        // Redis: the closing quote must be followed by a space or the end of the line.
        if (i + 1 < line.length && !/\s/.test(line[i + 1])) throw invalid('closing quote must be followed by a space');
        i++;
        quote = undefined;
        break;
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
}

function invalid(why: string): CliError {
  return new CliError(`Invalid argument(s): ${why}`, USAGE_EXIT);
}
