import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlanHeader } from '../../src/github/plan-comment.js';
import { expectClusterFormed } from './galera.js';
import { LabGitHub, pullRequestPayload } from './github-api.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';
import { labExec, labHost, readLabState, REPO_ROOT, tempDir, type ActionRun, type LabState } from './lab.js';

// The GitHub front against real hosts (issue 10): the built action run as the
// runner runs it (INPUT_*, GITHUB_EVENT_PATH for pull_request, push and
// workflow_dispatch), with the stand-in for the GitHub API reachable on the
// runner namespace's loopback: the stand-in listens on a unix socket, and a
// forwarder started inside lab-runner listens on its 127.0.0.1 and relays
// to it, so the requests are recorded here.
//
// One first rollout with reviews enforced (workflows-templates/README.md,
// "First rollout"), on bare hosts, of the head of the default chain:
// provision -> deploy-db -> deploy-lb (HAProxy + Keepalived), every command
// planned and commented on the pull request before anything exists. On merge
// each command applies only its own reviewed plan; a plan that no longer
// matches the hosts (a host changed by hand after the review, or an earlier
// command of the chain changed them) is refused before touching them, stops
// the chain and is re-reviewed on the next pull request. Along the way: the
// comment updated in place, a commit with no reviewed plan refused, a plan
// applied twice refused, and the explicit opt-out. One file and one Galera
// cluster for all of it: the lab's full deployments are what makes the e2e
// suite slow.

const ENV = 'lab-rollout';
const DB_HOSTS = ['db1', 'db2', 'db3'];
const LB_HOSTS = ['lb1', 'lb2'];
const CHAIN = ['provision', 'deploy-db', 'deploy-lb'];
const CANARY = `canary-${randomBytes(6).toString('hex')}`;
const secrets = { LAB_APP_DB_PASSWORD: CANARY, LAB_VRRP_PASSWORD: randomBytes(4).toString('hex') };
/** The secret both the plan job and the deploy job hold (LMS_HA_PLAN_HASH_KEY): deploy-db's plan sets a password. */
const PLAN_HASH_KEY = randomBytes(24).toString('hex');

const api = new LabGitHub();
const gh = api.gh;
let state: LabState;
let workspace: string;
let key: string;
let knownHosts: string;

function rolloutEnvironment(s: LabState): string {
  const db = labDbEnvironment(s, ENV);
  const lbs = LB_HOSTS.map((h) => `      - { name: ${h}, address: ${labHost(s, h).address}, roles: [lb] }`).join('\n');
  return `${db.replace(/(      - \{ name: db3[^\n]*\n)/, `$1${lbs}\n`)}    load_balancer:
      kind: haproxy
      vip: ${s.vip}/24
      interface: eth0
      virtual_router_id: 61
      auth_password: { env: LAB_VRRP_PASSWORD }
`;
}

interface Event {
  name: string;
  payload: object;
  sha: string;
}
const pullRequest = (pr: number): Event => ({ name: 'pull_request', payload: pullRequestPayload(pr), sha: 'e'.repeat(40) });
const push = (sha: string): Event => ({ name: 'push', payload: { after: sha }, sha });

