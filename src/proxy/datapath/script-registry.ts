/**
 * The Lua scripts the proxy has seen loaded (SCRIPT LOAD) or run (EVAL, EVAL_RO), by SHA1:
 * what a node that joins later gets loaded (node-preparation.ts), and what an EVALSHA that
 * meets NOSCRIPT on some node is retried with.
 *
 * Bounded by total body bytes, oldest first out: Redis 7.0 keeps every script it was sent
 * for ever, so an application that builds scripts on the fly (a known anti-pattern) would
 * grow the proxy without end. Forgetting a script costs only what Redis itself answers —
 * NOSCRIPT on a node that never had it — which every client library handles by sending
 * EVAL. Kept in memory only, like Redis's script cache: a restarted proxy learns the
 * scripts again from the next SCRIPT LOAD or EVAL.
 */
import { createHash } from 'node:crypto';

/** Default bound on the bodies kept: far above the scripts of an ordinary application. */
export const DEFAULT_SCRIPT_BYTES = 32 * 1024 * 1024;

export class ScriptRegistry {
  /** sha (lower-case hex) → body; Map order is age, oldest first. */
  private readonly bySha = new Map<string, Buffer>();
  private bytes = 0;
  /** The last script remembered: an application EVALs the same few scripts over and over; comparing bytes is cheaper than a SHA1. */
  private last: { body: Buffer; sha: string } | undefined;

  constructor(private readonly maxBytes = DEFAULT_SCRIPT_BYTES) {}

  /** Remember a script; returns its sha. The body is copied (it may be a view of a read buffer). */
  remember(body: Buffer): string {
    if (this.last !== undefined && this.last.body.equals(body) && this.bySha.has(this.last.sha)) return this.last.sha;
    const sha = sha1(body);
    const known = this.bySha.get(sha);
    if (known !== undefined) {
      // Used again: youngest.
      this.bySha.delete(sha);
      this.bySha.set(sha, known);
      this.last = { body: known, sha };
      return sha;
    }
    if (body.length > this.maxBytes) return sha;
    const copy = Buffer.from(body);
    this.bySha.set(sha, copy);
    this.bytes += body.length;
    this.last = { body: copy, sha };
    for (const [oldSha, oldBody] of this.bySha) {
      if (this.bytes <= this.maxBytes) break;
      this.bySha.delete(oldSha);
      this.bytes -= oldBody.length;
    }
    return sha;
  }

  /** The body of a known script (`sha` in any case). */
  body(sha: string): Buffer | undefined {
    return this.bySha.get(sha.toLowerCase());
  }

  has(sha: string): boolean {
    return this.bySha.has(sha.toLowerCase());
  }

  /** Every known body, oldest first. */
  bodies(): Buffer[] {
    return [...this.bySha.values()];
  }

  get size(): number {
    return this.bySha.size;
  }

  /** SCRIPT FLUSH: forget them all. */
  clear(): void {
    this.bySha.clear();
    this.bytes = 0;
    this.last = undefined;
  }
}

/** A script's SHA1, as Redis names it (lower-case hex of the body's bytes). */
export function sha1(body: Buffer): string {
  return createHash('sha1').update(body).digest('hex');
}
