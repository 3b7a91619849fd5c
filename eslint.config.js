// Type-aware linting: the rules that catch the bugs an async network server is prone to
// (floating promises, misused promises, non-exhaustive switches) plus the layering rule of
// DESIGN.md (wal/ and objectstore/ know nothing of Kafka; the codec knows nothing of storage).
// src/common/ (clock, filesystem seam) is the one part of src/ every service may use.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layering = (zone, forbidden, why) => ({
  files: [`${zone}/**/*.ts`],
  rules: {
    // One group, so that a `!` exception applies to the patterns before it.
    'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message: why }] }],
  },
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', '.scratch/**', '.floe/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  layering('src/protocol', ['**/storage/**', '**/broker/**', '**/common/fs*', '**/wal/**', '**/objectstore/**', '**/controller/**', 'node:fs*', 'node:net'],
    'the protocol codec performs no I/O and knows nothing of storage'),
  layering('wal', ['**/src/**', '!**/src/common/', '!**/src/common/**', '**/objectstore/**', '**/controller/**', 'kafkajs'],
    'wal/ knows nothing of Kafka or of the other services'),
  layering('objectstore', ['**/src/**', '!**/src/common/', '!**/src/common/**', '**/wal/**', '**/controller/**', 'kafkajs'],
    'objectstore/ knows nothing of Kafka or of the other services'),
  layering('controller', ['**/src/broker/**', '**/src/protocol/**'],
    'the controller knows partitions and objects, not the sockets of clients'),
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
