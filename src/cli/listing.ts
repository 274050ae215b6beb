/**
 * The listing as JSON in the shape GET /api/v1/cluster gives (`nodes`, `operations`;
 * unknown numbers are null). LIST's lines are read back by status/list-format.ts.
 */
import type { ClusterListing } from '../status/list-format.js';

/** The listing for scripts: undefined → null, as the HTTP API's cluster document has it. */
export function listingJson(listing: ClusterListing): string {
  return JSON.stringify(listing, (_key, value: unknown) => (value === undefined ? null : value), 2);
}
