/**
 * The layer rules of docs/architecture.md, checked by `make lint` (and so by `make test`).
 * Each layer may import only the layers below it:
 *   entry (main.ts, config.ts, control-plane.ts, docker-clean.ts)
 *   surfaces: http/, cli/
 *   data plane: proxy/        control plane: failover/, admin/, coordination/   (neither imports the other)
 *   cluster/
 *   nodes/
 *   backend/
 *   resp/, commands/, net/, ops/, status/, auth/, log.ts, faults.ts
 */
const ENTRY = '^src/(main|config|control-plane|docker-clean)[.]ts$';
const SURFACES = '^src/(http|cli)/';
const PROXY = '^src/proxy/';
const CONTROL = '^src/(failover|admin|coordination)/';
const CLUSTER = '^src/cluster/';
const NODES = '^src/nodes/';
const BACKEND = '^src/backend/';
const LEAVES = '^src/(resp|commands|net|ops|status|auth)/|^src/(log|faults)[.]ts$';

/** A rule: files matching `from` may not import files matching any of `to`. */
function layer(name, from, to) {
  return {
    name,
    severity: 'error',
    comment: `${name}: see the layer list at the top of .dependency-cruiser.cjs`,
    from: { path: from },
    to: { path: to.join('|') },
  };
}

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    layer('surfaces-above-entry', SURFACES, [ENTRY]),
    layer('proxy-not-control-plane', PROXY, [ENTRY, SURFACES, CONTROL]),
    layer('control-plane-not-proxy', CONTROL, [ENTRY, SURFACES, PROXY]),
    layer('cluster-below-planes', CLUSTER, [ENTRY, SURFACES, PROXY, CONTROL]),
    layer('nodes-below-cluster', NODES, [ENTRY, SURFACES, PROXY, CONTROL, CLUSTER]),
    layer('backend-below-nodes', BACKEND, [ENTRY, SURFACES, PROXY, CONTROL, CLUSTER, NODES]),
    layer('leaves-import-leaves', LEAVES, [ENTRY, SURFACES, PROXY, CONTROL, CLUSTER, NODES, BACKEND]),
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/http/public/' },
  },
};
