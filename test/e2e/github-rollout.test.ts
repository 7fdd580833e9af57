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

// The first rollout through the GitHub front with reviews enforced
// (workflows-templates/README.md, "First rollout"): bare hosts, a chain
// deploy-db -> deploy-lb (HAProxy + Keepalived) planned on one pull request
// before anything exists. On merge each command applies only its own
// reviewed plan; a later plan that no longer matches the hosts is refused
// before touching them and is re-reviewed on the next pull request.

const ENV = 'lab-rollout';
const DB_HOSTS = ['db1', 'db2', 'db3'];
const LB_HOSTS = ['lb1', 'lb2'];
const CHAIN = ['deploy-db', 'deploy-lb'];
const secrets = {
  LAB_APP_DB_PASSWORD: `app-${randomBytes(6).toString('hex')}`,
  LAB_VRRP_PASSWORD: randomBytes(4).toString('hex'),
};

const api = new LabGitHub();
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

function step(command: string, event: { name: string; payload: object; sha: string }, mode: 'plan' | 'apply'): Promise<ActionRun> {
  return api.run(
    state,
    workspace,
    event,
    { command, mode, inventory: 'ha.yml', environment: ENV, 'ssh-private-key': key, 'known-hosts': knownHosts, parallelism: '10' },
    secrets,
  );
}

const comment = (pr: number, command: string) =>
  api.gh.comments.filter((c) => c.issue === pr).map((c) => ({ c, h: parsePlanHeader(c.body) })).find((x) => x.h?.command === command);

function installed(host: string, pkg: string): boolean {
  const r = labExec(host, `dpkg-query -W -f='\${Status}' ${pkg} 2>/dev/null`, { allowFailure: true });
  return r.code === 0 && r.stdout.includes('ok installed');
}

/** The deploy job: the chain in order, stopping at the first step that does not succeed (GitHub skips later steps). */
async function deployJob(sha: string): Promise<Record<string, ActionRun>> {
  const runs: Record<string, ActionRun> = {};
  for (const command of CHAIN) {
    runs[command] = await step(command, { name: 'push', payload: { after: sha }, sha }, 'apply');
    if (runs[command]!.code !== 0) break;
  }
  return runs;
}

async function planPullRequest(pr: number): Promise<Record<string, ActionRun>> {
  const runs: Record<string, ActionRun> = {};
  for (const command of CHAIN) runs[command] = await step(command, { name: 'pull_request', payload: pullRequestPayload(pr), sha: 'e'.repeat(40) }, 'plan');
  return runs;
}

beforeAll(async () => {
  execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up'], { stdio: 'ignore', timeout: 600_000 });
  state = readLabState();
  workspace = tempDir('github-rollout');
  writeLabInventory(state, workspace, rolloutEnvironment(state));
  key = readFileSync(state.sshKey, 'utf8');
  knownHosts = readFileSync(state.knownHosts, 'utf8');
  await api.start(state);
});

afterAll(() => api.stop());

describe('first rollout of a chain, reviews enforced', () => {
  const merge1 = randomBytes(20).toString('hex');
  const merge2 = randomBytes(20).toString('hex');

  it('pull request 1: every command of the chain is planned and commented before anything is applied', async () => {
    const plans = await planPullRequest(31);
    expect(plans['deploy-db']!.code, plans['deploy-db']!.stdout.slice(-2000)).toBe(0);
    for (const command of CHAIN) {
      const found = comment(31, command);
      expect(found, command).toBeDefined();
      expect(['planned', 'plan-failed']).toContain(found!.h!.status);
    }
    for (const h of [...DB_HOSTS, ...LB_HOSTS]) {
      expect(installed(h, 'mariadb-server') || installed(h, 'haproxy'), h).toBe(false);
    }
  });

  it('merge 1: deploy-db applies its reviewed plan; deploy-lb applies only if its reviewed plan still holds, else is refused untouched', async () => {
    api.merged(31, merge1);
    const lbReviewed = comment(31, 'deploy-lb')!.h!;
    const runs = await deployJob(merge1);
    expect(runs['deploy-db']!.code, runs['deploy-db']!.stdout.slice(-2000)).toBe(0);
    expectClusterFormed(DB_HOSTS, 3);
    expect(comment(31, 'deploy-db')!.h!.status).toBe('applied');

    const lb = runs['deploy-lb']!;
    if (lb.code === 0) {
      // The plan computed on bare hosts was still exact after deploy-db: applied as reviewed.
      expect(lbReviewed.status).toBe('planned');
      expect(lb.outputs['plan-hash']).toBe(lbReviewed.planHash);
      expect(comment(31, 'deploy-lb')!.h!.status).toBe('applied');
    } else {
      expect(lb.outputs['failure-reason']).toBe('plan-changed');
      for (const h of LB_HOSTS) expect(installed(h, 'haproxy'), `${h}: haproxy`).toBe(false);
      console.log(`merge 1: deploy-lb refused as expected (${lbReviewed.status} on review): ${lb.annotations.find((a) => a.startsWith('::error')) ?? ''}`.slice(0, 400));
    }
  });

  it('pull request 2 re-plans against the deployed cluster; merge 2 applies exactly what was reviewed and the chain converges', async () => {
    const plans = await planPullRequest(32);
    for (const command of CHAIN) expect(plans[command]!.code, `${command}: ${plans[command]!.stdout.slice(-1500)}`).toBe(0);
    expect(plans['deploy-db']!.outputs['changed']).toBe('false');
    api.merged(32, merge2);
    const runs = await deployJob(merge2);
    for (const command of CHAIN) {
      const run = runs[command]!;
      expect(run.code, `${command}: ${run.stdout.slice(-2000)}`).toBe(0);
      expect(run.outputs['plan-hash']).toBe(plans[command]!.outputs['plan-hash']);
      expect(comment(32, command)!.h!.status).toBe('applied');
    }
    for (const h of LB_HOSTS) expect(labExec(h, 'systemctl is-active haproxy keepalived').stdout.trim().split('\n')).toEqual(['active', 'active']);
    const holders = LB_HOSTS.filter((h) => labExec(h, `ip -4 -o addr show | grep -F ' ${state.vip}/'`, { allowFailure: true }).code === 0);
    expect(holders).toHaveLength(1);
  });
});
