/**
 * Reading an inventory file: YAML syntax, then the schema, then the semantic
 * checks; every problem found is collected with its file position before
 * anything fails, so one run shows the operator everything to fix.
 */
import { LineCounter, parseDocument, visit, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node, type YAMLError } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { DeployError, formatProblem, type InputProblem } from '../errors';
import { InventorySchema, JSON_SCHEMA_PATH, type Inventory } from './schema';
import { schemaProblems, typeboxProblems } from './validate';
import { semanticProblems } from './semantic';
import { rememberSource, sortProblems, toInputProblem, yamlSource, type InventorySource } from './source';
import type { PathProblem } from './paths';

/**
 * Aliases expand when read. What is bounded is the size of the expanded data
 * ("billion laughs"), not how often an anchor is reused: an inventory that
 * reuses one small anchor for 200 hosts is fine.
 */
const MAX_EXPANDED_NODES = 200_000;
/** Far deeper than any inventory (about 8 levels); deeper input is refused before it can exhaust the stack. */
const MAX_DEPTH = 64;

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
    case 'RESOURCE_EXHAUSTION':
      return `the inventory nests too deeply to be read (an inventory needs fewer than ${MAX_DEPTH} levels); remove the runaway brackets or indentation`;
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

/**
 * Problems of the document's shape that would otherwise surface as a crash or
 * a position-less message: aliases to no anchor, aliases inside their own
 * anchor, runaway nesting, and alias expansion beyond MAX_EXPANDED_NODES.
 */
function shapeProblems(doc: Document): { offset: number; message: string }[] {
  const problems: { offset: number; message: string }[] = [];
  const root = doc.contents as Node | null;
  if (!root) return problems;
  const offsetOf = (node: unknown) => (node as Node | null)?.range?.[0] ?? 0;

  // Depth first, without recursion, so the check itself cannot overflow.
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > MAX_DEPTH) {
      problems.push({ offset: offsetOf(node), message: `the inventory nests deeper than ${MAX_DEPTH} levels here; an inventory needs fewer than 10` });
      return problems;
    }
    if (isAlias(node)) {
      if (node.resolve(doc) === undefined) {
        problems.push({ offset: offsetOf(node), message: `alias *${node.source} refers to no anchor &${node.source} defined before it` });
      }
    } else if (isMap(node) || isSeq(node)) {
      for (const item of node.items) {
        if (isPair(item)) {
          stack.push({ node: item.key, depth: depth + 1 }, { node: item.value, depth: depth + 1 });
        } else {
          stack.push({ node: item, depth: depth + 1 });
        }
      }
    }
  }
  if (problems.length > 0) return problems;

  // Expanded size, each anchored node counted once (memo), so this is linear in the text.
  const sizes = new Map<unknown, number>();
  const inProgress = new Set<unknown>();
  const sizeOf = (node: unknown): number => {
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (inProgress.has(target)) throw Object.assign(new Error('cycle'), { alias: node });
      return sizeOf(target);
    }
    const known = sizes.get(node);
    if (known !== undefined) return known;
    inProgress.add(node);
    let total = 1;
    if (isMap(node) || isSeq(node)) {
      for (const item of node.items) {
        total += isPair(item) ? sizeOf(item.key) + sizeOf(item.value) : sizeOf(item);
        if (total > MAX_EXPANDED_NODES) throw Object.assign(new Error('too large'), { at: item });
      }
    }
    inProgress.delete(node);
    sizes.set(node, total);
    return total;
  };
  try {
    sizeOf(root);
  } catch (error) {
    const detail = error as { alias?: unknown; at?: unknown };
    if (detail.alias !== undefined) {
      problems.push({ offset: offsetOf(detail.alias), message: 'this alias refers to a node that contains it, which would expand without end' });
    } else {
      const where = isPair(detail.at) ? detail.at.key : detail.at;
      problems.push({
        offset: offsetOf(where),
        message: `the inventory expands (through its aliases) to more than ${MAX_EXPANDED_NODES} values; an inventory is far smaller, so this looks like an alias bomb`,
      });
    }
  }
  return problems;
}

/** All problems of an inventory text, or the inventory when there are none. Never throws for bad input. */
export function parseInventory(text: string, file: string): ParsedInventory {
  const lineCounter = new LineCounter();
  // logLevel 'error': yaml would otherwise print its own warnings to stderr; only the report layer writes logs.
  // merge: YAML 1.1 merge keys (<<: *defaults), which operators use to share host settings.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'error', merge: true });
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

  const shape = shapeProblems(doc);
  if (shape.length > 0) return { problems: sortProblems(shape.map(({ offset, message }) => ({ ...at(offset), message }))) };

  let data: unknown;
  try {
    // The expansion is bounded by shapeProblems above.
    data = doc.toJS({ maxAliasCount: -1 });
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
