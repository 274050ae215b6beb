import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestFrame } from '../src/resp/frame.js';
import {
  arityOk,
  commandByName,
  COMMANDS,
  CMD_BLOCKING,
  CMD_DENYOOM,
  CMD_FAST,
  CMD_MOVABLE_KEYS,
  CMD_NO_MANDATORY_KEYS,
  CMD_PUBSUB,
  CMD_READONLY,
  CMD_WRITE,
  BS_INDEX,
  BS_UNKNOWN,
  FK_RANGE,
  FK_UNKNOWN,
  KEY_INCOMPLETE,
  KEY_NOT_KEY,
  KEY_VARIABLE_FLAGS,
  lookupCommand,
  REDIS_VERSION,
  type CommandInfo,
} from '../src/commands/command-table.js';
import { buildRequest } from './support/build-request.js';

const lookup = (...args: string[]): CommandInfo | undefined => lookupCommand(buildRequest(args));

function mixedCase(s: string): string {
  return [...s].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
}

describe('lookupCommand', () => {
  it('is case-insensitive on the command name', () => {
    for (const spelling of ['get', 'GET', 'Get', 'gEt']) {
      assert.equal(lookup(spelling, 'k')?.name, 'get');
    }
    assert.equal(lookup('zrangebyscore', 'k', '0', '1')?.name, 'zrangebyscore');
    assert.equal(lookup('ZRANGEBYSCORE', 'k', '0', '1')?.name, 'zrangebyscore');
  });

  it('finds every command and subcommand of the table in any case', () => {
    let checked = 0;
    for (const cmd of COMMANDS.all()) {
      for (const spell of [cmd.name, cmd.name.toUpperCase(), mixedCase(cmd.name)]) {
        assert.equal(lookup(spell)?.name, cmd.name);
        checked++;
      }
      for (const sub of cmd.subcommands?.all() ?? []) {
        const subName = sub.name.slice(cmd.name.length + 1);
        assert.equal(sub.name, `${cmd.name}|${subName}`);
        assert.equal(sub.container, cmd);
        for (const spell of [subName, subName.toUpperCase(), mixedCase(subName)]) {
          assert.equal(lookup(mixedCase(cmd.name), spell, 'x')?.name, sub.name);
          checked++;
        }
      }
    }
    assert.ok(checked > 1000);
  });

  it('resolves subcommands of container commands', () => {
    assert.equal(lookup('OBJECT', 'ENCODING', 'k')?.name, 'object|encoding');
    assert.equal(lookup('object', 'freq', 'k')?.name, 'object|freq');
    assert.equal(lookup('MEMORY', 'USAGE', 'k')?.name, 'memory|usage');
    assert.equal(lookup('XINFO', 'STREAM', 'k')?.name, 'xinfo|stream');
    assert.equal(lookup('xgroup', 'CreateConsumer', 'k', 'g', 'c')?.name, 'xgroup|createconsumer');
    assert.equal(lookup('CLIENT', 'LIST')?.name, 'client|list');
    assert.equal(lookup('CONFIG', 'GET', 'maxmemory')?.name, 'config|get');
    assert.equal(lookup('SCRIPT', 'LOAD', 'return 1')?.name, 'script|load');
    assert.equal(lookup('FUNCTION', 'LIST')?.name, 'function|list');
    assert.equal(lookup('CLUSTER', 'KEYSLOT', 'k')?.name, 'cluster|keyslot');
    assert.equal(lookup('COMMAND', 'GETKEYS', 'GET', 'k')?.name, 'command|getkeys');
    assert.equal(lookup('ACL', 'WHOAMI')?.name, 'acl|whoami');
  });

  it('gives the container for an unknown or missing subcommand', () => {
    const object = lookup('OBJECT', 'NOPE', 'k');
    assert.equal(object?.name, 'object');
    assert.notEqual(object?.subcommands, null);
    assert.equal(lookup('OBJECT')?.name, 'object');
    assert.equal(lookup('CONFIG', 'GET|x')?.name, 'config');
    // A subcommand is only looked for under its own container.
    assert.equal(lookup('MEMORY', 'ENCODING', 'k')?.name, 'memory');
  });

  it('does not know unknown commands, prefixes, extensions, or subcommand names used alone', () => {
    assert.equal(lookup('NOPE'), undefined);
    assert.equal(lookup('GE', 'k'), undefined);
    assert.equal(lookup('GETX', 'k'), undefined);
    assert.equal(lookup('ENCODING', 'k'), undefined);
    assert.equal(lookup('object|encoding', 'k'), undefined);
    assert.equal(lookup(''), undefined);
    assert.equal(lookupCommand(buildRequest([Buffer.from([0xc7, 0x45, 0x54]), 'k'])), undefined); // 'Ç' is not 'G'
    assert.equal(lookupCommand({ raw: Buffer.alloc(0), argc: 0, offsets: [], inline: true }), undefined);
  });

  it('reads the name where the frame says it is (offsets into a larger buffer)', () => {
    const raw = Buffer.from('xxGeTyyKEYzz');
    const frame: RequestFrame = { raw, argc: 2, offsets: [2, 5, 7, 10], inline: false };
    assert.equal(lookupCommand(frame)?.name, 'get');
    const sub = Buffer.from('..object..ENCODING..k');
    assert.equal(lookupCommand({ raw: sub, argc: 3, offsets: [2, 8, 10, 18, 20, 21], inline: false })?.name, 'object|encoding');
  });

  it('commandByName', () => {
    assert.equal(commandByName('GET')?.name, 'get');
    assert.equal(commandByName('Object|Encoding')?.name, 'object|encoding');
    assert.equal(commandByName('object|nope'), undefined);
    assert.equal(commandByName('get|x'), undefined);
  });
});

