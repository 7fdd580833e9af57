import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { describe, expect, test } from 'vitest';
import { InventorySchema, JSON_SCHEMA_PATH } from '../../../src/inventory/schema.js';
import { renderInventoryJsonSchema } from '../../support/inventory-docs.js';
import { schemaProblems, unsupportedKeywords } from '../../../src/inventory/validate.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGENERATE = `LMS_HA_WRITE_SCHEMA=1 npx vitest run --project unit test/unit/inventory/schema-sync.test.ts`;

/** Every schema object in the published JSON, with its JSON path. */
function* schemaNodes(node: unknown, path = '#'): Generator<[string, Record<string, unknown>]> {
  if (typeof node !== 'object' || node === null) return;
  const schema = node as Record<string, unknown>;
  yield [path, schema];
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === 'properties' || keyword === 'patternProperties') {
      for (const [name, child] of Object.entries(value as object)) yield* schemaNodes(child, `${path}/${keyword}/${name}`);
    } else if (keyword === 'items' || keyword === 'additionalProperties') {
      yield* schemaNodes(value, `${path}/${keyword}`);
    } else if (keyword === 'anyOf') {
      for (const [i, child] of (value as unknown[]).entries()) yield* schemaNodes(child, `${path}/anyOf/${i}`);
    }
  }
}

describe('schema/inventory.schema.json', () => {
  test('is in sync with src/inventory/schema.ts', () => {
    const file = `${ROOT}${JSON_SCHEMA_PATH}`;
    const fresh = renderInventoryJsonSchema();
    if (process.env.LMS_HA_WRITE_SCHEMA === '1') writeFileSync(file, fresh);
    let committed = '';
    try {
      committed = readFileSync(file, 'utf8');
    } catch {
      // Reported by the assertion below, with the command that fixes it.
    }
    expect(committed, `${JSON_SCHEMA_PATH} is out of date with src/inventory/schema.ts; regenerate it with:\n  ${REGENERATE}\n`).toBe(fresh);
  });

  test('uses only keywords the validator implements or that only annotate', () => {
    expect(unsupportedKeywords(InventorySchema)).toEqual([]);
    expect(unsupportedKeywords(JSON.parse(renderInventoryJsonSchema()))).toEqual([]);
  });

  test('a schema with a keyword the validator does not implement is refused, not half-checked', () => {
    const schema = Type.Object({ mail: Type.String({ format: 'email' }) });
    expect(unsupportedKeywords(schema)).toEqual(['#/properties/mail: format']);
    expect(() => schemaProblems(schema, { mail: 'x' })).toThrow(/does not implement these schema keywords: #\/properties\/mail: format/);
  });
  test('closes every object and uses snake_case keys', () => {
    let objects = 0;
    for (const [path, node] of schemaNodes(InventorySchema)) {
      if (node.type !== 'object') continue;
      objects++;
      expect(node.additionalProperties, path).toBe(false);
      for (const key of Object.keys((node.properties as object | undefined) ?? {})) expect(key, path).toMatch(/^[a-z][a-z0-9_]*$/);
    }
    expect(objects).toBeGreaterThan(15);
  });
});
