/**
 * Hot keys and big keys (issue 19 part 3) through a real proxy over 2 real redis-server
 * masters, with --admin-password and the default sample rate (about 1 request in 128):
 *   - redis-benchmark -t get -P 16 hammers `key:__rand_int__` (no -r: that literal key)
 *     among other traffic: HOTKEYS names it first on the shard that serves it;
 *   - a 64 kB value read again and again: BIGKEYS names it first on its shard, with its
 *     largest reply;
 *   - HOTKEYS' argument errors in Redis's words; a user who is not the admin gets NOPERM;
 *   - GET /api/v1/hotkeys and /api/v1/bigkeys: 401 without the admin's token, the same keys
 *     with it, 400 for a bad count;
 *   - /metrics: the hot key's gauge, at most 10 series per shard though more keys are tracked;
 *   - ihs-cli hotkeys / bigkeys (bin/ihs-cli on dist/);
 *   - the status page's panel (Chromium, when installed) lists the hot key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import calculateSlot from 'cluster-key-slot';
import { chromium } from 'playwright-core';
import type { Redis } from 'ioredis';
import { startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { buildExecutable } from './support/proxy-process.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { freePort } from './support/redis-server.js';
import { parseBigKeyLine, parseHotKeyLine, type BigKey, type HotKey } from '../src/status/key-lines.js';

const execFileP = promisify(execFile);
const skip = await skipWithoutRedis();
const REPO = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const ADMIN_PASSWORD = 'hot-keys-secret';
/** What redis-benchmark's GET asks for without -r. */
const BENCH_KEY = 'key:__rand_int__';
const BIG_KEY = 'big:value';
const BIG_BYTES = 64 * 1024;
/** Reads of the big value: ≥ 10 sampled at 1 in 128 (the gap between samples is at most 192). */
const BIG_READS = 2000;

