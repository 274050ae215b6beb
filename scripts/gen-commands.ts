/**
 * Generates src/commands/redis-commands.ts from a real redis-server's COMMAND reply.
 *
 *   npx tsx scripts/gen-commands.ts [--out src/commands/redis-commands.ts]
 *
 * It starts a throwaway redis-server (no persistence) on a free port, reads `COMMAND`
 * (Redis 7: name, arity, flags, legacy key range, ACL categories, tips, key specs,
 * subcommands) and writes the table, sorted by name so regenerating gives a stable diff.
 *
 * It also exports `startRedisServer`, which the command tests reuse to run their own
 * redis-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { COMMAND_FLAG_BITS, KEY_SPEC_FLAG_BITS, type CommandFlagName, type KeySpecFlagName } from '../src/commands/command-flags.js';
import type { RawBeginSearch, RawCommand, RawFindKeys, RawKeySpec } from '../src/commands/raw-command.js';

// ---------------------------------------------------------------------------------------
// A throwaway redis-server
// ---------------------------------------------------------------------------------------

export interface RedisServerHandle {
  readonly port: number;
  /** Stops the server and removes its temporary directory. */
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago (the OS picks it; we release it for redis-server). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts `redis-server` on 127.0.0.1 and a free port, without persistence, in a temporary
 * directory (cluster mode writes nodes.conf there). Resolves once it accepts connections.
 */
export async function startRedisServer(extraArgs: readonly string[] = []): Promise<RedisServerHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'ihs-redis-'));
  // A port free a moment ago may be taken before redis-server binds it (and a cluster node
  // also binds port + 10000 for its bus): another pick is tried then.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await waitReady(child);
      return serverHandle(port, child, dir);
    } catch (err) {
      child.kill('SIGKILL');
      if (attempt < 5 && /Address already in use/.test((err as Error).message)) continue;
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }
}

function serverHandle(port: number, child: ChildProcess, dir: string): RedisServerHandle {
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((done) => child.once('exit', () => done()));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function waitReady(child: ChildProcess): Promise<void> {
  return new Promise((ready, fail) => {
    let log = '';
    const timer = setTimeout(() => fail(new Error(`redis-server did not start in 10 s:\n${log}`)), 10_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        // Stop buffering the log, but keep draining the pipe so redis-server never blocks on it.
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        ready();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`redis-server exited (${code}) before it was ready:\n${log}`));
    });
  });
}

// ---------------------------------------------------------------------------------------
// COMMAND reply → RawCommand
// ---------------------------------------------------------------------------------------

type Reply = string | number | null | Reply[];

/** RESP2 renders a map as a flat [k1, v1, k2, v2, ...] array. */
function asMap(reply: Reply, what: string): Map<string, Reply> {
  if (!Array.isArray(reply) || reply.length % 2 !== 0) throw new Error(`${what}: expected a map, got ${JSON.stringify(reply)}`);
  const m = new Map<string, Reply>();
  for (let i = 0; i < reply.length; i += 2) m.set(String(reply[i]), reply[i + 1]);
  return m;
}

function asArray(reply: Reply | undefined, what: string): Reply[] {
  if (!Array.isArray(reply)) throw new Error(`${what}: expected an array, got ${JSON.stringify(reply)}`);
  return reply;
}

function asInt(reply: Reply | undefined, what: string): number {
  if (typeof reply !== 'number' || !Number.isInteger(reply)) throw new Error(`${what}: expected an integer, got ${JSON.stringify(reply)}`);
  return reply;
}

function asString(reply: Reply | undefined, what: string): string {
  if (typeof reply !== 'string') throw new Error(`${what}: expected a string, got ${JSON.stringify(reply)}`);
  return reply;
}

function isCommandFlag(s: string): s is CommandFlagName {
  return Object.hasOwn(COMMAND_FLAG_BITS, s);
}

function isKeySpecFlag(s: string): s is KeySpecFlagName {
  return Object.hasOwn(KEY_SPEC_FLAG_BITS, s);
}

function parseBeginSearch(reply: Reply | undefined, what: string): RawBeginSearch {
  const m = asMap(reply ?? null, what);
  const type = asString(m.get('type'), `${what}.type`);
  if (type === 'unknown') return { type };
  const spec = asMap(m.get('spec') ?? null, `${what}.spec`);
  if (type === 'index') return { type, index: asInt(spec.get('index'), `${what}.index`) };
  if (type === 'keyword') {
    return { type, keyword: asString(spec.get('keyword'), `${what}.keyword`), startfrom: asInt(spec.get('startfrom'), `${what}.startfrom`) };
  }
  throw new Error(`${what}: unknown begin_search type ${type}`);
}

function parseFindKeys(reply: Reply | undefined, what: string): RawFindKeys {
  const m = asMap(reply ?? null, what);
  const type = asString(m.get('type'), `${what}.type`);
  if (type === 'unknown') return { type };
  const spec = asMap(m.get('spec') ?? null, `${what}.spec`);
  if (type === 'range') {
    return {
      type,
      lastkey: asInt(spec.get('lastkey'), `${what}.lastkey`),
      keystep: asInt(spec.get('keystep'), `${what}.keystep`),
      limit: asInt(spec.get('limit'), `${what}.limit`),
    };
  }
  if (type === 'keynum') {
    return {
      type,
      keynumidx: asInt(spec.get('keynumidx'), `${what}.keynumidx`),
      firstkey: asInt(spec.get('firstkey'), `${what}.firstkey`),
      keystep: asInt(spec.get('keystep'), `${what}.keystep`),
    };
  }
  throw new Error(`${what}: unknown find_keys type ${type}`);
}

