/**
 * A real etcd-server (Debian's etcd 3.4) for the coordination tests: one member on free
 * loopback ports in a temp dir, stopped and started again at will (the "etcd down" cases).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from './redis-server.js';
import { sleep } from '../../src/nodes/wait.js';

export const ETCD_BINARY = process.env.ETCD ?? 'etcd';

export interface TestEtcd {
  /** host:port of its client URL. */
  endpoint: string;
  /** --coordinator's value. */
  url: string;
  /** SIGSTOP-free stop: SIGKILL, as a crashed etcd. */
  kill(): Promise<void>;
  /** Start it again on the same ports and data. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startEtcd(): Promise<TestEtcd> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ihs-etcd-'));
  const [clientPort, peerPort] = await freePorts(2);
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let child: ChildProcess | undefined;
  let output = '';
  const start = async (): Promise<void> => {
    output = '';
    const proc = spawn(
      ETCD_BINARY,
      [
        '--name', 'ihs-test', '--data-dir', path.join(dir, 'data'),
        '--listen-client-urls', client, '--advertise-client-urls', client,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `ihs-test=${peer}`, '--log-level', 'error',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (err) => reject(new Error(`etcd could not start (${err.message}): apt-get install etcd-server`)));
      proc.once('exit', (code) => reject(new Error(`etcd exited with ${code}: ${output.slice(-2000)}`)));
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ok = await Promise.race([healthy(client), failed]);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy within 15 s: ${output.slice(-2000)}`);
      await sleep(100);
    }
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await gone;
  };
  await start();
  return {
    endpoint: `127.0.0.1:${clientPort}`,
    url: `etcd://127.0.0.1:${clientPort}`,
    kill,
    restart: start,
    async close() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}
