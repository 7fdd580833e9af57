// Lint for src/, test/, bench/ and scripts/: typescript-eslint's recommended
// rules, one import-extension style, and the layering the README's layout
// describes (data flows one way: inventory → ssh → facts → operations →
// components → engine → commands → report/github). Both import rules are ours
// (scripts/eslint-rules.mjs): every import between our own files is relative,
// so they resolve it themselves, with no resolver plugin that could let an
// import it fails to resolve pass.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { extensions, layering } from './scripts/eslint-rules.mjs';

// Node's globals, for the .mjs scripts (TypeScript checks the .ts files' names itself).
const NODE_GLOBALS = Object.fromEntries(
  ['process', 'console', 'URL', 'Buffer', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'lms-ha': { rules: { layering, 'import-extension': extensions } } },
    rules: {
      'lms-ha/layering': 'error',
      'lms-ha/import-extension': 'error',
      // A leading underscore marks a value left out on purpose (`{ apply: _apply, ...data }`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Style, not correctness: `\/` in a regex and runs of spaces matching
      // aligned command output read better as written.
      'no-useless-escape': 'off',
      'no-regex-spaces': 'off',
    },
  },
  { files: ['**/*.mjs'], languageOptions: { globals: NODE_GLOBALS } },
);
