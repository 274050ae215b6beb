/**
 * Supervisor: `--workers N`. This process serves nothing itself: it forks N workers (the
 * same program, with WORKER_ENV set to their index), each a whole proxy listening on the
 * one port with reusePort (the kernel spreads connections over them), and decides which
 * one runs the control plane.
 *
 * - Worker 0 leads at start: it opens (or creates) the cluster; the others wait for the
 *   formed document and serve as followers.
 * - A worker that exits unasked is started again after a pause (growing while it keeps
 *   failing). If it led, the lowest-index worker that is up leads now: it takes the data-
 *   dir lock and adopts the running nodes, as a restarted proxy does; the others are told
 *   where to forward admin verbs. Clients of the other workers do not notice.
 * - It relays the workers' counters (INFO sums them) and metrics (/metrics labels them).
 * - SIGINT/SIGTERM: the followers stop first (leaving the nodes), then the leader, which
 *   stops the nodes. A second signal has the leader SIGKILL the nodes, and exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import type { NodeAddress } from '../nodes/control-client.js';
import type { WorkerStats } from '../status/worker-stats.js';
import type { SlotRatesMessage } from '../ops/slot-load.js';
import type { ProxyRecord } from './coordinator.js';
import { WORKER_ENV, type FromWorker, type ToWorker } from './worker-messages.js';

const RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 10_000;
/** A worker up this long is healthy again: its next crash restarts it at once. */
const STABLE_MS = 10_000;
const STOP_GRACE_MS = 20_000;

interface Worker {
  index: number;
  child: ChildProcess | undefined;
  self: ProxyRecord | undefined;
  startedAt: number;
  restartDelayMs: number;
  stats: WorkerStats | undefined;
  /** Says it leads (its control plane is up). */
  leading: boolean;
}

export interface SupervisorOptions {
  workers: number;
  log: Logger;
  /** The program and arguments each worker runs (this one's). */
  script: string;
  args: string[];
  execArgv: string[];
}

export class Supervisor {
  private readonly workers: Worker[];
  /** The worker named to lead (undefined: none up to name). */
  private leader: number | undefined = 0;
  private stopping = false;
  private readonly metricsRequests = new Map<number, { wanted: Set<number>; replies: unknown[]; timer: NodeJS.Timeout; finish: () => void }>();
  private nextRequest = 0;
  private exited: () => void = () => {};

  constructor(private readonly o: SupervisorOptions) {
    this.workers = Array.from({ length: o.workers }, (_, index) => ({ index, child: undefined, self: undefined, startedAt: 0, restartDelayMs: RESTART_DELAY_MS, stats: undefined, leading: false }));
  }

