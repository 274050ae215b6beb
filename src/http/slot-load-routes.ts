/**
 * GET /api/v1/slots/load?top=n: the busiest slots by the requests this proxy routed to them
 * (ops/slot-load.ts, what REBALANCE LOAD plans from), each with the master serving it now.
 * This process's counts: with several proxies, each shows its own. It shows node addresses,
 * so it takes the topology guard, as LIST does.
 */
import type { FastifyInstance } from 'fastify';
import type { SlotLoad } from '../ops/slot-load.js';
import { UNASSIGNED, type SlotMap } from '../cluster/slot-map.js';
import type { RouteGuard } from './auth.js';
import { errorReplies } from './schemas.js';
import { HttpError } from './http-error.js';

export interface SlotLoadRoutesOptions {
  load: SlotLoad;
  /** The router's slot map now (which master serves each slot). */
  slotMap: () => SlotMap;
  guard: RouteGuard;
}

const DEFAULT_TOP = 20;
const SLOTS = 16384;

const querySchema = {
  type: 'object',
  additionalProperties: false,
  // A string, as every query value is (the server coerces nothing): checked here, parsed below.
  properties: { top: { type: 'string', pattern: '^[1-9][0-9]{0,4}$', description: `how many slots, busiest first: 1 to 16384 (default ${DEFAULT_TOP})` } },
} as const;

const slotLoadSchema = {
  type: 'object',
  required: ['windowSeconds', 'opsPerSec', 'slots'],
  properties: {
    windowSeconds: { type: 'number', description: 'the time the rates cover (10 to 20 s)' },
    opsPerSec: { type: 'number', description: 'every slot together' },
    slots: {
      type: 'array',
      items: {
        type: 'object',
        required: ['slot', 'opsPerSec', 'master'],
        properties: {
          slot: { type: 'integer' },
          opsPerSec: { type: 'number' },
          master: { type: ['string', 'null'], description: 'host:port of the master serving it now; null when none does' },
        },
      },
    },
  },
} as const;

export function slotLoadRoutes(app: FastifyInstance, o: SlotLoadRoutesOptions): void {
  const { onRequest, security } = o.guard;
  app.get<{ Querystring: { top?: string } }>('/api/v1/slots/load', {
    onRequest,
    schema: {
      summary: 'The busiest slots',
      description: 'Requests per second of each slot as this proxy routed them over the last 10 to 20 s (what REBALANCE LOAD plans from), busiest first, with the master serving each now. Slots with no request are left out.',
      tags: ['cluster'],
      security,
      querystring: querySchema,
      response: { 200: slotLoadSchema, ...errorReplies(400, 401) },
    },
  }, async (request) => {
    const top = request.query.top === undefined ? DEFAULT_TOP : Number(request.query.top);
    if (top > SLOTS) throw new HttpError(400, `top must be 1 to ${SLOTS}, not ${top}`);
    const { perSlot, seconds } = o.load.ratesNow();
    const map = o.slotMap();
    let total = 0;
    const busy: number[] = [];
    for (let slot = 0; slot < perSlot.length; slot++) {
      total += perSlot[slot];
      if (perSlot[slot] > 0) busy.push(slot);
    }
    busy.sort((a, b) => perSlot[b] - perSlot[a] || a - b);
    const slots = busy.slice(0, top).map((slot) => {
      const master = map.slotToMaster[slot];
      return { slot, opsPerSec: perSlot[slot], master: master === UNASSIGNED ? null : map.masters[master].address };
    });
    return { windowSeconds: seconds, opsPerSec: total, slots };
  });
}
