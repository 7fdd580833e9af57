/**
 * The GitHubPort backed by @actions/github (Octokit REST + GraphQL). This is
 * the only file in lms-ha that imports @actions/github.
 *
 * The API base URL is read from GITHUB_API_URL when the port is created, not
 * when @actions/github is loaded, and passed explicitly: on GitHub Enterprise
 * Server it is `https://HOST/api/v3` (Octokit derives `/api/graphql` from it),
 * and tests point it at a local server.
 */
import { getOctokit } from '@actions/github';
import type { Comment, GitHubPort, Issue, IssueUpdate, MinimizeReason, NewIssue, PullRequestRef } from './port.js';
import { GitHubApiError } from './port.js';

export const DEFAULT_API_URL = 'https://api.github.com';

export interface OctokitPortOptions {
  token: string;
  /** `owner/name`, as in GITHUB_REPOSITORY. */
  repository: string;
  /** REST base URL. Default: GITHUB_API_URL, else https://api.github.com. */
  apiUrl?: string;
}

type Octokit = ReturnType<typeof getOctokit>;

interface RestUser {
  login: string;
}
interface RestComment {
  id: number;
  node_id: string;
  body?: string | null;
  user: RestUser | null;
  created_at: string;
  html_url: string;
}
interface RestIssue {
  number: number;
  title: string;
  body?: string | null;
  state: string;
  labels: (string | { name?: string | null })[];
  user: RestUser | null;
  created_at: string;
  html_url: string;
  pull_request?: unknown;
}
interface RestPull {
  number: number;
  state: string;
  merged_at: string | null;
  merge_commit_sha: string | null;
  head: { sha: string };
  base: { ref: string };
  html_url: string;
}

function toComment(c: RestComment): Comment {
  return {
    id: c.id,
    nodeId: c.node_id,
    body: c.body ?? '',
    author: c.user?.login ?? '',
    createdAt: c.created_at,
    url: c.html_url,
  };
}

function toIssue(i: RestIssue): Issue {
  return {
    number: i.number,
    title: i.title,
    body: i.body ?? '',
    state: i.state === 'closed' ? 'closed' : 'open',
    labels: i.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? ''))).filter((l) => l !== ''),
    author: i.user?.login ?? '',
    createdAt: i.created_at,
    url: i.html_url,
  };
}

function toPull(p: RestPull): PullRequestRef {
  return {
    number: p.number,
    state: p.state === 'closed' ? 'closed' : 'open',
    ...(p.merged_at ? { mergedAt: p.merged_at } : {}),
    ...(p.merge_commit_sha ? { mergeCommitSha: p.merge_commit_sha } : {}),
    headSha: p.head.sha,
    baseRef: p.base.ref,
    url: p.html_url,
  };
}

function splitRepository(repository: string): { owner: string; repo: string } {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(repository);
  if (!m) throw new Error(`repository must be "owner/name", got ${JSON.stringify(repository)}`);
  return { owner: m[1]!, repo: m[2]! };
}

/** Runs one API call, turning Octokit's errors into a GitHubApiError with a hint. */
async function call<T>(operation: string, permission: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 0;
    const message = error instanceof Error ? error.message : String(error);
    throw new GitHubApiError(operation, status, message, { permission, cause: error });
  }
}

export function createOctokitPort(options: OctokitPortOptions): GitHubPort {
  const { owner, repo } = splitRepository(options.repository);
  const baseUrl = (options.apiUrl ?? process.env['GITHUB_API_URL'] ?? DEFAULT_API_URL).replace(/\/+$/, '');
  const octokit: Octokit = getOctokit(options.token, { baseUrl });
  let viewer: Promise<string> | undefined;

  return {
    viewerLogin() {
      viewer ??= call('read the token identity', undefined, async () => {
        const data = await octokit.graphql<{ viewer: { login: string } }>('query { viewer { login } }');
        return data.viewer.login;
      });
      return viewer;
    },

    listIssueComments(issueNumber) {
      return call('list comments', 'pull-requests: read', async () => {
        const comments = await octokit.paginate(octokit.rest.issues.listComments, {
          owner,
          repo,
          issue_number: issueNumber,
          per_page: 100,
        });
        return (comments as RestComment[]).map(toComment);
      });
    },

    createComment(issueNumber, body) {
      return call('create comment', 'pull-requests: write', async () => {
        const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
        return toComment(data as RestComment);
      });
    },

    updateComment(commentId, body) {
      return call('update comment', 'pull-requests: write', async () => {
        const { data } = await octokit.rest.issues.updateComment({ owner, repo, comment_id: commentId, body });
        return toComment(data as RestComment);
      });
    },

    deleteComment(commentId) {
      return call('delete comment', 'pull-requests: write', async () => {
        await octokit.rest.issues.deleteComment({ owner, repo, comment_id: commentId });
      });
    },

    minimizeComment(nodeId: string, reason: MinimizeReason) {
      return call('minimize comment', 'pull-requests: write', async () => {
        await octokit.graphql(
          'mutation($input: MinimizeCommentInput!) { minimizeComment(input: $input) { clientMutationId } }',
          { input: { subjectId: nodeId, classifier: reason } },
        );
      });
    },

    listOpenIssuesWithLabel(label) {
      return call('list issues', 'issues: read', async () => {
        const issues = await octokit.paginate(octokit.rest.issues.listForRepo, {
          owner,
          repo,
          state: 'open',
          labels: label,
          sort: 'created',
          direction: 'asc',
          per_page: 100,
        });
        return (issues as RestIssue[]).filter((i) => !i.pull_request).map(toIssue);
      });
    },

    createIssue(issue: NewIssue) {
      return call('create issue', 'issues: write', async () => {
        const { data } = await octokit.rest.issues.create({ owner, repo, ...issue });
        return toIssue(data as RestIssue);
      });
    },

    updateIssue(issueNumber, update: IssueUpdate) {
      return call('update issue', 'issues: write', async () => {
        const { data } = await octokit.rest.issues.update({ owner, repo, issue_number: issueNumber, ...update });
        return toIssue(data as RestIssue);
      });
    },

    closeIssue(issueNumber, reason) {
      return call('close issue', 'issues: write', async () => {
        const { data } = await octokit.rest.issues.update({
          owner,
          repo,
          issue_number: issueNumber,
          state: 'closed',
          state_reason: reason,
        });
        return toIssue(data as RestIssue);
      });
    },

    findPullRequestsForCommit(sha) {
      return call('find pull requests for commit', 'pull-requests: read', async () => {
        const { data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
          owner,
          repo,
          commit_sha: sha,
          per_page: 100,
        });
        return (data as RestPull[]).map(toPull);
      });
    },
  };
}
