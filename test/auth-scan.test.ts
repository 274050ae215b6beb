/**
 * The auth scan (SECURITY.md): what a client that has not authenticated, or that is not the
 * admin, can reach — every command of the command table, every admin verb, every HTTP route.
 *
 * - RESP, unauthenticated, with --requirepass: every command is refused with NOAUTH except
 *   Redis's `no_auth` ones (AUTH, HELLO, QUIT, RESET), and a real redis-server 7.0 with the
 *   same requirepass answers each one the same way (the error code, and the whole reply for
 *   the `no_auth` ones); nothing ran (no key written).
 * - RESP, as a data user with --admin-password set: every admin verb is NOPERM in Redis's
 *   words, with --requirepass (AUTH <requirepass>) and without (the default user).
 * - The node password is on no command line (`ps`).
 * - The data dir: what the proxy writes there is private (dirs 0700, files 0600) and
 *   holds no client password.
 * - HTTP without a token: every route of the OpenAPI document answers 401, except the open
 *   ones listed here (and documented: SECURITY.md, the OpenAPI descriptions).
 *
 * - As each user of --users-file (read-only, %W~/%R~, -@dangerous; a disabled user; default
 *   off): every command of the table, with a key the user may not and one it may touch,
 *   refused for the command, a key or a channel, or let through, exactly as ACL DRYRUN on a
 *   real redis-server 7.0 given the same users (ACL SETUSER) says; over --tls-port the same
 *   answers as on the plain port.
 * - The node-tls dir (--node-tls's CA and certificates): 0700, every file 0600.
 *
 * The runner is test/support/auth-scan.ts: a scan as another user is a prelude (its AUTH)
 * and an expectation per request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import type { Redis } from 'ioredis';
import { ADMIN_VERB_NAMES } from '../src/admin/admin-verbs.js';
import { ADMIN_RPC_VERB } from '../src/admin/admin-api.js';
import { aclAnswer, commandTableRequests, noAuthCommands, replyText, runScan, type AclAnswer, type ScanReply, type ScanRequest } from './support/auth-scan.js';
import { makeTestCerts, type TestCerts } from './support/tls-certs.js';
import { ensureNodeTls, NODE_TLS_DIR } from '../src/nodes/node-tls.js';
import { startTestProxy, strictClient, waitUntil, type TestProxy } from './support/proxy.js';
import { freePort, startRedisServer, type RedisServerHandle } from './support/redis-server.js';

const DATA_PASSWORD = 'scan-data-pw';
const ADMIN_PASSWORD = 'scan-admin-pw';

/** HTTP routes (method and OpenAPI path) open without a token, as documented. */
const OPEN_ROUTES = new Set(['GET /healthz', 'GET /metrics']);
/** Routes outside the OpenAPI document (hidden from it), open: the status page's files and the API's own docs. */
const OPEN_HIDDEN_PATHS = ['/', '/index.html', '/api/v1/openapi.json', '/api/v1/docs/'];

/** Every command of the table, QUIT last (it closes the connection), and the admin verbs. */
function unauthenticatedRequests(): ScanRequest[] {
  const all = commandTableRequests();
  const quit = all.filter((r) => r.label === 'quit');
  const verbs = [...ADMIN_VERB_NAMES, ADMIN_RPC_VERB].map((v) => ({ label: `admin verb ${v}`, args: [v] }));
  return [...all.filter((r) => r.label !== 'quit'), ...verbs, ...quit];
}

