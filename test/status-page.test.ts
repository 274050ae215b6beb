/**
 * The live status page (src/http/public/) in a real headless Chromium (Debian's package,
 * driven by playwright-core) against a real proxy over 3 masters with a replica each:
 *   - the page shows as many masters as the cluster has, a slot map whose 16 384 cells are
 *     each drawn in the colour of the master that serves the slot (read back from the
 *     canvas), every node with state up, and the proxy's command count moving with traffic;
 *   - a replica's redis-server killed with SIGKILL shows as failed on its row, then up
 *     again once it is restarted. The proxy runs with --no-auto-failover and the test
 *     restarts the node itself: left to itself the proxy has a killed replica back in about
 *     200 ms (measured), well inside the page's 1 s refresh, so the page would rarely catch it;
 *   - the server gone: the page says disconnected;
 *   - a screenshot of the page with the node down saved to test-output/status-page.png.
 * Skipped (with the reason) when /usr/bin/chromium is missing, except under
 * TEST_REQUIRE_BROWSER=1 (CI), where that fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestProxy, strictClient, type TestProxy } from './support/proxy.js';
import { killRedisServersUnder, skipWithoutRedis } from './support/redis-binary.js';
import { freePort } from './support/redis-server.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.resolve('test-output', 'status-page.png');
const SLOTS = 16384;
const COLUMNS = 128;

const noBrowser = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (Debian: apt-get install chromium)`;
if (noBrowser !== undefined && process.env.TEST_REQUIRE_BROWSER === '1') {
  throw new Error(`TEST_REQUIRE_BROWSER=1, but the status page suite cannot run: ${noBrowser}`);
}
if (noBrowser !== undefined) process.stdout.write(`# status page suite skipped: ${noBrowser}\n`);
const skip = noBrowser ?? (await skipWithoutRedis());

/** Poll `read` until `done` holds of its value; fail after `ms` saying what was last seen. */
async function until<T>(what: string, ms: number, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; last seen ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the status page in headless Chromium', { skip, timeout: 120_000 }, () => {
  let tp: TestProxy | undefined;
  let dataDir = '';
  let status: { url: string; close(): Promise<void> } | undefined;
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    const httpPort = await freePort();
    tp = await startTestProxy(['--masters', '3', '--replicas', '1', '--no-auto-failover', '--http-port', String(httpPort)]);
    dataDir = tp.dataDir;
    // The proxy's own HTTP server: the page and GET /api/v1/cluster.
    const http = tp.proxy.http;
    assert.ok(http !== undefined, 'the HTTP server runs');
    status = { url: `http://127.0.0.1:${httpPort}/`, close: () => http.close() };
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 });
    await page.goto(status.url);
  });

  after(async () => {
    await browser?.close();
    await status?.close();
    try {
      await tp?.close();
    } finally {
      await killRedisServersUnder(dataDir).catch(() => {}); // whatever a failed close left
    }
  });

  async function saveScreenshot(): Promise<void> {
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = await readFile(SCREENSHOT);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.ok(png.length > 10_000, `a real picture, not an empty one (${png.length} bytes)`);
  }

  const stateOf = (id: string): Promise<string | null> => page.locator(`#nodes tr[data-node-id="${id}"]`).getAttribute('data-state');

  test('masters, slot map and nodes as the cluster has them; figures moving with traffic', async () => {
    assert.ok(tp);
    await page.waitForSelector('#connection[data-connection="live"]', { timeout: 15_000 });
    const map = tp.proxy.server.router.slotMap;
    const masters = map.servingMasters().map((i) => map.masters[i]);
    const idOf = new Map(tp.proxy.cluster.topology.nodes.map((n) => [`${n.host}:${n.port}`, n.id]));
    assert.equal(masters.length, 3);
    assert.equal(await page.getAttribute('#master-count', 'data-master-count'), String(masters.length));

    // The legend: one distinct colour per master, its slot count as the cluster's map says.
    const legend = await page.$$eval('#slot-legend li', (lis) => lis.map((li) => ({ id: li.dataset.masterId, colour: li.dataset.colour, count: Number(li.dataset.slotCount) })));
    assert.equal(legend.length, masters.length, 'one legend entry per master, none for unassigned slots');
    assert.equal(new Set(legend.map((l) => l.colour)).size, masters.length, 'one colour per master');
    const ownerIds = Array.from(map.slotToMaster, (m) => idOf.get(`${map.masters[m].host}:${map.masters[m].port}`));
    for (const l of legend) assert.equal(l.count, ownerIds.filter((id) => id === l.id).length, `${l.id}'s slot count`);
    assert.equal(await page.getAttribute('#slot-map', 'data-slots-covered'), String(SLOTS));

    // The canvas read back: every slot's cell in the colour of the master serving it.
    const cells = await page.$eval(
      '#slot-map',
      (canvas, columns) => {
        const c = canvas as HTMLCanvasElement;
        const cell = c.width / columns;
        const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const hex: string[] = [];
        for (let s = 0; s < columns * columns; s++) {
          const x = (s % columns) * cell + Math.floor(cell / 2);
          const y = Math.floor(s / columns) * cell + Math.floor(cell / 2);
          const p = (y * c.width + x) * 4;
          hex.push('#' + [data[p], data[p + 1], data[p + 2]].map((v) => v.toString(16).padStart(2, '0')).join(''));
        }
        return hex;
      },
      COLUMNS,
    );
    assert.equal(cells.length, SLOTS);
    const colourOf = new Map(legend.map((l) => [l.id, l.colour]));
    const wrong = cells.map((colour, slot) => ({ slot, colour, want: colourOf.get(ownerIds[slot] ?? '') })).filter((c) => c.colour !== c.want);
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} slots drawn in another colour than their master's`);
    assert.equal(new Set(cells).size, masters.length, 'the map shows exactly one colour per master');

    // Every node, one row each, up, with the role the cluster gives it.
    const rows = await page.$$eval('#nodes tbody tr', (trs) => trs.map((tr) => ({ id: tr.dataset.nodeId, state: tr.dataset.state, role: tr.dataset.role, master: tr.dataset.masterId })));
    const nodes = tp.proxy.cluster.topology.nodes;
    assert.deepEqual(rows.map((r) => r.id).sort(), nodes.map((n) => n.id).sort());
    for (const r of rows) assert.equal(r.state, 'up', `${r.id}'s state`);
    assert.deepEqual(rows.filter((r) => r.role === 'master').map((r) => r.id).sort(), [...colourOf.keys()].sort());
    for (const r of rows.filter((r) => r.role === 'replica')) assert.ok(colourOf.has(r.master ?? ''), `replica ${r.id}'s master ${r.master} is a master on the page`);

    // Traffic through the proxy shows on the page at its next refresh.
    const before = Number(await page.getAttribute('#total-commands', 'data-total-commands'));
    const c = await strictClient(tp.port);
    try {
      await Promise.all(Array.from({ length: 2000 }, (_, i) => c.set(`status:${i}`, String(i))));
      const clients = await until('the page to count the client and its 2000 commands', 10_000,
        async () => ({ total: Number(await page.getAttribute('#total-commands', 'data-total-commands')), clients: Number(await page.getAttribute('#connected-clients', 'data-connected-clients')) }),
        (v) => v.total >= before + 2000 && v.clients >= 1);
      assert.ok(clients.total >= before + 2000);
    } finally {
      c.disconnect();
    }
    // The cluster is new: the 2000 keys written are all there is, spread over the masters.
    const keys = await until('the masters\' key counts to add up to the 2000 keys written', 10_000,
      () => page.$$eval('#nodes tbody tr[data-role="master"] td[data-keys]', (tds) => tds.map((td) => td.getAttribute('data-keys'))),
      (ks) => ks.reduce((sum, k) => sum + Number(k), 0) === 2000);
    assert.ok(keys.every((k) => k !== '' && Number(k) > 0), `every master shows its key count: ${keys.join(', ')}`);
  });

  test('a replica killed with SIGKILL shows as failed (a screenshot saved as a PNG), then up again once restarted', async (t) => {
    assert.ok(tp);
    const replicaId = await page.locator('#nodes tbody tr[data-role="replica"]').first().getAttribute('data-node-id');
    assert.ok(replicaId !== null);
    const replica = tp.proxy.cluster.topology.nodes.find((n) => n.id === replicaId);
    assert.ok(replica?.handle !== undefined, `${replicaId} has a pid`);
    const killedAt = Date.now();
    process.kill(Number(replica.handle), 'SIGKILL');
    // What the page shows, read every 50 ms: every state it went through.
    const seen: string[] = [];
    const record = async (): Promise<string | null> => {
      const s = await stateOf(replicaId);
      if (s !== null && seen.at(-1) !== s) seen.push(s);
      return s;
    };
    await until(`${replicaId}'s row to show failed`, 10_000, record, (s) => s === 'failed');
    const failedAfter = Date.now() - killedAt;
    // The other nodes are not affected.
    await saveScreenshot(); // the page with a node down: the picture worth keeping
    const others = await page.$$eval('#nodes tbody tr', (trs) => trs.map((tr) => ({ id: tr.dataset.nodeId, state: tr.dataset.state })));
    assert.deepEqual(others.filter((o) => o.id !== replicaId && o.state !== 'up'), [], 'only the killed node is not up');
    const restarted = await tp.proxy.cluster.restartNode(replicaId);
    assert.notEqual(restarted.handle, replica.handle, 'restarted as a new process');
    const restartedAt = Date.now();
    await until(`${replicaId}'s row to show up again`, 15_000, record, (s) => s === 'up');
    t.diagnostic(`${replicaId}: the page showed ${seen.join(' → ')}; failed ${failedAfter} ms after the kill, up ${Date.now() - restartedAt} ms after the restart`);
  });

  test('the server gone: the page says disconnected and keeps the last figures', async () => {
    assert.ok(status);
    await status.close();
    status = undefined;
    const closedAt = Date.now();
    await page.waitForSelector('#connection[data-connection="disconnected"]', { timeout: 10_000 });
    assert.match((await page.textContent('#connection-text')) ?? '', /disconnected/);
    assert.equal(await page.getAttribute('#master-count', 'data-master-count'), '3', 'the last figures stay');
    const shown = Date.parse((await page.getAttribute('#last-update', 'datetime')) ?? '');
    assert.ok(shown <= closedAt, 'the time shown is that of the last answer, before the server went');
  });
});
