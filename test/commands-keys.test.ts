import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { arityOk, CMD_NO_MANDATORY_KEYS, COMMANDS, lookupCommand, type CommandInfo } from '../src/commands/command-table.js';
import { keyIndexes, KEYS_INVALID } from '../src/commands/key-extraction.js';
import { buildRequest } from './support/build-request.js';
import { startRedisServer, type RedisServerHandle } from '../scripts/gen-commands.js';

const INVALID = 'invalid';

/** Key positions of a request given as one string ("" for an empty argument) or as args. */
function keys(request: string | string[], includeNotKeys = false): number[] | typeof INVALID {
  const args = typeof request === 'string' ? request.split(' ').map((a) => (a === '""' ? '' : a)) : request;
  const frame = buildRequest(args);
  const cmd = lookupCommand(frame);
  assert.ok(cmd, `unknown command ${args[0]}`);
  const out: number[] = [];
  const n = keyIndexes(cmd, frame, out, includeNotKeys);
  if (n === KEYS_INVALID) return INVALID;
  assert.ok(n >= 0);
  return out.slice(0, n);
}

describe('keyIndexes', () => {
  it('fixed positions: single key, ranges, steps', () => {
    assert.deepEqual(keys('GET k'), [1]);
    assert.deepEqual(keys('SET k v EX 10'), [1]);
    assert.deepEqual(keys('SET k v GET'), [1]);
    assert.deepEqual(keys('BITFIELD k GET u8 0 SET u8 0 1'), [1]);
    assert.deepEqual(keys('MGET a b c'), [1, 2, 3]);
    assert.deepEqual(keys('DEL a b'), [1, 2]);
    assert.deepEqual(keys('MSET a 1 b 2 c 3'), [1, 3, 5]);
    assert.deepEqual(keys('MSETNX a 1 b 2'), [1, 3]);
    assert.deepEqual(keys('RENAME a b'), [1, 2]);
    assert.deepEqual(keys('LMOVE a b LEFT RIGHT'), [1, 2]);
    assert.deepEqual(keys('BLPOP a b c 0'), [1, 2, 3]);
    assert.deepEqual(keys('BITOP AND d a b'), [2, 3, 4]);
    assert.deepEqual(keys('COPY a b DB 1 REPLACE'), [1, 2]);
    assert.deepEqual(keys('SMOVE a b m'), [1, 2]);
    assert.deepEqual(keys('LCS a b LEN'), [1, 2]);
    assert.deepEqual(keys('PFMERGE d a b'), [1, 2, 3]);
  });

  it('keyless commands: 0; wrong arity: invalid', () => {
    assert.deepEqual(keys('PING'), []);
    assert.deepEqual(keys('ECHO hi'), []);
    assert.deepEqual(keys('CONFIG GET maxmemory'), []);
    assert.deepEqual(keys('CLIENT LIST'), []);
    assert.deepEqual(keys('PUBLISH ch m'), []);
    assert.equal(keys('GET'), INVALID);
    assert.equal(keys('GET a b'), INVALID);
    assert.equal(keys('MSET a'), INVALID);
    assert.equal(keys('ECHO'), INVALID);
  });

  it('subcommands: OBJECT, MEMORY USAGE, XINFO, XGROUP', () => {
    assert.deepEqual(keys('OBJECT ENCODING k'), [2]);
    assert.deepEqual(keys('object freq k'), [2]);
    assert.deepEqual(keys('OBJECT HELP'), []);
    assert.deepEqual(keys('MEMORY USAGE k'), [2]);
    assert.deepEqual(keys('MEMORY USAGE k SAMPLES 5'), [2]);
    assert.deepEqual(keys('MEMORY STATS'), []);
    assert.deepEqual(keys('XINFO STREAM k FULL'), [2]);
    assert.deepEqual(keys('XINFO CONSUMERS k g'), [2]);
    assert.deepEqual(keys('XGROUP CREATE k g $ MKSTREAM'), [2]);
    assert.deepEqual(keys('XGROUP CREATECONSUMER k g c'), [2]);
    // Unknown subcommand, or a container alone: invalid (a backend says what is wrong).
    assert.equal(keys('OBJECT NOPE k'), INVALID);
    assert.equal(keys('OBJECT'), INVALID);
    assert.equal(keys('OBJECT ENCODING'), INVALID);
  });

  it('numkeys: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO', () => {
    for (const cmd of ['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']) {
      assert.deepEqual(keys(`${cmd} s 2 a b arg`), [3, 4], cmd);
      assert.deepEqual(keys(`${cmd} s 1 a`), [3], cmd);
      assert.deepEqual(keys(`${cmd} s 0`), [], cmd); // keys are optional for scripts
      assert.deepEqual(keys(`${cmd} s 0 arg`), [], cmd);
      assert.equal(keys(`${cmd} s 3 a b`), INVALID, cmd); // more keys than arguments
      assert.equal(keys(`${cmd} s -1 a`), INVALID, cmd);
      assert.equal(keys(`${cmd} s x a`), INVALID, cmd);
      assert.equal(keys(`${cmd} s 1.5 a`), INVALID, cmd);
      assert.equal(keys(`${cmd} s`), INVALID, cmd);
    }
  });

  it('numkeys: ZUNION/ZINTER/ZDIFF, their STORE forms, ZINTERCARD, SINTERCARD', () => {
    for (const cmd of ['ZUNION', 'ZINTER', 'ZDIFF']) {
      assert.deepEqual(keys(`${cmd} 2 a b WITHSCORES`), [2, 3], cmd);
      assert.equal(keys(`${cmd} 0 a`), INVALID, cmd); // at least one key is required
      assert.equal(keys(`${cmd} 3 a b`), INVALID, cmd);
      assert.equal(keys(`${cmd} x a b`), INVALID, cmd);
    }
    for (const cmd of ['ZUNIONSTORE', 'ZINTERSTORE', 'ZDIFFSTORE']) {
      // Key-spec order: the destination first.
      assert.deepEqual(keys(`${cmd} d 2 a b`), [1, 3, 4], cmd);
      assert.deepEqual(keys(`${cmd} d 1 a`), [1, 3], cmd);
      assert.equal(keys(`${cmd} d 0 a`), INVALID, cmd);
      assert.equal(keys(`${cmd} d 5 a b`), INVALID, cmd);
      assert.equal(keys(`${cmd} d -2 a b`), INVALID, cmd);
    }
    assert.deepEqual(keys('ZUNIONSTORE d 2 a b WEIGHTS 1 2 AGGREGATE MAX'), [1, 3, 4]);
    assert.deepEqual(keys('ZINTERCARD 2 a b LIMIT 10'), [2, 3]);
    assert.deepEqual(keys('SINTERCARD 3 a b c'), [2, 3, 4]);
    assert.equal(keys('SINTERCARD 0 a'), INVALID);
  });

  it('numkeys: LMPOP, BLMPOP, ZMPOP, BZMPOP', () => {
    assert.deepEqual(keys('LMPOP 2 a b LEFT COUNT 2'), [2, 3]);
    assert.deepEqual(keys('ZMPOP 1 a MIN'), [2]);
    assert.deepEqual(keys('BLMPOP 0 2 a b RIGHT'), [3, 4]);
    assert.deepEqual(keys('BZMPOP 1.5 1 a MAX'), [3]);
    assert.equal(keys('LMPOP 0 a LEFT'), INVALID);
    assert.equal(keys('BLMPOP 0 9 a b LEFT'), INVALID);
    assert.equal(keys('BZMPOP 0 x a MAX'), INVALID);
  });

  it('XREAD / XREADGROUP: the first half after STREAMS', () => {
    assert.deepEqual(keys('XREAD STREAMS a b 0 0'), [2, 3]);
    assert.deepEqual(keys('XREAD COUNT 10 BLOCK 0 STREAMS a 0'), [6]);
    assert.deepEqual(keys('xread count 1 streams a b c 1 2 3'), [4, 5, 6]);
    assert.deepEqual(keys('XREADGROUP GROUP g c COUNT 1 NOACK STREAMS a b > >'), [8, 9]);
    // A group or consumer named "streams" is not the keyword (the search starts after them).
    assert.deepEqual(keys('XREADGROUP GROUP streams streams STREAMS a >'), [5]);
    assert.equal(keys('XREAD COUNT 1 a 0'), INVALID); // no STREAMS
    assert.equal(keys('XREAD COUNT 1 BLOCK 0 STREAMS'), INVALID);
  });

  it('SORT / SORT_RO: the sorted key, and STORE destination', () => {
    assert.deepEqual(keys('SORT k'), [1]);
    assert.deepEqual(keys('SORT k STORE d'), [1, 3]);
    assert.deepEqual(keys('SORT k BY w_* GET # GET h_*->f LIMIT 0 10 DESC ALPHA STORE d'), [1, 14]);
    assert.deepEqual(keys('SORT k STORE d1 STORE d2'), [1, 5]); // the last STORE wins, as in SORT
    assert.deepEqual(keys('SORT k GET store'), [1]); // "store" as a GET pattern is skipped
    assert.deepEqual(keys('SORT k LIMIT store 1'), [1]);
    assert.deepEqual(keys('SORT k LIMIT 0 store d'), [1]); // LIMIT takes two arguments
    assert.deepEqual(keys('SORT k STORE'), [1]);
    assert.deepEqual(keys('SORT_RO k BY w_* GET #'), [1]);
    assert.deepEqual(keys('SORT_RO k STORE d'), [1]); // SORT_RO cannot store
  });

  it('MIGRATE: the single key, or KEYS ...', () => {
    assert.deepEqual(keys('MIGRATE h 6379 k 0 5000'), [3]);
    assert.deepEqual(keys('MIGRATE h 6379 k 0 5000 COPY REPLACE'), [3]);
    assert.deepEqual(keys('MIGRATE h 6379 "" 0 5000 KEYS a b c'), [7, 8, 9]);
    assert.deepEqual(keys('MIGRATE h 6379 "" 0 5000 COPY REPLACE AUTH pw KEYS a b'), [11, 12]);
    assert.deepEqual(keys('MIGRATE h 6379 "" 0 5000 AUTH keys KEYS a'), [9]); // a password "keys"
    assert.deepEqual(keys('MIGRATE h 6379 "" 0 5000 AUTH2 keys keys KEYS a'), [10]);
    assert.equal(keys('MIGRATE h 6379 k 0 5000 KEYS a'), INVALID); // KEYS needs an empty key
    // A trailing KEYS with nothing after it is not searched (a keyword is never the last
    // argument), so Redis reports the empty key argument itself.
    assert.deepEqual(keys('MIGRATE h 6379 "" 0 5000 KEYS'), [3]);
    assert.equal(keys('MIGRATE h 6379 k 0'), INVALID);
  });

  it('GEORADIUS / GEORADIUSBYMEMBER: STORE and STOREDIST', () => {
    assert.deepEqual(keys('GEORADIUS k 0 0 10 km'), [1]);
    assert.deepEqual(keys('GEORADIUS k 0 0 10 km WITHDIST STORE d'), [1, 8]);
    assert.deepEqual(keys('GEORADIUS k 0 0 10 km STOREDIST d'), [1, 7]);
    // Both: the key specs report both destinations (GEORADIUS itself uses the last).
    assert.deepEqual(keys('GEORADIUS k 0 0 10 km STORE d1 STOREDIST d2'), [1, 7, 9]);
    assert.deepEqual(keys('GEORADIUS k 0 0 10 km COUNT 5 STORE'), [1]);
    assert.deepEqual(keys('GEORADIUSBYMEMBER k m 10 km STORE d'), [1, 6]);
    assert.deepEqual(keys('GEORADIUSBYMEMBER k m 10 km storedist d'), [1, 6]);
    assert.deepEqual(keys('GEORADIUS_RO k 0 0 10 km'), [1]);
  });

  it('sharded Pub/Sub channels count as keys only when asked', () => {
    assert.deepEqual(keys('SPUBLISH ch m'), []);
    assert.deepEqual(keys('SPUBLISH ch m', true), [1]);
    assert.deepEqual(keys('SSUBSCRIBE a b', true), [1, 2]);
    assert.deepEqual(keys('SUNSUBSCRIBE', true), []);
    assert.deepEqual(keys('GET k', true), [1]);
  });

  it('never throws on hostile input', () => {
    const out: number[] = [];
    const words = ['', 'STORE', 'KEYS', 'STREAMS', 'LIMIT', 'GET', 'BY', 'AUTH', 'AUTH2', 'GROUP', '-1', '0', '1', '2', '99999999999999999999999', 'x'];
    let runs = 0;
    for (const cmd of allEntries()) {
      for (let extra = 0; extra < 7; extra++) {
        for (const w of words) {
          const args = cmd.container ? [cmd.container.name, cmd.name.split('|')[1]] : [cmd.name];
          for (let i = 0; i < extra; i++) args.push(i % 2 === 0 ? w : `a${i}`);
          const frame = buildRequest(args);
          const n = keyIndexes(cmd, frame, out);
          assert.ok(n === KEYS_INVALID || n >= 0);
          for (let i = 0; i < n; i++) assert.ok(out[i] >= 1 && out[i] < args.length, `${args.join(' ')}: ${out[i]}`);
          runs++;
        }
      }
    }
    assert.ok(runs > 10_000);
  });
});

