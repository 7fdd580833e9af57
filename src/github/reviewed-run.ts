/**
 * One action run with its GitHub side (dflook/terraform-github-actions'
 * terraform-plan / terraform-apply):
 *
 * - plan on a pull request: the sticky comment is created or updated with the
 *   plan and its hash; a failed plan turns it into "plan failed" with no hash;
 * - apply (push after merge, workflow_dispatch, any event): the reviewed hash is
 *   read back from the comment of the commit's pull request and handed to the
 *   engine, which re-plans under the lock and refuses a different plan
 *   (`plan-changed`) before touching a host. No reviewed plan at all is refused
 *   before anything is contacted. The only way past is `require-reviewed-plan:
 *   false`, logged as a warning and in the summary. The comment is then marked
 *   applied or apply-failed with a link to the run.
 *
 * Outside a GitHub Actions event (no GITHUB_EVENT_NAME: the CLI, a local run)
 * there is no pull request to read and no gate; the CLI has no such inputs.
 */
import { createTwoFilesPatch } from 'diff';
import { DeployError, toDeployError } from '../errors.js';
import type { Redactor } from '../engine/redact.js';
import type { Logger } from '../report/log.js';
import { failureReason, runError, runStatus, type RunReport } from '../report/run-report.js';
import type { CommandName, RunRequest } from '../request.js';
import { runContextFrom, type RunContext } from './context.js';
import { code } from './markdown.js';
import { createOctokitPort } from './octokit-port.js';
import {
  checkReviewedPlan,
  markPlanComment,
  normalizeInventory,
  planTextOf,
  reviewedPlanForRun,
  upsertPlanComment,
  type PlanCommentKey,
  type ReviewedPlanLookup,
} from './plan-comment.js';
import { renderCommentPlan } from './plan-markdown.js';
import { GitHubApiError, type GitHubPort } from './port.js';

/**
 * Commands whose apply carries a reviewable plan (and a plan hash). Their plan
 * gets a comment; their apply is gated. preflight, verify-ha and unlock change
 * nothing that a plan describes.
 */
export const REVIEWED_COMMANDS: readonly CommandName[] = ['provision', 'deploy-db', 'recover', 'deploy-lb', 'migrate-storage'];

export interface GitHubRunSettings {
  token: string;
  /** Post (plan) and mark (apply) the sticky pull request comment. */
  comment: boolean;
  /** Apply only a plan reviewed on the pull request (or given as plan-hash). */
  requireReviewedPlan: boolean;
}

export interface GitHubRunDeps {
  execute(request: RunRequest): Promise<RunReport>;
  logger: Logger;
  /** A notice annotation: something to know that is not a problem (a fork's plan without comment). */
  notice(message: string): void;
  redactor: Redactor;
  env: Record<string, string | undefined>;
  readFile?: (path: string) => string;
  /** Tests inject a port; the action builds the Octokit one. */
  port?: (settings: { token: string; repository: string; apiUrl: string }) => GitHubPort;
}

export async function runWithGitHub(request: RunRequest, settings: GitHubRunSettings, deps: GitHubRunDeps): Promise<RunReport> {
  const run = runContextFrom(deps.env, deps.readFile);
  // A real runner always names the event; without one this is not a workflow run.
  if (!run || !run.eventName || !REVIEWED_COMMANDS.includes(request.command)) return deps.execute(request);
  const key: PlanCommentKey = { environment: request.environment, command: request.command, inventory: normalizeInventory(request.inventoryPath) };
  const port = () => (deps.port ?? createOctokitPort)({ token: settings.token, repository: run.repository, apiUrl: run.apiUrl });
  return request.mode === 'plan' ? planOnPullRequest(request, settings, deps, run, key, port) : applyReviewed(request, settings, deps, run, key, port);
}

function apiFailure(error: unknown): string {
  return error instanceof GitHubApiError ? `${error.message}. ${error.hint}` : error instanceof Error ? error.message : String(error);
}

