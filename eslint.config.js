// typescript-eslint with the few rules that catch real defects, run by `npm test`
// (scripts/check.sh): unused code, promises nobody awaits or catches (a rejection then
// crashes the process or is lost), and `any` (it switches the type checker off).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.toolchain/', '.cache/', '.demo/', '.bench/', 'bench/peers/node_modules/', 'tmp/'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // node:test's test()/describe() return promises the runner itself awaits
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
);
