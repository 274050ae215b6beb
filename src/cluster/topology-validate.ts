/**
 * Structural and referential checks of a TopologyDoc read from disk. Returns every problem
 * found (as values), so a broken topology.json gets one error that lists them all.
 */
import { SLOT_COUNT, type TopologyDoc } from './topology.js';

export type TopologyCheck = { ok: true; doc: TopologyDoc } | { ok: false; problems: string[] };

const PROVIDERS = new Set(['process', 'docker', 'static']);

type Fields = Record<string, unknown>;

function isObject(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

export function validateTopology(value: unknown): TopologyCheck {
  const problems: string[] = [];
  if (!isObject(value)) return { ok: false, problems: ['expected a JSON object'] };

  if (value.format !== 1) problems.push(`format: expected 1, got ${JSON.stringify(value.format)}`);
  if (!isInt(value.epoch, 0, Number.MAX_SAFE_INTEGER)) problems.push('epoch: expected a non-negative integer');
  if (typeof value.provider !== 'string' || !PROVIDERS.has(value.provider)) {
    problems.push(`provider: expected one of ${[...PROVIDERS].join(', ')}, got ${JSON.stringify(value.provider)}`);
  }
  if (typeof value.nodePassword !== 'string') problems.push('nodePassword: expected a string');
  if (!Array.isArray(value.nodes)) problems.push('nodes: expected an array');
  if (!Array.isArray(value.shards)) problems.push('shards: expected an array');
  if (!Array.isArray(value.slots)) problems.push('slots: expected an array');
  if (problems.length > 0) return { ok: false, problems };

  const nodes = value.nodes as unknown[];
  const shards = value.shards as unknown[];
  const slots = value.slots as unknown[];

  // nodes
  const roleOf = new Map<string, string>();
  const masterOf = new Map<string, string>();
  nodes.forEach((n, i) => {
    const at = `nodes[${i}]`;
    if (!isObject(n)) return void problems.push(`${at}: expected an object`);
    if (!isNonEmptyString(n.id)) return void problems.push(`${at}.id: expected a non-empty string`);
    if (roleOf.has(n.id)) problems.push(`${at}.id: duplicate node id ${n.id}`);
    if (!isNonEmptyString(n.host)) problems.push(`${at}.host: expected a non-empty string`);
    if (!isInt(n.port, 0, 65535)) problems.push(`${at}.port: expected an integer 0..65535`);
    if (n.role !== 'master' && n.role !== 'replica') problems.push(`${at}.role: expected "master" or "replica"`);
    if (n.dataDir !== undefined && typeof n.dataDir !== 'string') problems.push(`${at}.dataDir: expected a string`);
    if ((value.provider === 'process' || value.provider === 'docker') && !isNonEmptyString(n.dataDir)) {
      problems.push(`${at}.dataDir: required for ${value.provider} nodes`);
    }
    if (n.handle !== undefined && typeof n.handle !== 'string') problems.push(`${at}.handle: expected a string`);
    roleOf.set(n.id, String(n.role));
    if (n.role === 'replica') {
      if (!isNonEmptyString(n.masterId)) problems.push(`${at}.masterId: required for a replica`);
      else masterOf.set(n.id, n.masterId);
    } else if (n.masterId !== undefined) {
      problems.push(`${at}.masterId: a master has no masterId`);
    }
  });
  for (const [replica, master] of masterOf) {
    if (roleOf.get(master) !== 'master') problems.push(`node ${replica}: masterId ${master} is not a master node`);
  }

  // shards
  const shardIds = new Set<string>();
  const shardOfMaster = new Map<string, string>();
  const listedReplicas = new Set<string>();
  shards.forEach((s, i) => {
    const at = `shards[${i}]`;
    if (!isObject(s)) return void problems.push(`${at}: expected an object`);
    if (!isNonEmptyString(s.id)) return void problems.push(`${at}.id: expected a non-empty string`);
    if (shardIds.has(s.id)) problems.push(`${at}.id: duplicate shard id ${s.id}`);
    shardIds.add(s.id);
    if (!isNonEmptyString(s.masterId) || roleOf.get(s.masterId) !== 'master') {
      problems.push(`${at}.masterId: ${JSON.stringify(s.masterId)} is not a master node`);
    } else if (shardOfMaster.has(s.masterId)) {
      problems.push(`${at}.masterId: master ${s.masterId} already leads shard ${shardOfMaster.get(s.masterId)}`);
    } else {
      shardOfMaster.set(s.masterId, s.id);
    }
    if (!Array.isArray(s.replicaIds)) return void problems.push(`${at}.replicaIds: expected an array`);
    for (const r of s.replicaIds as unknown[]) {
      if (typeof r !== 'string' || roleOf.get(r) !== 'replica') problems.push(`${at}.replicaIds: ${JSON.stringify(r)} is not a replica node`);
      else if (masterOf.get(r) !== s.masterId) problems.push(`${at}.replicaIds: ${r} replicates ${masterOf.get(r)}, not ${String(s.masterId)}`);
      else if (listedReplicas.has(r)) problems.push(`${at}.replicaIds: ${r} is listed twice`);
      else listedReplicas.add(r);
    }
  });
  for (const [id, role] of roleOf) {
    if (role === 'master' && !shardOfMaster.has(id)) problems.push(`node ${id}: master leads no shard`);
    if (role === 'replica' && !listedReplicas.has(id)) problems.push(`node ${id}: replica is not listed in its shard`);
  }

  // slots: well-formed, no overlap, full coverage
  const owner = new Array<string | undefined>(SLOT_COUNT);
  slots.forEach((r, i) => {
    const at = `slots[${i}]`;
    if (!Array.isArray(r) || r.length !== 3) return void problems.push(`${at}: expected [first, last, shardId]`);
    const [first, last, shardId] = r as unknown[];
    if (!isInt(first, 0, SLOT_COUNT - 1) || !isInt(last, 0, SLOT_COUNT - 1) || first > last) {
      return void problems.push(`${at}: bad range ${JSON.stringify(first)}-${JSON.stringify(last)}`);
    }
    if (typeof shardId !== 'string' || !shardIds.has(shardId)) return void problems.push(`${at}: unknown shard ${JSON.stringify(shardId)}`);
    for (let slot = first; slot <= last; slot++) {
      const prev = owner[slot];
      if (prev !== undefined) return void problems.push(`${at}: slot ${slot} is already assigned to shard ${prev}`);
      owner[slot] = shardId;
    }
  });
  const gap = owner.findIndex((o) => o === undefined);
  if (gap !== -1 && !problems.some((p) => p.startsWith('slots['))) problems.push(`slots: slot ${gap} is not assigned to any shard`);

  return problems.length > 0 ? { ok: false, problems } : { ok: true, doc: value as unknown as TopologyDoc };
}
