/**
 * The cluster routes: the study project's /api/v1/clients (nodes listed and added), node
 * removal, FAILOVER and REBALANCE, and /api/v1/cluster (topology, health and counters for
 * the status page). Every one is an AdminApi call — the same operations as the RESP
 * verbs (ADD, LIST, REMOVE, FAILOVER, REBALANCE) — so no behaviour exists here only.
 *
 * Changes need --admin-password as a bearer token. Reads (GET) are open, like /metrics and
 * the status page, which show the same topology to whoever reaches the HTTP port.
 */
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { AdminError, parseNodeAddress } from '../admin/cluster-admin.js';
import type { AdminApi } from '../admin/admin-api.js';
import type { CoordinationStatus } from '../status/coordination-status.js';
import type { NodeAddress } from '../nodes/control-client.js';
import { clusterView, listingView, type ClusterStats } from './cluster-view.js';
import { HttpError } from './http-error.js';
import {
  addClientSchema,
  bearer,
  changeResultSchema,
  clientsSchema,
  clusterSchema,
  errorReplies,
  nodeParamsSchema,
  type AddClientBody,
} from './schemas.js';

export interface AdminRoutesOptions {
  admin: AdminApi;
  stats: () => ClusterStats;
  coordination: () => CoordinationStatus;
  /** The --admin-password bearer check. */
  guard: onRequestAsyncHookHandler;
  guarded: boolean;
}

const failoverBodySchema = {
  type: 'object',
  required: ['master'],
  additionalProperties: false,
  properties: { master: { type: 'string', minLength: 1, description: 'the master to replace by its most up-to-date replica: node id or host:port' } },
} as const;

/** A node named in a request; `status` when there is none (404 for the path's, 400 for the body's). */
function known(admin: AdminApi, name: string, status: number): void {
  try {
    admin.node(name);
  } catch (err) {
    if (err instanceof AdminError) throw new HttpError(status, err.message);
    throw err;
  }
}

/** host:port from a body field (the schema checked its shape; this its range). */
function bodyAddress(text: string): NodeAddress {
  try {
    return parseNodeAddress(text);
  } catch (err) {
    if (err instanceof AdminError) throw new HttpError(400, `address: ${err.message}`);
    throw err;
  }
}

export function adminRoutes(app: FastifyInstance, o: AdminRoutesOptions): void {
  const { admin } = o;
  const change = { onRequest: o.guard };
  const security = o.guarded ? bearer : undefined;
  const changeReplies = { 200: changeResultSchema, ...errorReplies(400, 401, 404, 409) };

  app.get('/api/v1/clients', {
    schema: { summary: 'List the nodes', description: 'Every node with role, state, slots, keys, offset and lag, and the operations under way (LIST).', tags: ['cluster'], response: { 200: clientsSchema } },
  }, async () => listingView(await admin.list()));

  app.post<{ Body: AddClientBody }>('/api/v1/clients', {
    ...change,
    schema: {
      summary: 'Add a node',
      description:
        'role master: ADD MASTER [address] — a new master (with a replica when the others have one), then the slots are rebalanced onto it. ' +
        'role slave (or replica): ADD SLAVE <master_address> [address] — a new replica of that master, in sync when this returns. ' +
        'Without address the proxy starts the node itself.',
      tags: ['cluster'],
      security,
      body: addClientSchema,
      response: { 201: changeResultSchema, ...errorReplies(400, 401, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const address = body.address === undefined ? undefined : bodyAddress(body.address);
    let result: string;
    if (body.role === 'master') {
      if (body.master_address !== undefined) throw new HttpError(400, 'master_address is for role slave: a master has none');
      result = await admin.addMaster(address);
    } else {
      if (body.master_address === undefined) throw new HttpError(400, `role ${body.role} needs master_address: the master to replicate`);
      known(admin, body.master_address, 400);
      result = await admin.addReplica(body.master_address, address);
    }
    return reply.code(201).send({ result });
  });

  app.delete<{ Params: { id: string } }>('/api/v1/clients/:id', {
    ...change,
    schema: {
      summary: 'Remove a node',
      description: 'REMOVE: a replica goes; a master first gives its slots and keys to the other masters, then goes with its replicas.',
      tags: ['cluster'],
      security,
      params: nodeParamsSchema,
      response: changeReplies,
    },
  }, async (request) => {
    known(admin, request.params.id, 404);
    return { result: await admin.remove(request.params.id) };
  });

  app.get('/api/v1/cluster', {
    schema: {
      summary: 'Topology, health and counters',
      description: 'The nodes and operations of LIST, and the proxy\'s own counters (as INFO shows them): what the status page draws.',
      tags: ['cluster'],
      response: { 200: clusterSchema },
    },
  }, async () => clusterView(await admin.list(), o.stats(), o.coordination()));

  app.post<{ Body: { master: string } }>('/api/v1/cluster/failover', {
    ...change,
    schema: {
      summary: 'Fail a master over',
      description: 'FAILOVER: a planned switch of the master to its most up-to-date replica; no acknowledged write is lost.',
      tags: ['cluster'],
      security,
      body: failoverBodySchema,
      response: changeReplies,
    },
  }, async (request) => {
    known(admin, request.body.master, 404);
    return { result: await admin.failover(request.body.master) };
  });

  app.post('/api/v1/cluster/rebalance', {
    ...change,
    schema: { summary: 'Rebalance', description: 'REBALANCE: even the slots, and their keys, out over every master.', tags: ['cluster'], security, response: changeReplies },
  }, async () => ({ result: await admin.rebalance() }));
}
