/**
 * Checks a parsed value against the inventory schema and says what is wrong in
 * an operator's words, with the path of the offending node.
 *
 * Why not just TypeBox's error iterator: its messages are generic ("Expected
 * string"), a missing key comes out twice, and a failed union says only
 * "Expected union value". This walker interprets the same schema objects (the
 * JSON Schema keywords listed in VALIDATION_KEYWORDS; `unsupportedKeywords` proves the
 * schema uses no other) and TypeBox's checker stays the final authority: the
 * loader runs `Value.Check` after it, so the two can never disagree silently.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { SECRET_REF_TITLE } from './schema.js';
import { describe, describeContainer, didYouMean, type Path, type PathProblem, showValue } from './paths.js';

/** Validation keywords the walker implements. */
const VALIDATION_KEYWORDS = [
  'type',
  'properties',
  'required',
  'additionalProperties',
  'patternProperties',
  'minProperties',
  'items',
  'minItems',
  'uniqueItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'const',
  'anyOf',
] as const;

/** Keywords that only annotate (for editors and messages); they never reject a value. */
const ANNOTATION_KEYWORDS = [
  '$schema',
  '$comment',
  'title',
  'description',
  'default',
  'errorMessage',
  'patternErrorMessage',
] as const;

/** The JSON-visible part of a TypeBox schema, as the walker reads it. */
interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: boolean | SchemaNode;
  patternProperties?: Record<string, SchemaNode>;
  minProperties?: number;
  items?: SchemaNode;
  minItems?: number;
  uniqueItems?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  const?: unknown;
  anyOf?: SchemaNode[];
  title?: string;
  errorMessage?: string;
  patternErrorMessage?: string;
}

