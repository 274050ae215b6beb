/**
 * The reply sink of a request the key sampler picked (ops/key-sampler.ts): counts the
 * reply's size against its key, then hands the reply on. Made for sampled requests only,
 * so the others pay nothing for it.
 */
import type { ReplySink } from '../../backend/reply-sink.js';
import type { KeySample } from '../../ops/key-sampler.js';

export class SampledReply implements ReplySink {
  constructor(
    private readonly sample: KeySample,
    private readonly target: ReplySink,
  ) {}

  deliver(reply: Buffer): void {
    this.sample.replied(reply.length);
    this.target.deliver(reply);
  }
}
