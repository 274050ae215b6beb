/**
 * KeySampler: the hot keys (by requests per second) and the big keys (by bytes per second
 * of requests and replies) of each shard, from a sample of the keyed requests.
 *
 * The hot path pays one decrement and compare per request (`due()`); about one request in
 * `every` is sampled: its first key's bytes are copied into a string, counted in its
 * shard's two TopK structures (top-k.ts), and its reply's size is counted when the reply
 * comes back (KeySample). A sample of a key new to its shard's counters costs a few µs of
 * the proxy's CPU, measured (bench/results/hotkeys-cost.md): hence the default of 1 in 128.
 * The gap to the next sample is drawn around `every` (uniform in [every/2, 3·every/2)), not
 * fixed, so that a client repeating a pattern of requests whose length divides `every`
 * does not have one of its keys sampled every time and the others never. Counts decay exponentially (time constant `tauMs`): the rates are those of the
 * last `tauMs` or so, estimated as sampled weight × every / window.
 *
 * Shards are told apart by their master's endpoint object (one per backend pool, the
 * router's unit), found by identity without building a string per sample; the report names
 * them with `nameShard` (the cluster's node id of the master, e.g. m0).
 * One process's sample: with --workers each worker samples the clients it serves.
 */
import { ForwardDecay, TopK } from './top-k.js';
import { readTime } from '../net/read-clock.js';
import type { BigKey, HotKey } from '../status/key-lines.js';

/** Counters kept per shard and per measure: the reported top is at most this long. */
export const TRACKED_KEYS = 64;
/** Longer keys are counted by their first this-many bytes. */
const MAX_KEY_BYTES = 1024;
/** A key (or shard) estimated below this many requests per second is gone from the reports. */
const FADED_OPS = 0.1;

export interface KeySamplerOptions {
  /** Sample about one keyed request in this many; 0: sampling off. */
  every: number;
  /** Time constant of the decay, ms (the rates are over about this long). */
  tauMs?: number;
  /** The name of the shard whose master is at host:port (undefined: the address is the name). */
  nameShard?: (host: string, port: number) => string | undefined;
  /** ms clock (tests). */
  now?: () => number;
}

interface Traffic {
  /** Decayed bytes of its replies and of its requests. */
  read: number;
  written: number;
  largestReply: number;
  largestRequest: number;
}

const noData = (): null => null;
const freshTraffic = (): Traffic => ({ read: 0, written: 0, largestReply: 0, largestRequest: 0 });
const resetNothing = (): void => undefined;
const resetTraffic = (t: Traffic): void => {
  t.read = 0;
  t.written = 0;
  t.largestReply = 0;
  t.largestRequest = 0;
};
const scaleNothing = (): void => undefined;
const scaleTraffic = (t: Traffic, f: number): void => {
  t.read *= f;
  t.written *= f;
};

/** One shard's counters; what a sampled request's reply is counted against. */
export class ShardSample {
  readonly hot = new TopK<null>(TRACKED_KEYS, noData, resetNothing);
  readonly big = new TopK<Traffic>(TRACKED_KEYS, freshTraffic, resetTraffic);
  /** Decayed count of its sampled requests. */
  total = 0;
  constructor(readonly master: ShardMaster) {}
}

/** A shard's master as the router knows it: one object per master (a pool's endpoint), so that the shard is found by identity. */
export interface ShardMaster {
  readonly host: string;
  readonly port: number;
}

/** One sampled request, waiting for its reply. */
export class KeySample {
  constructor(
    private readonly sampler: KeySampler,
    private readonly shard: ShardSample,
    private readonly key: string,
  ) {}

  /** Its reply came: `bytes` long. */
  replied(bytes: number): void {
    // Weighed now, not with the request's weight: the sums may have been scaled down since.
    const w = this.sampler.weightNow();
    const t = this.shard.big.add(this.key, bytes * w);
    t.read += bytes * w;
    if (bytes > t.largestReply) t.largestReply = bytes;
  }
}

export class KeySampler {
  private countdown: number;
  private readonly shards = new Map<ShardMaster, ShardSample>();
  private readonly decay: ForwardDecay;
  private readonly startedAt: number;
  private readonly now: () => number;