describe('auth scan: RESP and HTTP with --requirepass and --admin-password', () => {
  let tp: TestProxy;
  let redis: RedisServerHandle;
  let httpPort: number;

  before(async () => {
    httpPort = await freePort();
    tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--requirepass', DATA_PASSWORD, '--admin-password', ADMIN_PASSWORD, '--http-port', String(httpPort)]);
    // DEBUG and MODULE enabled: else redis-server refuses them before it asks for AUTH (the proxy never runs them).
    redis = await startRedisServer(['--requirepass', DATA_PASSWORD, '--enable-debug-command', 'yes', '--enable-module-command', 'yes']);
  });
  after(async () => {
    await tp?.close();
    await redis?.stop();
  });

  it('unauthenticated: every command of the table is NOAUTH but AUTH, HELLO, QUIT, RESET, as a real redis-server 7.0 answers; nothing runs', async (t) => {
    const requests = unauthenticatedRequests();
    const noAuth = noAuthCommands();
    assert.deepEqual([...noAuth].sort(), ['auth', 'hello', 'quit', 'reset'], 'the table\'s no_auth commands are Redis 7.0\'s');
    const [ours, theirs] = await Promise.all([runScan(tp.port, requests), runScan(redis.port, requests.filter((r) => !r.label.startsWith('admin verb')))]);
    const theirsByLabel = new Map(requests.filter((r) => !r.label.startsWith('admin verb')).map((r, i) => [r.label, theirs[i]]));
    const wrong: string[] = [];
    for (const [i, r] of requests.entries()) {
      const reply = ours[i];
      const redisReply = theirsByLabel.get(r.label);
      if (noAuth.has(r.label)) {
        if (replyText(reply) !== replyText(redisReply ?? 'closed')) wrong.push(`${r.args.join(' ')}: ${replyText(reply)}; redis-server: ${replyText(redisReply ?? 'closed')}`);
        continue;
      }
      // EXEC: Redis's rejectCommand discards the transaction, EXECABORT naming the NOAUTH.
      const refused = r.label === 'exec' ? '-EXECABORT Transaction discarded because of: NOAUTH Authentication required.' : '-NOAUTH Authentication required.';
      if (replyText(reply) !== refused) wrong.push(`${r.args.join(' ')}: ${replyText(reply)}`);
      if (redisReply !== undefined && replyText(redisReply) !== refused) wrong.push(`${r.args.join(' ')}: redis-server answered ${replyText(redisReply)}`);
    }
    assert.deepEqual(wrong, [], 'requests not refused as Redis refuses them');
    t.diagnostic(`${requests.length} requests, ${noAuth.size} allowed before AUTH (their replies equal redis-server's)`);

    const c = await strictClient(tp.port, 3000, DATA_PASSWORD);
    try {
      assert.equal(await c.dbsize(), 0, 'no request wrote a key');
    } finally {
      c.disconnect();
    }
  });

  it('as the data user: every admin verb is NOPERM in Redis\'s words; the admin runs them', async () => {
    const verbs = ADMIN_VERB_NAMES.map((v) => ({ label: v, args: [v] }));
    const asData = await runScan(tp.port, verbs, { prelude: [['AUTH', DATA_PASSWORD]] });
    assert.deepEqual(
      asData.map(replyText),
      ADMIN_VERB_NAMES.map((v) => `-NOPERM this user has no permissions to run the '${v.toLowerCase()}' command`),
    );
    // A proxy alone takes no other proxy's calls: IHS-ADMIN is no command here at all.
    const [rpc] = await runScan(tp.port, [{ label: ADMIN_RPC_VERB, args: [ADMIN_RPC_VERB, 'list', '[]'] }], { prelude: [['AUTH', DATA_PASSWORD]] });
    assert.match(replyText(rpc), /^-ERR unknown command 'IHS-ADMIN'/);
    // The control: the refusals above are about the user, not the verbs.
    const [list] = await runScan(tp.port, [{ label: 'LIST', args: ['LIST'] }], { prelude: [['AUTH', 'admin', ADMIN_PASSWORD]] });
    assert.ok(Array.isArray(list), `LIST as the admin: ${replyText(list)}`);
  });

  it('the data dir: every dir 0700, every file the proxy writes 0600; no client password in it', async () => {
    // The data dir itself is the test's (an existing dir keeps its mode): what the proxy puts in it must be private on its own.
    const entries = await readdir(tp.dataDir);
    assert.ok(entries.includes('topology.json') && entries.includes('nodes'), entries.join(', '));
    assert.deepEqual((await Promise.all(entries.map((name) => exposed(path.join(tp.dataDir, name))))).flat(), []);
    for (const name of await readdir(tp.dataDir)) {
      const file = path.join(tp.dataDir, name);
      if (!(await stat(file)).isFile()) continue;
      const text = await readFile(file, 'utf8');
      assert.ok(!text.includes(DATA_PASSWORD) && !text.includes(ADMIN_PASSWORD), `${name} holds a client password`);
    }
  });

  it('the node-tls dir (--node-tls\'s CA and certificates, made by the proxy\'s own code): dir 0700, every file in it 0600', async () => {
    // Made here rather than by a --node-tls cluster (test/node-tls.test.ts runs one): the same function a proxy calls at start.
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ihs-scan-tls-'));
    try {
      await ensureNodeTls(dataDir);
      const dir = path.join(dataDir, NODE_TLS_DIR);
      assert.equal((await stat(dir)).mode & 0o777, 0o700, `${dir} is 0700`);
      const names = await readdir(dir);
      assert.ok(names.includes('ca.key') && names.includes('node.key') && names.includes('proxy.key'), names.join(', '));
      const loose = [];
      for (const name of names) {
        const mode = (await stat(path.join(dir, name))).mode & 0o777;
        if (mode !== 0o600) loose.push(`${name}: ${mode.toString(8)}`);
      }
      assert.deepEqual(loose, [], 'files of the node-tls dir not 0600');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('the node password is on no process\'s command line (ps)', async () => {
    const topology = JSON.parse(await readFile(path.join(tp.dataDir, 'topology.json'), 'utf8')) as { nodePassword: string };
    assert.ok(topology.nodePassword.length >= 40, 'a generated password');
    assert.deepEqual(await commandLinesWith(topology.nodePassword), [], 'processes showing the node password');
    // The control: a process given a secret as an argument is found.
    const control = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)', topology.nodePassword.split('').reverse().join('')], { stdio: 'ignore' });
    try {
      await waitUntil(async () => (await commandLinesWith(topology.nodePassword.split('').reverse().join(''))).includes(control.pid ?? -1), 5000, 'the control process listed');
    } finally {
      control.kill('SIGKILL');
    }
  });

  it('HTTP without a token: every route of the OpenAPI document is 401 but the documented open ones; a wrong token is 401 too', async (t) => {
    const base = `http://127.0.0.1:${httpPort}`;
    const doc = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const open: string[] = [];
    const wrong: string[] = [];
    let routes = 0;
    for (const [p, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
        routes++;
        const url = `${base}${p.replace(/\{[^}]+\}/g, 'x')}`;
        const noToken = await fetch(url, { method, signal: AbortSignal.timeout(5000) });
        await noToken.body?.cancel();
        const route = `${method} ${p}`;
        if (noToken.status !== 401) open.push(route);
        if (OPEN_ROUTES.has(route)) continue;
        const wrongToken = await fetch(url, { method, headers: { authorization: `Bearer ${DATA_PASSWORD}x` }, signal: AbortSignal.timeout(5000) });
        await wrongToken.body?.cancel();
        if (wrongToken.status !== 401) wrong.push(`${route} with a wrong token: ${wrongToken.status}`);
      }
    }
    assert.deepEqual(open.sort(), [...OPEN_ROUTES].sort(), 'the routes answered without a token');
    assert.deepEqual(wrong, []);
    for (const p of OPEN_HIDDEN_PATHS) {
      const r = await fetch(`${base}${p}`);
      await r.body?.cancel();
      assert.equal(r.status, 200, `${p} is open`);
    }
    t.diagnostic(`${routes} routes in the OpenAPI document`);
  });
});

/**
 * What of `entry` another local user could read if the dirs above it let them: nothing
 * below a 0700 dir (what redis-server writes in a node's dir has its own umask), else a
 * dir that is not 0700 and a file that is not 0600.
 */
async function exposed(entry: string): Promise<string[]> {
  const st = await stat(entry);
  const mode = st.mode & 0o777;
  if (!st.isDirectory()) return mode === 0o600 ? [] : [`${entry}: file ${mode.toString(8)}`];
  if (mode === 0o700) return [];
  const below = await Promise.all((await readdir(entry)).map((name) => exposed(path.join(entry, name))));
  return [`${entry}: dir ${mode.toString(8)}`, ...below.flat()];
}

/** The pids of the processes whose command line (what `ps` shows every local user) holds `secret`. */
async function commandLinesWith(secret: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0)); // gone meanwhile
    if (cmdline.includes(secret)) found.push(Number(pid));
  }
  return found;
}

