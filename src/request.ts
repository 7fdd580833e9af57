/**
 * What one run is asked to do. Built by src/inputs.ts (the action) or
 * src/cli.ts (the CLI); everything below works from this and nothing else.
 */
export const COMMANDS = [
  'preflight',
  'provision',
  'deploy-db',
  'recover',
  'deploy-lb',
  'migrate-storage',
  'verify-ha',
  'unlock',
] as const;
export type CommandName = (typeof COMMANDS)[number];

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

export function parseRequest(raw: RawRequest): RunRequest {
  const problems: string[] = [];
  const name = raw.fieldName;
  if (!(COMMANDS as readonly string[]).includes(raw.command)) {
    problems.push(`${name('command')} "${raw.command}" is not a command; use one of: ${COMMANDS.join(', ')}`);
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
  const options = typeof raw.options === 'string' ? parseOptions(raw.options, name('options'), problems) : raw.options;
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
    command: raw.command as CommandName,
    mode: raw.mode as Mode,
    inventoryPath: raw.inventoryPath,
    environment: raw.environment,
    privateKey: raw.privateKey,
    privateKeyPassphrase: raw.privateKeyPassphrase || undefined,
    knownHosts: raw.knownHosts,
    insecureSkipHostKeyCheck: insecure,
    parallelism,
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

/** `key=value` lines (or comma-separated pairs); keys are kebab-case words. */
export function parseOptions(text: string, field: string, problems: string[]): Record<string, string> {
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
