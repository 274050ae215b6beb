/**
 * The auth scan's runner (test/auth-scan.test.ts): every request of a table sent on one
 * connection as one client (after its prelude: AUTH, HELLO ...), each reply read back in
 * order. Table-driven so that a scan "as each user" is another prelude and another
 * expectation, not another runner.
 */
import net from 'node:net';
import tls from 'node:tls';
import { REDIS_COMMANDS } from '../../src/commands/redis-commands.js';
import type { RawCommand } from '../../src/commands/raw-command.js';
import { ReplyScanner } from '../../src/resp/reply-scanner.js';
import { ProtocolError } from '../../src/resp/frame.js';
import { decodeReply, ReplyErrorValue, type ReplyValue } from '../../src/resp/reply-value.js';

/** One request of a scan: what it is called in a failure message, and its arguments. */
export interface ScanRequest {
  readonly label: string;
  readonly args: readonly string[];
}

/** A reply of a scan: the decoded value, or `closed` when the connection ended before it. */
export type ScanReply = ReplyValue | 'closed';

/** Encode one request as a RESP multibulk. */
export function encodeRequest(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

/**
 * A request for every command and subcommand of the command table (Redis 7.0's), with just
 * enough placeholder arguments for its arity: a refusal then comes from authentication or
 * permission, never from the argument count (Redis checks arity before authentication).
 * Container commands appear as their subcommands only (`acl|cat` as `ACL CAT x`). `pad` is
 * the placeholder: a key a user may or may not touch makes the same table a key check.
 */
export function commandTableRequests(pad = 'x'): ScanRequest[] {
  const out: ScanRequest[] = [];
  const add = (raw: RawCommand): void => {
    const words = raw.name.split('|');
    const need = Math.abs(raw.arity);
    const args = [...words];
    while (args.length < need) args.push(pad);
    out.push({ label: raw.name, args });
  };
  for (const raw of REDIS_COMMANDS) {
    if (raw.subcommands !== undefined && raw.subcommands.length > 0) raw.subcommands.forEach(add);
    else add(raw);
  }
  return out;
}

/** Whether a command of the table carries Redis's `no_auth` flag (runs before AUTH). */
export function noAuthCommands(): Set<string> {
  const names = new Set<string>();
  const visit = (raw: RawCommand): void => {
    if (raw.flags.includes('no_auth')) names.add(raw.name);
    raw.subcommands?.forEach(visit);
  };
  REDIS_COMMANDS.forEach(visit);
  return names;
}

/**
 * Send `prelude` then `requests` on one new connection to 127.0.0.1:`port`, all at once
 * (pipelined); resolve with the requests' replies (the prelude's are dropped), `closed` for
 * those the connection ended before. Fails after `ms` without every reply or a close.
 */
export async function runScan(
  port: number,
  requests: readonly ScanRequest[],
  o: { prelude?: readonly (readonly string[])[]; ms?: number; tls?: tls.ConnectionOptions } = {},
): Promise<ScanReply[]> {
  const prelude = o.prelude ?? [];
  const want = prelude.length + requests.length;
  const socket = o.tls === undefined ? net.connect({ host: '127.0.0.1', port }) : tls.connect({ host: '127.0.0.1', port, ...o.tls });
  const scanner = new ReplyScanner();
  const replies: ReplyValue[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`scan: ${replies.length} of ${want} replies after ${o.ms ?? 20_000} ms`)), o.ms ?? 20_000);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    socket.on(o.tls === undefined ? 'connect' : 'secureConnect', () => {
      socket.write(Buffer.concat([...prelude, ...requests.map((r) => r.args)].map(encodeRequest)));
    });
    socket.on('data', (chunk: Buffer) => {
      scanner.feed(chunk);
      for (let f = scanner.next(); f !== null; f = scanner.next()) {
        if (f instanceof ProtocolError) return finish(new Error(`scan: unreadable reply (${f.message})`));
        replies.push(decodeReply(f));
      }
      if (replies.length >= want) finish();
    });
    socket.on('error', () => {}); // a reset counts as the close that follows it
    socket.on('close', () => finish());
  });
  const mine: ScanReply[] = replies.slice(prelude.length);
  while (mine.length < requests.length) mine.push('closed');
  return mine;
}

/** A reply in a line for failure messages and comparisons: an error's message, else its JSON. */
export function replyText(r: ScanReply): string {
  if (r === 'closed') return '(closed)';
  if (r instanceof ReplyErrorValue) return `-${r.message}`;
  return JSON.stringify(r, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v));
}

/**
 * What an ACL check made of a request: refused for the command, a key or a channel, or let
 * through (`allowed`: the command then ran, or failed for another reason). Reads both the
 * NOPERM error a refused command gets and ACL DRYRUN's answer (`OK`, or "This user has no
 * permissions to run the 'x' command" / "to access the 'k' key" / "the 'c' channel").
 */
export type AclAnswer = 'command' | 'key' | 'channel' | 'allowed' | 'noauth' | 'closed';

export function aclAnswer(r: ScanReply): AclAnswer {
  if (r === 'closed') return 'closed';
  const text = r instanceof ReplyErrorValue ? r.message : typeof r === 'string' || Buffer.isBuffer(r) ? r.toString() : '';
  if (/^NOAUTH /.test(text)) return 'noauth';
  if (/^(NOPERM t|T)his user has no permissions to run the '[^']*' command/.test(text)) return 'command';
  if (/^(NOPERM t|T)his user has no permissions to access (one of the keys|the '.*' key)/.test(text)) return 'key';
  if (/^(NOPERM t|T)his user has no permissions to access (one of the channels|the '.*' channel)/.test(text)) return 'channel';
  return 'allowed';
}