interface Walk {
  /** The whole parsed file, so messages can name hosts and users. */
  root: unknown;
  problems: PathProblem[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasType(schema: SchemaNode, value: unknown): boolean {
  switch (schema.type) {
    case 'object':
      return isRecord(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    default:
      return true;
  }
}

/** The value's JSON type, to pick the union variant the operator was writing. */
function baseTypeMatches(schema: SchemaNode, value: unknown): boolean {
  if (schema.type === 'integer' || schema.type === 'number') return typeof value === 'number';
  return hasType(schema, value);
}

function quote(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** "an integer from 1 to 65535", "one of db, lb", "a map": what a schema accepts. */
export function describeExpected(schema: SchemaNode): string {
  if (schema.anyOf) {
    if (schema.anyOf.every((variant) => variant.const !== undefined)) {
      return `one of ${schema.anyOf.map((variant) => quote(variant.const)).join(', ')}`;
    }
    const variants = schema.anyOf.map(describeExpected);
    return variants.length === 1 ? variants[0]! : `${variants.slice(0, -1).join(', ')} or ${variants.at(-1)}`;
  }
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  switch (schema.type) {
    case 'integer':
    case 'number': {
      const noun = schema.type === 'integer' ? 'an integer' : 'a number';
      if (schema.minimum !== undefined && schema.maximum !== undefined) return `${noun} from ${schema.minimum} to ${schema.maximum}`;
      if (schema.minimum !== undefined) return `${noun} of at least ${schema.minimum}`;
      return noun;
    }
    case 'string':
      return 'a string';
    case 'boolean':
      return 'a boolean (true or false)';
    case 'array':
      return 'a list';
    case 'object':
      return 'a map';
    default:
      return 'a value';
  }
}

/**
 * One sentence for a value the schema node rejects as a whole (wrong type,
 * pattern, range, not one of the allowed words).
 */
function rejectValue(schema: SchemaNode, value: unknown, path: Path, walk: Walk, sensitive: boolean, detail?: string): void {
  const subject = describe(path, walk.root);
  // Inside a secret reference nothing the operator typed is repeated: it may be the secret.
  const got = sensitive ? '' : `, got ${showValue(value)}`;
  const expectation = schema.errorMessage ?? detail ?? `must be ${describeExpected(schema)}`;
  walk.problems.push({ path, target: 'value', message: `${subject} ${expectation}${got}` });
}

function visit(schema: SchemaNode, value: unknown, path: Path, walk: Walk, sensitive: boolean): void {
  const secret = sensitive || schema.title === SECRET_REF_TITLE;
  if (schema.anyOf) return visitUnion(schema, value, path, walk, secret);
  if (!hasType(schema, value)) return rejectValue(schema, value, path, walk, secret);
  if (schema.type === 'object') return visitObject(schema, value as Record<string, unknown>, path, walk, secret);
  if (schema.type === 'array') return visitArray(schema, value as unknown[], path, walk, secret);
  visitScalar(schema, value, path, walk, secret);
}

function visitScalar(schema: SchemaNode, value: unknown, path: Path, walk: Walk, sensitive: boolean): void {
  if (schema.const !== undefined && value !== schema.const) return rejectValue(schema, value, path, walk, sensitive);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      return rejectValue(schema, value, path, walk, sensitive, schema.minLength === 1 ? 'must not be empty' : `must have at least ${schema.minLength} characters`);
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      return rejectValue(schema, value, path, walk, sensitive, `must have at most ${schema.maxLength} characters`);
    }
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
      return rejectValue(schema, value, path, walk, sensitive, schema.patternErrorMessage ?? `must match ${schema.pattern}`);
    }
  }
  if (typeof value === 'number') {
    const tooSmall = schema.minimum !== undefined && value < schema.minimum;
    const tooLarge = schema.maximum !== undefined && value > schema.maximum;
    if (tooSmall || tooLarge) return rejectValue(schema, value, path, walk, sensitive);
  }
}

function visitObject(schema: SchemaNode, value: Record<string, unknown>, path: Path, walk: Walk, sensitive: boolean): void {
  const properties = schema.properties ?? {};
  const known = Object.keys(properties);
  const patterns = Object.entries(schema.patternProperties ?? {}).map(([regex, child]) => ({ regex: new RegExp(regex, 'u'), child }));

  for (const [key, child] of Object.entries(value)) {
    const childPath = [...path, key];
    // Own keys only: a key named constructor, toString or __proto__ must not find Object.prototype's.
    const property = Object.hasOwn(properties, key) ? properties[key] : undefined;
    if (property !== undefined) {
      visit(property, child, childPath, walk, sensitive);
      continue;
    }
    const byPattern = patterns.find(({ regex }) => regex.test(key));
    if (byPattern !== undefined) {
      visit(byPattern.child, child, childPath, walk, sensitive);
      continue;
    }
    if (isRecord(schema.additionalProperties)) {
      visit(schema.additionalProperties, child, childPath, walk, sensitive);
      continue;
    }
    if (schema.additionalProperties !== false) continue;
    if (sensitive) {
      // The key itself may be the secret: `password: {hunter2}` is a map with key "hunter2".
      walk.problems.push({
        path: childPath,
        target: 'key',
        message: `unknown key ${describeContainer(path, walk.root)}: a secret reference has only the key "env", as { env: NAME }; never write secrets in the inventory`,
      });
      continue;
    }
    const hint = didYouMean(key, known) || `; allowed keys: ${known.join(', ')}`;
    walk.problems.push({ path: childPath, target: 'key', message: `unknown key "${key}" ${describeContainer(path, walk.root)}${hint}` });
  }

  for (const key of schema.required ?? []) {
    if (!Object.hasOwn(value, key)) {
      walk.problems.push({ path, target: 'key', message: `missing required key "${key}" ${describeContainer(path, walk.root)}` });
    }
  }

  if (schema.minProperties !== undefined && Object.keys(value).length < schema.minProperties) {
    walk.problems.push({ path, target: 'key', message: `${describe(path, walk.root)} must not be empty` });
  }
}

function visitArray(schema: SchemaNode, value: unknown[], path: Path, walk: Walk, sensitive: boolean): void {
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    const message = schema.minItems === 1 ? 'must not be empty' : `must have at least ${schema.minItems} items`;
    walk.problems.push({ path, target: 'value', message: `${describe(path, walk.root)} ${message}` });
  }
  if (schema.items !== undefined) {
    value.forEach((item, index) => visit(schema.items!, item, [...path, index], walk, sensitive));
  }
  if (schema.uniqueItems) {
    const seen = new Set<string>();
    value.forEach((item, index) => {
      const key = JSON.stringify(item);
      if (seen.has(key)) {
        walk.problems.push({ path: [...path, index], target: 'value', message: `${showValue(item)} is listed twice in ${describe(path, walk.root)}` });
      }
      seen.add(key);
    });
  }
}

