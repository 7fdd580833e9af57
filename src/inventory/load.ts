/**
 * Reading an inventory file: YAML syntax, then the schema, then the semantic
 * checks; every problem found is collected with its file position before
 * anything fails, so one run shows the operator everything to fix.
 */
import { LineCounter, parseDocument, visit, isPair, isScalar, type Document, type YAMLError } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { DeployError, formatProblem, type InputProblem } from '../errors.js';
import { InventorySchema, JSON_SCHEMA_PATH, type Inventory } from './schema.js';
import { schemaProblems, typeboxProblems } from './validate.js';
import { semanticProblems } from './semantic.js';
import { rememberSource, sortProblems, toInputProblem, yamlSource, type InventorySource } from './source.js';
import type { PathProblem } from './paths.js';

/** Aliases expand when read; a small cap stops "billion laughs" files from exhausting memory. */
const MAX_ALIAS_COUNT = 100;

export interface ParsedInventory {
  /** Present only when there are no problems. */
  inventory?: Inventory;
  /** Sorted by position. */
  problems: InputProblem[];
}

function keyAt(doc: Document, offset: number): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (isPair(pair) && isScalar(pair.key) && pair.key.range?.[0] === offset) {
        found = String(pair.key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/** yaml's own wording is written for programmers; the common cases get an operator's version. */
function yamlMessage(error: YAMLError, doc: Document, severity: 'error' | 'warning'): string {
  switch (error.code) {
    case 'DUPLICATE_KEY': {
      const key = keyAt(doc, error.pos[0]);
      return `duplicate key${key === undefined ? '' : ` "${key}"`}: a key may appear only once in the same map`;
    }
    case 'MULTIPLE_DOCS':
      return 'the inventory must be a single YAML document; remove the "---" that starts a second one';
    default:
      return severity === 'error' ? `YAML syntax error: ${error.message}` : `YAML problem: ${error.message}`;
  }
}

function invalidInventory(file: string, problems: InputProblem[]): DeployError {
  const sorted = sortProblems(problems);
  const message =
    sorted.length === 1
      ? `invalid inventory: ${formatProblem(sorted[0]!)}`
      : `invalid inventory: ${sorted.length} problems in ${file}:\n${sorted.map((problem) => `  ${formatProblem(problem)}`).join('\n')}`;
  return new DeployError('invalid-inventory', message, {
    problems: sorted,
    hint: `Fix each problem at the position shown. Editors check the file as you type when its first line is "# yaml-language-server: $schema=<path to ${JSON_SCHEMA_PATH}>".`,
  });
}

/** All problems of an inventory text, or the inventory when there are none. Never throws for bad input. */
export function parseInventory(text: string, file: string): ParsedInventory {
  const lineCounter = new LineCounter();
  // logLevel 'error': yaml would otherwise print its own warnings to stderr; only the report layer writes logs.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const source: InventorySource = yamlSource(file, doc, lineCounter);
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };

  // After a syntax error the tree is a guess; checking it would add misleading problems.
  const syntax = [
    ...doc.errors.map((error) => ({ ...at(error.pos[0]), message: yamlMessage(error, doc, 'error') })),
    ...doc.warnings.map((warning) => ({ ...at(warning.pos[0]), message: yamlMessage(warning, doc, 'warning') })),
  ];
  if (syntax.length > 0) return { problems: sortProblems(syntax) };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { problems: [{ file, line: 1, column: 1, message: `the inventory cannot be read: ${reason}` }] };
  }

  const found: PathProblem[] = schemaProblems(InventorySchema, data);
  // TypeBox has the last word on the schema; see validate.ts for why both exist.
  const disagreement = found.length === 0 && !Value.Check(InventorySchema, data);
  if (disagreement) found.push(...typeboxProblems(InventorySchema, data));

  // Semantic checks need the types the schema promises, so they run per environment that passed it.
  const environments =
    !disagreement && typeof data === 'object' && data !== null && typeof (data as { environments?: unknown }).environments === 'object'
      ? Object.keys((data as { environments: object }).environments ?? {})
      : [];
  const valid = environments.filter(
    (name) => !found.some((problem) => problem.path[0] === 'environments' && (problem.path.length === 1 || problem.path[1] === name)),
  );
  const lineOf = (path: readonly (string | number)[]) => source.position(path, 'value').line;
  found.push(...semanticProblems(data as Inventory, valid, { lineOf }));

  const problems = sortProblems(found.map((problem) => toInputProblem(source, problem)));
  if (problems.length > 0) return { problems };
  const inventory = data as Inventory;
  rememberSource(inventory, source);
  return { inventory, problems };
}

/**
 * Parses and checks an inventory. Throws one DeployError('invalid-inventory')
 * listing every problem (file, line, column, message), sorted by position.
 */
export function loadInventory(text: string, file: string): Inventory {
  const { inventory, problems } = parseInventory(text, file);
  if (!inventory) throw invalidInventory(file, problems);
  return inventory;
}
