/**
 * Run by write-ledger.test.ts in a child process: a WriteLedger (no pause between requests)
 * against a redis-server that is SIGKILLed under it, ROUNDS times. The ledger must keep the
 * event loop turning: a 50 ms timer set right after each kill has to fire and stop() has to
 * return. A ledger that spins on a dead connection in microtasks never lets either happen,
 * so this process hangs and the test, which runs it under a deadline, fails.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './redis-server.js';
import { WriteLedger } from './write-ledger.js';

const ROUNDS = 12;

for (let round = 1; round <= ROUNDS; round++) {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await sleep(300);
  const ledger = new WriteLedger({ port, prefix: `kill${round}`, hangMs: 8_000 }).start();
  await sleep(300);
  server.kill('SIGKILL');
  await once(server, 'exit');
  await sleep(50);
  await ledger.stop();
  console.log(`round ${round}: ${ledger.requests} requests, ${ledger.errors.length} errors`);
}
