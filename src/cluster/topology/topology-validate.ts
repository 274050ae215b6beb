/**
 * Structural and referential checks of the documents read from data-dir/topology.json.
 * Returns every problem found (as values), so a broken file gets one error that lists them all.
 */
import { SLOT_COUNT, TOPOLOGY_FORMAT, type TopologyDoc } from './topology.js';
import type { StandaloneLayout } from './standalone-layout.js';

export type TopologyCheck =
  | { ok: true; kind: 'current'; doc: TopologyDoc }
  | { ok: true; kind: 'standalone'; layout: StandaloneLayout }
  | { ok: false; problems: string[] };

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
  if (!isObject(value)) return { ok: false, problems: ['expected a JSON object'] };
  if (value.format === 1) return validateStandalone(value);
  const problems: string[] = [];
  if (value.format !== TOPOLOGY_FORMAT) problems.push(`format: expected ${TOPOLOGY_FORMAT}, got ${JSON.stringify(value.format)}`);
  if (typeof value.provider !== 'string' || !PROVIDERS.has(value.provider)) {
    problems.push(`provider: expected one of ${[...PROVIDERS].join(', ')}, got ${JSON.stringify(value.provider)}`);
  }
  if (typeof value.nodePassword !== 'string') problems.push('nodePassword: expected a string');
  if (typeof value.formed !== 'boolean') problems.push('formed: expected true or false');
  if (!Array.isArray(value.nodes)) problems.push('nodes: expected an array');
  if (!Array.isArray(value.initialSlots)) problems.push('initialSlots: expected an array');
  if (problems.length > 0) return { ok: false, problems };

  const managed = value.provider === 'process' || value.provider === 'docker';
  const ids = new Set<string>();
  const replicaOf = new Map<string, string>();
  (value.nodes as unknown[]).forEach((n, i) => {
    const at = `nodes[${i}]`;
    if (!isObject(n)) return void problems.push(`${at}: expected an object`);
    if (!isNonEmptyString(n.id)) return void problems.push(`${at}.id: expected a non-empty string`);
    if (ids.has(n.id)) problems.push(`${at}.id: duplicate node id ${n.id}`);
    ids.add(n.id);
    if (!isNonEmptyString(n.host)) problems.push(`${at}.host: expected a non-empty string`);
    if (!isInt(n.port, 0, 65535)) problems.push(`${at}.port: expected an integer 0..65535`);
    if (!isInt(n.busPort, 0, 65535)) problems.push(`${at}.busPort: expected an integer 0..65535`);
    if (n.dataDir !== undefined && typeof n.dataDir !== 'string') problems.push(`${at}.dataDir: expected a string`);
    if (n.external !== undefined && typeof n.external !== 'boolean') problems.push(`${at}.external: expected true or false`);
    if (managed && n.external !== true && !isNonEmptyString(n.dataDir)) problems.push(`${at}.dataDir: required for ${String(value.provider)} nodes`);
    if (n.handle !== undefined && typeof n.handle !== 'string') problems.push(`${at}.handle: expected a string`);
    if (n.formedAsReplicaOf !== undefined) {
      if (!isNonEmptyString(n.formedAsReplicaOf)) problems.push(`${at}.formedAsReplicaOf: expected a node id`);
      else replicaOf.set(n.id, n.formedAsReplicaOf);
    }
  });
  for (const [replica, master] of replicaOf) {
    if (!ids.has(master) || replicaOf.has(master)) problems.push(`node ${replica}: formedAsReplicaOf ${master} is not a master node`);
  }

  const owner = new Array<string | undefined>(SLOT_COUNT);
  (value.initialSlots as unknown[]).forEach((r, i) => {
    const at = `initialSlots[${i}]`;
    if (!Array.isArray(r) || r.length !== 3) return void problems.push(`${at}: expected [first, last, masterId]`);
    const [first, last, masterId] = r as unknown[];
    if (!isInt(first, 0, SLOT_COUNT - 1) || !isInt(last, 0, SLOT_COUNT - 1) || first > last) {
      return void problems.push(`${at}: bad range ${JSON.stringify(first)}-${JSON.stringify(last)}`);
    }
    if (typeof masterId !== 'string' || !ids.has(masterId) || replicaOf.has(masterId)) {
      return void problems.push(`${at}: ${JSON.stringify(masterId)} is not a master node`);
    }
    for (let slot = first; slot <= last; slot++) {
      const prev = owner[slot];
      if (prev !== undefined) return void problems.push(`${at}: slot ${slot} is already given to ${prev}`);
      owner[slot] = masterId;
    }
  });
  if (value.operations !== undefined) {
    if (!Array.isArray(value.operations)) problems.push('operations: expected an array');
    else
      (value.operations as unknown[]).forEach((op, i) => {
        if (!isObject(op) || !isNonEmptyString(op.id) || !isNonEmptyString(op.kind) || typeof op.startedAt !== 'string') {
          problems.push(`operations[${i}]: expected {id, kind, startedAt, ...}`);
        }
      });
  }
  if (value.removedNodes !== undefined) {
    if (!Array.isArray(value.removedNodes)) problems.push('removedNodes: expected an array');
    else
      (value.removedNodes as unknown[]).forEach((r, i) => {
        if (!isObject(r) || !isNonEmptyString(r.id) || typeof r.removedAt !== 'string') return void problems.push(`removedNodes[${i}]: expected {id, removedAt, ...}`);
        if (ids.has(r.id)) problems.push(`removedNodes[${i}]: ${r.id} is also a current node (ids are never reused)`);
      });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, kind: 'current', doc: value as unknown as TopologyDoc };
}

/** The pre-cluster layout (format 1): enough of it to convert its data dirs. */
function validateStandalone(value: Fields): TopologyCheck {
  const problems: string[] = [];
  if (value.provider !== 'process') problems.push(`format 1 (standalone) topologies can be converted only for the process provider, not ${JSON.stringify(value.provider)}`);
  if (typeof value.nodePassword !== 'string') problems.push('nodePassword: expected a string');
  if (!Array.isArray(value.nodes) || !Array.isArray(value.slots) || !Array.isArray(value.shards)) problems.push('nodes, shards, slots: expected arrays');
  if (problems.length > 0) return { ok: false, problems };
  (value.nodes as unknown[]).forEach((n, i) => {
    if (!isObject(n) || !isNonEmptyString(n.id) || !isNonEmptyString(n.dataDir) || (n.role !== 'master' && n.role !== 'replica')) {
      problems.push(`nodes[${i}]: expected {id, role, dataDir}`);
    }
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, kind: 'standalone', layout: value as unknown as StandaloneLayout };
}
