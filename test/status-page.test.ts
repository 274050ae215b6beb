/**
 * The live status page (src/http/public/) in a real headless Chromium (Debian's package,
 * driven by playwright-core) against real proxies over real redis-servers.
 *
 * One proxy over 3 masters with a replica each, healing itself (auto failover on):
 *   - the page shows as many masters as the cluster has, a slot map whose 16 384 cells are
 *     each drawn in the colour of the master that serves the slot (read back from the
 *     canvas), every node with state up, the header's health ok, and the proxy's command
 *     count moving with traffic;
 *   - a replica's redis-server killed with SIGKILL: the proxy restarts it at once (about
 *     100 ms here, far inside the 1 s poll), and the timeline, fed by the event stream,
 *     shows it going down and coming up; after a reload too (the proxy keeps the history).
 *     A screenshot of the page is saved to test-output/status-page.png;
 *   - load through the proxy moves the charts: the ops/s chart gets new points and its
 *     latest value is above 0, the latency chart has a value;
 *   - a planned FAILOVER of a master: every slot keeps its colour (the shard's, not the
 *     list position's), though another node serves it now;
 *   - at 360 px wide nothing overflows (the page, each card), screenshot
 *     test-output/status-page-360.png; /favicon.ico and the linked SVG icon answer 200;
 *   - the server gone: the page says disconnected.
 * One proxy over 2 masters without replicas, --no-auto-failover, --admin-password: the page
 * asks for the password, and with it gets the figures and the event stream; a master killed
 * with SIGKILL turns the header to down with the reason, and is in the timeline
 * (test-output/status-page-down.png).
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
const OUTPUT = path.resolve('test-output');
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

/** A proxy with its HTTP server, and a page on it in Chromium. */
interface PageRig {
  tp: TestProxy;
  url: string;
  page: Page;
}

/** A proxy started with `flags`, and a page open on it (live, unless `o.live` is false: a page that must ask for the password first). */
async function openRig(browser: Browser, flags: string[], o: { live?: boolean } = {}): Promise<PageRig> {
  const httpPort = await freePort();
  const tp = await startTestProxy([...flags, '--http-port', String(httpPort)]);
  assert.ok(tp.proxy.http !== undefined, 'the HTTP server runs');
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 });
  const url = `http://127.0.0.1:${httpPort}/`;
  await page.goto(url);
  if (o.live !== false) await page.waitForSelector('#connection[data-connection="live"]', { timeout: 15_000 });
  return { tp, url, page };
}

async function closeRig(rig: PageRig | undefined): Promise<void> {
  if (rig === undefined) return;
  await rig.page.close().catch(() => {});
  try {
    await rig.tp.close();
  } finally {
    await killRedisServersUnder(rig.tp.dataDir).catch(() => {}); // whatever a failed close left
  }
}

