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
// (workflows-templates/README.md, "First rollout"): bare hosts, the head of
// the default chain, provision -> deploy-db -> deploy-lb (HAProxy +
// Keepalived), planned on one pull request before anything exists. On merge
// each command applies only its own reviewed plan; a later plan that no
// longer matches the hosts is refused before touching them, stops the chain,
// and is re-reviewed on the next pull request.

const ENV = 'lab-rollout';
const DB_HOSTS = ['db1', 'db2', 'db3'];
const LB_HOSTS = ['lb1', 'lb2'];
const CHAIN = ['provision', 'deploy-db', 'deploy-lb'];
const secrets = {
  LAB_APP_DB_PASSWORD: `app-${randomBytes(6).toString('hex')}`,
  LAB_VRRP_PASSWORD: randomBytes(4).toString('hex'),
};

const PLAN_HASH_KEY = randomBytes(24).toString('hex');
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
    { command, mode, inventory: 'ha.yml', environment: ENV, 'ssh-private-key': key, 'known-hosts': knownHosts, 'plan-hash-key': PLAN_HASH_KEY, parallelism: '10' },
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

  it('pull request 1: every command of the chain is planned and commented before anything is applied', async () => {
    const plans = await planPullRequest(31);
    // The head of the chain plans on bare hosts; later ones may fail to plan until the earlier ones ran.
    for (const command of ['provision', 'deploy-db']) expect(plans[command]!.code, `${command}: ${plans[command]!.stdout.slice(-2000)}`).toBe(0);
    for (const command of CHAIN) {
      const found = comment(31, command);
      expect(found, command).toBeDefined();
      expect(['planned', 'plan-failed']).toContain(found!.h!.status);
    }
    for (const h of [...DB_HOSTS, ...LB_HOSTS]) {
      expect(installed(h, 'mariadb-server') || installed(h, 'haproxy'), h).toBe(false);
    }
  });

  /** What merge 1 applied: later commands' plans on pull request 2 must then show no changes. */
  const appliedOnMerge1: string[] = [];

  it('merge 1: each command applies its reviewed plan while it still holds; the first that no longer does is refused untouched and stops the chain', async () => {
    api.merged(31, merge1);
    const reviewed = Object.fromEntries(CHAIN.map((c) => [c, comment(31, c)!.h!]));
    const runs = await deployJob(merge1);
    // provision is first: nothing changed the hosts between its review and its apply.
    expect(runs['provision']!.code, runs['provision']!.stdout.slice(-2000)).toBe(0);
    for (const h of [...DB_HOSTS, ...LB_HOSTS]) expect(labExec(h, 'grep -c lms-ha-vip /etc/hosts', { allowFailure: true }).stdout.trim(), `${h}: /etc/hosts`).not.toBe('0');

    let refused: string | undefined;
    for (const command of CHAIN) {
      const run = runs[command];
      if (refused) {
        expect(run, `${command} runs after ${refused} was refused`).toBeUndefined();
        continue;
      }
      if (run!.code === 0) {
        // Its plan made on the bare hosts was still exact after the earlier commands: applied as reviewed.
        expect(reviewed[command]!.status, command).toBe('planned');
        expect(run!.outputs['plan-hash'], command).toBe(reviewed[command]!.planHash);
        expect(comment(31, command)!.h!.status, command).toBe('applied');
        appliedOnMerge1.push(command);
      } else {
        expect(run!.outputs['failure-reason'], `${command}: ${run!.stdout.slice(-1500)}`).toBe('plan-changed');
        expect(comment(31, command)!.h!.status, command).not.toBe('applied');
        refused = command;
        console.log(`merge 1: ${command} refused as expected (${reviewed[command]!.status} on review): ${run!.annotations.find((a) => a.startsWith('::error')) ?? ''}`.slice(0, 400));
      }
    }
    // A refused command touched nothing of its own.
    if (appliedOnMerge1.includes('deploy-db')) expectClusterFormed(DB_HOSTS, 3);
    else for (const h of DB_HOSTS) expect(installed(h, 'mariadb-server'), `${h}: mariadb-server`).toBe(false);
    if (!appliedOnMerge1.includes('deploy-lb')) for (const h of LB_HOSTS) expect(installed(h, 'haproxy'), `${h}: haproxy`).toBe(false);
  });

  it('each next pull request re-plans against the hosts as they are, its merge applies exactly what was reviewed, and the chain converges', async () => {
    const applied = [...appliedOnMerge1];
    for (let pr = 32; applied.length < CHAIN.length; pr++) {
      // At most one more pull request per command the first merge left out: every round applies at least the next one.
      expect(pr - 32, `pull requests after the first, applied so far: ${applied.join(', ')}`).toBeLessThan(CHAIN.length - appliedOnMerge1.length);
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
          // Only a command after the one this round had to apply may still be refused (its plan predates that apply).
          expect(CHAIN.indexOf(command), `#${pr} ${command}: ${run?.stdout.slice(-2000) ?? 'not run'}`).toBeGreaterThan(CHAIN.indexOf(next));
          if (run) expect(run.outputs['failure-reason'], `#${pr} ${command}`).toBe('plan-changed');
          break;
        }
        expect(run.outputs['plan-hash'], `#${pr} ${command}`).toBe(plans[command]!.outputs['plan-hash']);
        expect(comment(pr, command)!.h!.status, `#${pr} ${command}`).toBe('applied');
        if (!applied.includes(command)) applied.push(command);
      }
      console.log(`pull request #${pr}: applied ${applied.join(' -> ')}`);
    }
    expectClusterFormed(DB_HOSTS, 3);
    for (const h of LB_HOSTS) expect(labExec(h, 'systemctl is-active haproxy keepalived').stdout.trim().split('\n')).toEqual(['active', 'active']);
    const holders = LB_HOSTS.filter((h) => labExec(h, `ip -4 -o addr show | grep -F ' ${state.vip}/'`, { allowFailure: true }).code === 0);
    expect(holders).toHaveLength(1);
  });
});
