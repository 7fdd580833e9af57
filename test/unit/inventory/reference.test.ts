import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { JSON_SCHEMA_PATH } from '../../../src/inventory/schema.js';
import { renderInventoryJsonSchema, renderInventoryReference, replaceReference, REFERENCE_END, REFERENCE_START } from '../../support/inventory-docs.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGENERATE = 'LMS_HA_WRITE_REFERENCE=1 npx vitest run --project unit test/unit/inventory/reference.test.ts';

describe("README's inventory reference", () => {
  const reference = renderInventoryReference(JSON.parse(renderInventoryJsonSchema()));

  test('matches the schema', () => {
    const path = `${ROOT}README.md`;
    const readme = readFileSync(path, 'utf8');
    const fresh = replaceReference(readme, reference);
    if (process.env.LMS_HA_WRITE_REFERENCE === '1') writeFileSync(path, fresh);
    const start = readme.indexOf(REFERENCE_START);
    const committed = readme.slice(start, readme.indexOf(REFERENCE_END) + REFERENCE_END.length);
    expect(committed, `README.md's inventory reference is out of date with ${JSON_SCHEMA_PATH}; regenerate it with:\n  ${REGENERATE}\n`).toBe(reference);
  });

  test('lists every key with type, required and default, including the ones a newcomer had to guess', () => {
    const row = (key: string) => reference.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
    expect(row('version')).toMatch(/\| `1` \| yes \|/);
    expect(row('environments.<name>.database.package_version')).toContain('quoted Debian package version');
    expect(row('environments.<name>.database.version')).toMatch(/`"10.11"`.*quoted/);
    expect(row('environments.<name>.database.sync_wait')).toContain('| `1` |');
    expect(row('environments.<name>.database.gcache_size')).toMatch(/256M|size/i);
    expect(row('environments.<name>.hosts[].name')).toContain('| yes |');
    expect(row('environments.<name>.app.users[].hosts')).toContain('load balancers');
  });
});
