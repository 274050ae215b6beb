/**
 * LatencyHistogram: request → reply times of one command, in microseconds, as counts in
 * fixed log-scale buckets. One structure serves every reader: INFO commandstats (usec,
 * the sum), INFO latencystats (percentiles) and the Prometheus histogram (cumulative
 * counts at power-of-two bounds, each a bucket boundary here, so both agree exactly).
 *
 * Buckets: 1 µs wide below 16 µs, then 8 per power of two (each ≤ 12.5% wide, as an HDR
 * histogram with one significant digit and a bit), up to 2^31 µs (~36 min), where the
 * largest are clamped. Recording is an integer log (Math.clz32), two array stores and an add.
 */
const LINEAR = 16;
const SUB_BITS = 3;
const MAX_US = 2 ** 31 - 1;
/** Buckets: the linear ones, then 8 for each power of two from 2^4 to 2^30. */
export const BUCKET_COUNT = LINEAR + (31 - 4) * (1 << SUB_BITS);

/** The bucket of a time in µs. */
export function bucketOf(us: number): number {
  if (!(us > 0)) return 0;
  const v = us >= MAX_US ? MAX_US : us | 0; // below 2^31: | 0 truncates exactly
  if (v < LINEAR) return v;
  const e = 31 - Math.clz32(v);
  return LINEAR + ((e - 4) << SUB_BITS) + ((v >> (e - SUB_BITS)) & ((1 << SUB_BITS) - 1));
}

/** The exclusive upper bound of bucket `i`, in µs: every time counted in it is below this. */
export function bucketEnd(i: number): number {
  if (i < LINEAR) return i + 1;
  const group = (i - LINEAR) >> SUB_BITS;
  const sub = (i - LINEAR) & ((1 << SUB_BITS) - 1);
  return ((1 << SUB_BITS) + sub + 1) * 2 ** (group + 4 - SUB_BITS);
}

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  /** Sum of the times recorded, µs. */
  sumUs = 0;

  record(us: number): void {
    this.counts[bucketOf(us)]++;
    this.count++;
    this.sumUs += us > 0 ? us : 0;
  }

  /**
   * The time (µs) under which `percent`% of the recorded times fall: the upper bound of
   * the bucket where the cumulative count reaches it (0 when nothing was recorded).
   */
  percentile(percent: number): number {
    return percentileOfCounts(this.counts, this.count, percent);
  }

  /**
   * Times below each bound (µs, ascending; each must be a bucket end, see
   * isBucketBoundary): the cumulative counts of a Prometheus histogram.
   */
  cumulative(boundsUs: readonly number[]): number[] {
    const out: number[] = [];
    let seen = 0;
    let i = 0;
    for (const bound of boundsUs) {
      while (i < BUCKET_COUNT && bucketEnd(i) <= bound) seen += this.counts[i++];
      out.push(seen);
    }
    return out;
  }
}

/**
 * The percentile of bucket counts (a histogram's, or a difference of two: the calls of an
 * interval), `total` being their sum: the upper bound of the bucket where the cumulative
 * count reaches it; 0 when the counts are empty.
 */
export function percentileOfCounts(counts: ArrayLike<number>, total: number, percent: number): number {
  if (total <= 0) return 0;
  const wanted = Math.max(1, Math.ceil((total * percent) / 100));
  let seen = 0;
  for (let i = 0; i < BUCKET_COUNT; i++) {
    seen += counts[i];
    if (seen >= wanted) return bucketEnd(i);
  }
  return bucketEnd(BUCKET_COUNT - 1);
}

/** Whether `us` is where a bucket ends (so counts below it are exact). */
export function isBucketBoundary(us: number): boolean {
  return us > 0 && us <= bucketEnd(BUCKET_COUNT - 1) && bucketEnd(bucketOf(us) - 1) === us;
}
