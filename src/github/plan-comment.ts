/**
 * The sticky plan comment on a pull request (dflook/terraform-github-actions
 * style). One comment per (environment, command, inventory) carries a hidden
 * header on its first line:
 *
 *   <!-- lms-ha: {"environment":"production","command":"deploy-db","inventory":"ha.yml","planHash":"…","version":1,"status":"planned"} -->
 *
 * so a new plan updates it in place, and apply can read back the hash of the
 * plan a reviewer saw and refuse anything else. After apply the status becomes
 * `applied` and the comment is never reused: it stays as the record of what
 * was applied, and the next plan opens a fresh comment.
 *
 * Only comments written by the token's own identity count. Anyone can comment
 * on a public pull request; a pasted header must not be able to vouch for a plan.
 */
import { DeployError } from '../errors.js';
import type { Comment, GitHubPort } from './port.js';
import { sameLogin, GitHubApiError } from './port.js';
import { BODY_BUDGET, code, readMarker, truncateMiddle, writeMarker } from './markdown.js';

export const PLAN_MARKER = 'lms-ha';
const STATUS_END = '<!-- lms-ha:status-end -->';
const PLAN_START = '<!-- lms-ha:plan -->';
const HEADER_VERSION = 1;

export const PLAN_STATUSES = ['planned', 'plan-failed', 'applied', 'apply-failed'] as const;
export type PlanStatus = (typeof PLAN_STATUSES)[number];

/** What one sticky comment is about. Two plans with equal keys share a comment. */
export interface PlanCommentKey {
  environment: string;
  command: string;
  /** Inventory path as given (normalized): two inventories may both define `production`. */
  inventory: string;
}

export interface PlanCommentHeader extends PlanCommentKey {
  planHash: string;
  status: PlanStatus;
  /** The comment shows a shortened plan (the full one is in the job summary). */
  truncated?: boolean;
  version: typeof HEADER_VERSION;
}

export interface PlanCommentContent {
  key: PlanCommentKey;
  planHash: string;
  /** The plan as rendered by the engine (markdown, secrets already redacted). */
  planMarkdown: string;
  /** How many changes the plan holds; shown next to the hash. */
  changes?: number;
  /** The run that made the plan; the truncation note sends readers there. */
  runUrl?: string;
}

export interface StatusDetail {
  /** The run that applied (or failed to apply) the plan. */
  runUrl?: string;
  /** One line on what went wrong, for `apply-failed`. Never a secret: it is posted publicly. */
  message?: string;
}

// ---------------------------------------------------------------------------
// Pure: header, body, status edits

/** `./envs/ha.yml` and `envs/ha.yml` name the same inventory. */
export function normalizeInventory(path: string): string {
  return path.replace(/\\/g, '/').replace(/^(\.\/)+/, '').replace(/\/{2,}/g, '/');
}

export function buildPlanHeader(header: Omit<PlanCommentHeader, 'version'>): string {
  return writeMarker(PLAN_MARKER, {
    environment: header.environment,
    command: header.command,
    inventory: normalizeInventory(header.inventory),
    planHash: header.planHash,
    version: HEADER_VERSION,
    status: header.status,
    ...(header.truncated ? { truncated: true } : {}),
  });
}

/** Reads the header from a comment body; undefined when it is not an lms-ha plan comment this version understands. */
export function parsePlanHeader(body: string): PlanCommentHeader | undefined {
  const raw = readMarker(body, PLAN_MARKER);
  if (!raw || raw['version'] !== HEADER_VERSION) return undefined;
  const { environment, command, inventory, planHash } = raw;
  if (typeof environment !== 'string' || typeof command !== 'string') return undefined;
  if (typeof inventory !== 'string' || typeof planHash !== 'string') return undefined;
  const status = raw['status'] ?? 'planned';
  if (!PLAN_STATUSES.includes(status as PlanStatus)) return undefined;
  return {
    environment,
    command,
    inventory: normalizeInventory(inventory),
    planHash,
    status: status as PlanStatus,
    ...(raw['truncated'] === true ? { truncated: true } : {}),
    version: HEADER_VERSION,
  };
}

export function sameKey(a: PlanCommentKey, b: PlanCommentKey): boolean {
  return (
    a.environment === b.environment &&
    a.command === b.command &&
    normalizeInventory(a.inventory) === normalizeInventory(b.inventory)
  );
}

function shortHash(hash: string): string {
  return hash.length > 12 ? hash.slice(0, 12) : hash;
}

