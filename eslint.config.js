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
    // The launchers in bin/ are plain JavaScript run by Node.
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
