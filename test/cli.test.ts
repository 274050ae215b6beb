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
import { fileURLToPath } from 'node:url';
import { strictClient, startTestProxy, type TestProxy } from './support/proxy.js';
import { buildExecutable } from './support/proxy-process.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { freePort } from './support/redis-server.js';
import { splitWords } from '../src/cli/line-words.js';
import { resolveTarget } from '../src/cli/server-target.js';
import { parsePromptWords } from '../src/cli/cli-args.js';
import { CliError } from '../src/cli/cli-error.js';
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
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CLUSTER_')));
  const child = spawn(process.execPath, ['bin/ihs-cli', ...args], { cwd: REPO, env: { ...env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
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
    assert.equal(await fails(['--server', server, 'get', '-k', 'a', 'b'], 2), "get: unexpected argument 'b' (the key is given by --key)");
    assert.equal(await fails(['--server', server, 'get', 'a', 'b'], 2), "get: unexpected argument 'b'");
    assert.equal(await fails(['--server', server, 'get', '-x', 'a'], 2), 'Unknown argument: x');
    assert.equal(await fails(['--server', server, 'add', '-s', 'new'], 2), 'add -s: name the master with -m MASTER (an id like m0, or host:port)');
    assert.equal(await fails(['--server', server, 'remove'], 2), 'remove: missing NODE');
    assert.equal(await fails(['--server', server, 'get', '-k', 'a', '-k', 'b'], 2), 'get: -k KEY given more than once');
    assert.match(await fails(['--server', 'no-port', 'ls'], 2), /^--server: 'no-port' is not an address/);
    // Refused by the proxy: its own words, as redis-cli shows them.
    assert.match(await fails(['--server', server, 'remove', 'nosuch'], 1), /^\(error\) ERR no node nosuch \(known: m0, /);
    assert.match(await fails(['--server', server, 'failover', 'm0r0'], 1), /^\(error\) ERR m0r0 is not a master/);
    // Nobody listening.
    const port = await freePort();
    assert.match(await fails(['--server', `127.0.0.1:${port}`, 'get', '-k', 'foo'], 1), new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    const help = await ok(['help']);
    assert.match(help, /^Commands .*\n(.*\n)*\s+add -m MASTER -s \[SLAVE\]/);
    assert.equal(await ok(['--help']), help);
    assert.equal(await ok(['-h']), help);
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
    assert.match(await fails(['get', '-k', 'foo'], 2, { env: { CLUSTER_SERVER_URL: 'http://x:1' } }), /^CLUSTER_SERVER_URL: 'http:\/\/x:1': only redis:\/\/ URLs/);
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

  test('the prompt through stdin: commands in order, errors printed and the prompt goes on, quit leaves', async () => {
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
    const out = await ok(['--server', server], { input: `${input}\n` });
    const prompt = `ihs ${server}> `;
    const replies = out.split(prompt);
    assert.equal(replies[0], '', 'the prompt comes first');
    // One prompt per line read up to quit (9 lines), each followed by that line's output.
    assert.equal(replies.length, 10);
    assert.deepEqual(replies.slice(1, 5), ['OK\n', 'two words\n', "unknown command 'bogus' (try help)\n", '(nil)\n']);
    assert.match(replies[5], /^\(error\) ERR no node nosuch \(known: [^\n]*\)\n$/);
    assert.equal(replies[6], 'Invalid argument(s): unbalanced quotes\n');
    assert.equal(replies[7], '', 'an empty line prints nothing');
    assert.match(replies[8], /^NODE\s+ADDRESS/);
    assert.equal(replies[9], '', 'quit prints nothing and ends the prompt');
    assert.equal(await ok(['--server', server, 'get', '-k', 'p']), 'two words\n', 'nothing after quit ran');

    // The end of input (Ctrl-D) leaves too, exit 0.
    assert.equal(await ok(['--server', server], { input: 'get -k p\n' }), `${prompt}two words\n${prompt}\n`);
    // No server: each command says so and the prompt stays.
    const unreachable = `127.0.0.1:${await freePort()}`;
    const offline = await ok(['--server', unreachable], { input: 'get -k p\nhelp\n' });
    assert.match(offline, new RegExp(`^ihs ${unreachable}> cannot connect to ${unreachable}: .*\\nihs ${unreachable}> Commands`));
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
    assert.throws(() => parsePromptWords(['failover', '--force']), /failover: missing MASTER/);
  });

  test('the server target: host:port, [v6]:port, redis:// with user and password; flags over URL over env', () => {
    assert.deepEqual(resolveTarget({}, {}), { host: 'localhost', port: 6380, username: undefined, password: undefined });
    assert.deepEqual(resolveTarget({ server: '[::1]:7000' }, {}), { host: '::1', port: 7000, username: undefined, password: undefined });
    assert.deepEqual(resolveTarget({}, { CLUSTER_SERVER_URL: 'redis://admin:p%40ss@h:7001' }), { host: 'h', port: 7001, username: 'admin', password: 'p@ss' });
    assert.deepEqual(resolveTarget({}, { CLUSTER_SEVER_URL: 'redis://h', CLUSTER_SERVER_PASSWORD: 'envpw' }), { host: 'h', port: 6380, username: undefined, password: 'envpw' });
    assert.deepEqual(resolveTarget({ password: 'flag' }, { CLUSTER_SERVER_URL: 'redis://:url@h:1', CLUSTER_SERVER_PASSWORD: 'env' }).password, 'flag');
    assert.deepEqual(resolveTarget({}, { CLUSTER_SERVER_URL: 'redis://:url@h:1', CLUSTER_SERVER_PASSWORD: 'env' }).password, 'url');
    assert.throws(() => resolveTarget({ server: 'h:99999' }, {}), /--server: 'h:99999' is not an address/);
    assert.throws(() => resolveTarget({ user: 'admin' }, {}), /user admin needs a password/);
  });
});