function parseKeySpec(reply: Reply, what: string): RawKeySpec {
  const m = asMap(reply, what);
  const flags = asArray(m.get('flags'), `${what}.flags`).map((f) => {
    const s = asString(f, `${what}.flags`);
    if (!isKeySpecFlag(s)) throw new Error(`${what}: key-spec flag "${s}" is new: add it to src/commands/command-flags.ts`);
    return s;
  });
  return { flags, bs: parseBeginSearch(m.get('begin_search'), `${what}.begin_search`), fk: parseFindKeys(m.get('find_keys'), `${what}.find_keys`) };
}

function parseCommand(reply: Reply): RawCommand {
  const a = asArray(reply, 'command');
  const name = asString(a[0], 'command name').toLowerCase();
  const flags = asArray(a[2], `${name}.flags`).map((f) => {
    const s = asString(f, `${name}.flags`);
    if (!isCommandFlag(s)) throw new Error(`${name}: command flag "${s}" is new: add it to src/commands/command-flags.ts`);
    return s;
  });
  const keySpecs = asArray(a[8], `${name}.key_specs`).map((s, i) => parseKeySpec(s, `${name}.key_specs[${i}]`));
  const subReplies = a[9] === undefined ? [] : asArray(a[9], `${name}.subcommands`);
  const cmd: RawCommand = {
    name,
    arity: asInt(a[1], `${name}.arity`),
    flags,
    keys: [asInt(a[3], `${name}.firstkey`), asInt(a[4], `${name}.lastkey`), asInt(a[5], `${name}.step`)],
    keySpecs,
  };
  if (subReplies.length === 0) return cmd;
  const subcommands = subReplies.map(parseCommand).sort(byName);
  return { ...cmd, subcommands };
}

function byName(a: RawCommand, b: RawCommand): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

// ---------------------------------------------------------------------------------------
// RawCommand → TypeScript source
// ---------------------------------------------------------------------------------------

function str(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function list(items: readonly string[]): string {
  return `[${items.map(str).join(', ')}]`;
}

function fmtKeySpec(s: RawKeySpec): string {
  const bs =
    s.bs.type === 'index'
      ? `{ type: 'index', index: ${s.bs.index} }`
      : s.bs.type === 'keyword'
        ? `{ type: 'keyword', keyword: ${str(s.bs.keyword)}, startfrom: ${s.bs.startfrom} }`
        : `{ type: 'unknown' }`;
  const fk =
    s.fk.type === 'range'
      ? `{ type: 'range', lastkey: ${s.fk.lastkey}, keystep: ${s.fk.keystep}, limit: ${s.fk.limit} }`
      : s.fk.type === 'keynum'
        ? `{ type: 'keynum', keynumidx: ${s.fk.keynumidx}, firstkey: ${s.fk.firstkey}, keystep: ${s.fk.keystep} }`
        : `{ type: 'unknown' }`;
  return `{ flags: ${list(s.flags)}, bs: ${bs}, fk: ${fk} }`;
}

function fmtCommand(c: RawCommand, indent: string): string {
  // One line per command when it has at most one key spec; one line per spec otherwise.
  const head = `name: ${str(c.name)}, arity: ${c.arity}, flags: ${list(c.flags)}, keys: [${c.keys.join(', ')}]`;
  const specs =
    c.keySpecs.length <= 1
      ? `keySpecs: [${c.keySpecs.map(fmtKeySpec).join('')}]`
      : `keySpecs: [\n${c.keySpecs.map((s) => `${indent}  ${fmtKeySpec(s)},\n`).join('')}${indent}]`;
  if (!c.subcommands) return `${indent}{ ${head}, ${specs} },`;
  const subs = c.subcommands.map((s) => fmtCommand(s, `${indent}  `)).join('\n');
  return `${indent}{ ${head}, ${specs}, subcommands: [\n${subs}\n${indent}] },`;
}

export function renderTable(version: string, commands: readonly RawCommand[]): string {
  const subCount = commands.reduce((n, c) => n + (c.subcommands?.length ?? 0), 0);
  return `/**
 * The Redis command table: every command and subcommand of redis-server ${version}.
 *
 * GENERATED from redis-server ${version} (COMMAND) by scripts/gen-commands.ts.
 * Do not edit by hand: run \`npx tsx scripts/gen-commands.ts\` against the Redis version
 * the proxy targets and commit the result.
 *
 * ${commands.length} commands, ${subCount} subcommands. Shapes: src/commands/raw-command.ts.
 */
import type { RawCommand } from './raw-command.js';

export const REDIS_VERSION = ${str(version)};

export const REDIS_COMMANDS: readonly RawCommand[] = [
${commands.map((c) => fmtCommand(c, '  ')).join('\n')}
];
`;
}

// ---------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const outArg = process.argv.indexOf('--out');
  const here = fileURLToPath(new URL('.', import.meta.url));
  const out = outArg >= 0 ? resolve(process.argv[outArg + 1]) : join(here, '..', 'src', 'commands', 'redis-commands.ts');

  const server = await startRedisServer();
  const client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    const info = String(await client.call('INFO', 'server'));
    const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
    const reply = (await client.call('COMMAND')) as Reply;
    const commands = asArray(reply, 'COMMAND').map(parseCommand).sort(byName);
    await writeFile(out, renderTable(version, commands));
    console.log(`wrote ${out}: ${commands.length} commands from redis-server ${version}`);
  } finally {
    client.disconnect();
    await server.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