function renderStatusBlock(header: Omit<PlanCommentHeader, 'version'>, detail: StatusDetail = {}): string {
  const where = `${code(header.command)} · ${code(header.environment)}${header.truncated ? ' (shortened: full plan in the job summary)' : ''}`;
  const run = detail.runUrl ? ` [See the run](${detail.runUrl}).` : '';
  switch (header.status) {
    case 'planned':
      return `### 📝 lms-ha plan: ${where}\n**Not applied yet.** Apply runs only this plan: if the hosts or the inventory change first, it refuses and asks for a new plan.`;
    case 'plan-failed': {
      const line = detail.message?.replace(/\s+/g, ' ').trim() ?? '';
      const why = line ? ` ${line.length > 500 ? `${line.slice(0, 499)}…` : line}` : '';
      return `### ❌ lms-ha plan failed: ${where}\n**Plan failed: there is no plan to review, and apply refuses until a plan succeeds.**${why}${run}`;
    }
    case 'applied':
      return `### ✅ lms-ha plan applied: ${where}\n**Applied.** The plan below is what was reviewed and applied.${run}`;
    case 'apply-failed': {
      // One line, bounded: the body must stay under the size limit after this edit.
      const line = detail.message?.replace(/\s+/g, ' ').trim() ?? '';
      const why = line ? ` ${line.length > 500 ? `${line.slice(0, 499)}…` : line}` : '';
      return `### ❌ lms-ha apply failed: ${where}\n**Apply failed.**${why}${run}`;
    }
  }
}

function renderFacts(content: PlanCommentContent, truncated = false): string {
  const parts = [
    content.planHash ? `Plan hash ${code(shortHash(content.planHash))}` : 'No plan hash',
    `inventory ${code(normalizeInventory(content.key.inventory))}`,
  ];
  if (content.changes !== undefined) {
    parts.push(content.changes === 0 ? 'no changes' : content.changes === 1 ? '1 change' : `${content.changes} changes`);
  }
  if (content.runUrl) parts.push(`[planned in this run](${content.runUrl})`);
  // The hash covers the whole plan; a reviewer must know this comment shows only part of it.
  if (truncated) parts.push(`**shortened: the full plan is in the job summary${content.runUrl ? ` of [the run](${content.runUrl})` : ''}**`);
  return parts.join(' · ');
}

function truncationNote(runUrl: string | undefined) {
  return ({ chars, lines }: { chars: number; lines: number }) =>
    `> [!WARNING]\n> **Plan shortened:** ${chars.toLocaleString('en-US')} characters (${lines.toLocaleString('en-US')} lines) were cut from the middle to stay under GitHub's 65,536-character comment limit. ` +
    (runUrl ? `The full plan is in the [job summary and log](${runUrl}).` : 'The full plan is in the job summary and log of the run that made it.');
}

/** The whole comment body for a plan, under GitHub's size limit. */
export function renderPlanComment(
  content: PlanCommentContent,
  status: PlanStatus = 'planned',
  detail: StatusDetail = {},
): string {
  const plain = content.planMarkdown.trimEnd();
  const build = (truncated: boolean) => {
    const header = { ...content.key, planHash: status === 'plan-failed' ? '' : content.planHash, status, truncated };
    return `${buildPlanHeader(header)}\n${renderStatusBlock(header, detail)}\n${STATUS_END}\n${renderFacts(content, truncated)}\n\n${PLAN_START}\n`;
  };
  let top = build(false);
  if (top.length + plain.length + 1 <= BODY_BUDGET) return `${top}${plain}\n`;
  top = build(true);
  const plan = truncateMiddle(plain, Math.max(0, BODY_BUDGET - top.length), truncationNote(content.runUrl));
  return `${top}${plan}\n`;
}

/**
 * The plan as the comment shows it (after the facts line), for the diff of the
 * reviewed plan against a fresh one. Undefined for a comment without a plan.
 */
export function planTextOf(body: string): string | undefined {
  const at = body.indexOf(PLAN_START);
  if (at === -1) return undefined;
  return body.slice(at + PLAN_START.length + 1);
}

/**
 * The same comment with a new status: header and status block rewritten, the
 * facts line and the plan kept exactly. Undefined when the body is not a plan
 * comment.
 */
export function withStatus(body: string, status: PlanStatus, detail: StatusDetail = {}): string | undefined {
  const header = parsePlanHeader(body);
  if (!header) return undefined;
  const next = { ...header, status };
  const endAt = body.indexOf(STATUS_END);
  // A hand-edited comment may have lost the end marker: keep everything after the header line then.
  const rest = endAt === -1 ? body.slice(body.indexOf('\n') + 1 || body.length) : body.slice(endAt + STATUS_END.length + 1);
  return `${buildPlanHeader(next)}\n${renderStatusBlock(next, detail)}\n${STATUS_END}\n${rest}`;
}