// ---------------------------------------------------------------------------------------
// Differential test against redis-server's COMMAND GETKEYS
// ---------------------------------------------------------------------------------------

function allEntries(): CommandInfo[] {
  return COMMANDS.all().flatMap((c) => (c.subcommands ? c.subcommands.all() : [c]));
}

/** The arguments that name the command: [name] or [container, sub], in varied case. */
function nameArgs(cmd: CommandInfo, variant: number): string[] {
  const names = cmd.container ? [cmd.container.name, cmd.name.slice(cmd.container.name.length + 1)] : [cmd.name];
  return names.map((n) => (variant % 3 === 0 ? n.toUpperCase() : variant % 3 === 1 ? n : n[0].toUpperCase() + n.slice(1)));
}

/**
 * A few hundred systematic requests from the table, plus hand-written tricky ones:
 * - every command and subcommand with argument counts around its arity, filled with
 *   distinct tokens (so a key name identifies its position);
 * - for commands with movable keys, each position replaced by a small number (numkeys
 *   forms) and by each keyword the command's specs or procedure look for.
 */
function corpus(): string[][] {
  const reqs: string[][] = [];
  let variant = 0;
  for (const cmd of allEntries()) {
    const base = nameArgs(cmd, variant++);
    const min = Math.abs(cmd.arity);
    const counts = cmd.arity > 0 ? [min, min + 1] : [min, min + 1, min + 2, min + 3, min + 6];
    for (const argc of counts) {
      if (argc < base.length) continue;
      const args = [...base];
      while (args.length < argc) args.push(`a${args.length}`);
      reqs.push(args);
    }
  }
  const movableWords = ['STORE', 'STOREDIST', 'STREAMS', 'KEYS', 'LIMIT', 'GET', 'BY', 'AUTH', 'AUTH2', 'COUNT', 'BLOCK', 'GROUP', 'NOACK'];
  for (const cmd of allEntries()) {
    if (cmd.keysProc === null && cmd.keySpecs.every((s) => s.bsType === 0 && s.fkType === 0)) continue;
    const base = nameArgs(cmd, variant++);
    for (const argc of [Math.abs(cmd.arity), Math.abs(cmd.arity) + 2, Math.abs(cmd.arity) + 5]) {
      for (let p = base.length; p < argc; p++) {
        const fill = (v: string): string[] => {
          const args = [...base];
          while (args.length < argc) args.push(args.length === p ? v : `a${args.length}`);
          return args;
        };
        for (const n of ['0', '1', '2', '3', '-1']) reqs.push(fill(n));
        for (const w of movableWords) reqs.push(fill(variant % 2 ? w : w.toLowerCase()));
      }
    }
  }
  const tricky = [
    'EVAL s 0',
    'EVAL s 2 a b c d',
    'EVALSHA abc 1 k arg',
    'FCALL f 3 a b c',
    'FCALL_RO f 1 a',
    'ZUNIONSTORE d 2 a b WEIGHTS 1 2',
    'ZINTERSTORE d 1 a AGGREGATE SUM',
    'ZDIFFSTORE d 2 a b',
    'ZUNION 2 a b WITHSCORES',
    'ZINTERCARD 2 a b LIMIT 1',
    'SINTERCARD 2 a b LIMIT 1',
    'LMPOP 2 a b LEFT COUNT 3',
    'BLMPOP 0 2 a b LEFT',
    'ZMPOP 2 a b MIN',
    'BZMPOP 0.5 1 a MAX COUNT 2',
    'XREAD COUNT 1 BLOCK 0 STREAMS a b 0 0',
    'XREAD STREAMS streams streams 0 0',
    'XREAD COUNT streams STREAMS a 0',
    'XREAD STREAMS a b 0',
    'XREADGROUP GROUP g c COUNT 1 NOACK STREAMS a b > >',
    'XREADGROUP GROUP streams c STREAMS a >',
    'XREADGROUP GROUP g c STREAMS a b c > > >',
    'SORT k BY w GET # STORE d LIMIT 0 1',
    'SORT k STORE d STORE e',
    'SORT k LIMIT store 1 STORE x',
    'SORT k GET store STORE d',
    'SORT k STORE',
    'SORT k store limit 0 1',
    'SORT_RO k BY w GET #',
    'MIGRATE h 1 k 0 10',
    'MIGRATE h 1 k 0 10 COPY',
    'MIGRATE h 1 "" 0 10 KEYS a b',
    'MIGRATE h 1 "" 0 10 COPY REPLACE AUTH pw KEYS a b c',
    'MIGRATE h 1 "" 0 10 AUTH2 u keys KEYS a',
    'MIGRATE h 1 "" 0 10 AUTH keys KEYS a b',
    'MIGRATE h 1 k 0 10 KEYS a',
    'MIGRATE h 1 "" 0 10 KEYS',
    'MIGRATE KEYS 1 "" 0 10',
    'GEORADIUS k 0 0 1 km STORE d',
    'GEORADIUS k 0 0 1 km STOREDIST d',
    'GEORADIUS k 0 0 1 km STORE a STOREDIST b',
    'GEORADIUS k 0 0 1 km STORE',
    'GEORADIUS k 0 0 1 km store d WITHDIST',
    'GEORADIUSBYMEMBER k m 1 km STORE d',
    'GEORADIUSBYMEMBER k m 1 km STOREDIST d COUNT 3',
    'GEORADIUS_RO k 0 0 1 km',
    'OBJECT ENCODING k',
    'OBJECT FREQ k',
    'OBJECT HELP x',
    'OBJECT FOO k',
    'MEMORY USAGE k',
    'MEMORY USAGE k SAMPLES 5',
    'MEMORY DOCTOR x',
    'XINFO STREAM k FULL COUNT 5',
    'XINFO GROUPS k',
    'XINFO CONSUMERS k g',
    'XGROUP CREATE k g $ MKSTREAM',
    'XGROUP SETID k g $',
    'CONFIG GET maxmemory',
    'CLIENT KILL ID 1',
    'MSET a 1 b 2 c 3',
    'MSET a 1 b',
    'MGET a b c',
    'BITOP AND d a b',
    'SET k v GET',
    'SET k v EX 10 NX',
    'BITFIELD k GET u8 0 SET u8 0 1',
    'BITFIELD_RO k GET u8 0',
    'SPUBLISH ch m',
    'PUBLISH ch m',
    'SUBSCRIBE a b',
    'COPY a b DB 0',
    'LCS a b',
    'BLMOVE a b LEFT RIGHT 0',
    'RENAME a b',
    'WATCH a b c',
    'PFCOUNT a b',
    'TOUCH a b',
    'EXISTS a a a',
  ];
  for (const t of tricky) reqs.push(t.split(' ').map((a) => (a === '""' ? '' : a)));

  // The option parsers of the getkeys procedures: every sequence of their words (and a
  // plain token) after a fixed prefix.
  const grids: [string[], string[], number][] = [
    [['SORT', 'k'], ['LIMIT', 'GET', 'BY', 'STORE'], 4],
    [['SORT_RO', 'k'], ['LIMIT', 'STORE'], 3],
    [['MIGRATE', 'h', '1', '', '0', '10'], ['KEYS', 'AUTH', 'AUTH2', 'COPY'], 4],
    [['MIGRATE', 'h', '1', 'k', '0', '10'], ['KEYS', 'AUTH'], 3],
    [['XREAD'], ['BLOCK', 'COUNT', 'GROUP', 'NOACK', 'STREAMS'], 5],
    [['XREADGROUP'], ['GROUP', 'COUNT', 'NOACK', 'STREAMS'], 5],
    [['GEORADIUS', 'k', '0', '0', '1', 'km'], ['STORE', 'STOREDIST'], 4],
    [['GEORADIUSBYMEMBER', 'k', 'm', '1', 'km'], ['STORE', 'STOREDIST'], 4],
  ];
  for (const [prefix, words, length] of grids) {
    const choices = [...words, ''];
    const total = choices.length ** length;
    for (let code = 0; code < total; code++) {
      const args = [...prefix];
      let c = code;
      for (let i = 0; i < length; i++, c = Math.floor(c / choices.length)) {
        // '' stands for a plain token, named after its position so keys stay identifiable.
        args.push(choices[c % choices.length] || `x${args.length}`);
      }
      reqs.push(args);
    }
  }
  return reqs;
}

