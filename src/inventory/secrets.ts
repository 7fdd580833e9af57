/**
 * Secret references (`{ env: NAME }`) resolved from the run's environment
 * variables. Each value is handed to `mask` (core.setSecret in the action) the
 * moment it is read, before anything else can print it, and every missing
 * variable is reported in one error so a first run does not fail once per secret.
 */
import { inspect } from 'node:util';
import type { TSchema } from '@sinclair/typebox';
import { DeployError, formatProblem, type InputProblem } from '../errors';
import { EnvironmentSchema, SECRET_REF_TITLE, type SecretRef } from './schema';
import { describe, type Path } from './paths';
import { detachedSource, originOf, sortProblems } from './source';
import type { Environment } from './environment';

export interface SecretReference {
  name: string;
  /** Path inside the environment, e.g. ['app', 'users', 0, 'password']. */
  path: Path;
}

interface SchemaNode {
  title?: string;
  type?: string;
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Finds references by following the schema, not by the shape of the data: a
 * label map like `{ env: production }` looks exactly like a reference.
 */
function collect(schema: SchemaNode, value: unknown, path: Path, found: SecretReference[]): void {
  if (value === undefined || value === null) return;
  if (schema.title === SECRET_REF_TITLE) {
    if (isRecord(value) && typeof value.env === 'string') found.push({ name: value.env, path });
    return;
  }
  for (const variant of schema.anyOf ?? []) collect(variant, value, path, found);
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, index) => collect(schema.items!, item, [...path, index], found));
  }
  if (isRecord(value)) {
    for (const [key, child] of Object.entries(value)) {
      const own = schema.properties && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
      const property = own ?? Object.values(schema.patternProperties ?? {})[0];
      if (property) collect(property, child, [...path, key], found);
    }
  }
}

/** Every secret reference of an environment (spec or resolved: both keep the same paths). */
export function findSecretReferences(environment: object): SecretReference[] {
  const found: SecretReference[] = [];
  collect(EnvironmentSchema as TSchema as SchemaNode, environment, [], found);
  return found;
}

/**
 * Resolved secret values by variable name. Printing it (console.log, JSON,
 * util.inspect) shows the names only, so a stray debug line cannot leak values.
 */
export class Secrets {
  readonly #values: Map<string, string>;

  constructor(values: Map<string, string>) {
    this.#values = new Map(values);
  }

