import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlanHeader } from '../../src/github/plan-comment.js';
import { expectClusterFormed } from './galera.js';
import { LabGitHub, pullRequestPayload } from './github-api.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';
import { labExec, readLabState, REPO_ROOT, tempDir, type ActionRun, type LabState } from './lab.js';

// The GitHub front against real hosts (issue 10): the built action run as the
// runner runs it (INPUT_*, GITHUB_EVENT_PATH for pull_request, push and
// workflow_dispatch), with the stand-in for the GitHub API reachable on the
// runner namespace's loopback: the stand-in listens on a unix socket, and a
// forwarder started inside lab-runner listens on its 127.0.0.1 and relays
// to it, so the requests are recorded here. deploy-db on bare hosts: review,
// a host changed after review, re-review, apply, opt-out.

const DB_HOSTS = ['db1', 'db2', 'db3'];
const PR = 21;
const MERGE_SHA = randomBytes(20).toString('hex');
const CANARY = `canary-${randomBytes(6).toString('hex')}`;

const api = new LabGitHub();
const gh = api.gh;
let state: LabState;
let workspace: string;
let key: string;
let knownHosts: string;

async function action(event: string, payload: object, inputs: Record<string, string>): Promise<ActionRun> {
  const run = await api.run(
    state,
    workspace,
    { name: event, payload, sha: event === 'pull_request' ? 'e'.repeat(40) : MERGE_SHA },
    { command: 'deploy-db', inventory: 'ha.yml', environment: 'lab-db', 'ssh-private-key': key, 'known-hosts': knownHosts, parallelism: '10', ...inputs },
    { LAB_APP_DB_PASSWORD: CANARY },
  );
  expect(run.stdout).not.toContain(CANARY);
  return run;
}

const pullRequestEvent = pullRequestPayload(PR);
const planComments = () => gh.comments.filter((c) => c.issue === PR && parsePlanHeader(c.body));

function installed(host: string, pkg: string): boolean {
  const r = labExec(host, `dpkg-query -W -f='\${Status}' ${pkg} 2>/dev/null`, { allowFailure: true });
  return r.code === 0 && r.stdout.includes('ok installed');
}

/** What apply would have touched: MariaDB's packages, its Galera config, the host lock. */
function untouched(): void {
  for (const host of DB_HOSTS) {
    expect(installed(host, 'mariadb-server'), `${host}: mariadb-server`).toBe(false);
    expect(labExec(host, 'test -e /etc/mysql/mariadb.conf.d/60-galera.cnf', { allowFailure: true }).code, `${host}: galera config`).not.toBe(0);
    expect(labExec(host, 'ls /var/lock/lms-ha 2>/dev/null | wc -l').stdout.trim(), `${host}: lock files`).toBe('0');
  }
}

beforeAll(async () => {
  execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up'], { stdio: 'ignore', timeout: 600_000 });
  state = readLabState();
  workspace = tempDir('github');
  writeLabInventory(state, workspace, labDbEnvironment(state));
  key = readFileSync(state.sshKey, 'utf8');
  knownHosts = readFileSync(state.knownHosts, 'utf8');
  await api.start(state);
});

afterAll(() => api.stop());

