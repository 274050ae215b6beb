/**
 * Chunk bookkeeping shared by the request and reply scanners.
 *
 * A scanner walks the newest chunk (`buf`) with a cursor (`pos`). A frame that lies inside
 * one chunk is handed out as a view of it. A frame that does not is kept as a list of
 * pieces (views of earlier chunks, no copy) and joined into one Buffer exactly once, when
 * its last byte has arrived. Meanwhile each new chunk is either searched once (while a
 * header line is incomplete) or only counted (payload bytes): nothing is read twice, so a
 * large value costs the same whatever the chunking. (Tiny chunks are the one exception:
 * see COALESCE_BELOW.)
 *
 * Positions that must survive a chunk change are frame-relative: 0 is the frame's first
 * byte and buf[i] is at frame offset `base + i` (base is negative while the frame starts
 * inside buf).
 */
import { ProtocolError } from './frame.js';

const EMPTY = Buffer.alloc(0);

/**
 * Chunks shorter than this are copied into a scratch piece instead of being kept
 * as pieces of their own: a Buffer object costs ~100 bytes, so a peer dripping a big value
 * in tiny TCP segments would otherwise cost the proxy 100x the value in heap. Socket reads
 * are normally far larger, and then nothing is copied before the final join.
 */
const COALESCE_BELOW = 2048;
const SCRATCH_SIZE = 16 * 1024;

export abstract class ScannerBase<T> {
  /** The chunk being scanned, and the scan position in it. */
  protected buf: Buffer = EMPTY;
  protected pos = 0;
  /** Frame offset of buf[0]. Meaningful only while `inFrame`. */
  protected base = 0;
  protected inFrame = false;

  /** Earlier chunks' share of the frame in progress; pieces[0] starts at frame offset 0. */
  private pieces: Buffer[] = [];
  /** Total length of `pieces` (= frame offset where buf begins once pieces is non-empty). */
  private piecesLen = 0;
  /** Scratch that small chunks are gathered into; its used part is the last piece. */
  private scratch: Buffer | null = null;
  private scratchUsed = 0;
  private scratchDirty = false;

  /** Chunks fed while the current one still had unscanned bytes (feed() without draining). */
  private queue: Buffer[] = [];
  private qHead = 0;
  /** Total length of queue[qHead..]. */
  private queuedBytes = 0;

  private failure: ProtocolError | null = null;

  /**
   * Copy work: joins of frames that spanned chunks, header lines that straddled chunks,
   * tiny chunks gathered. Diagnostics for tests and metrics: a frame spanning any number
   * of ordinary-sized chunks costs one copy of its bytes (`copies` counts joins and line
   * copies; `copiedBytes` counts all copied bytes).
   */
  copies = 0;
  copiedBytes = 0;

  /**
   * Input held and not yet handed out as frames: the frame in progress so far, the rest
   * of the current chunk and the queued chunks. A session that is not taking frames
   * bounds its reading by this.
   */
  get bufferedBytes(): number {
    // While inFrame, base + pos is the frame's length so far (base < 0: it began in buf).
    return (this.inFrame ? this.base + this.pos : 0) + (this.buf.length - this.pos) + this.queuedBytes;
  }

  /** The error that stopped this scanner, if any. */
  get error(): ProtocolError | null {
    return this.failure;
  }

  /** Appends a chunk read from the socket. Ignored once the scanner has failed. */
  feed(chunk: Buffer): void {
    if (this.failure !== null || chunk.length === 0) return;
    if (this.pos >= this.buf.length && this.qHead === this.queue.length) this.adopt(chunk);
    else {
      this.queue.push(chunk);
      this.queuedBytes += chunk.length;
    }
  }

  /**
   * The next complete frame, a ProtocolError, or null when more input is needed.
   * A ProtocolError is returned once; the scanner then stays failed: next() returns null
   * and feed() discards input (the peer is to be disconnected).
   */
  next(): T | ProtocolError | null {
    if (this.failure !== null) return null;
    for (;;) {
      const r = this.step();
      if (r !== null) return r;
      if (this.failure !== null) return null;
      // step() returns null only with the current chunk fully scanned.
      if (this.qHead === this.queue.length) return null;
      const chunk = this.queue[this.qHead++];
      this.queuedBytes -= chunk.length;
      if (this.qHead === this.queue.length) {
        this.queue.length = 0;
        this.qHead = 0;
      }
      this.adopt(chunk);
    }
  }

  /**
   * Scans from `pos` in `buf`. Returns a frame or an error, or null once the whole chunk
   * has been consumed (pos === buf.length) and more input is needed.
   */
  protected abstract step(): T | ProtocolError | null;

  /** Makes `chunk` current; the frame in progress keeps its share of the old one. */
  private adopt(chunk: Buffer): void {
    if (this.inFrame) {
      const old = this.buf;
      const from = this.base < 0 ? -this.base : 0;
      if (from < old.length) this.retain(from === 0 ? old : old.subarray(from));
      this.piecesLen = this.base + old.length;
      this.base = this.piecesLen;
    }
    this.buf = chunk;
    this.pos = 0;
  }

  private retain(piece: Buffer): void {
    const pieces = this.pieces;
    if (piece.length >= COALESCE_BELOW) {
      this.sealScratch();
      this.scratch = null; // keep pieces in order: the next small chunk opens a new scratch
      pieces.push(piece);
      return;
    }
    let scratch = this.scratch;
    let used = this.scratchUsed;
    if (scratch === null || used + piece.length > scratch.length) {
      this.sealScratch();
      scratch = this.scratch = Buffer.allocUnsafe(SCRATCH_SIZE);
      used = 0;
      pieces.push(EMPTY); // the scratch's slot, filled in by sealScratch()
    }
    const len = piece.length;
    if (len <= 16) for (let i = 0; i < len; i++) scratch[used + i] = piece[i];
    else piece.copy(scratch, used);
    this.scratchUsed = used + len;
    this.scratchDirty = true;
    this.copiedBytes += len;
  }

