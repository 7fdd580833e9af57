/**
 * What a finished run hands to the reporters. Commands fill it in; the job
 * summary, the outputs and the CLI's text all derive from it, so they agree.
 */
import type { DeployError, FailureReason } from '../errors.js';
import type { ApplyResult } from '../engine/executor.js';
import type { Plan } from '../engine/plan.js';
import type { CommandName, Mode } from '../request.js';
import type { ReportProblem } from './annotations.js';
import type { CheckResult, DrillFigures } from '../check.js';
import type { PlatformConnection } from '../components/platform/connection.js';

export type HostStatus = 'ok' | 'changed' | 'will change' | 'no changes' | 'failed' | 'skipped' | 'unknown';

/** One row of the per-host table. */
export interface HostRow {
  name: string;
  roles: string[];
  status: HostStatus;
  changes: number;
  notes: string;
}

export interface RunReport {
  command: CommandName;
  mode: Mode;
  environment: string;
  plan?: Plan;
  /** The plan's hash (computed once by the command with `planHash`). */
  planHash?: string;
  apply?: ApplyResult;
  /**
   * Rows from the command itself (e.g. preflight's reachability and OS per host).
   * They win over rows derived from the plan for the same host.
   */
  hosts?: HostRow[];
  /** The error that ended the run, if any. */
  error?: DeployError;
  /** Problems in input files; defaults to `error.problems`. */
  problems?: ReportProblem[];
  /** Observed-vs-expected checks (preflight, verify-ha), rendered as one table. */
  checks?: CheckResult[];
  /** verify-ha's drill measurements as numbers (only when drills ran). */
  drills?: DrillFigures[];
  /** How the platform connects (deploy-lb, verify-ha): the `connection` output. */
  connection?: PlatformConnection;
  /** Extra markdown sections for the end of the summary (e.g. preflight's disk table). */
  sections?: { title: string; markdown: string }[];
}

export type RunStatus = 'ok' | 'failed';

export function runStatus(report: RunReport): RunStatus {
  return report.error || report.apply?.status === 'failed' ? 'failed' : 'ok';
}

/**
 * `changed`: in apply mode, whether anything was changed on a host; in plan
 * mode, whether the plan has changes to apply (as dflook's plan `changes` output).
 */
export function runChanged(report: RunReport): boolean {
  if (report.mode === 'apply') return report.apply?.changed ?? false;
  return (report.plan?.changes.length ?? 0) > 0;
}

export function failureReason(report: RunReport): FailureReason | '' {
  return report.error?.reason ?? report.apply?.error?.reason ?? '';
}

export function runProblems(report: RunReport): ReportProblem[] {
  return report.problems ?? report.error?.problems ?? [];
}

/** The error to show: the run's own, or the failed apply step's. */
export function runError(report: RunReport): DeployError | undefined {
  return report.error ?? report.apply?.error;
}

/** The per-host table: explicit rows first in priority, then what the plan and apply say. */
export function hostRows(report: RunReport): HostRow[] {
  const rows = new Map<string, HostRow>();
  const plan = report.plan;
  if (plan) {
    for (const h of plan.hosts) {
      rows.set(h.name, { name: h.name, roles: [...h.roles], status: 'unknown', changes: 0, notes: '' });
    }
    for (const c of plan.changes) {
      const row = rows.get(c.host) ?? { name: c.host, roles: [], status: 'unknown', changes: 0, notes: '' };
      row.changes++;
      rows.set(c.host, row);
    }
    for (const row of rows.values()) {
      const steps = report.apply?.steps.filter((s) => s.host === row.name) ?? [];
      const failed = steps.find((s) => s.status === 'failed');
      if (failed) {
        row.status = 'failed';
        row.notes = firstLine(failed.error ?? 'failed');
      } else if (report.apply) {
        const ok = steps.filter((s) => s.status === 'ok').length;
        const skipped = steps.filter((s) => s.status === 'skipped').length;
        row.status = ok > 0 ? 'changed' : skipped > 0 ? 'skipped' : 'no changes';
        if (skipped > 0) row.notes = `${skipped} change${skipped === 1 ? '' : 's'} skipped after a failure`;
      } else if (report.mode === 'apply' && report.error) {
        row.status = row.changes > 0 ? 'skipped' : 'no changes';
      } else {
        row.status = row.changes > 0 ? 'will change' : 'no changes';
      }
    }
  }
  for (const explicit of report.hosts ?? []) rows.set(explicit.name, { ...explicit, roles: [...explicit.roles] });

  // The host an error names (lock holder, unreachable host) is marked failed
  // unless a row already says more.
  const error = runError(report);
  if (error?.host) {
    const row = rows.get(error.host);
    if (row && row.status !== 'failed') {
      row.status = 'failed';
      row.notes = row.notes || firstLine(error.message);
    }
  }
  return [...rows.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function statusIcon(status: HostStatus | RunStatus | 'skipped'): string {
  switch (status) {
    case 'ok':
    case 'changed':
    case 'no changes':
      return '✅';
    case 'will change':
      return '📝';
    case 'failed':
      return '❌';
    case 'skipped':
      return '⏭️';
    default:
      return '❔';
  }
}

export function firstLine(text: string, max = 200): string {
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}
