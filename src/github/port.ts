/**
 * The GitHub port: the few API calls lms-ha makes, as plain data. The sticky
 * plan comment and the health issue are written against this interface so they
 * are tested with an in-memory fake; `octokit-port.ts` is the one real adapter
 * (and the only file that imports @actions/github).
 *
 * Pull requests are issues as far as comments go: every method that takes an
 * `issueNumber` accepts a pull request number too.
 */

export interface Comment {
  id: number;
  /** GraphQL node id, needed to minimize a comment. */
  nodeId: string;
  body: string;
  /** Login of the author as REST reports it (bots end in `[bot]`). */
  author: string;
  /** ISO 8601. */
  createdAt: string;
  url: string;
}

export interface Issue {
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  labels: string[];
  /** Login of whoever opened it. */
  author: string;
  createdAt: string;
  url: string;
}

export interface PullRequestRef {
  number: number;
  state: 'open' | 'closed';
  /** Set when the pull request was merged. */
  mergedAt?: string;
  mergeCommitSha?: string;
  headSha: string;
  baseRef: string;
  url: string;
}

export interface NewIssue {
  title: string;
  body: string;
  labels: string[];
}

export interface IssueUpdate {
  title?: string;
  body?: string;
}

export type MinimizeReason = 'OUTDATED' | 'DUPLICATE' | 'RESOLVED';

export interface GitHubPort {
  /** Who the token acts as, e.g. `github-actions[bot]`. Used to ignore look-alike comments by others. */
  viewerLogin(): Promise<string>;

  /** Every comment on an issue or pull request, oldest first (all pages). */
  listIssueComments(issueNumber: number): Promise<Comment[]>;
  createComment(issueNumber: number, body: string): Promise<Comment>;
  updateComment(commentId: number, body: string): Promise<Comment>;
  deleteComment(commentId: number): Promise<void>;
  /** Optional: hides a comment (GraphQL). Adapters without GraphQL leave it out. */
  minimizeComment?(nodeId: string, reason: MinimizeReason): Promise<void>;

  /** Open issues (never pull requests) carrying `label`, oldest first (all pages). */
  listOpenIssuesWithLabel(label: string): Promise<Issue[]>;
  createIssue(issue: NewIssue): Promise<Issue>;
  updateIssue(issueNumber: number, update: IssueUpdate): Promise<Issue>;
  closeIssue(issueNumber: number, reason: 'completed' | 'not_planned'): Promise<Issue>;

  /** Pull requests associated with a commit (for a merge commit: the merged one). */
  findPullRequestsForCommit(sha: string): Promise<PullRequestRef[]>;
}

/**
 * A GitHub API call that failed. `status` is the HTTP status (0 when the
 * request never got an answer). Callers decide whether it is fatal: a failed
 * health-issue update must not hide the verification result itself.
 */
export class GitHubApiError extends Error {
  readonly status: number;
  readonly operation: string;
  readonly hint: string;

  /**
   * @param operation what was being done, e.g. `create issue`
   * @param permission the `permissions:` entry the call needs, e.g. `issues: write`
   */
  constructor(
    operation: string,
    status: number,
    message: string,
    options: { permission?: string; cause?: unknown } = {},
  ) {
    super(`GitHub API: ${operation} failed (${status || 'no response'}): ${message}`, { cause: options.cause });
    this.name = 'GitHubApiError';
    this.status = status;
    this.operation = operation;
    this.hint = hintFor(status, options.permission);
  }
}

function hintFor(status: number, permission: string | undefined): string {
  switch (status) {
    case 401:
      return 'The github-token input is missing, expired or revoked.';
    case 403:
      return (
        (permission
          ? `The token lacks permission: give the job \`permissions: { ${permission} }\`. `
          : 'The token lacks permission for this call, or a rate limit was hit. ') +
        'Pull requests from forks and from Dependabot get a read-only token and no secrets; the lms-ha workflows skip them.'
      );
    case 404:
      return 'Not found: check the repository, the pull request or issue number, and that the token can see this repository.';
    case 410:
      return 'Issues are disabled for this repository: enable them, or set the `issue` input to false.';
    case 422:
      return 'GitHub rejected the content (for instance a body over 65,536 characters). This is a bug in lms-ha; please report it.';
    default:
      return status >= 500 || status === 0
        ? 'GitHub did not answer properly; re-run the job (https://www.githubstatus.com lists outages).'
        : 'See the message from GitHub above.';
  }
}

/** Logins compare equal with and without the `[bot]` suffix (GraphQL omits it, REST adds it). */
export function sameLogin(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/\[bot\]$/, '');
  return norm(a) === norm(b);
}