describe('auth scan: --admin-password alone', () => {
  let tp: TestProxy;
  before(async () => {
    tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--admin-password', ADMIN_PASSWORD]);
  });
  after(async () => {
    await tp?.close();
  });

  it('the default user (no AUTH) runs data commands but every admin verb is NOPERM', async () => {
    const verbs = ADMIN_VERB_NAMES.map((v) => ({ label: v, args: [v] }));
    const replies = await runScan(tp.port, [{ label: 'SET', args: ['SET', 'k', 'v'] }, ...verbs]);
    assert.deepEqual(
      replies.map(replyText),
      ['"OK"', ...ADMIN_VERB_NAMES.map((v) => `-NOPERM this user has no permissions to run the '${v.toLowerCase()}' command`)],
    );
  });
});

/**
 * The users both the proxy (--users-file) and a real redis-server 7.0 (ACL SETUSER) get: a
 * read-only user, a write user with %W~ and %R~ selectors of keys, a user without
 * @dangerous, a disabled user; `default` off (every connection must AUTH).
 */
const SCAN_USERS: Readonly<Record<string, readonly string[]>> = {
  reader: ['on', '>rpw', '~app:*', '+@read'],
  writer: ['on', '>wpw', '%W~app:*', '%R~ro:*', '+@all'],
  careful: ['on', '>cpw', '~*', '+@all', '-@dangerous'],
  sleeper: ['off', '>zpw', '~*', '+@all'],
  default: ['off', 'nopass'],
};
const SCAN_PASSWORDS: Readonly<Record<string, string>> = { reader: 'rpw', writer: 'wpw', careful: 'cpw' };
/** Requests that change what the connection is (a transaction, subscriber mode, another user, closed): each on a connection of its own. */
const ISOLATED = new Set(['multi', 'subscribe', 'psubscribe', 'ssubscribe', 'reset', 'quit']);

