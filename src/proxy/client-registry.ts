/**
 * The proxy's client connections: admitted up to maxclients, counted for INFO, paused
 * together (CLIENT PAUSE) and held together to --maxmemory-clients.
 */
import type net from 'node:net';
import type { Logger } from '../log.js';
import { encodeError } from '../resp/encode.js';
import { fullGc } from '../ops/full-gc.js';
import { ClientSession, type SessionHost } from './session.js';
import { ClientPause } from './client-pause.js';
import { ClientMemory } from './client-memory.js';
import type { ClientMemoryCap } from './limits.js';

export interface ProxyStats {
  readonly startedAt: number;
  connectedClients: number;
  totalConnections: number;
  rejectedConnections: number;
  totalCommands: number;
  /** Bytes read from and written to clients that have disconnected (live ones: their sockets). */
  closedNetInputBytes: number;
  closedNetOutputBytes: number;
}

const MAX_CLIENTS_REACHED = encodeError('ERR max number of clients reached');

export class ClientRegistry {
  readonly stats: ProxyStats = {
    startedAt: Date.now(),
    connectedClients: 0,
    totalConnections: 0,
    rejectedConnections: 0,
    totalCommands: 0,
    closedNetInputBytes: 0,
    closedNetOutputBytes: 0,
  };
  /** CLIENT PAUSE state: consulted by the dispatcher for every request. */
  readonly pause = new ClientPause();
  /** The bytes held for all clients, against --maxmemory-clients (INFO, CONFIG GET/SET maxmemory-clients). */
  readonly memory: ClientMemory;
  /** The connected clients by id (CLIENT TRACKING REDIRECT looks its target up by id). */
  private readonly live = new Map<number, ClientSession>();
  private nextId = 1;

  constructor(
    private readonly maxClients: number,
    memoryCap: ClientMemoryCap,
    log: Logger,
  ) {
    this.memory = new ClientMemory(memoryCap, () => this.live.values(), log, fullGc());
  }

  sessions(): Iterable<ClientSession> {
    return this.live.values();
  }

  /** The connected client with this id, if any. */
  byId(id: number): ClientSession | undefined {
    return this.live.get(id);
  }

  /** Bytes read from and written to clients since start: the closed connections' and the live ones'. */
  netBytes(): { input: number; output: number } {
    let input = this.stats.closedNetInputBytes;
    let output = this.stats.closedNetOutputBytes;
    for (const c of this.live.values()) {
      input += c.socket.bytesRead;
      output += c.socket.bytesWritten;
    }
    return { input, output };
  }

  /** A new connection: a session of `host`, or refused when maxclients are connected already. */
  admit(socket: net.Socket, host: SessionHost): void {
    this.stats.totalConnections++;
    if (this.live.size >= this.maxClients) {
      this.stats.rejectedConnections++;
      socket.on('error', () => {});
      // It was accepted paused and will never read the client's FIN: close it once the
      // error is flushed, or it would linger half-open (and hold up server.close()).
      socket.end(MAX_CLIENTS_REACHED, () => socket.destroy());
      return;
    }
    const session = new ClientSession(this.nextId++, socket, host);
    this.live.set(session.id, session);
    this.stats.connectedClients++;
  }

  closed(session: ClientSession): void {
    if (this.live.get(session.id) === session && this.live.delete(session.id)) {
      this.stats.connectedClients--;
      this.stats.closedNetInputBytes += session.socket.bytesRead;
      this.stats.closedNetOutputBytes += session.socket.bytesWritten;
    }
    this.pause.forget(session);
  }

  /** Close every client now (server shutdown). */
  destroyAll(): void {
    for (const s of this.live.values()) s.destroy();
  }
}
