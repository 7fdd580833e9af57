import { describe, expect, test } from 'vitest';
import { parseDocument } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { DeployError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/index.js';
import { InventorySchema } from '../../../src/inventory/schema.js';
import { schemaProblems } from '../../../src/inventory/validate.js';
import { BAD_INVENTORIES } from './cases.js';
import { problemsOf } from './helpers.js';

describe('bad inventories', () => {
  test('there are at least 60 of them, all distinct', () => {
    expect(BAD_INVENTORIES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(BAD_INVENTORIES.map((c) => c.name)).size).toBe(BAD_INVENTORIES.length);
    expect(new Set(BAD_INVENTORIES.map((c) => c.text)).size).toBe(BAD_INVENTORIES.length);
  });

  test.each(BAD_INVENTORIES)('$name', ({ text, problems }) => {
    expect(problems.length).toBeGreaterThan(0);
    expect(problemsOf(text)).toEqual(problems);
  });

  test.each(BAD_INVENTORIES)('$name: one invalid-inventory error, problems in file order', ({ text }) => {
    let thrown: unknown;
    try {
      loadInventory(text, 'inv.yml');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DeployError);
    const error = thrown as DeployError;
    expect(error.reason).toBe('invalid-inventory');
    const positions = error.problems.map((p) => [p.line, p.column]);
    const sorted = [...positions].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
    expect(positions).toEqual(sorted);
    for (const problem of error.problems) expect(problem.file).toBe('inv.yml');
    // Every problem is in the message too, for callers that print only the message.
    for (const problem of error.problems) expect(error.message).toContain(problem.message);
  });

  test('secrets written in the inventory are never repeated in a message', () => {
    const leaky = BAD_INVENTORIES.filter((c) => /hunter2|AKIAEXAMPLE|12345/.test(c.text));
    expect(leaky.length).toBeGreaterThanOrEqual(4);
    for (const { text } of leaky) {
      for (const message of problemsOf(text)) expect(message).not.toMatch(/hunter2|AKIAEXAMPLE|12345/);
    }
  });

  // The walker writes the messages; TypeBox is the reference implementation of
  // the schema. On every case that is valid YAML they must agree on whether the
  // data fits the schema.
  const wellFormed = BAD_INVENTORIES.filter(({ text }) => parseDocument(text, { uniqueKeys: true }).errors.length === 0);
  test('most cases are well-formed YAML', () => {
    expect(wellFormed.length).toBeGreaterThan(BAD_INVENTORIES.length - 10);
  });
  test.each(wellFormed)('$name: the message walker and TypeBox agree', ({ text }) => {
    const data = parseDocument(text, { logLevel: 'error' }).toJS();
    expect(schemaProblems(InventorySchema, data).length === 0).toBe(Value.Check(InventorySchema, data));
  });
});
