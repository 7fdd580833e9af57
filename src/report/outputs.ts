/**
 * The action's outputs, as a pure function of the run report. action.yml
 * declares exactly these names; the CLI prints `result` with --json.
 */
import type { DrillFigures } from '../check.js';
import type { Redactor } from '../engine/redact.js';
import { byteLength } from './markdown.js';
import {
  failureReason,
  hostRows,
  runChanged,
  runError,
  runStatus,
  type RunReport,
} from './run-report.js';

export const OUTPUT_NAMES = ['result', 'changed', 'plan-hash', 'failure-reason'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];
export type ActionOutputs = Record<OutputName, string>;

/**
 * Outputs are limited to 1 MB per job, shared by all steps; the result keeps
 * well under it by dropping the tail of the change and step lists.
 */
export const RESULT_MAX_BYTES = 256 * 1024;

export interface ResultJson {
  version: 1;
  command: string;
  mode: string;
  environment: string;
  status: 'ok' | 'failed';
  changed: boolean;
  planHash: string | null;
  failureReason: string | null;
  error: { message: string; hint: string | null; host: string | null } | null;
  hosts: { name: string; roles: string[]; status: string; changes: number; notes: string }[];
  changes: { id: string; host: string; kind: string; summary: string }[];
  steps: { id: string; host: string; status: string; durationMs: number; error: string | null; reason: string | null }[];
  checks: { layer: string; host: string; check: string; expected: string; observed: string; status: string; hint: string | null }[];
  /** verify-ha drills: the measured windows as numbers (present only when drills ran). */
  drills?: DrillFigures[];
  /** How many entries were left out to keep the output small. */
  truncated?: { changes: number; steps: number };
}

export function buildResult(report: RunReport, redactor: Redactor, maxBytes = RESULT_MAX_BYTES): ResultJson {
  const error = runError(report);
  const result: ResultJson = {
    version: 1,
    command: report.command,
    mode: report.mode,
    environment: report.environment,
    status: runStatus(report),
    changed: runChanged(report),
    planHash: report.planHash ?? null,
    failureReason: failureReason(report) || null,
    error: error ? { message: error.message, hint: error.hint ?? null, host: error.host ?? null } : null,
    hosts: hostRows(report),
    changes: (report.plan?.changes ?? []).map((c) => ({ id: c.id, host: c.host, kind: c.kind, summary: c.summary })),
    steps: (report.apply?.steps ?? []).map((s) => ({
      id: s.id,
      host: s.host,
      status: s.status,
      durationMs: Math.round(s.durationMs),
      error: s.error ?? null,
      reason: s.reason ?? null,
    })),
    checks: (report.checks ?? []).map((c) => ({ ...c, hint: c.hint ?? null })),
    ...(report.drills ? { drills: report.drills.map((d) => ({ ...d })) } : {}),
  };
  const redacted = redactor.redactDeep(result);
  // Fixed words lms-ha chose itself are never secrets: a secret equal to one must not blank it out.
  const fixed = { version: result.version, command: result.command, mode: result.mode, status: result.status, changed: result.changed, planHash: result.planHash, failureReason: result.failureReason };
  return fit({ ...redacted, ...fixed }, maxBytes);
}

/** Halves the change and step lists until the JSON fits; says how many were dropped. */
function fit(result: ResultJson, maxBytes: number): ResultJson {
  if (byteLength(JSON.stringify(result)) <= maxBytes) return result;
  const allChanges = result.changes;
  const allSteps = result.steps;
  let keepChanges = allChanges.length;
  let keepSteps = allSteps.length;
  let candidate = result;
  while (keepChanges > 0 || keepSteps > 0) {
    keepChanges = Math.floor(keepChanges / 2);
    keepSteps = Math.floor(keepSteps / 2);
    const steps = keepFailed(allSteps, keepSteps);
    candidate = {
      ...result,
      changes: allChanges.slice(0, keepChanges),
      steps,
      truncated: { changes: allChanges.length - keepChanges, steps: allSteps.length - steps.length },
    };
    if (byteLength(JSON.stringify(candidate)) <= maxBytes) return candidate;
  }
  return candidate;
}

/** The first `n` steps, but never without the failed one (it is why the run failed). */
function keepFailed(steps: ResultJson['steps'], n: number): ResultJson['steps'] {
  const kept = steps.slice(0, n);
  const failed = steps.find((s) => s.status === 'failed');
  if (failed && !kept.includes(failed)) {
    if (kept.length > 0) kept[kept.length - 1] = failed;
    else kept.push(failed);
  }
  return kept;
}

export function buildOutputs(report: RunReport, redactor: Redactor, maxResultBytes = RESULT_MAX_BYTES): ActionOutputs {
  const result = buildResult(report, redactor, maxResultBytes);
  return {
    result: JSON.stringify(result),
    changed: runChanged(report) ? 'true' : 'false',
    'plan-hash': report.planHash ?? '',
    'failure-reason': failureReason(report) || '',
  };
}