describe('auth scan: as each user of --users-file, against a real redis-server 7.0 with the same users; and over --tls-port', () => {
  let tp: TestProxy;
  let redis: RedisServerHandle;
  let oracle: Redis;
  let dir: string;
  let certs: TestCerts;
  let tlsPort: number;
  let tlsOptions: tls.ConnectionOptions;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-scan-users-'));
    certs = await makeTestCerts();
    tlsOptions = { ca: await readFile(certs.ca), cert: await readFile(certs.client.cert), key: await readFile(certs.client.key), servername: 'localhost' };
    const file = path.join(dir, 'users.acl');
    await writeFile(file, Object.entries(SCAN_USERS).map(([name, rules]) => `user ${name} ${rules.join(' ')}`).join('\n') + '\n', { mode: 0o600 });
    tlsPort = await freePort();
    tp = await startTestProxy(['--masters', '1', '--replicas', '0', '--users-file', file,
      '--tls-port', String(tlsPort), '--tls-cert-file', certs.server.cert, '--tls-key-file', certs.server.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'yes']);
    redis = await startRedisServer(['--enable-debug-command', 'yes', '--enable-module-command', 'yes']);
    oracle = await strictClient(redis.port, 3000);
    // The oracle's own user for ACL DRYRUN (the file's `default` is off); `default` last: this connection stays authenticated as it.
    await oracle.call('ACL', 'SETUSER', 'oracle', 'on', '>opw', '~*', '&*', '+@all');
    for (const [name, rules] of Object.entries(SCAN_USERS)) await oracle.call('ACL', 'SETUSER', name, ...rules);
  });
  after(async () => {
    oracle?.disconnect();
    await tp?.close();
    await redis?.stop();
    if (certs !== undefined) await rm(certs.dir, { recursive: true, force: true });
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Redis's answer for `user` running each request: ACL DRYRUN on the real server (nothing runs there). */
  async function dryRun(user: string, requests: readonly ScanRequest[]): Promise<AclAnswer[]> {
    const asDryRun = requests.map((r) => ({ label: r.label, args: ['ACL', 'DRYRUN', user, ...r.args] }));
    const replies = await runScan(redis.port, asDryRun, { prelude: [['AUTH', 'oracle', 'opw']] });
    return replies.map(aclAnswer);
  }

  /** The proxy's answer for `user` running each request itself (pipelined; the ISOLATED ones on their own connections). */
  async function asUser(user: string, requests: readonly ScanRequest[], port = tp.port, o: { tls?: tls.ConnectionOptions } = {}): Promise<ScanReply[]> {
    const prelude = [['AUTH', user, SCAN_PASSWORDS[user] ?? '']];
    const shared = requests.filter((r) => !ISOLATED.has(r.label));
    const sharedReplies = await runScan(port, shared, { prelude, ...o });
    const byLabel = new Map(shared.map((r, i) => [r.args.join(' '), sharedReplies[i]]));
    for (const r of requests.filter((q) => ISOLATED.has(q.label))) byLabel.set(r.args.join(' '), (await runScan(port, [r], { prelude, ...o }))[0]);
    // A reply may be null (a missing key): `has`, not `??`.
    return requests.map((r) => (byLabel.has(r.args.join(' ')) ? (byLabel.get(r.args.join(' ')) as ScanReply) : 'closed'));
  }

  for (const user of ['reader', 'writer', 'careful']) {
    it(`as ${user} (${SCAN_USERS[user].slice(2).join(' ')}): every command of the table, with a key it may not and one it may touch, refused or let through as ACL DRYRUN on redis-server says`, async (t) => {
      // AUTH is left out: its wrong passwords count towards the source address's throttle.
      const requests = [...commandTableRequests('x'), ...commandTableRequests('app:1')].filter((r) => r.label !== 'auth');
      const [ours, theirs] = await Promise.all([asUser(user, requests), dryRun(user, requests)]);
      const wrong: string[] = [];
      const counts = new Map<AclAnswer, number>();
      for (const [i, r] of requests.entries()) {
        const answer = aclAnswer(ours[i]);
        counts.set(theirs[i], (counts.get(theirs[i]) ?? 0) + 1);
        if (answer !== theirs[i]) wrong.push(`${r.args.join(' ')}: proxy ${answer} (${replyText(ours[i])}); redis-server ${theirs[i]}`);
      }
      assert.deepEqual(wrong, [], `answers of the proxy that differ from redis-server's for ${user}`);
      // The scan means something only if each class occurs.
      assert.ok((counts.get('allowed') ?? 0) > 0 && (counts.get('command') ?? 0) + (counts.get('key') ?? 0) > 0, JSON.stringify([...counts]));
      t.diagnostic(`${requests.length} requests: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    });
  }

  it('default off: every command of the table NOAUTH but AUTH, HELLO, QUIT, RESET, as on redis-server; a disabled user cannot AUTH', async () => {
    const requests = unauthenticatedRequests().filter((r) => !r.label.startsWith('admin verb') && r.label !== 'auth');
    const [ours, theirs] = await Promise.all([runScan(tp.port, requests), runScan(redis.port, requests)]);
    const wrong = requests.flatMap((r, i) => (replyText(ours[i]) === replyText(theirs[i]) ? [] : [`${r.args.join(' ')}: proxy ${replyText(ours[i])}; redis-server ${replyText(theirs[i])}`]));
    assert.deepEqual(wrong, []);
    assert.equal(ours.filter((r) => aclAnswer(r) === 'noauth').length, requests.length - 3, 'all but HELLO, RESET, QUIT');
    const get = [{ label: 'get', args: ['GET', 'app:1'] }];
    const [proxySleeper, redisSleeper] = await Promise.all([
      runScan(tp.port, [{ label: 'auth', args: ['AUTH', 'sleeper', 'zpw'] }, ...get]),
      runScan(redis.port, [{ label: 'auth', args: ['AUTH', 'sleeper', 'zpw'] }, ...get]),
    ]);
    assert.deepEqual(proxySleeper.map(replyText), redisSleeper.map(replyText));
    assert.deepEqual(proxySleeper.map(replyText), ['-WRONGPASS invalid username-password pair or user is disabled.', '-NOAUTH Authentication required.']);
  });

  it('over --tls-port: the unauthenticated scan and a user\'s scan answer as on the plain port', async () => {
    const requests = unauthenticatedRequests().filter((r) => !r.label.startsWith('admin verb') && r.label !== 'auth');
    const [plain, overTls] = await Promise.all([runScan(tp.port, requests), runScan(tlsPort, requests, { tls: tlsOptions })]);
    assert.deepEqual(overTls.map(replyText), plain.map(replyText));
    const few = ['GET', 'SET', 'MGET', 'EVAL'].map((c) => ({ label: c, args: c === 'EVAL' ? ['EVAL', 'return 1', '1', 'other:1'] : c === 'MGET' ? ['MGET', 'app:1', 'other:1'] : c === 'SET' ? ['SET', 'app:1', 'v'] : ['GET', 'app:1'] }));
    const [plainReader, tlsReader] = await Promise.all([asUser('reader', few), asUser('reader', few, tlsPort, { tls: tlsOptions })]);
    // EVAL is @scripting, not @read: refused for the command before its keys are looked at.
    assert.deepEqual(tlsReader.map(aclAnswer), ['allowed', 'command', 'key', 'command']);
    assert.deepEqual(tlsReader.map(replyText), plainReader.map(replyText));
  });
});
