/**
 * The one error type the product throws on purpose. `reason` is the closed set
 * published as the `failure-reason` output, so workflows can branch on it
 * (retry on `ssh-failed`, page someone on `verify-failed`, ...).
 */
export const FAILURE_REASONS = [
  'invalid-input',
  'invalid-inventory',
  'missing-secret',
  'host-key-mismatch',
  'host-key-unknown',
  'ssh-failed',
  'sudo-failed',
  'command-failed',
  'unsupported-host',
  'preflight-failed',
  'unsafe-bootstrap',
  'cluster-unhealthy',
  'plan-changed',
  'locked',
  'apply-failed',
  'verify-failed',
  'internal',
] as const;

export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Where in a file a problem is: 1-based line and column, as editors show them. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** One problem found in an input file; many are collected before failing. */
export interface InputProblem extends SourcePosition {
  message: string;
}

export interface DeployErrorOptions {
  /** The host the problem was seen on, when there is one. */
  host?: string;
  /** What the operator should do about it. */
  hint?: string;
  /** Every problem found, for errors that collect many (the inventory). */
  problems?: InputProblem[];
  cause?: unknown;
}

export class DeployError extends Error {
  readonly reason: FailureReason;
  readonly host?: string;
  readonly hint?: string;
  readonly problems: InputProblem[];

  constructor(reason: FailureReason, message: string, options: DeployErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeployError';
    this.reason = reason;
    this.host = options.host;
    this.hint = options.hint;
    this.problems = options.problems ?? [];
  }
}

/** Formats a problem the way compilers do, so terminals and editors can jump to it. */
export function formatProblem(p: InputProblem): string {
  return `${oneLine(p.file)}:${p.line}:${p.column}: ${oneLine(p.message)}`;
}

/** Control characters (a key with a line break, a tab) written as escapes, so one problem stays one line. */
function oneLine(text: string): string {
  const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Turns anything thrown into a DeployError; unknown errors become `internal`. */
export function toDeployError(error: unknown): DeployError {
  if (error instanceof DeployError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DeployError('internal', `internal error: ${message}`, {
    hint: 'This is a bug in lms-ha; please report it with the job log.',
    cause: error,
  });
}
