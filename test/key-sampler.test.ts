/**
 * The key sampler (src/ops/key-sampler.ts) and its top-k (src/ops/top-k.ts) on their own,
 * with a clock the test moves: which requests are sampled, the rates it estimates, the
 * bounded counters, the decay of old traffic, and HOTKEYS' and BIGKEYS' lines read back.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeySampler, TRACKED_KEYS } from '../src/ops/key-sampler.js';
import { TopK } from '../src/ops/top-k.js';
import { bigKeyLine, hotKeyLine, parseBigKeyLine, parseHotKeyLine } from '../src/status/key-lines.js';

/** A request `GET <key>` as raw bytes and the key's offsets in it. */
function request(key: string): { raw: Buffer; start: number; end: number } {
  const raw = Buffer.from(`*2\r\n$3\r\nGET\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n`);
  const start = raw.indexOf(key, 13);
  return { raw, start, end: start + Buffer.byteLength(key) };
}

/** Masters by port: one object each, as the router's pools have one endpoint each. */
const masters = new Map<number, { host: string; port: number }>();
const master = (port: number) => masters.get(port) ?? masters.set(port, { host: '127.0.0.1', port }).get(port)!;

/** Send `n` requests of `key` through the sampler as the router does: due() for each, the sampled ones counted with a reply of `replyBytes`. */
function traffic(s: KeySampler, key: string, n: number, replyBytes = 5, port = 7000): void {
  const r = request(key);
  for (let i = 0; i < n; i++) {
    if (!s.due()) continue;
    s.requested(master(port), r.raw, r.start, r.end, r.raw.length).replied(replyBytes);
  }
}

describe('TopK (Space-Saving)', () => {
  test('keeps at most its capacity, and a heavy key survives a stream of one-off keys', () => {
    const top = new TopK<null>(8, () => null, () => undefined);
    for (let i = 0; i < 1000; i++) {
      top.add('heavy', 1);
      top.add(`once:${i}`, 1);
    }
    const all = top.top(100);
    assert.equal(all.length, 8);
    assert.equal(all[0].key, 'heavy');
    assert.ok(all[0].weight >= 1000, `heavy counted at least its 1000: ${all[0].weight}`);
  });
});

