/**
 * Generates src/auth/acl-categories.ts from a real redis-server's COMMAND reply: the ACL
 * categories of every command and subcommand (COMMAND INFO's 7th field), which the command
 * table (redis-commands.ts) does not carry.
 *
 *   npx tsx scripts/gen-acl-categories.ts
 */
import { writeFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { startRedisServer } from './gen-commands.js';

type Reply = string | number | null | Reply[];

function collect(entry: Reply[], out: [string, string[]][]): void {
  const name = String(entry[0]).toLowerCase();
  const cats = (entry[6] as Reply[]).map((c) => String(c).replace(/^@/, ''));
  out.push([name, cats]);
  for (const sub of (entry[9] as Reply[] | undefined) ?? []) collect(sub as Reply[], out);
}

const server = await startRedisServer();
const redis = new Redis(server.port, '127.0.0.1');
try {
  const reply = (await redis.call('COMMAND')) as Reply[];
  const cats = (await redis.call('ACL', 'CAT')) as string[];
  const rows: [string, string[]][] = [];
  for (const e of reply) collect(e as Reply[], rows);
  rows.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const body = [
    '/**',
    ' * ACL categories of every command and subcommand of redis-server 7.0.15.',
    ' *',
    ' * GENERATED from COMMAND and ACL CAT by scripts/gen-acl-categories.ts. Do not edit by hand.',
    ' */',
    '',
    `export const ACL_CATEGORY_NAMES: readonly string[] = ${JSON.stringify([...cats])};`,
    '',
    'export const ACL_CATEGORIES: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([',
    ...rows.map(([n, c]) => `  [${JSON.stringify(n)}, ${JSON.stringify(c)}],`),
    ']);',
    '',
  ].join('\n');
  await writeFile('src/auth/acl-categories.ts', body.replaceAll('"', "'"));
} finally {
  redis.disconnect();
  await server.stop();
}
