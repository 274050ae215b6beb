/**
 * Redis's glob (util.c stringmatchlen): `*`, `?`, `[abc]`, `[^a-z]`, `\x`, over bytes,
 * case-sensitive. ACL key and channel patterns are matched with it, as Redis does.
 */
export function globMatch(pattern: Uint8Array, subject: Uint8Array): boolean {
  return matchFrom(pattern, 0, subject, 0);
}

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const BACKSLASH = 0x5c;
const DASH = 0x2d;

function matchFrom(p: Uint8Array, pi: number, s: Uint8Array, si: number): boolean {
  while (pi < p.length && si < s.length) {
    const c = p[pi];
    if (c === STAR) {
      while (pi + 1 < p.length && p[pi + 1] === STAR) pi++;
      if (pi + 1 === p.length) return true;
      for (let k = si; k < s.length; k++) if (matchFrom(p, pi + 1, s, k)) return true;
      return false;
    }
    if (c === QUESTION) {
      pi++;
      si++;
      continue;
    }
    if (c === OPEN) {
      pi++;
      const negate = p[pi] === CARET;
      if (negate) pi++;
      let matched = false;
      while (pi < p.length && p[pi] !== CLOSE) {
        if (p[pi] === BACKSLASH && pi + 1 < p.length) {
          pi++;
          if (p[pi] === s[si]) matched = true;
        } else if (pi + 2 < p.length && p[pi + 1] === DASH) {
          const lo = Math.min(p[pi], p[pi + 2]);
          const hi = Math.max(p[pi], p[pi + 2]);
          if (s[si] >= lo && s[si] <= hi) matched = true;
          pi += 2;
        } else if (p[pi] === s[si]) matched = true;
        pi++;
      }
      if (negate) matched = !matched;
      if (!matched) return false;
      pi++; // past ']' (or the end of an unterminated class, as Redis treats it)
      si++;
      continue;
    }
    if (c === BACKSLASH && pi + 1 < p.length) pi++;
    if (p[pi] !== s[si]) return false;
    pi++;
    si++;
  }
  while (pi < p.length && p[pi] === STAR) pi++;
  return pi === p.length && si === s.length;
}
