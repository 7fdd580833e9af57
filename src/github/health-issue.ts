/**
 * The issue a scheduled verify-ha keeps for each environment. It is found by a
 * label AND a hidden marker on the body's first line:
 *
 *   <!-- lms-ha-health: {"environment":"production"} -->
 *
 * The label makes the lookup one cheap API call; the marker tells the
 * environments apart and means a human issue that happens to carry the label
 * is never touched. Only people with triage access can set labels, so the pair
 * cannot be forged by a drive-by issue.
 *
 * failing, no issue      -> open one
 * failing, issue open    -> comment with the new failures, refresh the body
 * passing, issue open    -> comment "passing again", close it
 * passing, no issue      -> nothing
 */
import type { GitHubPort, Issue } from './port.js';
import { BODY_BUDGET, code, readMarker, truncateMiddle, writeMarker } from './markdown.js';

export const HEALTH_LABEL = 'lms-ha-health';
export const HEALTH_MARKER = 'lms-ha-health';

export interface VerifyOutcome {
  environment: string;
  passed: boolean;
  /** The `failure-reason` of a failed run (`verify-failed`, `ssh-failed`, ...). */
  failureReason?: string;
  /**
   * Markdown for humans: on failure the table of failing checks (layer, host,
   * check, expected, observed). Already redacted: it is posted to the issue.
   */
  report: string;
  runUrl?: string;
  /** When the run happened (ISO 8601); injected so output is reproducible. */
  at: string;
}

export type HealthDecision =
  | { kind: 'noop' }
  | { kind: 'create' }
  | { kind: 'update'; issue: Issue; duplicates: Issue[] }
  | { kind: 'close'; issue: Issue; duplicates: Issue[] };

export interface HealthResult {
  action: 'created' | 'updated' | 'closed' | 'noop';
  issue?: { number: number; url: string };
  /** Extra open issues for the same environment (from a past race) that were closed. */
  duplicatesClosed: number[];
  /** Non-fatal oddities worth a warning in the log. */
  warnings: string[];
}

// ---------------------------------------------------------------------------
// Pure

export function buildHealthMarker(environment: string): string {
  return writeMarker(HEALTH_MARKER, { environment });
}

export function parseHealthMarker(body: string): { environment: string } | undefined {
  const raw = readMarker(body, HEALTH_MARKER);
  return typeof raw?.['environment'] === 'string' ? { environment: raw['environment'] } : undefined;
}

export function healthIssueTitle(environment: string): string {
  return `verify-ha failing: ${environment}`;
}

/** The open health issues of one environment, oldest first. */
export function healthIssuesFor(issues: Issue[], environment: string, label = HEALTH_LABEL): Issue[] {
  return issues
    .filter((i) => i.state === 'open' && i.labels.includes(label))
    .filter((i) => parseHealthMarker(i.body)?.environment === environment)
    .sort((a, b) => (a.createdAt === b.createdAt ? a.number - b.number : a.createdAt < b.createdAt ? -1 : 1));
}

/** What to do, given this run's result and the environment's open health issues (oldest first). */
export function decideHealthAction(passed: boolean, openIssues: Issue[]): HealthDecision {
  const [issue, ...duplicates] = openIssues;
  if (!issue) return passed ? { kind: 'noop' } : { kind: 'create' };
  return passed ? { kind: 'close', issue, duplicates } : { kind: 'update', issue, duplicates };
}

function runLink(o: VerifyOutcome): string {
  return o.runUrl ? `[this run](${o.runUrl})` : 'this run';
}

function fit(report: string, room: number, runUrl: string | undefined): string {
  return truncateMiddle(report.trimEnd(), Math.max(0, room), ({ lines }) =>
    `> [!WARNING]\n> ${lines.toLocaleString('en-US')} lines cut to fit GitHub's size limit. ` +
      (runUrl ? `The full report is in the [job summary](${runUrl}).` : 'The full report is in the job summary.'),
  );
}

