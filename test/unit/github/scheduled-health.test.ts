/**
 * Scheduled mode as main.ts wires it: a finished verify-ha report, the
 * `issue`/`github-token` inputs and the run's GITHUB_* variables in, the
 * health issue kept in step through the real Octokit port against a local
 * stand-in for the GitHub API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../../src/check.js';
import { Redactor } from '../../../src/engine/redact.js';
import { DeployError } from '../../../src/errors.js';
import { reportScheduledHealth } from '../../../src/github/scheduled-health.js';
import { MemoryLogger } from '../../support/memory-logger.js';
import type { RunReport } from '../../../src/report/run-report.js';
import { FakeGitHub } from './fake-github-server.js';

const TOKEN = 'ghs_fake_token_for_scheduled_tests';
const gh = new FakeGitHub();
let env: Record<string, string>;

beforeAll(async () => {
  await gh.start();
  env = { GITHUB_REPOSITORY: 'acme/platform', GITHUB_RUN_ID: '77', GITHUB_RUN_ATTEMPT: '1', GITHUB_API_URL: gh.apiUrl, GITHUB_SERVER_URL: 'https://github.test' };
});
afterAll(() => gh.stop());

const secret = 'canary-password-123';
const bad: CheckResult = { layer: 'galera', host: 'db2', check: 'wsrep_local_state', expected: '4 Synced', observed: `2 Donor (${secret})`, status: 'fail', hint: 'wait' };
const good: CheckResult = { ...bad, observed: '4 Synced', status: 'ok' };

function report(checks: CheckResult[], error?: DeployError): RunReport {
  return { command: 'verify-ha', mode: 'plan', environment: 'production', checks, ...(error ? { error } : {}) };
}

function deps() {
  const logger = new MemoryLogger();
  return { logger, redactor: new Redactor().add(secret), env, now: () => new Date('2026-11-23T03:00:00Z') };
}

describe('reportScheduledHealth', () => {
  it('opens the issue on failure, updates it on the next failure, closes it on a pass', async () => {
    const failed = report([bad], new DeployError('verify-failed', 'verify-ha: 1 check failed'));
    const first = await reportScheduledHealth(failed, { token: TOKEN, issue: true }, deps());
    expect(first?.action).toBe('created');
    const second = await reportScheduledHealth(failed, { token: TOKEN, issue: true }, deps());
    expect(second).toMatchObject({ action: 'updated', issue: { number: first!.issue!.number } });
    const third = await reportScheduledHealth(report([good]), { token: TOKEN, issue: true }, deps());
    expect(third).toMatchObject({ action: 'closed', issue: { number: first!.issue!.number } });

    const writes = gh.restCalls().filter((c) => !c.startsWith('GET'));
    expect(writes).toEqual([
      'POST /repos/acme/platform/issues',
      'POST /repos/acme/platform/issues/1/comments',
      'PATCH /repos/acme/platform/issues/1',
      'POST /repos/acme/platform/issues/1/comments',
      'PATCH /repos/acme/platform/issues/1',
    ]);
    const created = gh.requests.find((r) => r.method === 'POST' && r.path.endsWith('/issues'))!;
    expect(created.body?.['body']).toContain('<!-- lms-ha-health: {"environment":"production"} -->');
    expect(created.body?.['body']).toContain('wsrep_local_state');
    expect(created.body?.['body']).toContain('actions/runs/77');
    expect(created.authorization).toContain(TOKEN);
    // The report is redacted before it leaves.
    expect(JSON.stringify(gh.requests.map((r) => r.body))).not.toContain(secret);
    expect(gh.issues[0]!.state).toBe('closed');
  });

  it('says why a run that never reached the checks failed', async () => {
    const d = deps();
    await reportScheduledHealth(report([], new DeployError('ssh-failed', 'db1: connection refused', { host: 'db1', hint: 'Check sshd on db1.' })), { token: TOKEN, issue: true }, d);
    const body = gh.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/issues')).at(-1)!.body?.['body'] as string;
    expect(body).toContain('The run stopped before verifying (on db1): db1: connection refused');
    expect(body).toContain('`ssh-failed`');
  });

  it('does nothing for other commands, with issue off, or without a token (warned)', async () => {
    const before = gh.requests.length;
    expect(await reportScheduledHealth({ ...report([bad]), command: 'deploy-db' }, { token: TOKEN, issue: true }, deps())).toBeUndefined();
    expect(await reportScheduledHealth(report([bad]), { token: TOKEN, issue: false }, deps())).toBeUndefined();
    const d = deps();
    expect(await reportScheduledHealth(report([bad]), { token: '', issue: true }, d)).toBeUndefined();
    expect(d.logger.lines.join('\n')).toContain('github-token is empty');
    expect(gh.requests.length).toBe(before);
  });

  it('an API failure is a warning with the hint, not an exception', async () => {
    gh.failNext = { method: 'GET', pathStartsWith: '/repos/acme/platform/issues', status: 403, message: 'Resource not accessible by integration' };
    const d = deps();
    expect(await reportScheduledHealth(report([bad], new DeployError('verify-failed', 'x')), { token: TOKEN, issue: true }, d)).toBeUndefined();
    const log = d.logger.lines.join('\n');
    expect(log).toContain('the health issue was not updated');
    expect(log).toContain('issues: read');
  });
});