// ---------------------------------------------------------------------------
// Port calls

interface OwnComment {
  comment: Comment;
  header: PlanCommentHeader;
}

function byAge(a: Comment, b: Comment): number {
  return a.createdAt === b.createdAt ? a.id - b.id : a.createdAt < b.createdAt ? -1 : 1;
}

async function ownPlanComments(port: GitHubPort, pr: number, key: PlanCommentKey): Promise<OwnComment[]> {
  const viewer = await port.viewerLogin();
  const comments = await port.listIssueComments(pr);
  return comments
    .filter((c) => sameLogin(c.author, viewer))
    .sort(byAge)
    .flatMap((comment) => {
      const header = parsePlanHeader(comment.body);
      return header && sameKey(header, key) ? [{ comment, header }] : [];
    });
}

export interface UpsertResult {
  action: 'created' | 'updated' | 'unchanged';
  comment: Comment;
  /** Problems tidying duplicate comments; worth a log line, never a failure. */
  warnings: string[];
}

async function removeDuplicate(port: GitHubPort, duplicate: Comment, keep: Comment, warnings: string[]) {
  try {
    await port.deleteComment(duplicate.id);
  } catch (error) {
    if (error instanceof GitHubApiError && error.status === 404) return; // a concurrent run got there first
    if (port.minimizeComment) {
      try {
        await port.minimizeComment(duplicate.nodeId, 'DUPLICATE');
        return;
      } catch {
        // fall through to the warning
      }
    }
    warnings.push(`could not remove duplicate plan comment ${duplicate.url} (kept ${keep.url}): ${String(error)}`);
  }
}

/**
 * Creates or updates the sticky plan comment on pull request `pr`.
 *
 * Two runs can race (two pushes in quick succession) and both create a
 * comment. After creating, the comments are listed again and the oldest one
 * wins: it receives this run's body and this run's own comment is deleted
 * (or minimized when deleting is refused). Earlier duplicates found on the
 * way are removed too.
 */
export async function upsertPlanComment(
  port: GitHubPort,
  pr: number,
  content: PlanCommentContent,
  status: 'planned' | 'plan-failed' = 'planned',
  detail: StatusDetail = {},
): Promise<UpsertResult> {
  const body = renderPlanComment(content, status, detail);
  const warnings: string[] = [];
  const open = (await ownPlanComments(port, pr, content.key)).filter((c) => c.header.status !== 'applied');

  if (open.length > 0) {
    const [keep, ...dupes] = open.map((c) => c.comment) as [Comment, ...Comment[]];
    for (const d of dupes) await removeDuplicate(port, d, keep, warnings);
    if (keep.body === body) return { action: 'unchanged', comment: keep, warnings };
    return { action: 'updated', comment: await port.updateComment(keep.id, body), warnings };
  }

  const created = await port.createComment(pr, body);
  const after = (await ownPlanComments(port, pr, content.key)).filter((c) => c.header.status !== 'applied');
  const oldest = after[0]?.comment;
  if (!oldest || oldest.id === created.id) return { action: 'created', comment: created, warnings };

  // Lost the race: keep the oldest comment, carrying this run's plan.
  const kept = oldest.body === body ? oldest : await port.updateComment(oldest.id, body);
  await removeDuplicate(port, created, kept, warnings);
  return { action: 'updated', comment: kept, warnings };
}

export interface ReviewedPlan {
  planHash: string;
  status: PlanStatus;
  commentId: number;
  url: string;
  /** The comment as reviewed: its plan text is diffed against a fresh plan that differs. */
  body: string;
}

/**
 * The plan comment for `key` on pull request `pr`: the sticky one that is not
 * applied yet, or else the most recent applied one (so the caller can say
 * "already applied" rather than "never planned").
 */
async function findReviewedPlan(
  port: GitHubPort,
  pr: number,
  key: PlanCommentKey,
): Promise<ReviewedPlan | undefined> {
  const own = await ownPlanComments(port, pr, key);
  const pick = own.find((c) => c.header.status !== 'applied') ?? own.at(-1);
  if (!pick) return undefined;
  return {
    planHash: pick.header.planHash,
    status: pick.header.status,
    commentId: pick.comment.id,
    url: pick.comment.url,
    body: pick.comment.body,
  };
}

/**
 * Refuses to apply a plan other than the reviewed one. `reviewed` is what
 * `reviewedPlanForRun` found (or an explicit `plan-hash` input turned into
 * one); `where` names its source for the message, e.g. "pull request #12".
 */