async function step(command: string, event: Event, mode: 'plan' | 'apply', inputs: Record<string, string> = {}): Promise<ActionRun> {
  const run = await api.run(
    state,
    workspace,
    event,
    { command, mode, inventory: 'ha.yml', environment: ENV, 'ssh-private-key': key, 'known-hosts': knownHosts, 'plan-hash-key': PLAN_HASH_KEY, parallelism: '10', ...inputs },
    secrets,
  );
  // ::add-mask:: lines are the masking itself (the runner consumes them); nothing else may show the secret.
  expect(run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n')).not.toContain(CANARY);
  return run;
}

const planComments = (pr: number) => gh.comments.filter((c) => c.issue === pr).map((c) => ({ c, h: parsePlanHeader(c.body) })).filter((x) => x.h);
const comment = (pr: number, command: string) => planComments(pr).find((x) => x.h!.command === command);

function installed(host: string, pkg: string): boolean {
  const r = labExec(host, `dpkg-query -W -f='\${Status}' ${pkg} 2>/dev/null`, { allowFailure: true });
  return r.code === 0 && r.stdout.includes('ok installed');
}

/** What deploy-db's apply would have touched: MariaDB's packages and its Galera config. */
function databaseUntouched(): void {
  for (const host of DB_HOSTS) {
    expect(installed(host, 'mariadb-server'), `${host}: mariadb-server`).toBe(false);
    expect(labExec(host, 'test -e /etc/mysql/mariadb.conf.d/60-galera.cnf', { allowFailure: true }).code, `${host}: galera config`).not.toBe(0);
  }
}

/** The plan job: the chain's matrix on pull request `pr`. */
async function planPullRequest(pr: number): Promise<Record<string, ActionRun>> {
  const runs: Record<string, ActionRun> = {};
  for (const command of CHAIN) runs[command] = await step(command, pullRequest(pr), 'plan');
  return runs;
}

/** The deploy job: the chain in order, stopping at the first step that does not succeed (GitHub skips later steps). */
async function deployJob(sha: string): Promise<Record<string, ActionRun>> {
  const runs: Record<string, ActionRun> = {};
  for (const command of CHAIN) {
    runs[command] = await step(command, push(sha), 'apply');
    if (runs[command]!.code !== 0) break;
  }
  return runs;
}

beforeAll(async () => {
  execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up'], { stdio: 'ignore', timeout: 600_000 });
  state = readLabState();
  workspace = tempDir('github');
  writeLabInventory(state, workspace, rolloutEnvironment(state));
  key = readFileSync(state.sshKey, 'utf8');
  knownHosts = readFileSync(state.knownHosts, 'utf8');
  await api.start(state);
});

afterAll(() => api.stop());

describe('GitHub front against the lab: first rollout of provision -> deploy-db -> deploy-lb, reviews enforced', () => {
  const merge1 = randomBytes(20).toString('hex');
  /** The commands applied so far, in chain order. */
  const applied: string[] = [];
  /** Where deploy-db's reviewed plan was applied: its pull request and merge commit. */
  let databaseApplied: { pr: number; sha: string } | undefined;

  it('pull request 1: every command of the chain is planned and commented before anything is applied; the comment holds the plan and its hash', async () => {
    const plans = await planPullRequest(31);
    // The head of the chain plans on bare hosts; a later one may fail to plan until the earlier ones ran ("plan failed").
    for (const command of ['provision', 'deploy-db']) expect(plans[command]!.code, `${command}: ${plans[command]!.stdout.slice(-2000)}`).toBe(0);
    expect(gh.requests.every((r) => r.authorization === 'token ghs_fake_token_for_e2e')).toBe(true);
    for (const command of CHAIN) expect(['planned', 'plan-failed'], command).toContain(comment(31, command)?.h!.status);

    const db = comment(31, 'deploy-db')!;
    expect(plans['deploy-db']!.outputs['plan-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(db.h).toMatchObject({ environment: ENV, command: 'deploy-db', inventory: 'ha.yml', planHash: plans['deploy-db']!.outputs['plan-hash'], status: 'planned' });
    expect(db.c.body).toContain('<details><summary><b>db1</b>');
    expect(db.c.body).toContain('install mariadb-server');
    expect(db.c.body).not.toContain(CANARY);
    databaseUntouched();
    for (const h of LB_HOSTS) expect(installed(h, 'haproxy'), `${h}: haproxy`).toBe(false);
  });

  it('a second push updates the same comment in place', async () => {
    const before = planComments(31).map((x) => x.c.id);
    const id = comment(31, 'deploy-db')!.c.id;
    const run = await step('deploy-db', pullRequest(31), 'plan');
    expect(run.code).toBe(0);
    expect(planComments(31).map((x) => x.c.id)).toEqual(before);
    expect(gh.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/issues/comments/${id}`)).length).toBeGreaterThanOrEqual(1);
  });

  it('a pushed commit with no reviewed plan is refused before any host is contacted', async () => {
    const runs = await deployJob(randomBytes(20).toString('hex'));
    expect(Object.keys(runs)).toEqual(['provision']);
    expect(runs['provision']!.code).toBe(1);
    expect(runs['provision']!.outputs['failure-reason']).toBe('plan-changed');
    expect(runs['provision']!.stdout).toMatch(/No reviewed plan for the provision plan for lab-rollout/);
    for (const h of [...DB_HOSTS, ...LB_HOSTS]) {
      expect(labExec(h, 'grep -c lms-ha-vip /etc/hosts', { allowFailure: true }).stdout.trim(), `${h}: /etc/hosts`).toBe('0');
      expect(labExec(h, 'ls /var/lock/lms-ha 2>/dev/null | wc -l').stdout.trim(), `${h}: lock files`).toBe('0');
    }
    databaseUntouched();
  });

  it('merge 1: provision applies its reviewed plan; db1 changed by hand after the review, so deploy-db is refused with the diff, untouched, and the chain stops', async () => {
    api.merged(31, merge1);
    const reviewedDb = comment(31, 'deploy-db')!.h!;
    const provision = await step('provision', push(merge1), 'apply');
    expect(provision.code, provision.stdout.slice(-2000)).toBe(0);
    expect(provision.outputs['plan-hash']).toBe(comment(31, 'provision')!.h!.planHash);
    expect(comment(31, 'provision')!.h!.status).toBe('applied');
    for (const h of [...DB_HOSTS, ...LB_HOSTS]) expect(labExec(h, 'grep -c lms-ha-vip /etc/hosts', { allowFailure: true }).stdout.trim(), `${h}: /etc/hosts`).not.toBe('0');
    applied.push('provision');

    // Someone installs galera-4 on db1 by hand: db1 no longer needs it, deploy-db's reviewed plan is stale.
    labExec('db1', 'apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q galera-4 >/dev/null 2>&1');
    const db = await step('deploy-db', push(merge1), 'apply');
    expect(db.code).toBe(1);
    expect(db.outputs['failure-reason']).toBe('plan-changed');
    expect(db.outputs['plan-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(db.outputs['plan-hash']).not.toBe(reviewedDb.planHash);
    expect(db.summary).toContain('Reviewed plan → this plan');
    expect(db.summary).toMatch(/^-.*install galera-4/m);
    databaseUntouched();
    expect(comment(31, 'deploy-db')!.h!.status).toBe('apply-failed');
    // The deploy job stops here: deploy-lb is not run, and its comment stays unapplied.
    expect(comment(31, 'deploy-lb')!.h!.status).not.toBe('applied');
  });

  it('each next pull request re-plans against the hosts as they are, its merge applies exactly what was reviewed, and the chain converges', async () => {
    const left = CHAIN.length - applied.length;
    for (let pr = 32; applied.length < CHAIN.length; pr++) {
      // At most one pull request per command left: every round applies at least the next one.
      expect(pr - 32, `pull requests after the first, applied so far: ${applied.join(', ')}`).toBeLessThan(left);
      const next = CHAIN[applied.length]!;
      const plans = await planPullRequest(pr);
      for (const command of [...applied, next]) expect(plans[command]!.code, `#${pr} ${command}: ${plans[command]!.stdout.slice(-1500)}`).toBe(0);
      for (const command of applied) expect(plans[command]!.outputs['changed'], `#${pr} ${command}`).toBe('false');
      const merge = randomBytes(20).toString('hex');
      api.merged(pr, merge);
      const runs = await deployJob(merge);
      for (const command of CHAIN) {
        const run = runs[command];
        if (!run || run.code !== 0) {
          // Only a command after the one this round had to apply may still be refused: its plan predates that apply.
          expect(CHAIN.indexOf(command), `#${pr} ${command}: ${run?.stdout.slice(-2000) ?? 'not run'}`).toBeGreaterThan(CHAIN.indexOf(next));
          if (run) expect(run.outputs['failure-reason'], `#${pr} ${command}`).toBe('plan-changed');
          break;
        }
        expect(run.outputs['plan-hash'], `#${pr} ${command}`).toBe(plans[command]!.outputs['plan-hash']);
        expect(comment(pr, command)!.h!.status, `#${pr} ${command}`).toBe('applied');
        if (applied.includes(command)) continue;
        applied.push(command);
        if (command === 'deploy-db') {
          databaseApplied = { pr, sha: merge };
          expect(run.outputs['changed']).toBe('true');
          expect(comment(pr, command)!.c.body).toMatch(/\[See the run\]\(https:\/\/github\.test\/acme\/platform\/actions\/runs\/\d+\)/);
        }
      }
      console.log(`pull request #${pr}: applied ${applied.join(' -> ')}`);
    }
    expectClusterFormed(DB_HOSTS, 3);
    for (const h of LB_HOSTS) expect(labExec(h, 'systemctl is-active haproxy keepalived').stdout.trim().split('\n')).toEqual(['active', 'active']);
    const holders = LB_HOSTS.filter((h) => labExec(h, `ip -4 -o addr show | grep -F ' ${state.vip}/'`, { allowFailure: true }).code === 0);
    expect(holders).toHaveLength(1);
  });

  it('the same merge applied again is refused: the reviewed plan was already applied', async () => {
    expect(databaseApplied).toBeDefined();
    const run = await step('deploy-db', push(databaseApplied!.sha), 'apply');
    expect(run.code).toBe(1);
    expect(run.outputs['failure-reason']).toBe('plan-changed');
    expect(run.stdout).toMatch(/already applied/);
  });

  it('the explicit opt-out applies without a reviewed plan, with a warning annotation and a summary note', async () => {
    const run = await step('deploy-db', { name: 'workflow_dispatch', payload: {}, sha: randomBytes(20).toString('hex') }, 'apply', { 'require-reviewed-plan': 'false' });
    expect(run.code, run.stdout.slice(-2000)).toBe(0);
    expect(run.annotations.join('\n')).toMatch(/::warning::require-reviewed-plan is false: deploy-db on lab-rollout is applied WITHOUT a reviewed plan/);
    expect(run.summary).toMatch(/require-reviewed-plan is false/);
    expect(run.outputs['changed']).toBe('false');
  });
});
