import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'packages/*/dist/**', 'packages/server/migrations/**', 'node_modules/**', '.vscode-test/**', 'scratch/**', 'test-artifacts/**', 'python/**', 'test/extension/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
    },
  },
  {
    files: ['webview/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  // The import directions of docs/architecture.md: the contract (shared/) depends on nothing of ours;
  // the clients, the extension and the webviews reach the server only over HTTP, never by import.
  {
    files: ['shared/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/server/**', '**/client/**', '**/extension/**', '**/webview/**', '**/cli/**'], message: 'shared/ is the contract: it imports nothing of ours (docs/architecture.md).' }] }] },
  },
  {
    files: ['client/**/*.ts', 'webview/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/server/**', '**/extension/**', '**/cli/**'], message: 'clients and webviews import only shared/ (and client/): the server is reached over HTTP (docs/architecture.md).' }] }] },
  },
  {
    files: ['extension/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/server/**', '**/cli/**'], message: 'the extension imports shared/, client/ and webview/ only: the server is reached over HTTP (docs/architecture.md).' }] }] },
  },
  {
    // The server assigns rollout keys with node:crypto's SHA-256 (server/rollouts/assign.ts), the same buckets as the clients' plain-JavaScript one.
    files: ['server/**/*.ts'],
    ignores: ['server/rollouts/assign.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/shared/rollouts/assign.js', '**/shared/rollouts/sha256.js'], message: 'on the server, import the rollout assignment from server/rollouts/assign.ts (node:crypto).' }] }] },
  },
  {
    // Commands take loosely typed arguments from menus, keybindings and tests.
    files: ['extension/commands/ui.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Tests read JSON answers loosely typed on purpose.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-console': 'off' },
  },
);
