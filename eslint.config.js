// ESLint: typescript-eslint's recommended rules over the product's sources, tests, scripts,
// benchmarks and launchers (`make lint`, part of `make test`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-output/', 'src/http/public/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A variable read by a callback declared before its one assignment (hooks set up
      // before the value exists) cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // pino writes pid, hostname, level, time and msg on every line itself: a log call's own
    // field of that name is a second key in the JSON line (JSON.parse keeps the last, pino-pretty
    // shows the wrong one). A node's pid is `nodePid`, a worker's `workerPid`.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.property.name=/^(trace|debug|info|warn|error|fatal)$/] > ObjectExpression:first-child > Property[key.name=/^(pid|hostname|level|time|msg)$/]',
          message: "pino's own fields (pid, hostname, level, time, msg) are the proxy's: name this one for what it is (nodePid, workerPid, ...).",
        },
      ],
    },
  },
  {
    // The launchers in bin/ are plain JavaScript run by Node.
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
