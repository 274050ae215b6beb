/**
 * pino logger: JSON lines, pretty-printed when stdout is a terminal.
 * One line per notable event (node up/down, failover, migration) — never one per command.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  level: string;
  /** Force pretty output on/off; default: pretty when stdout is a TTY. */
  pretty?: boolean;
}

export function createLogger(opts: LogOptions): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({
      level: opts.level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino({ level: opts.level });
}

/** A logger that drops everything (tests that do not care about logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
