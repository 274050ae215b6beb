/**
 * What a run of Redis's test suite says (runtest's per-unit logs) and what it means against
 * test/redis-suite/expected-failures.txt; used by run.ts (`make redis-suite`).
 */

/** One test the suite is known to fail through the proxy, and why. */
export interface ExpectedFailure {
  unit: string;
  test: string;
  reason: string;
}

/** What one unit's log says. */
export interface UnitResult {
  unit: string;
  /** Names of the tests that passed (a name run several times appears as often). */
  passed: string[];
  /** Names of the tests that failed ([err]). */
  failed: string[];
  /** [exception] and [TIMEOUT] lines, and why the unit did not finish: each fails the run. */
  broken: string[];
}

/**
 * `unit | test name | reason` lines; '#' starts a comment line. A test name may itself hold
 * ' | '. A reason that starts with `sometimes:` marks a test whose outcome varies from run to
 * run (where the proxy runs a keyless script, when it kills a script): its passing is not reported.
 */
export function parseExpectedFailures(text: string, file: string): ExpectedFailure[] {
  const out: ExpectedFailure[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(' | ');
    if (parts.length < 3) throw new Error(`${file}:${i + 1}: want "unit | test name | reason", got: ${line}`);
    out.push({ unit: parts[0], test: parts.slice(1, -1).join(' | '), reason: parts[parts.length - 1] });
  });
  return out;
}

// eslint-disable-next-line no-control-regex
const COLOR = /\x1b\[[0-9;]*m/g;

/** The results in a runtest log; `exit` is how runtest ended (null: killed after `timeoutMs`). */
export function parseUnitLog(unit: string, log: string, exit: number | null, timeoutMs: number): UnitResult {
  const result: UnitResult = { unit, passed: [], failed: [], broken: [] };
  let finished = false;
  for (const raw of log.split('\n')) {
    const line = raw.replace(COLOR, '');
    let m: RegExpExecArray | null;
    if ((m = /^\[ok\]: (.*) \(\d+ ms\)$/.exec(line))) result.passed.push(m[1]);
    else if ((m = /^\[err\]: (.*) in tests\/\S+\.tcl$/.exec(line))) result.failed.push(m[1]);
    else if (/^\[(exception|TIMEOUT)\]:/.test(line)) result.broken.push(line);
    else if (/^(\\o\/ )?All tests passed without errors!|^!!! WARNING The following tests failed:/.test(line)) finished = true;
  }
  if (exit === null) result.broken.push(`the unit did not finish within ${timeoutMs / 1000} s`);
  else if (!finished && result.broken.length === 0) result.broken.push(`runtest ended (exit ${exit}) before the end of the unit`);
  return result;
}

/** What the results mean against the list: the run fails on `unexpected` and `broken`. */
export interface Verdict {
  unexpected: { unit: string; test: string }[];
  nowPassing: ExpectedFailure[];
  broken: string[];
}

export function compare(results: UnitResult[], expected: ExpectedFailure[]): Verdict {
  const verdict: Verdict = { unexpected: [], nowPassing: [], broken: [] };
  for (const r of results) {
    const listed = expected.filter((e) => e.unit === r.unit);
    for (const test of new Set(r.failed)) if (!listed.some((e) => e.test === test)) verdict.unexpected.push({ unit: r.unit, test });
    for (const e of listed) {
      if (!e.reason.startsWith('sometimes:') && !r.failed.includes(e.test) && r.passed.includes(e.test)) verdict.nowPassing.push(e);
    }
    verdict.broken.push(...r.broken.map((b) => `${r.unit}: ${b}`));
  }
  return verdict;
}

