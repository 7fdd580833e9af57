/**
 * The job summary: what an operator opens first after a run. The per-host
 * table comes first, then the failure, the apply steps and the plan, and the
 * long diffs last, so that truncation (GitHub refuses summaries over 1 MiB per
 * step) only ever cuts the least important part.
 */
import { renderPlanMarkdown } from '../engine/plan.js';
import type { Redactor } from '../engine/redact.js';
import { formatAnnotation, planAnnotations } from './annotations.js';
import { cell as escapeCell, code, fence, table, truncateMarkdown } from './markdown.js';
import {
  failureReason,
  hostRows,
  runChanged,
  runError,
  runProblems,
  runStatus,
  statusIcon,
  type RunReport,
} from './run-report.js';

/** Well under GitHub's 1 MiB per step, leaving room for other steps' appends. */
export const SUMMARY_MAX_BYTES = 900 * 1024;

export interface SummaryOptions {
  redactor: Redactor;
  maxBytes?: number;
  /** Annotations emitted per type before the rest go to the summary only. */
  annotationLimit?: number;
}

export function buildJobSummary(report: RunReport, options: SummaryOptions): string {
  const { redactor } = options;
  // Redact first, then escape: escaping first would turn a secret with "|" into "\|" that no longer matches.
  const cell = (value: string | number | undefined | null): string => escapeCell(value === undefined || value === null ? value : redactor.redact(String(value)));
  const status = runStatus(report);
  const out: string[] = [];

  out.push(
    `## ${statusIcon(status)} lms-ha ${code(report.command)} · ${report.mode} · ${code(report.environment)}`,
    '',
  );

  const rows = hostRows(report);
  if (rows.length > 0) {
    out.push(
      table(
        ['host', 'roles', 'status', 'changes', 'notes'],
        rows.map((r) => [
          cell(r.name),
          cell(r.roles.join(', ')),
          `${statusIcon(r.status)} ${r.status}`,
          String(r.changes),
          cell(r.notes),
        ]),
      ),
      '',
    );
  }

  const checks = report.checks ?? [];
  if (checks.length > 0) {
    out.push(
      table(
        ['layer', 'host', 'check', 'expected', 'observed', 'status'],
        checks.map((c) => [cell(c.layer), cell(c.host), cell(c.check), cell(c.expected), cell(c.observed), `${checkIcon(c.status)} ${c.status}`]),
      ),
      '',
    );
  }

  out.push(headline(report), '');

  const error = runError(report);
  if (error) {
    out.push(`> [!CAUTION]`, `> **Failed (${code(error.reason)})${error.host ? ` on ${code(error.host)}` : ''}:** ${oneLine(error.message)}`);
    if (error.hint) out.push('>', `> ${oneLine(error.hint)}`);
    out.push('');
  }

  const problems = runProblems(report);
  if (problems.length > 0) {
    const { emit, overflow } = planAnnotations(problems, redactor, options.annotationLimit);
    out.push(`### Problems (${problems.length})`, '');
    if (overflow.length > 0) {
      out.push(
        `${emit.length} are shown as annotations on the file; GitHub shows at most 10 per type per step, so ${overflow.length} more are listed only here.`,
        '',
      );
    }
    out.push(fence([...emit, ...overflow].map(formatAnnotation).join('\n')), '');
  }

  if (report.apply) {
    out.push(`### Apply steps`, '');
    if (report.apply.steps.length === 0) out.push('Nothing to apply.', '');
    else
      out.push(
        table(
          ['#', 'host', 'change', 'status', 'duration', 'error'],
          report.apply.steps.map((s, i) => [
            String(i + 1),
            cell(s.host),
            cell(s.summary),
            `${statusIcon(s.status)} ${s.status}`,
            s.status === 'skipped' ? '' : formatDuration(s.durationMs),
            cell(s.error ?? ''),
          ]),
        ),
        '',
      );
  }

  if (report.plan) {
    out.push(
      renderPlanMarkdown(report.plan, { redactor, planHash: report.planHash, headingLevel: 3, hostTable: false }),
      '',
    );
  }

  for (const section of report.sections ?? []) {
    out.push(`### ${section.title}`, '', section.markdown, '');
  }

  const text = redactor.redact(out.join('\n').replace(/\n+$/, '') + '\n');
  return truncateMarkdown(
    text,
    options.maxBytes ?? SUMMARY_MAX_BYTES,
    (omitted) =>
      `> [!NOTE]\n> This summary was truncated: ${formatBytes(omitted)} of details were left out (GitHub limits a step summary to 1 MiB). ` +
      'The full result is in the `result` output and in the job log.\n',
  );
}

function headline(report: RunReport): string {
  const changes = report.plan?.changes.length ?? 0;
  const failed = runStatus(report) === 'failed';
  const reason = failureReason(report);
  if (report.mode === 'plan') {
    if (failed) return `Plan failed${reason ? ` (${code(reason)})` : ''}; nothing was changed.`;
    return changes === 0
      ? 'Plan: no changes. The hosts match the desired state.'
      : `Plan: ${changes} change${changes === 1 ? '' : 's'} to apply${report.planHash ? `, plan hash ${code(report.planHash)}` : ''}. Nothing was changed.`;
  }
  const steps = report.apply?.steps ?? [];
  const ok = steps.filter((s) => s.status === 'ok').length;
  const skipped = steps.filter((s) => s.status === 'skipped').length;
  if (failed) {
    return `Apply failed${reason ? ` (${code(reason)})` : ''}: ${ok} of ${steps.length} change${steps.length === 1 ? '' : 's'} applied, ${skipped} skipped.`;
  }
  return runChanged(report) ? `Applied ${ok} change${ok === 1 ? '' : 's'}.` : 'No changes: the hosts already matched the desired state.';
}

function oneLine(text: string): string {
  return text.replace(/\r?\n/g, ' ');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`;
}

function checkIcon(status: 'ok' | 'warn' | 'fail'): string {
  return status === 'ok' ? '✅' : status === 'warn' ? '⚠️' : '❌';
}