/** Run bin/ihs-cli; its exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['bin/ihs-cli', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('hot keys and big keys', { skip }, () => {
  let tp: TestProxy;
  let httpPort: number;
  let admin: Redis;
  let user: Redis;
  /** The address of the master serving a key, by the proxy's slot map. */
  const masterOf = (key: string): string => {
    const map = tp.proxy.server.router.slotMap;
    return map.masters[map.slotToMaster[calculateSlot(key)]].address;
  };
  const hotkeys = async (...args: string[]): Promise<HotKey[]> => {
    const lines = (await admin.call('HOTKEYS', ...args)) as string[];
    return lines.map((l) => parseHotKeyLine(l) ?? assert.fail(`not a HOTKEYS line: ${l}`));
  };
  const bigkeys = async (...args: string[]): Promise<BigKey[]> => {
    const lines = (await admin.call('BIGKEYS', ...args)) as string[];
    return lines.map((l) => parseBigKeyLine(l) ?? assert.fail(`not a BIGKEYS line: ${l}`));
  };
  const http = (path: string, token?: string): Promise<Response> =>
    fetch(`http://127.0.0.1:${httpPort}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  before(async () => {
    buildExecutable();
    httpPort = await freePort();
    tp = await startTestProxy(['--masters', '2', '--replicas', '0', '--admin-password', ADMIN_PASSWORD, '--http-port', String(httpPort)]);
    user = await strictClient(tp.port, 10_000);
    admin = await strictClient(tp.port, 10_000);
    await admin.call('AUTH', 'admin', ADMIN_PASSWORD);
    // Other traffic first, on both shards: 300 keys read 30 times each.
    const p = user.pipeline();
    for (let round = 0; round < 30; round++) for (let i = 0; i < 300; i++) p.get(`other:${i}`);
    await p.exec();
    await execFileP('redis-benchmark', ['-p', String(tp.port), '-t', 'get', '-n', '100000', '-P', '16', '-q'], { timeout: 60_000 });
    await user.set(BIG_KEY, 'x'.repeat(BIG_BYTES));
    const q = user.pipeline();
    for (let i = 0; i < BIG_READS; i++) q.get(BIG_KEY);
    await q.exec();
  });

  after(async () => {
    user?.disconnect();
    admin?.disconnect();
    await tp?.close().catch(async () => killRedisServersUnder(tp.dataDir, []));
  });

  test('HOTKEYS names the key redis-benchmark hammers, first on the shard that serves it', async () => {
    const keys = await hotkeys();
    const onItsShard = keys.filter((k) => k.address === masterOf(BENCH_KEY));
    assert.equal(onItsShard[0]?.key, BENCH_KEY, JSON.stringify(keys));
    assert.match(onItsShard[0].shard, /^m\d+$/, 'the shard is named by its master');
    assert.ok(onItsShard[0].opsPerSec > 0 && onItsShard[0].share > 0.5, JSON.stringify(onItsShard[0]));
    assert.ok(onItsShard.length <= 10, 'COUNT defaults to 10 per shard');
    const one = await hotkeys('COUNT', '1');
    assert.equal(one.filter((k) => k.address === masterOf(BENCH_KEY)).length, 1);
    assert.equal(new Set(one.map((k) => k.shard)).size, one.length, 'COUNT 1: one key per shard');
  });

  test('BIGKEYS names the large value read again and again, with its largest reply', async () => {
    const keys = await bigkeys('COUNT', '3');
    const onItsShard = keys.filter((k) => k.address === masterOf(BIG_KEY));
    assert.equal(onItsShard[0]?.key, BIG_KEY, JSON.stringify(keys));
    assert.ok(onItsShard[0].largestReply >= BIG_BYTES, `largest reply ${onItsShard[0].largestReply}`);
    assert.ok(onItsShard[0].readPerSec > onItsShard[0].writtenPerSec);
  });

  test("bad arguments get Redis's errors; a user who is not the admin gets NOPERM", async () => {
    await assert.rejects(admin.call('HOTKEYS', 'COUNT', '0'), /^ReplyError: ERR value is out of range, must be positive$/);
    await assert.rejects(admin.call('BIGKEYS', 'COUNT', 'many'), /^ReplyError: ERR value is not an integer or out of range$/);
    await assert.rejects(admin.call('HOTKEYS', 'TOP', '3'), /^ReplyError: ERR syntax error$/);
    await assert.rejects(user.call('HOTKEYS'), /NOPERM this user has no permissions to run the 'hotkeys' command/);
  });

  test('GET /api/v1/hotkeys and /api/v1/bigkeys: the admin token, the same keys, a bad count refused', async () => {
    for (const path of ['/api/v1/hotkeys', '/api/v1/bigkeys']) {
      assert.equal((await http(path)).status, 401, `${path} without a token`);
      assert.equal((await http(path, 'wrong')).status, 401, `${path} with a wrong token`);
      assert.equal((await http(`${path}?count=0`, ADMIN_PASSWORD)).status, 400);
    }
    const hot = (await (await http('/api/v1/hotkeys?count=2', ADMIN_PASSWORD)).json()) as { sampleRate: number; keys: HotKey[] };
    assert.equal(hot.sampleRate, 128);
    assert.equal(hot.keys.find((k) => k.address === masterOf(BENCH_KEY))?.key, BENCH_KEY);
    const big = (await (await http('/api/v1/bigkeys', ADMIN_PASSWORD)).json()) as { keys: BigKey[] };
    assert.equal(big.keys.find((k) => k.address === masterOf(BIG_KEY))?.key, BIG_KEY);
  });

  test('/metrics: the hot key as a gauge, at most 10 series per shard though more keys are tracked', async () => {
    const text = await (await http('/metrics')).text();
    const series = [...text.matchAll(/^ihs_hotkey_ops_per_second\{shard="([^"]+)",key="([^"]*)"\} (\S+)$/gm)];
    const shard = (await hotkeys('COUNT', '1')).find((k) => k.key === BENCH_KEY)?.shard;
    assert.ok(series.some((m) => m[1] === shard && m[2] === BENCH_KEY && Number(m[3]) > 0), `the hot key's series:\n${series.map((m) => m[0]).join('\n')}`);
    const tracked = await hotkeys('COUNT', '64');
    const perShard = (shardName: string, list: { shard: string }[]) => list.filter((k) => k.shard === shardName).length;
    assert.ok(tracked.some((k) => perShard(k.shard, tracked) > 10), 'more than 10 keys tracked on some shard');
    for (const name of new Set(tracked.map((k) => k.shard))) {
      assert.ok(perShard(name, series.map((m) => ({ shard: m[1] }))) <= 10, `at most 10 series for ${name}`);
    }
    assert.match(text, /^ihs_bigkey_bytes_per_second\{shard="m\d+",key="big:value",direction="read"\} /m);
  });

  test('ihs-cli hotkeys --count 1 and bigkeys; a bad count is the proxy\'s error', async () => {
    const server = ['--server', `127.0.0.1:${tp.port}`, '--user', 'admin', '--password', ADMIN_PASSWORD];
    const hot = await cli([...server, 'hotkeys', '--count', '1']);
    assert.equal(hot.code, 0, hot.stderr);
    assert.ok(hot.stdout.split('\n').some((l) => parseHotKeyLine(l)?.key === BENCH_KEY), hot.stdout);
    const big = await cli([...server, 'bigkeys']);
    assert.equal(big.code, 0, big.stderr);
    assert.ok(big.stdout.split('\n').some((l) => parseBigKeyLine(l)?.key === BIG_KEY), big.stdout);
    const bad = await cli([...server, 'hotkeys', '-n', '0']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /value is out of range, must be positive/);
  });

  test('the status page panel lists the hot key', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing` }, async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${httpPort}/`);
      await page.fill('#auth-token', ADMIN_PASSWORD);
      await page.press('#auth-token', 'Enter');
      const row = page.locator(`#hotkeys tbody tr[data-key="${BENCH_KEY}"]`);
      await row.waitFor({ timeout: 15_000 });
      assert.match((await row.textContent()) ?? '', /^m\d+key:__rand_int__/);
      await page.locator(`#bigkeys tbody tr[data-key="${BIG_KEY}"]`).waitFor({ timeout: 15_000 });
    } finally {
      await browser.close();
    }
  });
});