describe('GitHub front against the lab (deploy-db, bare hosts)', () => {
  let reviewedHash = '';

  it('plan on the pull request: the sticky comment holds the plan and its hash', async () => {
    const run = await action('pull_request', pullRequestEvent, { mode: 'plan' });
    expect(run.code, run.stdout).toBe(0);
    reviewedHash = run.outputs['plan-hash']!;
    expect(reviewedHash).toMatch(/^[0-9a-f]{64}$/);
    expect(gh.requests.every((r) => r.authorization === 'token ghs_fake_token_for_e2e')).toBe(true);
    const [comment] = planComments();
    expect(parsePlanHeader(comment!.body)).toMatchObject({ environment: 'lab-db', command: 'deploy-db', inventory: 'ha.yml', planHash: reviewedHash, status: 'planned' });
    expect(comment!.body).toContain('<details><summary><b>db1</b>');
    expect(comment!.body).toContain('install mariadb-server');
    expect(comment!.body).not.toContain(CANARY);
    untouched();
  });

  it('a second push updates the same comment in place', async () => {
    const before = planComments()[0]!.id;
    const run = await action('pull_request', pullRequestEvent, { mode: 'plan' });
    expect(run.code).toBe(0);
    expect(planComments().map((c) => c.id)).toEqual([before]);
    expect(gh.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/issues/comments/${before}`)).length).toBeGreaterThanOrEqual(1);
  });

  it('apply of a commit with no reviewed plan is refused and touches nothing', async () => {
    gh.pulls = [];
    const run = await action('push', { after: MERGE_SHA }, { mode: 'apply' });
    expect(run.code).toBe(1);
    expect(run.outputs['failure-reason']).toBe('plan-changed');
    expect(run.stdout).toMatch(/No reviewed plan for the deploy-db plan for lab-db/);
    untouched();
  });

  it('a host changed between review and merge: plan-changed with the diff, and nothing touched on the hosts', async () => {
    api.merged(PR, MERGE_SHA);
    // Someone installs galera-4 on db1 by hand after the review: db1 no longer needs it.
    labExec('db1', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q galera-4 >/dev/null 2>&1');
    const run = await action('push', { after: MERGE_SHA }, { mode: 'apply' });
    expect(run.code).toBe(1);
    expect(run.outputs['failure-reason']).toBe('plan-changed');
    expect(run.outputs['plan-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(run.outputs['plan-hash']).not.toBe(reviewedHash);
    expect(run.summary).toContain('Reviewed plan → this plan');
    expect(run.summary).toMatch(/^-.*install galera-4/m);
    untouched();
    expect(parsePlanHeader(planComments()[0]!.body)?.status).toBe('apply-failed');
  });

  it('re-reviewed, then applied: converges, and the comment is marked applied with the run link', async () => {
    const plan = await action('pull_request', pullRequestEvent, { mode: 'plan' });
    expect(plan.code).toBe(0);
    expect(planComments()).toHaveLength(1);
    expect(parsePlanHeader(planComments()[0]!.body)).toMatchObject({ planHash: plan.outputs['plan-hash'], status: 'planned' });

    const apply = await action('push', { after: MERGE_SHA }, { mode: 'apply' });
    expect(apply.code, apply.stdout.slice(-3000)).toBe(0);
    expect(apply.outputs['changed']).toBe('true');
    expect(apply.outputs['plan-hash']).toBe(plan.outputs['plan-hash']);
    expectClusterFormed(DB_HOSTS, 3);
    const comment = planComments()[0]!;
    expect(parsePlanHeader(comment.body)?.status).toBe('applied');
    expect(comment.body).toMatch(/\[See the run\]\(https:\/\/github\.test\/acme\/platform\/actions\/runs\/\d+\)/);
  });

  it('the same merge applied again is refused: the reviewed plan was already applied', async () => {
    const run = await action('push', { after: MERGE_SHA }, { mode: 'apply' });
    expect(run.outputs['failure-reason']).toBe('plan-changed');
    expect(run.stdout).toMatch(/already applied/);
  });

  it('the explicit opt-out applies without a reviewed plan, with a warning annotation and a summary note', async () => {
    const run = await action('workflow_dispatch', {}, { mode: 'apply', 'require-reviewed-plan': 'false' });
    expect(run.code, run.stdout.slice(-2000)).toBe(0);
    expect(run.annotations.join('\n')).toMatch(/::warning::require-reviewed-plan is false: deploy-db on lab-db is applied WITHOUT a reviewed plan/);
    expect(run.summary).toMatch(/require-reviewed-plan is false/);
    expect(run.outputs['changed']).toBe('false');
  });
});
