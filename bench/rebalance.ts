/**
 * Keys/s moved by a REBALANCE (issue 6 part 10; to be wired into `make bench-failover`).
 *
 * Forms a cluster (the proxy in this process, its process provider running 4 masters with
 * a replica each, in a temp dir), loads N small keys through the proxy, then:
 *   1. "drain": REMOVE's rebalance, m3's quarter of the slots goes to m0, m1, m2 (one
 *      source, three targets),
 *   2. "rebalance": REBALANCE onto the now empty m3 — what ADD MASTER does: a quarter of
 *      the slots comes from three sources to one target,
 * and checks that every key is still there. Prints one JSON object: per phase slots, keys,
 * ms and keys/s as measured by the migrator (first SETSLOT to last SETSLOT NODE).
 *
 *   npx tsx bench/rebalance.ts [--keys 500000] [--replicas 1] [--batch 1000] [--value-size 16]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startProxy } from '../src/main.js';
import { rebalanceCluster } from '../src/cluster/operations/rebalance.js';
import type { MigrationReport } from '../src/cluster/operations/slot-migration.js';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '500000' },
    replicas: { type: 'string', default: '1' },
    batch: { type: 'string', default: '1000' },
    'value-size': { type: 'string', default: '16' },
  },
});
const KEYS = Number(values.keys);
const VALUE = 'v'.repeat(Number(values['value-size']));
/** Keys per pipeline while loading. */
const LOAD_PIPELINE = 2000;

function phase(name: string, r: MigrationReport) {
  return { phase: name, slots: r.slotsDone, keys: r.keysMoved, replaced: r.keysReplaced, ms: r.elapsedMs, keysPerSecond: r.keysPerSecond };
}

async function load(client: Redis): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < KEYS; i += LOAD_PIPELINE) {
    const p = client.pipeline();
    for (let j = i; j < Math.min(KEYS, i + LOAD_PIPELINE); j++) p.set(`key:${j}`, VALUE);
    const replies = (await p.exec()) ?? [];
    const failed = replies.find(([err]) => err !== null);
    if (failed !== undefined) throw failed[0] as Error;
  }
  return Date.now() - started;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-bench-rebalance-'));
  const log = createLogger({ level: process.env.BENCH_LOG ?? 'warn', pretty: false });
  const config = parseConfig(['--port', '0', '--http-port', '0', '--data-dir', dir, '--masters', '4', '--replicas', String(values.replicas), '--migration-batch', String(values.batch), '--log-level', 'warn']);
  const proxy = await startProxy(config, log);
  const client = new Redis({ port: proxy.server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    const loadMs = await load(client);
    const drain = await rebalanceCluster(proxy.migrator, proxy.cluster, proxy.slotMaps, { exclude: ['m3'], reason: 'bench: drain m3' });
    const even = await rebalanceCluster(proxy.migrator, proxy.cluster, proxy.slotMaps, { reason: 'bench: rebalance onto m3' });
    const dbsize = Number(await client.dbsize());
    const phases = [phase('drain', drain), phase('rebalance', even)];
    const keys = drain.keysMoved + even.keysMoved;
    const ms = drain.elapsedMs + even.elapsedMs;
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'rebalance',
          keysLoaded: KEYS,
          valueSize: VALUE.length,
          replicas: Number(values.replicas),
          migrationBatch: Number(values.batch),
          loadKeysPerSecond: Math.round((KEYS * 1000) / loadMs),
          phases,
          keysPerSecond: Math.round((keys * 1000) / ms),
          keysAfter: dbsize,
          intact: dbsize === KEYS,
        },
        null,
        2,
      )}\n`,
    );
    if (dbsize !== KEYS) process.exitCode = 1;
  } finally {
    client.disconnect();
    await proxy.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
