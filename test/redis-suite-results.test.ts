/**
 * make redis-suite's reading of runtest logs and its verdict against the expected-failures
 * list (test/redis-suite/results.ts), on logs in runtest's own format (colours included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compare, parseExpectedFailures, parseUnitLog } from './redis-suite/results.js';

const GREEN_OK = '[\x1b[0;32;49mok\x1b[0m]';
const RED_ERR = '[\x1b[0;31;49merr\x1b[0m]';

const FINISHED_LOG = [
  'Testing unit/multi',
  `${GREEN_OK}: MULTI / EXEC basics (4 ms)`,
  `${RED_ERR}: MULTI and script timeout in tests/unit/multi.tcl`,
  "Expected '2 3' to match 'EXECABORT*previous errors*'",
  `${GREEN_OK}: MULTI with config error (1 ms)`,
  `${GREEN_OK}: A name | with a bar (0 ms)`,
  '[ignore]: MULTI with BGREWRITEAOF: Not supported on external server',
  '',
  '\x1b[1;31m!!! WARNING\x1b[0m The following tests failed:',
  '',
  '*** [err]: MULTI and script timeout in tests/unit/multi.tcl',
].join('\n');

test('a finished unit: passed and failed names (colours, times and file stripped); the summary at the end is not a second failure', () => {
  const r = parseUnitLog('multi', FINISHED_LOG, 1, 600_000);
  assert.deepEqual(r.passed, ['MULTI / EXEC basics', 'MULTI with config error', 'A name | with a bar']);
  assert.deepEqual(r.failed, ['MULTI and script timeout']);
  assert.deepEqual(r.broken, []);
  const clean = parseUnitLog('quit', `${GREEN_OK}: QUIT (0 ms)\n\n\x1b[1;37m\\o/\x1b[0m \x1b[1;32mAll tests passed without errors!\x1b[0m\n`, 0, 600_000);
  assert.deepEqual(clean, { unit: 'quit', passed: ['QUIT'], failed: [], broken: [] });
});

test('an exception, a TIMEOUT, a unit cut off by the time limit and one that ended early are broken', () => {
  const exception = parseUnitLog('functions', `${GREEN_OK}: a (1 ms)\n[exception]: Executing test client: BUSY Redis is busy running a script.\n`, 1, 600_000);
  assert.match(exception.broken.join(), /^\[exception\]: Executing test client: BUSY/);
  const timeout = parseUnitLog('pubsub', '[\x1b[0;31;49mTIMEOUT\x1b[0m]: clients state report follows.\n', 1, 600_000);
  assert.equal(timeout.broken.length, 1);
  assert.deepEqual(parseUnitLog('geo', `${GREEN_OK}: a (1 ms)\n`, null, 600_000).broken, ['the unit did not finish within 600 s']);
  assert.deepEqual(parseUnitLog('geo', `${GREEN_OK}: a (1 ms)\n`, 1, 600_000).broken, ['runtest ended (exit 1) before the end of the unit']);
});

test('the verdict: an unlisted failure is unexpected; a listed test that passed is reported unless its reason says sometimes; broken units carried', () => {
  const expected = parseExpectedFailures(
    [
      '# comment',
      'multi | MULTI and script timeout | sometimes: placement',
      'multi | MULTI with config error | needs the busy-script handling',
      'scripting | A name | with a bar | a reason',
      'scripting | Script ACL check | ACL SETUSER refused',
    ].join('\n'),
    'list',
  );
  assert.equal(expected[2].test, 'A name | with a bar', 'a name holding " | "');
  const v = compare(
    [
      { unit: 'multi', passed: ['MULTI with config error'], failed: ['MULTI and script timeout', 'Something new', 'Something new'], broken: [] },
      { unit: 'scripting', passed: [], failed: ['Script ACL check'], broken: ['[exception]: x'] },
    ],
    expected,
  );
  assert.deepEqual(v.unexpected, [{ unit: 'multi', test: 'Something new' }]);
  assert.deepEqual(v.nowPassing.map((e) => e.test), ['MULTI with config error']);
  assert.deepEqual(v.broken, ['scripting: [exception]: x']);
  assert.throws(() => parseExpectedFailures('multi | no reason', 'list'), /list:1: want "unit \| test name \| reason"/);
});

test('the repository\'s expected-failures list parses, one test a line, each with a reason', () => {
  const list = parseExpectedFailures(readFileSync(new URL('./redis-suite/expected-failures.txt', import.meta.url), 'utf8'), 'expected-failures.txt');
  assert.ok(list.length > 0);
  for (const e of list) assert.ok(e.unit !== '' && e.test !== '' && e.reason.length > 10, JSON.stringify(e));
  assert.equal(new Set(list.map((e) => `${e.unit}|${e.test}`)).size, list.length, 'no test listed twice');
});
