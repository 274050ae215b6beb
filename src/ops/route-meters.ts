/**
 * RouteMeters: what the router measures of the keyed requests it sends — requests per hash
 * slot (SlotLoad: REBALANCE LOAD plans from it) and a sample of their keys (KeySampler:
 * HOTKEYS, BIGKEYS). One object, so the router holds one field for both.
 */
import { KeySampler } from './key-sampler.js';
import { SlotLoad } from './slot-load.js';

export class RouteMeters {
  constructor(
    readonly slots: SlotLoad = new SlotLoad(),
    /** Off unless given (a sample rate of 0). */
    readonly keys: KeySampler = new KeySampler({ every: 0 }),
  ) {}

  close(): void {
    this.slots.close();
  }
}
