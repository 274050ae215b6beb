/**
 * A RequestFrame for `args`, as the proxy's own RequestScanner yields it from the same
 * command on the wire: the tests of key extraction and command lookup feed it to the code
 * under test exactly as a client's request would be.
 */
import { encodeCommand } from '../../src/resp/encode.js';
import { ProtocolError, type RequestFrame } from '../../src/resp/frame.js';
import { RequestScanner } from '../../src/resp/request-scanner.js';

export function buildRequest(args: readonly (Buffer | string)[]): RequestFrame {
  const scanner = new RequestScanner();
  scanner.feed(encodeCommand(args));
  const frame = scanner.next();
  if (frame === null || frame instanceof ProtocolError) throw new Error(`not one request: ${args.join(' ')}`);
  return frame;
}
