#!/usr/bin/env -S node --max-semi-space-size=16
// Thin launcher: start the proxy from the compiled JavaScript in ../dist (`make build` or
// `npm run build` makes it with tsc from src/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error(`interface-hash-server: ${fileURLToPath(entry)} not found: run \`make build\` (or \`npm run build\`) first`);
  process.exit(1);
}
// Stack traces point into src/*.ts through dist's source maps (the same as node
// --enable-source-maps); only modules loaded after this call get mapped.
process.setSourceMapsEnabled(true);
const { main } = await import(entry.href);
await main();