  /** Fork every worker; resolves when all have exited after stop(). */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.exited = resolve));
    for (const w of this.workers) this.spawn(w);
    return done;
  }

  /** Stop the followers, then the leader (which stops the nodes). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const leader = this.leader === undefined ? undefined : this.workers[this.leader];
    const followers = this.workers.filter((w) => w !== leader);
    await Promise.all(followers.map((w) => this.stopWorker(w, 'keep')));
    if (leader !== undefined) await this.stopWorker(leader, 'stop');
    this.exited();
  }

  /** A second signal: the leader SIGKILLs the nodes; every worker goes. */
  killNodes(): void {
    const leader = this.leader === undefined ? undefined : this.workers[this.leader];
    if (leader?.child !== undefined) this.send(leader, { t: 'kill-nodes' });
    for (const w of this.workers) if (w !== leader) w.child?.kill('SIGKILL');
  }

  /** Pass a signal on to every running worker (SIGHUP: each reloads its TLS certificate). */
  signalWorkers(signal: NodeJS.Signals): void {
    for (const w of this.workers) w.child?.kill(signal);
  }

  private spawn(w: Worker): void {
    const child = fork(this.o.script, this.o.args, {
      env: { ...process.env, [WORKER_ENV]: String(w.index) },
      execArgv: this.o.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    w.child = child;
    w.self = undefined;
    w.leading = false;
    w.startedAt = Date.now();
    child.on('message', (m: FromWorker) => this.receive(w, m));
    child.on('exit', (code, signal) => this.onExit(w, child, code, signal));
    this.o.log.info({ worker: w.index, workerPid: child.pid }, 'worker started');
  }

  private receive(w: Worker, m: FromWorker): void {
    switch (m.t) {
      case 'hello':
        w.self = m.self;
        if (this.leader === undefined) this.leader = w.index; // nobody was up to lead
        this.send(w, this.roleMessage(w));
        return;
      case 'leading':
        w.leading = true;
        this.o.log.info({ worker: w.index, workerPid: w.child?.pid }, 'worker leads the control plane');
        this.tellFollowers();
        return;
      case 'lead-failed':
        this.o.log.error({ worker: w.index, reason: m.reason }, 'worker could not start the control plane');
        this.electOther(w.index);
        return;
      case 'stats':
        w.stats = m.stats;
        this.broadcast({ t: 'stats', workers: this.workers.flatMap((x) => (x.stats === undefined || x.child === undefined ? [] : [x.stats])) });
        return;
      case 'collect-metrics':
        return this.collect((request) => ({ t: 'metrics-request', id: request }), (replies) => this.send(w, { t: 'metrics', id: m.id, workers: replies }));
      case 'metrics-reply':
        return this.collectedReply(w, m.id, m.metrics);
      case 'collect-slot-load':
        return this.collect((request) => ({ t: 'slot-load-request', id: request }), (replies) => this.send(w, { t: 'slot-load', id: m.id, workers: replies as SlotRatesMessage[] }));
      case 'slot-load-reply':
        return this.collectedReply(w, m.id, m.load);
    }
  }

  private onExit(w: Worker, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (w.child !== child) return;
    w.child = undefined;
    w.stats = undefined;
    const wasLeader = this.leader === w.index;
    if (this.stopping) return;
    this.o.log.warn({ worker: w.index, workerPid: child.pid, code, signal, leader: wasLeader }, 'worker exited; starting it again');
    if (wasLeader) this.electOther(w.index);
    w.restartDelayMs = Date.now() - w.startedAt > STABLE_MS ? RESTART_DELAY_MS : Math.min(MAX_RESTART_DELAY_MS, w.restartDelayMs * 2);
    setTimeout(() => {
      if (!this.stopping) this.spawn(w);
    }, w.restartDelayMs);
  }

  /** Name the lowest-index worker that is up (other than `not`, when there is another) to lead. */
  private electOther(not: number): void {
    const up = this.workers.filter((x) => x.child !== undefined && x.self !== undefined);
    const next = up.find((x) => x.index !== not) ?? up.find((x) => x.index === not);
    this.leader = next?.index;
    for (const x of this.workers) x.leading = false;
    if (next === undefined) {
      this.o.log.warn('no worker is up to lead; the first one back will');
      return;
    }
    this.o.log.warn({ worker: next.index, workerPid: next.child?.pid }, 'naming another worker to lead the control plane');
    this.send(next, this.roleMessage(next));
    this.tellFollowers();
  }

  private tellFollowers(): void {
    for (const x of this.workers) if (x.index !== this.leader && x.self !== undefined) this.send(x, this.roleMessage(x));
  }

  private roleMessage(w: Worker): ToWorker {
    const leader = this.leader === undefined ? undefined : this.workers[this.leader];
    // A follower forwards only to a leader whose control plane is up.
    const ready = leader !== undefined && (leader.leading || leader === w);
    return {
      t: 'role',
      role: leader === w ? 'leader' : 'follower',
      leader: ready ? (leader.self?.id ?? '') : '',
      leaderPeer: ready && leader !== w ? (leader.self?.peer as NodeAddress | undefined) : undefined,
      alive: this.workers.filter((x) => x.child !== undefined).length,
    };
  }

  /**
   * Ask every worker that is up (`ask`: the request, by its number here) and hand their
   * replies to `done` (metrics, slot rates). A worker that does not answer in time is left
   * out rather than holding the asker.
   */
  private collect(ask: (request: number) => ToWorker, done: (replies: unknown[]) => void): void {
    const request = ++this.nextRequest;
    const up = this.workers.filter((x) => x.child !== undefined && x.self !== undefined);
    const finish = (): void => {
      const r = this.metricsRequests.get(request);
      if (r === undefined) return;
      clearTimeout(r.timer);
      this.metricsRequests.delete(request);
      done(r.replies);
    };
    this.metricsRequests.set(request, { wanted: new Set(up.map((x) => x.index)), replies: [], timer: setTimeout(finish, 2000), finish });
    for (const x of up) this.send(x, ask(request));
    if (up.length === 0) finish();
  }

  private collectedReply(w: Worker, request: number, reply: unknown): void {
    const r = this.metricsRequests.get(request);
    if (r === undefined || !r.wanted.delete(w.index)) return;
    r.replies.push(reply);
    if (r.wanted.size === 0) r.finish();
  }

  private async stopWorker(w: Worker, nodes: 'stop' | 'keep'): Promise<void> {
    const child = w.child;
    if (child === undefined) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.send(w, { t: 'stop', nodes });
    const timer = setTimeout(() => {
      this.o.log.warn({ worker: w.index, workerPid: child.pid }, 'worker did not stop in time: SIGKILL');
      child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await gone;
    clearTimeout(timer);
  }

  private broadcast(m: ToWorker): void {
    for (const w of this.workers) if (w.self !== undefined) this.send(w, m);
  }

  private send(w: Worker, m: ToWorker): void {
    if (w.child?.connected === true) w.child.send(m);
  }
}
