/**
 * The nightly workflow's fallback job (lms-ha-verify.yml,
 * `health-issue-early-failure`): when the verify job fails before lms-ha runs
 * (a missing secret, a failed checkout), this job opens or comments the
 * environment's health issue. Its script is run here as the runner runs a
 * `shell: bash` step (bash -eo pipefail, the step's env with its expressions
 * evaluated, GITHUB_API_URL) against the local stand-in for the GitHub API,
 * and the issue it opens is then found, updated and closed by lms-ha's own
 * scheduled mode, as the next nightly runs would. Its `if:` is evaluated by
 * GitHub's expression library for the outcomes of the verify job.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data, Evaluator, Lexer, Parser } from '@actions/expressions';
import { truthy } from '@actions/expressions/result';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { CheckResult } from '../../../src/check.js';
import { Redactor } from '../../../src/engine/redact.js';
import { DeployError } from '../../../src/errors.js';
import { buildHealthMarker, healthIssuesFor, HEALTH_LABEL } from '../../../src/github/health-issue.js';
import { createOctokitPort } from '../../../src/github/octokit-port.js';
import { reportScheduledHealth } from '../../../src/github/scheduled-health.js';
import type { RunReport } from '../../../src/report/run-report.js';
import { MemoryLogger } from '../../support/memory-logger.js';
import { FakeGitHub } from './fake-github-server.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- workflow YAML is read field by field
type Yaml = Record<string, any>;
const workflow = parse(readFileSync(join(ROOT, '.github', 'workflows', 'lms-ha-verify.yml'), 'utf8')) as Yaml;
const job = workflow['jobs']['health-issue-early-failure'] as Yaml;
const [step] = job['steps'] as Yaml[];

const TOKEN = 'ghs_fake_token_for_early_failure';
const RUN_ID = '4242';
/** Two issues a page, so three open labelled issues take the script past its first page. */
const gh = new FakeGitHub({ pageSize: 2 });
const dir = mkdtempSync(join(tmpdir(), 'lms-ha-early-failure-'));

interface Outcome {
  result: 'success' | 'failure';
  failureReason: string;
  updateIssue: boolean;
}

function contexts(o: Outcome, environment = 'production'): Record<string, unknown> {
  return {
    github: { token: TOKEN, repository: 'acme/platform', server_url: 'https://github.test', run_id: RUN_ID },
    inputs: { environment, 'update-issue': o.updateIssue },
    needs: { verify: { result: o.result, outputs: { 'failure-reason': o.failureReason, result: '' } } },
  };
}

/** One expression as the runner evaluates it, with the job status functions of a job that `needs` the verify job. */
function evaluate(expression: string, o: Outcome, environment?: string): data.ExpressionData {
  const status = (value: boolean) => ({ minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(value) });
  const functions = new Map([
    ['failure', { name: 'failure', ...status(o.result === 'failure') }],
    ['success', { name: 'success', ...status(o.result === 'success') }],
    ['always', { name: 'always', ...status(true) }],
    ['cancelled', { name: 'cancelled', ...status(false) }],
  ]);
  const ctx = contexts(o, environment);
  const lexed = new Lexer(expression).lex();
  const ast = new Parser(lexed.tokens, Object.keys(ctx), [...functions.values()]).parse();
  const dictionary = JSON.parse(JSON.stringify(ctx), data.reviver) as data.Dictionary;
  return new Evaluator(ast, dictionary, functions).evaluate();
}

/** A value with `${{ }}` parts, as the runner renders it into the step's environment. */
function render(template: string, o: Outcome, environment?: string): string {
  return template.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expression: string) => evaluate(expression.trim(), o, environment).coerceString());
}

const earlyFailure: Outcome = { result: 'failure', failureReason: '', updateIssue: true };

/** The step's script, run as a `shell: bash` step: bash --noprofile --norc -eo pipefail FILE. */
function runStep(environment = 'production'): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = join(dir, 'step.sh');
  writeFileSync(script, step!['run'] as string);
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', GITHUB_API_URL: gh.apiUrl };
  for (const [name, value] of Object.entries(step!['env'] as Record<string, string>)) env[name] = render(value, earlyFailure, environment);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** lms-ha's scheduled mode after a nightly verify-ha, as main.ts calls it. */
function lmsHaNightly(passed: boolean) {
  const check: CheckResult = { layer: 'galera', host: 'db2', check: 'wsrep_local_state', expected: '4 Synced', observed: passed ? '4 Synced' : '2 Donor', status: passed ? 'ok' : 'fail' };
  const report: RunReport = {
    command: 'verify-ha',
    mode: 'plan',
    environment: 'production',
    checks: [check],
    ...(passed ? {} : { error: new DeployError('verify-failed', 'verify-ha: 1 check failed') }),
  };
  const env = { GITHUB_REPOSITORY: 'acme/platform', GITHUB_RUN_ID: '4243', GITHUB_RUN_ATTEMPT: '1', GITHUB_API_URL: gh.apiUrl, GITHUB_SERVER_URL: 'https://github.test' };
  return reportScheduledHealth(report, { token: TOKEN, issue: true }, { logger: new MemoryLogger(), redactor: new Redactor(), env });
}

