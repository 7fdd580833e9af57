/**
 * The GitHub side of a run (src/github/reviewed-run.ts) through the real
 * Octokit adapter against the local stand-in for the GitHub API: the plan
 * comment on pull requests and the reviewed-plan gate on apply. The command
 * itself is a recorded stand-in returning real Plan objects: what is tested
 * here is what happens around it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { planHashKeyFrom } from '../../../src/engine/plan.js';
const REVIEWED_RUN_KEY = planHashKeyFrom('reviewed-run-test-plan-hash-key-0123456789');
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import { createPlan, planHash, type Plan } from '../../../src/engine/plan.js';
import { Redactor } from '../../../src/engine/redact.js';
import { parsePlanHeader } from '../../../src/github/plan-comment.js';
import { runWithGitHub, type GitHubRunSettings } from '../../../src/github/reviewed-run.js';
import type { RunReport } from '../../../src/report/run-report.js';
import type { RunRequest } from '../../../src/request.js';
import { sampleChanges, sampleHosts } from '../engine/sample-plan.js';
import { FakeGitHub, GITHUB_BODY_LIMIT } from './fake-github-server.js';

const PR = 12;
const MERGE_SHA = 'a1b2c3d4'.repeat(5);
const gh = new FakeGitHub();
const dir = mkdtempSync(join(tmpdir(), 'lms-ha-reviewed-run-'));

beforeAll(() => gh.start());
afterAll(() => gh.stop());
beforeEach(() => {
  gh.requests.length = 0;
  gh.comments = [];
  gh.pulls = [];
});

function request(mode: 'plan' | 'apply', overrides: Partial<RunRequest> = {}): RunRequest {
  return {
    command: 'deploy-db',
    mode,
    inventoryPath: './ha.yml',
    environment: 'production',
    knownHosts: 'x',
    insecureSkipHostKeyCheck: false,
    parallelism: 20,
    breakLock: false,
    runId: '1.1',
    repository: 'acme/platform',
    env: {},
    options: {},
    planHashKey: REVIEWED_RUN_KEY,
    ...overrides,
  };
}

let eventCount = 0;
function env(eventName: string, payload: object, extra: Record<string, string> = {}): Record<string, string> {
  const path = join(dir, `event-${eventCount++}.json`);
  writeFileSync(path, JSON.stringify(payload));
  return {
    GITHUB_REPOSITORY: 'acme/platform',
    GITHUB_RUN_ID: '777',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.test',
    GITHUB_API_URL: gh.apiUrl,
    GITHUB_EVENT_NAME: eventName,
    GITHUB_EVENT_PATH: path,
    GITHUB_SHA: MERGE_SHA,
    GITHUB_ACTOR: 'alice',
    ...extra,
  };
}

const prEvent = (head = 'acme/platform', author = 'alice') => ({
  pull_request: { number: PR, head: { repo: { full_name: head } }, user: { login: author } },
});

function plan(changes = sampleChanges()): Plan {
  return createPlan({ command: 'deploy-db', environment: 'production', changes, hosts: sampleHosts() });
}

interface Harness {
  executed: RunRequest[];
  warnings: string[];
  notices: string[];
  run(req: RunRequest, runEnv: Record<string, string>, result: (req: RunRequest) => Omit<RunReport, 'command' | 'mode' | 'environment'>, settings?: Partial<GitHubRunSettings>): Promise<RunReport>;
}

function harness(): Harness {
  const h: Harness = {
    executed: [],
    warnings: [],
    notices: [],
    async run(req, runEnv, result, settings = {}) {
      return runWithGitHub(
        req,
        { token: 'ghs_fake_token_for_tests', comment: true, requireReviewedPlan: true, ...settings },
        {
          execute: async (r) => {
            h.executed.push(r);
            return { command: r.command, mode: r.mode, environment: r.environment, ...result(r) };
          },
          logger: {
            info: () => {},
            debug: () => {},
            warn: (m: string) => void h.warnings.push(m),
            group: (_t: string, fn: () => Promise<unknown>) => fn(),
          } as never,
          notice: (m) => void h.notices.push(m),
          redactor: new Redactor(),
          env: runEnv,
        },
      );
    },
  };
  return h;
}

const planned = (p: Plan) => () => ({ plan: p, planHash: planHash(p, { key: REVIEWED_RUN_KEY }) });

describe('plan on a pull request', () => {
  it('creates the sticky comment with the plan and its hash, per host collapsed, then updates it in place', async () => {
    const h = harness();
    const first = plan();
    const report = await h.run(request('plan'), env('pull_request', prEvent()), planned(first));
    expect(report.error).toBeUndefined();
    expect(gh.restCalls()).toEqual([
      `GET /repos/acme/platform/issues/${PR}/comments?per_page=100`,
      `POST /repos/acme/platform/issues/${PR}/comments`,
      `GET /repos/acme/platform/issues/${PR}/comments?per_page=100`,
    ]);
    expect(gh.comments).toHaveLength(1);
    const body = gh.comments[0]!.body;
    expect(parsePlanHeader(body)).toMatchObject({ environment: 'production', command: 'deploy-db', inventory: 'ha.yml', planHash: planHash(first, { key: REVIEWED_RUN_KEY }), status: 'planned' });
    expect(body).toContain('<details><summary><b>db1</b>:');
    expect(body).toContain('[planned in this run](https://github.test/acme/platform/actions/runs/777)');
    expect(report.sections?.at(-1)?.markdown).toMatch(/Plan comment created: https:\/\/github\.test\//);

    const second = plan(sampleChanges().slice(1));
    await h.run(request('plan'), env('pull_request', prEvent()), planned(second));
    expect(gh.comments).toHaveLength(1);
    expect(gh.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
    expect(parsePlanHeader(gh.comments[0]!.body)?.planHash).toBe(planHash(second, { key: REVIEWED_RUN_KEY }));
  });

  it('finds its comment beyond the first page (more than 100 comments) instead of posting a second one', async () => {
    const h = harness();
    await h.run(request('plan'), env('pull_request', prEvent()), planned(plan()));
    const ours = gh.comments[0]!;
    gh.comments = [];
    for (let i = 0; i < 130; i++) gh.comments.push({ ...ours, id: 10_000 + i, body: `chatter ${i}`, login: 'alice' });
    gh.comments.push(ours);
    gh.requests.length = 0;
    await h.run(request('plan'), env('pull_request', prEvent()), planned(plan(sampleChanges().slice(2))));
    expect(gh.restCalls()).toContain(`GET /repos/acme/platform/issues/${PR}/comments?per_page=100&page=2`);
    expect(gh.comments.filter((c) => parsePlanHeader(c.body))).toHaveLength(1);
    expect(gh.restCalls().filter((c) => c.startsWith('POST'))).toEqual([]);
  });

  it('turns the comment into "plan failed" without a hash when the plan fails', async () => {
    const h = harness();
    await h.run(request('plan'), env('pull_request', prEvent()), planned(plan()));
    const failed = await h.run(request('plan'), env('pull_request', prEvent()), () => ({
      error: new DeployError('ssh-failed', 'db2: connection refused', { host: 'db2', hint: 'check the address' }),
    }));
    expect(failed.error?.reason).toBe('ssh-failed');
    expect(gh.comments).toHaveLength(1);
    const header = parsePlanHeader(gh.comments[0]!.body)!;
    expect(header).toMatchObject({ status: 'plan-failed', planHash: '' });
    expect(gh.comments[0]!.body).toContain('lms-ha plan failed');
    expect(gh.comments[0]!.body).toContain('db2: connection refused');
  });

  it('cleans duplicates left by concurrent runs', async () => {
    const h = harness();
    await h.run(request('plan'), env('pull_request', prEvent()), planned(plan()));
    gh.comments.push({ ...gh.comments[0]!, id: 99_999, created_at: '2026-11-30T00:00:00Z' });
    await h.run(request('plan'), env('pull_request', prEvent()), planned(plan(sampleChanges().slice(3))));
    expect(gh.comments).toHaveLength(1);
    expect(gh.requests.some((r) => r.method === 'DELETE' && r.path.endsWith('/99999'))).toBe(true);
  });

  it.each([
    ['a fork', prEvent('mallory/platform'), {}],
    ['Dependabot', prEvent('acme/platform', 'dependabot[bot]'), { GITHUB_ACTOR: 'dependabot[bot]' }],
  ])('leaves a notice, not a failure, for a pull request from %s', async (_what, payload, extra) => {
    const h = harness();
    const report = await h.run(request('plan'), env('pull_request', payload, extra), planned(plan()));
    expect(report.error).toBeUndefined();
    expect(gh.requests).toHaveLength(0);
    expect(h.notices.join('\n')).toMatch(/plan comment skipped: .*read-only token/);
  });

  it('fails with the missing permissions entry named when GitHub answers 403', async () => {
    const h = harness();
    gh.failNext = { method: 'POST', pathStartsWith: `/repos/acme/platform/issues/${PR}/comments`, status: 403, message: 'Resource not accessible by integration' };
    const report = await h.run(request('plan'), env('pull_request', prEvent()), planned(plan()));
    expect(report.error?.message).toContain('403');
    expect(`${report.error?.message} ${report.error?.hint}`).toContain('pull-requests: write');
    expect(report.plan).toBeDefined();
  });

  it('keeps the comment under 65,536 characters and says it is shortened, pointing to the job summary', async () => {
    const h = harness();
    const big = 'x'.repeat(100) + '\n';
    const huge = createPlan({
      command: 'deploy-db',
      environment: 'production',
      hosts: sampleHosts(),
      changes: Array.from({ length: 3 }, (_, i) => ({
        kind: 'file' as const,
        id: `f${i}`,
        host: 'db1',
        summary: `write /etc/big${i}`,
        path: `/etc/big${i}`,
        before: null,
        after: { content: big.repeat(400 + i), mode: 0o644, owner: 'root', group: 'root' },
        sensitive: false,
        apply: async () => {},
      })),
    });
    await h.run(request('plan'), env('pull_request', prEvent()), planned(huge));
    const body = gh.comments[0]!.body;
    expect(body.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT);
    expect(parsePlanHeader(body)).toMatchObject({ truncated: true, planHash: planHash(huge, { key: REVIEWED_RUN_KEY }) });
    expect(body).toMatch(/shortened: full plan in the job summary/);
    expect(body).toContain('**Plan shortened:**');
  });

  it('does nothing on GitHub with comment: false', async () => {
    const h = harness();
    await h.run(request('plan'), env('pull_request', prEvent()), planned(plan()), { comment: false });
    expect(gh.requests).toHaveLength(0);
  });
});

describe('apply only what was reviewed', () => {
  const mergedPull = () => ({
    number: PR,
    state: 'closed',
    merged_at: '2026-11-02T10:00:00Z',
    merge_commit_sha: MERGE_SHA,
    head: { sha: 'f'.repeat(40) },
    base: { ref: 'main' },
    html_url: `https://github.test/acme/platform/pull/${PR}`,
  });

  async function review(p: Plan): Promise<void> {
    await harness().run(request('plan'), env('pull_request', prEvent()), planned(p));
    gh.pulls = [mergedPull()];
    gh.requests.length = 0;
  }

  it('applies with the reviewed hash after merge and marks the comment applied with the run link', async () => {
    const reviewed = plan();
    await review(reviewed);
    const h = harness();
    const report = await h.run(request('apply'), env('push', { after: MERGE_SHA }), (r) => ({
      plan: reviewed,
      planHash: r.expectedPlanHash,
      apply: { status: 'ok', changed: true, steps: [], durationMs: 1 },
    }));
    expect(h.executed.map((r) => r.expectedPlanHash)).toEqual([planHash(reviewed, { key: REVIEWED_RUN_KEY })]);
    expect(report.error).toBeUndefined();
    expect(gh.restCalls()[0]).toBe(`GET /repos/acme/platform/commits/${MERGE_SHA}/pulls?per_page=100`);
    const header = parsePlanHeader(gh.comments[0]!.body)!;
    expect(header.status).toBe('applied');
    expect(gh.comments[0]!.body).toContain('[See the run](https://github.test/acme/platform/actions/runs/777)');
  });

  it('refuses with plan-changed, shows the diff and marks the comment apply-failed when the fresh plan differs', async () => {
    const reviewed = plan();
    await review(reviewed);
    const fresh = plan(sampleChanges().slice(1));
    const h = harness();
    const report = await h.run(request('apply'), env('push', {}), () => ({
      plan: fresh,
      planHash: planHash(fresh, { key: REVIEWED_RUN_KEY }),
      error: new DeployError('plan-changed', 'The plan changed since it was reviewed. Nothing was applied.'),
    }));
    expect(report.error?.reason).toBe('plan-changed');
    const diff = report.sections?.find((s) => s.title === 'Reviewed plan → this plan')?.markdown ?? '';
    expect(diff).toContain('--- reviewed plan (pull request comment)');
    expect(diff).toMatch(/^-.*db1/m);
    expect(parsePlanHeader(gh.comments[0]!.body)?.status).toBe('apply-failed');
  });

  it.each([
    ['push with no pull request for the commit', 'push', [] as object[]],
    ['workflow_dispatch with no pull request', 'workflow_dispatch', [] as object[]],
  ])('refuses (plan-changed) before running anything: %s', async (_what, event, pulls) => {
    gh.pulls = pulls;
    const h = harness();
    const report = await h.run(request('apply'), env(event, {}), () => ({}));
    expect(h.executed).toHaveLength(0);
    expect(report.error?.reason).toBe('plan-changed');
    expect(report.error?.message).toMatch(/No reviewed plan/);
  });

  it('refuses when the pull request has no comment for this environment and command', async () => {
    gh.pulls = [mergedPull()];
    const h = harness();
    const report = await h.run(request('apply', { command: 'deploy-lb' }), env('push', {}), () => ({}));
    expect(h.executed).toHaveLength(0);
    expect(report.error?.reason).toBe('plan-changed');
  });

  it('refuses a plan that was already applied, and one whose last plan failed', async () => {
    const reviewed = plan();
    await review(reviewed);
    await harness().run(request('apply'), env('push', {}), (r) => ({ plan: reviewed, planHash: r.expectedPlanHash, apply: { status: 'ok', changed: true, steps: [], durationMs: 1 } }));
    const again = harness();
    const report = await again.run(request('apply'), env('push', {}), () => ({}));
    expect(again.executed).toHaveLength(0);
    expect(report.error?.message).toMatch(/already applied/);

    gh.comments = [];
    await harness().run(request('plan'), env('pull_request', prEvent()), () => ({ error: new DeployError('ssh-failed', 'db1 down') }));
    const afterFailure = harness();
    const refused = await afterFailure.run(request('apply'), env('push', {}), () => ({}));
    expect(afterFailure.executed).toHaveLength(0);
    expect(refused.error?.message).toMatch(/failed, so there is no reviewed plan/);
  });

  it('fails closed when the comment cannot be read (403), naming the permission', async () => {
    gh.pulls = [mergedPull()];
    gh.failNext = { method: 'GET', pathStartsWith: `/repos/acme/platform/issues/${PR}/comments`, status: 403, message: 'Resource not accessible by integration' };
    const h = harness();
    const report = await h.run(request('apply'), env('push', {}), () => ({}));
    expect(h.executed).toHaveLength(0);
    expect(report.error?.reason).toBe('plan-changed');
    expect(report.error?.message).toContain('pull-requests: read');
  });

  it('applies without review only with the explicit opt-out, warned and in the summary', async () => {
    const h = harness();
    const report = await h.run(request('apply'), env('workflow_dispatch', {}), () => ({ apply: { status: 'ok', changed: true, steps: [], durationMs: 1 } }), { requireReviewedPlan: false });
    expect(h.executed).toHaveLength(1);
    expect(h.executed[0]!.expectedPlanHash).toBeUndefined();
    expect(h.warnings.join('\n')).toMatch(/WITHOUT a reviewed plan/);
    expect(report.sections?.find((s) => s.title === 'Reviewed plan')?.markdown).toMatch(/\[!WARNING\][\s\S]*require-reviewed-plan is false/);
    expect(gh.requests).toHaveLength(0);
  });

  it('takes an explicit plan-hash as the reviewed one without looking anything up', async () => {
    const h = harness();
    await h.run(request('apply', { expectedPlanHash: 'b'.repeat(64) }), env('workflow_dispatch', {}), () => ({}));
    expect(h.executed[0]!.expectedPlanHash).toBe('b'.repeat(64));
    expect(gh.requests).toHaveLength(0);
  });

  it('does not gate commands without a reviewable plan, nor runs outside a workflow event', async () => {
    const h = harness();
    await h.run(request('apply', { command: 'verify-ha' }), env('schedule', {}), () => ({}));
    const noEvent = env('push', {});
    delete (noEvent as Record<string, string | undefined>)['GITHUB_EVENT_NAME'];
    await h.run(request('apply'), noEvent, () => ({}));
    expect(h.executed).toHaveLength(2);
    expect(gh.requests).toHaveLength(0);
  });
});
