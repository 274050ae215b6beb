/**
 * Free-port selection on 127.0.0.1. Remembers what it handed out in this process so two
 * nodes started in parallel never get the same port.
 */
import net from 'node:net';

function listenOnce(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(undefined);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

export class PortAllocator {
  private readonly handedOut = new Set<number>();

  constructor(private readonly host = '127.0.0.1') {}

  /** True when this allocator has not handed `port` out and nothing listens on it now. */
  async isFree(port: number): Promise<boolean> {
    if (this.handedOut.has(port)) return false;
    return (await listenOnce(port, this.host)) === port;
  }

  /** Claim `port` for a node (so `pick` won't hand it to another). */
  claim(port: number): void {
    this.handedOut.add(port);
  }

  release(port: number): void {
    this.handedOut.delete(port);
  }

  /** A port the OS reports free, not handed out before; claimed for the caller. */
  async pick(): Promise<number> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = await listenOnce(0, this.host);
      if (port !== undefined && !this.handedOut.has(port)) {
        this.handedOut.add(port);
        return port;
      }
    }
    throw new Error(`no free port found on ${this.host}`);
  }
}
