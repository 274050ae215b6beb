/**
 * Every form the CLI accepts, in one table: the parser (cli-args.ts) accepts exactly these
 * forms and the help (cli-help.ts) prints exactly these, so the two cannot drift. The study
 * project's forms (`get -k KEY`, `set -k KEY -v VALUE`, `add -m MASTER [-s SLAVE]`,
 * `list`/`ls`) plus positional shorthands (`get foo`, `set foo bar`) and `add` alone.
 */
import { CliError, USAGE_EXIT } from './cli-error.js';

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
  /** REBALANCE LOAD [DRYRUN]. */
  | { kind: 'rebalance-load'; dryRun: boolean }
  /** HOTKEYS / BIGKEYS [COUNT n]: `count` as given (the proxy checks it). */
  | { kind: 'hotkeys' | 'bigkeys'; count: string | undefined }
  | { kind: 'help' }
  | { kind: 'exit' };

/** A flag: `-k KEY`, `--key KEY`, `--key=KEY`; without `value` a switch (`--json`). */
export interface Flag {
  long: string;
  short?: string;
  /** What its value is called in the help (`KEY`); undefined: it takes none. */
  value?: string;
}

export type Token =
  /** A word in its place (`get KEY`), filling the value called `name`. */
  | { word: string; name: string }
  /**
   * A flag. `optional`: it may be left out (`[--json]`); `valueOptional`: given, it may come
   * without its value (`-m [MASTER]`, read as ''); `hint`: what the value is, for the error
   * that says it is missing.
   */
  | { flag: Flag; optional?: boolean; valueOptional?: boolean; hint?: string };

/**
 * What the words of a form gave, by flag long name or word name; a switch given is 'true'.
 * Every value a form's tokens require is there when its build runs (hence its `!`s).
 */
export type FormValues = Readonly<Record<string, string | undefined>>;

export interface Form {
  tokens: readonly Token[];
  /** What the form does, for the help; undefined: the same as the form above it. */
  says?: string;
  build(v: FormValues): CliCommand;
}

export interface CommandSpec {
  /** The name, then its aliases. */
  names: readonly string[];
  /** Tried in order: the first whose tokens the words fit is the command. */
  forms: readonly Form[];
}

export const KEY: Flag = { long: 'key', short: 'k', value: 'KEY' };
export const VALUE: Flag = { long: 'value', short: 'v', value: 'VALUE' };
export const MASTER: Flag = { long: 'master', short: 'm', value: 'MASTER' };
export const SLAVE: Flag = { long: 'slave', short: 's', value: 'SLAVE' };
export const JSON_FLAG: Flag = { long: 'json' };
export const FORCE: Flag = { long: 'force' };
export const LOAD: Flag = { long: 'load' };
export const DRY_RUN: Flag = { long: 'dry-run' };
export const COUNT: Flag = { long: 'count', short: 'n', value: 'N' };

/** The words that name a node the proxy should start instead of one at an address. */
const NEW_NODE = new Set(['', 'new']);

