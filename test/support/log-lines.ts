/**
 * The proxy's JSON log lines as written. JSON.parse keeps the last of two equal keys
 * silently (a node's `pid` would hide pino's own, the proxy's), so each line's top-level
 * keys are read from its raw text, duplicates kept.
 */
import { readFileSync } from 'node:fs';

export interface LogLine {
  /** The line's top-level keys in the order written, a repeated one as often as it occurs. */
  keys: string[];
  /** The line parsed (with a repeated key, its last value). */
  record: Record<string, unknown>;
  text: string;
}

/** Every JSON line of a log file (lines that are not a JSON object are left out). */
export function readLogLines(file: string): LogLine[] {
  return parseLogLines(readFileSync(file, 'utf8'));
}

export function parseLogLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    lines.push({ keys: topLevelKeys(line), record: JSON.parse(line) as Record<string, unknown>, text: line });
  }
  return lines;
}

/** The keys that occur more than once in `keys`. */
export function repeatedKeys(keys: readonly string[]): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const k of keys) (seen.has(k) ? repeated : seen).add(k);
  return [...repeated];
}

/** The keys of a JSON object's outermost level, read from its text (nested objects' keys are not its own). */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let keyNext = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      if (depth === 1 && keyNext) keys.push(JSON.parse(json.slice(i, end + 1)) as string);
      keyNext = false;
      i = end;
    } else if (c === '{' || c === '[') {
      depth++;
      keyNext = depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      keyNext = true;
    }
  }
  return keys;
}
