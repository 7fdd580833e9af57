/**
 * What one run is asked to do. Built by src/inputs.ts (the action) or
 * src/cli.ts (the CLI); everything below works from this and nothing else.
 */

/** A command's name, as the registry (src/commands/registry.ts) lists it. */
export type CommandName = string;

/**
 * One command option (`key=value`), with the values it takes. Checked with the
 * other inputs, before anything is read or contacted: an unknown key or a bad
 * value is refused with a message naming the option and what it accepts.
 */
export type OptionSpec = {
  name: string;
  /** One line for the usage text and action.yml. */
  description: string;
} & (
  | { kind: 'boolean' }
  /** One of `values`. */
  | { kind: 'choice'; values: readonly string[] }
  /** Any of `values`, separated by commas or spaces; `none` for none. */
  | { kind: 'list'; values: readonly string[] }
  /** Free text matching `pattern`; `expects` says what that is, for the message. */
  | { kind: 'text'; pattern: RegExp; expects: string }
);

/** What the fronts need to know about a command to read a request for it. */
export interface CommandSpec {
  name: CommandName;
  /** One line: what the command does. */
  summary: string;
  options: readonly OptionSpec[];
}

export type Mode = 'plan' | 'apply';

export interface RunRequest {
  command: CommandName;
  mode: Mode;
  /** Path of the inventory file, as given (relative paths are relative to cwd). */
  inventoryPath: string;
  environment: string;
  /** The private key, in memory only: never written to disk on the runner. */
  privateKey?: Buffer;
  privateKeyPassphrase?: string;
  /** known_hosts content (OpenSSH format). */
  knownHosts: string;
  /** Opt-out of host key pinning. Unsafe; warned about loudly. */
  insecureSkipHostKeyCheck: boolean;
  /** How many hosts are worked on at once. */
  parallelism: number;
  /** `plan`: log in as the inventory's plan account (plans only, through the gatherer); `apply`: the inventory's ssh.user. */
  sshAccount?: 'apply' | 'plan';
  /** Plan hash that was reviewed; apply refuses when the fresh plan differs. */
  expectedPlanHash?: string;
  /** Keys every secret-bearing part of the plan hash (see PlanHashKey for the run without one). */
  planHashKey: PlanHashKey;
  /** Breaks a lock left by a run that died (explicit, logged). */
  breakLock: boolean;
  /** Who is running: written into the host lock so a second run can name the holder. */
  runId: string;
  repository: string;
  /** Environment variables to resolve `{ env: NAME }` secret references from. */
  env: Record<string, string | undefined>;
  /** Command-specific options (e.g. recover's bootstrap override, verify-ha drills). */
  options: Record<string, string>;
}

import { DeployError } from './errors.js';
import { MIN_PLAN_HASH_KEY_LENGTH, planHashKeyFrom, type PlanHashKey } from './engine/plan.js';

/** The raw strings both fronts collect; validated in one place below. */
export interface RawRequest {
  command: string;
  mode: string;
  inventoryPath: string;
  environment: string;
  privateKey?: Buffer;
  privateKeyPassphrase?: string;
  knownHosts: string;
  insecureSkipHostKeyCheck: string | boolean;
  parallelism: string;
  /** apply (default) or plan. */
  sshAccount?: string;
  expectedPlanHash?: string;
  /** The shared secret keying the plan hash; empty or undefined: a random key for this run. */
  planHashKey?: string;
  breakLock: string | boolean;
  options: string | Record<string, string>;
  runId: string;
  repository: string;
  env: Record<string, string | undefined>;
  /** How the front names a field in errors: `--mode` for the CLI, `mode` input for the action. */
  fieldName: (field: string) => string;
}

