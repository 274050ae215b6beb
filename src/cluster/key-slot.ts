/**
 * Key → hash slot, exactly as Redis Cluster computes it (cluster.c keyHashSlot):
 * CRC16-XMODEM of the key mod 16384, where a non-empty `{hash tag}` — the bytes between
 * the first '{' and the first '}' after it — replaces the whole key.
 *
 * It works on a byte range of a buffer so the router can hash a key where it sits
 * inside a request's raw bytes, without allocating a view per key.
 */

/** CRC16-XMODEM (poly 0x1021, init 0, no reflection), one entry per byte value. */
const CRC16_TABLE: Uint16Array = buildCrc16Table();

function buildCrc16Table(): Uint16Array {
  const table = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    let crc = b << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table[b] = crc;
  }
  return table;
}

/** CRC16-XMODEM of buf[start, end). */
export function crc16(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ buf[i]) & 0xff];
  }
  return crc;
}

const OPEN_BRACE = 0x7b; // '{'
const CLOSE_BRACE = 0x7d; // '}'

/** Hash slot (0..16383) of the key stored in buf[start, end). */
export function keySlot(buf: Uint8Array, start = 0, end = buf.length): number {
  // One pass for the usual key, which has no '{': the CRC is taken while looking for one.
  let crc = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    if (b === OPEN_BRACE) return taggedSlot(buf, i, start, end);
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff];
  }
  return crc & 0x3fff;
}

/** The slot of a key whose first '{' is at `open`. Redis looks only at that first '{'; a '}' before it does not count. */
function taggedSlot(buf: Uint8Array, open: number, start: number, end: number): number {
  for (let i = open + 1; i < end; i++) {
    if (buf[i] === CLOSE_BRACE) {
      // An empty tag ("{}") means "no tag": the whole key is hashed.
      if (i > open + 1) return crc16(buf, open + 1, i) & 0x3fff;
      break;
    }
  }
  return crc16(buf, start, end) & 0x3fff;
}
