// ESLint: typescript-eslint's recommended rules over the product's sources and tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-output/', 'src/http/public/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
);