/** Validates everything both fronts collected, naming every problem at once; `commands` is the registry's list. */
export function parseRequest(raw: RawRequest, commands: readonly CommandSpec[]): RunRequest {
  const problems: string[] = [];
  const name = raw.fieldName;
  const command = commands.find((c) => c.name === raw.command);
  if (!command) {
    problems.push(`${name('command')} "${raw.command}" is not a command; use one of: ${commands.map((c) => c.name).join(', ')}`);
  }
  if (raw.mode !== 'plan' && raw.mode !== 'apply') {
    problems.push(`${name('mode')} "${raw.mode}" must be plan or apply`);
  }
  if (!raw.environment) problems.push(`${name('environment')} is required: name an environment of the inventory`);
  if (!raw.inventoryPath) problems.push(`${name('inventory')} is required: the path of the inventory YAML`);
  // Digits only: Number() would also take 0x10, 1e2, " 5" and "".
  const parallelism = /^[0-9]{1,3}$/.test(raw.parallelism) ? Number(raw.parallelism) : NaN;
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 256) {
    problems.push(`${name('parallelism')} ${JSON.stringify(raw.parallelism.slice(0, 20))} must be a whole number from 1 to 256, written in decimal digits`);
  }
  const sshAccount = raw.sshAccount || 'apply';
  if (sshAccount !== 'apply' && sshAccount !== 'plan') problems.push(`${name('ssh-account')} "${sshAccount.slice(0, 20)}" must be apply or plan`);
  else if (sshAccount === 'plan' && raw.mode === 'apply') {
    problems.push(`${name('ssh-account')} plan can only plan: mode apply runs with the apply key, in the protected environment (the plan account may run nothing but the read-only gatherer)`);
  }
  const expectedPlanHash = (raw.expectedPlanHash ?? '').trim();
  if (expectedPlanHash !== '' && !/^(sha256:)?[0-9a-fA-F]{64}$/.test(expectedPlanHash)) {
    // Never echoed: a wrong value pasted here may be anything, including a secret.
    problems.push(`${name('plan-hash')} must be the 64 hex characters of the plan-hash output of the plan run (got ${expectedPlanHash.length} characters)`);
  }
  const planHashKey = raw.planHashKey ?? '';
  if (planHashKey !== '' && (planHashKey.length < MIN_PLAN_HASH_KEY_LENGTH || /[\s\0]/.test(planHashKey))) {
    problems.push(
      `${name('plan-hash-key')} must be at least ${MIN_PLAN_HASH_KEY_LENGTH} characters without spaces or line breaks (e.g. the output of openssl rand -hex 32)`,
    );
  }
  const insecure = parseBoolean(raw.insecureSkipHostKeyCheck, name('insecure-skip-host-key-check'), problems);
  const breakLock = parseBoolean(raw.breakLock, name('break-lock'), problems);
  const given = typeof raw.options === 'string' ? parseOptions(raw.options, name('options'), problems) : raw.options;
  const options = command ? checkOptions(command, given, name('options'), problems) : given;
  if (!raw.knownHosts.trim() && !insecure) {
    problems.push(
      `${name('known-hosts')} is empty: pin every host's key (ssh-keyscan HOST, verified out of band), ` +
        `or set ${name('insecure-skip-host-key-check')} for a throwaway first contact`,
    );
  }
  if (problems.length > 0) {
    throw new DeployError('invalid-input', problems.join('\n'), { hint: 'Fix the inputs above; nothing was done.' });
  }
  return {
    command: raw.command,
    mode: raw.mode as Mode,
    inventoryPath: raw.inventoryPath,
    environment: raw.environment,
    privateKey: raw.privateKey,
    privateKeyPassphrase: raw.privateKeyPassphrase || undefined,
    knownHosts: raw.knownHosts,
    insecureSkipHostKeyCheck: insecure,
    parallelism,
    sshAccount: sshAccount === 'plan' ? 'plan' : 'apply',
    expectedPlanHash: expectedPlanHash || undefined,
    planHashKey: planHashKeyFrom(planHashKey || undefined),
    breakLock,
    runId: raw.runId,
    repository: raw.repository,
    env: raw.env,
    options,
  };
}

function parseBoolean(value: string | boolean, field: string, problems: string[]): boolean {
  if (typeof value === 'boolean') return value;
  const normalized = value.trim().toLowerCase();
  if (normalized === '' || normalized === 'false') return false;
  if (normalized === 'true') return true;
  problems.push(`${field} "${value}" must be true or false`);
  return false;
}

/** `key=value` lines (a value may hold commas, as in `drills=proxy-stop,db-kill`); keys are kebab-case words. */
function parseOptions(text: string, field: string, problems: string[]): Record<string, string> {
  const options: Record<string, string> = {};
  for (const item of text.split(/[\n]/).map((s) => s.trim())) {
    if (!item || item.startsWith('#')) continue;
    const match = /^([a-z][a-z0-9-]*)\s*=\s*(.*)$/.exec(item);
    if (!match) {
      problems.push(`${field}: "${item}" is not key=value`);
      continue;
    }
    options[match[1]] = match[2];
  }
  return options;
}

/**
 * Each option checked against the command's specs: unknown keys and values
 * outside what the option takes are problems. Values come back trimmed, and
 * booleans lower-case (`true`/`false`), so commands compare plain strings.
 */
function checkOptions(command: CommandSpec, given: Record<string, string>, field: string, problems: string[]): Record<string, string> {
  const checked: Record<string, string> = {};
  for (const [key, rawValue] of Object.entries(given)) {
    const spec = command.options.find((o) => o.name === key);
    if (!spec) {
      const known = command.options.map((o) => o.name);
      problems.push(
        known.length === 0
          ? `${field}: ${command.name} takes no options, got "${key}"`
          : `${field}: "${key}" is not an option of ${command.name}; its options are: ${known.join(', ')}`,
      );
      continue;
    }
    const value = rawValue.trim();
    // `key=` leaves the option unset, as leaving it out does.
    const problem = value === '' ? undefined : optionValueProblem(spec, value);
    if (problem) problems.push(`${field}: ${key} "${rawValue}" ${problem}`);
    else checked[key] = spec.kind === 'boolean' ? value.toLowerCase() : value;
  }
  return checked;
}

function optionValueProblem(spec: OptionSpec, value: string): string | undefined {
  switch (spec.kind) {
    case 'boolean':
      return /^(true|false)$/i.test(value) ? undefined : 'must be true or false';
    case 'choice':
      return spec.values.includes(value) ? undefined : `must be one of: ${spec.values.join(', ')}`;
    case 'list': {
      if (value === 'none') return undefined;
      const unknown = value.split(/[\s,]+/).filter((v) => v !== '' && !spec.values.includes(v));
      return unknown.length === 0 ? undefined : `names ${unknown.join(', ')}, not one of: ${spec.values.join(', ')} (separate several with commas)`;
    }
    case 'text':
      return spec.pattern.test(value) ? undefined : `must be ${spec.expects}`;
  }
}
