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
import { createHash, createHmac } from 'node:crypto';

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

export interface PlanHashOptions {
  /**
   * Key for the digests of sensitive content. The plan hash is published (PR
   * comment, outputs); with a key that is itself secret (e.g. derived from the SSH
   * private key, which both the plan and the apply run have), a published hash
   * cannot be used to test guesses of a weak password. Must be the same at plan
   * and at apply time. Default: a fixed, public key.
   */
  sensitiveKey?: string | Buffer;
}

const DEFAULT_SENSITIVE_KEY = 'lms-ha/sensitive/v1';

/**
 * The plan as hashed: canonical key order, no functions, no facts, no warnings,
 * no metadata, file contents reduced to digests (sensitive ones keyed).
 * Change order is kept: it is the apply order and it matters.
 */
export function normalizePlan(plan: Plan, options: PlanHashOptions = {}): unknown {
  const key = options.sensitiveKey ?? DEFAULT_SENSITIVE_KEY;
  return canonicalize({
    version: PLAN_HASH_VERSION,
    command: plan.command,
    environment: plan.environment,
    changes: plan.changes.map((c) => normalizeChange(changeData(c), key)),
  });
}

/** Hex sha256 over the normalized plan. The same plan gives the same hash on any machine. */
export function planHash(plan: Plan, options: PlanHashOptions = {}): string {
  return sha256(stableStringify(normalizePlan(plan, options)));
}

function normalizeChange(change: Change, key: string | Buffer): unknown {
  if (change.kind !== 'file') return change;
  const state = (s: FileState | null): unknown => {
    if (s === null) return null;
    const { content, sha256: given, ...meta } = s;
    const digest = content !== undefined ? sha256(content) : given;
    if (change.sensitive) {
      // Keyed, so the published hash is no oracle for the secret content.
      return { ...meta, hmac: digest === undefined ? undefined : createHmac('sha256', key).update(digest).digest('hex') };
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
