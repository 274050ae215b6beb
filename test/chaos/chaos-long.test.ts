/**
 * Chaos under load, long version (`make chaos`; not part of `make test`): the scenarios of
 * test/chaos.test.ts, CHAOS_ROUNDS rounds (default 3) of each in an order shuffled with
 * CHAOS_SEED (default: the time; printed, so a failing order can be replayed), with more
 * clients, on one cluster per ack mode that lives through all of them. At the end every
 * round's keys are read back once more: a later fault must not cost writes that an
 * earlier round had already seen survive.
 *
 *   CHAOS_ROUNDS=5 CHAOS_SEED=1234 make chaos
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ACK_MODES, SCENARIOS, describeOutcome, proxyForSuite, runScenario, unsupportedFlags, violations, type Scenario } from '../support/chaos-scenarios.js';
import { prng } from '../support/prng.js';
import { skipWithoutRedis } from '../support/redis-binary.js';
import type { LedgerReport, WriteLedger } from '../support/write-ledger.js';

const noRedis = await skipWithoutRedis();
const ROUNDS = Number(process.env.CHAOS_ROUNDS ?? 3);
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`CHAOS_ROUNDS must be a positive integer, got ${process.env.CHAOS_ROUNDS}`);
if (!Number.isInteger(SEED)) throw new Error(`CHAOS_SEED must be an integer, got ${process.env.CHAOS_SEED}`);

/** Every scenario ROUNDS times, in an order drawn from `rng` (Fisher–Yates). */
function schedule(rng: () => number): Scenario[] {
  const runs = Array.from({ length: ROUNDS }, () => SCENARIOS).flat();
  for (let i = runs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [runs[i], runs[j]] = [runs[j], runs[i]];
  }
  return runs;
}

for (const mode of ACK_MODES) {
  describe(`chaos, ${ROUNDS} rounds, seed ${SEED} (CHAOS_SEED), ${mode.name}`, { skip: noRedis || unsupportedFlags(mode.flags) }, () => {
    const proxyOf = proxyForSuite(mode);
    const rng = prng(SEED);
    const done: { name: string; ledger: WriteLedger; report: LedgerReport }[] = [];

    schedule(rng).forEach((scenario, i) => {
      test(`${i + 1}. ${scenario.name}`, async (t) => {
        const proxy = proxyOf();
        const outcome = await runScenario({
          proxy,
          scenario,
          prefix: `long${i}`,
          rng,
          load: { clients: 8, lanes: 4, pauseMs: 2 },
          beforeMs: 2_000,
          afterMs: 2_000,
          healTimeoutMs: 30_000,
        });
        t.diagnostic(describeOutcome(outcome));
        assert.deepEqual(violations(outcome, scenario, mode, proxy), [], `${scenario.name}, ${mode.name}, seed ${SEED}\nproxy log:\n${proxy.logTail()}`);
        done.push({ name: `${i + 1}. ${scenario.name}`, ledger: outcome.ledger, report: outcome.report });
      });
    });

    test('every round\'s acknowledged writes are still there at the end', async (t) => {
      await proxyOf().waitHealthy(30_000);
      let keys = 0;
      for (const { name, ledger, report } of done) {
        const again = await ledger.verify();
        keys += again.acked;
        assert.equal(again.lost.length, report.lost.length, `${name}: ${again.lost.length} acknowledged writes missing now, ${report.lost.length} right after its fault`);
        assert.deepEqual(again.wrongValue, []);
      }
      t.diagnostic(`${done.length} runs, ${keys} acknowledged writes read back again`);
    });
  });
}
