/**
 * CoordinatedGroup: N real proxy executables on one data dir, coordinated through a real
 * etcd (test/support/etcd.ts), as the coordination tests and `make chaos` drive them:
 * who leads (INFO # Coordination of each), a sampler that records any moment two proxies
 * say they lead, and their logs for failure messages.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ProxyProcess } from './proxy-process.js';
import { startEtcd, type TestEtcd } from './etcd.js';
import { killRedisServersUnder } from './redis-binary.js';
import { strictClient, WriteLedger } from './write-ledger.js';
import { sleep } from '../../src/nodes/wait.js';

export interface GroupOptions {
  proxies: number;
  masters: number;
  replicas: number;
  /** --leader-ttl, seconds. */
  ttlSeconds: number;
  /** More flags for every proxy. */
  flags?: string[];
}

export interface RoleSample {
  p: ProxyProcess;
  role: string;
  leader: string;
}

/** One command on a new connection, its reply as decoded by ioredis (LIST: an array of lines). */
export async function command(port: number, ...args: string[]): Promise<unknown> {
  const c = await strictClient(port, 10_000);
  try {
    return await c.call(args[0], ...args.slice(1));
  } finally {
    c.disconnect();
  }
}

/** `INFO <section>` as field → value. */
export function infoFields(info: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}

/** Poll `probe` until it gives a value; the error names `what` and adds `context()`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last === '' ? '' : ` (last error: ${last})`}\n${context()}`);
    await sleep(50);
  }
}

export class CoordinatedGroup {
  readonly proxies: ProxyProcess[] = [];
  /** Every sample in which two proxies said they lead. */
  readonly doubleLeaders: string[] = [];
  private sampling = false;
  private sampler: Promise<void> = Promise.resolve();

  private constructor(
    readonly etcd: TestEtcd,
    private readonly root: string,
    readonly dataDir: string,
    private readonly o: GroupOptions,
  ) {}

  /** etcd, then the first proxy (it creates the cluster and leads), then the others (they follow its document). */
  static async start(o: GroupOptions): Promise<CoordinatedGroup> {
    const etcd = await startEtcd();
    const root = await mkdtemp(path.join(os.tmpdir(), 'ihs-coord-'));
    const group = new CoordinatedGroup(etcd, root, path.join(root, 'data'), o);
    try {
      group.proxies.push(await group.startProxy());
      group.proxies.push(...(await Promise.all(Array.from({ length: o.proxies - 1 }, () => group.startProxy()))));
    } catch (err) {
      await group.close();
      throw err;
    }
    group.sampling = true;
    group.sampler = group.sample();
    return group;
  }

  /** Every proxy's flags: the group's etcd and cluster name, and the options'. */
  get flags(): string[] {
    return ['--coordinator', this.etcd.url, '--cluster-name', 'coord-test', '--leader-ttl', String(this.o.ttlSeconds), ...(this.o.flags ?? [])];
  }

  /** The proxies that answer now, with their INFO # Coordination. */
  async roles(): Promise<RoleSample[]> {
    const out: RoleSample[] = [];
    await Promise.all(
      this.proxies.map(async (p) => {
        if (p.pid === undefined) return;
        try {
          const f = infoFields(String(await command(p.port, 'INFO', 'coordination')));
          out.push({ p, role: f.get('role') ?? '?', leader: f.get('leader') ?? '?' });
        } catch {
          // killed, or restarting
        }
      }),
    );
    return out;
  }

  /** The one proxy leading, once exactly one says it does. */
  leader(timeoutMs: number): Promise<ProxyProcess> {
    return waitFor(
      'one proxy leading',
      timeoutMs,
      async () => {
        const leaders = (await this.roles()).filter((x) => x.role === 'leader');
        return leaders.length === 1 ? leaders[0].p : undefined;
      },
      () => this.logs(),
    );
  }

  /** `thousands` × 1000 small keys (`preload:i:j`) written through the first proxy: something for a migration to move. */
  async preload(thousands: number): Promise<void> {
    const c = await strictClient(this.proxies[0].port, 30_000);
    try {
      for (let i = 0; i < thousands; i++) {
        const args: string[] = [];
        for (let j = 0; j < 1000; j++) args.push(`preload:${i}:${j}`, 'x');
        await c.call('MSET', ...args);
      }
    } finally {
      c.disconnect();
    }
  }

  /** A write ledger through each proxy (keys `<prefix><index>:...`), started: the load spread over the group. */
  startLedgers(prefix: string): WriteLedger[] {
    return this.proxies.map((p, i) => new WriteLedger({ port: p.port, prefix: `${prefix}${i}`, hangMs: 15_000, clients: 2, lanes: 2, pauseMs: 2 }).start());
  }

  /** The proxies' last log lines, for a failure's message. */
  logs(lines = 25): string {
    return this.proxies.map((p) => `--- proxy on port ${p.port} (pid ${p.pid}):\n${p.logTail(lines)}`).join('\n');
  }

  /** Stop sampling, stop the proxies (the last one stops the nodes), etcd; remove the dirs. */
  async close(): Promise<void> {
    this.sampling = false;
    await this.sampler;
    for (const p of this.proxies) await p.stop().catch(() => undefined);
    for (const p of this.proxies) await p.cleanup();
    await killRedisServersUnder(this.root, [this.dataDir]);
    await rm(this.root, { recursive: true, force: true });
    await this.etcd.close();
  }

  private startProxy(): Promise<ProxyProcess> {
    return ProxyProcess.start({ masters: this.o.masters, replicas: this.o.replicas, dataDir: this.dataDir, flags: this.flags });
  }

  private async sample(): Promise<void> {
    while (this.sampling) {
      const leading = (await this.roles()).filter((x) => x.role === 'leader');
      if (leading.length > 1) this.doubleLeaders.push(`${new Date().toISOString()}: ${leading.map((x) => `port ${x.p.port}`).join(' and ')}`);
      await sleep(100);
    }
  }
}
