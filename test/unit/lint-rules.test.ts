import { join } from 'node:path';
import { Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs module of eslint rules, with no type declarations
import { extensions, layering } from '../../scripts/eslint-rules.mjs';

const root = join(__dirname, '..', '..');

/** The messages our two import rules give for `code` as if it were the file at `path` (relative to the repository). */
function lint(path: string, code: string): string[] {
  const linter = new Linter({ configType: 'flat' });
  const messages = linter.verify(
    code,
    [
      {
        files: ['**/*.ts'],
        languageOptions: { sourceType: 'module', ecmaVersion: 2022 },
        plugins: { 'lms-ha': { rules: { layering, 'import-extension': extensions } } },
        rules: { 'lms-ha/layering': 'error', 'lms-ha/import-extension': 'error' },
      },
    ],
    { filename: join(root, path) },
  );
  return messages.map((m) => m.message);
}

describe('the layering rule', () => {
  it('refuses an import that runs back up: engine, ssh and components never import report, commands or github', () => {
    expect(lint('src/engine/x.ts', "import { renderPlanMarkdown } from '../report/plan.js';")).toEqual([
      'engine/x.ts may not import report/plan.ts: engine is below report (data flows one way; see README\'s layout)',
    ]);
    expect(lint('src/ssh/x.ts', "import { COMMANDS } from '../commands/registry.js';")).toHaveLength(1);
    expect(lint('src/components/galera/x.ts', "export { upsertPlanComment } from '../../github/plan-comment.js';")).toHaveLength(1);
  });

  it('refuses a command importing another command, and lets it use the shared files of commands/', () => {
    expect(lint('src/commands/recover/x.ts', "import { deployDbCommand } from '../deploy-db/deploy-db.js';")).toEqual([
      'commands/recover/x.ts may not import commands/deploy-db/deploy-db.ts: a command never imports another; move what both need out of commands/',
    ]);
    expect(lint('src/commands/recover/x.ts', "import { lockedHosts } from '../context.js';\nimport { y } from './y.js';")).toEqual([]);
  });

  it('lets the upper layers use the lower ones', () => {
    expect(lint('src/commands/recover/x.ts', "import { planHash } from '../../engine/plan.js';\nimport { prefixed } from '../../log.js';")).toEqual([]);
    expect(lint('src/report/x.ts', "import { planHash } from '../engine/plan.js';")).toEqual([]);
  });
});

describe('the import-extension rule', () => {
  it('wants every relative import to name the .js file', () => {
    expect(lint('src/inventory/x.ts', "import { a } from './load';")).toEqual(['relative import "./load" must end in .js (the one import style)']);
    expect(lint('src/inventory/x.ts', "import { a } from './load.js';\nimport { readFileSync } from 'node:fs';")).toEqual([]);
  });
});
