/**
 * The Docker events stream of one cluster's containers (by label): container `die`, `oom`
 * and `health_status` events reach the provider as they happen, besides the health
 * monitor's PINGs. A stream that ends or breaks (dockerd restarted, socket hiccup) is
 * reopened after a pause, and the provider is told so it can look for exits it missed.
 */
import type Docker from 'dockerode';
import type { Logger } from '../../log.js';
import { LABEL_NODE } from './docker-network.js';

const REOPEN_MS = 1_000;

export interface ContainerEvent {
  /** "die", "oom", "health_status: unhealthy", ... */
  action: string;
  /** The node id label of the container, if it has one. */
  node: string | undefined;
}

export interface DockerEventsOptions {
  docker: Docker;
  log: Logger;
  /** Only containers with this label ("key=value"). */
  label: string;
  onEvent: (event: ContainerEvent) => void;
  /** The stream is open again after a break: events may have been missed. */
  onReopened: () => void;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  Actor?: { Attributes?: Record<string, string> };
}

export class DockerEvents {
  private stream: NodeJS.ReadableStream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private opened = 0;

  constructor(private readonly o: DockerEventsOptions) {}

  open(): void {
    if (this.closed) return;
    this.o.docker
      .getEvents({ filters: { type: ['container'], label: [this.o.label] } })
      .then((stream) => {
        if (this.closed) {
          (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
          return;
        }
        this.stream = stream;
        if (this.opened++ > 0) {
          this.o.log.info('docker events stream reopened');
          this.o.onReopened();
        }
        let pending = '';
        stream.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (line !== '') this.dispatch(line);
          }
        });
        const broken = (why: string) => {
          if (this.stream !== stream) return;
          this.stream = undefined;
          this.reopenLater(why);
        };
        stream.on('end', () => broken('ended'));
        stream.on('close', () => broken('closed'));
        stream.on('error', (err: Error) => broken(err.message));
      })
      .catch((err: Error) => this.reopenLater(err.message));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const stream = this.stream as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    this.stream = undefined;
    stream?.destroy?.();
  }

  private reopenLater(why: string): void {
    if (this.closed || this.timer) return;
    this.o.log.warn({ why }, 'docker events stream broke; reopening it');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.open();
    }, REOPEN_MS);
    this.timer.unref();
  }

  private dispatch(line: string): void {
    let event: RawEvent;
    try {
      event = JSON.parse(line) as RawEvent;
    } catch {
      this.o.log.warn({ line: line.slice(0, 200) }, 'unreadable docker event; ignored');
      return;
    }
    const action = event.Action ?? event.status;
    if (action === undefined) return;
    this.o.onEvent({ action, node: event.Actor?.Attributes?.[LABEL_NODE] });
  }
}