const seed = (number: number, title: string, body: string, labels = [HEALTH_LABEL]) => ({
  number,
  title,
  body,
  state: 'open' as const,
  state_reason: null,
  labels,
  created_at: `2026-10-0${number}T03:17:00Z`,
});

beforeAll(() => gh.start());
afterAll(() => gh.stop());
beforeEach(() => {
  gh.requests.length = 0;
  gh.comments = [];
  // Labelled issues that are not production's health issue: a human one, staging's, and an unlabelled look-alike.
  gh.issues = [
    seed(1, 'Galera sizing question', 'Should we grow to 5 nodes?'),
    seed(2, 'verify-ha failing: staging', `${buildHealthMarker('staging')}\nstaging is down`),
    seed(3, 'copy of the marker', `${buildHealthMarker('production')}\nnot labelled`, []),
  ];
});

describe('health issue when the nightly job fails before lms-ha runs', () => {
  it('runs only when the verify job failed without a failure-reason (lms-ha never reported) and update-issue is on', () => {
    expect(job['needs']).toBe('verify');
    const decide = (o: Outcome) => truthy(evaluate(job['if'] as string, o));
    expect(decide(earlyFailure)).toBe(true);
    // lms-ha ran and kept the issue itself.
    expect(decide({ ...earlyFailure, failureReason: 'verify-failed' })).toBe(false);
    expect(decide({ ...earlyFailure, failureReason: 'invalid-input' })).toBe(false);
    expect(decide({ ...earlyFailure, result: 'success' })).toBe(false);
    expect(decide({ ...earlyFailure, updateIssue: false })).toBe(false);
    // The output it tests is the action step's own.
    expect(workflow['jobs']['verify']['outputs']['failure-reason']).toBe('${{ steps.verify.outputs.failure-reason }}');
    expect(job['permissions']).toEqual({ issues: 'write' });
    expect(step!['shell']).toBe('bash');
  });

  it('opens the environment\'s health issue, then comments on it; lms-ha\'s next runs find it, update it and close it', async () => {
    const first = await runStep();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^::error title=lms-ha: verify-ha did not run::opened health issue #4 for production$/m);
    expect(first.stdout).not.toContain('::warning');
    const opened = gh.issues.find((i) => i.number === 4)!;
    expect(opened).toMatchObject({ title: 'verify-ha failing: production', labels: [HEALTH_LABEL], state: 'open' });
    expect(opened.body.split('\n')[0]).toBe(buildHealthMarker('production'));
    expect(opened.body).toContain(`https://github.test/acme/platform/actions/runs/${RUN_ID}`);
    expect(gh.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);

    // What lms-ha looks for is exactly this issue.
    const port = createOctokitPort({ token: TOKEN, repository: 'acme/platform', apiUrl: gh.apiUrl });
    expect(healthIssuesFor(await port.listOpenIssuesWithLabel(HEALTH_LABEL), 'production').map((i) => i.number)).toEqual([4]);

    gh.requests.length = 0;
    const second = await runStep();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/commented on health issue #4$/m);
    // The issue sat on the second page: the script followed the Link header.
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /repos/acme/platform/issues?state=open&labels=lms-ha-health&per_page=100',
      'GET /repos/acme/platform/issues?state=open&labels=lms-ha-health&per_page=100&page=2',
      'POST /repos/acme/platform/issues/4/comments',
    ]);
    expect(gh.issues).toHaveLength(4);
    expect(gh.comments.map((c) => c.issue)).toEqual([4]);
    expect(gh.comments[0]!.body).toMatch(/^verify-ha did not run: the job failed before lms-ha started/);

    // The next nights: lms-ha runs, fails on a check (same issue), then passes (closed).
    expect(await lmsHaNightly(false)).toMatchObject({ action: 'updated', issue: { number: 4 } });
    expect(await lmsHaNightly(true)).toMatchObject({ action: 'closed', issue: { number: 4 } });
    expect(gh.issues.find((i) => i.number === 4)!.state).toBe('closed');
    // Nobody else's issue was touched.
    expect(gh.issues.filter((i) => i.number < 4).map((i) => [i.state, i.body])).toEqual([
      ['open', 'Should we grow to 5 nodes?'],
      ['open', `${buildHealthMarker('staging')}\nstaging is down`],
      ['open', `${buildHealthMarker('production')}\nnot labelled`],
    ]);
  });

  it('comments on the issue lms-ha itself opened, and keys the marker by environment', async () => {
    const opened = await lmsHaNightly(false);
    expect(opened?.action).toBe('created');
    const run = await runStep();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`commented on health issue #${opened!.issue!.number}$`, 'm'));
    // staging already has one (issue 2): commented, not a second issue.
    const staging = await runStep('staging');
    expect(staging.stdout).toMatch(/commented on health issue #2$/m);
    expect(gh.issues.filter((i) => i.state === 'open' && i.labels.includes(HEALTH_LABEL))).toHaveLength(3);
  });

  it('fails the step when GitHub refuses (the run shows the error rather than a silent pass)', async () => {
    gh.failNext = { method: 'GET', pathStartsWith: '/repos/acme/platform/issues', status: 403, message: 'Resource not accessible by integration' };
    const run = await runStep();
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/403/);
  });
});