  constructor(private readonly o: KeySamplerOptions) {
    if (!Number.isInteger(o.every) || o.every < 0) throw new RangeError(`key sample rate must be a whole number ≥ 0, not ${o.every}`);
    // Within a socket read the clock is read already (net/read-clock.ts): a sample costs no clock read of its own.
    this.now = o.now ?? readTime;
    this.startedAt = this.now();
    this.decay = new ForwardDecay(o.tauMs ?? 10_000, this.startedAt, (f) => {
      for (const s of this.shards.values()) {
        s.total *= f;
        s.hot.scale(f, scaleNothing);
        s.big.scale(f, scaleTraffic);
      }
    });
    this.countdown = this.nextGap();
  }

  get every(): number {
    return this.o.every;
  }

  /** Whether this request is sampled: called once per keyed request. */
  due(): boolean {
    if (--this.countdown !== 0) return false;
    this.countdown = this.nextGap();
    return this.o.every !== 0;
  }

  /** Sampling off: a gap that is never reached in practice, and when it is, nothing is sampled. */
  private nextGap(): number {
    const every = this.o.every;
    if (every === 0) return 0x3fffffff;
    return (every >> 1) + Math.floor(Math.random() * every) + 1;
  }

  /**
   * A sampled request: its key is raw[keyStart, keyEnd), it went to `master` and is `bytes`
   * long. Returns what its reply is counted with (KeySample.replied).
   */
  requested(master: ShardMaster, raw: Buffer, keyStart: number, keyEnd: number, bytes: number): KeySample {
    const shard = this.shardOf(master);
    // latin1: one char per byte, so the key's exact bytes (binary ones too) are the map's key.
    const key = raw.toString('latin1', keyStart, Math.min(keyEnd, keyStart + MAX_KEY_BYTES));
    const w = this.weightNow();
    shard.total += w;
    shard.hot.add(key, w);
    const t = shard.big.add(key, bytes * w);
    t.written += bytes * w;
    if (bytes > t.largestRequest) t.largestRequest = bytes;
    return new KeySample(this, shard, key);
  }

  /** What an event weighs now (forward decay); within a socket read the clock is not read again. */
  weightNow(): number {
    return this.decay.weightAt(this.now());
  }

  private shardOf(master: ShardMaster): ShardSample {
    let shard = this.shards.get(master);
    if (shard === undefined) {
      shard = new ShardSample(master);
      this.shards.set(master, shard);
    }
    return shard;
  }

  /** Decayed weight → per second: × every / the window the decay averages over (shorter since start). */
  private perSecond(): number {
    const now = this.now();
    const tau = this.decay.tauMs;
    const window = (tau / 1000) * (1 - Math.exp(-(now - this.startedAt) / tau));
    return window <= 0 ? 0 : this.o.every / window / this.decay.divisorAt(now);
  }

  /** The shards with traffic still counted, by name; shards whose traffic has faded are forgotten. */
  private liveShards(rate: number): { name: string; address: string; s: ShardSample }[] {
    const live: { name: string; address: string; s: ShardSample }[] = [];
    for (const [master, s] of this.shards) {
      if (s.total * rate < FADED_OPS) {
        this.shards.delete(master);
        continue;
      }
      const address = `${master.host}:${master.port}`;
      live.push({ name: this.o.nameShard?.(master.host, master.port) ?? address, address, s });
    }
    return live.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Each shard's `count` hottest keys, hottest first; shards by name. */
  hotKeys(count: number): HotKey[] {
    const rate = this.perSecond();
    const out: HotKey[] = [];
    for (const { name, address, s } of this.liveShards(rate)) {
      for (const c of s.hot.top(count)) {
        const opsPerSec = c.weight * rate;
        if (opsPerSec < FADED_OPS) break;
        out.push({ key: displayKey(c.key), shard: name, address, opsPerSec, share: s.total === 0 ? 0 : Math.min(1, c.weight / s.total) });
      }
    }
    return out;
  }

  /** Each shard's `count` biggest keys by bytes per second (replies and requests), biggest first; shards by name. */
  bigKeys(count: number): BigKey[] {
    const rate = this.perSecond();
    const out: BigKey[] = [];
    for (const { name, address, s } of this.liveShards(rate)) {
      for (const c of s.big.top(count)) {
        const t = c.data;
        out.push({ key: displayKey(c.key), shard: name, address, readPerSec: t.read * rate, writtenPerSec: t.written * rate, largestReply: t.largestReply, largestRequest: t.largestRequest });
      }
    }
    return out;
  }
}

/** A key's bytes (kept one char per byte) as UTF-8 text. */
function displayKey(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}