function withSection(report: RunReport, title: string, markdown: string): RunReport {
  return { ...report, sections: [...(report.sections ?? []), { title, markdown }] };
}

// ---------------------------------------------------------------------------
// Plan: the sticky comment

async function planOnPullRequest(
  request: RunRequest,
  settings: GitHubRunSettings,
  deps: GitHubRunDeps,
  run: RunContext,
  key: PlanCommentKey,
  port: () => GitHubPort,
): Promise<RunReport> {
  const report = await deps.execute(request);
  if (!settings.comment || run.pullRequest === undefined) return report;
  if (run.readOnlyBecause) {
    deps.notice(`lms-ha plan comment skipped: ${run.readOnlyBecause}, so GitHub gives this run a read-only token. The plan is in the job summary; a maintainer can push the branch to this repository to get a reviewable plan comment.`);
    return report;
  }
  if (!settings.token) {
    return withError(report, new DeployError('invalid-input', 'input "comment" is true but github-token is empty: the plan comment cannot be posted, so this plan cannot be reviewed.', {
      hint: 'Leave github-token at its default (${{ github.token }}) and give the job `permissions: { pull-requests: write }`.',
    }));
  }
  const error = runError(report);
  const failed = report.error !== undefined || report.plan === undefined || !report.planHash;
  const planMarkdown = failed
    ? deps.redactor.redact(
        `The plan stopped${error?.host ? ` on ${error.host}` : ''}${failureReason(report) ? ` (${code(failureReason(report))})` : ''}:\n\n` +
          '```text\n' + `${error?.message ?? 'no plan was produced'}${error?.hint ? `\n\n${error.hint}` : ''}`.replace(/```/g, "'''") + '\n```\n',
      )
    : renderCommentPlan(report.plan!, deps.redactor);
  try {
    const result = await upsertPlanComment(
      port(),
      run.pullRequest,
      { key, planHash: failed ? '' : report.planHash!, planMarkdown, ...(failed ? {} : { changes: report.plan!.changes.length }), runUrl: run.runUrl },
      failed ? 'plan-failed' : 'planned',
      failed ? { runUrl: run.runUrl, ...(error ? { message: deps.redactor.redact(error.message.split('\n', 1)[0]!) } : {}) } : {},
    );
    for (const w of result.warnings) deps.logger.warn(w);
    deps.logger.info(`plan comment ${result.action}: ${result.comment.url}`);
    return withSection(report, 'Pull request comment', `Plan comment ${result.action}: ${result.comment.url}`);
  } catch (thrown) {
    // A plan nobody can review is of no use to apply: the run fails and says which permission is missing.
    const message = deps.redactor.redact(apiFailure(thrown));
    if (report.error) {
      deps.logger.warn(`the plan comment was not updated: ${message}`);
      return report;
    }
    return withError(report, new DeployError('invalid-input', `the plan comment could not be posted on pull request #${run.pullRequest}: ${message}`, {
      hint: thrown instanceof GitHubApiError && thrown.status === 403 ? 'Add to the job: permissions: { contents: read, pull-requests: write }.' : 'Re-run the job; apply refuses a plan that has no comment.',
    }));
  }
}

function withError(report: RunReport, error: DeployError): RunReport {
  return { ...report, error };
}

// ---------------------------------------------------------------------------
// Apply: only what was reviewed

async function applyReviewed(
  request: RunRequest,
  settings: GitHubRunSettings,
  deps: GitHubRunDeps,
  run: RunContext,
  key: PlanCommentKey,
  port: () => GitHubPort,
): Promise<RunReport> {
  const base: RunReport = { command: request.command, mode: request.mode, environment: request.environment };
  if (request.expectedPlanHash) {
    // Reviewed elsewhere (a manual plan run): the engine compares; nothing to look up or mark.
    const report = await deps.execute(request);
    return withSection(report, 'Reviewed plan', `Applied only the plan with the hash given in the plan-hash input (${code(request.expectedPlanHash)}).`);
  }
  if (!settings.requireReviewedPlan) {
    const warning =
      `require-reviewed-plan is false: ${request.command} on ${request.environment} is applied WITHOUT a reviewed plan. ` +
      'The environment approval is the only gate; turn the input back on after the emergency.';
    deps.logger.warn(warning);
    const report = await deps.execute(request);
    return withSection(report, 'Reviewed plan', `> [!WARNING]\n> ${warning}`);
  }
  if (!settings.token) {
    return {
      ...base,
      error: new DeployError('plan-changed', 'apply needs the reviewed plan, but github-token is empty, so the pull request comment cannot be read. Nothing was contacted.', {
        hint: 'Leave github-token at its default (${{ github.token }}) with `permissions: { pull-requests: write }`, or pass the reviewed hash as plan-hash.',
      }),
    };
  }

  let lookup: ReviewedPlanLookup;
  try {
    lookup = await reviewedPlanForRun(port(), run, key);
  } catch (thrown) {
    return {
      ...base,
      error: new DeployError('plan-changed', `could not read the reviewed plan: ${deps.redactor.redact(apiFailure(thrown))}. Nothing was contacted.`, {
        hint: 'Apply fails closed when it cannot prove what was reviewed. Fix the permission named above (the job needs `permissions: { pull-requests: write }`) and re-run.',
      }),
    };
  }
  try {
    checkReviewedPlan(lookup.reviewed, lookup.reviewed?.planHash ?? '', key, lookup.where);
  } catch (refusal) {
    return { ...base, error: toDeployError(refusal) };
  }
  const reviewed = lookup.reviewed!;
  deps.logger.info(`reviewed plan ${reviewed.planHash.slice(0, 12)} found on ${lookup.where}: ${reviewed.url}`);
  let report = await deps.execute({ ...request, expectedPlanHash: reviewed.planHash });
  report = withSection(report, 'Reviewed plan', `Reviewed on ${lookup.where}: ${reviewed.url} (plan hash ${code(reviewed.planHash)}).`);

  const reason = failureReason(report);
  if (reason === 'plan-changed' && report.plan) {
    report = withSection(report, 'Reviewed plan → this plan', planDiff(planTextOf(reviewed.body) ?? '', renderCommentPlan(report.plan, deps.redactor)));
  }
  const ok = runStatus(report) === 'ok';
  const detail = {
    runUrl: run.runUrl,
    ...(ok ? {} : { message: deps.redactor.redact((runError(report)?.message ?? 'the run failed').split('\n', 1)[0]!) }),
  };
  if (!settings.comment) return report;
  try {
    const marked = await markPlanComment(port(), lookup.pr!, key, reviewed.planHash, ok ? 'applied' : 'apply-failed', detail);
    if (marked) deps.logger.info(`plan comment marked ${ok ? 'applied' : 'apply-failed'}: ${marked.url}`);
  } catch (thrown) {
    deps.logger.warn(`the plan comment was not marked ${ok ? 'applied' : 'apply-failed'}: ${deps.redactor.redact(apiFailure(thrown))}`);
  }
  return report;
}

/** The reviewed plan text against the fresh one, as a unified diff (bounded: it goes to the job summary). */
export function planDiff(reviewed: string, fresh: string, maxChars = 60_000): string {
  const patch = createTwoFilesPatch('reviewed plan (pull request comment)', 'plan now', reviewed, fresh, '', '', { context: 3 })
    .split('\n')
    .filter((line, i) => !(i < 2 && (line.startsWith('Index:') || line.startsWith('===='))))
    .join('\n');
  const body = patch.length > maxChars ? `${patch.slice(0, maxChars)}\n… (diff cut at ${maxChars.toLocaleString('en-US')} characters)` : patch;
  return `What changed between the plan a reviewer saw and the plan computed now (nothing was applied):\n\n\`\`\`\`diff\n${body.trimEnd()}\n\`\`\`\``;
}