/** The issue body: always the latest state, so the issue reads right without scrolling the comments. */
export function renderHealthIssueBody(o: VerifyOutcome, since?: string): string {
  const reason = o.failureReason ? ` with ${code(o.failureReason)}` : '';
  const top =
    `${buildHealthMarker(o.environment)}\n` +
    `## verify-ha is failing on ${code(o.environment)}\n\n` +
    `Latest: ${runLink(o)} at ${o.at} failed${reason}.` +
    (since ? ` Failing since ${since}.` : '') +
    `\n\nlms-ha keeps this issue up to date: each failing scheduled run comments with its failures and refreshes this text; ` +
    `the first passing run comments and closes it. Keep the \`${HEALTH_LABEL}\` label and the first line as they are.\n\n` +
    `### Failing checks\n\n`;
  return `${top}${fit(o.report, BODY_BUDGET - top.length, o.runUrl)}\n`;
}

export function renderFailureComment(o: VerifyOutcome): string {
  const reason = o.failureReason ? ` (${code(o.failureReason)})` : '';
  const top = `❌ **Still failing** on ${code(o.environment)}: ${runLink(o)} at ${o.at}${reason}.\n\n`;
  return `${top}${fit(o.report, BODY_BUDGET - top.length, o.runUrl)}\n`;
}

export function renderRecoveryComment(o: VerifyOutcome): string {
  return `✅ **Passing again** on ${code(o.environment)}: ${runLink(o)} at ${o.at} found every check healthy. Closing.\n`;
}

// ---------------------------------------------------------------------------
// Port calls

/**
 * Opens, updates or closes the health issue of `outcome.environment`.
 * Scheduled runs of one environment should not overlap (the verify workflow
 * has a concurrency group per environment); if two ever did and both opened
 * an issue, the next run keeps the oldest and closes the other.
 */
export async function reportHealth(
  port: GitHubPort,
  outcome: VerifyOutcome,
  label = HEALTH_LABEL,
): Promise<HealthResult> {
  const open = healthIssuesFor(await port.listOpenIssuesWithLabel(label), outcome.environment, label);
  const decision = decideHealthAction(outcome.passed, open);
  const warnings: string[] = [];

  switch (decision.kind) {
    case 'noop':
      return { action: 'noop', duplicatesClosed: [], warnings };

    case 'create': {
      const issue = await port.createIssue({
        title: healthIssueTitle(outcome.environment),
        body: renderHealthIssueBody(outcome),
        labels: [label],
      });
      // GitHub drops labels silently when the token may not set them; the next run would not find the issue.
      if (!issue.labels.includes(label)) {
        warnings.push(
          `issue #${issue.number} was created without the ${label} label, so the next run will not find it: ` +
            'the token needs `issues: write`.',
        );
      }
      return { action: 'created', issue: { number: issue.number, url: issue.url }, duplicatesClosed: [], warnings };
    }

    case 'update': {
      const { issue } = decision;
      await port.createComment(issue.number, renderFailureComment(outcome));
      await port.updateIssue(issue.number, { body: renderHealthIssueBody(outcome, issue.createdAt) });
      const duplicatesClosed = await closeDuplicates(port, decision.duplicates, issue.number);
      return { action: 'updated', issue: { number: issue.number, url: issue.url }, duplicatesClosed, warnings };
    }

    case 'close': {
      const { issue } = decision;
      await port.createComment(issue.number, renderRecoveryComment(outcome));
      await port.closeIssue(issue.number, 'completed');
      const duplicatesClosed = await closeDuplicates(port, decision.duplicates, issue.number);
      return { action: 'closed', issue: { number: issue.number, url: issue.url }, duplicatesClosed, warnings };
    }
  }
}

async function closeDuplicates(port: GitHubPort, duplicates: Issue[], kept: number): Promise<number[]> {
  for (const d of duplicates) {
    await port.createComment(d.number, `Duplicate of #${kept}; lms-ha tracks this environment there.`);
    await port.closeIssue(d.number, 'not_planned');
  }
  return duplicates.map((d) => d.number);
}
