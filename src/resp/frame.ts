/**
 * The shapes the RESP scanners hand to the rest of the proxy.
 *
 * A request keeps the exact bytes it arrived as (`raw`), so the router can forward it
 * untouched; arguments are located by byte offsets into `raw` rather than copied, and
 * only the few the proxy needs (command name, keys) are ever looked at.
 */

/** One complete client request. */
export interface RequestFrame {
  /**
   * The exact bytes of the frame as received: a view of the socket chunk when the frame
   * arrived in one chunk (the usual case), else one Buffer joining its pieces.
   * Shared with the read buffer: never write into it.
   */
  readonly raw: Buffer;
  /**
   * Number of arguments, command name included. 0 for requests Redis ignores: an empty
   * or blank inline line, `*0`, `*-1` (the session skips them).
   */
  readonly argc: number;
  /**
   * Argument byte ranges within `raw`, flattened: argument i spans
   * raw[offsets[2*i], offsets[2*i+1]). Length is 2 * argc.
   */
  readonly offsets: readonly number[];
  /**
   * True for an inline command (`SET a b\r\n`, as typed in telnet). For those the scanner
   * builds `raw` as the RESP array encoding of the parsed arguments (quotes and escapes
   * resolved as redis-server does), so every frame's `raw` can be forwarded as is.
   */
  readonly inline: boolean;
}

/**
 * A malformed stream. `message` is the text Redis would send after `-ERR `,
 * e.g. "Protocol error: invalid bulk length". The client that sent it is closed.
 */
export class ProtocolError {
  constructor(readonly message: string) {}
}

/** Argument i of a request as a Buffer view (no copy). */
export function argBuffer(frame: RequestFrame, i: number): Buffer {
  return frame.raw.subarray(frame.offsets[2 * i], frame.offsets[2 * i + 1]);
}

/** Argument i as a latin1 string (for the few arguments the proxy interprets: names, numbers). */
export function argString(frame: RequestFrame, i: number): string {
  return frame.raw.toString('latin1', frame.offsets[2 * i], frame.offsets[2 * i + 1]);
}
