/**
 * Where a backend delivers the reply to one request. The proxy side implements it (a
 * client's reply slot, one part of a split MGET, ...). Errors arrive the same way, as
 * RESP error frames (`-ERR ...`), so the client sees exactly one reply per request.
 */
export interface ReplySink {
  deliver(reply: Buffer): void;
}
