/**
 * Scheduled mode: after a verify-ha run with the `issue` input, keep the
 * environment's health issue in step with the result (health-issue.ts decides
 * open / update / close). A GitHub API failure is logged as a warning and
 * never changes the run's own result: the verification is what matters, the
 * issue is a notification about it.
 */
import { healthReportMarkdown } from '../report/health-report.js';
import type { Redactor } from '../engine/redact.js';
import type { Logger } from '../log.js';
import { failureReason, runError, runStatus, type RunReport } from '../report/run-report.js';
import { runContextFrom } from './context.js';
import { reportHealth, type HealthResult, type VerifyOutcome } from './health-issue.js';
import { createOctokitPort } from './octokit-port.js';
import { GitHubApiError, type GitHubPort } from './port.js';

export interface HealthIssueSettings {
  token: string;
  /** The `issue` input. */
  issue: boolean;
}

export interface ScheduledHealthDeps {
  logger: Logger;
  redactor: Redactor;
  env: Record<string, string | undefined>;
  /** Tests inject a port; the action builds the Octokit one. */
  port?: (settings: { token: string; repository: string; apiUrl: string }) => GitHubPort;
  now?: () => Date;
}

/** The issue's report: the failing checks and warnings, or the error that stopped the run before any check. */
export function outcomeReport(report: RunReport, redactor: Redactor): string {
  const checks = report.checks ?? [];
  const error = runError(report);
  const parts: string[] = [];
  if (error && !checks.some((c) => c.status === 'fail')) {
    parts.push(`The run stopped before verifying${error.host ? ` (on ${error.host})` : ''}: ${error.message}${error.hint ? `\n\n${error.hint}` : ''}`);
  }
  if (checks.length > 0) parts.push(healthReportMarkdown(checks));
  return redactor.redact(parts.join('\n\n'));
}

/**
 * Opens, updates or closes the health issue for a finished verify-ha run.
 * Returns what was done, or undefined when scheduled mode does not apply
 * (another command, `issue` off, no token, not inside GitHub Actions).
 */
export async function reportScheduledHealth(report: RunReport, settings: HealthIssueSettings, deps: ScheduledHealthDeps): Promise<HealthResult | undefined> {
  if (report.command !== 'verify-ha' || !settings.issue) return undefined;
  if (!settings.token) {
    deps.logger.warn('input "issue" is true but github-token is empty: the health issue was not updated. Pass github-token (the default ${{ github.token }} works with `permissions: issues: write`).');
    return undefined;
  }
  const run = runContextFrom(deps.env);
  if (!run) {
    deps.logger.warn('input "issue" is true but this is not a GitHub Actions run (GITHUB_REPOSITORY / GITHUB_RUN_ID missing): no health issue.');
    return undefined;
  }
  const outcome: VerifyOutcome = {
    environment: report.environment,
    passed: runStatus(report) === 'ok',
    ...(failureReason(report) ? { failureReason: failureReason(report) } : {}),
    report: outcomeReport(report, deps.redactor),
    runUrl: run.runUrl,
    at: (deps.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  const makePort = deps.port ?? ((s) => createOctokitPort(s));
  try {
    const result = await reportHealth(makePort({ token: settings.token, repository: run.repository, apiUrl: run.apiUrl }), outcome);
    for (const w of result.warnings) deps.logger.warn(w);
    if (result.issue) deps.logger.info(`health issue #${result.issue.number} ${result.action}: ${result.issue.url}`);
    if (result.duplicatesClosed.length > 0) deps.logger.info(`closed duplicate health issue(s) ${result.duplicatesClosed.map((n) => `#${n}`).join(', ')}`);
    return result;
  } catch (error) {
    const message = error instanceof GitHubApiError ? `${error.message}. ${error.hint}` : error instanceof Error ? error.message : String(error);
    deps.logger.warn(`the health issue was not updated: ${deps.redactor.redact(message)}`);
    return undefined;
  }
}