export const COMMANDS: readonly CommandSpec[] = [
  {
    names: ['get'],
    forms: [
      { tokens: [{ flag: KEY }], says: 'the value of KEY ((nil) when absent)', build: (v) => ({ kind: 'get', key: v.key! }) },
      { tokens: [{ word: 'KEY', name: 'key' }], build: (v) => ({ kind: 'get', key: v.key! }) },
    ],
  },
  {
    names: ['set'],
    forms: [
      { tokens: [{ flag: KEY }, { flag: VALUE }], says: 'set KEY to VALUE', build: (v) => ({ kind: 'set', key: v.key!, value: v.value! }) },
      { tokens: [{ word: 'KEY', name: 'key' }, { word: 'VALUE', name: 'value' }], build: (v) => ({ kind: 'set', key: v.key!, value: v.value! }) },
    ],
  },
  {
    names: ['add'],
    forms: [
      { tokens: [], says: 'add a master the proxy starts (ADD MASTER)', build: () => ({ kind: 'add-master', address: undefined }) },
      {
        tokens: [{ flag: MASTER, valueOptional: true }],
        says: 'add a master: MASTER = host:port of a redis-server you run, or omitted / "new" for one the proxy starts (ADD MASTER)',
        build: (v) => ({ kind: 'add-master', address: newOrAddress(v.master) }),
      },
      {
        tokens: [{ flag: MASTER, hint: 'an id like m0, or host:port' }, { flag: SLAVE, valueOptional: true }],
        says: 'add a replica of MASTER (an id like m0, or host:port): SLAVE = host:port of a redis-server you run, or omitted / "new" for one the proxy starts (ADD SLAVE)',
        build: (v) => {
          if (NEW_NODE.has(v.master!)) usage(`add: -m MASTER names the master of the replica (an id like m0, or host:port), not '${v.master}'`);
          return { kind: 'add-replica', master: v.master!, address: newOrAddress(v.slave) };
        },
      },
    ],
  },
  {
    names: ['list', 'ls'],
    forms: [
      {
        tokens: [{ flag: JSON_FLAG, optional: true }],
        says: 'the nodes: masters with their replicas, state, slots, keys, lag; --json: as data',
        build: (v) => ({ kind: 'list', json: v.json === 'true' }),
      },
    ],
  },
  {
    names: ['remove'],
    forms: [
      { tokens: [{ word: 'NODE', name: 'node' }], says: 'remove a replica, or a master after moving its slots away', build: (v) => ({ kind: 'remove', node: v.node! }) },
    ],
  },
  {
    names: ['failover'],
    forms: [
      {
        tokens: [{ word: 'MASTER', name: 'master' }, { flag: FORCE, optional: true }],
        says: "switch MASTER's slots to its most up-to-date replica; --force for a MASTER that is down (FAILOVER FORCE: what it had not replicated is lost)",
        build: (v) => ({ kind: 'failover', master: v.master!, force: v.force === 'true' }),
      },
    ],
  },
  {
    names: ['rebalance'],
    forms: [
      {
        tokens: [{ flag: LOAD }, { flag: DRY_RUN, optional: true }],
        says: "move slots so the masters' ops/s even out (REBALANCE LOAD); --dry-run: only show the plan",
        build: (v) => ({ kind: 'rebalance-load', dryRun: v['dry-run'] === 'true' }),
      },
      { tokens: [], says: 'even the slots out over the masters, keys included', build: () => ({ kind: 'rebalance' }) },
    ],
  },
  {
    names: ['hotkeys'],
    forms: [
      {
        tokens: [{ flag: COUNT, optional: true }],
        says: "each shard's N (default 10) keys with the most requests per second, from the proxy's sample (HOTKEYS)",
        build: (v) => ({ kind: 'hotkeys', count: v.count }),
      },
    ],
  },
  {
    names: ['bigkeys'],
    forms: [
      {
        tokens: [{ flag: COUNT, optional: true }],
        says: "each shard's N (default 10) keys with the most bytes per second read and written, and their largest reply and request (BIGKEYS)",
        build: (v) => ({ kind: 'bigkeys', count: v.count }),
      },
    ],
  },
  { names: ['help'], forms: [{ tokens: [], says: 'this text', build: () => ({ kind: 'help' }) }] },
  { names: ['exit', 'quit'], forms: [{ tokens: [], says: 'leave the prompt (also Ctrl-D)', build: () => ({ kind: 'exit' }) }] },
];

/** An option of a one-shot command line, before or after the command. */
export interface GlobalOption {
  flag: Flag;
  says: string;
  /** Read only before the command word (as redis-cli's options): after it, `--key` is get/set's KEY. */
  beforeCommand?: boolean;
}

export const SERVER: Flag = { long: 'server', value: 'host:port|redis[s]://[user:password@]host:port' };
export const PASSWORD: Flag = { long: 'password', value: 'PW' };
export const USER: Flag = { long: 'user', value: 'NAME' };
export const HELP_FLAG: Flag = { long: 'help', short: 'h' };
export const TLS_FLAG: Flag = { long: 'tls' };
export const CACERT: Flag = { long: 'cacert', value: 'FILE' };
export const CERT: Flag = { long: 'cert', value: 'FILE' };
export const TLS_KEY: Flag = { long: 'key', value: 'FILE' };

export const GLOBAL_OPTIONS: readonly GlobalOption[] = [
  { flag: SERVER, says: 'the proxy (env CLUSTER_SERVER_URL, or CLUSTER_SEVER_URL; default localhost:6380)' },
  { flag: PASSWORD, says: 'AUTH password (env CLUSTER_SERVER_PASSWORD)' },
  { flag: USER, says: 'AUTH user: admin, for a proxy with --admin-password' },
  { flag: TLS_FLAG, says: "connect over TLS (the proxy's --tls-port), as redis-cli --tls; a rediss:// --server does too" },
  { flag: CACERT, says: "with --tls: the CA (PEM) the proxy's certificate must chain to (default: the system's CAs)" },
  { flag: CERT, says: 'with --tls: a client certificate (PEM), for --tls-auth-clients yes' },
  { flag: TLS_KEY, says: "with --tls: the client certificate's private key (PEM); before the command (after it --key is get/set's KEY)", beforeCommand: true },
  { flag: HELP_FLAG, says: 'this text' },
];

/** `-k KEY` as the help and the errors write a token. */
export function tokenText(t: Token): string {
  if ('word' in t) return t.word;
  const name = t.flag.short !== undefined ? `-${t.flag.short}` : `--${t.flag.long}`;
  const text = t.flag.value === undefined ? name : t.valueOptional === true ? `${name} [${t.flag.value}]` : `${name} ${t.flag.value}`;
  return t.optional === true ? `[${text}]` : text;
}

/** A form as the help writes it: `add -m MASTER -s [SLAVE]`, `list, ls [--json]`. */
export function formText(spec: CommandSpec, form: Form): string {
  return [spec.names.join(', '), ...form.tokens.map(tokenText)].join(' ');
}

function newOrAddress(text: string | undefined): string | undefined {
  return text === undefined || NEW_NODE.has(text) ? undefined : text;
}

export function usage(message: string): never {
  throw new CliError(message, USAGE_EXIT);
}