export function checkReviewedPlan(
  reviewed: Pick<ReviewedPlan, 'planHash' | 'status'> | undefined,
  freshHash: string,
  key: PlanCommentKey,
  where: string,
): void {
  const what = `the ${key.command} plan for ${key.environment}`;
  if (!reviewed) {
    throw new DeployError('plan-changed', `No reviewed plan for ${what} was found on ${where}.`, {
      hint:
        `Run lms-ha with mode plan and comment: true on the pull request, have it reviewed, then apply from its merge commit; ` +
        `or pass the reviewed hash as plan-hash.${freshHash ? ` The fresh plan hash is ${freshHash}.` : ' Nothing was contacted.'}`,
    });
  }
  if (reviewed.status === 'plan-failed') {
    throw new DeployError('plan-changed', `The last ${key.command} plan for ${key.environment} on ${where} failed, so there is no reviewed plan to apply. Nothing was applied.`, {
      hint: 'Fix what made the plan fail (see that pull request\'s lms-ha comment and its run), push to get a successful plan reviewed, then apply.',
    });
  }
  if (reviewed.status === 'applied') {
    throw new DeployError('plan-changed', `The reviewed ${what} on ${where} was already applied.`, {
      hint: 'A new change needs a new plan: push to the pull request (or open a new one) to get a fresh plan comment.',
    });
  }
  if (reviewed.planHash !== freshHash) {
    throw new DeployError(
      'plan-changed',
      `The ${key.command} plan for ${key.environment} has changed since it was reviewed on ${where} ` +
        `(reviewed ${shortHash(reviewed.planHash)}, now ${shortHash(freshHash)}). Nothing was applied.`,
      {
        hint:
          'The hosts or the inventory changed after the review. The fresh plan is in the job summary: ' +
          're-run the plan on the pull request, review the new comment, then apply again.',
      },
    );
  }
}

/**
 * Marks the comment holding plan `planHash` for `key` as applied or failed.
 * Returns the updated comment, or undefined when there is none to mark (a
 * manual apply with an explicit plan-hash has no comment).
 */
export async function markPlanComment(
  port: GitHubPort,
  pr: number,
  key: PlanCommentKey,
  planHash: string,
  status: Exclude<PlanStatus, 'planned'>,
  detail: StatusDetail = {},
): Promise<Comment | undefined> {
  const own = await ownPlanComments(port, pr, key);
  const target = own.find((c) => c.header.planHash === planHash && c.header.status !== 'applied');
  if (!target) return undefined;
  const body = withStatus(target.comment.body, status, detail);
  if (body === undefined || body === target.comment.body) return target.comment;
  return port.updateComment(target.comment.id, body);
}

/**
 * The pull request a pushed commit came from, for apply on `push` to the
 * default branch: the one whose merge commit it is, else the only merged one,
 * else the only open one with it as head. Undefined when it is ambiguous or
 * there is none (a direct push).
 */
export async function findPullRequestForCommit(port: GitHubPort, sha: string): Promise<number | undefined> {
  const prs = await port.findPullRequestsForCommit(sha);
  const merged = prs.find((p) => p.mergeCommitSha === sha && p.mergedAt);
  if (merged) return merged.number;
  const allMerged = prs.filter((p) => p.mergedAt);
  if (allMerged.length === 1) return allMerged[0]!.number;
  const heads = prs.filter((p) => p.state === 'open' && p.headSha === sha);
  return heads.length === 1 ? heads[0]!.number : undefined;
}

export interface ReviewedPlanLookup {
  /** The pull request the reviewed plan was looked for on; undefined when none was found. */
  pr?: number;
  reviewed?: ReviewedPlan;
  /** For messages: "pull request #12", or why there is none. */
  where: string;
}

/**
 * For apply with `comment: true`: the pull request of this run (the event's,
 * else the one the pushed commit was merged from) and the plan reviewed on it.
 * Pass the result to `checkReviewedPlan` after re-planning.
 */
export async function reviewedPlanForRun(
  port: GitHubPort,
  run: { pullRequest?: number; sha: string },
  key: PlanCommentKey,
): Promise<ReviewedPlanLookup> {
  const pr = run.pullRequest ?? (run.sha ? await findPullRequestForCommit(port, run.sha) : undefined);
  if (pr === undefined) {
    return { where: `any pull request (commit ${run.sha.slice(0, 12) || 'unknown'} was not merged from one)` };
  }
  const reviewed = await findReviewedPlan(port, pr, key);
  return { pr, ...(reviewed ? { reviewed } : {}), where: `pull request #${pr}` };
}