  /** Names of the resolved variables. */
  get names(): string[] {
    return [...this.#values.keys()];
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** The value behind a reference of this environment. */
  valueOf(ref: SecretRef): string {
    const value = this.#values.get(ref.env);
    if (value === undefined) {
      throw new DeployError('internal', `internal error: secret ${ref.env} was not resolved for this environment`, {
        hint: 'This is a bug in lms-ha: a secret reference was used that resolveSecrets did not see.',
      });
    }
    return value;
  }

  /** Replaces every secret value in `text` with ***, longest first so overlapping values stay hidden. */
  redact(text: string): string {
    const values = [...this.#values.values()].filter((value) => value !== '').sort((a, b) => b.length - a.length);
    return values.reduce((result, value) => result.split(value).join('***'), text);
  }

  toJSON(): { secrets: string[] } {
    return { secrets: this.names };
  }

  [inspect.custom](): string {
    return `Secrets(${this.names.join(', ')})`;
  }
}

/** Shortest secret accepted: a shorter one is guessable, and masking it would blot out ordinary words in every log. */
export const MIN_SECRET_LENGTH = 8;

/**
 * What a component will do with a secret, checked here so a value it would
 * refuse stops the run before any connection. Each returns a problem (never
 * containing the value) or undefined.
 */
interface SecretRule {
  /** Does this rule apply to the reference at `path` (inside the environment)? */
  applies(path: Path, environment: Environment): boolean;
  check(value: string): string | undefined;
}

// keepalived.conf's parser: printable ASCII without space, comment starters, quotes, backslash, braces.
const KEEPALIVED_FORBIDDEN = /[^\x21-\x7e]|[#!"'\\{}]/u;

const SECRET_RULES: SecretRule[] = [
  {
    applies: (path) => path.join('.') === 'load_balancer.auth_password',
    check: (value) =>
      KEEPALIVED_FORBIDDEN.test([...value].slice(0, 8).join(''))
        ? 'keepalived uses its first 8 characters, which must be printable ASCII other than space # ! " \' \\ { }'
        : undefined,
  },
  {
    applies: (path) => path.join('.') === 'load_balancer.proxysql.admin_password',
    check: (value) => (/[:;\\]/.test(value) ? 'ProxySQL\'s admin_credentials cannot carry ":", ";" or a backslash' : undefined),
  },
  {
    applies: (path) => path.join('.') === 'load_balancer.proxysql.monitor_password',
    check: (value) => (/\\/.test(value) ? 'ProxySQL\'s admin interface cannot take a backslash in the monitor password' : undefined),
  },
];

/** Problems with a secret's value, in words that never repeat it. */
export function secretValueProblems(value: string, path: Path, environment: Environment): string[] {
  const problems: string[] = [];
  if (/[\r\n\0]/.test(value)) problems.push('contains a line break or NUL, which no config file or SQL literal lms-ha writes can carry safely');
  if (value.trim() === '') problems.push('is only whitespace');
  else if ([...value].length < MIN_SECRET_LENGTH) problems.push(`is shorter than ${MIN_SECRET_LENGTH} characters`);
  for (const rule of SECRET_RULES) {
    if (!rule.applies(path, environment)) continue;
    const problem = rule.check(value);
    if (problem) problems.push(problem);
  }
  return problems;
}

/**
 * Reads every secret the environment references from `vars`. An empty value
 * counts as missing: GitHub Actions expands an undefined secret to "".
 * Multi-line values are also masked line by line, because log masking matches
 * single lines. Every value is masked first, then checked against the shape
 * rules of the components that will use it, so a bad value stops the run here.
 */
export function resolveSecrets(
  environment: Environment,
  vars: Record<string, string | undefined>,
  mask: (value: string) => void,
): Secrets {
  const references = findSecretReferences(environment);
  const values = new Map<string, string>();
  const missing = new Map<string, SecretReference[]>();
  const malformed: { reference: SecretReference; problems: string[] }[] = [];

  for (const reference of references) {
    const value = Object.hasOwn(vars, reference.name) ? vars[reference.name] : undefined;
    if (value === undefined || value === '') {
      missing.set(reference.name, [...(missing.get(reference.name) ?? []), reference]);
      continue;
    }
    if (!values.has(reference.name)) {
      mask(value);
      for (const line of value.split(/\r?\n/)) {
        if (line.trim() !== '' && line !== value) mask(line);
      }
      values.set(reference.name, value);
    }
    const problems = secretValueProblems(value, reference.path, environment);
    if (problems.length > 0) malformed.push({ reference, problems });
  }

  if (missing.size > 0) throw missingSecrets(environment, missing);
  if (malformed.length > 0) throw malformedSecrets(environment, malformed);
  return new Secrets(values);
}

function malformedSecrets(environment: Environment, malformed: { reference: SecretReference; problems: string[] }[]): DeployError {
  const { source, base, root, messagePath } = locate(environment);
  const problems: InputProblem[] = malformed.map(({ reference, problems: found }) => ({
    ...source.position([...base, ...reference.path, 'env'], 'value'),
    message: `the value of ${reference.name} (${describe(messagePath(reference.path), root)}) ${found.join('; ')}`,
  }));
  const sorted = sortProblems(problems);
  return new DeployError('invalid-input', `unusable secret values for environment "${environment.name}" (values not shown):\n${sorted.map((p) => `  ${formatProblem(p)}`).join('\n')}`, {
    problems: sorted,
    hint: `Set each variable to a value of at least ${MIN_SECRET_LENGTH} characters on one line that the component can take (e.g. openssl rand -base64 24 | tr -d '/+='); nothing was contacted.`,
  });
}

function locate(environment: Environment) {
  const origin = originOf(environment);
  const source = origin?.source ?? detachedSource('inventory');
  const base = origin?.path ?? ['environments', environment.name];
  // Names in messages ("app user "moodle"") are looked up in a root shaped like the file.
  const root = { environments: { [environment.name]: environment } };
  const messagePath = (path: Path): Path => ['environments', environment.name, ...path];
  return { source, base, root, messagePath };
}

function missingSecrets(environment: Environment, missing: Map<string, SecretReference[]>): DeployError {
  const { source, base, root, messagePath } = locate(environment);

  const problems: InputProblem[] = [];
  for (const [name, references] of missing) {
    for (const reference of references) {
      problems.push({
        ...source.position([...base, ...reference.path, 'env'], 'value'),
        message: `environment variable ${name} is not set (or is empty); it holds ${describe(messagePath(reference.path), root)}`,
      });
    }
  }
  const sorted = sortProblems(problems);
  const names = [...missing.keys()];
  return new DeployError(
    'missing-secret',
    `missing ${names.length === 1 ? 'secret' : 'secrets'} for environment "${environment.name}": ${names.join(', ')}\n${sorted
      .map((problem) => `  ${formatProblem(problem)}`)
      .join('\n')}`,
    {
      problems: sorted,
      hint: `Provide each variable to the run. In a workflow: env: { ${names[0]}: \${{ secrets.${names[0]} }} } (one line per secret); with the CLI, export them in the shell first.`,
    },
  );
}
