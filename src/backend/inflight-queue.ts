/**
 * The requests in flight on one backend connection, oldest first: each one's reply sink and
 * its bytes (kept for a cluster redirect, which sends them again). One ring of pairs, not
 * two queues: a request costs one push and one shift.
 */
import type { ReplySink } from './reply-sink.js';

export class InflightQueue {
  /** sink, raw, sink, raw, ... from `head` (an even index), wrapping around. */
  private items: (ReplySink | Buffer | undefined)[];
  private head = 0;
  private count = 0;
  /** The bytes of the request shift() took last. */
  shiftedRaw: Buffer | undefined = undefined;

  constructor(initialCapacity = 64) {
    this.items = new Array(2 * initialCapacity);
  }

  /** Requests in flight. */
  get length(): number {
    return this.count;
  }

  push(sink: ReplySink, raw: Buffer): void {
    if (2 * this.count === this.items.length) this.grow();
    const items = this.items;
    const at = (this.head + 2 * this.count) % items.length;
    items[at] = sink;
    items[at + 1] = raw;
    this.count++;
  }

  /** The oldest request's bytes (the one the node runs now), or undefined when none. */
  peekRaw(): Buffer | undefined {
    return this.count === 0 ? undefined : (this.items[this.head + 1] as Buffer);
  }

  /** The oldest request's sink, its bytes in shiftedRaw; undefined when none is in flight. */
  shift(): ReplySink | undefined {
    if (this.count === 0) {
      this.shiftedRaw = undefined;
      return undefined;
    }
    const items = this.items;
    const head = this.head;
    const sink = items[head] as ReplySink;
    this.shiftedRaw = items[head + 1] as Buffer;
    items[head] = items[head + 1] = undefined; // let them be collected
    this.head = (head + 2) % items.length;
    this.count--;
    return sink;
  }

  private grow(): void {
    const old = this.items;
    const next: (ReplySink | Buffer | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < 2 * this.count; i++) next[i] = old[(this.head + i) % old.length];
    this.items = next;
    this.head = 0;
  }
}