describe('command table', () => {
  it(`is redis-server ${REDIS_VERSION}'s: every command, with subcommands`, () => {
    assert.match(REDIS_VERSION, /^7\.0\./);
    assert.ok(COMMANDS.all().length >= 230);
    const containers = COMMANDS.all().filter((c) => c.subcommands !== null).map((c) => c.name);
    for (const name of ['acl', 'client', 'cluster', 'command', 'config', 'function', 'memory', 'object', 'script', 'xgroup', 'xinfo']) {
      assert.ok(containers.includes(name), name);
    }
  });

  it('has arity and flags', () => {
    const get = commandByName('get');
    assert.ok(get);
    assert.equal(get.arity, 2);
    assert.equal(get.flags & (CMD_READONLY | CMD_FAST), CMD_READONLY | CMD_FAST);
    assert.equal(get.flags & CMD_WRITE, 0);
    const set = commandByName('set');
    assert.ok(set);
    assert.equal(set.arity, -3);
    assert.equal(set.flags & (CMD_WRITE | CMD_DENYOOM), CMD_WRITE | CMD_DENYOOM);
    assert.ok((commandByName('blpop')?.flags ?? 0) & CMD_BLOCKING);
    assert.ok((commandByName('subscribe')?.flags ?? 0) & CMD_PUBSUB);
    assert.ok((commandByName('eval')?.flags ?? 0) & CMD_NO_MANDATORY_KEYS);
    assert.equal(commandByName('object|encoding')?.arity, 3);
  });

  it('arityOk', () => {
    const get = commandByName('get');
    const mset = commandByName('mset');
    assert.ok(get && mset);
    assert.equal(arityOk(get, 2), true);
    assert.equal(arityOk(get, 3), false);
    assert.equal(arityOk(get, 1), false);
    assert.equal(arityOk(mset, 3), true);
    assert.equal(arityOk(mset, 9), true);
    assert.equal(arityOk(mset, 2), false);
  });

  it('every command whose key specs cannot find its keys alone has a getkeys procedure', () => {
    for (const cmd of allEntries()) {
      const needsProc = cmd.keySpecs.some(
        (s) => s.bsType === BS_UNKNOWN || s.fkType === FK_UNKNOWN || (s.flags & (KEY_INCOMPLETE | KEY_VARIABLE_FLAGS)) !== 0,
      );
      if (needsProc) assert.notEqual(cmd.keysProc, null, cmd.name);
    }
  });

  it('movablekeys commands are exactly those with non-trivial key specs', () => {
    // Redis sets movablekeys when a spec is not (index, range); check the table agrees.
    for (const cmd of allEntries()) {
      const movable = cmd.keySpecs.some((s) => s.bsType !== BS_INDEX || s.fkType !== FK_RANGE);
      assert.equal((cmd.flags & CMD_MOVABLE_KEYS) !== 0, movable, cmd.name);
    }
  });

  it('marks the channels of sharded Pub/Sub as NOT_KEY', () => {
    for (const name of ['spublish', 'ssubscribe', 'sunsubscribe']) {
      const cmd = commandByName(name);
      assert.ok(cmd);
      assert.equal(cmd.hasKeys, false);
      assert.equal(cmd.hasNotKeys, true);
      assert.ok(cmd.keySpecs.every((s) => s.flags & KEY_NOT_KEY));
    }
  });
});

function allEntries(): CommandInfo[] {
  return COMMANDS.all().flatMap((c) => [c, ...(c.subcommands?.all() ?? [])]);
}
