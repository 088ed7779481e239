import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import layers from './eslint/layers.js';

export default tseslint.config(
  { ignores: ['src/kernels/asm/**', 'dist/**', 'node_modules/**', '.cache/**', 'coverage/**', 'runs/**'] },
  js.configs.recommended,
  // The bin script is plain Node JavaScript.
  { files: ['bin/**/*.js'], languageOptions: { globals: { process: 'readonly' } } },
  // The dashboard's front end (src/serve/ui/assets) runs in the browser: ES modules with the DOM's globals.
  { files: ['src/serve/ui/assets/**/*.js'], languageOptions: { sourceType: 'module', globals: { window: 'readonly', document: 'readonly', location: 'readonly', sessionStorage: 'readonly', localStorage: 'readonly', fetch: 'readonly', URL: 'readonly', URLSearchParams: 'readonly', Blob: 'readonly', HTMLInputElement: 'readonly', HTMLSelectElement: 'readonly', addEventListener: 'readonly', removeEventListener: 'readonly', performance: 'readonly', setTimeout: 'readonly', crypto: 'readonly', console: 'readonly' } } },
  // The layering of src/ (eslint/layers.js, docs/architecture.md): no upward imports, no cycles between folders.
  { files: ['src/**/*.ts'], plugins: { reclab: layers }, rules: { 'reclab/layers': 'error' } },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numeric kernels use bitwise ops and labelled loops on purpose.
      'no-bitwise': 'off',
    },
  },
);
