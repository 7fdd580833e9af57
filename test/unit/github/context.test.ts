import { describe, expect, it } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import { runContextFrom, workflowSecrets } from '../../../src/github/context.js';
import { renderPlanComment, reviewedPlanForRun } from '../../../src/github/plan-comment.js';
import { FakePort } from './fake-port.js';

const base = {
  GITHUB_REPOSITORY: 'acme/platform',
  GITHUB_RUN_ID: '1234',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_SHA: 'abc123',
  GITHUB_EVENT_PATH: '/event.json',
};

describe('runContextFrom', () => {
  it('is undefined outside Actions (the CLI)', () => {
    expect(runContextFrom({})).toBeUndefined();
  });

  it('reads the pull request of a pull_request event', () => {
    const ctx = runContextFrom({ ...base, GITHUB_EVENT_NAME: 'pull_request' }, () =>
      JSON.stringify({ pull_request: { number: 12 } }),
    );
    expect(ctx).toEqual({
      repository: 'acme/platform',
      serverUrl: 'https://github.com',
      apiUrl: 'https://api.github.com',
      runId: '1234',
      runAttempt: 1,
      eventName: 'pull_request',
      sha: 'abc123',
      pullRequest: 12,
      runUrl: 'https://github.com/acme/platform/actions/runs/1234',
    });
  });

  it('reads a PR comment event, and none for push or an unreadable payload', () => {
    const comment = runContextFrom({ ...base, GITHUB_EVENT_NAME: 'issue_comment' }, () =>
      JSON.stringify({ issue: { number: 5, pull_request: { url: 'x' } } }),
    );
    expect(comment?.pullRequest).toBe(5);
    const issue = runContextFrom({ ...base, GITHUB_EVENT_NAME: 'issue_comment' }, () => JSON.stringify({ issue: { number: 5 } }));
    expect(issue?.pullRequest).toBeUndefined();
    const push = runContextFrom({ ...base, GITHUB_EVENT_NAME: 'push' }, () => JSON.stringify({ pull_request: { number: 1 } }));
    expect(push?.pullRequest).toBeUndefined();
    const broken = runContextFrom({ ...base, GITHUB_EVENT_NAME: 'pull_request' }, () => {
      throw new Error('ENOENT');
    });
    expect(broken?.pullRequest).toBeUndefined();
  });

  it('links re-runs to their attempt and keeps a GHES API URL', () => {
    const ctx = runContextFrom(
      { ...base, GITHUB_RUN_ATTEMPT: '3', GITHUB_SERVER_URL: 'https://ghe.example', GITHUB_API_URL: 'https://ghe.example/api/v3' },
      () => '{}',
    );
    expect(ctx?.runUrl).toBe('https://ghe.example/acme/platform/actions/runs/1234/attempts/3');
    expect(ctx?.apiUrl).toBe('https://ghe.example/api/v3');
  });
});

describe('workflowSecrets', () => {
  it('reads toJSON(secrets) and keeps string values only', () => {
    const env = { LMS_HA_SECRETS: JSON.stringify({ MOODLE_DB_PASSWORD: 'p"w\n2', github_token: 'ghs_x', n: 1 }) };
    expect(workflowSecrets(env)).toEqual({ MOODLE_DB_PASSWORD: 'p"w\n2', github_token: 'ghs_x' });
    expect(workflowSecrets({})).toEqual({});
    expect(workflowSecrets({ LMS_HA_SECRETS: '  ' })).toEqual({});
  });

  it('lets an explicit environment variable win when merged as documented', () => {
    const env = { LMS_HA_SECRETS: '{"A":"from-json","B":"json"}', A: 'explicit' };
    expect({ ...workflowSecrets(env), ...env }).toMatchObject({ A: 'explicit', B: 'json' });
  });

  it('refuses malformed JSON without quoting it', () => {
    for (const raw of ['{"A": "s3cr3t"', '["s3cr3t"]', '"s3cr3t"', 'null']) {
      let error: unknown;
      try {
        workflowSecrets({ LMS_HA_SECRETS: raw });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DeployError);
      expect((error as DeployError).reason).toBe('invalid-input');
      expect((error as DeployError).message).not.toContain('s3cr3t');
    }
  });
});

describe('reviewedPlanForRun', () => {
  const key = { environment: 'production', command: 'deploy-db', inventory: 'ha.yml' };

  it('uses the event pull request, else the one the commit was merged from', async () => {
    const port = new FakePort();
    port.seedComment(12, renderPlanComment({ key, planHash: 'h1', planMarkdown: 'x' }));
    port.pulls = [
      { number: 12, state: 'closed', mergedAt: '2026-11-01T00:00:00Z', mergeCommitSha: 'm1', headSha: 'h', baseRef: 'main', url: 'u' },
    ];
    expect(await reviewedPlanForRun(port, { pullRequest: 12, sha: 'zz' }, key)).toMatchObject({
      pr: 12,
      reviewed: { planHash: 'h1', status: 'planned' },
      where: 'pull request #12',
    });
    expect(await reviewedPlanForRun(port, { sha: 'm1' }, key)).toMatchObject({ pr: 12, reviewed: { planHash: 'h1' } });
    const none = await reviewedPlanForRun(port, { sha: '0123456789abcdef0123' }, key);
    expect(none).toEqual({ where: 'any pull request (commit 0123456789ab was not merged from one)' });
  });
});
