#!/usr/bin/env node
// Removes the Docker containers, volumes and network of one data dir's cluster, keeping the
// data dir unless --remove-data-dir (src/docker-clean.ts; `make docker-clean`). Refused while
// a proxy runs on that data dir. Runs the compiled JavaScript in ../dist (`make build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/docker-clean.js', import.meta.url);
if (!existsSync(entry)) {
  console.error(`ihs-docker-clean: ${fileURLToPath(entry)} not found: run \`make build\` (or \`npm run build\`) first`);
  process.exit(1);
}
process.setSourceMapsEnabled(true);
const { dockerCleanMain } = await import(entry.href);
const code = await dockerCleanMain(process.argv.slice(2));
// Exit when done, not when the engine's keep-alive sockets let go; stdout and stderr first.
const flushed = (stream) => new Promise((resolve) => stream.write('', resolve));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
