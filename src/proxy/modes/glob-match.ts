/**
 * Redis's glob-style matching (util.c stringmatchlen, case-sensitive): `*`, `?`, `[abc]`,
 * `[^abc]`, `[a-z]`, and `\` to escape the next byte. Used where the proxy answers for
 * patterns itself: PUBSUB CHANNELS/SHARDCHANNELS <pattern>, and counting the pattern
 * subscribers a PUBLISH reached. (Messages themselves are matched by the nodes.)
 */
export function globMatch(pattern: Buffer, subject: Buffer): boolean {
  return matchFrom(pattern, 0, subject, 0);
}

function matchFrom(p: Buffer, pi: number, s: Buffer, si: number): boolean {
  while (pi < p.length && si < s.length) {
    const c = p[pi];
    if (c === 0x2a /* * */) {
      while (pi + 1 < p.length && p[pi + 1] === 0x2a) pi++;
      if (pi + 1 === p.length) return true;
      for (let k = si; k < s.length; k++) if (matchFrom(p, pi + 1, s, k)) return true;
      return false;
    }
    if (c === 0x3f /* ? */) {
      pi++;
      si++;
      continue;
    }
    if (c === 0x5b /* [ */) {
      const end = matchClass(p, pi + 1, s[si]);
      if (end < 0) return false;
      pi = end;
      si++;
      continue;
    }
    if (c === 0x5c /* \ */ && pi + 1 < p.length) pi++;
    if (p[pi] !== s[si]) return false;
    pi++;
    si++;
  }
  // The subject is used up: what is left of the pattern must be stars only.
  while (pi < p.length && p[pi] === 0x2a) pi++;
  return pi === p.length && si === s.length;
}

/** A `[...]` class starting after its `[`: the pattern index after the class when `b` is in it, else -1. */
function matchClass(p: Buffer, pi: number, b: number): number {
  let negate = false;
  if (pi < p.length && p[pi] === 0x5e /* ^ */) {
    negate = true;
    pi++;
  }
  let hit = false;
  for (;;) {
    if (pi >= p.length) break; // an unclosed class ends with the pattern, as in Redis
    const c = p[pi];
    if (c === 0x5d /* ] */) {
      pi++;
      break;
    }
    if (c === 0x5c /* \ */ && pi + 1 < p.length) {
      pi++;
      if (p[pi] === b) hit = true;
    } else if (pi + 2 < p.length && p[pi + 1] === 0x2d /* - */ && p[pi + 2] !== 0x5d) {
      const lo = Math.min(c, p[pi + 2]);
      const hi = Math.max(c, p[pi + 2]);
      if (b >= lo && b <= hi) hit = true;
      pi += 2;
    } else if (c === b) {
      hit = true;
    }
    pi++;
  }
  return hit !== negate ? pi : -1;
}
