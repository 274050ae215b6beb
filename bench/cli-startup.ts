/**
 * How long a one-shot `ihs-cli` takes, start to exit: `node bin/ihs-cli --server S get foo`
 * spawned N times one after another against a running proxy (its own: 1 master, no replica;
 * or --server's), wall time from spawn to exit. Beside it, for scale, `node -e 0` (node's
 * own start-up on this machine) and the CLI with its V8 compile cache turned off
 * (NODE_DISABLE_COMPILE_CACHE=1). The three alternate run by run, so background load hits
 * them alike. Prints a markdown table of median, min and max (ms) per variant. --also times
 * another launcher the same way (an older build, to compare: `git worktree add /tmp/old
 * COMMIT`, `make build` there, then `--also /tmp/old/bin/ihs-cli`).
 *
 *   npx tsx bench/cli-startup.ts [--runs 10] [--server host:port] [--also PATH]...
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProxyProcess } from '../test/support/proxy-process.js';
import { optionsOrExitCode } from './lib/cli.js';

const HELP = `usage: npx tsx bench/cli-startup.ts [options]

  --runs N          runs of each variant (default 10)
  --server H:P      a running proxy to ask (default: one started here, 1 master, no replica)
  --also PATH       another ihs-cli launcher to time beside it (repeatable), e.g. an older build's`;

const REPO = fileURLToPath(new URL('..', import.meta.url));

interface Options {
  runs: number;
  server: string | undefined;
  also: string[];
}

function parse(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '10' },
      server: { type: 'string' },
      also: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: '${values.runs}' is not a positive whole number`);
  return { runs, server: values.server, also: values.also };
}

interface Variant {
  name: string;
  args: (server: string) => string[];
  env: Record<string, string>;
}

const VARIANTS: Variant[] = [
  { name: '`ihs-cli get foo`', args: (s) => ['bin/ihs-cli', '--server', s, 'get', 'foo'], env: {} },
  { name: '`ihs-cli get foo`, compile cache off', args: (s) => ['bin/ihs-cli', '--server', s, 'get', 'foo'], env: { NODE_DISABLE_COMPILE_CACHE: '1' } },
  { name: '`node -e 0` (for scale)', args: () => ['-e', '0'], env: {} },
];

/** One run's wall time in ms; rejects when the run fails (its stderr says why). */
function timeRun(args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
    });
  });
}

function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function measure(server: string, o: Options): Promise<string> {
  const { runs } = o;
  const variants: Variant[] = [...VARIANTS, ...o.also.map((cli) => ({ name: `\`${cli} get foo\``, args: (s: string) => [cli, '--server', s, 'get', 'foo'], env: {} }))];
  const times = variants.map(() => [] as number[]);
  // One unmeasured run each first: the compile cache is written by the first run after a build.
  for (const v of variants) await timeRun(v.args(server), v.env);
  for (let r = 0; r < runs; r++) {
    for (const [i, v] of variants.entries()) times[i].push(await timeRun(v.args(server), v.env));
  }
  const rows = variants.map((v, i) => {
    const sorted = times[i].sort((a, b) => a - b);
    return `| ${v.name} | ${median(sorted).toFixed(0)} | ${sorted[0].toFixed(0)} | ${sorted.at(-1)!.toFixed(0)} |`;
  });
  return [`| ${runs} runs each | median ms | min | max |`, '|---|---:|---:|---:|', ...rows].join('\n');
}

async function main(): Promise<number> {
  const opts = optionsOrExitCode(parse, HELP);
  if (typeof opts === 'number') return opts;
  if (opts.server !== undefined) {
    process.stdout.write(`${await measure(opts.server, opts)}\n`);
    return 0;
  }
  const proxy = await ProxyProcess.start({ masters: 1, replicas: 0 });
  try {
    process.stdout.write(`${await measure(`127.0.0.1:${proxy.port}`, opts)}\n`);
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
