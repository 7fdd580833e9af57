/**
 * From a path in the parsed data back to a line and column in the file.
 *
 * Loaded inventories (and environments selected from them) remember their
 * source in a WeakMap rather than in a property, so the data stays exactly the
 * `Static<>` types and serializes cleanly, while later checks (secrets, the
 * roles a command needs) can still point at the right line.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';
import type { InputProblem, SourcePosition } from '../errors.js';
import type { Path, PathProblem, Target } from './paths.js';

export interface InventorySource {
  file: string;
  /** Line and column of the node at `path`, or of its nearest existing ancestor. */
  position(path: Path, target?: Target): SourcePosition;
}

function keyText(pair: Pair): string | undefined {
  return isScalar(pair.key) && pair.key.value !== null && pair.key.value !== undefined ? String(pair.key.value) : undefined;
}

/** A source backed by the parsed YAML document. */
export function yamlSource(file: string, doc: Document, lineCounter: LineCounter): InventorySource {
  const at = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  const start = (node: Node | null | undefined): number | undefined => node?.range?.[0];

  return {
    file,
    position(path, target = 'value') {
      let node: unknown = doc.contents;
      let key: Node | undefined;
      // The deepest node found so far: missing keys point at the map that lacks them.
      let fallback: number = start(doc.contents as Node) ?? 0;
      for (const segment of path) {
        if (isAlias(node)) node = node.resolve(doc);
        let next: unknown;
        let nextKey: Node | undefined;
        if (isMap(node)) {
          const pair = node.items.find((item) => keyText(item) === String(segment));
          if (pair === undefined) return at(fallback);
          next = pair.value;
          nextKey = pair.key as Node;
        } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
          next = node.items[segment];
          nextKey = undefined;
        } else {
          return at(fallback);
        }
        key = nextKey;
        node = next;
        const here = key ? start(key) : start(node as Node);
        if (here !== undefined) fallback = here;
      }
      if (target === 'key' && key) return at(start(key) ?? fallback);
      const value = node as Node | null | undefined;
      // An empty value (`address:`) has a zero-width range after the colon; its key is clearer.
      const empty = !value || (isScalar(value) && value.range != null && value.range[0] === value.range[1]);
      if (empty && key) return at(start(key) ?? fallback);
      return at(start(value) ?? fallback);
    },
  };
}

/** A source for data that was not read from a file: every problem points at line 1. */
export function detachedSource(file: string): InventorySource {
  return { file, position: () => ({ file, line: 1, column: 1 }) };
}

interface Origin {
  source: InventorySource;
  /** Where the object sits in the file: [] for an inventory, ['environments', name] for an environment. */
  path: Path;
}

const origins = new WeakMap<object, Origin>();

export function rememberSource(data: object, source: InventorySource, path: Path = []): void {
  origins.set(data, { source, path });
}

/** The file and path an inventory or environment came from, if it was loaded from one. */
export function originOf(data: object): Origin | undefined {
  return origins.get(data);
}

export function toInputProblem(source: InventorySource, problem: PathProblem): InputProblem {
  return { ...source.position(problem.path, problem.target), message: problem.message };
}

// Plain code-unit order: the same on every machine, unlike localeCompare.
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Problems in file order, each reported once. */
export function sortProblems(problems: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  return [...problems]
    .sort((a, b) => compare(a.file, b.file) || a.line - b.line || a.column - b.column || compare(a.message, b.message))
    .filter((problem) => {
      const key = `${problem.file}:${problem.line}:${problem.column}:${problem.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}
