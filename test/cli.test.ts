/**
 * ihs-cli (issue 9 part 1): the real bin/ihs-cli on dist/, run as a child process against a
 * real proxy over a real 2-master, 1-replica-each cluster:
 *   - one-shot get/set (short and long forms), (nil), list/ls as a table and --json (checked
 *     against LIST sent by ioredis), add -m (a new master) then remove, add -m M -s (a replica);
 *   - errors: one line on stderr, exit 2 for a bad command line, 1 for a refusal or an
 *     unreachable server;
 *   - the server from --server, CLUSTER_SERVER_URL and CLUSTER_SEVER_URL (host:port and
 *     redis:// forms), --password / CLUSTER_SERVER_PASSWORD / --user admin against a proxy
 *     with --requirepass and --admin-password;
 *   - the prompt driven through stdin: several commands, errors that do not end it, quit.
 * Plus the pure parts (the line splitter, the server target) on their own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { strictClient, startTestProxy, type TestProxy } from './support/proxy.js';
import { buildExecutable } from './support/proxy-process.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { freePort } from './support/redis-server.js';
import { splitWords } from '../src/cli/line-words.js';
import { resolveTarget } from '../src/cli/server-target.js';
import { CliError } from '../src/cli/cli-error.js';
import { HELP } from '../src/cli/cli-help.js';
import { parseCommandLine, parsePromptWords } from '../src/cli/cli-args.js';
import { COMMANDS, GLOBAL_OPTIONS, formText } from '../src/cli/cli-forms.js';
import { ProxyConnection } from '../src/cli/proxy-connection.js';
import { runRepl } from '../src/cli/repl.js';
import { parseListing } from '../src/status/list-format.js';
import type { NodeJson } from './support/admin-list.js';

const skip = await skipWithoutRedis();
const REPO = fileURLToPath(new URL('..', import.meta.url));

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run bin/ihs-cli with `args`; the CLUSTER_* variables of this process are not passed on, only `env`'s. */
function cli(args: string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<CliRun> {
  return run(process.execPath, ['bin/ihs-cli', ...args], o);
}

/** Run `command` in the repo with `input` on its stdin (a pipe). */
function run(command: string, args: string[], o: { env?: Record<string, string>; input?: string }): Promise<CliRun> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CLUSTER_')));
  const child = spawn(command, args, { cwd: REPO, env: { ...env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(o.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A run that succeeded: its stdout. */
async function ok(args: string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<string> {
  const r = await cli(args, o);
  assert.equal(r.code, 0, `ihs-cli ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr, '');
  return r.stdout;
}

/** A run that failed with `code` and one line on stderr (returned), nothing on stdout. */
async function fails(args: string[], code: number, o: { env?: Record<string, string> } = {}): Promise<string> {
  const r = await cli(args, o);
  assert.equal(r.code, code, `ihs-cli ${args.join(' ')}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^[^\n]+\n$/, 'one line on stderr');
  return r.stderr.trimEnd();
}

type JsonNode = NodeJson;

async function listJson(server: string): Promise<{ nodes: JsonNode[]; operations: unknown[] }> {
  return JSON.parse(await ok(['--server', server, 'ls', '--json'])) as { nodes: JsonNode[]; operations: unknown[] };
}

const slotCount = (n: JsonNode) => n.slots.reduce((sum, [a, b]) => sum + b - a + 1, 0);

/** Which of `names` (node:tls, ...) a run of bin/ihs-cli with `args` loaded, from Node's own list of loaded built-in modules. */
async function builtinsLoaded(args: string[], names: string[]): Promise<string[]> {
  const report = `data:text/javascript,${encodeURIComponent("process.on('exit', () => process.stderr.write(JSON.stringify(process.moduleLoadList)));")}`;
  const r = await run(process.execPath, ['--import', report, 'bin/ihs-cli', ...args], {});
  assert.equal(r.code, 0, r.stderr);
  const loaded = new Set((JSON.parse(r.stderr) as string[]).filter((m) => m.startsWith('NativeModule ')).map((m) => `node:${m.slice('NativeModule '.length)}`));
  return names.filter((n) => loaded.has(n));
}

describe('ihs-cli', { skip }, () => {
  let tp: TestProxy;
  let server: string;

  before(async () => {
    buildExecutable();
    tp = await startTestProxy(['--masters', '2', '--replicas', '1']);
    server = `127.0.0.1:${tp.port}`;
  });

  after(async () => {
    await tp?.close().catch(async () => killRedisServersUnder(tp.dataDir, []));
  });

  test('one-shot set and get, short and long forms; a missing key is (nil)', async () => {
    assert.equal(await ok(['--server', server, 'set', '-k', 'foo', '-v', 'bar']), 'OK\n');
    assert.equal(await ok(['--server', server, 'get', '-k', 'foo']), 'bar\n');
    assert.equal(await ok(['--server', server, 'set', '--key', 'spaced key', '--value', 'a value with spaces']), 'OK\n');
    assert.equal(await ok(['--server', server, 'get', '--key', 'spaced key']), 'a value with spaces\n');
    assert.equal(await ok(['--server', server, 'set', 'pos', '007']), 'OK\n');
    assert.equal(await ok(['--server', server, 'get', 'pos']), '007\n', 'numbers stay strings');
    assert.equal(await ok(['--server', server, 'get', '-k', 'no-such-key']), '(nil)\n');
    // A value after `=` (one starting with -), options after the command, `--` before a word starting with -.
    assert.equal(await ok(['set', '--key=-dash', '-v=-1', '--server', server]), 'OK\n');
    assert.equal(await ok(['--server', server, 'get', '--', '-dash']), '-1\n');
    assert.equal(await ok(['--server', server, 'set', '-k', 'empty', '-v', '']), 'OK\n', 'an empty value given as a word is a value');
    assert.equal(await ok(['--server', server, 'get', 'empty']), '\n');
    // What the CLI wrote is in the cluster, as any client sees it.
    const r = await strictClient(tp.port);
    try {
      assert.equal(await r.get('foo'), 'bar');
      assert.equal(await r.get('spaced key'), 'a value with spaces');
    } finally {
      r.disconnect();
    }
  });

  test('list and ls: a table of masters with their replicas; --json is LIST as data', async () => {
    const json = await listJson(server);
    assert.deepEqual(json.operations, []);
    const masters = json.nodes.filter((n) => n.role === 'master');
    const replicas = json.nodes.filter((n) => n.role === 'replica');
    assert.equal(masters.length, 2);
    assert.equal(replicas.length, 2);
    assert.equal(masters.reduce((s, m) => s + slotCount(m), 0), 16384);
    for (const n of json.nodes) {
      assert.equal(n.state, 'up');
      assert.match(n.address, /^127\.0\.0\.1:\d+$/);
      assert.equal(typeof n.keys, 'number');
      assert.equal(typeof n.offset, 'number');
    }
    for (const m of masters) {
      assert.equal(m.masterId, null);
      assert.equal(m.lagBytes, null);
    }
    for (const r of replicas) {
      assert.ok(masters.some((m) => m.id === r.masterId), `${r.id}'s master ${r.masterId} is listed`);
      assert.equal(typeof r.lagBytes, 'number');
    }
    // The same nodes, slots and roles as LIST gives a RESP client.
    const c = await strictClient(tp.port);
    let lines: string[];
    try {
      lines = (await c.call('LIST')) as string[];
    } finally {
      c.disconnect();
    }
    assert.deepEqual(
      json.nodes.map((n) => `${n.id} ${n.address} ${n.role} ${n.masterId ?? '-'}`),
      parseListing(lines).nodes.map((n) => `${n.id} ${n.address} ${n.role} ${n.masterId ?? '-'}`),
    );

    for (const verb of ['list', 'ls']) {
      const table = (await ok(['--server', server, verb])).trimEnd().split('\n');
      assert.match(table[0], /^NODE\s+ADDRESS\s+ROLE\s+STATE\s+SLOTS\s+#SLOTS\s+KEYS\s+LAG$/);
      for (const m of masters) {
        const at = table.findIndex((l) => l.startsWith(`${m.id} `));
        assert.ok(at > 0, `${m.id} has a row`);
        const row = table[at].split(/\s+/);
        assert.deepEqual(row.slice(0, 6), [m.id, m.address, 'master', 'up', m.slots.map(([a, b]) => `${a}-${b}`).join(','), String(slotCount(m))]);
        // Its replica right under it, drawn as its branch.
        const replica = replicas.find((r) => r.masterId === m.id)!;
        assert.match(table[at + 1], new RegExp(`^└─ ${replica.id}\\s+${replica.address}\\s+replica\\s+up\\s+-\\s+-\\s+\\d+\\s+\\d+$`));
      }
      assert.match(table.at(-1)!, /^2 masters, 2 replicas, 16384 of 16384 slots served, \d+ keys?$/);
    }
  });

  test('errors: one line on stderr; exit 2 for a bad command line, 1 for a refusal or no server', async () => {
    assert.equal(await fails(['--server', server, 'bogus'], 2), "unknown command 'bogus' (try help)");
    assert.equal(await fails(['--server', server, 'get'], 2), 'get: missing -k KEY');
    assert.equal(await fails(['--server', server, 'get', '-k'], 2), 'get: missing -k KEY');
    assert.equal(await fails(['--server', server, 'set', '-k', 'a'], 2), 'set: missing -v VALUE');
    assert.equal(await fails(['--server', server, 'get', '-k', 'a', 'b'], 2), "get: unexpected argument 'b'");
    assert.equal(await fails(['--server', server, 'get', 'a', 'b'], 2), "get: unexpected argument 'b'");
    assert.equal(await fails(['--server', server, 'set', 'a', '-v', 'b'], 2), "set: unexpected argument 'a'", 'no form mixes words and flags');
    assert.equal(await fails(['--server', server, 'get', '-x', 'a'], 2), "get: unknown option '-x'");
    assert.equal(await fails(['--server', server, '-x', 'get', 'a'], 2), "unknown option '-x'");
    assert.equal(await fails(['--server', server, 'ls', '--json=yes'], 2), 'ls: --json takes no value');
    assert.equal(await fails(['--server', server, 'add', '-s', 'new'], 2), 'add: missing -m MASTER (an id like m0, or host:port)');
    assert.equal(await fails(['--server', server, 'add', '-m', 'new', '-s', 'new'], 2), "add: -m MASTER names the master of the replica (an id like m0, or host:port), not 'new'");
    assert.equal(await fails(['--server', server, 'remove'], 2), 'remove: missing NODE');
    assert.equal(await fails(['--server', server, 'get', '-k', 'a', '-k', 'b'], 2), 'get: -k given more than once');
    assert.equal(await fails(['--server', server, '--server', server, 'get', 'a'], 2), '--server given more than once');
    assert.match(await fails(['--server', 'no-port', 'ls'], 2), /^--server: 'no-port' is not an address/);
    // Refused by the proxy: its own words, as redis-cli shows them.
    assert.match(await fails(['--server', server, 'remove', 'nosuch'], 1), /^\(error\) ERR no node nosuch \(known: m0, /);
    assert.match(await fails(['--server', server, 'failover', 'm0r0'], 1), /^\(error\) ERR m0r0 is not a master/);
    // Nobody listening.
    const port = await freePort();
    assert.match(await fails(['--server', `127.0.0.1:${port}`, 'get', '-k', 'foo'], 1), new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    const help = await ok(['help']);
    assert.equal(help, `${HELP}\n`);
    // The forms a new user missed: `add` alone (a master the proxy starts) among them.
    assert.match(help, /^ {2}add {2,}add a master the proxy starts \(ADD MASTER\)$/m);
    assert.match(help, /^ {2}add -m MASTER -s \[SLAVE\] /m);
    assert.equal(await ok(['--help']), help);
    assert.equal(await ok(['-h']), help);
    assert.equal(await ok(['get', 'foo', '--help']), help, '--help anywhere');
  });

  test('a one-shot loads neither yargs, pino nor what only the prompt, piped input and list use', async () => {
    // Each module Node loads, written to stderr at exit (speed is measured in bench/cli-startup.ts, not here).
    const trace = `data:text/javascript,${encodeURIComponent(
      "import { registerHooks } from 'node:module'; const seen = []; registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } }); process.on('exit', () => process.stderr.write(JSON.stringify(seen)));",
    )}`;
    const r = await run(process.execPath, ['--import', trace, 'bin/ihs-cli', '--server', server, 'get', 'never-set'], {});
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '(nil)\n');
    const loaded = (JSON.parse(r.stderr) as string[]).filter((u) => u.startsWith('file:'));
    assert.ok(loaded.some((u) => u.endsWith('/dist/cli/main.js') || u.endsWith('/dist/nodes/node-client.js')), loaded.join(' '));
    const needless = loaded.filter((u) => /\/node_modules\/(yargs|pino)|\/dist\/cli\/(repl|piped-input|list-table|listing)\.js$|\/dist\/log\.js$/.test(u));
    assert.deepEqual(needless, []);
    // Nor node:tls (about 5 ms) on a plain connection: it is loaded by the first TLS dial.
    assert.deepEqual(await builtinsLoaded(['--server', server, 'get', 'never-set'], ['node:tls']), []);
  });

  test('the default server is localhost:6380', async (t) => {
    const r = await cli(['get', '-k', 'foo']);
    if (r.code === 0) return t.skip('something answers on localhost:6380 here');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^cannot connect to localhost:6380: /);
  });

  test('the server from CLUSTER_SERVER_URL and the misspelled CLUSTER_SEVER_URL; --server wins', async () => {
    const unreachable = `127.0.0.1:${await freePort()}`;
    assert.equal(await ok(['get', '-k', 'foo'], { env: { CLUSTER_SERVER_URL: server } }), 'bar\n');
    assert.equal(await ok(['get', '-k', 'foo'], { env: { CLUSTER_SERVER_URL: `redis://${server}` } }), 'bar\n');
    assert.equal(await ok(['get', '-k', 'foo'], { env: { CLUSTER_SEVER_URL: server } }), 'bar\n');
    assert.equal(await ok(['get', '-k', 'foo'], { env: { CLUSTER_SERVER_URL: server, CLUSTER_SEVER_URL: unreachable } }), 'bar\n', 'the right spelling first');
    assert.equal(await ok(['--server', server, 'get', '-k', 'foo'], { env: { CLUSTER_SERVER_URL: unreachable } }), 'bar\n');
    assert.match(await fails(['get', '-k', 'foo'], 1, { env: { CLUSTER_SEVER_URL: unreachable } }), new RegExp(`^cannot connect to ${unreachable}: `));
    assert.match(await fails(['get', '-k', 'foo'], 2, { env: { CLUSTER_SERVER_URL: 'http://x:1' } }), /^CLUSTER_SERVER_URL: 'http:\/\/x:1': only redis:\/\/ and rediss:\/\/ URLs/);
  });

  test('add -m (a master the proxy starts) then remove it; add -m M -s (a replica of M) then remove it', async () => {
    const added = await ok(['--server', server, 'add', '-m']);
    assert.match(added, /^m2 127\.0\.0\.1:\d+ is a master \(replica m2r0\); \d+ slots and \d+ keys moved/);
    let json = await listJson(server);
    const m2 = json.nodes.find((n) => n.id === 'm2');
    assert.equal(m2?.role, 'master');
    assert.ok(slotCount(m2) > 0, 'the new master has slots');
    assert.equal(await ok(['--server', server, 'get', '-k', 'foo']), 'bar\n', 'keys stay readable');

    assert.match(await ok(['--server', server, 'remove', 'm2']), /^m2 removed with its replica m2r0/);
    json = await listJson(server);
    assert.deepEqual(json.nodes.filter((n) => n.role === 'master').map((n) => n.id).sort(), ['m0', 'm1']);
    assert.ok(!json.nodes.some((n) => n.id.startsWith('m2')));
    assert.equal(await ok(['--server', server, 'rebalance']), 'the slots were already even: nothing moved\n');

    // The study project's long form, SLAVE omitted: a replica the proxy starts.
    const replica = await ok(['--server', server, 'add', '--master', 'm0', '--slave', 'new']);
    const id = /^(m0r\d+) 127\.0\.0\.1:\d+ is a replica of m0, in sync\n$/.exec(replica)?.[1];
    assert.ok(id !== undefined, replica);
    json = await listJson(server);
    assert.deepEqual(json.nodes.filter((n) => n.masterId === 'm0').map((n) => n.id).sort(), ['m0r0', id].sort());
    assert.equal(await ok(['--server', server, 'remove', id]), `${id} removed\n`);
    json = await listJson(server);
    assert.equal(json.nodes.length, 4);
  });

  test('piped input: each line run in order, replies only (no prompt), errors on stderr, exit code of the first failed line', async () => {
    const input = [
      'set -k p -v "two words"',
      'get -k p',
      'bogus',
      'get --key nokey',
      'remove nosuch',
      "set 'unbalanced",
      '',
      'ls',
      'quit',
      'set -k p -v after-quit',
    ].join('\n');
    const r = await cli(['--server', server], { input: `${input}\n` });
    assert.equal(r.code, 2, 'the first failed line was a bad one (exit 2)');
    assert.ok(!r.stdout.includes('ihs '), 'no prompt');
    const [set, get, nil, ...table] = r.stdout.split('\n');
    assert.deepEqual([set, get, nil], ['OK', 'two words', '(nil)']);
    assert.match(table[0], /^NODE\s+ADDRESS/);
    assert.match(table.at(-2)!, /^2 masters, 2 replicas, /);
    assert.equal(table.at(-1), '', 'ls is the last output: quit printed nothing and ended the input');
    const errors = r.stderr.split('\n');
    assert.equal(errors[0], "unknown command 'bogus' (try help)");
    assert.match(errors[1], /^\(error\) ERR no node nosuch \(known: [^\n]*\)$/);
    assert.deepEqual(errors.slice(2), ['Invalid argument(s): unbalanced quotes', '']);
    assert.equal(await ok(['--server', server, 'get', '-k', 'p']), 'two words\n', 'nothing after quit ran');

    // All lines fine: exit 0, the end of input ends it. A refusal first: exit 1.
    assert.equal(await ok(['--server', server], { input: 'get -k p\nget p\r\n' }), 'two words\ntwo words\n');
    // An empty value is an empty line of output; an empty line of input prints nothing.
    assert.equal(await ok(['--server', server], { input: 'set e ""\nget e\n\nget e\n' }), 'OK\n\n\n');
    const refused = await cli(['--server', server], { input: 'remove nosuch\nbogus\nget p\n' });
    assert.deepEqual([refused.code, refused.stdout], [1, 'two words\n']);
    // No server: each line says so, exit 1.
    const unreachable = `127.0.0.1:${await freePort()}`;
    const offline = await cli(['--server', unreachable], { input: 'get -k p\nhelp\n' });
    assert.equal(offline.code, 1);
    assert.equal(offline.stdout, `${HELP}\n`);
    assert.match(offline.stderr, new RegExp(`^cannot connect to ${unreachable}: [^\\n]*\\n$`));
  });

  test('the prompt: commands in order, errors printed and the prompt goes on, quit leaves', async () => {
    const conn = new ProxyConnection(resolveTarget({ server }, {}));
    const input = new PassThrough();
    const output = new PassThrough();
    let out = '';
    output.setEncoding('utf8').on('data', (c: string) => (out += c));
    input.end(['set -k q -v "two words"', 'get -k q', 'bogus', 'get --key nokey', 'remove nosuch', "set 'unbalanced", '', 'quit', 'set -k q -v after-quit'].join('\n') + '\n');
    try {
      await runRepl(conn, { input, output, terminal: false, historyFile: undefined });
    } finally {
      conn.close();
    }
    const prompt = `ihs ${server}> `;
    const replies = out.split(prompt);
    assert.equal(replies[0], '', 'the prompt comes first');
    // One prompt per line read up to quit (8 lines), each followed by that line's output.
    assert.equal(replies.length, 9);
    assert.deepEqual(replies.slice(1, 5), ['OK\n', 'two words\n', "unknown command 'bogus' (try help)\n", '(nil)\n']);
    assert.match(replies[5], /^\(error\) ERR no node nosuch \(known: [^\n]*\)\n$/);
    assert.equal(replies[6], 'Invalid argument(s): unbalanced quotes\n');
    assert.equal(replies[7], '', 'an empty line prints nothing');
    assert.equal(replies[8], '', 'quit prints nothing and ends the prompt');
    assert.equal(await ok(['--server', server, 'get', '-k', 'q']), 'two words\n', 'nothing after quit ran');
  });

  test('on a terminal (a pty from script(1)) bin/ihs-cli shows the prompt and keeps the history', async (t) => {
    if (!existsSync('/usr/bin/script')) return t.skip('no script(1) (util-linux) to give it a terminal');
    const home = await mkdtemp(path.join(os.tmpdir(), 'ihs-cli-home-'));
    try {
      const command = `${process.execPath} bin/ihs-cli --server ${server}`;
      // script runs the CLI on a new pty; the lines written to script's stdin are typed on it.
      const r = await run('/usr/bin/script', ['-qfec', command, '/dev/null'], { env: { HOME: home }, input: 'get foo\nquit\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`ihs ${server.replaceAll('.', '\\.')}> `), 'the prompt');
      assert.match(r.stdout, /\r\nbar\r\n/, 'the reply');
      assert.equal(readFileSync(path.join(home, '.ihs_cli_history'), 'utf8'), 'get foo\nquit\n');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('ihs-cli with --requirepass and --admin-password', { skip }, () => {
  let tp: TestProxy;
  let server: string;

  before(async () => {
    buildExecutable();
    tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--requirepass', 'data-pw', '--admin-password', 'admin-pw']);
    server = `127.0.0.1:${tp.port}`;
  });

  after(async () => {
    await tp?.close().catch(async () => killRedisServersUnder(tp.dataDir, []));
  });

  test('--password, CLUSTER_SERVER_PASSWORD and the URL authenticate; --user admin runs the admin verbs', async () => {
    assert.equal(await fails(['--server', server, 'get', '-k', 'k'], 1), '(error) NOAUTH Authentication required.');
    assert.equal(await ok(['--server', server, '--password', 'data-pw', 'set', '-k', 'k', '-v', 'v']), 'OK\n');
    assert.equal(await ok(['--server', server, 'get', '-k', 'k'], { env: { CLUSTER_SERVER_PASSWORD: 'data-pw' } }), 'v\n');
    assert.equal(await ok(['get', '-k', 'k'], { env: { CLUSTER_SERVER_URL: `redis://:data-pw@${server}` } }), 'v\n');
    assert.match(await fails(['--server', server, '--password', 'wrong', 'get', '-k', 'k'], 1), new RegExp(`^AUTH refused by ${server}: WRONGPASS`));
    // Data users may not run the admin verbs; the admin user may, and data commands too.
    assert.equal(await fails(['--server', server, '--password', 'data-pw', 'ls'], 1), "(error) NOPERM this user has no permissions to run the 'list' command");
    assert.match(await ok(['--server', server, '--user', 'admin', '--password', 'admin-pw', 'ls']), /^NODE .*\nm0 .*\n\n1 master, 0 replicas, 16384 of 16384 slots served, 1 key\n$/);
    assert.equal(await ok(['--server', `redis://admin:admin-pw@${server}`, 'get', '-k', 'k']), 'v\n');
    assert.match(await fails(['--server', server, '--user', 'admin', 'ls'], 2), /^user admin needs a password/);
  });
});

describe('ihs-cli parts', () => {
  test('a prompt line splits into words as redis-cli splits them', () => {
    assert.deepEqual(splitWords('  set  -k a   -v b '), ['set', '-k', 'a', '-v', 'b']);
    assert.deepEqual(splitWords('set -k "a b" -v "x\\ty\\"z\\x41"'), ['set', '-k', 'a b', '-v', 'x\ty"zA']);
    assert.deepEqual(splitWords("get 'it\\'s' \"\""), ['get', "it's", '']);
    assert.deepEqual(splitWords(''), []);
    assert.throws(() => splitWords('get "open'), (e: Error) => e instanceof CliError && e.exitCode === 2);
    assert.throws(() => splitWords('get "a"b'), /closing quote must be followed by a space/);
  });

  test('failover MASTER [--force]: --force sends FAILOVER <master> FORCE (for a master that is down)', () => {
    assert.deepEqual(parsePromptWords(['failover', 'm0']), { kind: 'failover', master: 'm0', force: false });
    assert.deepEqual(parsePromptWords(['failover', 'm0', '--force']), { kind: 'failover', master: 'm0', force: true });
    assert.deepEqual(parseCommandLine(['failover', '--force', 'm0']).command, { kind: 'failover', master: 'm0', force: true });
    assert.throws(() => parsePromptWords(['failover', '--force']), (e: Error) => e instanceof CliError && e.exitCode === 2);
  });

  test('help and parser from one table: every form is a help line, and every help line parses as that form', () => {
    const lines = HELP.split('\n');
    let forms = 0;
    for (const spec of COMMANDS) {
      for (const form of spec.forms) {
        forms++;
        const text = formText(spec, form);
        assert.ok(lines.some((l) => l === `  ${text}` || l.startsWith(`  ${text}  `)), `help has the line of ${text}`);
        // Each name of the command, with a word for each token: short flags, then long ones.
        const values: Record<string, string | undefined> = {};
        const short: string[] = [];
        const long: string[] = [];
        form.tokens.forEach((t, i) => {
          if ('word' in t) {
            values[t.name] = `w${i}`;
            short.push(`w${i}`);
            long.push(`w${i}`);
          } else if (t.flag.value === undefined) {
            values[t.flag.long] = 'true';
            short.push(`--${t.flag.long}`);
            long.push(`--${t.flag.long}`);
          } else {
            values[t.flag.long] = `v${i}`;
            short.push(t.flag.short === undefined ? `--${t.flag.long}` : `-${t.flag.short}`, `v${i}`);
            long.push(`--${t.flag.long}=v${i}`);
          }
        });
        for (const name of spec.names) {
          assert.deepEqual(parsePromptWords([name, ...short]), form.build(values), `${name} ${short.join(' ')}`);
          assert.deepEqual(parseCommandLine([name, ...long]).command, form.build(values), `${name} ${long.join(' ')}`);
        }
      }
    }
    assert.equal(forms, 16);
    // The optional parts left out, and a value left out where the form allows it.
    assert.deepEqual(parsePromptWords(['ls']), { kind: 'list', json: false });
    assert.deepEqual(parsePromptWords(['hotkeys']), { kind: 'hotkeys', count: undefined });
    assert.deepEqual(parsePromptWords(['add']), { kind: 'add-master', address: undefined });
    assert.deepEqual(parsePromptWords(['add', '-m']), { kind: 'add-master', address: undefined });
    assert.deepEqual(parsePromptWords(['add', '--master', 'new']), { kind: 'add-master', address: undefined });
    assert.deepEqual(parsePromptWords(['add', '-m', '10.0.0.5:7000']), { kind: 'add-master', address: '10.0.0.5:7000' });
    assert.deepEqual(parsePromptWords(['add', '-s', '-m', 'm1']), { kind: 'add-replica', master: 'm1', address: undefined });
    assert.deepEqual(parsePromptWords(['add', '-m', 'm1', '-s', 'new']), { kind: 'add-replica', master: 'm1', address: undefined });
    // And the options of a one-shot, each in the help.
    for (const o of GLOBAL_OPTIONS) assert.ok(lines.some((l) => l.includes(`--${o.flag.long}`)), `help names --${o.flag.long}`);
    assert.deepEqual(parseCommandLine(['get', 'k', '--server', 'h:1', '--password=pw', '--user', 'admin']), {
      target: { server: 'h:1', password: 'pw', user: 'admin', tls: false, cacert: undefined, cert: undefined, key: undefined },
      command: { kind: 'get', key: 'k' },
    });
    assert.deepEqual(parseCommandLine(['--server', 'h:1']), {
      target: { server: 'h:1', password: undefined, user: undefined, tls: false, cacert: undefined, cert: undefined, key: undefined },
      command: undefined,
    });
  });

  test("TLS options as redis-cli's: --tls --cacert --cert --key before the command; after it --key is get/set's KEY", () => {
    assert.deepEqual(parseCommandLine(['--tls', '--cacert', 'ca.crt', '--cert', 'c.crt', '--key', 'c.key', 'get', '--key', 'foo']), {
      target: { server: undefined, password: undefined, user: undefined, tls: true, cacert: 'ca.crt', cert: 'c.crt', key: 'c.key' },
      command: { kind: 'get', key: 'foo' },
    });
    // --tls and --cacert are read anywhere, like --server.
    assert.deepEqual(parseCommandLine(['set', '--key', 'k', '-v', 'v', '--tls', '--cacert=ca.crt']).target, {
      server: undefined, password: undefined, user: undefined, tls: true, cacert: 'ca.crt', cert: undefined, key: undefined,
    });
    assert.deepEqual(resolveTarget({ tls: true, cacert: 'ca.crt', cert: 'c.crt', key: 'c.key' }, {}).tls, { caFile: 'ca.crt', certFile: 'c.crt', keyFile: 'c.key' });
    assert.deepEqual(resolveTarget({}, { CLUSTER_SERVER_URL: 'rediss://:pw@h:6381' }), {
      host: 'h', port: 6381, username: undefined, password: 'pw', tls: { caFile: undefined, certFile: undefined, keyFile: undefined },
    });
    assert.deepEqual(resolveTarget({ server: 'rediss://h:6381', cacert: 'ca.crt' }, {}).tls, { caFile: 'ca.crt', certFile: undefined, keyFile: undefined });
    assert.equal(resolveTarget({ server: 'redis://h:6381' }, {}).tls, undefined);
    assert.throws(() => resolveTarget({ cacert: 'ca.crt' }, {}), /--cacert need --tls \(or a rediss:\/\/ --server\)/);
    assert.throws(() => resolveTarget({ tls: true, cert: 'c.crt' }, {}), /--cert and --key go together/);
    assert.throws(() => resolveTarget({ server: 'http://h:1' }, {}), /only redis:\/\/ and rediss:\/\/ URLs are supported/);
  });

  test('the server target: host:port, [v6]:port, redis:// with user and password; flags over URL over env', () => {
    assert.deepEqual(resolveTarget({}, {}), { host: 'localhost', port: 6380, username: undefined, password: undefined, tls: undefined });
    assert.deepEqual(resolveTarget({ server: '[::1]:7000' }, {}), { host: '::1', port: 7000, username: undefined, password: undefined, tls: undefined });
    assert.deepEqual(resolveTarget({}, { CLUSTER_SERVER_URL: 'redis://admin:p%40ss@h:7001' }), { host: 'h', port: 7001, username: 'admin', password: 'p@ss', tls: undefined });
    assert.deepEqual(resolveTarget({}, { CLUSTER_SEVER_URL: 'redis://h', CLUSTER_SERVER_PASSWORD: 'envpw' }), { host: 'h', port: 6380, username: undefined, password: 'envpw', tls: undefined });
    assert.deepEqual(resolveTarget({ password: 'flag' }, { CLUSTER_SERVER_URL: 'redis://:url@h:1', CLUSTER_SERVER_PASSWORD: 'env' }).password, 'flag');
    assert.deepEqual(resolveTarget({}, { CLUSTER_SERVER_URL: 'redis://:url@h:1', CLUSTER_SERVER_PASSWORD: 'env' }).password, 'url');
    assert.throws(() => resolveTarget({ server: 'h:99999' }, {}), /--server: 'h:99999' is not an address/);
    assert.throws(() => resolveTarget({ user: 'admin' }, {}), /user admin needs a password/);
  });
});
