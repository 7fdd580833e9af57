/**
 * The CLI's reporter: human text on stderr (progress, the plan, the result),
 * the machine-readable result on stdout with --json, so `lms-ha ... --json | jq`
 * works while the operator still sees progress. Problems are printed as
 * `file:line:col: message`, which terminals and editors turn into links.
 */
import { changeAction, changeTarget, changeData } from '../engine/change.js';
import type { Plan } from '../engine/plan.js';
import { fileDiff } from './plan.js';
import { Redactor } from '../engine/redact.js';
import type { FailureReason } from '../errors.js';
import { formatAnnotation, planAnnotations } from './annotations.js';
import { prefixed, type Logger } from '../log.js';
import { buildResult } from './outputs.js';
import { failureReason, hostRows, runError, runProblems, runStatus, type RunReport } from './run-report.js';
import { formatDuration } from '../format.js';

export interface TextSink {
  write(chunk: string): unknown;
}

export interface ConsoleReporterOptions {
  redactor?: Redactor;
  stderr?: TextSink;
  stdout?: TextSink;
  /** Print the result JSON on stdout. */
  json?: boolean;
  /** Print debug lines. */
  verbose?: boolean;
}

/** Exit codes of the CLI: 0 ok, 1 failed, 2 invalid input. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_INVALID_INPUT = 2;

const INPUT_REASONS: ReadonlySet<FailureReason> = new Set(['invalid-input', 'invalid-inventory', 'missing-secret']);

export function exitCodeFor(report: RunReport): number {
  if (runStatus(report) === 'ok') return EXIT_OK;
  const reason = failureReason(report);
  return reason && INPUT_REASONS.has(reason) ? EXIT_INVALID_INPUT : EXIT_FAILED;
}

export class ConsoleReporter implements Logger {
  readonly redactor: Redactor;
  private readonly stderr: TextSink;
  private readonly stdout: TextSink;
  private readonly json: boolean;
  private readonly verbose: boolean;

  constructor(options: ConsoleReporterOptions = {}) {
    this.redactor = options.redactor ?? new Redactor();
    this.stderr = options.stderr ?? process.stderr;
    this.stdout = options.stdout ?? process.stdout;
    this.json = options.json ?? false;
    this.verbose = options.verbose ?? false;
  }

  registerSecret(value: string | undefined): void {
    this.redactor.add(value);
  }

  private line(text: string): void {
    this.stderr.write(this.redactor.redact(text) + '\n');
  }

  info(message: string, host?: string): void {
    this.line(prefixed(message, host));
  }

  warn(message: string, host?: string): void {
    this.line(`warning: ${prefixed(message, host)}`);
  }

  debug(message: string, host?: string): void {
    if (this.verbose) this.line(`debug: ${prefixed(message, host)}`);
  }

  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    this.line(`==> ${title}`);
    return fn();
  }

  /** Prints the end-of-run report; returns the exit code. */
  report(report: RunReport): number {
    const problems = runProblems(report);
    if (problems.length > 0) {
      const { emit } = planAnnotations(problems, this.redactor, Number.MAX_SAFE_INTEGER);
      for (const record of emit) this.line(formatAnnotation(record));
      this.line('');
    }

    const rows = hostRows(report);
    if (rows.length > 0) {
      this.line(
        textTable(
          ['HOST', 'ROLES', 'STATUS', 'CHANGES', 'NOTES'],
          rows.map((r) => [r.name, r.roles.join(','), r.status, String(r.changes), r.notes]),
        ),
      );
      this.line('');
    }

    const checks = report.checks ?? [];
    if (checks.length > 0) {
      this.line(
        textTable(
          ['LAYER', 'HOST', 'CHECK', 'EXPECTED', 'OBSERVED', 'STATUS'],
          checks.map((c) => [c.layer, c.host, c.check, c.expected, c.observed, c.status]),
        ),
      );
      this.line('');
    }

    if (report.plan && report.mode === 'plan') {
      this.line(renderPlanText(report.plan, { planHash: report.planHash }));
    }

    if (report.apply && report.apply.steps.length > 0) {
      this.line('Apply steps:');
      this.line(
        textTable(
          ['#', 'HOST', 'STATUS', 'TIME', 'CHANGE'],
          report.apply.steps.map((s, i) => [
            String(i + 1),
            s.host,
            s.status,
            s.status === 'skipped' ? '' : formatDuration(s.durationMs),
            s.summary + (s.error ? ` (${s.error.split('\n', 1)[0]})` : ''),
          ]),
        ),
      );
      this.line('');
    }

    for (const section of report.sections ?? []) this.line(`${section.title}\n\n${section.markdown}\n`);

    const error = runError(report);
    if (error) {
      // Transport errors already start with the host; don't say it twice.
      const named = error.host && !error.message.startsWith(`${error.host}:`) ? ` ${error.host}:` : '';
      this.line(`error [${error.reason}]${named} ${error.message}`);
      if (error.hint) this.line(`hint: ${error.hint}`);
    } else if (report.mode === 'plan') {
      const n = report.plan?.changes.length ?? 0;
      this.line(n === 0 ? 'No changes.' : `${n} change${n === 1 ? '' : 's'} planned; nothing was changed.`);
    } else {
      const ok = report.apply?.steps.filter((s) => s.status === 'ok').length ?? 0;
      this.line(ok === 0 ? 'No changes.' : `Applied ${ok} change${ok === 1 ? '' : 's'}.`);
    }

    if (this.json) this.stdout.write(JSON.stringify(buildResult(report, this.redactor), null, 2) + '\n');
    return exitCodeFor(report);
  }
}

/** The plan for a terminal: the change list with diffs, hosts first. Not redacted: the caller's sink is. */
export function renderPlanText(plan: Plan, options: { planHash?: string; maxDiffLines?: number } = {}): string {
  const out: string[] = [];
  const n = plan.changes.length;
  out.push(
    `Plan: ${plan.command} on ${plan.environment}: ${n === 0 ? 'no changes' : `${n} change${n === 1 ? '' : 's'}`}` +
      (options.planHash ? ` (plan hash ${options.planHash})` : ''),
  );
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  plan.changes.forEach((c, i) => {
    const change = changeData(c);
    out.push(`  ${i + 1}. [${change.host}] ${change.kind} ${changeAction(change)} ${changeTarget(change)}: ${change.summary}`);
    const indent = (text: string) => text.split('\n').map((l) => `       ${l}`);
    switch (change.kind) {
      case 'file': {
        const d = fileDiff(change, { maxLines: options.maxDiffLines ?? 200 });
        if (d.metadata.length > 0) out.push(...indent(d.metadata.join(', ')));
        if (d.note) out.push(...indent(d.note));
        if (d.diff) out.push(...indent(d.diff));
        break;
      }
      case 'sql':
      case 'cluster':
      case 'user':
        out.push(...indent(change.detail));
        break;
      default:
        break;
    }
  });
  out.push('');
  return out.join('\n');
}

export function textTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
