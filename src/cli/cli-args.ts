/**
 * The CLI's command line, with yargs: the same commands in one-shot mode (`ihs-cli get -k foo`)
 * and at the prompt (`get -k foo`), each parsed into a CliCommand value; running them is
 * commands.ts's job. The study project's forms (`get -k KEY`, `set -k KEY -v VALUE`,
 * `add -m MASTER [-s SLAVE]`, `list`/`ls`) plus positional shorthands (`get foo`, `set foo bar`).
 */
import yargs, { type Argv } from 'yargs';
import { CliError, USAGE_EXIT } from './cli-error.js';
import { DEFAULT_SERVER, type TargetOptions } from './server-target.js';

export type CliCommand =
  | { kind: 'get'; key: string }
  | { kind: 'set'; key: string; value: string }
  /** ADD MASTER [host:port]: `address` undefined for a master the proxy starts. */
  | { kind: 'add-master'; address: string | undefined }
  /** ADD SLAVE <master> [host:port]. */
  | { kind: 'add-replica'; master: string; address: string | undefined }
  | { kind: 'list'; json: boolean }
  | { kind: 'remove'; node: string }
  /** FAILOVER <master> [FORCE]: force for a master that is down. */
  | { kind: 'failover'; master: string; force: boolean }
  | { kind: 'rebalance' }
  | { kind: 'help' }
  | { kind: 'exit' };

export interface CommandLine {
  target: TargetOptions;
  /** Undefined: no command given, run the prompt. */
  command: CliCommand | undefined;
}

/** The words that name a node the proxy should start instead of one at an address. */
const NEW_NODE = new Set(['', 'new']);

export const HELP = `Commands (one-shot: ihs-cli [options] <command>; or at the ihs prompt):
  get -k KEY                  the value of KEY ((nil) when absent); also: get KEY
  set -k KEY -v VALUE         set KEY to VALUE; also: set KEY VALUE
  add -m [MASTER]             add a master: MASTER = host:port of a redis-server you run,
                              or omitted / "new" for one the proxy starts (ADD MASTER)
  add -m MASTER -s [SLAVE]    add a replica of MASTER (an id like m0, or host:port): SLAVE =
                              host:port of a redis-server you run, or omitted / "new" (ADD SLAVE)
  list, ls [--json]           the nodes: masters with their replicas, state, slots, keys, lag
  remove NODE                 remove a replica, or a master after moving its slots away
  failover MASTER [--force]   switch MASTER's slots to its most up-to-date replica; --force
                              for a MASTER that is down (FAILOVER FORCE: what it had not
                              replicated is lost)
  rebalance                   even the slots out over the masters, keys included
  help                        this text
  exit, quit                  leave the prompt (also Ctrl-D)
Long forms: --key, --value, --master, --slave.
Options: --server host:port | redis://[user:password@]host:port (env CLUSTER_SERVER_URL;
  default ${DEFAULT_SERVER}), --password PW (env CLUSTER_SERVER_PASSWORD), --user NAME
  (admin, for a proxy with --admin-password).`;

/** One-shot command line (process.argv without node and the script): connection options and the command, if any. */
export function parseCommandLine(argv: string[]): CommandLine {
  // --help after commands(): its .help(false) turns yargs's own help option off.
  const a = commands(yargs(argv))
    .option('server', { type: 'string', describe: 'host:port or redis://[user:password@]host:port' })
    .option('password', { type: 'string', describe: 'AUTH password' })
    .option('user', { type: 'string', describe: 'AUTH user (admin with --admin-password)' })
    .option('help', { alias: 'h', type: 'boolean' })
    .parseSync();
  const target: TargetOptions = { server: single(a.server, '--server'), password: single(a.password, '--password'), user: single(a.user, '--user') };
  if (a.help === true) return { target, command: { kind: 'help' } };
  return { target, command: a._.length === 0 ? undefined : toCommand(a) };
}

/** One line typed at the prompt, split into words. */
export function parsePromptWords(words: string[]): CliCommand {
  return toCommand(commands(yargs(words)).parseSync());
}

type Parsed = { _: (string | number)[] } & Record<string, unknown>;