describe('KeySampler', () => {
  test('samples about one request in `every`, not a fixed stride', () => {
    const s = new KeySampler({ every: 32 });
    let sampled = 0;
    const gaps = new Set<number>();
    let last = 0;
    for (let i = 1; i <= 320_000; i++) {
      if (!s.due()) continue;
      sampled++;
      gaps.add(i - last);
      last = i;
    }
    assert.ok(sampled > 9000 && sampled < 11000, `about 10 000 sampled: ${sampled}`);
    assert.ok(gaps.size > 10, `gaps vary: ${[...gaps].slice(0, 20).join(',')}`);
    // A client alternating two keys: both get sampled (a fixed even stride would see one only).
    const t = new KeySampler({ every: 32 });
    const a = request('a');
    const b = request('b');
    for (let i = 0; i < 10_000; i++) {
      const r = i % 2 === 0 ? a : b;
      if (t.due()) t.requested(master(7000), r.raw, r.start, r.end, r.raw.length);
    }
    assert.deepEqual(new Set(t.hotKeys(10).map((k) => k.key)), new Set(['a', 'b']));
  });

  test('--hotkeys-sample-rate 0: nothing is sampled', () => {
    const s = new KeySampler({ every: 0 });
    for (let i = 0; i < 100_000; i++) assert.equal(s.due(), false);
    assert.deepEqual(s.hotKeys(10), []);
    assert.throws(() => new KeySampler({ every: -1 }), RangeError);
  });

  test('estimates ops/s and bytes/s from the sample; ranks the hot key first on its shard; names shards', () => {
    let now = 0;
    const s = new KeySampler({ every: 4, tauMs: 10_000, now: () => now, nameShard: (_h, port) => (port === 7000 ? 'm0' : undefined) });
    // 30 s at 1000 requests/s of "hot" and 100/s of "cold" on m0, 50/s of "big" (100 kB replies) on another master.
    for (let second = 0; second < 30; second++) {
      now += 1000;
      traffic(s, 'hot', 1000);
      traffic(s, 'cold', 100);
      traffic(s, 'big', 50, 100_000, 7001);
    }
    const hot = s.hotKeys(10);
    const m0 = hot.filter((k) => k.shard === 'm0');
    assert.deepEqual(m0.map((k) => k.key), ['hot', 'cold']);
    assert.ok(m0[0].opsPerSec > 700 && m0[0].opsPerSec < 1300, `hot ≈ 1000/s: ${m0[0].opsPerSec}`);
    assert.ok(m0[0].share > 0.85 && m0[0].share < 0.95, `hot ≈ 91% of m0: ${m0[0].share}`);
    assert.equal(hot.find((k) => k.key === 'big')?.shard, '127.0.0.1:7001', 'an unnamed shard is its address');
    const big = s.bigKeys(1);
    const b = big.find((k) => k.key === 'big');
    assert.ok(b !== undefined, JSON.stringify(big));
    assert.equal(b.largestReply, 100_000);
    assert.ok(b.readPerSec > 3.5e6 && b.readPerSec < 6.5e6, `big ≈ 5 MB/s read: ${b.readPerSec}`);
    // Traffic stops: 10 s later (one τ) the rate is about e⁻¹ of what it was; two minutes later (12 τ) the keys have faded out of the reports.
    now += 10_000;
    const later = s.hotKeys(1).find((k) => k.key === 'hot');
    assert.ok(later !== undefined && later.opsPerSec > 250 && later.opsPerSec < 500, `hot ≈ 368/s: ${later?.opsPerSec}`);
    now += 110_000;
    assert.deepEqual(s.hotKeys(10), []);
  });

  test('a reply that comes after the sums were scaled down is weighed on the new scale', () => {
    let now = 0;
    const s = new KeySampler({ every: 1, tauMs: 1000, now: () => now });
    const r = request('k');
    now = 27_600; // a request weighs e^27.6 ≈ 1e12: the next weighing scales the sums down
    const sample = s.requested(master(7000), r.raw, r.start, r.end, r.raw.length);
    now = 27_700;
    const other = request('other');
    s.requested(master(7000), other.raw, other.start, other.end, other.raw.length); // weighs e^27.7 > 1e12: scaled
    sample.replied(100);
    const k = s.bigKeys(1)[0];
    // One 100-byte reply over a ~1 s window: about 100 bytes/s, not 10^12 times that.
    assert.ok(k.readPerSec > 10 && k.readPerSec < 1000, `read ${k.readPerSec} bytes/s`);
  });

  test('counters stay bounded per shard however many keys pass', () => {
    const s = new KeySampler({ every: 1 });
    for (let i = 0; i < 5000; i++) traffic(s, `k:${i}`, 1);
    assert.equal(s.hotKeys(1000).length, TRACKED_KEYS);
  });

  test("HOTKEYS' and BIGKEYS' lines read back, a key with spaces included", () => {
    const hot = { key: 'a key with spaces', shard: 'm1', address: '127.0.0.1:7001', opsPerSec: 1234, share: 0.5 };
    assert.equal(hotKeyLine(hot), 'm1 127.0.0.1:7001 ops_per_sec=1234 share=50.0% key=a key with spaces');
    assert.deepEqual(parseHotKeyLine(hotKeyLine(hot)), hot);
    const big = { key: 'v', shard: 'm0', address: '127.0.0.1:7000', readPerSec: 10, writtenPerSec: 2, largestReply: 100, largestRequest: 30 };
    assert.deepEqual(parseBigKeyLine(bigKeyLine(big)), big);
    assert.equal(parseHotKeyLine(bigKeyLine(big)), undefined);
  });
});