function visitUnion(schema: SchemaNode, value: unknown, path: Path, walk: Walk, sensitive: boolean): void {
  const variants = schema.anyOf!;
  const attempts = variants.map((variant) => {
    const scratch: Walk = { root: walk.root, problems: [] };
    visit(variant, value, path, scratch, sensitive);
    return { variant, problems: scratch.problems };
  });
  if (attempts.some((attempt) => attempt.problems.length === 0)) return;

  if (variants.every((variant) => variant.const !== undefined)) {
    const words = variants.map((variant) => String(variant.const));
    const suggestion = typeof value === 'string' && !sensitive ? didYouMean(value, words) : '';
    rejectValue(schema, value, path, walk, sensitive);
    const last = walk.problems.at(-1)!;
    last.message += suggestion;
    return;
  }

  // When the value is clearly an attempt at one structured variant (a list for
  // "ALL or a list"), its own problems are more precise than "must be A or B".
  const candidates = attempts.filter(({ variant }) => variant.const === undefined && baseTypeMatches(variant, value));
  const structured = candidates.length === 1 && (candidates[0]!.variant.type === 'array' || candidates[0]!.variant.type === 'object');
  if (structured) {
    walk.problems.push(...candidates[0]!.problems);
    return;
  }
  rejectValue(schema, value, path, walk, sensitive);
}

const KNOWN_KEYWORDS: ReadonlySet<string> = new Set([...VALIDATION_KEYWORDS, ...ANNOTATION_KEYWORDS]);

/** Every keyword of `schema` (JSON path: keyword) the walker would not enforce; [] when it reads all of it. */
export function unsupportedKeywords(schema: TSchema): string[] {
  const unknown: string[] = [];
  const visitNode = (node: unknown, path: string): void => {
    if (typeof node !== 'object' || node === null) return;
    for (const [keyword, child] of Object.entries(node)) {
      if (!KNOWN_KEYWORDS.has(keyword)) unknown.push(`${path}: ${keyword}`);
      if (keyword === 'properties' || keyword === 'patternProperties') {
        for (const [name, sub] of Object.entries(child as object)) visitNode(sub, `${path}/${keyword}/${name}`);
      } else if (keyword === 'items' || keyword === 'additionalProperties') {
        visitNode(child, `${path}/${keyword}`);
      } else if (keyword === 'anyOf') {
        for (const [i, sub] of (child as unknown[]).entries()) visitNode(sub, `${path}/anyOf/${i}`);
      }
    }
  };
  visitNode(schema, '#');
  return unknown;
}

/** Schemas already proved readable by the walker. */
const checkedSchemas = new WeakSet<object>();

/**
 * Every problem of `value` against `schema`, in an operator's words; `root` names entities.
 * A schema with a keyword the walker does not implement is refused outright: the
 * walker would accept values that break it, and only TypeBox's final check would
 * catch them, with its generic words.
 */
export function schemaProblems(schema: TSchema, value: unknown, root: unknown = value, basePath: Path = []): PathProblem[] {
  if (!checkedSchemas.has(schema)) {
    const unknown = unsupportedKeywords(schema);
    if (unknown.length > 0) throw new Error(`the inventory validator does not implement these schema keywords: ${unknown.join(', ')}`);
    checkedSchemas.add(schema);
  }
  const walk: Walk = { root, problems: [] };
  visit(schema as SchemaNode, value, basePath, walk, false);
  return walk.problems;
}

/**
 * TypeBox's verdict, as problems. Used only if the walker accepted something
 * TypeBox rejects, which would be a bug in the walker; the run still stops.
 */
export function typeboxProblems(schema: TSchema, value: unknown, root: unknown = value): PathProblem[] {
  const problems: PathProblem[] = [];
  for (const error of Value.Errors(schema, value)) {
    const segments = error.path
      .split('/')
      .slice(1)
      .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
    const path: (string | number)[] = [];
    let node: unknown = value;
    for (const segment of segments) {
      const index = Array.isArray(node) && /^\d+$/.test(segment) ? Number(segment) : segment;
      path.push(index);
      node = isRecord(node) || Array.isArray(node) ? (node as Record<string | number, unknown>)[index] : undefined;
    }
    problems.push({ path, target: 'value', message: `${describe(path, root)}: ${error.message.toLowerCase()}` });
  }
  return problems;
}
