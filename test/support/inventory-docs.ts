/**
 * The two documents generated from src/inventory/schema.ts and committed: the
 * published JSON Schema (schema/inventory.schema.json, for editors) and the
 * README's inventory reference (every key with its type, whether it is
 * required, its default and what it is for). Tooling, not product: the unit
 * tests compare the committed copies with these and rewrite them on request
 * (test/unit/inventory/schema-sync.test.ts, reference.test.ts).
 */
import type { TSchema } from '@sinclair/typebox';
import { InventorySchema } from '../../src/inventory/schema.js';

/**
 * The JSON Schema text committed as schema/inventory.schema.json. TypeBox schemas
 * are plain JSON Schema objects (its bookkeeping lives under symbol keys, which
 * JSON.stringify drops), so this is a straight serialization plus a header.
 */
export function renderInventoryJsonSchema(): string {
  const document: TSchema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $comment: 'Generated from src/inventory/schema.ts; do not edit by hand (see test/unit/inventory/schema-sync.test.ts).',
    ...InventorySchema,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

type Node = Record<string, unknown>;

export const REFERENCE_START = '<!-- inventory-reference:start (generated from the schema; see test/unit/inventory/reference.test.ts) -->';
export const REFERENCE_END = '<!-- inventory-reference:end -->';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function typeOf(node: Node): string {
  if (node.title === 'SecretRef') return 'secret: `{ env: VAR }`';
  if ('const' in node) return `\`${JSON.stringify(node.const)}\``;
  if (Array.isArray(node.anyOf)) {
    const options = node.anyOf as Node[];
    if (options.every((o) => 'const' in o)) return options.map((o) => `\`${String(o.const)}\``).join(' \\| ');
    return options.map(typeOf).join(' or ');
  }
  const type = node.type;
  if (type === 'array') {
    const items = (node.items ?? {}) as Node;
    return `list of ${items.type === 'object' ? 'maps' : typeOf(items)}`;
  }
  if (type === 'object') return node.patternProperties ? 'map of name to value' : 'map';
  if (type === 'string' && typeof node.patternErrorMessage === 'string') return 'string';
  return String(type ?? 'any');
}

function rules(node: Node): string[] {
  const out: string[] = [];
  const bound = (min: unknown, max: unknown, unit: string) => {
    if (min !== undefined && max !== undefined) out.push(`${min}-${max}${unit}`);
    else if (min !== undefined) out.push(`at least ${min}${unit}`);
  };
  bound(node.minimum, node.maximum, '');
  if (node.type === 'array') bound(node.minItems, node.maxItems, ' items');
  if (typeof node.patternErrorMessage === 'string') out.push(node.patternErrorMessage);
  else if (typeof node.errorMessage === 'string' && node.type !== 'object') out.push(node.errorMessage);
  return out;
}

function describe(node: Node): string {
  const items = node.type === 'array' ? ((node.items ?? {}) as Node) : null;
  return String(node.description ?? items?.description ?? '');
}

function walk(node: Node, path: string, required: boolean, rows: string[][]): void {
  const isSecret = node.title === 'SecretRef';
  if (path !== '') {
    const def = node.default === undefined ? '' : `\`${JSON.stringify(node.default)}\``;
    const text = [describe(node), ...rules(node).map((r) => `Value ${r}.`)].filter(Boolean).join(' ');
    rows.push([`\`${path}\``, cell(typeOf(node)), required ? 'yes' : '', cell(def), cell(text)]);
  }
  if (isSecret) return;
  const objectNode = node.type === 'array' ? ((node.items ?? {}) as Node) : node;
  const prefix = node.type === 'array' ? `${path}[]` : path;
  const props = (objectNode.properties ?? {}) as Record<string, Node>;
  const requiredKeys = new Set((objectNode.required as string[] | undefined) ?? []);
  for (const [key, child] of Object.entries(props)) walk(child, prefix === '' ? key : `${prefix}.${key}`, requiredKeys.has(key), rows);
  const patterns = (objectNode.patternProperties ?? {}) as Record<string, Node>;
  for (const child of Object.values(patterns)) {
    if (child.type === 'object') walk(child, `${prefix}.<name>`, false, rows);
  }
}

/** Markdown table of every inventory key, from the published JSON Schema. */
export function renderInventoryReference(jsonSchema: Node): string {
  const rows: string[][] = [];
  walk(jsonSchema, '', true, rows);
  const header = ['key', 'type', 'required', 'default', 'what it is'];
  return [
    REFERENCE_START,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    REFERENCE_END,
  ].join('\n');
}

/** The README with its reference block replaced by `reference`. */
export function replaceReference(readme: string, reference: string): string {
  const start = readme.indexOf(REFERENCE_START);
  const end = readme.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error('the README has no inventory reference block');
  return readme.slice(0, start) + reference + readme.slice(end + REFERENCE_END.length);
}
