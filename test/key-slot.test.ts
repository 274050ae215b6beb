import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { crc16, keySlot } from '../src/cluster/key-slot.js';
import { startRedisServer, type RedisServerHandle } from '../scripts/gen-commands.js';
import { prng } from './support/prng.js';

const slotOf = (s: string | Buffer): number => keySlot(typeof s === 'string' ? Buffer.from(s) : s);


/**
 * Random binary keys, biased towards '{' and '}' so every hash-tag case (no tag, empty tag,
 * nested braces, '}' before '{', several tags) comes up often.
 */
function randomKeys(count: number, seed: number): Buffer[] {
  const rnd = prng(seed);
  const keys: Buffer[] = [];
  for (let n = 0; n < count; n++) {
    const len = Math.floor(rnd() * 24);
    const key = Buffer.alloc(len);
    for (let i = 0; i < len; i++) {
      const r = rnd();
      key[i] = r < 0.15 ? 0x7b : r < 0.3 ? 0x7d : Math.floor(rnd() * 256);
    }
    keys.push(key);
  }
  return keys;
}

/**
 * cluster-key-slot 1.1.2 gets one case wrong: an empty tag ("{}") followed later by another
 * '}' makes it hash the bytes between the empty tag and that '}', where Redis hashes the
 * whole key (e.g. "foo{}{bar}"). Those keys are checked against redis-server instead.
 */
function packageGetsWrong(key: Buffer): boolean {
  const open = key.indexOf(0x7b);
  return open >= 0 && key[open + 1] === 0x7d && key.indexOf(0x7d, open + 2) >= 0;
}

describe('keySlot', () => {
  it('CRC16-XMODEM check value', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
  });

  it("Redis's vectors", () => {
    assert.equal(slotOf('123456789'), 12739);
    assert.equal(slotOf('foo'), 12182);
    assert.equal(slotOf(''), 0);
    assert.equal(slotOf('{user1000}.following'), slotOf('{user1000}.followers'));
    assert.equal(slotOf('{user1000}.following'), slotOf('user1000'));
    // Empty tag: the whole key is hashed.
    assert.equal(slotOf('foo{}{bar}'), crc16(Buffer.from('foo{}{bar}')) & 0x3fff);
    // The tag runs from the first '{' to the first '}' after it.
    assert.equal(slotOf('foo{{bar}}zap'), slotOf('{bar'));
    assert.equal(slotOf('foo{bar}{zap}'), slotOf('bar'));
    // A '}' before the first '{' does not count; an unclosed '{' means no tag.
    assert.equal(slotOf('}a{b}'), slotOf('b'));
    assert.equal(slotOf('a{bc'), crc16(Buffer.from('a{bc')) & 0x3fff);
  });

  it('hashes a key in place inside a larger buffer', () => {
    const buf = Buffer.from('*2\r\n$3\r\nGET\r\n$20\r\n{user1000}.following\r\n');
    const start = buf.indexOf('{user1000}');
    assert.equal(keySlot(buf, start, start + 20), slotOf('{user1000}.following'));
    const plain = buf.indexOf('GET');
    assert.equal(keySlot(buf, plain, plain + 3), slotOf('GET'));
    // The braces of a neighbouring argument are outside the range and must not be seen.
    const tail = Buffer.from('ab{c}d');
    assert.equal(keySlot(tail, 0, 3), slotOf('ab{'));
    assert.equal(keySlot(tail, 3, 6), slotOf('c}d'));
  });

  it('agrees with cluster-key-slot on random binary keys', () => {
    let compared = 0;
    for (const key of randomKeys(20_000, 1)) {
      if (packageGetsWrong(key)) continue;
      assert.equal(keySlot(key), calculateSlot(key), `key ${key.toString('hex')}`);
      compared++;
    }
    assert.ok(compared > 15_000, `only ${compared} keys compared`);
  });

  describe('against redis-server --cluster-enabled yes (CLUSTER KEYSLOT)', () => {
    let server: RedisServerHandle;
    let client: Redis;

    before(async () => {
      server = await startRedisServer(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']);
      client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
      await client.connect();
    });

    after(async () => {
      client?.disconnect();
      await server?.stop();
    });

    it('random binary keys, tag edge cases and the keys cluster-key-slot gets wrong', async () => {
      const keys = randomKeys(3000, 2);
      keys.push(
        ...['', '{', '}', '{}', '}{', '{{}}', 'foo{}{bar}', '{}a}', 'a{}b}c', 'foo{{bar}}zap', 'foo{bar}{zap}', '{user1000}.following'].map(
          (k) => Buffer.from(k),
        ),
      );
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.call('CLUSTER', 'KEYSLOT', key);
      const replies = await pipeline.exec();
      assert.ok(replies);
      let wrongInPackage = 0;
      keys.forEach((key, i) => {
        const [err, slot] = replies[i];
        assert.equal(err, null);
        assert.equal(keySlot(key), slot, `key ${key.toString('hex')}`);
        if (packageGetsWrong(key)) wrongInPackage++;
      });
      assert.ok(wrongInPackage > 10, 'the sample covers the empty-tag case');
    });
  });
});
