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
 * The runner is test/support/auth-scan.ts: a scan as another user is a prelude (its AUTH)
 * and an expectation per request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ADMIN_VERB_NAMES } from '../src/admin/admin-verbs.js';
import { ADMIN_RPC_VERB } from '../src/admin/admin-api.js';
import { commandTableRequests, noAuthCommands, replyText, runScan, type ScanRequest } from './support/auth-scan.js';
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