async function saveScreenshot(page: Page, name: string): Promise<void> {
  const file = path.join(OUTPUT, name);
  await mkdir(OUTPUT, { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
  const png = await readFile(file);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.ok(png.length > 10_000, `a real picture, not an empty one (${png.length} bytes)`);
}

/** Every slot's cell of the canvas, as #rrggbb: read back from its pixels. */
function slotColours(page: Page): Promise<string[]> {
  return page.$eval(
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
}

interface TimelineEntry {
  id: string;
  kind: string;
  node: string;
  to: string;
  at: string;
  text: string;
}

/** The timeline's entries, oldest first. */
async function timeline(page: Page): Promise<TimelineEntry[]> {
  const items = await page.$$eval('#timeline li.event', (lis) =>
    lis.map((li) => ({
      id: li.dataset.eventId ?? '',
      kind: li.dataset.kind ?? '',
      node: li.dataset.node ?? '',
      to: li.dataset.to ?? '',
      at: li.querySelector('time')?.getAttribute('datetime') ?? '',
      text: li.querySelector('.event-text')?.textContent ?? '',
    })),
  );
  return items.reverse();
}

describe('the status page in headless Chromium', { skip, timeout: 240_000 }, () => {
  let browser: Browser | undefined;

  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
  });

  describe('a cluster of 3 masters with a replica each, healing itself', () => {
    let rig: PageRig | undefined;
    let page: Page;

    before(async () => {
      assert.ok(browser);
      rig = await openRig(browser, ['--masters', '3', '--replicas', '1']);
      page = rig.page;
    });

    after(async () => {
      await closeRig(rig);
    });

    test('masters, slot map and nodes as the cluster has them; health ok; figures moving with traffic', async () => {
      assert.ok(rig);
      const { tp } = rig;
      const map = tp.proxy.server.router.slotMap;
      const masters = map.servingMasters().map((i) => map.masters[i]);
      const idOf = new Map(tp.proxy.cluster.topology.nodes.map((n) => [`${n.host}:${n.port}`, n.id]));
      assert.equal(masters.length, 3);
      assert.equal(await page.getAttribute('#master-count', 'data-master-count'), String(masters.length));
      await page.waitForSelector('#health[data-health="ok"]', { timeout: 10_000 });
      assert.equal(await page.textContent('#health-status'), 'ok');

      // The legend: one distinct colour per master, its slot count as the cluster's map says.
      const legend = await page.$$eval('#slot-legend li', (lis) => lis.map((li) => ({ id: li.dataset.masterId, colour: li.dataset.colour, count: Number(li.dataset.slotCount) })));
      assert.equal(legend.length, masters.length, 'one legend entry per master, none for unassigned slots');
      assert.equal(new Set(legend.map((l) => l.colour)).size, masters.length, 'one colour per master');
      const ownerIds = Array.from(map.slotToMaster, (m) => idOf.get(`${map.masters[m].host}:${map.masters[m].port}`));
      for (const l of legend) assert.equal(l.count, ownerIds.filter((id) => id === l.id).length, `${l.id}'s slot count`);
      assert.equal(await page.getAttribute('#slot-map', 'data-slots-covered'), String(SLOTS));

      // The canvas read back: every slot's cell in the colour of the master serving it.
      const cells = await slotColours(page);
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

    test('a replica killed with SIGKILL and restarted by the proxy at once: down and up in the timeline, kept across a reload', async (t) => {
      assert.ok(rig);
      const { tp } = rig;
      const replicaId = await page.locator('#nodes tbody tr[data-role="replica"]').first().getAttribute('data-node-id');
      assert.ok(replicaId !== null);
      const replica = tp.proxy.cluster.topology.nodes.find((n) => n.id === replicaId);
      assert.ok(replica?.handle !== undefined, `${replicaId} has a pid`);
      await page.waitForSelector('#timeline-section[data-stream="live"]', { timeout: 10_000 });
      const killedAt = new Date();
      process.kill(Number(replica.handle), 'SIGKILL');
      const ofReplica = (entries: TimelineEntry[]) => entries.filter((e) => e.node === replicaId && Date.parse(e.at) >= killedAt.getTime() - 1000);
      const entries = await until(`${replicaId} down and up again in the timeline`, 15_000, async () => ofReplica(await timeline(page)), (es) => {
        const down = es.findIndex((e) => e.to === 'failed');
        return down !== -1 && es.slice(down + 1).some((e) => e.to === 'up');
      });
      const down = entries.find((e) => e.to === 'failed')!;
      const up = entries.filter((e) => e.to === 'up').at(-1)!;
      assert.match(down.text, new RegExp(`^${replicaId} (up|suspect) → failed: its process exited$`));
      assert.ok(entries.some((e) => e.kind === 'node-restarted'), `its restart is there: ${entries.map((e) => e.text).join(' | ')}`);
      t.diagnostic(`${replicaId} in the timeline: ${entries.map((e) => `${e.to || e.kind}@${e.at.slice(11)}`).join(' → ')}; down for ${Date.parse(up.at) - Date.parse(down.at)} ms`);
      await until(`${replicaId}'s row up again`, 15_000, () => page.locator(`#nodes tr[data-node-id="${replicaId}"]`).getAttribute('data-state'), (s) => s === 'up');
      await saveScreenshot(page, 'status-page.png');

      // A reload shows the same history: the proxy kept it.
      await page.reload();
      const again = await until('the timeline after a reload', 10_000, async () => ofReplica(await timeline(page)), (es) => es.length >= entries.length);
      assert.deepEqual(again.map((e) => e.id).slice(0, entries.length), entries.map((e) => e.id));
    });

    test('load through the proxy moves the charts: new points, a latest ops/s above 0, a latency', async () => {
      assert.ok(rig);
      await page.waitForSelector('#timeline-section[data-stream="live"]', { timeout: 10_000 });
      await page.waitForSelector('#charts-section[data-history="loaded"]', { timeout: 10_000 });
      const chart = async (id: string) =>
        page.$eval(`#${id}`, (f) => ({
          points: Number((f as HTMLElement).dataset.points),
          latest: (f as HTMLElement).dataset.latest ?? '',
          path: f.querySelector('path.series')?.getAttribute('d') ?? '',
        }));
      const before = await chart('chart-ops');
      const c = await strictClient(rig.tp.port);
      let loaded: Awaited<ReturnType<typeof chart>>;
      try {
        // Pipelines of SETs until two new samples, taken under the load, are drawn (one comes
        // every 2 s; a master's rate needs the sample before it).
        loaded = await until('the ops/s chart to show the load', 30_000, async () => {
          const pipeline = c.pipeline();
          for (let i = 0; i < 500; i++) pipeline.set(`chart:${i}`, 'v');
          await pipeline.exec();
          return chart('chart-ops');
        }, (v) => v.points >= before.points + 2 && Number(v.latest) > 0);
      } finally {
        c.disconnect();
      }
      assert.ok(loaded.points > before.points, `points: ${before.points} → ${loaded.points}`);
      assert.notEqual(loaded.path, before.path, 'the line moved');
      const latency = await chart('chart-latency');
      assert.ok(Number(latency.latest) > 0, `p50 shown: ${latency.latest}`);
      assert.match((await page.textContent('#chart-ops .chart-value')) ?? '', /proxy \d/);
      const perMaster = await page.$$eval('#chart-master-ops path.series', (ps) => ps.map((p) => p.getAttribute('data-series')));
      assert.deepEqual(perMaster.sort(), ['m0', 'm1', 'm2'], 'a line per shard');
      const axis = await page.$$eval('#chart-ops text.label', (ts) => ts.map((t) => t.textContent));
      assert.ok(axis.includes('now') && axis.includes('−15 min') && axis.includes('0'), `axis labels: ${axis.join(', ')}`);
    });

    test('a planned failover: every slot keeps its shard\'s colour though another node serves it', async () => {
      assert.ok(rig);
      const before = await slotColours(page);
      const legendBefore = await page.$$eval('#slot-legend li', (lis) => lis.map((li) => `${li.dataset.shard}=${li.dataset.colour}`));
      const res = await fetch(`${rig.url}api/v1/cluster/failover`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ master: 'm1' }) });
      assert.equal(res.status, 200, await res.text());
      await until('m1r0 to be the master on the page', 15_000, () => page.$$eval('#slot-legend li', (lis) => lis.map((li) => li.dataset.masterId)), (ids) => ids.includes('m1r0') && !ids.includes('m1'));
      const after = await slotColours(page);
      const changed = after.map((colour, slot) => ({ slot, colour, was: before[slot] })).filter((c) => c.colour !== c.was);
      assert.deepEqual(changed.slice(0, 5), [], `${changed.length} slots changed colour`);
      assert.deepEqual(await page.$$eval('#slot-legend li', (lis) => lis.map((li) => `${li.dataset.shard}=${li.dataset.colour}`)), legendBefore);
      const failover = await until('the failover in the timeline', 10_000, async () => (await timeline(page)).filter((e) => e.kind === 'failover'), (es) => es.length > 0);
      assert.match(failover[0].text, /^planned failover: m1r0 took over from m1 in \d+ ms$/);
    });

    test('at 360 px wide nothing overflows: not the page, not a card (the slot map scales, the table scrolls in its card)', async () => {
      assert.ok(rig);
      await page.setViewportSize({ width: 360, height: 800 });
      try {
        // A refresh and a chart redraw at the new width.
        await page.waitForTimeout(1500);
        const sizes = await page.evaluate(() => ({
          page: { scroll: document.documentElement.scrollWidth, inner: window.innerWidth },
          sections: [...document.querySelectorAll('section')].map((s) => ({ id: s.id, scroll: s.scrollWidth, client: s.clientWidth })),
          map: document.getElementById('slot-map')!.getBoundingClientRect().width,
          table: (() => {
            const box = document.querySelector('.table-scroll')!;
            return { scroll: box.scrollWidth, client: box.clientWidth };
          })(),
        }));
        assert.ok(sizes.page.scroll <= sizes.page.inner, `the page is ${sizes.page.scroll} px wide in ${sizes.page.inner}`);
        assert.equal(sizes.sections.length, 7); // with the hot keys / big keys panel
        for (const s of sizes.sections) assert.ok(s.scroll <= s.client, `section ${s.id}: ${s.scroll} px of content in ${s.client}`);
        assert.ok(sizes.map < 360, `the slot map scaled down to ${sizes.map} px`);
        assert.ok(sizes.table.scroll > sizes.table.client, 'the nodes table scrolls inside its card');
        await saveScreenshot(page, 'status-page-360.png');
      } finally {
        await page.setViewportSize({ width: 1280, height: 1000 });
      }
    });

    test('/favicon.ico answers (the SVG icon the page links); no request of the page fails', async () => {
      assert.ok(rig);
      const ico = await fetch(`${rig.url}favicon.ico`);
      assert.equal(ico.status, 200);
      assert.equal(ico.headers.get('content-type'), 'image/svg+xml');
      assert.match(await ico.text(), /^<svg /);
      const href = await page.getAttribute('link[rel="icon"]', 'href');
      assert.equal(href, 'favicon.svg');
      assert.equal((await fetch(new URL(href, rig.url))).status, 200);
      const failed: string[] = [];
      page.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      await page.reload();
      await page.waitForSelector('#connection[data-connection="live"]', { timeout: 10_000 });
      assert.deepEqual(failed, []);
    });

    test('the server gone: the page says disconnected and keeps the last figures', async () => {
      assert.ok(rig);
      const http = rig.tp.proxy.http;
      assert.ok(http);
      await http.close();
      const closedAt = Date.now();
      await page.waitForSelector('#connection[data-connection="disconnected"]', { timeout: 10_000 });
      assert.match((await page.textContent('#connection-text')) ?? '', /disconnected/);
      assert.equal(await page.getAttribute('#master-count', 'data-master-count'), '3', 'the last figures stay');
      assert.equal(await page.getAttribute('#health', 'data-health'), 'unknown', 'no health claimed without an answer');
      const shown = Date.parse((await page.getAttribute('#last-update', 'datetime')) ?? '');
      assert.ok(shown <= closedAt, 'the time shown is that of the last answer, before the server went');
    });
  });

  describe('2 masters, no replicas, --no-auto-failover, --admin-password', () => {
    const ADMIN = 'page-secret';
    let rig: PageRig | undefined;

    before(async () => {
      assert.ok(browser);
      rig = await openRig(browser, ['--masters', '2', '--replicas', '0', '--no-auto-failover', '--admin-password', ADMIN], { live: false });
    });

    test('the page asks for the admin password; with it, the figures and the event stream come (the stream sends it too)', async () => {
      assert.ok(rig);
      const { page } = rig;
      await page.waitForSelector('#auth:not([hidden])', { timeout: 10_000 });
      await page.waitForSelector('#timeline-section[data-stream="reconnecting"]', { timeout: 10_000 });
      assert.match((await page.textContent('#timeline-state')) ?? '', /admin password/);
      await page.fill('#auth-token', ADMIN);
      await page.click('#auth button[type="submit"]');
      await page.waitForSelector('#connection[data-connection="live"]', { timeout: 10_000 });
      await page.waitForSelector('#timeline-section[data-stream="live"]', { timeout: 10_000 });
      assert.equal(await page.isHidden('#auth'), true);
    });

    after(async () => {
      await closeRig(rig);
    });

    test('a master killed with SIGKILL: the header says down, and why; the timeline says it failed', async () => {
      assert.ok(rig);
      const { page, tp } = rig;
      await page.waitForSelector('#health[data-health="ok"]', { timeout: 10_000 });
      const victim = tp.proxy.cluster.topology.nodes.find((n) => n.id === 'm1');
      assert.ok(victim?.handle !== undefined);
      process.kill(Number(victim.handle), 'SIGKILL');
      await page.waitForSelector('#health[data-health="down"]', { timeout: 15_000 });
      assert.equal(await page.textContent('#health-status'), 'down');
      assert.match((await page.textContent('#health-reason')) ?? '', /^8192 slots have no serving master: m1 is failed\b/);
      // Its slots keep their shard's colour on the map, hatched: not served.
      const m1 = page.locator('#slot-legend li[data-master-id="m1"]');
      assert.equal(await m1.getAttribute('data-serving'), 'false');
      assert.match((await m1.textContent()) ?? '', /failed: not served/);
      const failed = await until('m1 failed in the timeline', 10_000, async () => (await timeline(page)).filter((e) => e.node === 'm1' && e.to === 'failed'), (es) => es.length > 0);
      // Its dropped connection may make it suspect a moment before the provider sees the exit.
      assert.match(failed[0].text, /^m1 (up|suspect) → failed: its process exited$/);
      // The API says the same: the page only shows it.
      const body = (await (await fetch(`${rig.url}api/v1/cluster`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { health: { status: string; reasons: string[] } };
      assert.equal(body.health.status, 'down');
      assert.equal(body.health.reasons[0], '8192 slots have no serving master: m1 is failed');
      await saveScreenshot(page, 'status-page-down.png');
    });
  });
});
