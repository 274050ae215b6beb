/**
 * The cluster routes: the study project's /api/v1/clients (nodes listed and added), node
 * removal, FAILOVER and REBALANCE, and /api/v1/cluster (topology, health and counters for
 * the status page). Every one is an AdminApi call — the same operations as the RESP
 * verbs (ADD, LIST, REMOVE, FAILOVER, REBALANCE) — so no behaviour exists here only.
 *
 * Reads and changes alike take the topology guard: what LIST refuses a data user on RESP,
 * these refuse a request without the admin's token (auth.ts).
 *
 * A node named anywhere (path or body) that the cluster does not have is a 404; a body
 * with a field the route does not know is a 400 naming it, also where the route takes none.
 */
import type { FastifyInstance } from 'fastify';
import { AdminError, parseNodeAddress } from '../admin/cluster-admin.js';
import type { AdminApi } from '../admin/admin-api.js';
import type { CoordinationStatus } from '../status/coordination-status.js';
import type { NodeAddress } from '../nodes/control-client.js';
import type { RouteGuard } from './auth.js';
import { clusterView, listingView, type ClusterStats } from './cluster-view.js';
import { HttpError } from './http-error.js';
import {
  addClientSchema,
  changeResultSchema,
  clientsSchema,
  clusterSchema,
  emptyBodySchema,
  rebalanceBodySchema,
  rebalanceResultSchema,
  type RebalanceBody,
  errorReplies,
  failoverBodySchema,
  nodeParamsSchema,
  type AddClientBody,
  type FailoverBody,
} from './schemas.js';

export interface AdminRoutesOptions {
  admin: AdminApi;
  stats: () => ClusterStats;
  coordination: () => CoordinationStatus;
  /** The topology guard (auth.ts): reads and changes. */
  guard: RouteGuard;
}

/** A node named in a request (path or body): 404 when the cluster has none of that name. */
function known(admin: AdminApi, name: string): void {
  try {
    admin.node(name);
  } catch (err) {
    if (err instanceof AdminError) throw new HttpError(404, err.message);
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
  const { onRequest, security } = o.guard;
  const guarded = { onRequest };
  const readReplies = errorReplies(401);
  const changeReplies = { 200: changeResultSchema, ...errorReplies(400, 401, 404, 409, 413, 415, 503) };

  app.get('/api/v1/clients', {
    ...guarded,
    schema: {
      summary: 'List the nodes',
      description: 'Every node with role, state, slots, keys, offset and lag, and the operations under way (LIST): the admin change running, migrations, recoveries.',
      tags: ['cluster'],
      security,
      response: { 200: clientsSchema, ...readReplies },
    },
  }, async () => listingView(await admin.list()));

  app.post<{ Body: AddClientBody }>('/api/v1/clients', {
    ...guarded,
    schema: {
      summary: 'Add a node',
      description:
        'role master: ADD MASTER [address] — a new master (with a replica when the others have one), then the slots are rebalanced onto it. ' +
        'role slave (or replica): ADD SLAVE <master_address> [address] — a new replica of that master, in sync when this returns; 404 when there is no such master. ' +
        'Without address the proxy starts the node itself.',
      tags: ['cluster'],
      security,
      body: addClientSchema,
      response: { 201: changeResultSchema, ...errorReplies(400, 401, 404, 409, 413, 415, 503) },
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
      known(admin, body.master_address);
      result = await admin.addReplica(body.master_address, address);
    }
    return reply.code(201).send({ result });
  });

  app.delete<{ Params: { id: string } }>('/api/v1/clients/:id', {
    ...guarded,
    schema: {
      summary: 'Remove a node',
      description: 'REMOVE: a replica goes; a master first gives its slots and keys to the other masters, then goes with its replicas. No body (or {}).',
      tags: ['cluster'],
      security,
      params: nodeParamsSchema,
      body: emptyBodySchema,
      response: changeReplies,
    },
  }, async (request) => {
    known(admin, request.params.id);
    return { result: await admin.remove(request.params.id) };
  });

  app.get('/api/v1/cluster', {
    ...guarded,
    schema: {
      summary: 'Topology, health and counters',
      description: 'The nodes and operations of LIST, and the proxy\'s own counters (as INFO shows them): what the status page draws.',
      tags: ['cluster'],
      security,
      response: { 200: clusterSchema, ...readReplies },
    },
  }, async () => clusterView(await admin.list(), o.stats(), o.coordination()));

  app.post<{ Body: FailoverBody }>('/api/v1/cluster/failover', {
    ...guarded,
    schema: {
      summary: 'Fail a master over',
      description:
        'FAILOVER: a planned switch of the master to its most up-to-date replica; no acknowledged write is lost. It needs the master up: for one that is down the answer is a 409 saying to retry with `"force": true` ' +
        '(FAILOVER <master> FORCE), which promotes the replica without it — writes the master acknowledged but had not replicated are lost.',
      tags: ['cluster'],
      security,
      body: failoverBodySchema,
      response: changeReplies,
    },
  }, async (request) => {
    const { master, force = false } = request.body;
    known(admin, master);
    return { result: await admin.failover(master, force ? 'force' : 'planned') };
  });

  app.post<{ Body: RebalanceBody }>('/api/v1/cluster/rebalance', {
    ...guarded,
    schema: {
      summary: 'Rebalance',
      description:
        'REBALANCE: even the slots, and their keys, out over every master. No body (or {}). ' +
        '{"by": "load"}: REBALANCE LOAD — move slots so the masters\' ops/s (as this proxy counts them per slot) even out, within the slot-count bound; ' +
        'with "dryRun": true only the plan (REBALANCE LOAD DRYRUN), nothing moved. The plan comes back as `plan`.',
      tags: ['cluster'],
      security,
      body: rebalanceBodySchema,
      response: { ...changeReplies, 200: rebalanceResultSchema },
    },
  }, async (request) => {
    const { by = 'slots', dryRun = false } = request.body;
    if (by === 'slots') {
      if (dryRun) throw new HttpError(400, 'dryRun is for {"by": "load"}: REBALANCE has no dry run');
      return { result: await admin.rebalance() };
    }
    const plan = await admin.rebalanceLoad(dryRun);
    return { result: plan.result ?? `dry run: ${plan.slotsMoved} slots would move; ${plan.stopped}`, plan };
  });
}