describe('keyIndexes against redis-server COMMAND GETKEYS', () => {
  let server: RedisServerHandle;
  let client: Redis;

  before(async () => {
    server = await startRedisServer();
    client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
  });

  after(async () => {
    client?.disconnect();
    await server?.stop();
  });

  it('agrees on a corpus of every command family', async () => {
    // GETKEYS needs the command plus at least one argument.
    const reqs = corpus().filter((r) => r.length >= 2);
    const pipeline = client.pipeline();
    for (const r of reqs) pipeline.call('COMMAND', 'GETKEYS', ...r);
    const replies = await pipeline.exec();
    assert.ok(replies);
    const out: number[] = [];
    const seen = { keys: 0, empty: 0, noKeys: 0, invalid: 0 };
    reqs.forEach((args, i) => {
      const [err, reply] = replies[i];
      const frame = buildRequest(args);
      const cmd = lookupCommand(frame);
      const what = `COMMAND GETKEYS ${args.map((a) => JSON.stringify(a)).join(' ')}`;
      assert.ok(cmd, `${what}: not in the table`);
      const n = keyIndexes(cmd, frame, out);
      const mine = n > 0 ? out.slice(0, n).map((p) => args[p]) : [];
      if (err) {
        const msg = err.message;
        if (msg.includes('Invalid command specified')) {
          // Unknown subcommand: lookup gives the container, whose keys are invalid.
          assert.notEqual(cmd.subcommands, null, what);
          assert.equal(n, KEYS_INVALID, what);
        } else if (msg.includes('The command has no key arguments')) {
          assert.equal(n, arityOk(cmd, args.length) ? 0 : KEYS_INVALID, what);
          seen.noKeys++;
        } else if (msg.includes('Invalid number of arguments') || msg.includes('Invalid arguments specified')) {
          assert.equal(n, KEYS_INVALID, `${what}: redis says ${msg}, we found ${JSON.stringify(mine)}`);
          seen.invalid++;
        } else {
          assert.fail(`${what}: unexpected error ${msg}`);
        }
        return;
      }
      assert.ok(Array.isArray(reply), what);
      const theirs = reply.map(String);
      if (theirs.length === 0) {
        // Empty: a script with numkeys 0 — or, where we are stricter, a bad numkeys.
        assert.ok(n === 0 || (n === KEYS_INVALID && (cmd.flags & CMD_NO_MANDATORY_KEYS) !== 0), `${what}: got ${n}`);
        seen.empty++;
      } else {
        assert.deepEqual(mine, theirs, what);
        seen.keys++;
      }
    });
    assert.ok(reqs.length > 1000, `corpus of ${reqs.length}`);
    assert.ok(seen.keys > 300 && seen.noKeys > 100 && seen.invalid > 100 && seen.empty > 5, JSON.stringify(seen));
  });

  it('differs only where numkeys is not a strict integer (documented)', async () => {
    // Redis's fallback reads numkeys with atoi(); the command itself rejects these.
    for (const req of [
      ['EVAL', 's', '2abc', 'a', 'b'],
      ['EVAL', 's', '+1', 'a'],
      ['EVAL', 's', '01', 'a'],
      ['ZUNION', ' 2', 'a', 'b'],
      ['EVAL', 's', '4294967297', 'a'],
    ]) {
      const theirs = (await client.call('COMMAND', 'GETKEYS', ...req)) as string[];
      assert.ok(theirs.length > 0, req.join(' '));
      assert.equal(keys(req), INVALID, req.join(' '));
    }
  });
});