  /** Points the scratch's slot in `pieces` at its current content (done lazily: one view, not one per chunk). */
  private sealScratch(): void {
    if (!this.scratchDirty || this.scratch === null) return;
    this.pieces[this.pieces.length - 1] = this.scratch.subarray(0, this.scratchUsed);
    this.scratchDirty = false;
  }

  /** Starts a frame at the current position. */
  protected beginFrame(): void {
    this.inFrame = true;
    this.base = -this.pos;
  }

  /**
   * Ends the frame at frame offset `end` and returns its bytes: a view when it lies in
   * `buf`, otherwise the one copy joining its pieces. Moves `pos` past the frame.
   */
  protected endFrame(end: number): Buffer {
    const base = this.base;
    this.inFrame = false;
    this.pos = end - base;
    if (base <= 0) return this.buf.subarray(-base, end - base);
    this.sealScratch();
    const pieces = this.pieces;
    pieces.push(this.buf.subarray(0, end - base));
    const raw = Buffer.concat(pieces, end);
    this.copies++;
    this.copiedBytes += end;
    pieces.length = 0;
    this.piecesLen = 0;
    this.scratch = null;
    this.scratchDirty = false;
    return raw;
  }

  /**
   * Ends a frame that lies whole in `buf` and returns `same`, a buffer holding the same
   * bytes, instead of a view of them (a common reply: no view made per reply).
   */
  protected endFrameAs(end: number, same: Buffer): Buffer {
    this.inFrame = false;
    this.pos = end - this.base;
    return same;
  }

  /** Forgets the frame in progress without producing it (its bytes are not needed). */
  protected dropFrame(): void {
    this.inFrame = false;
    this.pieces.length = 0;
    this.piecesLen = 0;
    this.scratch = null;
    this.scratchDirty = false;
  }

  /**
   * Bytes [from, to) of the frame in progress: a view when they lie in `buf`, else a copy.
   * Used for header and inline lines that straddle chunks, so the copy is short and made
   * once per line; the pieces are walked from the end, where such a line is.
   */
  protected range(from: number, to: number): Buffer {
    const base = this.base;
    if (from >= base) return this.buf.subarray(from - base, to - base);
    const out = Buffer.allocUnsafe(to - from);
    if (to > base) this.buf.copy(out, base - from, 0, to - base);
    this.sealScratch();
    const pieces = this.pieces;
    let pieceEnd = this.piecesLen;
    for (let k = pieces.length - 1; k >= 0 && pieceEnd > from; k--) {
      const piece = pieces[k];
      const pieceStart = pieceEnd - piece.length;
      if (pieceStart < to) {
        const s = from > pieceStart ? from : pieceStart;
        const e = to < pieceEnd ? to : pieceEnd;
        piece.copy(out, s - from, s - pieceStart, e - pieceStart);
      }
      pieceEnd = pieceStart;
    }
    this.copies++;
    this.copiedBytes += to - from;
    return out;
  }

  /** The byte at frame offset `at` (in `buf` or in a piece). */
  protected byteAt(at: number): number {
    const base = this.base;
    if (at >= base) return this.buf[at - base];
    this.sealScratch();
    const pieces = this.pieces;
    let pieceEnd = this.piecesLen;
    for (let k = pieces.length - 1; k >= 0; k--) {
      const piece = pieces[k];
      const pieceStart = pieceEnd - piece.length;
      if (at >= pieceStart) return piece[at - pieceStart];
      pieceEnd = pieceStart;
    }
    return -1;
  }

  /** Enters the failed state and returns the error to report. Releases buffered input. */
  protected fail(message: string): ProtocolError {
    const err = new ProtocolError(message);
    this.failure = err;
    this.dropFrame();
    this.queue.length = 0;
    this.qHead = 0;
    this.queuedBytes = 0;
    this.buf = EMPTY;
    this.pos = 0;
    return err;
  }
}

/** Length of the decimal text of LLONG_MAX (and of |LLONG_MIN|). */
const LLONG_DIGITS = 19;

/**
 * Parses a decimal integer exactly as Redis's string2ll accepts it: optional '-', no '+',
 * no leading zeros ("0" alone is fine, "-0" is not), no spaces, at most 20 chars, within
 * the signed 64-bit range. Returns NaN when Redis would reject it.
 *
 * Exact up to 2^53; beyond that the result is approximate but already larger than any
 * limit it is compared with — except at the int64 edge, which is checked on the digits.
 */
export function parseDecimal(b: Buffer, start: number, end: number): number {
  const len = end - start;
  if (len <= 0 || len >= 21) return NaN;
  let i = start;
  let c = b[i];
  const neg = c === 45; // '-'
  if (neg) {
    if (++i === end) return NaN;
    c = b[i];
  } else if (c === 48 && len === 1) {
    return 0;
  }
  if (c < 49 || c > 57) return NaN; // first digit 1-9
  let v = c - 48;
  for (i++; i < end; i++) {
    c = b[i];
    if (c < 48 || c > 57) return NaN;
    v = v * 10 + (c - 48);
  }
  const digits = neg ? len - 1 : len;
  if (digits >= LLONG_DIGITS) {
    if (digits > LLONG_DIGITS) return NaN;
    const text = b.toString('latin1', neg ? start + 1 : start, end);
    if (text > (neg ? '9223372036854775808' : '9223372036854775807')) return NaN;
  }
  return neg ? -v : v;
}
