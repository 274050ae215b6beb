/**
 * Issue 13 part 3: what clients that do not read cost the proxy and its other clients.
 *
 * The real executable (`make run`'s shape: 3 masters, a replica each) on a temp data dir.
 * `SET big <100 KB>`; then ten raw TCP clients each send N pipelined `GET big` and read
 * nothing, stay for --hold seconds, and leave (close). Meanwhile one ioredis client times
 * `GET {big}small` one after another (a key of the same master, so it shares the backend
 * connections the non-reading clients' GETs go through). Measured:
 * - the proxy's RSS: idle before, peak (VmHWM) during, and at +2 s / +10 s after they left;
 * - the normal client's GET latency p50 / p99 / max during the attack, and its errors;
 * - failovers the proxy made (INFO # Nodes failovers_automatic) and clients it evicted
 *   (INFO stats evicted_clients).
 *
 *   npx tsx bench/client-memory.ts [--clients 10] [--gets 20000] [--hold 15] [--proxy-arg=--maxmemory-clients=0]
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { ProxyProcess } from '../test/support/proxy-process.js';
import { strictClient } from '../test/support/write-ledger.js';
import { sleep } from '../src/nodes/wait.js';
import { memoryOf } from './lib/procs.js';
import { optionsOrExitCode } from './lib/cli.js';

const HELP = `usage: npx tsx bench/client-memory.ts [options]

  --clients N       non-reading clients (default 10)
  --gets N          GET big each of them pipelines (default 20000)
  --value-kb N      size of big in KB (default 100)
  --hold S          seconds they stay connected without reading (default 15)
  --proxy-arg=ARG   an extra flag for the proxy (repeatable), e.g. --proxy-arg=--maxmemory-clients=0`;

interface Options {
  clients: number;
  gets: number;
  valueKb: number;
  holdS: number;
  proxyArgs: string[];
}

function parse(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string', default: '10' },
      gets: { type: 'string', default: '20000' },
      'value-kb': { type: 'string', default: '100' },
      hold: { type: 'string', default: '15' },
      'proxy-arg': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  return {
    clients: Number(values.clients),
    gets: Number(values.gets),
    valueKb: Number(values['value-kb']),
    holdS: Number(values.hold),
    proxyArgs: values['proxy-arg'],
  };
}

const GET_BIG = Buffer.from('*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n');

/** A client that sends `gets` GET big at once and never reads (its socket stays paused). */
function nonReader(port: number, gets: number): net.Socket {
  const s = net.connect({ host: '127.0.0.1', port });
  s.pause();
  s.on('error', () => {}); // evicted: fine, that is what is measured
  s.write(Buffer.concat(new Array<Buffer>(gets).fill(GET_BIG)));
  return s;
}

/** GETs one after another until `stop()`; latencies in ms. */
function timeGets(c: Redis): { latencies: number[]; errors: string[]; stop(): Promise<void> } {
  const latencies: number[] = [];
  const errors: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      try {
        await c.get('{big}small');
        latencies.push(performance.now() - t);
      } catch (err) {
        errors.push((err as Error).message);
        await sleep(10);
      }
    }
  })();
  return {
    latencies,
    errors,
    async stop() {
      running = false;
      await loop;
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function infoField(c: Redis, section: string, field: string): Promise<string> {
  const text = String(await c.call('INFO', section));
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '?';
}

async function main(): Promise<number> {
  const opts = optionsOrExitCode(parse, HELP);
  if (typeof opts === 'number') return opts;
  const proxy = await ProxyProcess.start({ masters: 3, replicas: 1, flags: opts.proxyArgs });
  const mb = (kb: number | undefined) => (kb === undefined ? NaN : Math.round(kb / 102.4) / 10);
  try {
    await proxy.waitHealthy(30_000);
    const pid = proxy.pid!;
    const admin = await strictClient(proxy.port, 10_000);
    await admin.set('big', Buffer.alloc(opts.valueKb * 1024, 'x'));
    await admin.set('{big}small', 'v');
    const failoversBefore = await infoField(admin, 'nodes', 'failovers_automatic');
    await sleep(2_000);
    const idle = memoryOf(pid);

    const normal = await strictClient(proxy.port, 30_000);
    const timing = timeGets(normal);
    await sleep(1_000);
    const before = timing.latencies.length;
    const started = performance.now();
    const attackers = Array.from({ length: opts.clients }, () => nonReader(proxy.port, opts.gets));
    let peakDuring = 0;
    const sampler = setInterval(() => (peakDuring = Math.max(peakDuring, memoryOf(pid)?.rssKb ?? 0)), 100);
    await sleep(opts.holdS * 1_000);
    const during = timing.latencies.slice(before).sort((a, b) => a - b);
    const errorsDuring = timing.errors.length;
    for (const a of attackers) a.destroy();
    const attackS = (performance.now() - started) / 1000;
    await sleep(2_000);
    const after2 = memoryOf(pid);
    await sleep(8_000);
    const after10 = memoryOf(pid);
    clearInterval(sampler);
    await timing.stop();
    const failoversAfter = await infoField(admin, 'nodes', 'failovers_automatic');
    const evicted = await infoField(admin, 'stats', 'evicted_clients');
    const hwm = memoryOf(pid)?.hwmKb;
    normal.disconnect();
    admin.disconnect();

    const rows: [string, string][] = [
      ['proxy flags', opts.proxyArgs.join(' ') || '(defaults)'],
      ['non-reading clients × GETs × value', `${opts.clients} × ${opts.gets} × ${opts.valueKb} KB, held ${opts.holdS} s`],
      ['RSS idle (MB)', String(mb(idle?.rssKb))],
      ['RSS peak during (MB, sampled / VmHWM)', `${mb(peakDuring)} / ${mb(hwm)}`],
      ['RSS +2 s after they left (MB)', String(mb(after2?.rssKb))],
      ['RSS +10 s after they left (MB)', String(mb(after10?.rssKb))],
      ['normal client GETs during', `${during.length} in ${attackS.toFixed(1)} s`],
      ['normal client p50 / p99 / max (ms)', `${percentile(during, 50).toFixed(2)} / ${percentile(during, 99).toFixed(2)} / ${(during.at(-1) ?? NaN).toFixed(1)}`],
      ['normal client errors', String(errorsDuring)],
      ['clients evicted (INFO evicted_clients)', evicted],
      ['failovers (automatic)', `${failoversBefore} → ${failoversAfter}`],
    ];
    process.stdout.write(`| measure | value |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`);
    // What went wrong, if anything did: the proxy's warnings and errors (pino level >= 40).
    const notable = readFileSync(proxy.logFile, 'utf8').split('\n').filter((l) => /"level":(4|5|6)\d/.test(l));
    if (notable.length > 0) process.stdout.write(`\nproxy warnings (${notable.length}):\n${notable.slice(0, 40).join('\n')}\n`);
    return 0;
  } finally {
    await proxy.stop().catch(() => undefined);
    await proxy.cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
