/**
 * Applies a plan: one change at a time, in plan order, recording each step.
 * The first failure stops the run; later steps are reported as skipped, never
 * attempted, because a cluster step after a failed one is exactly how a healthy
 * node gets restarted into a broken cluster.
 */
import { DeployError, type FailureReason } from '../errors.js';
import type { Logger } from '../report/log.js';
import type { RemoteHost } from '../ssh/types.js';
import { changeData, type ChangeKind } from './change.js';
import { planHash, planHasSecretContent, type Plan, type PlanHashOptions } from './plan.js';
import { Redactor } from './redact.js';

export type StepStatus = 'ok' | 'failed' | 'skipped';

export interface StepResult {
  id: string;
  host: string;
  kind: ChangeKind;
  summary: string;
  status: StepStatus;
  durationMs: number;
  /** Redacted. Only on the failed step. */
  error?: string;
  reason?: FailureReason;
}

export interface ApplyResult {
  status: 'ok' | 'failed';
  /** True when at least one change was made (even if a later one failed). */
  changed: boolean;
  steps: StepResult[];
  durationMs: number;
  /** The failure, as a DeployError (message redacted), when status is `failed`. */
  error?: DeployError;
}

export interface ApplyOptions {
  logger: Logger;
  hosts: ReadonlyMap<string, RemoteHost> | readonly RemoteHost[];
  /** Error messages pass through it before they are recorded. */
  redactor?: Redactor;
  /** Milliseconds clock; injectable for tests. */
  now?: () => number;
}

export async function applyPlan(plan: Plan, options: ApplyOptions): Promise<ApplyResult> {
  const { logger } = options;
  const redactor = options.redactor ?? new Redactor();
  const now = options.now ?? (() => performance.now());
  const hosts: ReadonlyMap<string, RemoteHost> =
    options.hosts instanceof Map
      ? options.hosts
      : new Map((options.hosts as readonly RemoteHost[]).map((h) => [h.name, h]));
  const started = now();

  const steps: StepResult[] = plan.changes.map((c) => ({
    id: c.id,
    host: c.host,
    kind: c.kind,
    summary: c.summary,
    status: 'skipped',
    durationMs: 0,
  }));

  // Checked before anything runs: a plan that names a host we have no
  // connection to must not be half applied.
  const missing = [...new Set(plan.changes.map((c) => c.host).filter((h) => !hosts.has(h)))];
  if (missing.length > 0) {
    const error = new DeployError(
      'internal',
      `The plan has changes for ${missing.join(', ')}, but no connection to ${missing.length === 1 ? 'it' : 'them'} was opened; nothing was applied.`,
      { host: missing[0], hint: 'This is a bug in lms-ha; please report it with the job log.' },
    );
    return { status: 'failed', changed: false, steps, durationMs: now() - started, error };
  }

  const total = plan.changes.length;
  for (let i = 0; i < total; i++) {
    const change = plan.changes[i]!;
    const step = steps[i]!;
    const host = hosts.get(change.host)!;
    logger.info(`[${i + 1}/${total}] ${change.summary}`, change.host);
    const t0 = now();
    try {
      await change.apply({ host, hosts, logger, change: changeData(change) });
      step.status = 'ok';
      step.durationMs = now() - t0;
    } catch (thrown) {
      step.status = 'failed';
      step.durationMs = now() - t0;
      const error = asApplyError(thrown, change.host, change.summary, redactor);
      step.error = error.message;
      step.reason = error.reason;
      const skipped = total - i - 1;
      logger.warn(
        `failed: ${error.message}${skipped > 0 ? ` (${skipped} later step${skipped === 1 ? '' : 's'} skipped)` : ''}`,
        change.host,
      );
      return { status: 'failed', changed: steps.some((s) => s.status === 'ok'), steps, durationMs: now() - started, error };
    }
  }
  return { status: 'ok', changed: total > 0, steps, durationMs: now() - started };
}

/**
 * Keeps a DeployError's reason (e.g. `cluster-unhealthy` from a safety gate);
 * anything else becomes `apply-failed` naming the step.
 */
function asApplyError(thrown: unknown, host: string, summary: string, redactor: Redactor): DeployError {
  if (thrown instanceof DeployError) {
    const redacted = new DeployError(thrown.reason, redactor.redact(thrown.message), {
      host: thrown.host ?? host,
      hint: thrown.hint === undefined ? undefined : redactor.redact(thrown.hint),
      problems: thrown.problems,
      cause: thrown,
    });
    return redacted;
  }
  const message = redactor.redactError(thrown);
  return new DeployError('apply-failed', `${summary}: ${message}`, {
    host,
    hint: 'Earlier steps were applied and later ones were not. Fix the cause, then run plan again: it shows what is left to do.',
    cause: thrown,
  });
}

/**
 * Apply after review: refuses when the fresh plan is not the reviewed one.
 * `expectedHash` undefined or empty means no review is required (manual or
 * scheduled run). Returns the fresh plan's hash.
 */
export function verifyReviewedPlan(expectedHash: string | undefined, plan: Plan, options: PlanHashOptions = {}): string {
  const actual = planHash(plan, options);
  const expected = (expectedHash ?? '').trim().toLowerCase().replace(/^sha256:/, '');
  if (expected === '') return actual;
  if (!/^[0-9a-f]{64}$/.test(expected)) {
    throw new DeployError('invalid-input', 'The reviewed plan hash is not a sha256 hex digest (64 hex characters).', {
      hint: 'Pass the plan-hash output of the plan run (64 hex characters), or leave it empty to apply without a reviewed plan.',
    });
  }
  if (options.key && !options.key.shared && planHasSecretContent(plan)) {
    throw new DeployError('invalid-input', 'This plan sets secret values, so its hash is keyed with plan-hash-key, and no plan-hash-key is set: the reviewed hash cannot be checked. Nothing was applied.', {
      hint: 'Give the plan job and the apply job the same plan-hash-key secret (input plan-hash-key, LMS_HA_PLAN_HASH_KEY for the CLI; e.g. openssl rand -hex 32), then plan and review again.',
    });
  }
  if (expected !== actual) {
    throw new DeployError(
      'plan-changed',
      `The plan changed since it was reviewed: reviewed ${expected.slice(0, 12)}, now ${actual.slice(0, 12)} (${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}). Nothing was applied.`,
      {
        hint: 'The hosts or the desired state moved after the plan was reviewed. Review the new plan in this job summary, then run plan again and approve it.',
      },
    );
  }
  return actual;
}