/** The commands and their options; yargs parses only: errors become a CliError, nothing exits or prints. */
function commands<T>(y: Argv<T>): Argv<T> {
  return y
    .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false })
    .command('get [keyArg]', 'get a key', (c) => c.positional('keyArg', { type: 'string' }).option('key', { alias: 'k', type: 'string' }))
    .command('set [keyArg] [valueArg]', 'set a key', (c) =>
      c
        .positional('keyArg', { type: 'string' })
        .positional('valueArg', { type: 'string' })
        .option('key', { alias: 'k', type: 'string' })
        .option('value', { alias: 'v', type: 'string' }),
    )
    .command('add', 'add a master or a replica', (c) => c.option('master', { alias: 'm', type: 'string' }).option('slave', { alias: 's', type: 'string' }))
    .command(['list', 'ls'], 'list the nodes', (c) => c.option('json', { type: 'boolean', default: false }))
    .command('remove [node]', 'remove a node', (c) => c.positional('node', { type: 'string' }))
    .command('failover [master]', 'fail a master over', (c) => c.positional('master', { type: 'string' }).option('force', { type: 'boolean', default: false }))
    .command('rebalance', 'even the slots out')
    .command('help', 'help')
    .command(['exit', 'quit'], 'leave')
    .strictOptions()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg: string | null, err: Error | undefined) => {
      throw new CliError(msg ?? err?.message ?? 'bad arguments', USAGE_EXIT);
    });
}

function toCommand(a: Parsed): CliCommand {
  const name = String(a._[0]);
  const extra = a._.slice(1);
  if (extra.length > 0) usage(`${name}: unexpected argument '${extra[0]}'`);
  switch (name) {
    case 'get':
      return { kind: 'get', key: requiredKey(flagOrWord(a, 'key', 'get'), 'get') };
    case 'set':
      return { kind: 'set', key: requiredKey(flagOrWord(a, 'key', 'set'), 'set'), value: required(flagOrWord(a, 'value', 'set'), 'set', '-v VALUE') };
    case 'add': {
      const master = single(a.master, 'add: -m MASTER');
      const slave = single(a.slave, 'add: -s SLAVE');
      if (slave === undefined) return { kind: 'add-master', address: newOrAddress(master) };
      if (master === undefined || NEW_NODE.has(master)) usage('add -s: name the master with -m MASTER (an id like m0, or host:port)');
      return { kind: 'add-replica', master, address: newOrAddress(slave) };
    }
    case 'list':
    case 'ls':
      return { kind: 'list', json: a.json === true };
    case 'remove':
      return { kind: 'remove', node: required(a.node, 'remove', 'NODE') };
    case 'failover':
      return { kind: 'failover', master: required(a.master, 'failover', 'MASTER'), force: a.force === true };
    case 'rebalance':
      return { kind: 'rebalance' };
    case 'help':
      return { kind: 'help' };
    case 'exit':
    case 'quit':
      return { kind: 'exit' };
    default:
      return usage(`unknown command '${name}' (try help)`);
  }
}

/** `-k KEY` or the word in its place (`get foo`), not both. */
function flagOrWord(a: Parsed, name: 'key' | 'value', command: string): unknown {
  const word = a[`${name}Arg`];
  if (word === undefined) return a[name];
  if (a[name] !== undefined) usage(`${command}: unexpected argument '${String(word)}' (the ${name} is given by --${name})`);
  return word;
}

function newOrAddress(text: string | undefined): string | undefined {
  return text === undefined || NEW_NODE.has(text) ? undefined : text;
}

/** An option given once; given twice is a mistake, not a list. */
function single(v: unknown, what: string): string | undefined {
  if (Array.isArray(v)) usage(`${what} given more than once`);
  return v === undefined ? undefined : String(v);
}

/** `what` as the help names it: `-k KEY`, `NODE`. */
function required(v: unknown, command: string, what: string): string {
  const s = single(v, `${command}: ${what}`);
  if (s === undefined) usage(`${command}: missing ${what}`);
  return s;
}

/** A bare `-k` parses as an empty key: taken as a forgotten key, not as the key "". */
function requiredKey(v: unknown, command: string): string {
  const key = required(v, command, '-k KEY');
  if (key === '') usage(`${command}: missing -k KEY`);
  return key;
}

function usage(message: string): never {
  throw new CliError(message, USAGE_EXIT);
}
