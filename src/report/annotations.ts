/**
 * Input problems as annotations on the file. GitHub shows at most 10
 * annotations of each type per step (and silently drops the rest), so the most
 * severe and earliest ones are emitted and the others are left for the job
 * summary, which says how many there were.
 */
import type { InputProblem } from '../errors.js';
import type { Redactor } from '../engine/redact.js';

export type Severity = 'error' | 'warning' | 'notice';

/** An input problem, optionally less than an error (e.g. an insecure but valid setting). */
export interface ReportProblem extends InputProblem {
  severity?: Severity;
  /** Short title shown above the message. */
  title?: string;
}

export interface AnnotationRecord {
  severity: Severity;
  message: string;
  title?: string;
  file?: string;
  startLine?: number;
  startColumn?: number;
}

/** GitHub's per-step display limit, per annotation type. */
export const ANNOTATIONS_PER_TYPE = 10;

const RANK: Record<Severity, number> = { error: 0, warning: 1, notice: 2 };

export function compareProblems(a: ReportProblem, b: ReportProblem): number {
  return (
    RANK[a.severity ?? 'error'] - RANK[b.severity ?? 'error'] ||
    (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
    a.line - b.line ||
    a.column - b.column ||
    (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
  );
}

export function toAnnotation(problem: ReportProblem, redactor: Redactor): AnnotationRecord {
  return {
    severity: problem.severity ?? 'error',
    message: redactor.redact(problem.message),
    title: problem.title === undefined ? undefined : redactor.redact(problem.title),
    file: problem.file,
    startLine: problem.line,
    startColumn: problem.column,
  };
}

export interface AnnotationPlan {
  /** To emit as annotations: at most `limit` per severity, sorted. */
  emit: AnnotationRecord[];
  /** The rest, sorted: listed in the job summary. */
  overflow: AnnotationRecord[];
}

/** Sorts by severity then position, and splits what GitHub will show from the rest. */
export function planAnnotations(
  problems: readonly ReportProblem[],
  redactor: Redactor,
  limit: number = ANNOTATIONS_PER_TYPE,
): AnnotationPlan {
  const sorted = [...problems].sort(compareProblems);
  const used: Record<Severity, number> = { error: 0, warning: 0, notice: 0 };
  const emit: AnnotationRecord[] = [];
  const overflow: AnnotationRecord[] = [];
  for (const p of sorted) {
    const record = toAnnotation(p, redactor);
    if (used[record.severity] < limit) {
      used[record.severity]++;
      emit.push(record);
    } else {
      overflow.push(record);
    }
  }
  return { emit, overflow };
}

/** `file:line:col: message`, as compilers print it. */
export function formatAnnotation(record: AnnotationRecord): string {
  const where = record.file ? `${record.file}:${record.startLine ?? 1}:${record.startColumn ?? 1}: ` : '';
  const severity = record.severity === 'error' ? '' : `${record.severity}: `;
  return `${where}${severity}${record.message}`;
}
