/**
 * A plan: the exact changes a command would make, computed from facts gathered
 * first (pyinfra), hashed so that apply can prove it runs what was reviewed
 * (dflook's terraform-apply). Rendering it for review is the report's
 * (src/report/plan.ts).
 *
 * The hash covers only what the plan would DO: command, environment and the
 * changes in apply order. Facts, warnings and run metadata are shown but not
 * hashed, because they differ between two runs that would do the same thing
 * (free disk space, uptime, runner name), and hashing them is how "plan has
 * changed" false positives happen (dflook/terraform-github-actions#62, #64).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

import { DeployError } from '../errors.js';
import type { CommandName } from '../request.js';
import { CHANGE_KINDS, changeData, type Change, type FileState, type PlannedChange } from './change.js';

/** What the plan knows about one host, for the per-host table. */
export interface HostFacts {
  name: string;
  address?: string;
  roles: string[];
  /** A few short facts worth showing, e.g. `{ os: 'Debian 12', mariadb: '10.11.6' }`. */
  facts: Record<string, string>;
}

/** Differs between runs and machines; shown, never hashed. */
export interface PlanMeta {
  generatedAt?: string;
  runner?: string;
  version?: string;
}

export interface Plan {
  command: CommandName;
  environment: string;
  /** In apply order. */
  changes: PlannedChange[];
  warnings: string[];
  /** Sorted by name. */
  hosts: HostFacts[];
  meta?: PlanMeta;
}

export interface PlanInput {
  command: CommandName;
  environment: string;
  changes: PlannedChange[];
  warnings?: string[];
  hosts?: HostFacts[];
  meta?: PlanMeta;
}

/**
 * Builds a plan and checks what would make it ambiguous: two changes with the
 * same id, or a change for a host the plan does not list.
 */
export function createPlan(input: PlanInput): Plan {
  const seen = new Set<string>();
  for (const change of input.changes) {
    if (!(CHANGE_KINDS as readonly string[]).includes(change.kind)) {
      throw new DeployError('internal', `Change ${change.id} has an unknown kind "${String(change.kind)}".`);
    }
    if (seen.has(change.id)) {
      throw new DeployError('internal', `Two changes in the plan have the same id "${change.id}".`, {
        host: change.host,
        hint: 'This is a bug in lms-ha: change ids must be unique; please report it with the job log.',
      });
    }
    seen.add(change.id);
  }
  const hosts = new Map<string, HostFacts>();
  for (const h of input.hosts ?? []) {
    hosts.set(h.name, { ...h, roles: [...h.roles].sort(), facts: { ...h.facts } });
  }
  if (input.hosts && input.hosts.length > 0) {
    for (const change of input.changes) {
      if (!hosts.has(change.host)) {
        throw new DeployError('internal', `Change ${change.id} is for host "${change.host}", which is not in the plan's hosts.`, {
          host: change.host,
        });
      }
    }
  } else {
    for (const change of input.changes) {
      if (!hosts.has(change.host)) hosts.set(change.host, { name: change.host, roles: [], facts: {} });
    }
  }
  return {
    command: input.command,
    environment: input.environment,
    changes: [...input.changes],
    warnings: [...(input.warnings ?? [])],
    hosts: [...hosts.values()].sort((a, b) => compare(a.name, b.name)),
    meta: input.meta ? { ...input.meta } : undefined,
  };
}

// ---------------------------------------------------------------------------
// Normalization and hash

export const PLAN_HASH_VERSION = 'lms-ha/plan/v1';

/**
 * The key every secret-bearing part of a plan hash is keyed with. The hash is
 * published (PR comment, outputs); keyed with a secret that only the plan and
 * the apply job hold (the `plan-hash-key` input, `LMS_HA_PLAN_HASH_KEY` for the
 * CLI), a published hash cannot be used to test guesses of a password offline.
 *
 * Without a configured key, a random key is drawn for the run (`shared: false`):
 * a plan whose hash has secret-bearing content then has a hash nobody can
 * recompute, which is safe but cannot be applied after review (apply refuses
 * with a message saying to set the key). Plans without secret content hash the
 * same with any key, so they stay reproducible either way.
 */
