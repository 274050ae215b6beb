/**
 * Chaos under load, short version (issue 6 part 9; `make chaos` runs the long one): the
 * real executable over 3 masters with a replica each, a WriteLedger load of acknowledged
 * writes through it, and one fault at a time from the SCENARIOS table — kill -9 a replica,
 * kill -9 a master, SIGSTOP a master past --node-timeout, kill -9 the proxy and start it
 * again. After each: the cluster heals to 3 masters with a replica each, every acknowledged
 * write is read back (with --ack master only writes its shard acknowledged in the last
 * second before the fault may be missing; none for a replica or the proxy killed), no
 * request hung, the proxy never crashed, and it exits 0 when stopped.
 *
 * One cluster per ack mode; the scenarios run on it in turn, each with its own keys.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ACK_MODES, SCENARIOS, describeOutcome, proxyForSuite, runScenario, unsupportedFlags, violations } from './support/chaos-scenarios.js';
import { prng } from './support/prng.js';
import { skipWithoutRedis } from './support/redis-binary.js';

const noRedis = await skipWithoutRedis();
const SEED = 69;

for (const mode of ACK_MODES) {
  describe(`chaos under write load, ${mode.name} (3 masters, 1 replica each)`, { skip: noRedis || unsupportedFlags(mode.flags) }, () => {
    const proxyOf = proxyForSuite(mode);
    const rng = prng(SEED);

    SCENARIOS.forEach((scenario, i) => {
      test(scenario.name, async (t) => {
        const proxy = proxyOf();
        const outcome = await runScenario({ proxy, scenario, prefix: `chaos${i}`, rng });
        t.diagnostic(describeOutcome(outcome));
        assert.deepEqual(violations(outcome, scenario, mode, proxy), [], `${scenario.name}, ${mode.name}\nproxy log:\n${proxy.logTail()}`);
        assert.ok(outcome.report.acked > 100, `the load ran: ${outcome.report.acked} writes acknowledged`);
      });
    });
  });
}
