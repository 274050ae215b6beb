#!/usr/bin/env node
// Thin launcher: load the TypeScript sources through tsx and start the proxy.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
await main();