export interface PlanHashKey {
  readonly key: Buffer;
  /** True when the key came from the operator (the same at plan and apply); false for a per-run random key. */
  readonly shared: boolean;
}

/** Shortest accepted `plan-hash-key`: 128 bits as hex. */
export const MIN_PLAN_HASH_KEY_LENGTH = 32;

/** The run's key: the operator's when given (checked by the fronts), else random for this run only. */
export function planHashKeyFrom(configured: string | undefined): PlanHashKey {
  if (configured) return { key: createHash('sha256').update(`lms-ha/plan-hash-key/v1\0${configured}`).digest(), shared: true };
  return { key: randomBytes(32), shared: false };
}

/** Keyed digest of secret values that decide a change (e.g. a password to set): the same key as the plan hash. */
export function secretFingerprint(key: PlanHashKey, values: readonly string[]): string {
  return createHmac('sha256', key.key).update(`lms-ha/secret/v1\0${values.join('\0')}`).digest('hex');
}

export interface PlanHashOptions {
  /** Required when the plan has secret-bearing content (sensitive files, fingerprints). */
  key?: PlanHashKey;
}

/** True when the plan's hash depends on secret values (and so on the key). */
export function planHasSecretContent(plan: Plan): boolean {
  return plan.changes.some((c) => {
    const data = changeData(c);
    return (data.kind === 'file' && data.sensitive) || data.fingerprint !== undefined;
  });
}

/**
 * The plan as hashed: canonical key order, no functions, no facts, no warnings,
 * no metadata, file contents reduced to digests (sensitive ones keyed).
 * Change order is kept: it is the apply order and it matters.
 */
export function normalizePlan(plan: Plan, options: PlanHashOptions = {}): unknown {
  const key = options.key;
  if (!key && planHasSecretContent(plan)) {
    throw new DeployError('internal', 'internal error: a plan with secret content was hashed without the plan hash key', {
      hint: 'This is a bug in lms-ha: every command must hash its plan with the run\'s plan hash key.',
    });
  }
  return canonicalize({
    version: PLAN_HASH_VERSION,
    command: plan.command,
    environment: plan.environment,
    changes: plan.changes.map((c) => normalizeChange(changeData(c), key)),
  });
}

/** Hex sha256 over the normalized plan. The same plan and key give the same hash on any machine. */
export function planHash(plan: Plan, options: PlanHashOptions = {}): string {
  return sha256(stableStringify(normalizePlan(plan, options)));
}

function normalizeChange(change: Change, key: PlanHashKey | undefined): unknown {
  if (change.kind !== 'file') return change;
  const state = (s: FileState | null): unknown => {
    if (s === null) return null;
    const { content, sha256: given, ...meta } = s;
    const digest = content !== undefined ? sha256(content) : given;
    if (change.sensitive) {
      // Keyed, so the published hash is no oracle for the secret content.
      return { ...meta, hmac: digest === undefined ? undefined : createHmac('sha256', key!.key).update(digest).digest('hex') };
    }
    // A content and a bare sha256 of the same bytes normalize the same.
    return { ...meta, sha256: digest };
  };
  return { ...change, before: state(change.before), after: state(change.after) };
}

/** Sorted keys, undefined and functions dropped, Sets sorted, Maps as sorted objects, Buffers as digests. */
export function canonicalize(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DeployError('internal', `Cannot hash the number ${value}.`);
    return Object.is(value, -0) ? 0 : value;
  }
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (Buffer.isBuffer(value)) return { sha256: sha256(value) };
  if (Array.isArray(value)) return value.map((v) => canonicalize(v) ?? null);
  if (value instanceof Set) {
    const items = [...value].map((v) => canonicalize(v));
    return items.sort((a, b) => compare(stableStringify(a), stableStringify(b)));
  }
  if (value instanceof Map) {
    return canonicalize(Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), v])));
  }
  if (value instanceof Date) {
    throw new DeployError('internal', 'A plan must not contain timestamps: they would change its hash on every run.');
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value as object).sort(compare)) {
    const v = canonicalize((value as Record<string, unknown>)[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** JSON with keys in code-point order at every level. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(canonicalize(value));
}

/** Code-point order, the same in every locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
