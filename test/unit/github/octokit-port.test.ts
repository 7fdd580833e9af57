/**
 * The real adapter (@actions/github) against a local HTTP server standing in
 * for the GitHub API, found through GITHUB_API_URL as in a real run. The
 * GitHub API itself is never contacted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_LABEL, buildHealthMarker, reportHealth, type VerifyOutcome } from '../../../src/github/health-issue.js';
import { createOctokitPort } from '../../../src/github/octokit-port.js';
import {
  findPullRequestForCommit,
  markPlanComment,
  parsePlanHeader,
  reviewedPlanForRun,
  upsertPlanComment,
} from '../../../src/github/plan-comment.js';
import { GitHubApiError } from '../../../src/github/port.js';
import { FakeGitHub } from './fake-github-server.js';

const TOKEN = 'ghs_fake_token_for_tests';
const REPO = 'acme/platform';

let saved: string | undefined;
beforeAll(() => {
  saved = process.env['GITHUB_API_URL'];
});
afterAll(() => {
  if (saved === undefined) delete process.env['GITHUB_API_URL'];
  else process.env['GITHUB_API_URL'] = saved;
});

function failing(at: string, report: string): VerifyOutcome {
  return {
    environment: 'production',
    passed: false,
    failureReason: 'verify-failed',
    report,
    runUrl: `https://github.test/acme/platform/actions/runs/${at.slice(8, 10)}`,
    at,
  };
}

describe('health issue over the REST API (github.com layout)', () => {
  const gh = new FakeGitHub();
  beforeAll(async () => {
    await gh.start();
    process.env['GITHUB_API_URL'] = gh.apiUrl;
  });
  afterAll(() => gh.stop());

  it('is created, then updated with a comment, then closed, across three runs', async () => {
    const issuesList = `GET /repos/acme/platform/issues?state=open&labels=${HEALTH_LABEL}&sort=created&direction=asc&per_page=100`;

    // Run 1: failing, nothing open -> create.
    const run1 = await reportHealth(
      createOctokitPort({ token: TOKEN, repository: REPO }),
      failing('2026-11-02T03:17:00Z', '| galera | node2 | wsrep_local_state | 4 | 2 |\n'),
    );
    expect(run1).toMatchObject({ action: 'created', issue: { number: 1 } });
    expect(gh.restCalls()).toEqual([issuesList, 'POST /repos/acme/platform/issues']);
    const create = gh.requests.at(-1)!;
    expect(create.authorization).toBe(`token ${TOKEN}`);
    expect(create.body).toMatchObject({ title: 'verify-ha failing: production', labels: [HEALTH_LABEL] });
    expect(String(create.body?.['body']).split('\n')[0]).toBe(buildHealthMarker('production'));
    expect(String(create.body?.['body'])).toContain('| galera | node2 | wsrep_local_state | 4 | 2 |');

    // Run 2: still failing -> comment with the new table, refresh the body.
    gh.requests.length = 0;
    const run2 = await reportHealth(
      createOctokitPort({ token: TOKEN, repository: REPO }),
      failing('2026-11-03T03:17:00Z', '| vip | lb1, lb2 | holders | 1 | 2 |\n'),
    );
    expect(run2).toMatchObject({ action: 'updated', issue: { number: 1 } });
    expect(gh.restCalls()).toEqual([
      issuesList,
      'POST /repos/acme/platform/issues/1/comments',
      'PATCH /repos/acme/platform/issues/1',
    ]);
    const [, comment, patch] = gh.requests;
    expect(String(comment!.body?.['body'])).toMatch(/^❌ \*\*Still failing\*\* on `production`/);
    expect(String(comment!.body?.['body'])).toContain('| vip | lb1, lb2 | holders | 1 | 2 |');
    expect(Object.keys(patch!.body!)).toEqual(['body']);
    expect(String(patch!.body?.['body'])).toContain('| vip | lb1, lb2 | holders | 1 | 2 |');
    expect(String(patch!.body?.['body'])).toContain('Failing since 2026-11-01T03:18:00Z');
    expect(gh.issues[0]!.body.split('\n')[0]).toBe(buildHealthMarker('production'));

    // Run 3: passing -> comment and close as completed.
    gh.requests.length = 0;
    const run3 = await reportHealth(createOctokitPort({ token: TOKEN, repository: REPO }), {
      environment: 'production',
      passed: true,
      report: '',
      runUrl: 'https://github.test/acme/platform/actions/runs/04',
      at: '2026-11-04T03:17:00Z',
    });
    expect(run3).toMatchObject({ action: 'closed', issue: { number: 1 } });
    expect(gh.restCalls()).toEqual([
      issuesList,
      'POST /repos/acme/platform/issues/1/comments',
      'PATCH /repos/acme/platform/issues/1',
    ]);
    expect(String(gh.requests[1]!.body?.['body'])).toMatch(/^✅ \*\*Passing again\*\* on `production`/);
    expect(gh.requests[2]!.body).toEqual({ state: 'closed', state_reason: 'completed' });
    expect(gh.issues[0]).toMatchObject({ state: 'closed', state_reason: 'completed' });

    // Run 4: passing with nothing open -> one read, no writes.
    gh.requests.length = 0;
    const run4 = await reportHealth(createOctokitPort({ token: TOKEN, repository: REPO }), {
      environment: 'production',
      passed: true,
      report: '',
      at: '2026-11-05T03:17:00Z',
    });
    expect(run4.action).toBe('noop');
    expect(gh.restCalls()).toEqual([issuesList]);
  });

  it('turns a 403 into a GitHubApiError that names the missing permission', async () => {
    gh.failNext = {
      method: 'POST',
      pathStartsWith: '/repos/acme/platform/issues',
      status: 403,
      message: 'Resource not accessible by integration',
    };
    const error = await reportHealth(
      createOctokitPort({ token: TOKEN, repository: REPO }),
      failing('2026-11-06T03:17:00Z', 'x'),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubApiError);
    expect(error).toMatchObject({ status: 403, operation: 'create issue' });
    expect((error as GitHubApiError).message).toContain('Resource not accessible by integration');
    expect((error as GitHubApiError).hint).toContain('permissions: { issues: write }');
  });

  it('skips pull requests that the issues endpoint also returns', async () => {
    gh.issues.push({
      number: 99,
      title: 'a PR',
      body: buildHealthMarker('production'),
      state: 'open',
      state_reason: null,
      labels: [HEALTH_LABEL],
      created_at: '2026-10-01T00:00:00Z',
      pull_request: { url: 'x' },
    });
    const issues = await createOctokitPort({ token: TOKEN, repository: REPO }).listOpenIssuesWithLabel(HEALTH_LABEL);
    expect(issues.map((i) => i.number)).not.toContain(99);
  });
});

describe('plan comment over REST + GraphQL (GitHub Enterprise Server layout)', () => {
  // Two comments per page so listing has to follow the Link header.
  const gh = new FakeGitHub({ prefix: '/api/v3', pageSize: 2 });
  const key = { environment: 'production', command: 'deploy-db', inventory: 'ha.yml' };
  beforeAll(async () => {
    await gh.start();
    process.env['GITHUB_API_URL'] = gh.apiUrl;
  });
  afterAll(() => gh.stop());
  afterEach(() => {
    gh.requests.length = 0;
  });

  it('creates, updates in place past other comments, reads the hash back and marks it applied', async () => {
    const port = createOctokitPort({ token: TOKEN, repository: REPO });
    // Unrelated comments, so ours lands on a later page.
    for (const body of ['LGTM', 'nit: typo', 'ship it']) {
      gh.comments.push({ id: 10 + gh.comments.length, issue: 12, body, login: 'alice', created_at: '2026-10-31T00:00:00Z' });
    }

    const planned = await upsertPlanComment(port, 12, {
      key,
      planHash: '1'.repeat(64),
      planMarkdown: '| node1 | write galera.cnf |\n',
      changes: 1,
    });
    expect(planned.action).toBe('created');
    expect(gh.requests[0]).toMatchObject({ method: 'POST', path: 'graphql' });
    expect(gh.restCalls()).toEqual([
      'GET /repos/acme/platform/issues/12/comments?per_page=100',
      'GET /repos/acme/platform/issues/12/comments?per_page=100&page=2',
      'POST /repos/acme/platform/issues/12/comments',
      'GET /repos/acme/platform/issues/12/comments?per_page=100',
      'GET /repos/acme/platform/issues/12/comments?per_page=100&page=2',
    ]);

    gh.requests.length = 0;
    const updated = await upsertPlanComment(port, 12, {
      key,
      planHash: '2'.repeat(64),
      planMarkdown: '| node1 | write galera.cnf |\n| node2 | restart mariadb |\n',
      changes: 2,
    });
    expect(updated).toMatchObject({ action: 'updated', comment: { id: planned.comment.id } });
    expect(gh.restCalls().at(-1)).toBe(`PATCH /repos/acme/platform/issues/comments/${planned.comment.id}`);
    expect(gh.comments.filter((c) => c.login === 'github-actions[bot]')).toHaveLength(1);

    expect((await reviewedPlanForRun(port, { pullRequest: 12, sha: '' }, key)).reviewed).toMatchObject({ planHash: '2'.repeat(64), status: 'planned' });
    const marked = await markPlanComment(port, 12, key, '2'.repeat(64), 'applied', {
      runUrl: 'https://github.test/acme/platform/actions/runs/77',
    });
    expect(parsePlanHeader(marked!.body)?.status).toBe('applied');
    expect(parsePlanHeader(gh.comments.find((c) => c.id === planned.comment.id)!.body)?.status).toBe('applied');
    // The token identity is looked up once per port.
    expect(gh.requests.filter((r) => r.path === 'graphql')).toHaveLength(0);
  });

  it('finds the pull request of a merge commit', async () => {
    gh.pulls = [
      {
        number: 12,
        state: 'closed',
        merged_at: '2026-11-01T10:00:00Z',
        merge_commit_sha: 'abc123',
        head: { sha: 'def456' },
        base: { ref: 'main' },
        html_url: 'https://github.test/acme/platform/pull/12',
      },
    ];
    const port = createOctokitPort({ token: TOKEN, repository: REPO });
    expect(await findPullRequestForCommit(port, 'abc123')).toBe(12);
    expect(gh.restCalls()).toEqual(['GET /repos/acme/platform/commits/abc123/pulls?per_page=100']);
  });

  it('rejects a malformed repository before any request', () => {
    expect(() => createOctokitPort({ token: TOKEN, repository: 'just-a-name' })).toThrow(/owner\/name/);
  });
});
