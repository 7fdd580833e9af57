/**
 * Naming places in the inventory the way an operator thinks of them. A problem's
 * position already says where it is; the name says what it is, so messages read
 * `"address" of host "db1"` rather than `/environments/prod/hosts/0/address`.
 */

/** Keys and indexes from the top of the file down to a node. */
export type Path = readonly (string | number)[];

/** Where a problem points: the node's value, or its key (unknown keys, sections). */
export type Target = 'value' | 'key';

/** A problem before it has a file position: validation and semantic checks produce these. */
export interface PathProblem {
  path: Path;
  target: Target;
  message: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (isRecord(node) && Object.hasOwn(node, String(segment))) node = node[String(segment)];
    else return undefined;
  }
  return node;
}

/** `a.b[2].c`: the dotted form operators write in the docs and in messages. */
export function dotted(path: Path): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text;
}

/** Lists whose items have a `name`; their items are named by it. */
const NAMED_LISTS: { list: Path; noun: string }[] = [
  { list: ['hosts'], noun: 'host' },
  { list: ['app', 'users'], noun: 'app user' },
  { list: ['app', 'databases'], noun: 'app database' },
];

function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment);
}

/**
 * Names the node at `path` for a message, using `root` (the parsed file) to find
 * entity names. Examples: `the inventory`, `"version"`, `environment "prod"`, `host "db1"`,
 * `"ssh.port" of host "db1"`, `"load_balancer.vip"`, `app user "moodle"`.
 */
export function describe(path: Path, root: unknown): string {
  if (path.length === 0) return 'the inventory';
  if (path[0] !== 'environments' || path.length === 1) return `"${dotted(path)}"`;
  const environment = String(path[1]);
  const inEnvironment = path.slice(2);
  if (inEnvironment.length === 0) return `environment "${environment}"`;

  for (const { list, noun } of NAMED_LISTS) {
    const index = inEnvironment[list.length];
    if (!startsWith(inEnvironment, list) || typeof index !== 'number') continue;
    const item = valueAt(root, [...path.slice(0, 2 + list.length), index]);
    const name = isRecord(item) && typeof item.name === 'string' && item.name !== '' ? item.name : undefined;
    const entity = name === undefined ? `${dotted(list)}[${index}]` : `${noun} "${name}"`;
    const rest = inEnvironment.slice(list.length + 1);
    return rest.length === 0 ? entity : `"${dotted(rest)}" of ${entity}`;
  }
  return `"${dotted(inEnvironment)}"`;
}

/** `in host "db1"`, `at the top level`: the container part of "unknown key ... in ...". */
export function describeContainer(path: Path, root: unknown): string {
  return path.length === 0 ? 'at the top level' : `in ${describe(path, root)}`;
}

/** A value as quoted in a message, cut short so a pasted blob does not flood the log. */
export function showValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') {
    // A URL's user:password is a secret even when the URL is wrong for other reasons.
    const withoutCredentials = value.replace(/(:\/\/)[^/?#\s]*@/g, '$1***@');
    const short = withoutCredentials.length > 60 ? `${withoutCredentials.slice(0, 57)}...` : withoutCredentials;
    return JSON.stringify(short);
  }
  return String(value);
}

/** What kind of value it is, for places where the value itself must not be shown. */
export function showKind(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return 'a plain string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'true/false';
  return typeof value;
}

// ---------------------------------------------------------------------------
// "Did you mean"

function normalized(word: string): string {
  return word.toLowerCase().replace(/[-_\s]/g, '');
}

/** Optimal string alignment distance: Levenshtein plus swapped neighbours ("adrdess"). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
      }
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate the operator most likely meant, or undefined when nothing is
 * close: same word modulo case/"-"/"_" (connectTimeout, connect-timeout), or a
 * small edit distance relative to the length (one typo in a short word, two in
 * a longer one).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const target = normalized(word);
  const exact = candidates.find((candidate) => normalized(candidate) === target);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(target, normalized(candidate));
    const allowed = Math.max(1, Math.floor(Math.min(target.length, candidate.length) / 3));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `; did you mean "x"?` or the empty string. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const suggestion = closest(word, candidates);
  return suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
}
