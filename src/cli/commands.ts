/**
 * Each CLI command as the RESP the proxy understands (the verbs redis-cli can send too:
 * GET, SET, ADD MASTER, ADD SLAVE, LIST, REMOVE, FAILOVER, REBALANCE [LOAD [DRYRUN]], HOTKEYS, BIGKEYS), and its reply as text.
 */
import type { CliCommand } from './cli-forms.js';
import { CliError } from './cli-error.js';
import { HELP } from './cli-help.js';
import type { ProxyConnection } from './proxy-connection.js';

/** What to print for `command` (without a trailing newline; '' is an empty value, undefined nothing); rejects with a CliError. */
export async function runCommand(conn: ProxyConnection, command: CliCommand): Promise<string | undefined> {
  switch (command.kind) {
    case 'get': {
      const value = await conn.call('GET', command.key);
      return value === null ? '(nil)' : text(value, 'GET');
    }
    case 'set':
      return text(await conn.call('SET', command.key, command.value), 'SET');
    case 'add-master':
      return text(await conn.call('ADD', 'MASTER', ...optional(command.address)), 'ADD MASTER');
    case 'add-replica':
      return text(await conn.call('ADD', 'SLAVE', command.master, ...optional(command.address)), 'ADD SLAVE');
    case 'list': {
      const reply = await conn.call('LIST');
      if (!Array.isArray(reply) || !reply.every((l): l is string => typeof l === 'string')) throw unexpected('LIST', reply);
      // Imported by the one command that needs them: a one-shot's start-up is most of its run.
      const [{ parseListing }, { listingJson }, { formatListing }] = await Promise.all([
        import('../status/list-format.js'),
        import('./listing.js'),
        import('./list-table.js'),
      ]);
      const listing = parseListing(reply);
      return command.json ? listingJson(listing) : formatListing(listing);
    }
    case 'remove':
      return text(await conn.call('REMOVE', command.node), 'REMOVE');
    case 'failover':
      return text(await conn.call('FAILOVER', command.master, ...(command.force ? ['FORCE'] : [])), 'FAILOVER');
    case 'rebalance':
      return text(await conn.call('REBALANCE'), 'REBALANCE');
    case 'rebalance-load': {
      const reply = await conn.call('REBALANCE', 'LOAD', ...(command.dryRun ? ['DRYRUN'] : []));
      if (!Array.isArray(reply) || !reply.every((l): l is string => typeof l === 'string')) throw unexpected('REBALANCE LOAD', reply);
      return reply.join('\n');
    }
    case 'hotkeys':
    case 'bigkeys': {
      const verb = command.kind.toUpperCase();
      const reply = await conn.call(verb, ...(command.count === undefined ? [] : ['COUNT', command.count]));
      if (!Array.isArray(reply) || !reply.every((l): l is string => typeof l === 'string')) throw unexpected(verb, reply);
      return reply.length === 0 ? '(none: no keyed request sampled lately)' : reply.join('\n');
    }
    case 'help':
      return HELP;
    case 'exit':
      return undefined;
  }
}

function optional(address: string | undefined): string[] {
  return address === undefined ? [] : [address];
}

function text(reply: unknown, verb: string): string {
  if (typeof reply === 'string') return reply;
  throw unexpected(verb, reply);
}

function unexpected(verb: string, reply: unknown): CliError {
  return new CliError(`unexpected reply to ${verb}: ${JSON.stringify(reply)}`);
}
